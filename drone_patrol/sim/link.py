"""A faulty MAVLink link: a TCP proxy that drops, duplicates, delays and reorders packets.

``FaultyLink`` listens for ground stations (controllers) and opens one connection
to the vehicle per client. The byte stream of each direction is cut into MAVLink
1 and 2 frames (by start byte and length, signature included; the CRC is left for
the receiver to judge, so corrupt frames pass through as a radio would pass them),
and each frame independently:

- is dropped with probability ``drop``;
- is sent twice with probability ``dup``;
- waits ``delay_ms`` plus a uniform jitter in [-``jitter_ms``, +``jitter_ms``]
  (never below zero), keeping the stream's order;
- is held back with probability ``reorder`` so that the frames behind it overtake it
  (by ``delay_ms + jitter_ms + 50`` ms);
- is lost while the link is cut (``cut()``; frames in flight when it is cut are lost too).

"up" is controller -> vehicle, "down" vehicle -> controller; each direction can
have its own ``LinkFaults``. The random draws come from ``seed`` (one generator per
direction and connection), so the same traffic meets the same faults. Delays are
wall-clock: the link does not know about the simulator's speedup. Bytes outside
any frame are forwarded unchanged and counted.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field, fields

from drone_patrol.sim.net import listen_tcp

UP, DOWN = "up", "down"
REORDER_EXTRA_MS = 50.0


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """The faults applied to one direction."""

    drop: float = 0.0
    dup: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    reorder: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop", "dup", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} {value} outside [0, 1]")
        for name in ("delay_ms", "jitter_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class DirectionStats:
    """Counters of one direction (all connections)."""

    packets: int = 0
    bytes: int = 0
    forwarded: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    cut_dropped: int = 0
    unframed_bytes: int = 0
    delay_ms_total: float = 0.0

    @property
    def mean_delay_ms(self) -> float:
        """Mean added delay of the frames forwarded (duplicates included)."""
        return self.delay_ms_total / self.forwarded if self.forwarded else 0.0


@dataclass
class LinkStats:
    """A snapshot of the link's counters."""

    up: DirectionStats = field(default_factory=DirectionStats)
    down: DirectionStats = field(default_factory=DirectionStats)
    connections: int = 0
    open_connections: int = 0
    cut: bool = False
    cuts: int = 0

    def summary(self) -> str:
        """One line for a person."""
        parts = []
        for name in (UP, DOWN):
            d: DirectionStats = getattr(self, name)
            parts.append(
                f"{name} {d.packets} pkts: {d.forwarded} sent, {d.dropped} dropped, {d.duplicated} dup,"
                f" {d.reordered} reordered, {d.cut_dropped} lost in cuts, mean delay {d.mean_delay_ms:.1f} ms"
            )
        return f"{self.connections} connection(s); " + "; ".join(parts)


