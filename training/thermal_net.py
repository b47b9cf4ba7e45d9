"""The thermal detector's network: a small CenterNet-style detector for 640x512 grey frames.

Drone thermal frames show people 8-30 px tall and cars 20-60 px long. A backbone of plain
3x3 convolutions down to stride 16 (for context: roads, parked rows, shadows) and a light
top-down path back to stride 4 finds the centre of each object as a peak in one heat map
per class, with the box size regressed at that peak (CenterNet, Zhou et al. 2019, "Objects
as Points"). About a quarter of YOLOv8n's arithmetic per pixel, so it trains on two CPU
cores and runs in well under 40 ms a frame.

:class:`ExportHead` wraps the trained network for ONNX so that its output has the YOLOv8
layout the runtime already decodes (``[N, 4 + classes, anchors]``: cx, cy, w, h in input
pixels, then class scores), one anchor per stride-4 cell; the scores are kept only at
local maxima of their heat map (3x3), which is CenterNet's own peak extraction.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 (the PyTorch convention)

STRIDE = 4
CLASS_NAMES = ("person", "car", "bicycle", "other_vehicle")


def conv_bn(c_in: int, c_out: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    """Convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class Residual(nn.Module):
    """Two 3x3 convolutions with an identity shortcut."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.a = conv_bn(c, c)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(self.a(x)))


class ThermalNet(nn.Module):
    """Grey frame in (N, 1, H, W) in [0, 1]; stride-4 maps out: class logits, log size, centre offset.

    H and W must be multiples of 32 when ``s32`` is set, else of 16. ``extra_s8`` and ``extra_s16``
    add residual blocks at those strides and ``s32`` a stride-32 context stage, cheap in
    arithmetic (few cells) and rich in parameters; with the defaults it is the first
    shipped network. :meth:`grow_from` starts a deeper network from a trained shallower one.
    """

    def __init__(
        self,
        num_classes: int = len(CLASS_NAMES),
        width: int = 32,
        extra_s8: int = 0,
        extra_s16: int = 0,
        s32: bool = False,
    ) -> None:
        super().__init__()
        w = width
        w4 = 3 * w // 4  # the stride-4 maps are the costly ones: kept thin
        self.stem = conv_bn(1, w // 2, 2)  # /2
        self.s4 = conv_bn(w // 2, w4, 2)  # /4
        self.s8 = nn.Sequential(conv_bn(w4, int(1.5 * w), 2), Residual(int(1.5 * w)))  # /8
        self.s16 = nn.Sequential(conv_bn(int(1.5 * w), 3 * w, 2), Residual(3 * w), conv_bn(3 * w, 3 * w))  # /16
        self.lat16 = nn.Conv2d(3 * w, int(1.5 * w), 1)
        self.top8 = conv_bn(int(1.5 * w), int(1.5 * w))
        self.lat8 = nn.Conv2d(int(1.5 * w), w4, 1)
        self.top4 = conv_bn(w4, w4)
        self.more8 = nn.Sequential(*(Residual(int(1.5 * w)) for _ in range(extra_s8)))
        self.more16 = nn.Sequential(*(Residual(3 * w) for _ in range(extra_s16)))
        # /32: context for the stride-16 map, added through a 1x1 lateral
        self.s32 = nn.Sequential(conv_bn(3 * w, 6 * w, 2), Residual(6 * w)) if s32 else None
        self.lat32 = nn.Conv2d(6 * w, 3 * w, 1) if s32 else None
        self.heat = nn.Conv2d(w4, num_classes, 1)
        self.box = nn.Conv2d(w4, 4, 1)  # log w, log h (in cells), dx, dy of the centre in its cell
        # CenterNet's prior: a heat map starts near 0.1 everywhere, so the focal loss is stable at first
        nn.init.constant_(self.heat.bias, -2.19)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x - 0.45) / 0.25
        s4 = self.s4(self.stem(x))
        s8 = self.more8(self.s8(s4))
        s16 = self.more16(self.s16(s8))
        if self.s32 is not None and self.lat32 is not None:
            s16 = s16 + F.interpolate(self.lat32(self.s32(s16)), scale_factor=2.0, mode="nearest")
        t8 = self.top8(s8 + F.interpolate(self.lat16(s16), scale_factor=2.0, mode="nearest"))
        t4 = self.top4(s4 + F.interpolate(self.lat8(t8), scale_factor=2.0, mode="nearest"))
        return self.heat(t4), self.box(t4)

    def grow_from(self, state: dict[str, torch.Tensor], drop: tuple[str, ...] = ()) -> list[str]:
        """Load a shallower network's weights and start every added part as the identity: the
        last batch norm of each added residual block scaled to 0 (the block adds nothing, and its
        input is already past a ReLU) and the stride-32 lateral at 0, so the grown network
        computes what the trained one did. ``drop`` names parts of ``state`` to leave out (key
        prefixes such as ``"more8."``: a residual block pruned, which training then makes up for).
        Returns the parameters that were not in ``state``; ValueError when ``state`` holds weights
        this network has no place for."""
        state = {k: v for k, v in state.items() if not k.startswith(drop)} if drop else state
        for block in (*self.more8, *self.more16):
            nn.init.zeros_(block.b[1].weight)
        if self.lat32 is not None:
            nn.init.zeros_(self.lat32.weight)
            nn.init.zeros_(self.lat32.bias)
        missing, unexpected = self.load_state_dict(state, strict=False)
        added = ("more8.", "more16.", "s32.", "lat32.")
        if unexpected or any(not k.startswith(added) for k in missing):
            raise ValueError(f"not a shallower ThermalNet: unexpected {unexpected}, missing {missing}")
        return list(missing)


class ExportHead(nn.Module):
    """ThermalNet with YOLOv8-layout output for ONNX: input (N, 3, H, W) RGB in [0, 1]."""

    def __init__(self, net: ThermalNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grey = images.mean(dim=1, keepdim=True)
        logits, box = self.net(grey)
        scores = torch.sigmoid(logits)
        peaks = F.max_pool2d(scores, 3, 1, 1)
        scores = scores * (scores >= peaks).to(scores.dtype)
        _, _, h, w = scores.shape
        ys = torch.arange(h, dtype=scores.dtype).view(1, h, 1).expand(1, h, w)
        xs = torch.arange(w, dtype=scores.dtype).view(1, 1, w).expand(1, h, w)
        cx = (xs + box[:, 2]) * STRIDE
        cy = (ys + box[:, 3]) * STRIDE
        bw = torch.exp(box[:, 0].clamp(-4.0, 6.0)) * STRIDE
        bh = torch.exp(box[:, 1].clamp(-4.0, 6.0)) * STRIDE
        boxes = torch.stack([cx, cy, bw, bh], dim=1)
        return torch.cat([boxes, scores], dim=1).flatten(2)
