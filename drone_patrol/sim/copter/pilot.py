"""The pilot's throttle stick as ArduCopter reads it: the climb rate of the altitude-holding modes.

ALT_HOLD, LOITER, POSHOLD and CIRCLE take their climb rate from the throttle channel
(Copter::get_pilot_desired_climb_rate): RC3's pulse becomes a 0-1000 control value
(RC_Channel::pwm_to_range: 0 up to ``RC3_MIN`` + the channel's dead zone ``RC3_DZ``, which
Copter defaults to 30), the middle of the stick is the middle of ``RC3_MIN``-``RC3_MAX``,
``THR_DZ`` either side of it holds the altitude, below it the vehicle descends at up to
``PILOT_SPEED_DN`` (0: ``PILOT_SPEED_UP``), above it climbs at up to ``PILOT_SPEED_UP``.

With no transmitter the stick rests at minimum (about 1000 us in SITL), which is full
descent: a copter left in one of these modes by a ground station sinks to the ground.
GUIDED, AUTO, RTL, LAND and BRAKE do not read the stick.
"""

from __future__ import annotations

from drone_patrol.sim.copter.params import ParamStore


def throttle_control_in(params: ParamStore, pwm: int) -> float:
    """RC_Channel::pwm_to_range for the throttle: 0-1000 from the pulse width in microseconds."""
    low, high = int(params.get("RC3_MIN")), int(params.get("RC3_MAX"))
    trim_low = low + int(params.get("RC3_DZ"))
    r_in = max(low, min(high, int(pwm)))
    if r_in > trim_low and high > trim_low:
        return 1000.0 * (r_in - trim_low) / (high - trim_low)
    return 0.0


def throttle_mid(params: ParamStore) -> int:
    """RC_Channel::get_control_mid: the centre of the stick's travel as a control value (integer maths)."""
    low, high = int(params.get("RC3_MIN")), int(params.get("RC3_MAX"))
    trim_low = low + int(params.get("RC3_DZ"))
    if high <= trim_low:
        return 500
    return (1000 * ((low + high) // 2 - trim_low)) // (high - trim_low)


def pilot_speed_dn_m_s(params: ParamStore) -> float:
    """Copter::get_pilot_speed_dn: PILOT_SPEED_DN, or PILOT_SPEED_UP where it is 0 (m/s)."""
    dn = params.get("PILOT_SPEED_DN")
    return abs(dn if dn != 0 else params.get("PILOT_SPEED_UP")) / 100.0


def pilot_climb_rate_m_s(params: ParamStore, pwm: int) -> float:
    """Copter::get_pilot_desired_climb_rate for the throttle pulse ``pwm`` (m/s, positive up)."""
    control = max(0.0, min(1000.0, throttle_control_in(params, pwm)))
    deadzone = max(0, min(400, int(params.get("THR_DZ"))))
    mid = throttle_mid(params)
    top, bottom = mid + deadzone, mid - deadzone
    if control < bottom and bottom > 0:
        return pilot_speed_dn_m_s(params) * (control - bottom) / bottom
    if control > top:
        return params.get("PILOT_SPEED_UP") / 100.0 * (control - top) / (1000.0 - top)
    return 0.0


def follow_stick(target_up_m: float, body_up_m: float, rate_m_s: float, dt: float) -> float:
    """The altitude target moved on at the stick's climb rate (set_pos_target_U_from_climb_rate).

    It stays within a few metres of the vehicle (the position controller's limit) and may go
    just below the ground, so that a descent ends in a touchdown the land detector sees.
    """
    if rate_m_s == 0.0:
        return target_up_m
    moved = target_up_m + rate_m_s * dt
    return max(-1.0, min(body_up_m + 5.0, max(body_up_m - 5.0, moved)))
