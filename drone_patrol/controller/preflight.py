"""Preflight: set the vehicle's own failsafes, wait for GPS and EKF, check the battery.

The pure part (:func:`failsafe_parameters`, :func:`readiness_problems`) decides; the
:func:`run_preflight` part talks to the vehicle. Every refusal is a
:class:`PreflightError` naming the check and the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drone_patrol.controller.failsafe import FailsafeLimits, required_takeoff_percent
from drone_patrol.controller.params import ParameterError
from drone_patrol.controller.vehicle import Vehicle
from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.config.planner import EnduranceConfig
from drone_patrol.core.errors import DronePatrolError, PreflightError
from drone_patrol.core.geo import distance_m
from drone_patrol.core.profile import VehicleProfile
from drone_patrol.core.types import Mission, VehicleState

log = logging.getLogger(__name__)

#: how far (m) the vehicle's home may be from the home the mission was planned for
HOME_TOLERANCE_M = 50.0


def fence_type_for(mission: Mission | None, config: ControllerConfig) -> int:
    """FENCE_TYPE: the config's, else the altitude ceiling plus the uploaded zones (or the home circle)."""
    if config.failsafe.fence_type is not None:
        return config.failsafe.fence_type
    has_zones = mission is not None and not mission.fence.is_empty
    return 1 | (4 if has_zones else 2)


#: FS_OPTIONS bit 4: on a GCS failsafe, carry on in pilot-controlled modes (BRAKE, LOITER, ...)
FS_OPTION_GCS_CONTINUE_IF_PILOT_CONTROL = 1 << 4


def failsafe_parameters(config: ControllerConfig, mission: Mission | None = None) -> dict[str, float]:
    """ArduCopter parameters the config asks for, in the vehicle's units (RTL_ALT is centimetres).

    With a mission, the fence type follows its geofence: an arbitrary circle around home
    would otherwise cut a patrol short that the uploaded polygon allows.
    """
    fs = config.failsafe
    fence = (
        {"FENCE_TYPE": fence_type_for(mission, config), "FENCE_RADIUS": fs.fence_radius_m} if fs.fence_enable else {}
    )
    return {
        **fence,
        "FS_GCS_ENABLE": fs.fs_gcs_enable,
        "FS_GCS_TIMEOUT": fs.fs_gcs_timeout_s,
        "BATT_FS_LOW_ACT": fs.batt_fs_low_act,
        "FENCE_ENABLE": fs.fence_enable,
        "FENCE_ACTION": fs.fence_action,
        "FENCE_ALT_MAX": fs.fence_alt_max_m,
        "RTL_ALT": round(fs.rtl_alt_m * 100.0),
    }


def limits_from_config(
    config: ControllerConfig, profile: VehicleProfile | None = None, capacity_mah: float | None = None
) -> FailsafeLimits:
    """The failsafe rule thresholds a config gives; the endurance from the vehicle's
    learned ``profile`` (for a ``capacity_mah`` pack) when there is one."""
    flight_time_s, hover_factor = config.flight_time_s, 1.0
    if profile is not None:
        base = EnduranceConfig(flight_time_s=config.flight_time_s)
        endurance = profile.endurance(base, capacity_mah)
        flight_time_s, hover_factor = endurance.flight_time_s, endurance.hover_power_factor
    return FailsafeLimits(
        flight_time_s=flight_time_s,
        hover_power_factor=hover_factor,
        reserve_fraction=config.battery_reserve_fraction,
        critical_percent=config.battery_critical_percent,
        climb_rate_m_s=config.climb_rate_m_s,
        descent_rate_m_s=config.descent_rate_m_s,
        min_gps_fix=config.min_gps_fix,
        fence_alt_max_m=config.failsafe.fence_alt_max_m if config.failsafe.fence_enable else None,
    )


def gps_problem(state: VehicleState, config: ControllerConfig) -> str | None:
    """Why GPS and EKF are not yet good enough to fly, or None."""
    if state.gps_fix_type < config.min_gps_fix:
        return f"GPS fix type {state.gps_fix_type}, need {config.min_gps_fix} (3D)"
    if state.satellites_visible < config.min_satellites:
        return f"{state.satellites_visible} GPS satellites, need {config.min_satellites}"
    if not state.ekf_ok:
        return "EKF not healthy (no absolute position estimate yet)"
    return None


