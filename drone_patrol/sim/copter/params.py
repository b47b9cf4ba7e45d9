"""The simulated vehicle's parameters: ArduCopter names, defaults, units and MAVLink types.

Values are held as ArduPilot holds them (``RTL_ALT`` in centimetres, ``WPNAV_SPEED``
in cm/s, ...). Integer parameters are sent in PARAM_VALUE as a float with their
integer ``param_type``, as ArduPilot does (not byte-wise).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

INT8 = mavlink2.MAV_PARAM_TYPE_INT8
INT16 = mavlink2.MAV_PARAM_TYPE_INT16
INT32 = mavlink2.MAV_PARAM_TYPE_INT32
REAL32 = mavlink2.MAV_PARAM_TYPE_REAL32


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter: its default, MAVLink type and documented range (None: unbounded).

    As in ArduPilot the range is documentation: PARAM_SET stores any value.
    """

    default: float
    param_type: int = REAL32
    low: float | None = None
    high: float | None = None
    read_only: bool = False


# Defaults are ArduCopter 4.x's; the ranges are those of its parameter documentation.
PARAM_SPECS: dict[str, ParamSpec] = {
    "SYSID_THISMAV": ParamSpec(1, INT16, 1, 255),
    "SYSID_MYGCS": ParamSpec(255, INT16, 1, 255),
    "FRAME_CLASS": ParamSpec(1, INT8, 0, 15),
    "FRAME_TYPE": ParamSpec(1, INT8, 0, 19),
    "ARMING_CHECK": ParamSpec(1, INT32),
    "DISARM_DELAY": ParamSpec(10, INT8, 0, 127),
    "AUTO_OPTIONS": ParamSpec(0, INT32),
    "MIS_RESTART": ParamSpec(0, INT8, 0, 1),
    "MIS_TOTAL": ParamSpec(0, INT16, read_only=True),
    "MIS_OPTIONS": ParamSpec(0, INT16),
    "FS_GCS_ENABLE": ParamSpec(0, INT8, 0, 7),
    "FS_GCS_TIMEOUT": ParamSpec(5, REAL32, 2, 120),
    "FS_OPTIONS": ParamSpec(16, INT32),  # ArduCopter's default: continue in pilot-controlled modes on GCS failsafe
    "FS_THR_ENABLE": ParamSpec(0, INT8, 0, 7),
    "FS_EKF_ACTION": ParamSpec(1, INT8, 0, 3),
    "BATT_MONITOR": ParamSpec(4, INT8),
    "BATT_CAPACITY": ParamSpec(3300, INT32, 0, None),
    "BATT_LOW_VOLT": ParamSpec(10.5, REAL32, 0, None),
    "BATT_CRT_VOLT": ParamSpec(0, REAL32, 0, None),
    "BATT_LOW_MAH": ParamSpec(0, REAL32, 0, None),
    "BATT_CRT_MAH": ParamSpec(0, REAL32, 0, None),
    "BATT_LOW_TIMER": ParamSpec(10, INT8, 0, 120),
    "BATT_FS_LOW_ACT": ParamSpec(0, INT8, 0, 7),
    "BATT_FS_CRT_ACT": ParamSpec(0, INT8, 0, 7),
    "BATT_ARM_VOLT": ParamSpec(0, REAL32, 0, None),
    "FENCE_ENABLE": ParamSpec(0, INT8, 0, 1),
    "FENCE_TYPE": ParamSpec(7, INT8, 0, 15),
    "FENCE_ACTION": ParamSpec(1, INT8, 0, 5),
    "FENCE_ALT_MAX": ParamSpec(100, REAL32, 10, 1000),
    "FENCE_ALT_MIN": ParamSpec(-10, REAL32, -100, 100),
    "FENCE_RADIUS": ParamSpec(300, REAL32, 30, 10000),
    "FENCE_MARGIN": ParamSpec(2, REAL32, 1, 10),
    "FENCE_TOTAL": ParamSpec(0, INT8, read_only=True),
    "RALLY_TOTAL": ParamSpec(0, INT8, read_only=True),
    "RALLY_LIMIT_KM": ParamSpec(0.3, REAL32, 0, None),
    "RALLY_INCL_HOME": ParamSpec(1, INT8, 0, 1),
    "RTL_ALT": ParamSpec(1500, INT32, 30, 300000),
    "RTL_ALT_FINAL": ParamSpec(0, INT32, 0, 1000),
    "RTL_CLIMB_MIN": ParamSpec(0, INT32, 0, 3000),
    "RTL_LOIT_TIME": ParamSpec(5000, INT32, 0, 60000),
    "RTL_SPEED": ParamSpec(0, INT16, 0, 2000),
    "WPNAV_SPEED": ParamSpec(1000, REAL32, 10, 2000),
    "WPNAV_SPEED_UP": ParamSpec(250, REAL32, 10, 1000),
    "WPNAV_SPEED_DN": ParamSpec(150, REAL32, 10, 500),
    "WPNAV_ACCEL": ParamSpec(250, REAL32, 50, 500),
    "WPNAV_ACCEL_Z": ParamSpec(100, REAL32, 50, 500),
    "WPNAV_RADIUS": ParamSpec(200, REAL32, 5, 1000),
    "WPNAV_JERK": ParamSpec(1, REAL32, 1, 20),
    "WP_YAW_BEHAVIOR": ParamSpec(2, INT8, 0, 3),
    "LOIT_SPEED": ParamSpec(1250, REAL32, 20, 3500),
    "LAND_SPEED": ParamSpec(50, INT16, 30, 200),
    "LAND_SPEED_HIGH": ParamSpec(0, INT16, 0, 500),
    "LAND_ALT_LOW": ParamSpec(1000, INT16, 100, 10000),
    "PILOT_SPEED_UP": ParamSpec(250, INT16, 50, 500),
    "PILOT_SPEED_DN": ParamSpec(0, INT16, 0, 500),
    "PILOT_ACCEL_Z": ParamSpec(250, INT16, 50, 500),
    "THR_DZ": ParamSpec(100, INT16, 0, 300),
    # the throttle channel as ArduCopter configures it (RC_Channel defaults; Copter's throttle dead zone 30)
    "RC3_MIN": ParamSpec(1100, INT16, 800, 2200),
    "RC3_MAX": ParamSpec(1900, INT16, 800, 2200),
    "RC3_TRIM": ParamSpec(1500, INT16, 800, 2200),
    "RC3_DZ": ParamSpec(30, INT16, 0, 200),
    "GUID_TIMEOUT": ParamSpec(3.0, REAL32, 0.1, 5),
    "ATC_SLEW_YAW": ParamSpec(6000, REAL32, 500, 18000),
    "ANGLE_MAX": ParamSpec(3000, INT16, 1000, 8000),
    "CIRCLE_RADIUS": ParamSpec(1000, REAL32, 0, 200000),
    "CIRCLE_RATE": ParamSpec(20, REAL32, -90, 90),
    "CIRCLE_OPTIONS": ParamSpec(1, INT16, 0, 15),
    "SIM_SPEEDUP": ParamSpec(1, REAL32, 0.1, 100, read_only=True),
    "SIM_WIND_SPD": ParamSpec(0, REAL32, 0, 40),
    "SIM_WIND_DIR": ParamSpec(180, REAL32, 0, 360),
    "SIM_BATT_VOLTAGE": ParamSpec(12.6, REAL32, 0, 50),
    "SIM_BATT_CAP_AH": ParamSpec(0, REAL32, 0, 1000),
    "SIM_GPS_DISABLE": ParamSpec(0, INT8, 0, 1),
    "SIM_GPS_NUMSATS": ParamSpec(10, INT8, 0, 30),
    "SERIAL0_PROTOCOL": ParamSpec(2, INT8, read_only=True),
    # Copter's default stream rates are all 0: a ground station asks for what it wants.
    "SR0_RAW_SENS": ParamSpec(0, INT16, 0, 50),
    "SR0_RC_CHAN": ParamSpec(0, INT16, 0, 50),
    "SR0_EXT_STAT": ParamSpec(0, INT16, 0, 50),
    "SR0_EXTRA1": ParamSpec(0, INT16, 0, 50),
    "SR0_EXTRA2": ParamSpec(0, INT16, 0, 50),
    "SR0_EXTRA3": ParamSpec(0, INT16, 0, 50),
    "SR0_POSITION": ParamSpec(0, INT16, 0, 50),
}


