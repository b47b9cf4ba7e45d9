"""Mission protocol conformance of the simulated copter, checked with plain pymavlink over TCP."""

from __future__ import annotations

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from tests.sim.conftest import HOME, wait_sim_time
from tests.sim.gcs import waypoints

ACCEPTED = mavlink2.MAV_MISSION_ACCEPTED
LAT, LON = HOME.latitude_deg, HOME.longitude_deg


@pytest.mark.parametrize("n", [1, 100, 700])
def test_upload_then_download_round_trip(make_sim, make_gcs, n: int) -> None:
    sim = make_sim(speedup=5.0)
    gcs = make_gcs(sim)
    items = waypoints(LAT, LON, n)
    result = gcs.upload(items)
    assert result.ack == ACCEPTED
    # ArduCopter asks with the legacy MISSION_REQUEST, once per item, in order.
    assert [seq for _, seq in result.requests] == list(range(n + 1))
    assert {kind for kind, _ in result.requests} == {"MISSION_REQUEST"}
    assert gcs.wait_text("Flight plan received")
    got = gcs.download()
    assert got is not None and len(got) == n + 1
    # Seq 0 is the vehicle's home (absolute altitude), not the uploaded placeholder.
    assert got[0].command == 16 and got[0].frame == mavlink2.MAV_FRAME_GLOBAL
    assert (got[0].x, got[0].y) == (round(LAT * 1e7), round(LON * 1e7))
    assert got[0].z == pytest.approx(HOME.altitude_m)
    assert got[1].command == 22 and got[1].z == pytest.approx(20.0)
    for sent, item in zip(items[2:], got[2:], strict=True):
        assert item.command == 16
        # Uploaded as GLOBAL_RELATIVE_ALT_INT (6); ArduPilot reports GLOBAL_RELATIVE_ALT (3).
        assert item.frame == mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT
        assert (item.x, item.y) == (round(sent[6] * 1e7), round(sent[7] * 1e7))
        assert item.z == pytest.approx(sent[8])
    current = gcs.recv("MISSION_CURRENT", 5.0)
    assert current is not None and current.total == n  # total excludes home
    assert sim.ap.params.get("MIS_TOTAL") == n


def test_legacy_mission_item_answers_are_taken(make_sim, make_gcs) -> None:
    sim = make_sim()
    gcs = make_gcs(sim)
    items = waypoints(LAT, LON, 5)
    result = gcs.upload(items, legacy=True)
    assert result.ack == ACCEPTED
    assert gcs.wait_text("got MISSION_ITEM; GCS should send MISSION_ITEM_INT")
    got = gcs.download()
    assert got is not None and [i.command for i in got] == [16, 22, 16, 16, 16, 16]
    # MISSION_ITEM carries float32 degrees: about 0.4 m of rounding at this latitude.
    assert got[3].x == pytest.approx(round(items[3][6] * 1e7), abs=50)


def test_legacy_download_with_mission_request(make_sim, make_gcs) -> None:
    sim = make_sim()
    gcs = make_gcs(sim)
    assert gcs.upload(waypoints(LAT, LON, 3)).ack == ACCEPTED
    gcs.send(gcs.mav.mission_request_encode(1, 1, 2, 0))
    item = gcs.recv("MISSION_ITEM", 3.0)
    assert item is not None and item.seq == 2 and item.x == pytest.approx(LAT, abs=1e-5)  # float32 degrees
    assert gcs.wait_text("got MISSION_REQUEST; use MISSION_REQUEST_INT!")


def test_no_space(make_sim, make_gcs) -> None:
    gcs = make_gcs(make_sim())
    gcs.send(gcs.mav.mission_count_encode(1, 1, 725, 0))
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_NO_SPACE
    assert gcs.wait_text("Only 724 items are supported")
    gcs.send(gcs.mav.mission_count_encode(1, 1, 71, 1))
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_NO_SPACE and ack.mission_type == 1


def test_invalid_sequence_then_recovery(make_sim, make_gcs) -> None:
    gcs = make_gcs(make_sim())
    items = waypoints(LAT, LON, 3)
    gcs.send(gcs.mav.mission_count_encode(1, 1, len(items), 0))
    req = gcs.recv("MISSION_REQUEST", 3.0)
    assert req is not None and req.seq == 0
    gcs.send_item(items, 2)  # out of order
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_INVALID_SEQUENCE
    for seq in range(len(items)):  # the upload goes on from where it was
        gcs.send_item(items, seq)
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == ACCEPTED


