"""Export a trained thermal detector checkpoint to ONNX, in the YOLOv8 layout the runtime decodes.

    /work/trainenv/bin/python training/export_thermal.py [--checkpoint var/thermal-train/best.pt]

Writes ``models/thermal_centernet_hituav.onnx`` (input ``images`` float32 [N, 3, H, W] RGB in
[0, 1] with dynamic batch, height and width, multiples of 16; output ``output0`` float32
[N, 4 + 4, H/4 * W/4]: cx, cy, w, h in input pixels, then the person, car, bicycle and
other-vehicle scores, non-zero only at heat-map peaks), with Ultralytics-style metadata
(``names``, ``imgsz``, ``stride``) so that ``drone_patrol.vision.onnx`` loads it like any
YOLOv8 export, and ``models/thermal_centernet_hituav.ckpt.pt`` (weights, optimiser and epoch,
to resume training from). Prints the sha256 and sizes for ``models/README.md`` and checks
that onnxruntime gives the same output as PyTorch.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from thermal_net import CLASS_NAMES, STRIDE, ExportHead, ThermalNet


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("var/thermal-train/best.pt"))
    parser.add_argument("--resume-checkpoint", type=Path, default=Path("var/thermal-train/last.pt"))
    parser.add_argument("--out", type=Path, default=Path("models/thermal_centernet_hituav.onnx"))
    args = parser.parse_args(argv)
    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    net = ThermalNet(**ckpt["recipe"]["net"])
    net.load_state_dict(ckpt["model"])
    net.eval()
    head = ExportHead(net).eval()
    dummy = torch.rand(1, 3, 512, 640)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        head,
        (dummy,),
        str(args.out),
        input_names=["images"],
        output_names=["output0"],
        dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch", 2: "anchors"}},
        opset_version=17,
        dynamo=False,
    )
    model = onnx.load(str(args.out))
    meta = {
        "names": str(dict(enumerate(CLASS_NAMES))),
        "imgsz": "[512, 640]",
        "stride": str(STRIDE),
        "task": "detect",
        "description": "drone-patrol thermal CenterNet (person, car, bicycle, other_vehicle), trained on HIT-UAV",
        "license": "weights: Apache-2.0 (drone-patrol); training data: HIT-UAV, CC BY 4.0, cite Suo et al. 2023",
        "epoch": str(ckpt["epoch"]),
        "val_ap50": str({k: round(float(v), 4) for k, v in ckpt["val_ap50"].items()}),
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(args.out))
    session = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = head(dummy).numpy()
    (got,) = session.run(None, {"images": dummy.numpy()})
    diff = float(np.abs(got - want).max())
    print(f"onnxruntime vs torch: max abs difference {diff:.2e}")
    resume_out = args.out.with_suffix(".ckpt.pt")
    if args.resume_checkpoint.exists():
        shutil.copyfile(args.resume_checkpoint, resume_out)
    for path in (args.out, resume_out):
        if path.exists():
            print(f"{path}: {path.stat().st_size:,} bytes, sha256 {sha256_of(path)}")
    print(
        f"epoch {ckpt['epoch']}, val AP50 {ckpt['val_ap50']}, training time {ckpt.get('train_time_s', 0) / 60:.0f} min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
