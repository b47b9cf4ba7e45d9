"""Train the thermal detector (person, car, bicycle, other vehicle) on HIT-UAV, resumably, on CPU.

Run from the repository root in a training environment (PyTorch is not a runtime dependency)::

    python3 -m venv /work/trainenv
    /work/trainenv/bin/pip install torch==2.13.0 opencv-python-headless numpy PyYAML onnx onnxruntime
    # the shipped model's three stages, in order (each starts, or resumes its run directory's last.pt):
    /work/trainenv/bin/python training/train_thermal.py                 # stage 1: thermal_detector.yaml
    /work/trainenv/bin/python training/train_thermal.py --recipe training/thermal_detector_deep.yaml
    /work/trainenv/bin/python training/train_thermal.py --recipe training/thermal_detector_lean.yaml
    /work/trainenv/bin/python training/export_thermal.py --checkpoint var/thermal-deep-lean/best.pt \
        --resume-checkpoint var/thermal-deep-lean/last.pt                # -> models/*.onnx, *.ckpt.pt
    .venv/bin/python -m training.calibrate_thermal                      # per-class operating thresholds
    # going on from the shipped checkpoint:
    /work/trainenv/bin/python training/train_thermal.py --recipe training/thermal_detector_lean.yaml \
        --resume-from models/thermal_centernet_hituav.ckpt.pt --epochs 40

Every choice of the run is in ``training/thermal_detector.yaml``; seeds are fixed. The run
checkpoints after every epoch (network, optimiser, epoch, random state) to ``last.pt`` and
keeps the epoch with the best val AP50 averaged over the recipe's ``select_classes`` as ``best.pt``
(person, car and bicycle: HIT-UAV val holds 12 other vehicles, whose AP swings by 0.02-0.08 from
one epoch to the next and would pick the epoch); ``curve.csv`` holds the
epoch-by-epoch training loss and val AP50 per class. An interrupted run goes on from
``last.pt``; ``--epochs`` extends a finished one (the schedule is stretched from there on).
A recipe with ``grow_from`` starts a deeper network (its ``net`` section) from another run's
checkpoint, each added block beginning as the identity (``ThermalNet.grow_from``); ``grow_drop``
names blocks of that checkpoint to leave out (pruned).
"""

from __future__ import annotations

import argparse
import csv
import inspect
import math
import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml
from torch.nn import functional as F  # noqa: N812 (the PyTorch convention)

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hit_uav import CLASS_NAMES, Sample, load_split
from thermal_net import STRIDE, ThermalNet

from drone_patrol.vision.evaluation import ImageDetections, ImageTruth, evaluate_detections


