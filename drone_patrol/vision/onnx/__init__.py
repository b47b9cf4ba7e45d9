"""Learned person detection with a YOLOv8-layout ONNX model run by onnxruntime.

``OnnxDetector`` implements the vision ``Detector`` protocol (``detect(frame)``) and
``detect_image(image)`` for 8-bit RGB/BGR images; ``EveryNthFrame`` runs any detector on
every k-th frame only. The model file is replaceable: any YOLOv8-layout export (output
``[N, 4 + classes, anchors]``, no NMS inside) works, its class names and input size read
from the ONNX metadata when present. See ``models/README.md`` for the shipped model.
"""

from drone_patrol.vision.onnx.config import OnnxDetectorConfig, default_model_path
from drone_patrol.vision.onnx.detector import OnnxDetector
from drone_patrol.vision.onnx.model import YoloModel, load_model
from drone_patrol.vision.onnx.schedule import EveryNthFrame, make_onnx_detector

__all__ = [
    "EveryNthFrame",
    "OnnxDetector",
    "OnnxDetectorConfig",
    "YoloModel",
    "default_model_path",
    "load_model",
    "make_onnx_detector",
]
