""" "Eyes on" end to end: a real Mosquitto with the shipped ACL, the patrol service on the simulated copter,
the command room's client. Alert -> command -> the drone orbits the point (in GUIDED, holding the altitude
asked) -> release -> the patrol completes, and every refusal reason answered over MQTT while the patrol flies."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.alerts.command_client import CommandClient, CommandRefusedError
from drone_patrol.alerts.connection import Topics
from drone_patrol.alerts.eyes_on import CommandState, eyes_on_event
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.controller import Phase
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint
from drone_patrol.service.session import PatrolSession, VehicleSource
from tests.alerts.helpers import wait_until
from tests.brokers import mosquitto_broker, requires_mosquitto
from tests.service.test_patrol_e2e import settings_for

ROOT = Path(__file__).resolve().parents[2]
ACL = (ROOT / "configs" / "mosquitto" / "dronepatrol.acl").read_text()
USERS = {"drone-1": "drone-secret", "command-room": "room-secret"}
S = CommandState


def refusal(room: CommandClient, cid: str) -> tuple[str, str]:
    result = room.wait_for(cid, "refused", 15.0)
    assert result.reason is not None
    return result.reason.code, result.reason.text


@requires_mosquitto
def test_eyes_on_from_an_alert_orbits_the_point_and_the_patrol_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fly_eyes_on(tmp_path, monkeypatch, VehicleSource())


@dataclass
class Rig:
    """A patrol in flight on ``session`` and the command room's clients on the same Mosquitto."""

    session: PatrolSession
    room: CommandClient
    alerts: list[dict[str, Any]]
    flight: threading.Thread
    out: list[Any]
    site: str
    drone: str


@contextlib.contextmanager
def patrol_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: VehicleSource, extra_features: tuple[Any, ...] = ()
) -> Iterator[Rig]:
    """Mosquitto with the shipped ACL, the room's watcher and command client, and a patrol being flown
    (over the two-cell sample areas and ``extra_features``)."""
    with mosquitto_broker(tmp_path / "mq", users=USERS, acl=ACL) as broker:
        monkeypatch.setenv("DRONE_PATROL_MQTT_PASSWORD", "drone-secret")
        settings = settings_for(
            tmp_path, "fires_in_alleys.geojson", broker_url=broker.url, embedded_broker=False, username="drone-1"
        )
        if extra_features:
            areas = Path(settings.site.areas_file)
            doc = json.loads(areas.read_text())
            areas.write_text(json.dumps({**doc, "features": [*doc["features"], *extra_features]}))
        alerts: list[dict[str, Any]] = []
        watcher = AlertSubscriber(broker.url, site=settings.site.id, on_alert=alerts.append, persistent=False,
                                  username="command-room", password="room-secret").start(wait_s=5)  # fmt: skip
        room = CommandClient(broker.url, settings.site.id, username="command-room", password="room-secret")
        room.start(wait_s=5)
        session = PatrolSession(settings, source, out_dir=tmp_path / "out")
        try:
            with session:
                _, missions, _ = session.plan()
                session.start_publisher()
                session.start_vehicle()
                session.start_camera()
                out: list[Any] = []
                flight = threading.Thread(target=lambda: out.append(session.fly(missions[0])), daemon=True)
                flight.start()
                yield Rig(session, room, alerts, flight, out, settings.site.id, settings.site.drone_id)
                flight.join(600.0)
                assert not flight.is_alive()
        finally:
            room.stop()
            watcher.stop()


