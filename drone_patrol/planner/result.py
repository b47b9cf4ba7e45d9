"""What one planning run produces: the sorties, their figures, per-area coverage, the geometry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import Mission, PatternKind
from drone_patrol.mission.areas import AreaSet

__all__ = ["AreaPlan", "PlanResult", "SortieStats"]


@dataclass(frozen=True)
class AreaPlan:
    """How one patrol area is flown and how much of it the camera sees."""

    name: str
    pattern: PatternKind
    priority: int
    altitude_m: float
    speed_m_s: float
    coverage: float
    sweep_angle_deg: float | None = None
    line_spacing_m: float | None = None
    clipped_by: tuple[str, ...] = ()
    target_m: BaseGeometry = field(default_factory=Polygon, repr=False, compare=False)
    order: int = 0
    order_reason: str = ""


@dataclass(frozen=True)
class SortieStats:
    """Figures of one sortie: items uploaded after home, length, time and battery use."""

    waypoints: int
    nav_waypoints: int
    length_m: float
    duration_s: float
    battery_fraction: float


@dataclass(frozen=True)
class PlanResult:
    """Everything one planning run produces."""

    sorties: tuple[Mission, ...]
    stats: tuple[SortieStats, ...]
    areas: tuple[AreaPlan, ...]
    warnings: tuple[str, ...]
    routes_m: tuple[LineString, ...]
    frame: LocalFrame
    area_set: AreaSet
    nofly_m: BaseGeometry
    forbidden_m: BaseGeometry
    loop_count: int = 0
    endurance_note: str = ""

    def route_lonlat(self, index: int) -> list[tuple[float, float]]:
        """Sortie ``index``'s flown path as (lon, lat) pairs, home to home."""
        return [(float(a), float(b)) for a, b in self.frame.en_to_lonlat(list(self.routes_m[index].coords))]

    def summary(self, files: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON summary the CLI prints with ``--json``."""
        return {
            "sorties": [
                {
                    "sortie": i + 1,
                    "waypoints": s.waypoints,
                    "nav_waypoints": s.nav_waypoints,
                    "length_m": round(s.length_m, 1),
                    "duration_s": round(s.duration_s, 1),
                    "battery_fraction": round(s.battery_fraction, 3),
                }
                for i, s in enumerate(self.stats)
            ],
            "areas": [
                {
                    "name": a.name,
                    "pattern": a.pattern.value,
                    "coverage": round(a.coverage, 4),
                    "altitude_m": a.altitude_m,
                    "speed_m_s": a.speed_m_s,
                    "sweep_angle_deg": a.sweep_angle_deg,
                    "line_spacing_m": None if a.line_spacing_m is None else round(a.line_spacing_m, 2),
                    "clipped_by": list(a.clipped_by),
                    "order": a.order,
                    "order_reason": a.order_reason,
                }
                for a in self.areas
            ],
            "loop_count": self.loop_count,
            "endurance": self.endurance_note,
            "warnings": list(self.warnings),
            "files": files or {},
        }
