"""``ThermalFrame`` (defined in ``drone_patrol.core.frames``) and the detector interface."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from drone_patrol.core.frames import GimbalAttitude, ThermalFrame
from drone_patrol.vision.detections import Detections

__all__ = ["Detector", "GimbalAttitude", "ThermalFrame"]


@runtime_checkable
class Detector(Protocol):
    """Anything that turns a frame into pixel-space ``Detections`` (georeferencing comes after)."""

    def detect(self, frame: ThermalFrame) -> Detections:
        """Detect objects in ``frame``; boxes and centroids in the frame's pixel coordinates."""
        ...
