"""Scenario files: the thermal world a simulated camera looks at (GeoJSON).

A scenario is a GeoJSON FeatureCollection with a foreign member ``scenario`` holding
the scene and sensor settings, and one feature per object; ``properties.role`` is one of

- ``fire``: Point; ``temperature_c`` (default 550), ``radius_m`` (0.6).
- ``person``: Point (standing) or LineString (walking back and forth at ``speed_m_s``, 1.2).
- ``crowd``: Point; ``count`` people within ``radius_m`` (3); they arrive one by one over
  ``ramp_s`` after ``start_s`` and leave over ``ramp_s`` before ``end_s``.
- ``grill``, ``car_engine``: Point; ``temperature_c``, ``size_m`` [length, width], ``heading_deg``.
- ``warm_roof``: Polygon; ``temperature_c``.

Every object may carry ``name``, ``start_s`` and ``end_s`` (seconds from the scenario start).
``scenario`` keys: ``name``, ``description``, ``areas`` (the area file it belongs to,
relative to the scenario file), ``background_c``, ``background_variation_c``, ``sky_c``,
``netd_k`` (sensor noise), ``vignetting_c`` (corner offset), ``duration_s``, ``ground_altitude_m``
(AMSL height of the flat world, for vehicle states without a home).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from drone_patrol.core.errors import InputError
from drone_patrol.core.files import excerpt, read_user_json
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint

ROLES = ("fire", "person", "crowd", "grill", "car_engine", "warm_roof")
_DEFAULT_TEMPERATURE_C = {"fire": 550.0, "grill": 250.0, "car_engine": 65.0, "warm_roof": 30.0, "person": 27.0}
_DEFAULT_SIZE_M = {"grill": (1.2, 0.6), "car_engine": (1.2, 1.4)}
_GEOMETRY = {
    "fire": ("Point",),
    "person": ("Point", "LineString"),
    "crowd": ("Point",),
    "grill": ("Point",),
    "car_engine": ("Point",),
    "warm_roof": ("Polygon",),
}


@dataclass(frozen=True)
class ScenarioObject:
    """One object of the world, its geometry in the scenario's local frame (east, north metres)."""

    index: int
    name: str
    role: str
    points_en: NDArray[np.float64]  # (K, 2): a point, a walking path or a roof outline
    temperature_c: float
    radius_m: float = 0.0
    size_m: tuple[float, float] = (0.0, 0.0)
    heading_deg: float = 0.0
    count: int = 0
    speed_m_s: float = 0.0
    start_s: float = 0.0
    end_s: float = math.inf
    ramp_s: float = 0.0
    properties: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def centre_en(self) -> NDArray[np.float64]:
        """The object's reference point: its point, or the mean of its outline."""
        return np.asarray(self.points_en.mean(axis=0) if self.role == "warm_roof" else self.points_en[0])

    def active(self, t_s: float) -> bool:
        """True while the object exists (``start_s <= t < end_s``)."""
        return self.start_s <= t_s < self.end_s

    def crowd_size(self, t_s: float) -> int:
        """How many of a crowd's people are present at scenario time ``t_s``."""
        if not self.active(t_s):
            return 0
        if self.ramp_s <= 0:
            return self.count
        frac = min((t_s - self.start_s) / self.ramp_s, (self.end_s - t_s) / self.ramp_s, 1.0)
        return max(0, min(self.count, math.floor(self.count * frac + 1e-9)))

    def crowd_offsets_m(self, seed: int) -> NDArray[np.float64]:
        """Deterministic positions (count, 2) of a crowd's people relative to its centre, at least 0.6 m apart."""
        rng = np.random.default_rng([seed, zlib.crc32(self.name.encode())])
        spacing = 0.6
        pts: list[NDArray[np.float64]] = []
        tries = 0
        while len(pts) < self.count:
            tries += 1
            if tries > 200 * self.count:
                spacing *= 0.9
                tries = 0
            r = self.radius_m * math.sqrt(rng.random())
            a = 2 * math.pi * rng.random()
            p = np.array([r * math.cos(a), r * math.sin(a)])
            if all(np.hypot(*(p - q)) >= spacing for q in pts):
                pts.append(p)
        # the first to arrive stand nearest the centre, as a gathering grows outwards
        out = np.array(pts).reshape(-1, 2)
        return out[np.argsort(np.hypot(out[:, 0], out[:, 1]))]


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: settings, objects in local metres, and the frame they are expressed in."""

    name: str
    origin: GeoPoint
    objects: tuple[ScenarioObject, ...]
    background_c: float = 18.0
    background_variation_c: float = 1.5
    sky_c: float = -20.0
    netd_k: float = 0.05
    vignetting_c: float = 0.6
    duration_s: float = 900.0
    ground_altitude_m: float = 0.0
    description: str = ""
    areas_file: Path | None = None
    source: str = ""

    @property
    def frame(self) -> LocalFrame:
        """The local ENU frame of ``objects`` (origin at ``origin``)."""
        return LocalFrame(self.origin)

    def by_role(self, role: str) -> tuple[ScenarioObject, ...]:
        """The objects of one role, in file order."""
        return tuple(o for o in self.objects if o.role == role)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read and validate a scenario file; raises :class:`InputError` with a one-line message."""
        p = Path(path)
        return cls.parse(read_user_json(p, "scenario file", InputError), p)

    @classmethod
    def parse(cls, raw: Any, path: str | Path = "<scenario>") -> Scenario:
        """Validate an already decoded scenario document."""
        p = Path(path)
        if not isinstance(raw, dict) or raw.get("type") != "FeatureCollection":
            raise InputError(f"{p}: expected a GeoJSON FeatureCollection")
        settings = raw.get("scenario", {})
        if not isinstance(settings, dict):
            raise InputError(f"{p}: 'scenario' must be an object of settings")
        features = raw.get("features")
        if not isinstance(features, list) or not features:
            raise InputError(f"{p}: 'features' must be a non-empty list")
        coords = [_feature_coords(i, f, p) for i, f in enumerate(features)]
        first = coords[0][0]
        origin_raw = settings.get("origin")
        if origin_raw is not None:
            if not (isinstance(origin_raw, list) and len(origin_raw) >= 2 and all(_is_num(v) for v in origin_raw)):
                raise InputError(f"{p}: scenario.origin must be [lon, lat], got {excerpt(origin_raw)}")
            origin = GeoPoint(float(origin_raw[1]), float(origin_raw[0]))
        else:
            origin = GeoPoint(first[1], first[0])
        frame = LocalFrame(origin)
        objects = tuple(_make_object(i, f, c, frame, p) for i, (f, c) in enumerate(zip(features, coords, strict=True)))
        names = [o.name for o in objects]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(f"{p}: object names must be unique, repeated: {', '.join(dupes)}")
        areas = settings.get("areas")
        areas_file = (p.parent / str(areas)).resolve() if areas else None
        return cls(
            name=str(settings.get("name", p.stem)),
            origin=origin,
            objects=objects,
            background_c=_setting(settings, "background_c", 18.0, p, -40, 60),
            background_variation_c=_setting(settings, "background_variation_c", 1.5, p, 0, 30),
            sky_c=_setting(settings, "sky_c", -20.0, p, -80, 40),
            netd_k=_setting(settings, "netd_k", 0.05, p, 0, 5),
            vignetting_c=_setting(settings, "vignetting_c", 0.6, p, -20, 20),
            duration_s=_setting(settings, "duration_s", 900.0, p, 1, 1e6),
            ground_altitude_m=_setting(settings, "ground_altitude_m", 0.0, p, -500, 9000),
            description=str(settings.get("description", "")),
            areas_file=areas_file,
            source=str(p),
        )


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _setting(settings: dict[str, Any], key: str, default: float, p: Path, lo: float, hi: float) -> float:
    v = settings.get(key, default)
    if not _is_num(v) or not lo <= float(v) <= hi:
        raise InputError(f"{p}: scenario.{key} must be a number in [{lo:g}, {hi:g}], got {excerpt(v)}")
    return float(v)