def make_crop(sample: Sample, cfg: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random native-scale crop (S, S) float32 in [0, 1] with its boxes (xyxy in crop pixels) and classes."""
    size = int(cfg["crop_px"])
    h, w = sample.grey.shape
    lo, hi = cfg["scale_range"]
    scale = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    span = size / scale  # source pixels covered by the crop
    if len(sample.xyxy) and rng.random() < cfg["object_crop_fraction"]:
        box = sample.xyxy[rng.integers(len(sample.xyxy))]
        cx = (box[0] + box[2]) / 2 + rng.uniform(-0.4, 0.4) * span
        cy = (box[1] + box[3]) / 2 + rng.uniform(-0.4, 0.4) * span
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    x0, y0 = cx - span / 2, cy - span / 2
    flip = rng.random() < cfg["flip_lr"]
    # source -> crop: u = (x - x0) * scale (mirrored when flipped)
    if flip:
        m = np.array([[-scale, 0, (x0 + span) * scale], [0, scale, -y0 * scale]], dtype=np.float64)
    else:
        m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
    fill = float(np.median(sample.grey[::8, ::8]))
    crop = cv2.warpAffine(
        sample.grey, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill
    )
    img = crop.astype(np.float32) / 255.0
    img = img * rng.uniform(*cfg["gain_range"]) + rng.uniform(*cfg["bias_range"])
    img += rng.normal(0.0, cfg["noise_sigma"], img.shape).astype(np.float32)
    img = np.clip(img, 0.0, 1.0)
    if not len(sample.xyxy):
        return img, np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    b = sample.xyxy.astype(np.float64)
    xs = (b[:, [0, 2]] - x0) * scale
    if flip:
        xs = size - xs[:, ::-1]
    ys = (b[:, [1, 3]] - y0) * scale
    boxes = np.column_stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]])
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (centre_x >= 0) & (centre_x < size) & (centre_y >= 0) & (centre_y < size)
    boxes = np.clip(boxes[inside], 0, size)
    return img, boxes.astype(np.float32), sample.cls[inside]


def targets(boxes: np.ndarray, classes: np.ndarray, out_hw: tuple[int, int], cfg: dict) -> dict[str, np.ndarray]:
    """CenterNet targets: class heat maps with gaussian peaks, and size/offset at each centre cell."""
    oh, ow = out_hw
    heat = np.zeros((len(CLASS_NAMES), oh, ow), np.float32)
    reg = np.zeros((4, oh, ow), np.float32)
    mask = np.zeros((oh, ow), np.float32)
    yy, xx = np.mgrid[0:oh, 0:ow].astype(np.float32)
    # larger boxes first, so a small one's size wins a shared centre cell
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])) if len(boxes) else []
    for k in order:
        x0, y0, x1, y1 = boxes[k] / STRIDE
        bw, bh = max(x1 - x0, 0.25), max(y1 - y0, 0.25)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ix, iy = min(int(cx), ow - 1), min(int(cy), oh - 1)
        sx = max(cfg["sigma_min_cells"], 0.54 * bw / 6)
        sy = max(cfg["sigma_min_cells"], 0.54 * bh / 6)
        g = np.exp(-((xx - ix) ** 2) / (2 * sx * sx) - ((yy - iy) ** 2) / (2 * sy * sy))
        c = int(classes[k])
        np.maximum(heat[c], g, out=heat[c])
        heat[c, iy, ix] = 1.0
        reg[:, iy, ix] = (math.log(bw), math.log(bh), cx - ix, cy - iy)
        mask[iy, ix] = 1.0
    return {"heat": heat, "reg": reg, "mask": mask}


def focal_loss(logits: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), normalised by the number of peaks."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1.0).float()
    neg = 1.0 - pos
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p**2 * (1 - heat) ** 4 * neg
    n = pos.sum().clamp(min=1.0)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def _architecture(net_cfg: dict) -> dict:
    """A recipe's ``net`` section with ThermalNet's defaults filled in (``width: 32`` alone is the
    same network as ``width: 32, extra_s8: 0``)."""
    bound = inspect.signature(ThermalNet).bind(**net_cfg)
    bound.apply_defaults()
    return dict(bound.arguments)


def lr_at(it: int, total: int, cfg: dict) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_fraction``."""
    base = cfg["lr"]
    if it < cfg["warmup_iters"]:
        return base * (it + 1) / cfg["warmup_iters"]
    t = min(1.0, (it - cfg["warmup_iters"]) / max(1, total - cfg["warmup_iters"]))
    floor = cfg["min_lr_fraction"]
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def detect_frames(net: ThermalNet, greys: list[np.ndarray], top_k: int, min_score: float) -> list[tuple]:
    """Full-frame inference: (xyxy, class ids, scores) per image from heat-map peaks."""
    net.eval()
    out = []
    for start in range(0, len(greys), 8):
        batch = torch.from_numpy(np.stack(greys[start : start + 8]).astype(np.float32)[:, None] / 255.0)
        logits, box = net(batch)
        scores = torch.sigmoid(logits)
        scores = scores * (scores >= F.max_pool2d(scores, 3, 1, 1)).float()
        n, c, h, w = scores.shape
        for i in range(n):
            s, idx = scores[i].flatten().topk(min(top_k, c * h * w))
            keep = s >= min_score
            s, idx = s[keep], idx[keep]
            cls = idx // (h * w)
            cell = idx % (h * w)
            iy, ix = cell // w, cell % w
            b = box[i][:, iy, ix]
            cx, cy = (ix + b[2]) * STRIDE, (iy + b[3]) * STRIDE
            bw, bh = torch.exp(b[0].clamp(-4, 6)) * STRIDE, torch.exp(b[1].clamp(-4, 6)) * STRIDE
            xyxy = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
            out.append((xyxy.numpy().astype(np.float64), cls.numpy(), s.numpy().astype(np.float64)))
    net.train()
    return out


def evaluate(net: ThermalNet, val: list[Sample], cfg: dict) -> dict[str, float]:
    """Val AP50 per class (DontCare regions ignored), as the runtime's evaluation computes it."""
    dets = detect_frames(net, [s.grey for s in val], cfg["top_k"], cfg["min_score"])
    truths, found = {}, {}
    for s, (xyxy, cls, sc) in zip(val, dets, strict=True):
        names = tuple(CLASS_NAMES[int(c)] for c in s.cls) + ("dont_care",) * len(s.dont_care)
        ignore = np.concatenate([np.zeros(len(s.cls), bool), np.ones(len(s.dont_care), bool)])
        truths[s.name] = ImageTruth(np.concatenate([s.xyxy, s.dont_care]).astype(np.float64), names, ignore)
        found[s.name] = ImageDetections(xyxy, tuple(CLASS_NAMES[int(c)] for c in cls), sc)
    return {r.name: r.ap for r in evaluate_detections(truths, found, CLASS_NAMES)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=Path("training/thermal_detector.yaml"))
    parser.add_argument("--resume-from", type=Path, help="a checkpoint to go on from (default: RUN_DIR/last.pt)")
    parser.add_argument("--epochs", type=int, help="train to this many epochs (default: the recipe's)")
    parser.add_argument("--fresh", action="store_true", help="ignore RUN_DIR/last.pt and start again")
    args = parser.parse_args(argv)
    recipe = yaml.safe_load(args.recipe.read_text(encoding="utf-8"))
    cfg = {**recipe["train"], **recipe["eval"]}
    epochs = args.epochs or int(cfg["epochs"])
    run_dir = Path(recipe["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(recipe["threads"]))
    random.seed(recipe["seed"])
    np.random.seed(recipe["seed"])
    torch.manual_seed(recipe["seed"])

    dataset = Path(recipe["dataset"])
    started = time.time()
    train = load_split(dataset, "train", fill_dont_care=True)
    val = load_split(dataset, "val")
    print(f"loaded {len(train)} train and {len(val)} val images in {time.time() - started:.0f} s", flush=True)

    net = ThermalNet(**recipe["net"])
    opt = torch.optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    epoch, it, best, elapsed_s = 0, 0, -1.0, 0.0
    rng = np.random.default_rng(recipe["seed"])
    source = args.resume_from or (run_dir / "last.pt")
    if source.exists() and not args.fresh:
        ckpt = torch.load(source, map_location="cpu", weights_only=False)
        trained_net = ckpt.get("recipe", {}).get("net", {})
        if _architecture(trained_net) != _architecture(recipe["net"]):
            parser.error(
                f"{source} holds the network {trained_net}, {args.recipe} asks for {recipe['net']}: "
                "resume with the recipe that trained it (the shipped checkpoint: training/thermal_detector_lean.yaml)"
            )
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        epoch, it = ckpt["epoch"], ckpt["iteration"]
        best = ckpt.get("best_selection", -1.0)  # a checkpoint of the older all-class rule starts afresh
        elapsed_s = ckpt.get("train_time_s", 0.0)
        rng = np.random.default_rng(recipe["seed"] + epoch)
        print(f"resumed {source} at epoch {epoch} (best selection AP50 {best:.4f})", flush=True)
    elif recipe.get("grow_from"):
        # a deeper network started from a trained shallower one (a fresh optimiser and schedule)
        if not Path(recipe["grow_from"]).is_file():
            parser.error(f"{args.recipe}: grow_from {recipe['grow_from']} is not a file: train the stage before first")
        start = torch.load(Path(recipe["grow_from"]), map_location="cpu", weights_only=False)
        added = net.grow_from(start["model"], tuple(recipe.get("grow_drop", ())))
        print(f"grown from {recipe['grow_from']} (epoch {start['epoch']}): {len(added)} new tensors", flush=True)
    per_epoch = math.ceil(len(train) * cfg["crops_per_image"] / cfg["batch"])
    total = per_epoch * epochs
    curve = run_dir / "curve.csv"
    if not curve.exists():
        curve.write_text("epoch,iteration,train_time_s,loss,heat_loss,box_loss," + ",".join(CLASS_NAMES) + ",mean\n")
    net.train()
    while epoch < epochs:
        t0 = time.time()
        order = rng.permutation(np.repeat(np.arange(len(train)), cfg["crops_per_image"]))
        sums = np.zeros(3)
        for b in range(per_epoch):
            idx = order[b * cfg["batch"] : (b + 1) * cfg["batch"]]
            imgs, heats, regs, masks = [], [], [], []
            for i in idx:
                img, boxes, cls = make_crop(train[i], cfg, rng)
                t = targets(boxes, cls, (img.shape[0] // STRIDE, img.shape[1] // STRIDE), cfg)
                imgs.append(img)
                heats.append(t["heat"])
                regs.append(t["reg"])
                masks.append(t["mask"])
            x = torch.from_numpy(np.stack(imgs)[:, None])
            heat, reg, mask = (torch.from_numpy(np.stack(a)) for a in (heats, regs, masks))
            for g in opt.param_groups:
                g["lr"] = lr_at(it, total, cfg)
            logits, box = net(x)
            l_heat = focal_loss(logits, heat)
            n = mask.sum().clamp(min=1.0)
            m = mask[:, None]
            l_size = (torch.abs(box[:, :2] - reg[:, :2]) * m).sum() / n
            l_off = (torch.abs(box[:, 2:] - reg[:, 2:]) * m).sum() / n
            l_box = cfg["size_loss_weight"] * l_size + cfg["offset_loss_weight"] * l_off
            loss = l_heat + l_box
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            it += 1
            sums += (loss.item(), l_heat.item(), l_box.item())
            if b % 20 == 0:
                print(
                    f"epoch {epoch + 1}/{epochs} iter {b}/{per_epoch} loss {float(loss):.3f} "
                    f"({time.time() - t0:.0f} s)",
                    flush=True,
                )
        epoch += 1
        elapsed_s += time.time() - t0
        aps = evaluate(net, val, cfg)
        mean = float(np.nanmean(list(aps.values())))
        selection = float(np.nanmean([aps[c] for c in recipe["eval"]["select_classes"]]))
        row = [epoch, it, round(elapsed_s), *np.round(sums / per_epoch, 4), *(round(aps[c], 4) for c in CLASS_NAMES)]
        with curve.open("a") as f:
            csv.writer(f).writerow([*row, round(mean, 4)])
        print(
            f"epoch {epoch}: " + ", ".join(f"{c} {aps[c]:.3f}" for c in CLASS_NAMES) + f", mean {mean:.3f}", flush=True
        )
        state = {
            "model": net.state_dict(),
            "optimizer": opt.state_dict(),
            "epoch": epoch,
            "iteration": it,
            "best_selection": max(best, selection),
            "train_time_s": elapsed_s,
            "val_ap50": aps,
            "recipe": recipe,
        }
        if selection > best:
            best = selection
            torch.save(state, run_dir / "best.pt")
        torch.save(state, run_dir / "last.pt.tmp")
        (run_dir / "last.pt.tmp").replace(run_dir / "last.pt")
    print(f"done: {epoch} epochs, best selection AP50 {best:.4f}, {elapsed_s / 60:.0f} min of training", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
