"""Image preparation for a YOLOv8 network: thermal to 3-channel, letterbox, tensor layout, tiles."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from drone_patrol.core.errors import InputError

#: Grey of the letterbox border, as the YOLOv8 training pipeline pads.
PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the network input: ``input = original * scale + pad`` per axis."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_original(self, xyxy: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map (N, 4) boxes from network-input pixels back to the original image's pixels."""
        out = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale_x
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale_y
        return out

    def to_input(self, xyxy: NDArray[np.float64]) -> NDArray[np.float64]:
        """Map (N, 4) boxes from the original image's pixels to network-input pixels."""
        out = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale_x + self.pad_x
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale_y + self.pad_y
        return out


def letterbox(image: NDArray[np.uint8], size_hw: tuple[int, int]) -> tuple[NDArray[np.uint8], Letterbox]:
    """Resize ``image`` (H, W, 3) to fit ``size_hw`` keeping its aspect ratio, centred on grey padding."""
    h, w = image.shape[:2]
    out_h, out_w = size_hw
    scale = min(out_h / h, out_w / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_w, new_h) != (w, h):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    else:
        resized = image
    x0, y0 = (out_w - new_w) // 2, (out_h - new_h) // 2
    if (new_w, new_h) == (out_w, out_h):  # already the input size: no copy
        canvas = np.ascontiguousarray(resized, dtype=np.uint8)
    else:
        canvas = cv2.copyMakeBorder(
            np.ascontiguousarray(resized),
            y0,
            out_h - new_h - y0,
            x0,
            out_w - new_w - x0,
            cv2.BORDER_CONSTANT,
            value=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
        ).astype(np.uint8, copy=False)
    # Rounding makes the exact scale differ slightly per axis; keep both for the inverse map.
    return canvas, Letterbox(scale_x=new_w / w, scale_y=new_h / h, pad_x=float(x0), pad_y=float(y0))


def to_tensor(images: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
    """Stack RGB uint8 (H, W, 3) images into a float32 NCHW batch in [0, 1]."""
    stacked = np.stack(images)
    n, h, w, c = stacked.shape
    out = np.empty((n, c, h, w), dtype=np.float32)
    # One pass: reorder the cheap uint8 view and scale straight into the contiguous output.
    np.multiply(stacked.transpose(0, 3, 1, 2), np.float32(1.0 / 255.0), out=out)
    return out


def as_rgb(image: NDArray[np.generic], channel_order: Literal["rgb", "bgr"] = "rgb") -> NDArray[np.uint8]:
    """Check an 8-bit image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) and return it as (H, W, 3) RGB.

    Raises :class:`InputError` naming the shape or dtype when it is not such an image.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InputError(f"image: expected 8-bit (uint8) pixels, got dtype {arr.dtype}")
    if arr.ndim >= 2 and (arr.shape[0] < 1 or arr.shape[1] < 1):
        raise InputError(f"image: empty image of shape {arr.shape}")
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 1):
        return np.ascontiguousarray(np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=2))
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(f"image: expected shape (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"image: empty image of shape {arr.shape}")
    if channel_order == "bgr":  # one C pass (a reversed numpy view would be copied element by element)
        code = cv2.COLOR_BGRA2RGB if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB
        rgb: NDArray[np.uint8] = np.asarray(cv2.cvtColor(np.ascontiguousarray(arr), code), dtype=np.uint8)
        return rgb
    return np.ascontiguousarray(arr[:, :, :3])


def thermal_to_rgb(
    celsius: NDArray[np.floating],
    percentiles: tuple[float, float] = (1.0, 99.5),
    range_c: tuple[float, float] | None = None,
    min_span_c: float = 8.0,
    polarity: Literal["white_hot", "black_hot"] = "white_hot",
    max_c: float | None = None,
) -> NDArray[np.uint8]:
    """Normalise a Celsius frame to an 8-bit grey image repeated on 3 channels.

    The stretch is a fixed ``range_c`` when given, else the frame's ``percentiles``
    widened to at least ``min_span_c`` around their middle, so a nearly uniform scene is
    not blown up into noise. ``max_c`` caps the top of a percentile stretch, so that a fire
    or a grill in view saturates white instead of crushing people into the dark end.
    Non-finite pixels become the bottom of the range.
    """
    arr = np.asarray(celsius, dtype=np.float32)
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"thermal frame: expected a non-empty (H, W) Celsius array, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if range_c is not None:
        lo, hi = float(range_c[0]), float(range_c[1])
    elif finite.any():
        # Robust levels need no more than every 4th pixel of every 4th row.
        sample = arr[::4, ::4] if arr.size > 16384 else arr
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            sample = arr[finite]
        lo, hi = (float(v) for v in np.percentile(sample, percentiles))
        if max_c is not None:
            lo, hi = min(lo, max_c - min_span_c), min(hi, max_c)
    else:
        lo, hi = 0.0, min_span_c
    if hi - lo < min_span_c:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span_c / 2, mid + min_span_c / 2
    source = arr if finite.all() else np.where(finite, arr, np.float32(lo))
    scaled = (source - np.float32(lo)) * np.float32(255.0 / (hi - lo))
    grey = np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)
    if polarity == "black_hot":
        grey = 255 - grey
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


@dataclass(frozen=True)
class Tile:
    """One slice of a frame: its top-left corner and size in frame pixels."""

    x0: int
    y0: int
    width: int
    height: int

    def inner_edges(self, frame_hw: tuple[int, int]) -> tuple[bool, bool, bool, bool]:
        """Which of the left, top, right, bottom edges lie inside the frame (where objects get cut)."""
        h, w = frame_hw
        return self.x0 > 0, self.y0 > 0, self.x0 + self.width < w, self.y0 + self.height < h


def _starts(length: int, tile: int, overlap: float) -> list[int]:
    if tile >= length:
        return [0]
    min_overlap = tile * overlap
    count = math.ceil((length - min_overlap) / (tile - min_overlap))
    count = max(count, 2)
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def tile_grid(frame_hw: tuple[int, int], tile_hw: tuple[int, int], overlap: float) -> list[Tile]:
    """Tiles of at most ``tile_hw`` covering ``frame_hw``, adjacent ones overlapping by at least ``overlap``.

    ``overlap`` is a fraction of the tile side (0 <= overlap < 1). The fewest tiles that
    meet it are used, spread evenly so the first and last touch the frame's edges.
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"tile overlap must be in [0, 1), got {overlap}")
    h, w = frame_hw
    th, tw = min(tile_hw[0], h), min(tile_hw[1], w)
    return [Tile(x, y, tw, th) for y in _starts(h, th, overlap) for x in _starts(w, tw, overlap)]
