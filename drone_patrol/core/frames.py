"""``ThermalFrame``: one radiometric camera frame in Celsius with the pose at capture.

It lives in core because both the vision pipeline and the simulated camera (siblings
that may not import each other) speak it; ``drone_patrol.vision.frames`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drone_patrol.core.types import VehicleState


@dataclass(frozen=True, eq=False)
class GimbalAttitude:
    """Camera mount angles relative to the vehicle body, in degrees (pitch -90 looks down)."""

    pitch_deg: float = -90.0
    roll_deg: float = 0.0
    yaw_deg: float = 0.0


@dataclass(frozen=True, eq=False)
class ThermalFrame:
    """A radiometric frame: ``celsius`` is an (H, W) float32 array of scene temperatures.

    ``time_s`` is the capture time (UNIX seconds); ``state`` the vehicle state
    interpolated to that time (``None`` when telemetry is missing); ``degraded`` is
    True when temperatures come from an 8-bit palette frame rather than radiometric
    counts. ``rgb`` optionally carries a co-registered 8-bit colour image (H, W, 3).

    A frame of the camera's 8-bit automatic-gain video (what most drone thermal payloads
    stream over RTSP or HDMI) has ``video`` set to its grey image and ``agc`` True: grey
    level is not temperature there, so ``celsius`` is all NaN and nothing reads a
    temperature from it (see :attr:`mode`).
    """

    celsius: NDArray[np.float32]
    time_s: float
    index: int = 0
    state: VehicleState | None = None
    gimbal: GimbalAttitude = GimbalAttitude()
    degraded: bool = False
    rgb: NDArray[np.uint8] | None = None
    #: the raw 16-bit TLinear counts the Celsius array was converted from, when the source had them
    counts: NDArray[np.uint16] | None = None
    #: kelvin per count of ``counts`` (0.01 or 0.1 for TLinear)
    kelvin_per_count: float | None = None
    #: the camera's 8-bit grey video image (automatic gain), for frames without temperatures
    video: NDArray[np.uint8] | None = None
    #: True for automatic-gain video frames: no temperatures at all
    agc: bool = False

    @classmethod
    def from_video(cls, grey: NDArray[np.uint8], time_s: float, index: int = 0, **kwargs: object) -> ThermalFrame:
        """An automatic-gain video frame: grey pixels, no temperatures (``celsius`` all NaN)."""
        celsius = np.full(grey.shape[:2], np.nan, dtype=np.float32)
        return cls(celsius=celsius, time_s=time_s, index=index, video=grey, agc=True, **kwargs)  # type: ignore[arg-type]

    @property
    def mode(self) -> str:
        """``radiometric`` (temperatures), ``palette`` (8-bit palette with a known span: approximate
        temperatures) or ``agc`` (8-bit automatic-gain video: no temperatures)."""
        if self.agc:
            return "agc"
        return "palette" if self.degraded else "radiometric"

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        h, w = self.celsius.shape[:2]
        return int(h), int(w)