def readiness_problems(
    state: VehicleState, mission: Mission, config: ControllerConfig, limits: FailsafeLimits | None = None
) -> list[str]:
    """Every reason not to take off now, one string each (empty when ready); the battery is
    judged by ``limits`` (the vehicle's profile) when given, else by the config."""
    problems = []
    gps = gps_problem(state, config)
    if gps:
        problems.append(f"gps: {gps}")
    if state.armed:
        problems.append("armed: the vehicle is already armed")
    if not state.landed:
        problems.append("landed: the vehicle is not on the ground")
    limits = limits or limits_from_config(config)
    needed = required_takeoff_percent(mission, limits)
    if state.battery_percent is None:
        problems.append("battery: the vehicle reports no battery level")
    elif state.battery_percent < needed:
        problems.append(
            f"battery: {state.battery_percent:.0f}% is below the {needed:.0f}% this mission needs "
            f"with the {100 * limits.reserve_fraction:.0f}% reserve"
        )
    if needed > 100.0:
        problems.append(f"battery: the mission needs {needed:.0f}% of a full battery with its reserve")
    if state.home is not None:
        offset = distance_m(state.home, mission.home)
        if offset > HOME_TOLERANCE_M:
            problems.append(
                f"home: the vehicle's home is {offset:.0f} m from the mission's planned home "
                f"({mission.home.latitude_deg:.6f}, {mission.home.longitude_deg:.6f})"
            )
    return problems


@dataclass(frozen=True, slots=True)
class PreflightReport:
    """What preflight changed and found."""

    parameters_changed: tuple[str, ...]
    battery_percent: float | None
    required_percent: float
    satellites: int


def set_failsafes(vehicle: Vehicle, config: ControllerConfig, mission: Mission | None = None) -> tuple[str, ...]:
    """Set (and read back) the failsafe parameters; the names that had to change."""
    changed = []
    for name, value in failsafe_parameters(config, mission).items():
        try:
            if vehicle.params.ensure(name, value):
                changed.append(name)
        except ParameterError as exc:
            raise PreflightError(f"preflight failsafe {name}: {exc}") from None
        except DronePatrolError as exc:
            raise PreflightError(f"preflight failsafe {name}: cannot set it ({exc})") from None
    if config.failsafe.gcs_failsafe_in_pilot_modes and config.failsafe.fs_gcs_enable:
        try:
            options = int(vehicle.params.get("FS_OPTIONS"))
            if options & FS_OPTION_GCS_CONTINUE_IF_PILOT_CONTROL and vehicle.params.ensure(
                "FS_OPTIONS", options & ~FS_OPTION_GCS_CONTINUE_IF_PILOT_CONTROL
            ):
                changed.append("FS_OPTIONS")
        except DronePatrolError as exc:
            raise PreflightError(f"preflight failsafe FS_OPTIONS: cannot clear bit 4 ({exc})") from None
    return tuple(changed)


def run_preflight(
    vehicle: Vehicle, mission: Mission, config: ControllerConfig, limits: FailsafeLimits | None = None
) -> PreflightReport:
    """Set failsafes, wait (up to ``config.gps_wait_s`` vehicle seconds) for GPS, EKF and home, check the rest
    (the battery against ``limits``, the vehicle's profile, when given)."""
    changed = set_failsafes(vehicle, config, mission)
    wait_s = vehicle.wall(config.gps_wait_s)
    state = vehicle.wait_for(lambda s: gps_problem(s, config) is None and s.home is not None, wait_s)
    if state is None:
        now = vehicle.state
        why = gps_problem(now, config) or "the vehicle has not reported its home position"
        raise PreflightError(f"preflight gps: {why} after {config.gps_wait_s:.0f} s")
    limits = limits or limits_from_config(config)
    problems = readiness_problems(state, mission, config, limits)
    if problems:
        raise PreflightError("preflight " + "; ".join(problems))
    return PreflightReport(
        changed, state.battery_percent, required_takeoff_percent(mission, limits), state.satellites_visible
    )
