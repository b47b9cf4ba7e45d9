"""Flying to a point and watching it, as ArduCopter supports it: GUIDED go-to, ROI, GUIDED orbit.

ArduCopter has no MAV_CMD_DO_ORBIT (its GCS_MAVLINK_Copter::handle_command_int_packet
does not handle it; only Plane does). What it has, and what this module uses:

- ``MAV_CMD_DO_REPOSITION`` as COMMAND_INT (param2 bit 0: switch to GUIDED) sets a
  GUIDED position target; a new target resets the yaw to its default
  (``WP_YAW_BEHAVIOR``), so the ROI is set after it.
- ``MAV_CMD_DO_SET_ROI_LOCATION`` points the nose (and a mount, if any) at a location.
- ``SET_POSITION_TARGET_GLOBAL_INT`` with position, velocity, yaw and yaw rate (the
  acceleration ignored: ArduCopter's posvel path does not use it) puts GUIDED in its
  PosVelAccel sub-mode (GCS_MAVLINK_Copter::handle_message_set_position_target_global_int
  -> ModeGuided::set_destination_posvel): the target moves on with the velocity until the
  next one, and after ``GUID_TIMEOUT`` (3 s) without one the velocity is zeroed and the
  vehicle stops at the target. The yaw and rate set AutoYaw's ANGLE_RATE mode (the ROI's
  yaw is dropped; a mount keeps its ROI). A streamed sequence of these flies the orbit.
- Why not CIRCLE mode: it takes its climb rate from the pilot's throttle stick, which on a
  vehicle without a pilot rests low and makes it sink to the ground (see
  ``drone_patrol.planner.orbit``); GUIDED holds the altitude it is given.
- Back to the patrol (the executor's part): DO_SET_MISSION_CURRENT (MISSION_SET_CURRENT
  where unsupported) and AUTO, which flies on from that item.

Failures are :class:`~drone_patrol.core.errors.CommandRejectedError` (MAV_RESULT) or
:class:`~drone_patrol.core.errors.OperationTimeoutError`, as for every action.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drone_patrol.controller.link import mavlink
from drone_patrol.controller.vehicle import Vehicle
from drone_patrol.core.errors import OperationTimeoutError
from drone_patrol.core.types import MavCmd, VehicleState

DO_REPOSITION = 192
_CHANGE_MODE = 1  # MAV_DO_REPOSITION_FLAGS_CHANGE_MODE
_RELATIVE_ALT = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
_RELATIVE_ALT_INT = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
# SET_POSITION_TARGET type_mask: use position, velocity, yaw and yaw rate; ignore acceleration (bits 6-8)
_POSVEL_YAW_MASK = (
    mavlink.POSITION_TARGET_TYPEMASK_AX_IGNORE
    | mavlink.POSITION_TARGET_TYPEMASK_AY_IGNORE
    | mavlink.POSITION_TARGET_TYPEMASK_AZ_IGNORE
)


@dataclass(frozen=True, slots=True)
class OrbitSettings:
    """The vehicle's circle settings as a CIRCLE user sets them, and the limits AC_Circle applies."""

    radius_m: float  # CIRCLE_RADIUS (cm)
    rate_deg_s: float  # CIRCLE_RATE, positive clockwise
    max_speed_m_s: float  # WPNAV_SPEED (cm/s)
    accel_m_s2: float  # WPNAV_ACCEL (cm/s/s)


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def heading_error_deg(a: float, b: float) -> float:
    """Smallest absolute difference of two headings in degrees."""
    d = abs(a - b) % 360.0
    return 360.0 - d if d > 180.0 else d


def facing(state: VehicleState, latitude_deg: float, longitude_deg: float, tolerance_deg: float) -> bool:
    """True when the vehicle stands still (under 0.3 m/s) with its nose on the point within ``tolerance_deg``."""
    if state.position is None:
        return False
    want = bearing_deg(state.position.latitude_deg, state.position.longitude_deg, latitude_deg, longitude_deg)
    return heading_error_deg(state.heading_deg, want) <= tolerance_deg and state.ground_speed_m_s < 0.3


class GuidedControl:
    """GUIDED go-to, ROI and orbit targets for one :class:`Vehicle`."""

    def __init__(self, vehicle: Vehicle) -> None:
        self.vehicle = vehicle

    @property
    def state(self) -> VehicleState:
        """The latest vehicle state."""
        return self.vehicle.state

    def go_to(self, latitude_deg: float, longitude_deg: float, relative_altitude_m: float) -> None:
        """DO_REPOSITION: switch to GUIDED if needed and fly to the point at ``relative_altitude_m`` above home."""
        self.vehicle.commander.command_int(
            DO_REPOSITION, _RELATIVE_ALT, (-1.0, _CHANGE_MODE, 0.0, math.nan), latitude_deg, longitude_deg,
            relative_altitude_m,
        )  # fmt: skip
        wall = self.vehicle.commander.timing.effect_timeout_s
        if self.vehicle.wait_for(lambda s: s.mode == "GUIDED", wall) is None:
            raise OperationTimeoutError("reposition", wall, f"the vehicle stayed in {self.state.mode}")

    def point_at(self, latitude_deg: float, longitude_deg: float) -> None:
        """DO_SET_ROI_LOCATION on the ground point: the nose (and the camera mount) turns to it."""
        self.vehicle.commander.command_int(MavCmd.DO_SET_ROI_LOCATION, _RELATIVE_ALT, (), latitude_deg,
                                           longitude_deg, 0.0)  # fmt: skip

    def circle_radius_m(self) -> float:
        """The vehicle's CIRCLE_RADIUS in metres (the parameter is in centimetres)."""
        return self.vehicle.params.get("CIRCLE_RADIUS") / 100.0

    def orbit_settings(self) -> OrbitSettings:
        """CIRCLE_RADIUS, CIRCLE_RATE, WPNAV_SPEED and WPNAV_ACCEL in SI units."""
        get = self.vehicle.params.get
        return OrbitSettings(
            radius_m=get("CIRCLE_RADIUS") / 100.0,
            rate_deg_s=get("CIRCLE_RATE"),
            max_speed_m_s=get("WPNAV_SPEED") / 100.0,
            accel_m_s2=get("WPNAV_ACCEL") / 100.0,
        )

    def track(
        self,
        latitude_deg: float,
        longitude_deg: float,
        relative_altitude_m: float,
        velocity_north_m_s: float,
        velocity_east_m_s: float,
        yaw_deg: float,
        yaw_rate_deg_s: float,
    ) -> None:
        """One GUIDED position + velocity target with a heading (SET_POSITION_TARGET_GLOBAL_INT).

        Not acknowledged (ArduCopter answers nothing; outside GUIDED it ignores it): the
        caller sends the next one well within GUID_TIMEOUT and watches the vehicle.
        """
        link = self.vehicle.link
        link.send(
            mavlink.MAVLink_set_position_target_global_int_message(
                0, link.target_system, link.target_component, _RELATIVE_ALT_INT, _POSVEL_YAW_MASK,
                round(latitude_deg * 1e7), round(longitude_deg * 1e7), float(relative_altitude_m),
                float(velocity_north_m_s), float(velocity_east_m_s), 0.0, 0.0, 0.0, 0.0,
                math.radians(yaw_deg), math.radians(yaw_rate_deg_s),
            )
        )  # fmt: skip
