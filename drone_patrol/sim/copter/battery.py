"""The battery of the simulated copter, configured as ArduPilot SITL's default quadcopter.

SITL (libraries/SITL/SIM_Frame.cpp, SIM_Motor.cpp, SIM_Battery.cpp) models the frame
from a reference test: a 3.0 kg quad that draws ``refCurrent`` 29.3 A at ``refVoltage``
12.09 V, so each newton of thrust costs ``power_factor`` = 29.3 * 12.09 / (3.0 * g)
= 12.04 W, and each motor's current is that power over the pack voltage. Drag comes
from the same test (45 degrees of tilt hold 15.08 m/s): a body drag area and a
momentum drag of the rotors. The pack voltage stays at SIM_BATT_VOLTAGE (12.6 V) unless
SIM_BATT_CAP_AH is set (default 0: "unlimited"); then it follows SITL's LiPo
state-of-charge table less ``current * 0.01 ohm``. The autopilot's battery monitor
(BATT_MONITOR 4, BATT_CAPACITY 3300 mAh) integrates the current into consumed mAh and
reports ``100 - 100 * consumed / capacity`` percent.

So the defaults give what SITL gives: about 28 A in a hover (14 % of 3300 mAh a
minute, a full pack in about 7 minutes), a little more in cruise, and no voltage sag.
"""

from __future__ import annotations

import itertools
import math

GRAVITY_M_S2 = 9.80665
MASS_KG = 3.0
_REF_SPEED_M_S = 15.08
_REF_ANGLE_RAD = math.radians(45.0)
_REF_VOLTAGE_V = 12.09
_REF_CURRENT_A = 29.3
_REF_ALT_M = 593.0
_REF_BATT_RESISTANCE_OHM = 0.01
_MDRAG_COEF = 0.2
_DISC_AREA_M2 = 0.385
#: watts per newton of thrust (SIM_Frame.cpp power_factor)
POWER_PER_N = _REF_CURRENT_A * _REF_VOLTAGE_V / (MASS_KG * GRAVITY_M_S2)
#: thrust share of the motors armed on the ground (MOT_SPIN_ARM 0.1 of a 0.39 hover throttle)
_ARMED_IDLE_SHARE = 0.05

# SIM_Battery.cpp: resting volts per cell by state of charge (percent), highest first
_SOC_TABLE = (
    (4.173, 100.0), (4.112, 96.15), (4.085, 92.31), (4.071, 88.46), (4.039, 84.62), (3.987, 80.77),
    (3.943, 76.92), (3.908, 73.08), (3.887, 69.23), (3.854, 65.38), (3.833, 61.54), (3.801, 57.69),
    (3.783, 53.85), (3.742, 50.0), (3.715, 46.15), (3.679, 42.31), (3.636, 38.46), (3.588, 34.62),
    (3.543, 30.77), (3.503, 26.92), (3.462, 23.08), (3.379, 19.23), (3.296, 15.38), (3.218, 11.54),
    (3.165, 7.69), (3.091, 3.85), (2.977, 2.0), (2.8, 1.5), (2.7, 1.3), (2.5, 1.2), (2.3, 1.1),
    (2.1, 1.0), (1.9, 0.9), (1.6, 0.8), (1.3, 0.7), (1.0, 0.6), (0.6, 0.4), (0.3, 0.2), (0.01, 0.01),
)  # fmt: skip


def air_density(altitude_amsl_m: float) -> float:
    """ISA air density (kg/m^3) at an altitude."""
    return 1.225 * max(0.0, 1.0 - 2.25577e-5 * altitude_amsl_m) ** 4.25588


def _ref_area_cd() -> float:
    # SIM_Frame::init: the body drag area that, with the rotors' momentum drag, holds the
    # reference speed at the reference tilt
    rho = air_density(_REF_ALT_M)
    drag = MASS_KG * GRAVITY_M_S2 * math.tan(_REF_ANGLE_RAD)
    cos_tilt = math.cos(_REF_ANGLE_RAD)
    thrust = MASS_KG * GRAVITY_M_S2 / cos_tilt
    momentum = cos_tilt * _MDRAG_COEF * _REF_SPEED_M_S * cos_tilt * math.sqrt(thrust * rho * _DISC_AREA_M2)
    return max(0.0, (drag - momentum) / (0.5 * rho * _REF_SPEED_M_S**2))


AREA_CD_M2 = _ref_area_cd()


