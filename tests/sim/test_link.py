"""The faulty-link proxy: drop, duplicate, delay, reorder and cut, counted and repeatable with a seed."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.sim.link import FaultyLink, LinkFaults
from tests.sim.conftest import HOME, wait_until
from tests.sim.gcs import Gcs, waypoints


class Sink:
    """A TCP server that decodes what arrives and notes when."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[tuple[float, int]] = []  # (arrival time, sequence carried in custom_mode)
        self.raw = bytearray()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn, _ = self.server.accept()
        self.conn = conn
        mav = mavlink2.MAVLink(None)
        mav.robust_parsing = True
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.raw += data
            now = time.monotonic()
            for msg in mav.parse_buffer(data) or []:
                if msg.get_type() == "HEARTBEAT":
                    self.received.append((now, msg.custom_mode))

    def close(self) -> None:
        self.server.close()
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()


def _packets(n: int) -> list[bytes]:
    mav = mavlink2.MAVLink(None, srcSystem=255, srcComponent=190)
    return [mav.heartbeat_encode(6, 8, 0, i, 0).pack(mav) for i in range(n)]


def _run(n: int, **faults: float) -> tuple[FaultyLink, Sink]:
    sink = Sink()
    link = FaultyLink(target=("127.0.0.1", sink.port), seed=int(faults.pop("seed", 1)), **faults).start()  # type: ignore[arg-type]
    client = socket.create_connection(("127.0.0.1", link.port))
    for pkt in _packets(n):
        client.sendall(pkt)

    def done() -> bool:  # every frame read, released and received
        up = link.stats.up
        released = up.forwarded + up.cut_dropped == up.packets - up.dropped + up.duplicated
        return up.packets == n and released and len(sink.received) == up.forwarded

    assert wait_until(done, 10.0)
    time.sleep(0.05)
    client.close()
    return link, sink


def test_drop_and_dup_rates_with_a_seed() -> None:
    link, sink = _run(2000, drop=0.2, dup=0.05, seed=7)
    try:
        up = link.stats.up
        assert up.packets == 2000
        assert up.dropped / 2000 == pytest.approx(0.2, abs=0.03)
        assert up.duplicated / (2000 - up.dropped) == pytest.approx(0.05, abs=0.015)
        assert up.forwarded == 2000 - up.dropped + up.duplicated == len(sink.received)
        seqs = [s for _, s in sink.received]
        assert seqs == sorted(seqs)  # no reordering asked for: order kept, duplicates adjacent
    finally:
        link.stop()
        sink.close()
    # The same seed meets the same faults; another seed does not.
    again, sink2 = _run(2000, drop=0.2, dup=0.05, seed=7)
    other, sink3 = _run(2000, drop=0.2, dup=0.05, seed=8)
    try:
        assert [s for _, s in sink2.received] == seqs
        assert [s for _, s in sink3.received] != seqs
        assert again.stats.up.dropped == up.dropped and again.stats.up.duplicated == up.duplicated
    finally:
        for item in (again, other):
            item.stop()
        sink2.close()
        sink3.close()


def test_delay_and_jitter() -> None:
    sink = Sink()
    link = FaultyLink(target=("127.0.0.1", sink.port), delay_ms=60, jitter_ms=20, seed=3).start()
    try:
        client = socket.create_connection(("127.0.0.1", link.port))
        sent = []
        for pkt in _packets(40):
            sent.append(time.monotonic())
            client.sendall(pkt)
            time.sleep(0.01)
        assert wait_until(lambda: len(sink.received) == 40, 5.0)
        delays = [(t - sent[s]) * 1000 for t, s in sink.received]
        assert min(delays) >= 39.0
        assert 50.0 <= sum(delays) / len(delays) <= 120.0
        assert link.stats.up.mean_delay_ms == pytest.approx(60.0, abs=10.0)
        client.close()
    finally:
        link.stop()
        sink.close()


def test_reorder() -> None:
    link, sink = _run(500, reorder=0.1, seed=5)
    try:
        seqs = [s for _, s in sink.received]
        assert sorted(seqs) == list(range(500))
        assert seqs != sorted(seqs)
        assert link.stats.up.reordered == pytest.approx(50, abs=20)
    finally:
        link.stop()
        sink.close()


def test_cut_until_restore_and_timed_cut() -> None:
    sink = Sink()
    link = FaultyLink(target=("127.0.0.1", sink.port)).start()
    try:
        client = socket.create_connection(("127.0.0.1", link.port))
        pkts = _packets(30)
        for pkt in pkts[:10]:
            client.sendall(pkt)
        assert wait_until(lambda: len(sink.received) == 10, 3.0)
        link.cut()
        assert link.is_cut
        for pkt in pkts[10:20]:
            client.sendall(pkt)
        assert wait_until(lambda: link.stats.up.cut_dropped == 10, 3.0)
        assert len(sink.received) == 10
        link.restore()
        for pkt in pkts[20:25]:
            client.sendall(pkt)
        assert wait_until(lambda: len(sink.received) == 15, 3.0)
        link.cut(duration_s=0.2)
        assert link.is_cut
        time.sleep(0.3)
        assert not link.is_cut
        for pkt in pkts[25:]:
            client.sendall(pkt)
        assert wait_until(lambda: len(sink.received) == 20, 3.0)
        stats = link.stats
        assert stats.cuts == 2 and stats.connections == 1 and stats.open_connections == 1
        assert "lost in cuts" in stats.summary()
        client.close()
    finally:
        link.stop()
        sink.close()


def test_bytes_outside_frames_pass_through() -> None:
    sink = Sink()
    link = FaultyLink(target=("127.0.0.1", sink.port), drop=0.0).start()
    try:
        client = socket.create_connection(("127.0.0.1", link.port))
        client.sendall(b"hello" + _packets(1)[0])
        assert wait_until(lambda: len(sink.received) == 1, 3.0)
        assert bytes(sink.raw).startswith(b"hello")
        assert link.stats.up.unframed_bytes == 5
        client.close()
    finally:
        link.stop()
        sink.close()


def test_per_direction_faults_and_bad_values() -> None:
    with pytest.raises(ValueError):
        LinkFaults(drop=1.5)
    with pytest.raises(ValueError):
        LinkFaults(delay_ms=-1)
    link = FaultyLink(target=("127.0.0.1", 9), up=LinkFaults(drop=0.5), down=LinkFaults(delay_ms=5))
    assert link.faults["up"].drop == 0.5 and link.faults["down"].drop == 0.0


def test_mission_upload_through_a_lossy_link(make_sim) -> None:
    sim = make_sim(speedup=10.0)
    with FaultyLink(target=("127.0.0.1", sim.port), drop=0.1, dup=0.02, delay_ms=5, jitter_ms=3, seed=11) as link:
        gcs = Gcs(f"tcp:127.0.0.1:{link.port}")
        try:
            assert gcs.recv("HEARTBEAT", 5.0) is not None
            items = waypoints(HOME.latitude_deg, HOME.longitude_deg, 30)
            for _attempt in range(5):  # the count or the final ACK itself may be lost
                result = gcs.upload(items, timeout=30.0, reply_timeout=0.5)
                if result.ack == 0:
                    break
            assert result.ack == 0
            assert sim.ap.store.count(0) == 31
            stats = link.stats
            assert stats.up.dropped > 0 and stats.down.dropped > 0
        finally:
            gcs.close()
