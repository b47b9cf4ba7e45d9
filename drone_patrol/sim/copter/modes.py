"""ArduCopter flight-mode numbers and names, and what each mode needs."""

from __future__ import annotations

import enum


class CopterMode(enum.IntEnum):
    """ArduCopter custom_mode numbers (HEARTBEAT.custom_mode)."""

    STABILIZE = 0
    ACRO = 1
    ALT_HOLD = 2
    AUTO = 3
    GUIDED = 4
    LOITER = 5
    RTL = 6
    CIRCLE = 7
    LAND = 9
    POSHOLD = 16
    BRAKE = 17
    SMART_RTL = 21


# Modes the simulator flies. ACRO is refused like an unknown number.
SUPPORTED_MODES = frozenset(CopterMode) - {CopterMode.ACRO}
# Modes the autopilot flies by itself (Mode::is_autopilot()); the rest are pilot-controlled,
# BRAKE included, which matters to FS_OPTIONS bit 4 (continue on a GCS failsafe).
AUTOPILOT_MODES = frozenset(
    {CopterMode.AUTO, CopterMode.GUIDED, CopterMode.RTL, CopterMode.CIRCLE, CopterMode.LAND, CopterMode.SMART_RTL}
)
# Modes that need a position estimate to be entered (Mode::requires_GPS()).
GPS_MODES = frozenset(
    {
        CopterMode.AUTO,
        CopterMode.GUIDED,
        CopterMode.LOITER,
        CopterMode.RTL,
        CopterMode.CIRCLE,
        CopterMode.POSHOLD,
        CopterMode.BRAKE,
        CopterMode.SMART_RTL,
    }
)
# Modes a pilot's throttle stick drives (with no RC the stick rests at 1000 us, low).
PILOT_THROTTLE_MODES = frozenset({CopterMode.STABILIZE, CopterMode.ALT_HOLD, CopterMode.LOITER, CopterMode.POSHOLD})
# Modes that run the horizontal position controller, so base_mode has MAV_MODE_FLAG_GUIDED_ENABLED.
GUIDED_FLAG_MODES = frozenset(
    {
        CopterMode.LAND,
        CopterMode.AUTO,
        CopterMode.RTL,
        CopterMode.LOITER,
        CopterMode.GUIDED,
        CopterMode.CIRCLE,
        CopterMode.POSHOLD,
        CopterMode.BRAKE,
        CopterMode.SMART_RTL,
    }
)
# Modes that cannot be armed in (Mode::allows_arming); AUTO only with AUTO_OPTIONS bit 0.
NOT_ARMABLE = frozenset({CopterMode.RTL, CopterMode.LAND, CopterMode.SMART_RTL, CopterMode.CIRCLE})
# Modes with a user takeoff (Mode::has_user_takeoff).
USER_TAKEOFF_MODES = frozenset({CopterMode.GUIDED, CopterMode.LOITER, CopterMode.ALT_HOLD, CopterMode.POSHOLD})

MODE_NAMES = {
    CopterMode.STABILIZE: "STABILIZE",
    CopterMode.ACRO: "ACRO",
    CopterMode.ALT_HOLD: "ALT_HOLD",
    CopterMode.AUTO: "AUTO",
    CopterMode.GUIDED: "GUIDED",
    CopterMode.LOITER: "LOITER",
    CopterMode.RTL: "RTL",
    CopterMode.CIRCLE: "CIRCLE",
    CopterMode.LAND: "LAND",
    CopterMode.POSHOLD: "POSHOLD",
    CopterMode.BRAKE: "BRAKE",
    CopterMode.SMART_RTL: "SMART_RTL",
}


def mode_name(number: int) -> str:
    """ArduCopter's name for a mode number, or 'MODE(n)'."""
    try:
        return MODE_NAMES[CopterMode(number)]
    except ValueError:
        return f"MODE({number})"
