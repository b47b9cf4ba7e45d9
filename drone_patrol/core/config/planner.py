"""``planner``: defaults for patrol routes (overridable per area and on the command line)."""

from __future__ import annotations

from pydantic import Field

from drone_patrol.core.config._base import Section


class EnduranceConfig(Section):
    """A simple endurance model: usable flight time with a reserve, and the phases' rates.

    ``flight_time_s`` is the flight time of a full battery in cruise; climbing,
    descending and turning burn ``hover_power_factor`` times as much per second.
    A sortie may use ``flight_time_s * (1 - reserve_fraction)``. The legs are timed as
    ArduCopter flies them (``core/wpnav.py``) with ``accel_m_s2`` (WPNAV_ACCEL),
    ``jerk_m_s3`` (WPNAV_JERK) and ``waypoint_radius_m`` (WPNAV_RADIUS); ``turn_time_s``
    is extra time per 180-degree turn on top of that (smaller turns pro rata), and
    ``rtl_loiter_s`` RTL's hold over home before it lands (RTL_LOIT_TIME).
    """

    flight_time_s: float = Field(default=1500.0, gt=0)
    reserve_fraction: float = Field(default=0.25, ge=0, lt=1)
    climb_rate_m_s: float = Field(default=2.5, gt=0)
    descent_rate_m_s: float = Field(default=1.5, gt=0)
    turn_time_s: float = Field(default=0.0, ge=0)
    hover_power_factor: float = Field(default=1.0, gt=0)
    # how ArduCopter flies the legs (core/wpnav.py), its parameters' defaults
    accel_m_s2: float = Field(default=2.5, gt=0)  # WPNAV_ACCEL
    jerk_m_s3: float = Field(default=1.0, gt=0)  # WPNAV_JERK
    waypoint_radius_m: float = Field(default=2.0, gt=0)  # WPNAV_RADIUS
    rtl_loiter_s: float = Field(default=5.0, ge=0)  # RTL_LOIT_TIME


class PlannerConfig(Section):
    """Route defaults: altitude, speed, overlap, no-fly margin, altitude limits, loops.

    ``loop_count`` repeats the patrol that many more times with DO_JUMP (-1: until
    the battery failsafe or the operator ends it). ``rally_points`` are (lat, lon)
    pairs added to home and the area file's rally features. ``fence_margin_m`` is how
    far the inclusion fence lies outside the route and the areas.
    ``min_waypoint_spacing_m``: along no-fly margins no waypoint lies closer than this to
    the next where the areas lose (almost) nothing from sight by it: transits round the
    zones have legs at least this long, short legs of the pattern there are merged away
    (0: as many waypoints as the margin needs).
    ``on_the_way_delay_s``: a lower-priority area that lies on the way is flown on the
    way when that shortens the route and reaches no higher-priority area more than
    this much later than strict priority order would (0: strict priority order).
    """

    altitude_m: float = Field(default=40.0, gt=0)
    speed_m_s: float = Field(default=5.0, gt=0, le=30)
    side_overlap: float = Field(default=0.2, ge=0, lt=1)
    nofly_margin_m: float = Field(default=10.0, ge=0)
    ceiling_m: float = Field(default=120.0, gt=0)
    floor_m: float = Field(default=15.0, ge=0)
    loop_count: int = Field(default=0, ge=-1)
    orbit_loops: float = Field(default=1.0, gt=0)
    perimeter_clockwise: bool = True
    rally_points: tuple[tuple[float, float], ...] = ()
    fence_margin_m: float = Field(default=30.0, gt=0)
    sweep_angle_step_deg: float = Field(default=5.0, gt=0, le=90)
    min_waypoint_spacing_m: float = Field(default=20.0, ge=0)
    on_the_way_delay_s: float = Field(default=60.0, ge=0)
    orbit_points_per_loop: int = Field(default=16, ge=6, le=72)
    endurance: EnduranceConfig = EnduranceConfig()
