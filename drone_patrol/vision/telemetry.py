"""Telemetry logs for offline runs: vehicle poses over time, interpolated to frame times.

Readers:

- CSV or JSON lines with ``time_s, latitude_deg, longitude_deg`` and any of
  ``altitude_m`` (AMSL), ``relative_altitude_m``, ``roll_deg, pitch_deg, yaw_deg``,
  ``gimbal_pitch_deg, gimbal_roll_deg, gimbal_yaw_deg``, ``home_latitude_deg,
  home_longitude_deg, home_altitude_m`` (what ``sim-camera`` writes);
- a MAVLink telemetry log (``.tlog``: each packet preceded by its 8-byte big-endian UNIX
  time in microseconds), of which GLOBAL_POSITION_INT, ATTITUDE and HOME_POSITION are
  decoded here (the packet layout is read directly; checksums are verified).

Poses are linearly interpolated (yaw the short way round); a frame farther than
``max_gap_s`` from any pose, or outside the log, gets no state.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from drone_patrol.core.errors import InputError
from drone_patrol.core.files import excerpt, parse_user_json, read_user_bytes, read_user_csv, read_user_text
from drone_patrol.core.types import GeoPoint, VehicleState

_REQUIRED = ("time_s", "latitude_deg", "longitude_deg")
_OPTIONAL = (
    "altitude_m", "relative_altitude_m", "roll_deg", "pitch_deg", "yaw_deg",
    "gimbal_pitch_deg", "gimbal_roll_deg", "gimbal_yaw_deg",
    "home_latitude_deg", "home_longitude_deg", "home_altitude_m",
)  # fmt: skip


@dataclass(frozen=True)
class Pose:
    """One telemetry sample."""

    time_s: float
    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0
    relative_altitude_m: float = 0.0
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    yaw_deg: float = 0.0
    gimbal_pitch_deg: float | None = None
    gimbal_roll_deg: float | None = None
    gimbal_yaw_deg: float | None = None
    home: GeoPoint | None = None
    amsl_known: bool = True  # False: the row gave only relative_altitude_m (see PoseLog.with_home)


def _lerp(a: float, b: float, f: float) -> float:
    return a + (b - a) * f


def _lerp_angle(a: float, b: float, f: float) -> float:
    d = (b - a + 180.0) % 360.0 - 180.0
    return (a + d * f) % 360.0


def _lerp_relative_angle(a: float, b: float, f: float) -> float:
    """:func:`_lerp_angle` for an angle relative to the vehicle, kept in [-180, 180)."""
    return (_lerp_angle(a, b, f) + 180.0) % 360.0 - 180.0


class PoseLog:
    """Time-ordered poses with interpolation."""

    def __init__(self, poses: list[Pose], max_gap_s: float = 1.0, source: str = "") -> None:
        self.poses = sorted(poses, key=lambda p: p.time_s)
        self.times = [p.time_s for p in self.poses]
        self.max_gap_s = max_gap_s
        self.source = source

    def __len__(self) -> int:
        return len(self.poses)

    def with_home(self, home: GeoPoint) -> PoseLog:
        """The log with ``home`` (the site's) as the home of poses that gave only a height above
        home, so that their height is not read as metres above sea level."""
        if all(p.amsl_known for p in self.poses):
            return self
        poses = [
            p
            if p.amsl_known
            else replace(p, altitude_m=home.altitude_m + p.relative_altitude_m, home=home, amsl_known=True)
            for p in self.poses
        ]
        return PoseLog(poses, self.max_gap_s, self.source)

    def pose_at(self, time_s: float) -> Pose | None:
        """The pose interpolated to ``time_s`` (``None`` outside the log or across a gap)."""
        if not self.poses:
            return None
        i = bisect_left(self.times, time_s)
        if i < len(self.times) and self.times[i] == time_s:
            return self.poses[i]
        if i == 0 or i == len(self.times):
            edge = self.poses[0] if i == 0 else self.poses[-1]
            return edge if abs(edge.time_s - time_s) <= self.max_gap_s / 2 else None
        a, b = self.poses[i - 1], self.poses[i]
        if b.time_s - a.time_s > self.max_gap_s:
            return None
        f = (time_s - a.time_s) / (b.time_s - a.time_s)

        def opt(x: float | None, y: float | None, lerp: Callable[[float, float, float], float] = _lerp) -> float | None:
            return None if x is None or y is None else lerp(x, y, f)

        return Pose(
            time_s=time_s,
            latitude_deg=_lerp(a.latitude_deg, b.latitude_deg, f),
            longitude_deg=_lerp(a.longitude_deg, b.longitude_deg, f),
            altitude_m=_lerp(a.altitude_m, b.altitude_m, f),
            relative_altitude_m=_lerp(a.relative_altitude_m, b.relative_altitude_m, f),
            roll_deg=_lerp(a.roll_deg, b.roll_deg, f),
            pitch_deg=_lerp(a.pitch_deg, b.pitch_deg, f),
            yaw_deg=_lerp_angle(a.yaw_deg, b.yaw_deg, f),
            gimbal_pitch_deg=opt(a.gimbal_pitch_deg, b.gimbal_pitch_deg),
            gimbal_roll_deg=opt(a.gimbal_roll_deg, b.gimbal_roll_deg),
            gimbal_yaw_deg=opt(a.gimbal_yaw_deg, b.gimbal_yaw_deg, _lerp_relative_angle),  # 359 to 1 passes 0, not 180
            home=a.home or b.home,
            amsl_known=a.amsl_known and b.amsl_known,
        )

    def state_at(self, time_s: float) -> VehicleState | None:
        """A ``VehicleState`` for ``time_s`` (``None`` without telemetry then)."""
        p = self.pose_at(time_s)
        if p is None:
            return None
        return VehicleState(
            time_s=time_s,
            position=GeoPoint(p.latitude_deg, p.longitude_deg, p.altitude_m),
            relative_altitude_m=p.relative_altitude_m,
            roll_deg=p.roll_deg,
            pitch_deg=p.pitch_deg,
            yaw_deg=p.yaw_deg,
            heading_deg=p.yaw_deg,
            home=p.home,
            landed=False,
            armed=True,
        )

    @classmethod
    def load(cls, path: str | Path, max_gap_s: float = 1.0) -> PoseLog:
        """Read a ``.csv``, ``.jsonl``/``.ndjson`` or ``.tlog`` telemetry file; raises :class:`InputError`."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{p}: telemetry file not found")
        suffix = p.suffix.lower()
        if suffix == ".tlog":
            poses = read_tlog(p)
        elif suffix == ".csv":
            _header, rows = read_user_csv(p, "telemetry file", InputError)
            poses = [_pose_from_row(row, p, n) for n, row in rows]
        elif suffix in (".jsonl", ".ndjson", ".json"):
            poses = []
            text = read_user_text(p, "telemetry file", InputError)
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                row = parse_user_json(line, f"{p}: line {n}", "telemetry line", InputError)
                if not isinstance(row, dict):
                    raise InputError(f"{p}: line {n}: expected an object of pose fields, got {excerpt(row)}")
                poses.append(_pose_from_row(row, p, n))
        else:
            raise InputError(f"{p}: unknown telemetry type {suffix!r} (expected .csv, .jsonl or .tlog)")
        if not poses:
            raise InputError(f"{p}: no poses in the telemetry file")
        return cls(poses, max_gap_s, str(p))


