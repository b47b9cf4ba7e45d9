"""Battery, ground-station and fence failsafes of the simulated copter."""

from __future__ import annotations

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.geo import distance_m
from drone_patrol.core.types import GeoPoint
from tests.sim.conftest import HOME, wait_sim_time, wait_until

LAT, LON = HOME.latitude_deg, HOME.longitude_deg
OK = mavlink2.MAV_RESULT_ACCEPTED
# DISARM_DELAY 60: a loaded machine must not let the 10 s auto-disarm (0.25 s wall at 40x) win a race.
# SIM_BATT_CAP_AH gives the pack a capacity, so its voltage sags with the charge (SITL: 0, never sags).
FAST = {"RTL_ALT": 1000, "RTL_LOIT_TIME": 1000, "LAND_ALT_LOW": 300, "DISARM_DELAY": 60, "SIM_BATT_CAP_AH": 3.3}


def _fly_guided(sim, gcs, alt_m: float = 8.0) -> None:
    wait_sim_time(sim, 6.5)
    assert gcs.set_mode(4) == OK
    assert gcs.command(400, 1) == OK
    assert gcs.command(22, 0, 0, 0, 0, 0, 0, alt_m) == OK, (gcs.texts, sim.truth())
    assert wait_until(lambda: sim.truth().relative_altitude_m > alt_m - 0.3, 20.0)


def _goto(gcs, north_m: float, east_m: float, alt_m: float) -> None:
    lat = LAT + north_m / 111_000.0
    lon = LON + east_m / 90_800.0
    gcs.goto(lat, lon, alt_m)


def test_low_battery_held_ten_seconds_triggers_batt_fs_low_act(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={**FAST, "BATT_FS_LOW_ACT": 2})  # 2: RTL
    gcs = make_gcs(sim, streams_hz=10)
    _fly_guided(sim, gcs)
    _goto(gcs, 30.0, 0.0, 8.0)
    assert wait_until(lambda: distance_m(sim.truth().position, HOME) > 20.0, 20.0)
    sim.set_battery_percent(3.0)  # resting voltage well under BATT_LOW_VOLT 10.5 V
    t_low = sim.sim_time_s
    assert gcs.wait_text("Battery 1 is low", 10.0)
    said_at_s = gcs.context_of("Battery 1 is low").time_boot_ms / 1000.0
    assert 9.7 <= said_at_s - t_low <= 10.6  # BATT_LOW_TIMER, within a position report
    assert gcs.wait_text("Battery Failsafe", 3.0)
    assert wait_until(lambda: sim.truth().mode == "RTL", 3.0)
    hb = gcs.recv("HEARTBEAT", 3.0, cond=lambda m: m.custom_mode == 6)
    assert hb.system_status == mavlink2.MAV_STATE_CRITICAL
    bat = gcs.recv("BATTERY_STATUS", 3.0)
    assert bat.charge_state == mavlink2.MAV_BATTERY_CHARGE_STATE_LOW and bat.battery_remaining <= 3
    sys_status = gcs.recv("SYS_STATUS", 3.0)
    assert sys_status.voltage_battery < 10500
    assert wait_until(lambda: not sim.truth().armed, 40.0)
    assert distance_m(sim.truth().position, HOME) < 2.0
    # Low battery also blocks arming again.
    assert gcs.command(400, 1) == mavlink2.MAV_RESULT_FAILED
    assert gcs.wait_text("Arm: Battery 1 low voltage failsafe")


def test_short_voltage_dip_does_not_trigger(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={**FAST, "BATT_FS_LOW_ACT": 1})
    gcs = make_gcs(sim, streams_hz=10)
    _fly_guided(sim, gcs)
    sim.set_battery_percent(3.0)
    t0 = sim.sim_time_s
    wait_sim_time(sim, t0 + 5.0)
    sim.set_battery_percent(90.0)
    wait_sim_time(sim, t0 + 15.0)
    assert sim.truth().mode == "GUIDED"
    assert not any("Battery" in t for t in gcs.texts)


