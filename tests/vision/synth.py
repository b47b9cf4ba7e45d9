"""Synthetic frames drawn in pixel space, for detector and pipeline logic tests."""

from __future__ import annotations

import numpy as np

from drone_patrol.core.frames import ThermalFrame
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint
from drone_patrol.sim.thermal.flight import state_at

HOME = GeoPoint(25.2821593, 110.296202, 150.0)
FRAME = LocalFrame(HOME)


def scene(h: int = 512, w: int = 640, bg_c: float = 18.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (bg_c + rng.normal(0, 0.05, (h, w))).astype(np.float32)


def disc(img: np.ndarray, x: float, y: float, r: float, value: float) -> None:
    yy, xx = np.ogrid[: img.shape[0], : img.shape[1]]
    img[(xx - x) ** 2 + (yy - y) ** 2 <= r * r] = value


def person(img: np.ndarray, x: float, y: float, body_c: float = 27.0, head_c: float = 31.5) -> None:
    """A person seen from 40 m by the default camera: a 0.46 x 0.28 m body (8 x 5 px) and a 0.2 m head."""
    yy, xx = np.ogrid[: img.shape[0], : img.shape[1]]
    img[((xx - x) / 4.0) ** 2 + ((yy - y) / 2.5) ** 2 <= 1.0] = body_c
    img[(xx - x) ** 2 + (yy - y) ** 2 <= 1.8**2] = head_c


def frame(
    img: np.ndarray, t: float = 100.0, east: float = 0.0, north: float = 0.0, alt: float = 40.0, index: int = 0
) -> ThermalFrame:
    st = state_at(FRAME, east, north, alt, 0.0, t, HOME)
    return ThermalFrame(celsius=img, time_s=t, index=index, state=st)
