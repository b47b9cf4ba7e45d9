"""Arming, modes, commands and whole flights of the simulated copter, over plain pymavlink."""

from __future__ import annotations

import math
import time

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.geo import distance_m
from drone_patrol.core.types import GeoPoint
from tests.sim.conftest import HOME, wait_sim_time, wait_until
from tests.sim.gcs import waypoints

LAT, LON = HOME.latitude_deg, HOME.longitude_deg
OK = mavlink2.MAV_RESULT_ACCEPTED
FAILED = mavlink2.MAV_RESULT_FAILED
GUIDED, AUTO, LOITER, RTL, LAND, BRAKE, STABILIZE, ALT_HOLD = 4, 3, 5, 6, 9, 17, 0, 2
# Small distances and a low RTL altitude keep each flight short in simulated time.
# DISARM_DELAY 60: a loaded machine must not let the 10 s auto-disarm (0.25 s wall at 40x) win a race.
FAST = {"RTL_ALT": 1000, "RTL_LOIT_TIME": 1000, "LAND_ALT_LOW": 300, "WPNAV_SPEED": 800, "DISARM_DELAY": 60}


def _ready(sim, gcs) -> None:
    wait_sim_time(sim, 6.5)


def test_heartbeat_identity(make_sim, make_gcs) -> None:
    sim = make_sim()
    gcs = make_gcs(sim, streams_hz=10)
    hb = gcs.recv("HEARTBEAT", 3.0)
    assert hb.get_srcSystem() == 1 and hb.get_srcComponent() == 1
    assert hb.type == mavlink2.MAV_TYPE_QUADROTOR and hb.autopilot == mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA
    assert hb.custom_mode == STABILIZE and hb.base_mode & mavlink2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    assert not hb.base_mode & mavlink2.MAV_MODE_FLAG_SAFETY_ARMED
    assert hb.system_status == mavlink2.MAV_STATE_STANDBY
    assert hb.get_msgbuf()[0] == 0xFD  # MAVLink 2


def test_arming_refused_until_gps_and_ekf_are_ready(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=5.0)
    gcs = make_gcs(sim)
    assert gcs.set_mode(GUIDED) == OK  # disarmed, any mode may be chosen (Copter::set_mode)
    assert gcs.command(400, 1) == FAILED
    early = ("Arm: System not initialised", "Arm: EKF attitude is bad", "Arm: AHRS: waiting for home")
    # STATUSTEXTs follow the COMMAND_ACK, as ArduPilot queues them.
    assert gcs.recv("STATUSTEXT", 3.0, cond=lambda m: m.text in early) is not None, gcs.texts
    wait_sim_time(sim, 3.5)  # GPS has a fix and home is set; the EKF is not using GPS yet
    assert gcs.wait_text("EKF3 IMU0 origin set")
    assert gcs.command(400, 1) == FAILED
    assert gcs.wait_text("Arm: Need Position Estimate")
    wait_sim_time(sim, 6.5)
    assert gcs.wait_text("EKF3 IMU0 is using GPS")
    assert gcs.command(400, 1) == OK
    assert gcs.wait_text("Arming motors")
    hb = gcs.recv("HEARTBEAT", 3.0, cond=lambda m: m.base_mode & mavlink2.MAV_MODE_FLAG_SAFETY_ARMED)
    assert hb is not None


def test_prearm_report_every_thirty_seconds(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=40.0, params={"SIM_GPS_DISABLE": 1})
    gcs = make_gcs(sim)
    assert gcs.set_mode(GUIDED) == OK
    deadline = time.monotonic() + 20.0
    while sim.sim_time_s < 46.0 and time.monotonic() < deadline:
        gcs.recv(None, 0.05)  # read the texts as they come
    reports = [t for t in gcs.texts if t.startswith("PreArm:")]
    assert reports[:2] == ["PreArm: AHRS: waiting for home", "PreArm: AHRS: waiting for home"]


def test_gps_loss_blocks_arming_and_force_arm_overrides(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={"DISARM_DELAY": 60})
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    assert gcs.set_mode(GUIDED) == OK
    sim.set_gps(1, 3)
    assert gcs.command(400, 1) == FAILED
    assert gcs.wait_text("Arm: GPS 1: Bad fix")
    gps = gcs.recv("GPS_RAW_INT", 3.0, cond=lambda m: m.fix_type == 1)
    assert gps is not None and gps.satellites_visible == 3
    assert gcs.command(400, 1, 21196) == OK  # forced