def test_battery_failsafe_land_action(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={**FAST, "BATT_FS_LOW_ACT": 1, "BATT_LOW_TIMER": 2})
    gcs = make_gcs(sim, streams_hz=10)
    _fly_guided(sim, gcs)
    sim.set_battery_percent(2.0)
    assert wait_until(lambda: sim.truth().mode == "LAND", 10.0)
    assert wait_until(lambda: not sim.truth().armed, 40.0)
    assert distance_m(sim.truth().position, HOME) < 1.0


def test_gcs_heartbeat_loss_triggers_rtl_and_recovers(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=10.0, params={**FAST, "FS_GCS_ENABLE": 1, "FS_GCS_TIMEOUT": 3})
    gcs = make_gcs(sim)  # system id 255 = SYSID_MYGCS
    other = make_gcs(sim, sysid=200)  # heartbeats from another system do not count
    wait_sim_time(sim, 6.5)
    gcs.heartbeat()
    assert gcs.set_mode(4) == OK
    assert gcs.command(400, 1) == OK
    assert gcs.command(22, 0, 0, 0, 0, 0, 0, 8) == OK

    last_beat = {"s": 0.0}

    def beat_until(cond, who) -> bool:
        last = -1.0
        for _ in range(4000):
            if cond():
                return True
            if sim.sim_time_s - last >= 1.0:
                who.heartbeat()
                last = sim.sim_time_s
                if who is gcs:
                    last_beat["s"] = last
            who.recv("HEARTBEAT", 0.02)
        return False

    assert beat_until(lambda: sim.truth().relative_altitude_m > 7.7, gcs)
    assert sim.truth().mode == "GUIDED"
    assert beat_until(lambda: sim.truth().mode == "RTL", other)
    assert gcs.wait_text("GCS Failsafe")
    said_at_s = gcs.context_of("GCS Failsafe").time_boot_ms / 1000.0
    assert 2.6 <= said_at_s - last_beat["s"] <= 4.5
    assert gcs.wait_text("GCS Failsafe")
    gcs.heartbeat()
    assert gcs.wait_text("GCS Failsafe Cleared", 5.0)
    assert sim.truth().mode == "RTL"  # the action is not undone


@pytest.mark.parametrize("fs_options, mode_after", [(None, "BRAKE"), (0, "RTL")], ids=["default-16", "bit-4-clear"])
def test_gcs_failsafe_in_a_pilot_controlled_mode_follows_fs_options(make_sim, make_gcs, fs_options, mode_after) -> None:
    """ArduCopter's default FS_OPTIONS (16) carries on in pilot-controlled modes (BRAKE is one):
    a drone held in BRAKE keeps hovering when its ground station goes silent; without bit 4 it returns."""
    options = {} if fs_options is None else {"FS_OPTIONS": fs_options}
    sim = make_sim(speedup=20.0, params={**FAST, "FS_GCS_ENABLE": 1, "FS_GCS_TIMEOUT": 3, **options})
    gcs = make_gcs(sim)
    _fly_guided(sim, gcs)  # no heartbeat yet: the failsafe waits for the first
    assert gcs.set_mode(17) == OK  # BRAKE, as the service's pause
    gcs.heartbeat()  # the only one: then silence
    assert gcs.wait_text("GCS Failsafe", 10.0)  # no more heartbeats from the ground station
    wait_sim_time(sim, sim.sim_time_s + 2.0)
    assert sim.truth().mode == mode_after, gcs.texts[-6:]
    if fs_options is None:
        assert gcs.wait_text("GCS Failsafe - Continuing Pilot Control", 1.0)


def test_gcs_failsafe_disabled_or_never_seen_does_nothing(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={**FAST, "FS_GCS_ENABLE": 1})
    gcs = make_gcs(sim, sysid=250)  # never sends as SYSID_MYGCS
    _fly_guided(sim, gcs)
    wait_sim_time(sim, sim.sim_time_s + 8.0)
    assert sim.truth().mode == "GUIDED"


