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
from collections.abc import Sequence

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


def positioned(command: int) -> bool:
    """True for the commands whose latitude, longitude and altitude the vehicle uses."""
    return Waypoint(command=command).has_position


def item_problem(w: Waypoint) -> str | None:
    """Why ``w`` cannot go to a vehicle, or ``None``.

    MISSION_ITEM_INT carries the command as uint16, the frame as uint8 and the position
    as integer 1e-7 degrees, so NaN or out-of-range numbers there cannot even be sent;
    an infinite parameter is never meaningful (NaN in param1..4 is, for "unchanged").
    """
    if not 0 <= w.command <= 65535:
        return f"command {w.command} is not a MAV_CMD number (0..65535)"
    if not 0 <= w.frame <= 255:
        return f"frame {w.frame} is not a MAV_FRAME number (0..255)"
    for name, value in (("param1", w.param1), ("param2", w.param2), ("param3", w.param3), ("param4", w.param4)):
        if math.isinf(value):
            return f"{name} is {value}, expected a finite number (or NaN for 'unchanged')"
    for name, value in (("latitude", w.latitude_deg), ("longitude", w.longitude_deg), ("altitude", w.altitude_m)):
        if not math.isfinite(value):
            return f"{name} is {value}, expected a finite number"
    if not (-90 <= w.latitude_deg <= 90 and -180 <= w.longitude_deg <= 180):
        return f"position {w.latitude_deg:g}, {w.longitude_deg:g} is out of range"
    return None


def item_from_file(command: int, frame: int, values: Sequence[float], autocontinue: bool) -> Waypoint:
    """The in-memory item for a plan-file row: P1..P4, LAT, LON, ALT in ``values``.

    Items without a position may carry NaN (or QGC's null) there, read as 0; a positioned
    item must have all three. Raises ``ValueError`` naming the problem (see :func:`item_problem`).
    """
    position = list(values[4:7])
    if positioned(command):
        if any(math.isnan(v) for v in position):
            raise ValueError("a positioned item needs a latitude, longitude and altitude, got NaN or null")
    else:
        position = [0.0 if math.isnan(v) else v for v in position]
    w = Waypoint(
        command=command,
        frame=memory_frame(frame),
        param1=values[0],
        param2=values[1],
        param3=values[2],
        param4=values[3],
        latitude_deg=position[0],
        longitude_deg=position[1],
        altitude_m=position[2],
        autocontinue=autocontinue,
    )
    problem = item_problem(w)
    if problem:
        raise ValueError(problem)
    return w