def test_auto_without_takeoff_is_refused_on_the_ground(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={"DISARM_DELAY": 60})
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    items = waypoints(LAT, LON, 3)
    del items[1]  # no takeoff
    assert gcs.upload(items).ack == 0
    assert gcs.set_mode(GUIDED) == OK
    assert gcs.command(400, 1) == OK
    assert gcs.set_mode(AUTO) == FAILED
    assert gcs.wait_text("Auto: Missing Takeoff Cmd")
    assert gcs.wait_text("Mode change to AUTO failed: init failed")
    assert sim.truth().mode == "GUIDED"


def test_auto_needs_a_mission_and_cannot_be_armed_in(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={"DISARM_DELAY": 60})
    gcs = make_gcs(sim)
    _ready(sim, gcs)
    assert gcs.set_mode(GUIDED) == OK
    assert gcs.command(400, 1) == OK
    assert gcs.set_mode(AUTO) == FAILED  # armed with only home
    assert gcs.wait_text("Mode change to AUTO failed: init failed")
    assert gcs.command(400, 0) == OK
    assert gcs.set_mode(AUTO) == OK  # disarmed, the mode change itself is not checked
    assert gcs.upload(waypoints(LAT, LON, 2)).ack == 0
    assert gcs.command(400, 1) == FAILED
    assert gcs.wait_text("Arm: Auto mode not armable")


def test_mission_start_params_must_be_zero(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0)
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    assert gcs.upload(waypoints(LAT, LON, 2)).ack == 0
    assert gcs.command(300, 1, 0) == mavlink2.MAV_RESULT_DENIED
    assert gcs.command(300, 0, 2) == mavlink2.MAV_RESULT_DENIED


def test_unsupported_command_and_malformed_input(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0)
    gcs = make_gcs(sim, streams_hz=10)
    assert gcs.command(31010, 1) == mavlink2.MAV_RESULT_UNSUPPORTED  # a user command id
    assert gcs.command(176, 0, 4) == mavlink2.MAV_RESULT_UNSUPPORTED  # base mode without the custom flag
    # Garbage, a frame with a bad CRC and a message id no dialect knows.
    gcs.conn.write(b"\x00\x01garbage\xfd\x09\x00\x00\x00\xff\xbe\x00\x00\x00" + bytes(11))
    hb = gcs.mav.heartbeat_encode(6, 8, 0, 0, 0).pack(gcs.mav)
    corrupted = hb[:-1] + bytes([hb[-1] ^ 0xFF])
    unknown = bytearray(gcs.mav.heartbeat_encode(6, 8, 0, 0, 0).pack(gcs.mav))
    unknown[7:10] = (0x33, 0x33, 0x03)  # msgid 209715
    gcs.conn.write(corrupted + bytes(unknown))
    assert gcs.command(400, 7) == mavlink2.MAV_RESULT_UNSUPPORTED  # still alive and answering
    assert wait_until(lambda: sim.counters.bad_data + sim.counters.unknown >= 2, 3.0)
    # Messages for another system are ignored.
    gcs.send(gcs.mav.command_long_encode(7, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0))
    assert gcs.recv("COMMAND_ACK", 0.5) is None
    assert sim.counters.not_for_us >= 1


def test_params_list_read_set(make_sim, make_gcs) -> None:
    sim = make_sim(params={"RTL_ALT": 2000})
    gcs = make_gcs(sim, streams_hz=10)
    gcs.send(gcs.mav.param_request_read_encode(1, 1, b"RTL_ALT", -1))
    pv = gcs.recv("PARAM_VALUE", 3.0)
    assert pv.param_id == "RTL_ALT" and pv.param_value == 2000 and pv.param_type == mavlink2.MAV_PARAM_TYPE_INT32
    pv = gcs.set_param("FS_GCS_TIMEOUT", 3.5)
    assert pv is not None and pv.param_value == pytest.approx(3.5)
    pv = gcs.set_param("FENCE_ACTION", 2.7)  # an integer parameter keeps the integer part
    assert pv is not None and pv.param_value == 2
    gcs.send(gcs.mav.param_set_encode(1, 1, b"NO_SUCH_PARAM", 1.0, 9))
    assert gcs.recv("PARAM_VALUE", 0.5) is None
    pv = gcs.set_param("MIS_TOTAL", 5.0)  # read-only: the old value comes back
    assert pv is not None and pv.param_value == 0 and gcs.wait_text("Param write denied (MIS_TOTAL)")
    gcs.send(gcs.mav.param_request_list_encode(1, 1))
    names = set()
    while True:
        pv = gcs.recv("PARAM_VALUE", 0.5)
        if pv is None:
            break
        names.add(pv.param_id)
        total = pv.param_count
    assert len(names) == total
    for name in ("FS_GCS_ENABLE", "BATT_FS_LOW_ACT", "BATT_LOW_VOLT", "FENCE_ENABLE", "FENCE_ALT_MAX", "WPNAV_SPEED"):
        assert name in names


