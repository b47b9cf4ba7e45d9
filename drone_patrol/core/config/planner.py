"""``planner``: defaults for patrol routes (overridable per area and on the command line)."""

from __future__ import annotations

from pydantic import Field

from drone_patrol.core.config._base import Section


class EnduranceConfig(Section):
    """A simple endurance model: usable flight time with a reserve, and the phases' rates."""

    flight_time_s: float = Field(default=1500.0, gt=0)
    reserve_fraction: float = Field(default=0.25, ge=0, lt=1)
    climb_rate_m_s: float = Field(default=2.5, gt=0)
    descent_rate_m_s: float = Field(default=1.5, gt=0)
    turn_time_s: float = Field(default=2.0, ge=0)
    hover_power_factor: float = Field(default=1.0, gt=0)


class PlannerConfig(Section):
    """Route defaults: altitude, speed, overlap, no-fly margin, altitude limits, loops."""

    altitude_m: float = Field(default=40.0, gt=0)
    speed_m_s: float = Field(default=5.0, gt=0, le=30)
    side_overlap: float = Field(default=0.2, ge=0, lt=1)
    nofly_margin_m: float = Field(default=10.0, ge=0)
    ceiling_m: float = Field(default=120.0, gt=0)
    floor_m: float = Field(default=15.0, ge=0)
    loop_count: int = Field(default=0, ge=0)
    orbit_loops: float = Field(default=1.0, gt=0)
    perimeter_clockwise: bool = True
    rally_points: tuple[tuple[float, float], ...] = ()
    endurance: EnduranceConfig = EnduranceConfig()
