"""Radiometric conversions to Celsius: TLinear counts, FLIR raw counts (Planck), 8-bit palette frames.

- TLinear (FLIR Lepton / Boson): counts are kelvin / resolution (0.01 K or 0.1 K per count).
- FLIR raw: ``T = B / ln(R1 / (R2 * (S + O)) + F)`` kelvin for the object signal ``S``; the
  object signal is the raw signal minus the reflected part ``(1 - e) * S_refl`` over the
  emissivity ``e`` (atmosphere neglected at patrol ranges of a few tens of metres).
- 8-bit palette frames (a video or stream of an on-screen palette) map grey level, or the
  palette colour, linearly to a known span; they are flagged *degraded*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from drone_patrol.core.errors import VisionError

KELVIN_0C = 273.15


def tlinear_to_celsius(counts: NDArray[np.integer], resolution_k: float = 0.01) -> NDArray[np.float32]:
    """Celsius from 16-bit TLinear counts."""
    if resolution_k not in (0.01, 0.1):
        raise VisionError(f"TLinear resolution must be 0.01 or 0.1 K per count, got {resolution_k}")
    return (counts.astype(np.float32) * np.float32(resolution_k) - np.float32(KELVIN_0C)).astype(np.float32)


def celsius_to_tlinear(celsius: NDArray[np.floating], resolution_k: float = 0.01) -> NDArray[np.uint16]:
    """16-bit TLinear counts of Celsius temperatures (clipped to the 16-bit range)."""
    counts = np.rint((np.asarray(celsius, dtype=np.float64) + KELVIN_0C) / resolution_k)
    return np.clip(counts, 0, 65535).astype(np.uint16)


@dataclass(frozen=True)
class PlanckConstants:
    """Calibration of a FLIR camera (from its EXIF/metadata) and the scene parameters."""

    r1: float = 21106.77
    r2: float = 0.012545258
    b: float = 1501.0
    f: float = 1.0
    o: float = -7340.0
    emissivity: float = 0.95
    reflected_c: float = 20.0

    def __post_init__(self) -> None:
        if not 0.0 < self.emissivity <= 1.0:
            raise VisionError(f"emissivity must be in (0, 1], got {self.emissivity}")


def _raw_of_kelvin(t_k: float, c: PlanckConstants) -> float:
    return c.r1 / (c.r2 * (math.exp(c.b / t_k) - c.f)) - c.o


def flir_raw_to_celsius(raw: NDArray[np.integer], constants: PlanckConstants | None = None) -> NDArray[np.float32]:
    """Celsius from FLIR raw sensor counts with Planck constants and emissivity correction."""
    c = constants or PlanckConstants()
    s_refl = _raw_of_kelvin(c.reflected_c + KELVIN_0C, c)
    s_obj = (raw.astype(np.float64) - (1.0 - c.emissivity) * s_refl) / c.emissivity
    with np.errstate(divide="ignore", invalid="ignore"):
        t_k = c.b / np.log(c.r1 / (c.r2 * (s_obj + c.o)) + c.f)
    return (t_k - KELVIN_0C).astype(np.float32)


def celsius_to_flir_raw(celsius: NDArray[np.floating], constants: PlanckConstants | None = None) -> NDArray[np.uint16]:
    """The raw counts a FLIR camera would read for Celsius temperatures (inverse of :func:`flir_raw_to_celsius`)."""
    c = constants or PlanckConstants()
    t_k = np.asarray(celsius, dtype=np.float64) + KELVIN_0C
    s_obj = c.r1 / (c.r2 * (np.exp(c.b / t_k) - c.f)) - c.o
    s_refl = _raw_of_kelvin(c.reflected_c + KELVIN_0C, c)
    raw = c.emissivity * s_obj + (1.0 - c.emissivity) * s_refl
    return np.clip(np.rint(raw), 0, 65535).astype(np.uint16)


_PALETTES = {"inferno": cv2.COLORMAP_INFERNO, "jet": cv2.COLORMAP_JET, "hot": cv2.COLORMAP_HOT}
_PALETTE_TREES: dict[str, tuple[cKDTree, NDArray[np.float32]]] = {}


def palette_to_celsius(
    image: NDArray[np.uint8], low_c: float, high_c: float, palette: str = "grey"
) -> NDArray[np.float32]:
    """Celsius from an 8-bit frame whose grey level (or ``palette`` colour) spans ``low_c`` .. ``high_c``.

    Colour frames are matched to the nearest palette entry; ``grey`` frames in colour are
    reduced to their luminance. The result is approximate: treat it as degraded.
    """
    if high_c <= low_c:
        raise VisionError(f"palette span must have high > low, got {low_c} .. {high_c}")
    if image.dtype != np.uint8:
        raise VisionError(f"palette frames must be 8-bit, got {image.dtype}")
    if palette == "grey":
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        level = grey.astype(np.float32)
    else:
        if palette not in _PALETTES:
            raise VisionError(f"unknown palette {palette!r} (expected grey, {', '.join(_PALETTES)})")
        if image.ndim != 3:
            raise VisionError(f"a {palette} palette frame must be colour (H, W, 3)")
        if palette not in _PALETTE_TREES:
            lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(1, 256), _PALETTES[palette])[0]
            _PALETTE_TREES[palette] = (cKDTree(lut.astype(np.float32)), np.arange(256, dtype=np.float32))
        tree, levels = _PALETTE_TREES[palette]
        _, idx = tree.query(image.reshape(-1, 3).astype(np.float32))
        level = levels[idx].reshape(image.shape[:2])
    return (low_c + level * np.float32((high_c - low_c) / 255.0)).astype(np.float32)