def test_message_interval_and_request_message(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=10.0)
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    assert gcs.command(511, 33, 100_000) == OK  # GLOBAL_POSITION_INT at 10 Hz
    t0, count = None, 0
    while count < 21:
        m = gcs.recv("GLOBAL_POSITION_INT", 3.0)
        t0 = m.time_boot_ms if t0 is None else t0
        count += 1
    rate_hz = 20 / ((m.time_boot_ms - t0) / 1000.0)
    assert rate_hz == pytest.approx(10.0, rel=0.15)
    assert gcs.command(511, 33, -1) == OK
    gcs.recv("GLOBAL_POSITION_INT", 0.3)
    assert gcs.recv("GLOBAL_POSITION_INT", 0.5) is None
    assert gcs.command(511, 31337, 1000) == mavlink2.MAV_RESULT_DENIED
    assert gcs.command(512, 242) == OK  # HOME_POSITION
    home = gcs.recv("HOME_POSITION", 3.0)
    assert home.latitude == round(LAT * 1e7) and home.altitude == round(HOME.altitude_m * 1000)
    assert gcs.command(512, 148) == OK
    assert gcs.recv("AUTOPILOT_VERSION", 3.0) is not None
    assert gcs.command(512, 31337) == FAILED


def _takeoff(sim, gcs, alt_m: float = 10.0) -> None:
    _ready(sim, gcs)
    assert gcs.set_mode(GUIDED) == OK
    assert gcs.command(400, 1) == OK
    assert gcs.command(22, 0, 0, 0, 0, 0, 0, alt_m) == OK
    assert wait_until(lambda: sim.truth().relative_altitude_m > alt_m - 0.3, 20.0)


def test_guided_takeoff_modes_and_refusals(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params=FAST)
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    assert gcs.set_mode(GUIDED) == OK
    assert gcs.command(22, 0, 0, 0, 0, 0, 0, 10) == FAILED  # not armed
    _takeoff(sim, gcs)
    assert gcs.command(22, 0, 0, 0, 0, 0, 0, 20) == FAILED  # already flying
    assert gcs.command(400, 0) == FAILED  # no disarm in flight
    state = sim.truth()
    assert state.armed and not state.landed and state.mode == "GUIDED"
    gpi = gcs.recv("GLOBAL_POSITION_INT", 3.0)
    assert gpi.relative_alt == pytest.approx(10000, abs=400)
    assert gpi.alt == pytest.approx(HOME.altitude_m * 1000 + gpi.relative_alt, abs=5)
    for mode, name in ((LOITER, "LOITER"), (BRAKE, "BRAKE"), (ALT_HOLD, "ALT_HOLD"), (GUIDED, "GUIDED")):
        assert gcs.set_mode(mode) == OK
        hb = gcs.recv("HEARTBEAT", 3.0, cond=lambda m, mode=mode: m.custom_mode == mode)
        assert hb is not None and sim.truth().mode == name
        assert hb.system_status == mavlink2.MAV_STATE_ACTIVE
    assert gcs.set_mode(42) == FAILED
    assert gcs.command(21) == OK  # NAV_LAND
    assert wait_until(lambda: not sim.truth().armed, 30.0)  # LAND disarms on touchdown
    assert sim.truth().landed and sim.truth().mode == "LAND"


def test_auto_disarm_after_ten_seconds_on_the_ground(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0)
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    assert gcs.set_mode(GUIDED) == OK
    assert gcs.command(400, 1) == OK
    t_armed = sim.sim_time_s
    assert gcs.wait_text("Disarming motors", 5.0)
    assert 9.0 <= gcs.context_of("Disarming motors").time_boot_ms / 1000.0 - t_armed <= 10.6
    assert not sim.truth().armed


