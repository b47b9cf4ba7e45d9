"""GUIDED's targets from SET_POSITION_TARGET_GLOBAL_INT, as ArduCopter handles them.

GCS_MAVLINK_Copter::handle_message_set_position_target_global_int (ignored outside
GUIDED) reads ``type_mask`` by groups: any bit of a group set ignores the whole group
(position bits 0-2, velocity 3-5, acceleration 6-8, force 9, yaw 10, yaw rate 11), then:

- position + velocity (acceleration not used): ModeGuided::set_destination_posvel, the
  PosVelAccel sub-mode: the target moves on with the velocity (AC_PosControl advances
  it every step) and the vehicle tracks it with the velocity as feed-forward;
- position only: ModeGuided::set_destination, fly there and stop;
- velocity only: ModeGuided::set_velaccel, fly at that velocity;
- force set with the acceleration used, a bad position, an unknown frame, a terrain
  frame with a velocity, an insane velocity, or any other combination: ModeGuided::init,
  the vehicle stops where it is. Acceleration-only targets are taken as that stop too
  (the simulator does not fly acceleration control).

After ``GUID_TIMEOUT`` (3 s) without a new target the velocity (and so the target's
motion) is zeroed and a yaw rate stops (AutoYaw HOLD). A yaw, with or without a rate,
sets AutoYaw's ANGLE_RATE mode (the heading turns on at the rate from the given angle);
a rate alone turns at that rate; neither puts the yaw back to its default
(``WP_YAW_BEHAVIOR``), dropping an ROI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drone_patrol.sim.copter.modes import CopterMode

if TYPE_CHECKING:
    from drone_patrol.sim.copter.autopilot import Autopilot

POS_IGNORE = 0b111
VEL_IGNORE = 0b111 << 3
ACC_IGNORE = 0b111 << 6
FORCE_SET = 1 << 9
YAW_IGNORE = 1 << 10
YAW_RATE_IGNORE = 1 << 11
_FRAMES = frozenset({0, 3, 5, 6})  # GLOBAL, GLOBAL_RELATIVE_ALT and their _INT forms
_TERRAIN_FRAMES = frozenset({10, 11})  # GLOBAL_TERRAIN_ALT(_INT): flat ground here, so above home
_MAX_SANE_M_S = 1000.0  # sane_vel_or_acc_vector


@dataclass
class GuidedMotion:
    """What moves GUIDED's target between messages: its velocity and the commanded heading."""

    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # north, east, up m/s
    updated_s: float = 0.0
    yaw_deg: float | None = None
    yaw_rate_deg_s: float | None = None

    def timed_out(self, ap: Autopilot) -> bool:
        """No target for GUID_TIMEOUT seconds (ModeGuided::get_timeout_ms, at least 0.1 s)."""
        return ap.time_s - self.updated_s > max(ap.params.get("GUID_TIMEOUT"), 0.1)


def stop(ap: Autopilot) -> None:
    """ModeGuided::init: brake and hold where the vehicle is."""
    b = ap.body
    ap.guided_target = (b.north_m, b.east_m, b.up_m)
    ap.guided_motion = None


def set_position_target(ap: Autopilot, msg: Any, local: Any) -> None:
    """Handle one SET_POSITION_TARGET_GLOBAL_INT; ``local(lat, lon, alt, frame)`` gives north, east, up."""
    if ap.mode != CopterMode.GUIDED or not ap.armed or ap.landed:
        return
    mask = int(msg.type_mask)
    pos_used, vel_used = not mask & POS_IGNORE, not mask & VEL_IGNORE
    acc_used = not mask & ACC_IGNORE
    if mask & FORCE_SET and acc_used:
        stop(ap)
        return
    frame = int(msg.coordinate_frame)
    target: tuple[float, float, float] | None = None
    if pos_used:
        lat, lon = msg.lat_int / 1e7, msg.lon_int / 1e7
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or frame not in _FRAMES | _TERRAIN_FRAMES:
            stop(ap)
            return
        target = local(lat, lon, msg.alt, frame)
    velocity = (float(msg.vx), float(msg.vy), -float(msg.vz))  # NED in the message, north/east/up here
    if vel_used and not all(math.isfinite(v) and abs(v) < _MAX_SANE_M_S for v in velocity):
        stop(ap)
        return
    if pos_used and vel_used and frame in _TERRAIN_FRAMES:
        stop(ap)  # the posvel controller has no altitude above terrain
        return
    b = ap.body
    if pos_used and vel_used:
        assert target is not None
        ap.guided_target = target
    elif vel_used:
        ap.guided_target = (b.north_m, b.east_m, b.up_m)
    elif pos_used and not acc_used:
        assert target is not None
        ap.guided_goto(target[0], target[1], target[2])
    else:
        stop(ap)
        return
    motion = GuidedMotion(velocity if vel_used else (0.0, 0.0, 0.0), ap.time_s)
    if not mask & YAW_IGNORE:
        motion.yaw_deg = math.degrees(float(msg.yaw)) % 360.0
    if not mask & YAW_RATE_IGNORE:
        motion.yaw_rate_deg_s = math.degrees(float(msg.yaw_rate))
    if motion.yaw_deg is None and motion.yaw_rate_deg_s is not None:
        motion.yaw_deg = b.yaw_deg  # RATE: turn on from the current heading
    # a commanded heading replaces an ROI or CONDITION_YAW; none puts the yaw back to WP_YAW_BEHAVIOR
    ap.roi = None
    ap.fixed_yaw_deg = None
    ap.guided_motion = motion if (vel_used or motion.yaw_deg is not None) else None


def update(ap: Autopilot, dt: float) -> None:
    """One GUIDED step with a moving target or a commanded heading (ModeGuided::posvelaccel_control_run)."""
    motion = ap.guided_motion
    b = ap.body
    target = ap.guided_target or ap.hold_target or (b.north_m, b.east_m, b.up_m)
    if motion is None:
        ap.fly_to(dt, target, stop=True)
        return
    if motion.timed_out(ap):
        motion.velocity = (0.0, 0.0, 0.0)
        if motion.yaw_rate_deg_s is not None:
            motion.yaw_deg, motion.yaw_rate_deg_s = b.yaw_deg, None  # AutoYaw HOLD
    vn, ve, vu = motion.velocity
    target = (target[0] + vn * dt, target[1] + ve * dt, target[2] + vu * dt)
    ap.guided_target = target
    if motion.yaw_deg is not None and motion.yaw_rate_deg_s:
        motion.yaw_deg = (motion.yaw_deg + motion.yaw_rate_deg_s * dt) % 360.0
    moving = vn != 0.0 or ve != 0.0
    ap.fly_to(dt, target, stop=not moving, feed_forward=(vn, ve) if moving else None, yaw_deg=motion.yaw_deg)
