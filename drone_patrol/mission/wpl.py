"""QGC WPL 110 text files (``.waypoints``), as QGroundControl, Mission Planner and MAVProxy read them.

First line ``QGC WPL 110``; then one line per item with 12 tab-separated columns:
INDEX CURRENT FRAME COMMAND P1 P2 P3 P4 LAT LON ALT AUTOCONTINUE. Line 0 is home
(frame 0, altitude AMSL). Fence and rally lists do not fit this format; use ``.plan``.
"""

from __future__ import annotations

import math
from pathlib import Path

from drone_patrol.core.errors import MissionFileError
from drone_patrol.core.files import excerpt, read_user_text
from drone_patrol.core.types import GeoPoint, MavCmd, MavFrame, Mission, Waypoint
from drone_patrol.mission.items import file_frame, fmt_number, item_from_file

__all__ = ["format_waypoints", "parse_waypoints", "read_waypoints", "write_waypoints"]

HEADER = "QGC WPL 110"
_ACCEPTED_HEADERS = ("QGC WPL 110", "QGC WPL 100")


def _line(index: int, current: int, frame: int, w: Waypoint | None, home: GeoPoint | None = None) -> str:
    if w is None:
        assert home is not None
        cols = [0, 0, 0, 0, home.latitude_deg, home.longitude_deg, home.altitude_m]
        cmd, auto = int(MavCmd.NAV_WAYPOINT), 1
    else:
        cols = [w.param1, w.param2, w.param3, w.param4, w.latitude_deg, w.longitude_deg, w.altitude_m]
        cmd, auto = w.command, int(w.autocontinue)
    return "\t".join([str(index), str(current), str(frame), str(cmd), *(fmt_number(float(v)) for v in cols), str(auto)])


def format_waypoints(mission: Mission) -> str:
    """The text of ``mission`` as a QGC WPL 110 file (home at index 0)."""
    lines = [HEADER, _line(0, 1, int(MavFrame.GLOBAL), None, mission.home)]
    for i, w in enumerate(mission.items, start=1):
        lines.append(_line(i, 0, file_frame(w.frame), w))
    return "\n".join(lines) + "\n"


def write_waypoints(mission: Mission, path: str | Path) -> Path:
    """Write ``mission`` to ``path`` as QGC WPL 110; returns the path."""
    p = Path(path)
    try:
        p.write_text(format_waypoints(mission), encoding="utf-8")
    except OSError as exc:
        raise MissionFileError(f"{p}: cannot write waypoints file ({exc.strerror})") from None
    return p


def _float(text: str, p: Path, lineno: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MissionFileError(f"{p}: line {lineno}: column {column} is not a number: {excerpt(text)}") from None
    return value


def parse_waypoints(text: str, source: str | Path = "<waypoints>") -> Mission:
    """Parse QGC WPL 110 (or 100) text into a :class:`Mission`; line 0 becomes ``home``."""
    p = Path(source)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0].strip() not in _ACCEPTED_HEADERS:
        first = lines[0].strip()[:40] if lines else ""
        raise MissionFileError(f"{p}: not a QGC WPL file (first line {first!r}, expected {HEADER!r})")
    home: GeoPoint | None = None
    items: list[Waypoint] = []
    names = ("P1", "P2", "P3", "P4", "LAT", "LON", "ALT")
    header_seen = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        if not header_seen:  # the header, after any blank lines
            header_seen = True
            continue
        cols = raw.split("\t") if "\t" in raw else raw.split()
        if len(cols) != 12:
            raise MissionFileError(f"{p}: line {lineno}: {len(cols)} columns, expected 12 (tab-separated)")
        try:
            index, _current, frame, command, auto = (int(cols[i]) for i in (0, 1, 2, 3, 11))
        except ValueError:
            raise MissionFileError(
                f"{p}: line {lineno}: INDEX, CURRENT, FRAME, COMMAND and AUTOCONTINUE must be integers"
            ) from None
        expected = len(items) + (0 if home is None else 1)
        if index != expected:
            raise MissionFileError(f"{p}: line {lineno}: index {index}, expected {expected} (indices run from 0)")
        vals = [_float(cols[4 + i], p, lineno, names[i]) for i in range(7)]
        if not 0 <= _current <= 1 or not 0 <= auto <= 1:
            raise MissionFileError(f"{p}: line {lineno}: CURRENT and AUTOCONTINUE must be 0 or 1")
        if home is None:
            if not all(math.isfinite(v) for v in vals[4:7]):
                raise MissionFileError(f"{p}: line {lineno}: home LAT, LON and ALT must be finite numbers")
            if not (-90 <= vals[4] <= 90 and -180 <= vals[5] <= 180):
                raise MissionFileError(f"{p}: line {lineno}: home position {vals[4]:g}, {vals[5]:g} out of range")
            home = GeoPoint(vals[4], vals[5], vals[6])
            continue
        try:
            item = item_from_file(command, frame, vals, bool(auto))
        except ValueError as exc:
            raise MissionFileError(f"{p}: line {lineno}: {exc}") from None
        items.append(item)
    if home is None:
        raise MissionFileError(f"{p}: no items (expected home at index 0)")
    return Mission(home=home, items=tuple(items), name=p.stem)


def read_waypoints(path: str | Path) -> Mission:
    """Read a QGC WPL 110 file; raises :class:`MissionFileError` with a one-line message."""
    p = Path(path)
    text = read_user_text(p, "waypoints file", MissionFileError)
    return parse_waypoints(text, p)