def test_guided_reposition_roi_and_speed(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params=FAST)
    gcs = make_gcs(sim, streams_hz=10)
    _takeoff(sim, gcs)
    assert gcs.command(178, 1, 3.0) == OK  # 3 m/s
    target_lat = LAT + 30.0 / 111_000.0
    gcs.goto(target_lat, LON, 12.0)
    assert wait_until(lambda: sim.truth().ground_speed_m_s > 2.5, 10.0)
    assert sim.truth().ground_speed_m_s < 3.3
    # Face a point to the east while flying north.
    assert gcs.command(195, 0, 0, 0, 0, LAT, LON + 0.01, 0) == OK
    assert wait_until(lambda: abs(sim.truth().heading_deg - 90.0) < 5.0, 10.0)
    assert wait_until(lambda: distance_m(sim.truth().position, HOME) > 29.0, 30.0)
    assert gcs.command(197) == OK


def test_full_takeoff_mission_rtl_flight_lands_at_home(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params=FAST)
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    d = 40.0 / 111_000.0
    items = [
        (16, 0, 0, 0, 0, 0, LAT, LON, 0.0),
        (22, 3, 0, 0, 0, 0, 0.0, 0.0, 12.0),
        (178, 2, 1, 6.0, -1, 0, 0.0, 0.0, 0.0),  # DO_CHANGE_SPEED 6 m/s
        (16, 3, 0, 0, 0, 0, LAT + d, LON, 12.0),
        (19, 3, 2, 0, 0, 0, LAT + d, LON + d / math.cos(math.radians(LAT)), 15.0),  # LOITER_TIME 2 s
        (16, 3, 0, 0, 0, 0, LAT, LON + d, 12.0),
        (20, 2, 0, 0, 0, 0, 0.0, 0.0, 0.0),
    ]
    assert gcs.upload(items).ack == 0
    assert gcs.set_mode(GUIDED) == OK
    assert gcs.command(400, 1) == OK
    assert gcs.set_mode(AUTO) == OK  # armed on the ground with a takeoff first: allowed
    assert sim.truth().landed  # ... but waits for MISSION_START
    assert gcs.command(300) == OK
    reached: list[int] = []
    max_speed = 0.0
    while True:
        m = gcs.recv(["MISSION_ITEM_REACHED", "VFR_HUD"], 30.0)
        assert m is not None, f"stuck after {reached}"
        if m.get_type() == "VFR_HUD":
            max_speed = max(max_speed, m.groundspeed)
            continue
        reached.append(m.seq)
        if m.seq == 6:
            break
    # As on ArduCopter, MISSION_ITEM_REACHED is a deferred message: the takeoff (1) and the
    # DO_CHANGE_SPEED (2) complete in the same step, so only 2 is reported.
    assert reached == [2, 3, 4, 5, 6]
    assert 5.0 < max_speed < 6.5
    for n in (3, 4, 5):
        assert gcs.wait_text(f"Reached command #{n}")
    assert wait_until(lambda: not sim.truth().armed, 20.0)
    state = sim.truth()
    assert state.landed and state.relative_altitude_m == pytest.approx(0.0, abs=0.05)
    assert distance_m(state.position, HOME) < 2.0
    current = gcs.recv("MISSION_CURRENT", 3.0)
    assert current.total == 6 and current.mission_state == mavlink2.MISSION_STATE_COMPLETE


def test_rtl_climbs_to_rtl_alt_and_lands_at_nearest_rally(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params=FAST)
    gcs = make_gcs(sim, streams_hz=10)
    rally_lat = LAT + 25.0 / 111_000.0
    assert gcs.upload([(5100, 3, 0, 0, 0, 0, rally_lat, LON, 8.0)], mission_type=2).ack == 0
    _takeoff(sim, gcs, alt_m=5.0)
    target_lat = LAT + 40.0 / 111_000.0
    gcs.goto(target_lat, LON, 5.0)
    assert wait_until(lambda: distance_m(sim.truth().position, HOME) > 39.0, 20.0)
    assert gcs.command(20) == OK  # NAV_RETURN_TO_LAUNCH
    deadline = time.monotonic() + 40.0
    while sim.truth().armed and time.monotonic() < deadline:  # read the stream: it shows the climb
        gcs.recv(None, 0.02)
    assert 9.7 <= gcs.max_relative_alt_m <= 10.5  # RTL_ALT 10 m
    state = sim.truth()
    assert state.mode == "RTL" and state.landed
    assert distance_m(state.position, HOME) == pytest.approx(25.0, abs=1.0)