def fly_eyes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: VehicleSource) -> None:
    """The whole "eyes on" flow on the vehicle ``source`` gives (the simulator here, SITL in tests/sitl)."""
    with patrol_in_flight(tmp_path, monkeypatch, source) as rig:
        session, room, alerts, site, drone = rig.session, rig.room, rig.alerts, rig.site, rig.drone
        vehicle = session.vehicle
        assert vehicle is not None

        # a fire alert reaches the room while the patrol flies
        def fire() -> dict[str, Any] | None:
            for e in list(alerts):
                if e["data"]["kind"] == "thermal_hotspot" and e["data"]["location"]:
                    return e
            return None

        assert wait_until(lambda: fire() is not None, 300.0), "no fire alert"
        assert wait_until(lambda: drone in room.known_drones, 5.0)
        assert session._current is not None and session._current.executor.phase == Phase.MISSION
        loc = fire()["data"]["location"]  # type: ignore[index]
        target = GeoPoint(loc["latitude_deg"], loc["longitude_deg"])

        # refused, each for its reason, answered on the result topic while the patrol goes on
        code, text = refusal(room, room.eyes_on(drone, 25.2900, 110.3000, 60.0, "officer-7"))
        assert code == "outside_fence" and "(25.290000, 110.300000) is outside the geofence" in text
        code, text = refusal(room, room.eyes_on(drone, 25.28333, 110.29734, 60.0, "officer-7"))
        assert code == "in_no_fly" and "'hospital-helipad'" in text
        code, text = refusal(room, room.eyes_on(drone, target.latitude_deg, target.longitude_deg, 3000.0,
                                                "officer-7"))  # fmt: skip
        assert code == "battery" and "watching 3000 s" in text and "25% reserve" in text
        code, text = refusal(room, room.eyes_on(drone, target.latitude_deg, target.longitude_deg, 60.0,
                                                "officer-7", altitude_m=300.0))  # fmt: skip
        assert code == "altitude" and "300 m is outside 15-120 m" in text
        bad = eyes_on_event("bad-1", 25.2823, 110.2972, 60.0, "officer-7", site=site)
        del bad["data"]["lat_deg"]
        room._publish_confirmed(Topics(site, drone).commands, bad, 5.0, bad["id"])
        code, text = refusal(room, "bad-1")
        assert code == "malformed" and "'lat_deg' is a required property" in text
        foreign = eyes_on_event("foreign-1", target.latitude_deg, target.longitude_deg, 60.0, "x", site="beihai")
        room._publish_confirmed(Topics(site, drone).commands, foreign, 5.0, foreign["id"])
        assert refusal(room, "foreign-1")[0] == "unknown_site"
        with pytest.raises(CommandRefusedError) as caught:
            room.eyes_on("drone-9", target.latitude_deg, target.longitude_deg, 60.0, "officer-7")
        assert caught.value.code == "unknown_drone"
        assert session._current.executor.phase == Phase.MISSION

        # accepted: the drone leaves the patrol, flies there and orbits the point
        left_seq = vehicle.state.mission_current_seq
        altitude_m = session.settings.planner.altitude_m  # the watch's altitude when the command names none
        # 300 s: far longer than the 40 s watched before the release, and within the battery
        # however late in the patrol the fire is seen (600 s was refused on SITL at 73% left)
        cid = room.eyes_on(drone, target.latitude_deg, target.longitude_deg, 300.0, "officer-7",
                           command_id="eyes-1")  # fmt: skip
        room.wait_for(cid, "accepted", 10.0)
        room.wait_for(cid, "on_station", 120.0)
        assert session.publisher is not None
        video_before = session.publisher.metrics["video_sent"]
        frame = LocalFrame(target)
        track: list[tuple[float, float]] = []
        altitudes: list[float] = []
        # 40 s of the vehicle's own clock: more than one loop of 18 s, however fast the
        # vehicle keeps up with its speedup on a loaded machine (the wall limit only stops a hang)
        started_vehicle_s = vehicle.state.vehicle_time_s
        assert started_vehicle_s is not None
        deadline = time.monotonic() + 240.0
        while (vehicle.state.vehicle_time_s or 0.0) - started_vehicle_s < 40.0:
            assert time.monotonic() < deadline, "the vehicle's clock stalled while orbiting"
            st = vehicle.state
            p = st.position
            # GUIDED, not CIRCLE: CIRCLE would take the climb rate from the idle throttle stick and sink
            assert p is not None and st.mode == "GUIDED"
            e, n, _ = frame.point_to_enu(GeoPoint(p.latitude_deg, p.longitude_deg, 0.0))
            if not track or track[-1] != (e, n):
                track.append((e, n))
                altitudes.append(st.relative_altitude_m)
            time.sleep(0.02)
        radius = session.eyes_on.guided.circle_radius_m()  # type: ignore[union-attr]
        dists = [math.hypot(e, n) for e, n in track]
        centre = (sum(e for e, _ in track) / len(track), sum(n for _, n in track) / len(track))
        print(f"orbit of {radius:g} m: radius {min(dists):.1f}-{max(dists):.1f} m, altitude "
              f"{min(altitudes):.1f}-{max(altitudes):.1f} m (asked {altitude_m:g} m), {len(track)} fixes")  # fmt: skip
        assert math.hypot(*centre) < 5.0, centre
        assert all(abs(d - radius) < 5.0 for d in dists), (min(dists), max(dists))
        # the altitude holds throughout the watch: no sinking toward the ground
        assert all(abs(a - altitude_m) < 3.0 for a in altitudes), (min(altitudes), max(altitudes))
        bearings = {int(math.degrees(math.atan2(e, n)) % 360 // 45) for e, n in track}
        assert len(bearings) == 8  # all the way round
        assert session.publisher.metrics["video_sent"] > video_before  # the live view goes on
        assert session._current.executor.phase == Phase.PAUSED

        # the same command again (a second click, a redelivery) changes nothing
        room.eyes_on(drone, target.latitude_deg, target.longitude_deg, 300.0, "officer-7", command_id=cid)
        assert wait_until(lambda: len(room.results(cid)) == 4, 10.0)
        assert room.results(cid)[-1].state is S.ON_STATION

        assert abs(vehicle.state.relative_altitude_m - altitude_m) < 3.0  # still up there at the end of the watch
        room.release(drone, cid, "officer-7")
        room.wait_for(cid, "released", 10.0)
        assert wait_until(lambda: session._current is None
                          or session._current.executor.phase == Phase.MISSION, 60.0)  # fmt: skip
    report = rig.out[0].report
    assert report.outcome == "completed", report.summary()
    assert min(s for s in report.reached_seqs if s >= left_seq) == left_seq  # resumed at the item it left
    assert [r.state for r in rig.room.results(cid)] == [S.ACCEPTED, S.EN_ROUTE, S.ON_STATION, S.ON_STATION,
                                                         S.RELEASED]  # fmt: skip
    assert not vehicle.state.armed


@requires_mosquitto
def test_a_battery_failsafe_during_the_watch_fails_the_command_and_brings_the_drone_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with patrol_in_flight(tmp_path, monkeypatch, VehicleSource()) as rig:
        session = rig.session
        assert wait_until(lambda: session._current is not None and session._current.executor.phase == Phase.MISSION
                          and rig.drone in rig.room.known_drones, 120.0)  # fmt: skip
        cid = rig.room.eyes_on(rig.drone, 25.2824, 110.2977, 600.0, "officer-7")
        rig.room.wait_for(cid, "on_station", 120.0)
        assert session.sim is not None
        session.sim.set_battery_percent(20.0)  # below the controller's battery limit: RTL
        with pytest.raises(CommandRefusedError) as caught:
            rig.room.wait_for(cid, "completed", 60.0)
        assert caught.value.code == "interrupted" and "the patrol took the vehicle back" in str(caught.value)
    report = rig.out[0].report
    assert report.outcome == "returned_early" and "battery" in report.failsafes[0], report.summary()
    assert [r.state for r in rig.room.results(cid)][-1] is S.FAILED


@requires_mosquitto
def test_the_way_there_goes_round_a_no_fly_zone_in_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    centre = GeoPoint(25.28235, 110.29745)  # between the two patrolled cells
    frame = LocalFrame(centre)
    square = [frame.enu_to_point(e, n) for e, n in ((-6, -6), (6, -6), (6, 6), (-6, 6), (-6, -6))]
    roof = {
        "type": "Feature",
        "properties": {"name": "school-roof", "role": "no_fly"},
        "geometry": {"type": "Polygon", "coordinates": [[[p.longitude_deg, p.latitude_deg] for p in square]]},
    }
    with patrol_in_flight(tmp_path, monkeypatch, VehicleSource(), (roof,)) as rig:
        session, vehicle = rig.session, rig.session.vehicle
        assert vehicle is not None

        def far_enough() -> bool:  # patrolling, 45 m or more from the roof
            st = vehicle.state
            run = session._current
            if run is None or run.executor.phase != Phase.MISSION or st.position is None:
                return False
            e, n, _ = frame.point_to_enu(st.position)
            return math.hypot(e, n) > 45.0 and rig.drone in rig.room.known_drones

        assert wait_until(far_enough, 120.0)
        here = vehicle.state.position
        assert here is not None
        e, n, _ = frame.point_to_enu(here)
        d = math.hypot(e, n)
        target = frame.enu_to_point(-e / d * 35.0, -n / d * 35.0)  # across the roof: the straight line crosses it
        cid = rig.room.eyes_on(rig.drone, target.latitude_deg, target.longitude_deg, 30.0, "officer-7")
        rig.room.wait_for(cid, "accepted", 10.0)
        track: list[float] = []
        while not [r for r in rig.room.results(cid) if r.state is S.ON_STATION]:
            p = vehicle.state.position
            assert p is not None
            pe, pn, _ = frame.point_to_enu(p)
            track.append(math.hypot(max(abs(pe) - 6.0, 0.0), max(abs(pn) - 6.0, 0.0)))  # metres from the roof
            assert len(track) < 20000, "no on_station"
            time.sleep(0.01)
        rig.room.wait_for(cid, "completed", 60.0)
    # never over the roof nor in its 10 m margin, give or take the 1.5 m that counts as arriving at a leg's end
    assert min(track) > 10.0 - 1.5, min(track)
    assert rig.out[0].report.outcome == "completed"


@requires_mosquitto
def test_a_command_before_the_vehicle_is_up_waits_and_is_refused_once_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drone's link is up, the vehicle not yet: the command is held, unacknowledged (a crash now and
    the broker sends it again), and answered (not_flying, no patrol) as soon as the service takes commands."""
    with mosquitto_broker(tmp_path / "mq", users=USERS, acl=ACL) as broker:
        monkeypatch.setenv("DRONE_PATROL_MQTT_PASSWORD", "drone-secret")
        settings = settings_for(
            tmp_path, "fires_in_alleys.geojson", broker_url=broker.url, embedded_broker=False, username="drone-1"
        )
        room = CommandClient(broker.url, settings.site.id, username="command-room", password="room-secret")
        room.start(wait_s=5)
        try:
            with PatrolSession(settings, VehicleSource(), out_dir=tmp_path / "out") as session:
                pub = session.start_publisher()
                assert wait_until(lambda: pub.connected, 10)
                cid = room.eyes_on(settings.site.drone_id, 25.2823, 110.2972, 60.0, "officer-7")
                assert wait_until(lambda: pub.metrics["commands_received"] == 1, 10), pub.metrics
                assert pub.metrics["received_unacknowledged"] == 1  # held: no PUBACK yet
                session.start_vehicle()
                assert refusal(room, cid)[0] == "not_flying"
                assert wait_until(lambda: pub.metrics["received_unacknowledged"] == 0, 10), pub.metrics
        finally:
            room.stop()
