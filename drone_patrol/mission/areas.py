"""Area files: the key areas of a district (GeoJSON FeatureCollection or KML) as an :class:`AreaSet`.

The format is described in DESIGN.md ("Area file"). :func:`load_areas` validates
everything a planner, a vision pipeline or a simulator relies on and raises one
:class:`AreaFileError` per problem, with a single line naming the file, the feature
(by name, or by index when it has none) and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from drone_patrol.core.errors import AreaFileError
from drone_patrol.core.files import excerpt, parse_user_json, read_user_text
from drone_patrol.core.geo import LocalFrame, distance_m
from drone_patrol.core.types import AreaRole, GeoPoint, KeyArea, PatternKind
from drone_patrol.mission.area_geometry import check_geometry, dimensions
from drone_patrol.mission.kml import kml_features

__all__ = ["AreaSet", "load_areas", "parse_areas"]

#: a feature whose centre is farther than this from the others is suspect
_OUTLIER_M = 200_000.0
_NUMERIC = ("altitude_m", "speed_m_s", "dwell_s", "radius_m", "width_m")
#: the largest value each numeric property may take: beyond these the work (sweep lines,
#: buffers, orbits) grows without bound and no street, square or hover needs more
_UPPER = {"altitude_m": 1000.0, "speed_m_s": 50.0, "dwell_s": 3600.0, "radius_m": 5000.0, "width_m": 500.0}
#: bounds on the work an area file may ask for (the route order grows fast with the parts)
MAX_FEATURES = 500
MAX_POSITIONS = 100_000
MAX_NAME_CHARS = 100
#: the widest a patrol area may be, east-west or north-south
MAX_AREA_SPAN_M = 20_000.0
_GEOMETRY_BY_PATTERN = {
    PatternKind.COVERAGE: ("Polygon", "MultiPolygon"),
    PatternKind.PERIMETER: ("Polygon", "MultiPolygon"),
    PatternKind.CORRIDOR: ("LineString",),
    PatternKind.ORBIT: ("Point",),
}
_DEFAULT_PATTERN = {
    "Polygon": PatternKind.COVERAGE,
    "MultiPolygon": PatternKind.COVERAGE,
    "LineString": PatternKind.CORRIDOR,
    "Point": PatternKind.ORBIT,
}


@dataclass(frozen=True)
class AreaSet:
    """The validated features of one area file, grouped by role (file order kept)."""

    home: KeyArea
    patrol: tuple[KeyArea, ...] = ()
    no_fly: tuple[KeyArea, ...] = ()
    heat_sources: tuple[KeyArea, ...] = ()
    rally: tuple[KeyArea, ...] = ()
    source: str = ""
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def all(self) -> tuple[KeyArea, ...]:
        """Every feature: home, patrol areas, no-fly zones, heat sources, rally points."""
        return (self.home, *self.patrol, *self.no_fly, *self.heat_sources, *self.rally)

    @property
    def home_point(self) -> GeoPoint:
        """Home as a :class:`GeoPoint` (altitude AMSL from the file's third coordinate, else 0)."""
        p = self.home.geometry
        alt = float(p.z) if p.has_z else 0.0
        return GeoPoint(float(p.y), float(p.x), alt)

    def local_frame(self) -> LocalFrame:
        """An ENU frame with its origin at home, for work in metres."""
        return self._frame

    @cached_property
    def _frame(self) -> LocalFrame:
        return LocalFrame(self.home_point)

    @cached_property
    def _shapes_m(self) -> dict[str, BaseGeometry]:
        return {a.name: area_footprint_m(a, self._frame) for a in self.all}

    def by_name(self, name: str) -> KeyArea:
        """The feature called ``name``; ``KeyError`` if there is none."""
        for area in self.all:
            if area.name == name:
                return area
        raise KeyError(name)

    def areas_at(
        self,
        latitude_deg: float,
        longitude_deg: float,
        roles: tuple[AreaRole, ...] | None = None,
        margin_m: float = 0.0,
    ) -> list[KeyArea]:
        """Every feature (of ``roles``, default all) whose ground shape lies within ``margin_m`` of the point.

        Corridors count by their ``width_m``, points by their ``radius_m``.
        """
        e, n = (float(v) for v in self._frame.lonlat_to_en([(longitude_deg, latitude_deg)])[0])
        here = Point(e, n)
        out = []
        for area in self.all:
            if roles is not None and area.role not in roles:
                continue
            shape = self._shapes_m[area.name]
            if shape.distance(here) <= margin_m:
                out.append(area)
        return out

    def patrol_area_at(self, latitude_deg: float, longitude_deg: float) -> KeyArea | None:
        """The patrol area (highest priority first) whose polygon, corridor or orbit disc contains the point."""
        found = self.areas_at(latitude_deg, longitude_deg, (AreaRole.PATROL,))
        return min(found, key=lambda a: a.priority) if found else None


def area_footprint_m(area: KeyArea, frame: LocalFrame) -> BaseGeometry:
    """The area's ground shape in ``frame`` metres: polygons as they are, corridors by
    ``width_m``, points by ``radius_m`` (0 when absent)."""
    geom = to_local(area.geometry, frame)
    if isinstance(geom, LineString):
        return geom.buffer((area.width_m or 0.0) / 2.0, cap_style="flat")
    if isinstance(geom, Point):
        return geom.buffer(area.radius_m or 0.0) if area.radius_m else geom
    return geom


def to_local(geom: BaseGeometry, frame: LocalFrame) -> BaseGeometry:
    """A WGS84 (lon, lat) shapely geometry in ``frame`` east/north metres (2-D)."""
    return shapely.transform(shapely.force_2d(geom), frame.lonlat_to_en)


def _where(index: int, props: dict[str, Any]) -> str:
    name = props.get("name")
    return f"feature {excerpt(name)}" if isinstance(name, str) and name else f"feature #{index}"


def _number(props: dict[str, Any], key: str, path: Path, where: str) -> float | None:
    value = props.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise AreaFileError(f"{path}: {where}: {key} must be a positive number, got {excerpt(value)}")
    if value > _UPPER[key]:
        raise AreaFileError(f"{path}: {where}: {key} {value:g} is more than {_UPPER[key]:g}")
    return float(value)


def _make_area(index: int, feature: Any, path: Path, repair: bool, warnings: list[str]) -> KeyArea:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise AreaFileError(f"{path}: feature #{index}: not a GeoJSON Feature")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise AreaFileError(f"{path}: feature #{index}: properties must be an object")
    where = _where(index, props)
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AreaFileError(f"{path}: {where}: properties.name is required (a non-empty string)")
    if len(name) > MAX_NAME_CHARS:
        raise AreaFileError(
            f"{path}: feature #{index}: name {excerpt(name)} is longer than {MAX_NAME_CHARS} characters"
        )
    try:
        role = AreaRole(props.get("role", "patrol"))
    except (ValueError, TypeError):
        choices = ", ".join(r.value for r in AreaRole)
        raise AreaFileError(
            f"{path}: {where}: role {excerpt(props.get('role'))} unknown (expected {choices})"
        ) from None
    kind = check_geometry(feature.get("geometry"), path, where)
    if len(dimensions(feature["geometry"]["coordinates"])) > 1:
        raise AreaFileError(f"{path}: {where}: positions mix [lon, lat] and [lon, lat, alt]; use one form")
    geom = shape(feature["geometry"])
    if kind == "LineString":
        points = [c for i, c in enumerate(geom.coords) if i == 0 or c != geom.coords[i - 1]]
        if len(points) < 2:
            raise AreaFileError(f"{path}: {where}: a line needs two different positions, got one repeated")
        geom = LineString(points)  # a position repeated in a row (a double click) adds nothing
    if kind in ("Polygon", "MultiPolygon") and not geom.is_valid:
        reason = explain_validity(geom)
        if not repair:
            raise AreaFileError(f"{path}: {where}: invalid polygon: {reason} (use --make-valid to repair)")
        fixed = shapely.make_valid(geom)
        polys = [g for g in getattr(fixed, "geoms", [fixed]) if isinstance(g, Polygon) and not g.is_empty]
        if not polys:
            raise AreaFileError(f"{path}: {where}: invalid polygon: {reason}, and nothing polygonal survives repair")
        if kind == "Polygon":
            geom = max(polys, key=lambda p: p.area)
            warnings.append(f"{where}: repaired invalid polygon ({reason}); kept the largest part")
        else:
            geom = shapely.union_all(polys)
            warnings.append(f"{where}: repaired invalid multipolygon ({reason})")
    nums = {key: _number(props, key, path, where) for key in _NUMERIC}
    priority = props.get("priority", 3)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
        raise AreaFileError(f"{path}: {where}: priority must be an integer 1 (highest) to 5, got {excerpt(priority)}")
    if "clockwise" in props and not isinstance(props["clockwise"], bool):
        raise AreaFileError(f"{path}: {where}: clockwise must be true or false, got {excerpt(props['clockwise'])}")
    pattern: PatternKind | None = None
    if role is AreaRole.PATROL:
        try:
            pattern = PatternKind(props["pattern"]) if "pattern" in props else _DEFAULT_PATTERN[kind]
        except (ValueError, TypeError):
            choices = ", ".join(p.value for p in PatternKind)
            got = excerpt(props["pattern"])
            raise AreaFileError(f"{path}: {where}: pattern {got} unknown (expected {choices})") from None
        if kind not in _GEOMETRY_BY_PATTERN[pattern]:
            need = " or ".join(_GEOMETRY_BY_PATTERN[pattern])
            raise AreaFileError(f"{path}: {where}: pattern {pattern.value} needs a {need} geometry, got {kind}")
        if pattern is PatternKind.CORRIDOR and nums["width_m"] is None:
            raise AreaFileError(f"{path}: {where}: a corridor needs width_m (street width in metres)")
        if pattern is PatternKind.ORBIT and nums["radius_m"] is None:
            raise AreaFileError(f"{path}: {where}: an orbit needs radius_m (metres)")
    elif role in (AreaRole.HOME, AreaRole.RALLY) and kind != "Point":
        raise AreaFileError(f"{path}: {where}: a {role.value} feature must be a Point, got {kind}")
    elif role is AreaRole.NO_FLY and kind == "LineString":
        raise AreaFileError(f"{path}: {where}: a no_fly zone must be a (Multi)Polygon or a Point with radius_m")
    elif role is AreaRole.NO_FLY and kind == "Point" and nums["radius_m"] is None:
        raise AreaFileError(f"{path}: {where}: a no_fly Point needs radius_m (metres)")
    return KeyArea(
        name=name.strip(),
        role=role,
        geometry=geom,
        pattern=pattern,
        priority=priority,
        altitude_m=nums["altitude_m"],
        speed_m_s=nums["speed_m_s"],
        dwell_s=nums["dwell_s"],
        radius_m=nums["radius_m"],
        width_m=nums["width_m"],
        properties=dict(props),
    )


def _read_features(path: Path) -> list[Any]:
    text = read_user_text(path, "area file", AreaFileError)
    if path.suffix.lower() == ".kml" or text.lstrip().startswith("<"):
        return kml_features(path, text)
    data = parse_user_json(text, path, "area file", AreaFileError)
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        got = excerpt(data.get("type")) if isinstance(data, dict) else type(data).__name__
        raise AreaFileError(f"{path}: not GeoJSON: expected a FeatureCollection, got {got}")
    features = data.get("features")
    if not isinstance(features, list):
        raise AreaFileError(f"{path}: not GeoJSON: FeatureCollection without a features array")
    return features


def _check_outliers(path: Path, areas: list[KeyArea]) -> None:
    """A feature far from all others whose swapped coordinates would sit with them is in [lat, lon] order."""
    if len(areas) < 3:
        return
    centres = [a.geometry.representative_point() for a in areas]
    lons = sorted(c.x for c in centres)
    lats = sorted(c.y for c in centres)
    ref = GeoPoint(lats[len(lats) // 2], lons[len(lons) // 2])
    for area, c in zip(areas, centres, strict=True):
        if distance_m(ref, GeoPoint(c.y, c.x)) <= _OUTLIER_M:
            continue
        if -90 <= c.x <= 90 and distance_m(ref, GeoPoint(c.x, c.y)) <= _OUTLIER_M:
            raise AreaFileError(
                f"{path}: feature {area.name!r}: positions look like [lat, lon] order (swapped it lies with the "
                "other features); GeoJSON wants [lon, lat]"
            )
        raise AreaFileError(f"{path}: feature {area.name!r}: lies more than 200 km from the other features")


def _no_fly_shape(area: KeyArea, frame: LocalFrame) -> BaseGeometry:
    return area_footprint_m(area, frame)


def parse_areas(
    features: Iterable[Any],
    source: str | Path = "<areas>",
    *,
    ceiling_m: float | None = None,
    floor_m: float | None = None,
    make_valid: bool = False,
) -> AreaSet:
    """Validate GeoJSON-shaped ``features`` into an :class:`AreaSet` (see :func:`load_areas`)."""
    path = Path(source)
    warnings: list[str] = []
    features = list(features)
    if len(features) > MAX_FEATURES:
        raise AreaFileError(f"{path}: {len(features)} features, at most {MAX_FEATURES} in one area file")
    areas = [_make_area(i, f, path, make_valid, warnings) for i, f in enumerate(features)]
    positions = sum(shapely.get_num_coordinates(a.geometry) for a in areas)
    if positions > MAX_POSITIONS:
        raise AreaFileError(f"{path}: {positions} positions, at most {MAX_POSITIONS} in one area file")
    seen: dict[str, int] = {}
    for i, area in enumerate(areas):
        if area.name in seen:
            raise AreaFileError(f"{path}: feature #{i}: duplicate name {area.name!r} (also feature #{seen[area.name]})")
        seen[area.name] = i
    homes = [a for a in areas if a.role is AreaRole.HOME]
    if not homes:
        raise AreaFileError(f"{path}: no feature with role 'home' (the launch and return point)")
    if len(homes) > 1:
        raise AreaFileError(f"{path}: {len(homes)} home features ({homes[0].name!r}, {homes[1].name!r}); need one")
    _check_outliers(path, areas)
    for area in areas:
        if area.altitude_m is not None and ceiling_m is not None and area.altitude_m > ceiling_m:
            raise AreaFileError(
                f"{path}: feature {area.name!r}: altitude_m {area.altitude_m:g} above the ceiling of {ceiling_m:g} m"
            )
        if area.altitude_m is not None and floor_m is not None and area.altitude_m < floor_m:
            raise AreaFileError(
                f"{path}: feature {area.name!r}: altitude_m {area.altitude_m:g} below the floor of {floor_m:g} m"
            )
    home = homes[0]
    frame = LocalFrame(GeoPoint(home.geometry.y, home.geometry.x))
    no_fly = [a for a in areas if a.role is AreaRole.NO_FLY]
    home_m = to_local(home.geometry, frame)
    for nf in no_fly:
        if _no_fly_shape(nf, frame).intersects(home_m):
            raise AreaFileError(f"{path}: feature {home.name!r}: home lies inside no-fly zone {nf.name!r}")
    patrol = [a for a in areas if a.role is AreaRole.PATROL]
    for area in patrol:
        shape_m = area_footprint_m(area, frame)
        x0, y0, x1, y1 = shape_m.bounds
        if max(x1 - x0, y1 - y0) > MAX_AREA_SPAN_M:
            raise AreaFileError(
                f"{path}: feature {area.name!r}: spans {max(x1 - x0, y1 - y0) / 1000:.1f} km, "
                f"a patrol area may span at most {MAX_AREA_SPAN_M / 1000:g} km (split it into areas)"
            )
        for nf in no_fly:
            if _no_fly_shape(nf, frame).covers(shape_m):
                raise AreaFileError(f"{path}: feature {area.name!r}: lies entirely inside no-fly zone {nf.name!r}")
    return AreaSet(
        home=home,
        patrol=tuple(patrol),
        no_fly=tuple(no_fly),
        heat_sources=tuple(a for a in areas if a.role is AreaRole.HEAT_SOURCE),
        rally=tuple(a for a in areas if a.role is AreaRole.RALLY),
        source=str(source),
        warnings=tuple(warnings),
    )


def load_areas(
    path: str | Path,
    *,
    ceiling_m: float | None = None,
    floor_m: float | None = None,
    make_valid: bool = False,
) -> AreaSet:
    """Read and validate an area file (GeoJSON FeatureCollection or KML).

    ``ceiling_m`` / ``floor_m`` bound the per-area ``altitude_m`` when given.
    Invalid polygons are errors (naming where they self-intersect) unless
    ``make_valid`` is set, then they are repaired and a warning is recorded.
    Raises :class:`AreaFileError` with a one-line message.
    """
    p = Path(path)
    return parse_areas(_read_features(p), p, ceiling_m=ceiling_m, floor_m=floor_m, make_valid=make_valid)