def test_mission_set_current_and_loiter_turns(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params=FAST)
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    d = 20.0 / 111_000.0
    items = [
        (16, 0, 0, 0, 0, 0, LAT, LON, 0.0),
        (22, 3, 0, 0, 0, 0, 0.0, 0.0, 10.0),
        (16, 3, 0, 0, 0, 0, LAT + 5 * d, LON, 10.0),
        (18, 3, 1, 0, 10.0, 0, LAT + d, LON, 10.0),  # one turn of radius 10 m
        (21, 3, 0, 0, 0, 0, 0.0, 0.0, 0.0),
    ]
    assert gcs.upload(items).ack == 0
    assert gcs.set_mode(GUIDED) == OK
    assert gcs.command(400, 1) == OK
    assert gcs.command(300) == OK
    assert gcs.recv("MISSION_ITEM_REACHED", 20.0, cond=lambda m: m.seq == 1) is not None
    assert gcs.command(224, 3) == OK  # skip the far waypoint
    assert gcs.recv("MISSION_CURRENT", 3.0, cond=lambda m: m.seq == 3) is not None
    assert gcs.command(224, 99) == mavlink2.MAV_RESULT_DENIED
    assert gcs.recv("MISSION_ITEM_REACHED", 40.0, cond=lambda m: m.seq == 3) is not None
    assert gcs.wait_text("Reached command #3")
    assert gcs.recv("MISSION_ITEM_REACHED", 40.0, cond=lambda m: m.seq == 4) is not None
    assert wait_until(lambda: not sim.truth().armed, 10.0)
    assert distance_m(sim.truth().position, HOME) > 5.0  # landed where the mission's LAND was


def test_udp_out_ground_station(make_sim) -> None:
    import socket

    gs = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gs.bind(("127.0.0.1", 0))
    gs.settimeout(3.0)
    sim = make_sim(udp_out=f"127.0.0.1:{gs.getsockname()[1]}")
    mav = mavlink2.MAVLink(None, srcSystem=255, srcComponent=190)
    mav.robust_parsing = True

    def recv(name: str):
        for _ in range(200):
            data, addr = gs.recvfrom(65536)
            for m in mav.parse_buffer(data) or []:
                if m.get_type() == name:
                    return m, addr
        return None, None

    hb, addr = recv("HEARTBEAT")
    assert hb is not None and hb.autopilot == mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA
    gs.sendto(mav.command_long_encode(1, 1, 31010, 0, 0, 0, 0, 0, 0, 0, 0).pack(mav), addr)
    ack, _ = recv("COMMAND_ACK")
    assert ack is not None and ack.result == mavlink2.MAV_RESULT_UNSUPPORTED
    gs.close()
    assert sim.port > 0


def test_no_streams_until_asked_then_request_data_stream(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0)
    gcs = make_gcs(sim, streams_hz=0)
    seen = set()
    for _ in range(20):
        m = gcs.recv(None, 0.05)
        if m is not None:
            seen.add(m.get_type())
    # Copter's SR0_* defaults are 0: only what ArduCopter sends unasked.
    assert seen <= {"HEARTBEAT", "STATUSTEXT", "HOME_POSITION", "GPS_GLOBAL_ORIGIN", "TIMESYNC"}
    assert "GLOBAL_POSITION_INT" not in seen
    gcs.send(gcs.mav.request_data_stream_encode(1, 1, mavlink2.MAV_DATA_STREAM_POSITION, 5, 1))
    assert gcs.recv("GLOBAL_POSITION_INT", 3.0) is not None
    gcs.send(gcs.mav.request_data_stream_encode(1, 1, mavlink2.MAV_DATA_STREAM_POSITION, 0, 0))
    gcs.recv("GLOBAL_POSITION_INT", 0.3)
    assert gcs.recv("GLOBAL_POSITION_INT", 0.5) is None


