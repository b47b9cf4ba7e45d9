"""Live drone state and the event fan-out to pages."""

from __future__ import annotations

from drone_patrol.dashboard.model import Status, parse_telemetry
from drone_patrol.dashboard.state import EventHub, Fleet, pump_events


def test_frames_are_announced_at_most_at_the_configured_rate() -> None:
    fleet = Fleet(track_points=10, offline_after_s=10)
    announced = [
        fleet.add_frame("s", "d", b"\xff\xd8" + bytes([i]), now_s=i * 0.1, min_interval_s=0.25) for i in range(10)
    ]
    assert [a for a in announced if a is not None] == [1, 4, 7, 10]
    frame = fleet.frame("s", "d")
    assert frame is not None and frame[1] == 10 and frame[0].endswith(bytes([9]))


def test_track_is_bounded_and_link_goes_stale_then_offline() -> None:
    fleet = Fleet(track_points=3, offline_after_s=5)
    fleet.set_status("s", "d", Status(online=True, time_s=None, detail={"state": "online"}), now_s=0)
    for i in range(5):
        sample = parse_telemetry("t", f'{{"latitude_deg": {25 + i * 1e-4}, "longitude_deg": 110}}'.encode(), i)
        fleet.add_telemetry("s", "d", sample, now_s=i)
    view = fleet.snapshot(now_s=5)[0]
    assert len(view["track"]) == 3 and view["track"][-1] == [25 + 4e-4, 110]
    assert view["link"] == "online"
    assert fleet.snapshot(now_s=20)[0]["link"] == "stale"
    fleet.set_status("s", "d", Status(online=False, time_s=None, detail={"state": "offline"}), now_s=21)
    assert fleet.snapshot(now_s=21)[0]["link"] == "offline"


def test_telemetry_from_a_drone_whose_status_never_came_says_online() -> None:
    fleet = Fleet(track_points=3, offline_after_s=5)
    fleet.add_telemetry("s", "d", parse_telemetry("t", b'{"latitude_deg": 25, "longitude_deg": 110}', 0), now_s=0)
    view = fleet.snapshot(now_s=1)[0]
    assert view["online"] is True and view["link"] == "online"
    fleet.set_status("s", "d", Status(online=False, time_s=None, detail={"state": "offline"}), now_s=2)
    assert fleet.snapshot(now_s=2)[0]["online"] is False  # the last will still wins


def test_a_slow_page_loses_old_events_and_is_told() -> None:
    hub = EventHub(queue_size=3)
    fast, slow = hub.subscribe(), hub.subscribe()
    for i in range(5):
        hub.publish("alert", {"n": i})
        got = fast.get(0.1)
        assert got is not None and got.data == {"n": i}
    assert slow.overflowed
    remaining = [slow.get(0.01) for _ in range(3)]
    assert [e.data["n"] for e in remaining if e is not None] == [2, 3, 4]
    assert b"event: alert\n" in remaining[0].encode()  # type: ignore[union-attr]
    slow.close()
    assert hub.subscriber_count == 1


def test_event_stream_framing_keepalive_and_stop() -> None:
    import io
    import threading

    hub = EventHub()
    sub = hub.subscribe()
    stopping = threading.Event()
    out = io.BytesIO()
    hub.publish("alert", {"incident_id": "i-1"})
    timer = threading.Timer(0.7, stopping.set)
    timer.start()
    pump_events(out, sub, stopping, broker_connected=True)
    text = out.getvalue().decode()
    assert text.startswith('retry: 2000\nevent: broker\ndata: {"connected": true, "detail": ""}\n\n')
    assert 'id: 1\nevent: alert\ndata: {"incident_id":"i-1"}\n\n' in text


def test_a_command_state_never_goes_back() -> None:
    fleet = Fleet(track_points=10, offline_after_s=10)
    cid = {"command_id": "c-1", "kind": "eyes_on"}
    fleet.set_command("dongxi", "drone-1", {**cid, "state": "refused", "reason": "outside the geofence"})
    shown = fleet.set_command("dongxi", "drone-1", {**cid, "state": "sent", "lat_deg": 25.28})  # the send's own, late
    assert shown["state"] == "refused" and shown["reason"] == "outside the geofence" and shown["lat_deg"] == 25.28
    fleet.set_command("dongxi", "drone-1", {"command_id": "c-2", "state": "on_station"})
    assert fleet.set_command("dongxi", "drone-1", {"command_id": "c-2", "state": "accepted"})["state"] == "on_station"
    assert fleet.set_command("dongxi", "drone-1", {"command_id": "c-2", "state": "completed"})["state"] == "completed"