class ParamStore:
    """The vehicle's parameter table, in ArduPilot's (alphabetical) order."""

    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        self._names = sorted(PARAM_SPECS)
        self._values = {name: float(spec.default) for name, spec in PARAM_SPECS.items()}
        for name, value in (overrides or {}).items():
            key = name.upper()
            if key not in PARAM_SPECS:
                raise KeyError(f"unknown parameter {name!r}")
            self._values[key] = self._coerce(key, float(value))

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def get(self, name: str) -> float:
        """The value of ``name`` (KeyError when it does not exist)."""
        return self._values[name]

    def index_of(self, name: str) -> int:
        """The position of ``name`` in PARAM_REQUEST_LIST order."""
        return self._names.index(name)

    def name_at(self, index: int) -> str | None:
        """The name at ``index``, or None when out of range."""
        return self._names[index] if 0 <= index < len(self._names) else None

    def param_type(self, name: str) -> int:
        """The MAV_PARAM_TYPE of ``name``."""
        return PARAM_SPECS[name].param_type

    def set(self, name: str, value: float) -> bool:
        """Set ``name`` from a ground station; False for unknown or read-only parameters."""
        spec = PARAM_SPECS.get(name)
        if spec is None or spec.read_only:
            return False
        self._values[name] = self._coerce(name, value)
        return True

    def set_internal(self, name: str, value: float) -> None:
        """Set a value the vehicle itself maintains (MIS_TOTAL, FENCE_TOTAL, ...)."""
        self._values[name] = self._coerce(name, value)

    def _coerce(self, name: str, value: float) -> float:
        # ArduPilot stores the value in the parameter's own type, so integers truncate.
        spec = PARAM_SPECS[name]
        if spec.param_type != REAL32:
            value = float(int(value))
        return value