def test_pause_continue_and_loiter_without_rc(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params=FAST)
    gcs = make_gcs(sim, streams_hz=10)
    _takeoff(sim, gcs)
    assert gcs.command(193, 1) == FAILED  # nothing paused to continue
    gcs.goto(LAT + 60.0 / 111_000.0, LON, 10.0)
    assert wait_until(lambda: sim.truth().ground_speed_m_s > 3.0, 10.0)
    assert gcs.command(193, 0) == OK
    assert wait_until(lambda: sim.truth().ground_speed_m_s < 0.1, 10.0)
    assert gcs.command(193, 1) == OK
    assert wait_until(lambda: sim.truth().ground_speed_m_s > 3.0, 10.0)
    assert gcs.command(193, 5) == mavlink2.MAV_RESULT_DENIED
    # LOITER with the throttle stick at rest (1000 us, as SITL without RC) sinks ...
    assert gcs.command(17) == OK  # NAV_LOITER_UNLIM switches to LOITER
    assert wait_until(lambda: sim.truth().climb_rate_m_s < -1.0, 10.0)
    # ... and holds its height with the stick centred by RC_CHANNELS_OVERRIDE.
    gcs.send(gcs.mav.rc_channels_override_encode(1, 1, 1500, 1500, 1500, 1500, 0, 0, 0, 0))
    assert wait_until(lambda: abs(sim.truth().climb_rate_m_s) < 0.05, 10.0)
    assert sim.truth().mode == "LOITER" and not sim.truth().landed


def test_new_upload_during_auto_restarts_the_current_command(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params=FAST)
    gcs = make_gcs(sim, streams_hz=10)
    _ready(sim, gcs)
    far = LAT + 80.0 / 111_000.0
    items = [(16, 0, 0, 0, 0, 0, LAT, LON, 0.0), (22, 3, 0, 0, 0, 0, 0.0, 0.0, 8.0), (16, 3, 0, 0, 0, 0, far, LON, 8.0)]
    assert gcs.upload(items).ack == 0
    assert gcs.set_mode(GUIDED) == OK
    assert gcs.command(400, 1) == OK
    assert gcs.command(300) == OK
    assert gcs.recv("MISSION_ITEM_REACHED", 20.0, cond=lambda m: m.seq == 1) is not None
    gcs.texts.clear()
    east = LON + 30.0 / 90_800.0
    new = [items[0], items[1], (16, 3, 0, 0, 0, 0, LAT, east, 8.0), (21, 3, 0, 0, 0, 0, 0.0, 0.0, 0.0)]
    assert gcs.upload(new).ack == 0
    assert gcs.wait_text("Flight plan received", 3.0)
    assert gcs.recv("STATUSTEXT", 3.0, cond=lambda m: m.text == "Mission: 2 WP") is not None
    assert gcs.recv("MISSION_ITEM_REACHED", 30.0, cond=lambda m: m.seq == 2) is not None
    after = gcs.texts[gcs.texts.index("Flight plan received") :]
    assert after.count("Mission: 2 WP") == 1  # restarted once, when the upload completed
    assert wait_until(lambda: not sim.truth().armed, 30.0)
    assert distance_m(sim.truth().position, GeoPoint(LAT, east)) < 2.0


def test_slow_reader_loses_telemetry_not_the_link(make_sim) -> None:
    import socket

    sim = make_sim(speedup=20.0)
    sock = socket.create_connection(("127.0.0.1", sim.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    mav = mavlink2.MAVLink(None, srcSystem=255, srcComponent=190)
    sock.sendall(mav.request_data_stream_encode(1, 1, 0, 10, 1).pack(mav))
    wait_sim_time(sim, sim.sim_time_s + 30.0)  # nobody reads for 30 simulated seconds
    conn = next(c for c in sim.connections if c.sock is not None and c.sock.type == socket.SOCK_STREAM)
    assert conn.skipped > 0 and not conn.closed
    sock.sendall(mav.request_data_stream_encode(1, 1, 0, 0, 0).pack(mav))  # quiet, then ask
    sock.sendall(mav.command_long_encode(1, 1, 31010, 0, 0, 0, 0, 0, 0, 0, 0).pack(mav))
    mav.robust_parsing = True
    sock.settimeout(5.0)
    deadline = time.monotonic() + 10.0
    ack = None
    while ack is None and time.monotonic() < deadline:
        for m in mav.parse_buffer(sock.recv(4096)) or []:
            if m.get_type() == "COMMAND_ACK" and m.command == 31010:
                ack = m
    sock.close()
    assert ack is not None and ack.result == mavlink2.MAV_RESULT_UNSUPPORTED