def thrust_n(airspeed_m_s: float, climb_m_s: float, rho: float) -> float:
    """Rotor thrust (N) that holds a steady ``airspeed_m_s`` and climb rate."""
    weight = MASS_KG * GRAVITY_M_S2
    thrust = weight
    for _ in range(3):  # momentum drag depends on thrust: a few fixed-point steps converge
        drag_h = 0.5 * rho * AREA_CD_M2 * airspeed_m_s**2 + _MDRAG_COEF * airspeed_m_s * math.sqrt(
            thrust * rho * _DISC_AREA_M2
        )
        drag_v = 0.5 * rho * AREA_CD_M2 * climb_m_s * abs(climb_m_s)
        thrust = math.hypot(weight + drag_v, drag_h)
    return thrust


def resting_voltage(charge_percent: float, max_voltage_v: float) -> float:
    """SITL's resting pack voltage at a state of charge."""
    top = _SOC_TABLE[0][0]
    for (v_hi, s_hi), (v_lo, s_lo) in itertools.pairwise(_SOC_TABLE):
        if charge_percent >= s_lo:
            cell = v_lo + (charge_percent - s_lo) / (s_hi - s_lo) * (v_hi - v_lo)
            return cell / top * max_voltage_v
    return 0.001


class Battery:
    """The pack (SIM_BATT_VOLTAGE, SIM_BATT_CAP_AH) and the autopilot's monitor of it (BATT_CAPACITY)."""

    def __init__(self, capacity_mah: float, voltage_v: float = 12.6, sim_capacity_ah: float = 0.0) -> None:
        self.capacity_mah = max(1.0, capacity_mah)
        self.max_voltage_v = voltage_v
        self.sim_capacity_ah = sim_capacity_ah
        self.charge_ah = sim_capacity_ah
        self.consumed_mah = 0.0
        self.energy_wh = 0.0
        self.current_a = 0.0
        self.voltage_v = voltage_v

    @property
    def remaining_fraction(self) -> float:
        """What the monitor reports, in [0, 1]: 1 - consumed / BATT_CAPACITY."""
        return max(0.0, 1.0 - self.consumed_mah / self.capacity_mah)

    def configure(self, capacity_mah: float, voltage_v: float, sim_capacity_ah: float) -> None:
        """Follow BATT_CAPACITY, SIM_BATT_VOLTAGE and SIM_BATT_CAP_AH (a new voltage refills the pack, as in SITL)."""
        self.capacity_mah = max(1.0, capacity_mah)
        if voltage_v != self.max_voltage_v or sim_capacity_ah != self.sim_capacity_ah:
            self.max_voltage_v, self.sim_capacity_ah = voltage_v, sim_capacity_ah
            self.charge_ah = sim_capacity_ah
        self._update_voltage()

    def set_remaining_percent(self, percent: float) -> None:
        """Fault injection (and battery swaps): the monitor and the pack at ``percent`` remaining."""
        p = max(0.0, min(100.0, percent)) / 100.0
        self.consumed_mah = (1.0 - p) * self.capacity_mah
        self.charge_ah = p * self.sim_capacity_ah
        self._update_voltage()

    def _update_voltage(self) -> None:
        if self.sim_capacity_ah <= 0:
            self.voltage_v = self.max_voltage_v  # SIM_BATT_CAP_AH 0: the voltage never sags
        else:
            soc = 100.0 * max(0.0, self.charge_ah) / self.sim_capacity_ah
            sag = self.current_a * _REF_BATT_RESISTANCE_OHM
            self.voltage_v = max(0.0, resting_voltage(soc, self.max_voltage_v) - sag)

    def step(
        self, dt: float, armed: bool, flying: bool, airspeed_m_s: float, climb_m_s: float, altitude_amsl_m: float
    ) -> None:
        """Drain the pack for ``dt`` seconds: motor power = POWER_PER_N * thrust, over the pack voltage."""
        if not armed:
            current = 0.0
        else:
            rho = air_density(altitude_amsl_m)
            thrust = thrust_n(airspeed_m_s, climb_m_s, rho) if flying else MASS_KG * GRAVITY_M_S2 * _ARMED_IDLE_SHARE
            current = POWER_PER_N * thrust / max(self.voltage_v, 0.1)
        self.current_a = current
        self.consumed_mah += current * dt / 3.6
        self.charge_ah = max(0.0, self.charge_ah - current * dt / 3600.0)
        self._update_voltage()
        self.energy_wh += self.voltage_v * current * dt / 3600.0