def test_repeated_and_early_items_get_invalid_sequence_and_the_upload_goes_on(make_sim, make_gcs) -> None:
    """As ArduPilot's MissionItemProtocol: any item but the one requested is INVALID_SEQUENCE, nothing more;
    an item sent before its request is taken when it is the one the vehicle waits for."""
    gcs = make_gcs(make_sim())
    items = waypoints(LAT, LON, 3)  # home placeholder and 3 items: seq 0..3
    gcs.send(gcs.mav.mission_count_encode(1, 1, len(items), 0))
    assert gcs.recv("MISSION_REQUEST", 3.0).seq == 0
    gcs.send_item(items, 0)
    assert gcs.recv("MISSION_REQUEST", 3.0).seq == 1
    gcs.send_item(items, 0)  # a duplicate of an item already taken
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_INVALID_SEQUENCE
    gcs.send_item(items, 1)  # the requested one, then the next before its request
    gcs.send_item(items, 2)
    assert gcs.recv("MISSION_REQUEST", 3.0, cond=lambda m: m.seq == 3) is not None
    gcs.send_item(items, 3)
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == ACCEPTED
    got = gcs.download()
    assert got is not None and [(m.x, m.y) for m in got[2:]] == [
        (round(i[6] * 1e7), round(i[7] * 1e7)) for i in items[2:]
    ]


def test_unsupported_frame_and_command_and_bad_latitude(make_sim, make_gcs) -> None:
    gcs = make_gcs(make_sim())
    cases = [
        ((16, mavlink2.MAV_FRAME_LOCAL_NED, 0, 0, 0, 0, LAT, LON, 10.0), mavlink2.MAV_MISSION_UNSUPPORTED_FRAME),
        ((31000, 3, 0, 0, 0, 0, LAT, LON, 10.0), mavlink2.MAV_MISSION_UNSUPPORTED),
        ((16, 3, 0, 0, 0, 0, 95.0, LON, 10.0), mavlink2.MAV_MISSION_INVALID_PARAM5_X),
    ]
    for bad, expected in cases:
        items = [*waypoints(LAT, LON, 1), bad]
        assert gcs.upload(items).ack == expected


def test_second_gcs_is_denied_during_upload(make_sim, make_gcs) -> None:
    sim = make_sim()
    first = make_gcs(sim)
    other = make_gcs(sim, sysid=254, compid=1)
    items = waypoints(LAT, LON, 3)
    first.send(first.mav.mission_count_encode(1, 1, len(items), 0))
    assert first.recv("MISSION_REQUEST", 3.0) is not None
    other.send(other.mav.mission_count_encode(1, 1, 2, 0))
    ack = other.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_DENIED
    other.send(other.mav.mission_request_list_encode(1, 1, 0))
    ack = other.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_DENIED
    other.send_item(items, 0)  # an item from the wrong system
    # ArduPilot answers on the uploading link, addressed to the intruder.
    ack = first.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_DENIED and ack.target_system == 254
    for seq in range(len(items)):
        first.send_item(items, seq)
    ack = first.recv("MISSION_ACK", 3.0, cond=lambda m: m.type == ACCEPTED)
    assert ack is not None


def test_item_without_upload_is_an_error(make_sim, make_gcs) -> None:
    gcs = make_gcs(make_sim())
    gcs.send_item(waypoints(LAT, LON, 1), 0)
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_ERROR


def test_rerequest_every_second_and_cancel_after_eight(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=10.0)
    gcs = make_gcs(sim)
    gcs.send(gcs.mav.mission_count_encode(1, 1, 4, 0))
    first = gcs.recv("MISSION_REQUEST", 3.0)
    assert first is not None
    t0 = sim.sim_time_s
    requests = 1
    while True:
        msg = gcs.recv(["MISSION_REQUEST", "MISSION_ACK"], 5.0)
        assert msg is not None
        if msg.get_type() == "MISSION_ACK":
            break
        assert msg.seq == 0
        requests += 1
    elapsed = sim.sim_time_s - t0
    assert msg.type == mavlink2.MAV_MISSION_OPERATION_CANCELLED
    assert 7.5 <= elapsed <= 9.5
    assert 7 <= requests <= 9  # one at the start and one per second of silence
    assert gcs.wait_text("Mission upload timeout")