def _where(i: int, feature: Any) -> str:
    props = feature.get("properties") if isinstance(feature, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    return f"feature {i}" + (f" ({excerpt(name)})" if name else "")


def _feature_coords(i: int, feature: Any, p: Path) -> list[tuple[float, float]]:
    where = _where(i, feature)
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InputError(f"{p}: {where}: expected a GeoJSON Feature")
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise InputError(f"{p}: {where}: 'properties' must be an object")
    role = props.get("role")
    if role not in ROLES:
        raise InputError(f"{p}: {where}: role must be one of {', '.join(ROLES)}, got {excerpt(role)}")
    geom = feature.get("geometry")
    if not isinstance(geom, dict) or geom.get("type") not in _GEOMETRY[role]:
        got = geom.get("type") if isinstance(geom, dict) else geom
        raise InputError(f"{p}: {where}: a {role} needs a {' or '.join(_GEOMETRY[role])} geometry, got {excerpt(got)}")
    c = geom.get("coordinates")
    if geom["type"] == "Point":
        positions = [c]
    elif geom["type"] == "LineString":
        positions = c if isinstance(c, list) else [None]
    else:
        positions = c[0] if isinstance(c, list) and c and isinstance(c[0], list) else [None]
    out = []
    for pos in positions:
        if not (isinstance(pos, list) and len(pos) >= 2 and _is_num(pos[0]) and _is_num(pos[1])):
            raise InputError(f"{p}: {where}: coordinates must be [lon, lat] numbers, got {excerpt(pos)}")
        lon, lat = float(pos[0]), float(pos[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputError(f"{p}: {where}: position [{lon}, {lat}] is not [lon, lat] in degrees")
        out.append((lon, lat))
    if geom["type"] == "LineString" and len(out) < 2:
        raise InputError(f"{p}: {where}: a walking path needs at least 2 positions")
    if geom["type"] == "Polygon" and len(out) < 4:
        raise InputError(f"{p}: {where}: a polygon ring needs at least 4 positions")
    return out


def _num_prop(props: dict[str, Any], key: str, default: float, p: Path, where: str, lo: float, hi: float) -> float:
    v = props.get(key, default)
    if v is None and key == "end_s":
        return math.inf
    if not _is_num(v) or not lo <= float(v) <= hi:
        raise InputError(f"{p}: {where}: {key} must be a number in [{lo:g}, {hi:g}], got {excerpt(v)}")
    return float(v)


def _make_object(
    i: int, feature: dict[str, Any], coords: list[tuple[float, float]], frame: LocalFrame, p: Path
) -> ScenarioObject:
    props = feature["properties"]
    role = props["role"]
    where = _where(i, feature)
    name = str(props.get("name", f"{role}-{i}"))
    pts = frame.lonlat_to_en(coords)
    if role == "warm_roof" and np.allclose(pts[0], pts[-1]):
        pts = pts[:-1]
    size = props.get("size_m", _DEFAULT_SIZE_M.get(role, (0.0, 0.0)))
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(_is_num(s) and 0 <= s <= 100 for s in size)):
        raise InputError(f"{p}: {where}: size_m must be [length, width] in metres, got {excerpt(size)}")
    count = props.get("count", 0 if role != "crowd" else None)
    if role == "crowd" and (not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 500):
        raise InputError(f"{p}: {where}: a crowd needs an integer count in [1, 500], got {excerpt(count)}")
    start = _num_prop(props, "start_s", 0.0, p, where, 0, 1e7)
    end = _num_prop(props, "end_s", math.inf, p, where, 0, math.inf) if "end_s" in props else math.inf
    if end <= start:
        raise InputError(f"{p}: {where}: end_s ({end:g}) must be after start_s ({start:g})")
    return ScenarioObject(
        index=i,
        name=name,
        role=role,
        points_en=pts,
        temperature_c=_num_prop(props, "temperature_c", _DEFAULT_TEMPERATURE_C.get(role, 30.0), p, where, -40, 2000),
        radius_m=_num_prop(props, "radius_m", {"fire": 0.6, "crowd": 3.0}.get(role, 0.0), p, where, 0, 200),
        size_m=(float(size[0]), float(size[1])),
        heading_deg=_num_prop(props, "heading_deg", 0.0, p, where, -360, 360),
        count=int(count or 0),
        speed_m_s=_num_prop(props, "speed_m_s", 1.2 if role == "person" else 0.0, p, where, 0, 10),
        start_s=start,
        end_s=end,
        ramp_s=_num_prop(props, "ramp_s", 0.0, p, where, 0, 1e6),
        properties=dict(props),
    )