def _num(row: dict[str, Any], key: str, p: Path, line: int, required: bool) -> float | None:
    v = row.get(key)
    if v is None or v == "":
        if required:
            raise InputError(f"{p}: line {line}: missing {key}")
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise InputError(f"{p}: line {line}: {key} must be a number, got {excerpt(v)}")
    try:
        x = float(v)
    except (ValueError, OverflowError):
        raise InputError(f"{p}: line {line}: {key} must be a number, got {excerpt(v)}") from None
    if not math.isfinite(x):
        raise InputError(f"{p}: line {line}: {key} must be finite, got {excerpt(v)}")
    return x


def _pose_from_row(row: dict[str, Any], p: Path, line: int) -> Pose:
    req = {k: _num(row, k, p, line, True) for k in _REQUIRED}
    opt = {k: _num(row, k, p, line, False) for k in _OPTIONAL}
    lat, lon = req["latitude_deg"], req["longitude_deg"]
    assert lat is not None and lon is not None and req["time_s"] is not None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"{p}: line {line}: position ({lat}, {lon}) is not latitude/longitude in degrees")
    alt, rel = opt["altitude_m"], opt["relative_altitude_m"]
    if alt is None and rel is None:
        raise InputError(f"{p}: line {line}: needs altitude_m (above sea level) or relative_altitude_m (above home)")
    home = None
    if opt["home_latitude_deg"] is not None and opt["home_longitude_deg"] is not None:
        if not (-90 <= opt["home_latitude_deg"] <= 90 and -180 <= opt["home_longitude_deg"] <= 180):
            raise InputError(f"{p}: line {line}: home position is not latitude/longitude in degrees")
        home_alt = opt["home_altitude_m"]
        if home_alt is None and alt is not None and rel is not None:
            home_alt = alt - rel  # home's height from the two heights of the vehicle
        if home_alt is None:
            raise InputError(
                f"{p}: line {line}: home_altitude_m is missing (or give both altitude_m and relative_altitude_m)"
            )
        home = GeoPoint(opt["home_latitude_deg"], opt["home_longitude_deg"], home_alt)
    if rel is None:
        rel = alt - home.altitude_m if alt is not None and home is not None else 0.0
    if alt is None and home is not None:
        alt = home.altitude_m + rel
    return Pose(
        time_s=req["time_s"],
        latitude_deg=lat,
        longitude_deg=lon,
        altitude_m=alt if alt is not None else 0.0,
        relative_altitude_m=rel,
        amsl_known=alt is not None,
        roll_deg=opt["roll_deg"] or 0.0,
        pitch_deg=opt["pitch_deg"] or 0.0,
        yaw_deg=(opt["yaw_deg"] or 0.0) % 360.0,
        gimbal_pitch_deg=opt["gimbal_pitch_deg"],
        gimbal_roll_deg=opt["gimbal_roll_deg"],
        gimbal_yaw_deg=opt["gimbal_yaw_deg"],
        home=home,
    )


