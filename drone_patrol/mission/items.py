"""Conventions shared by the plan-file readers and writers.

In memory (``drone_patrol.core.types.Waypoint``) positioned items use the ``_INT``
frames that MISSION_ITEM_INT carries (GLOBAL_RELATIVE_ALT_INT = 6), and items
without a position use MAV_FRAME_MISSION (2). Plan files hold floating-point
degrees and QGroundControl writes the non-``_INT`` frames there (GLOBAL_RELATIVE_ALT
= 3, GLOBAL = 0, GLOBAL_TERRAIN_ALT = 10); ArduPilot treats the pairs alike. So the
writers map 6 -> 3, 5 -> 0, 11 -> 10 and the readers map back, which makes a
write-then-read round trip give the same items.
"""

from __future__ import annotations

import math

import numpy as np

from drone_patrol.core.types import MavFrame, Mission, Waypoint

_TO_FILE = {
    MavFrame.GLOBAL_RELATIVE_ALT_INT: MavFrame.GLOBAL_RELATIVE_ALT,
    MavFrame.GLOBAL_INT: MavFrame.GLOBAL,
    MavFrame.GLOBAL_TERRAIN_ALT_INT: MavFrame.GLOBAL_TERRAIN_ALT,
}
_FROM_FILE = {v: k for k, v in _TO_FILE.items()}


def file_frame(frame: int) -> int:
    """The frame number a plan file carries for an in-memory frame."""
    return int(_TO_FILE.get(frame, frame))  # type: ignore[call-overload]


def memory_frame(frame: int) -> int:
    """The in-memory (MISSION_ITEM_INT) frame for a frame read from a plan file."""
    return int(_FROM_FILE.get(frame, frame))  # type: ignore[call-overload]


def fmt_number(value: float) -> str:
    """Shortest positional decimal that reads back as the same float (no exponent)."""
    if math.isnan(value):
        return "nan"
    if float(value).is_integer():
        return f"{value:.1f}"
    return np.format_float_positional(float(value), trim="-")


def nav_positions(mission: Mission) -> list[Waypoint]:
    """The items the vehicle flies to, in order (takeoff, waypoints, loiters, land)."""
    nav = {16, 17, 18, 19, 21, 22, 82}
    return [w for w in mission.items if w.command in nav and (w.latitude_deg or w.longitude_deg)]
