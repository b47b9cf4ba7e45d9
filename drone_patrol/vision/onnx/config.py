"""``OnnxDetectorConfig`` (defined in ``drone_patrol.core.config.onnx_detector`` so the vision section can nest it)."""

from drone_patrol.core.config.onnx_detector import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MODEL_NAME,
    OnnxDetectorConfig,
    default_model_path,
)

__all__ = ["DEFAULT_CONFIDENCE", "DEFAULT_MODEL_NAME", "OnnxDetectorConfig", "default_model_path"]