def test_polygon_fence_breach_rtl_and_prearm(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={**FAST, "FENCE_ENABLE": 1, "FENCE_TYPE": 4, "FENCE_ACTION": 1})
    gcs = make_gcs(sim, streams_hz=10)
    d = 20.0 / 111_000.0
    e = 20.0 / 90_800.0
    poly = [(LAT - d, LON - e), (LAT - d, LON + e), (LAT + d, LON + e), (LAT + d, LON - e)]
    assert gcs.upload([(5001, 0, 4, 0, 0, 0, la, lo, 0.0) for la, lo in poly], mission_type=1).ack == 0
    _fly_guided(sim, gcs)
    _goto(gcs, 40.0, 0.0, 8.0)
    assert gcs.wait_text("Fence Breached", 20.0)
    at = gcs.context_of("Fence Breached")
    breach_distance = distance_m(GeoPoint(at.lat / 1e7, at.lon / 1e7), HOME)
    assert 18.0 <= breach_distance <= 23.0
    assert wait_until(lambda: sim.truth().mode == "RTL", 3.0)
    status = gcs.recv("FENCE_STATUS", 3.0)
    assert status is not None and status.breach_type == mavlink2.FENCE_BREACH_BOUNDARY
    assert wait_until(lambda: not sim.truth().armed, 40.0)
    assert distance_m(sim.truth().position, HOME) < 2.0
    # Moved outside the fence on the ground (as if carried): arming is refused.
    sim.ap.body.north_m = 30.0
    wait_sim_time(sim, sim.sim_time_s + 0.5)
    assert gcs.command(400, 1) == mavlink2.MAV_RESULT_FAILED
    assert gcs.wait_text("Arm: Vehicle breaching Polygon fence")


def test_altitude_fence_land_action(make_sim, make_gcs) -> None:
    sim = make_sim(
        speedup=40.0, params={**FAST, "FENCE_ENABLE": 1, "FENCE_TYPE": 1, "FENCE_ALT_MAX": 12, "FENCE_ACTION": 2}
    )
    gcs = make_gcs(sim, streams_hz=10)
    _fly_guided(sim, gcs)
    _goto(gcs, 0.0, 0.0, 20.0)
    assert gcs.wait_text("Fence Breached", 20.0)
    assert 11.5 <= gcs.context_of("Fence Breached").relative_alt / 1000.0 <= 13.0
    assert wait_until(lambda: sim.truth().mode == "LAND", 3.0)
    status = gcs.recv("FENCE_STATUS", 3.0)
    assert status is not None and status.breach_status == 1
    assert status.breach_type == mavlink2.FENCE_BREACH_MAXALT  # as GCS_MAVLINK::send_fence_status


def test_fence_enable_by_command_and_report_only(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={**FAST, "FENCE_TYPE": 2, "FENCE_RADIUS": 30, "FENCE_ACTION": 0})
    gcs = make_gcs(sim, streams_hz=10)
    _fly_guided(sim, gcs)
    assert gcs.command(207, 1) == OK  # DO_FENCE_ENABLE
    _goto(gcs, 40.0, 0.0, 8.0)
    assert gcs.wait_text("Fence Breached", 20.0)
    wait_sim_time(sim, sim.sim_time_s + 2.0)
    assert sim.truth().mode == "GUIDED"  # FENCE_ACTION 0: report only
    status = gcs.recv("SYS_STATUS", 3.0)
    assert not status.onboard_control_sensors_health & 0x100000


def test_gps_loss_in_flight_ekf_failsafe_lands(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params=FAST)
    gcs = make_gcs(sim, streams_hz=10)
    _fly_guided(sim, gcs)
    sim.set_gps(0, 0)
    t_lost = sim.sim_time_s
    assert gcs.wait_text("EKF Failsafe: changed to LAND Mode", 10.0)
    assert 1.9 <= gcs.context_of("EKF variance").time_boot_ms / 1000.0 - t_lost <= 2.6
    assert sim.truth().mode == "LAND"
    hb = gcs.recv("HEARTBEAT", 3.0)
    assert hb.system_status == mavlink2.MAV_STATE_CRITICAL
    sim.set_gps(3, 10)
    assert gcs.wait_text("EKF Failsafe Cleared", 5.0)
    assert wait_until(lambda: not sim.truth().armed, 40.0)