# MAVLink telemetry logs -------------------------------------------------------------------------------------

_ATTITUDE, _GLOBAL_POSITION_INT, _HOME_POSITION = 30, 33, 242
_CRC_EXTRA = {_ATTITUDE: 39, _GLOBAL_POSITION_INT: 104, _HOME_POSITION: 104}


def _x25(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        tmp = b ^ (crc & 0xFF)
        tmp = (tmp ^ (tmp << 4)) & 0xFF
        crc = ((crc >> 8) ^ (tmp << 8) ^ (tmp << 3) ^ (tmp >> 4)) & 0xFFFF
    return crc


def _packets(data: bytes) -> list[tuple[float, int, bytes]]:
    """(time_s, msgid, payload) of the checksum-valid packets of the three messages used."""
    out = []
    i, n = 0, len(data)
    while i + 8 < n:
        stamp = struct.unpack_from(">Q", data, i)[0] / 1e6
        j = i + 8
        stx = data[j]
        if stx == 0xFD and j + 10 <= n:
            length, incompat = data[j + 1], data[j + 2]
            msgid = data[j + 7] | data[j + 8] << 8 | data[j + 9] << 16
            header, end = 10, j + 10 + length + 2 + (13 if incompat & 1 else 0)
        elif stx == 0xFE and j + 6 <= n:
            length = data[j + 1]
            msgid = data[j + 5]
            header, end = 6, j + 6 + length + 2
        else:
            i += 1  # resynchronise on garbage
            continue
        if end > n:
            break
        if msgid in _CRC_EXTRA:
            body = data[j + 1 : j + header + length]
            crc = struct.unpack_from("<H", data, j + header + length)[0]
            if _x25(body + bytes([_CRC_EXTRA[msgid]])) == crc:
                out.append((stamp, msgid, bytes(data[j + header : j + header + length])))
        i = end
    return out


_MAX_TLOG_BYTES = 512 * 1024 * 1024


def _valid_latlon_e7(lat: int, lon: int) -> bool:
    return abs(lat) <= 900_000_000 and abs(lon) <= 1_800_000_000


def read_tlog(path: Path) -> list[Pose]:
    """Poses from a MAVLink ``.tlog``: one per GLOBAL_POSITION_INT with the latest ATTITUDE and HOME_POSITION."""
    data = read_user_bytes(path, "telemetry log", InputError, max_bytes=_MAX_TLOG_BYTES)
    roll = pitch = yaw = 0.0
    home: GeoPoint | None = None
    poses = []
    for stamp, msgid, payload in _packets(data):
        if msgid == _ATTITUDE:
            payload = payload.ljust(28, b"\0")  # MAVLink 2 trims trailing zeros
            _, r, pch, y = struct.unpack_from("<Ifff", payload)
            if all(math.isfinite(v) for v in (r, pch, y)):  # a corrupt packet keeps the last attitude
                roll, pitch, yaw = math.degrees(r), math.degrees(pch), math.degrees(y) % 360.0
        elif msgid == _HOME_POSITION:
            lat, lon, alt = struct.unpack_from("<iii", payload.ljust(12, b"\0"))
            if _valid_latlon_e7(lat, lon):
                home = GeoPoint(lat / 1e7, lon / 1e7, alt / 1000.0)
        elif msgid == _GLOBAL_POSITION_INT:
            _, lat, lon, alt, rel = struct.unpack_from("<Iiiii", payload.ljust(28, b"\0"))
            if (lat == 0 and lon == 0) or not _valid_latlon_e7(lat, lon) or not math.isfinite(stamp):
                continue
            poses.append(Pose(stamp, lat / 1e7, lon / 1e7, alt / 1000.0, rel / 1000.0, roll, pitch, yaw, home=home))
    if not poses:
        raise InputError(f"{path}: no GLOBAL_POSITION_INT messages in the telemetry log")
    return poses
