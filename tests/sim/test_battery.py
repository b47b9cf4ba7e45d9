"""The simulated battery is ArduPilot SITL's default quad: current from thrust, no sag by default."""

from __future__ import annotations

import pytest

from drone_patrol.sim.copter.battery import POWER_PER_N, Battery, air_density, resting_voltage, thrust_n


def test_hover_and_cruise_current_as_sitl_default_quad() -> None:
    rho = air_density(584.0)
    hover_a = POWER_PER_N * thrust_n(0.0, 0.0, rho) / 12.6
    cruise_a = POWER_PER_N * thrust_n(5.0, 0.0, rho) / 12.6
    # SIM_Frame.cpp: 29.3 A * 12.09 V hold 3 kg in a hover, over SIM_BATT_VOLTAGE 12.6 V
    assert hover_a == pytest.approx(28.1, abs=0.1)
    assert hover_a < cruise_a < 1.05 * hover_a  # drag at 5 m/s adds a little thrust
    assert POWER_PER_N * thrust_n(10.0, 0.0, rho) / 12.6 > 1.1 * hover_a


def test_default_pack_keeps_its_voltage_and_drains_by_the_monitor() -> None:
    bat = Battery(3300.0)
    for _ in range(600):  # one minute of hover, 0.1 s steps
        bat.step(0.1, armed=True, flying=True, airspeed_m_s=0.0, climb_m_s=0.0, altitude_amsl_m=584.0)
    assert bat.voltage_v == 12.6  # SIM_BATT_CAP_AH 0: SITL's voltage never sags
    assert 100.0 * (1.0 - bat.remaining_fraction) == pytest.approx(14.2, abs=0.2)  # percent of 3300 mAh a minute
    bat.step(1.0, armed=False, flying=False, airspeed_m_s=0.0, climb_m_s=0.0, altitude_amsl_m=584.0)
    assert bat.current_a == 0.0


def test_pack_with_a_capacity_sags_along_sitl_table() -> None:
    bat = Battery(3300.0, 12.6, 3.3)
    assert bat.voltage_v == 12.6
    bat.set_remaining_percent(50.0)
    assert bat.voltage_v == pytest.approx(3.742 / 4.173 * 12.6, abs=0.01)
    bat.set_remaining_percent(3.0)
    assert bat.voltage_v < 10.5  # under BATT_LOW_VOLT, as the failsafe tests need
    assert resting_voltage(100.0, 12.6) == pytest.approx(12.6)