class _Framer:
    """Splits a byte stream into MAVLink frames."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> tuple[list[bytes], int]:
        """Return (complete frames, count of bytes outside frames that were passed on as-is in frames list)."""
        self.buf += data
        out: list[bytes] = []
        junk = 0
        buf = self.buf
        while buf:
            i = 0
            while i < len(buf) and buf[i] not in (0xFD, 0xFE):
                i += 1
            if i:
                out.append(bytes(buf[:i]))
                junk += i
                del buf[:i]
                continue
            if buf[0] == 0xFE:
                if len(buf) < 2:
                    break
                total = 8 + buf[1]
            else:
                if len(buf) < 3:
                    break
                total = 12 + buf[1] + (13 if buf[2] & 0x01 else 0)
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out, junk


class _Side:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.out = bytearray()


class _Pair:
    """One proxied connection: controller side and vehicle side."""

    def __init__(self, index: int, client: socket.socket, vehicle: socket.socket, seed: int) -> None:
        self.index = index
        self.client = _Side(client)
        self.vehicle = _Side(vehicle)
        self.framers = {UP: _Framer(), DOWN: _Framer()}
        self.rngs = {UP: random.Random(seed * 7919 + index * 2), DOWN: random.Random(seed * 7919 + index * 2 + 1)}
        self.last_release = {UP: 0.0, DOWN: 0.0}
        self.closed = False

    def dest(self, direction: str) -> _Side:
        return self.vehicle if direction == UP else self.client


class FaultyLink:
    """The proxy. ``start()`` opens the listening socket and the worker thread; ``stop()`` ends both."""

    def __init__(
        self,
        target: tuple[str, int],
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        drop: float = 0.0,
        dup: float = 0.0,
        delay_ms: float = 0.0,
        jitter_ms: float = 0.0,
        reorder: float = 0.0,
        seed: int = 1,
        up: LinkFaults | None = None,
        down: LinkFaults | None = None,
    ) -> None:
        both = LinkFaults(drop, dup, delay_ms, jitter_ms, reorder)
        self.faults = {UP: up or both, DOWN: down or both}
        self.target = target
        self.listen_host = listen_host
        self._listen_port = listen_port
        self.seed = seed
        self.port = 0
        self._lock = threading.Lock()
        self._stats = LinkStats()
        self._pairs: list[_Pair] = []
        self._queue: list[tuple[float, int, _Pair, str, bytes, float]] = []
        self._counter = itertools.count()
        self._cut_until: float | None = None  # monotonic deadline; inf = until restore()
        self._listen: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    # ------------------------------------------------------------------ API
    def start(self) -> FaultyLink:
        """Listen and start forwarding."""
        if self._thread is not None:
            return self
        sock = listen_tcp(self.listen_host, self._listen_port)
        self._listen = sock
        self.port = sock.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ, "listen")
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"faulty-link-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection and stop the thread."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        for pair in self._pairs:
            self._close_pair(pair)
        self._pairs.clear()
        if self._listen is not None:
            self._listen.close()
            self._listen = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                with contextlib.suppress(OSError):
                    s.close()
        self._wake_r = self._wake_w = None

    def __enter__(self) -> FaultyLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cut(self, duration_s: float | None = None) -> None:
        """Lose every frame, both ways, for ``duration_s`` seconds (None: until ``restore()``)."""
        with self._lock:
            self._cut_until = float("inf") if duration_s is None else time.monotonic() + max(0.0, duration_s)
            self._stats.cuts += 1
        self._wake()

    def restore(self) -> None:
        """End a cut now."""
        with self._lock:
            self._cut_until = None
        self._wake()

    @property
    def is_cut(self) -> bool:
        """True while the link is cut."""
        with self._lock:
            return self._cut_active(time.monotonic())

    @property
    def stats(self) -> LinkStats:
        """A copy of the counters."""
        with self._lock:
            s = self._stats
            copy = LinkStats(
                up=DirectionStats(**{f.name: getattr(s.up, f.name) for f in fields(DirectionStats)}),
                down=DirectionStats(**{f.name: getattr(s.down, f.name) for f in fields(DirectionStats)}),
                connections=s.connections,
                open_connections=sum(1 for p in self._pairs if not p.closed),
                cut=self._cut_active(time.monotonic()),
                cuts=s.cuts,
            )
        return copy

    # ------------------------------------------------------------- internals
    def _wake(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

    def _cut_active(self, now: float) -> bool:
        if self._cut_until is None:
            return False
        if now >= self._cut_until:
            self._cut_until = None
            return False
        return True

    def _run(self) -> None:
        sel = self._selector
        assert sel is not None
        while not self._stop.is_set():
            now = time.monotonic()
            timeout = 0.2
            if self._queue:
                timeout = max(0.0, min(timeout, self._queue[0][0] - now))
            try:
                events = sel.select(timeout)
            except (OSError, ValueError):
                break
            for key, mask in events:
                if key.data == "listen":
                    self._accept()
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        key.fileobj.recv(4096)  # type: ignore[union-attr]
                else:
                    pair, side_name = key.data
                    if mask & selectors.EVENT_READ:
                        self._read(pair, side_name)
                    if mask & selectors.EVENT_WRITE:
                        self._flush(pair, pair.client if side_name == "client" else pair.vehicle)
            self._release(time.monotonic())
            self._pairs = [p for p in self._pairs if not p.closed]

    def _accept(self) -> None:
        assert self._listen is not None and self._selector is not None
        try:
            client, _addr = self._listen.accept()
        except (BlockingIOError, InterruptedError):
            return
        try:
            vehicle = socket.create_connection(self.target, timeout=2.0)
        except OSError:
            client.close()  # the vehicle is not there: refuse the client as the vehicle would
            return
        for s in (client, vehicle):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._stats.connections += 1
            index = self._stats.connections
        pair = _Pair(index, client, vehicle, self.seed)
        self._pairs.append(pair)
        self._selector.register(client, selectors.EVENT_READ, (pair, "client"))
        self._selector.register(vehicle, selectors.EVENT_READ, (pair, "vehicle"))

    def _read(self, pair: _Pair, side_name: str) -> None:
        side = pair.client if side_name == "client" else pair.vehicle
        direction = UP if side_name == "client" else DOWN
        try:
            data = side.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close_pair(pair)
            return
        frames, junk = pair.framers[direction].feed(data)
        now = time.monotonic()
        faults = self.faults[direction]
        rng = pair.rngs[direction]
        with self._lock:
            st: DirectionStats = getattr(self._stats, direction)
            st.bytes += len(data)
            st.unframed_bytes += junk
            for frame in frames:
                if frame[0] not in (0xFD, 0xFE):
                    self._schedule(pair, direction, frame, now, 0.0)
                    continue
                st.packets += 1
                # Draw every random number for every frame so a cut does not shift later draws.
                r_drop, r_dup, r_jit, r_reo = rng.random(), rng.random(), rng.random(), rng.random()
                if self._cut_active(now):
                    st.cut_dropped += 1
                    continue
                if r_drop < faults.drop:
                    st.dropped += 1
                    continue
                delay = max(0.0, faults.delay_ms + (2.0 * r_jit - 1.0) * faults.jitter_ms)
                copies = 2 if r_dup < faults.dup else 1
                if copies == 2:
                    st.duplicated += 1
                if r_reo < faults.reorder:
                    st.reordered += 1
                    hold = delay + faults.jitter_ms + REORDER_EXTRA_MS
                    for _ in range(copies):
                        self._schedule(pair, direction, frame, now + hold / 1000.0, hold, keep_order=False)
                    continue
                for _ in range(copies):
                    self._schedule(pair, direction, frame, now + delay / 1000.0, delay)

    def _schedule(
        self, pair: _Pair, direction: str, frame: bytes, when: float, delay_ms: float, keep_order: bool = True
    ) -> None:
        if keep_order:
            when = max(when, pair.last_release[direction])
            pair.last_release[direction] = when
        heapq.heappush(self._queue, (when, next(self._counter), pair, direction, frame, delay_ms))

    def _release(self, now: float) -> None:
        touched: set[int] = set()
        with self._lock:
            cut = self._cut_active(now)
            while self._queue and self._queue[0][0] <= now:
                _, _, pair, direction, frame, delay_ms = heapq.heappop(self._queue)
                if pair.closed:
                    continue
                st: DirectionStats = getattr(self._stats, direction)
                is_frame = frame[0] in (0xFD, 0xFE)
                if cut and is_frame:
                    st.cut_dropped += 1
                    continue
                if is_frame:
                    st.forwarded += 1
                    st.delay_ms_total += delay_ms
                pair.dest(direction).out += frame
                touched.add(id(pair))
        for pair in self._pairs:
            if id(pair) in touched:
                self._flush(pair, pair.vehicle)
                self._flush(pair, pair.client)

    def _flush(self, pair: _Pair, side: _Side) -> None:
        if pair.closed:
            return
        if side.out:
            try:
                n = side.sock.send(side.out)
                del side.out[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._close_pair(pair)
                return
        if self._selector is not None:
            tag = (pair, "client" if side is pair.client else "vehicle")
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if side.out else 0)
            with contextlib.suppress(KeyError, ValueError):
                if self._selector.get_key(side.sock).events != want:
                    self._selector.modify(side.sock, want, tag)

    def _close_pair(self, pair: _Pair) -> None:
        if pair.closed:
            return
        pair.closed = True
        for side in (pair.client, pair.vehicle):
            if self._selector is not None:
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._selector.unregister(side.sock)
            with contextlib.suppress(OSError):
                side.sock.close()
