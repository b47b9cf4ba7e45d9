"""Link kinds and recovery: UDP, a TCP drop and reconnect, MAVLink 2 signing."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drone_patrol.controller import Vehicle, VehicleEvent
from drone_patrol.controller.link import signing_key_from_secret
from drone_patrol.core.errors import LinkError
from drone_patrol.sim.copter import SimulatedCopter
from tests.controller.conftest import SPEEDUP, make_config
from tests.controller.missions import HOME, small_mission


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_udp_ground_station_link() -> None:
    port = _free_udp_port()
    with SimulatedCopter(home=HOME, speedup=SPEEDUP, udp_out=("127.0.0.1", port)) as sim:
        config = make_config(f"udpin:127.0.0.1:{port}")
        with Vehicle.connect(config.connection, config, timeout_s=10) as vehicle:
            assert vehicle.link.spec.kind == "udpin"
            assert vehicle.wait_for(lambda s: s.position is not None and s.ekf_ok, 5.0) is not None
            vehicle.mission.upload(small_mission())
            assert sim.truth().mode == "STABILIZE"
            vehicle.action.set_mode("LOITER")
            assert sim.truth().mode == "LOITER"


def test_tcp_drop_is_reported_and_the_link_reopens() -> None:
    events: list[VehicleEvent] = []
    first = SimulatedCopter(home=HOME, speedup=SPEEDUP).start()
    port = first.port
    config = make_config(first.connection_string)
    vehicle = Vehicle.connect(config.connection, config, timeout_s=10)
    try:
        vehicle.subscribe_events(events.append)
        first.stop()  # the vehicle end closes the TCP connection
        assert _wait(lambda: any(e.kind == "link_lost" for e in events), 5.0)
        assert not vehicle.link_alive
        second = SimulatedCopter(home=HOME, speedup=SPEEDUP, port=port).start()
        try:
            assert _wait(lambda: any(e.kind == "link_restored" for e in events), 10.0)
            # one reconnect, or two when an attempt reached the port while the new vehicle was starting
            assert vehicle.health.reconnects >= 1 and vehicle.link_alive
            vehicle.mission.upload(small_mission())  # and it works again
        finally:
            second.stop()
    finally:
        vehicle.close()


def test_signed_link_talks_to_a_signing_peer_and_refuses_unsigned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A MAVLink 2 signing peer (pymavlink with the same key) hears our signed heartbeat and we hear its."""
    key = "night patrol secret"
    monkeypatch.setenv("DRONE_PATROL_SIGNING_KEY", key)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    heard: list[str] = []
    stop = threading.Event()

    def peer() -> None:
        conn, _ = server.accept()
        mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
        mav.signing.secret_key = signing_key_from_secret(key)
        mav.signing.sign_outgoing = True
        mav.signing.link_id = 1
        mav.signing.timestamp = int((time.time() - 1420070400) * 100 * 1000)
        conn.settimeout(0.05)
        while not stop.is_set():
            hb = mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 3, 3)
            try:
                conn.sendall(hb.pack(mav))
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:  # the controller closed the link
                break
            for msg in mav.parse_buffer(data) or []:
                heard.append(msg.get_type())
        conn.close()

    thread = threading.Thread(target=peer, daemon=True)
    thread.start()
    try:
        config = make_config(f"tcp:127.0.0.1:{port}")
        with Vehicle.connect(config.connection, config, timeout_s=5) as vehicle:
            signing = vehicle.link._conn.mav.signing
            assert signing.sign_outgoing and len(signing.secret_key) == 32
            assert vehicle.link.target_system == 1
            assert _wait(lambda: "HEARTBEAT" in heard, 3.0)  # the peer drops unsigned or badly signed frames
    finally:
        stop.set()
        thread.join(2.0)
        server.close()


def test_a_signing_controller_ignores_an_unsigned_vehicle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRONE_PATROL_SIGNING_KEY", "night patrol secret")
    with SimulatedCopter(home=HOME, speedup=SPEEDUP) as sim:
        config = make_config(sim.connection_string)
        with pytest.raises(LinkError, match="signing"):
            Vehicle.connect(config.connection, config, timeout_s=1.0)


def _wait(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False