def test_clear_all_and_refusal_in_auto(make_sim, make_gcs) -> None:
    sim = make_sim(speedup=20.0, params={"DISARM_DELAY": 60})
    gcs = make_gcs(sim)
    assert gcs.upload(waypoints(LAT, LON, 3)).ack == ACCEPTED
    gcs.send(gcs.mav.mission_clear_all_encode(1, 1, 0))
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == ACCEPTED
    got = gcs.download()
    assert got is not None and len(got) == 1  # only home is left
    # A running mission cannot be cleared.
    assert gcs.upload(waypoints(LAT, LON, 3)).ack == ACCEPTED
    wait_sim_time(sim, 6.5)
    assert gcs.set_mode(4) == mavlink2.MAV_RESULT_ACCEPTED
    assert gcs.command(400, 1) == mavlink2.MAV_RESULT_ACCEPTED
    assert gcs.command(300) == mavlink2.MAV_RESULT_ACCEPTED
    gcs.send(gcs.mav.mission_clear_all_encode(1, 1, 0))
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_ERROR


def _fence_items() -> list[tuple]:  # type: ignore[type-arg]
    d = 0.001
    poly = [(LAT - d, LON - d), (LAT - d, LON + d), (LAT + d, LON + d), (LAT + d, LON - d)]
    items: list[tuple] = [(5001, 0, 4, 0, 0, 0, la, lo, 0.0) for la, lo in poly]  # type: ignore[type-arg]
    items.append((5004, 0, 20.0, 0, 0, 0, LAT + 0.0005, LON, 0.0))
    items.append((5000, 0, 0, 0, 0, 0, LAT, LON, 0.0))
    return items


def test_fence_and_rally_round_trip(make_sim, make_gcs) -> None:
    sim = make_sim()
    gcs = make_gcs(sim)
    fence = _fence_items()
    assert gcs.upload(fence, mission_type=1).ack == ACCEPTED
    got = gcs.download(mission_type=1)
    assert got is not None and [i.command for i in got] == [5001] * 4 + [5004, 5000]
    assert got[4].param1 == pytest.approx(20.0)
    assert got[0].x == round(fence[0][6] * 1e7)
    rally = [(5100, 3, 0, 0, 0, 0, LAT + 0.0004, LON, 30.0), (5100, 3, 0, 0, 0, 0, LAT, LON + 0.0004, 25.0)]
    assert gcs.upload(rally, mission_type=2).ack == ACCEPTED
    got = gcs.download(mission_type=2)
    assert got is not None and [i.command for i in got] == [5100, 5100] and got[1].z == pytest.approx(25.0)
    assert sim.ap.params.get("FENCE_TOTAL") == 6 and sim.ap.params.get("RALLY_TOTAL") == 2
    # The mission list is untouched by the other two.
    assert len(gcs.download(mission_type=0) or []) == 1


def test_bad_fence_polygon_is_refused(make_sim, make_gcs) -> None:
    gcs = make_gcs(make_sim())
    fence = _fence_items()[:3]  # three vertices of a polygon declared with four
    assert gcs.upload(fence, mission_type=1).ack == mavlink2.MAV_MISSION_ERROR
    assert gcs.upload([(5001, 0, 2, 0, 0, 0, LAT, LON, 0.0)] * 2, mission_type=1).ack == mavlink2.MAV_MISSION_ERROR
    assert gcs.wait_text("Invalid vertex count (2)")
    assert gcs.upload([(5003, 0, 0.0, 0, 0, 0, LAT, LON, 0.0)], mission_type=1).ack == mavlink2.MAV_MISSION_ERROR
    assert gcs.wait_text("Non-positive circle radius")
    assert gcs.upload([(5001, 0, 300, 0, 0, 0, LAT, LON, 0.0)], mission_type=1).ack == (
        mavlink2.MAV_MISSION_INVALID_PARAM1
    )
    assert gcs.upload([(5003, 2, 10.0, 0, 0, 0, LAT, LON, 0.0)], mission_type=1).ack == (
        mavlink2.MAV_MISSION_UNSUPPORTED_FRAME
    )
    assert gcs.upload([(16, 0, 0, 0, 0, 0, LAT, LON, 0.0)], mission_type=2).ack == mavlink2.MAV_MISSION_UNSUPPORTED


def test_fence_and_rally_need_mavlink2(make_sim, make_gcs) -> None:
    sim = make_sim()
    gcs = make_gcs(sim, mavlink1=True)
    gcs.send(gcs.mav.mission_count_encode(1, 1, 2, 1))
    ack = gcs.recv("MISSION_ACK", 3.0)
    assert ack is not None and ack.type == mavlink2.MAV_MISSION_UNSUPPORTED
    assert gcs.wait_text("Need mavlink2 for item transfer")
    # The mission itself still transfers over MAVLink 1.
    assert gcs.upload(waypoints(LAT, LON, 2)).ack == ACCEPTED
