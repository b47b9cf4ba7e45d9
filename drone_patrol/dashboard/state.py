"""Live state of the drones (status, telemetry, track, latest video frame) and the event fan-out.

:class:`EventHub` hands every event to each connected page through a bounded
queue: a page that stops reading loses its oldest events and is told to
reload, so a stuck browser never holds the MQTT thread.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from drone_patrol.alerts.eyes_on import CommandState
from drone_patrol.dashboard.model import Status, Telemetry, iso_time

KEEPALIVE_S = 15.0

#: Mission states (the executor's phases and the like) in which the drone is in the air on a patrol.
FLYING_STATES = frozenset(
    {"arm", "takeoff", "mission", "paused", "returning", "landing", "patrolling", "flying", "eyes_on"}
)


#: the order of a command's steps (the dashboard's own "sent" first, the drone's final ones last):
#: a report of an earlier one never replaces a later one
_COMMAND_STEP = {"sent": 0} | {s.value: len(CommandState) if s.final else i for i, s in enumerate(CommandState, 1)}


@dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event: its name, its JSON data, and a sequence number."""

    name: str
    data: dict[str, Any]
    seq: int

    def encode(self) -> bytes:
        """The event in ``text/event-stream`` framing."""
        body = json.dumps(self.data, separators=(",", ":"))
        return f"id: {self.seq}\nevent: {self.name}\ndata: {body}\n\n".encode()


class Subscription:
    """One page's queue of events; ``get`` returns ``None`` on timeout."""

    def __init__(self, hub: EventHub, maxsize: int) -> None:
        self._hub = hub
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=maxsize)
        self.overflowed = False

    def put(self, event: Event) -> None:
        """Queue an event; on overflow drop the oldest and remember the loss."""
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                self.overflowed = True
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()

    def get(self, timeout_s: float) -> Event | None:
        """Next event, or ``None`` after ``timeout_s``."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop receiving events."""
        self._hub.unsubscribe(self)


class EventHub:
    """Fan-out of events to every open page."""

    def __init__(self, queue_size: int = 512) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._queue_size = queue_size

    def subscribe(self) -> Subscription:
        """A new subscription; close it when the page goes."""
        sub = Subscription(self, self._queue_size)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription (idempotent)."""
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscriber_count(self) -> int:
        """How many pages are listening."""
        with self._lock:
            return len(self._subs)

    def publish(self, name: str, data: dict[str, Any]) -> Event:
        """Send an event to every subscriber."""
        with self._lock:
            event = Event(name, data, next(self._seq))
            subs = list(self._subs)
        for sub in subs:
            sub.put(event)
        return event


def pump_events(out: io.BufferedIOBase, sub: Subscription, stopping: threading.Event, broker_connected: bool) -> None:
    """Write ``sub``'s events to ``out`` in ``text/event-stream`` framing until ``stopping`` or an I/O error.

    Starts with the reconnection delay and the broker link state; sends a comment
    every :data:`KEEPALIVE_S` when idle (so proxies and browsers keep the stream);
    a subscriber that overflowed is told to ``reload`` and the stream ends.
    """
    link = json.dumps({"connected": broker_connected, "detail": ""})
    out.write(f"retry: 2000\nevent: broker\ndata: {link}\n\n".encode())
    out.flush()
    idle_s = 0.0
    while not stopping.is_set():
        event = sub.get(0.5)
        if sub.overflowed:
            out.write(b'event: reload\ndata: {"reason":"slow reader"}\n\n')
            out.flush()
            return
        if event is None:
            idle_s += 0.5
            if idle_s >= KEEPALIVE_S:
                out.write(b": keep-alive\n\n")
                out.flush()
                idle_s = 0.0
            continue
        idle_s = 0.0
        out.write(event.encode())
        out.flush()


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    v = _num(value)
    return int(v) if v is not None and v >= 0 else None


def _positive_int(value: Any) -> int | None:
    v = _count(value)
    return v if v else None


@dataclass
class DroneState:
    """What the dashboard knows about one drone."""

    site: str
    drone: str
    online: bool | None = None
    status_time_s: float | None = None
    status_detail: dict[str, Any] = field(default_factory=dict)
    telemetry: Telemetry | None = None
    last_seen_s: float | None = None
    track: deque[tuple[float, float, float]] = field(default_factory=deque)
    frame_jpeg: bytes | None = None
    frame_seq: int = 0
    frame_time_s: float | None = None
    frame_notified_s: float = float("-inf")
    flying: bool = False
    last_mission_state: str = ""
    restored: bool = False
    command: dict[str, Any] | None = None
    heard_status_s: float | None = None  # the drone's own time on its latest online status

    @property
    def heard_mark(self) -> str:
        """The drone's own times on the last status and telemetry it sent while online.

        Every dashboard that received them has the same mark, whatever its clock and
        whenever it noticed the drone was lost: what names an outage across the city room.
        A drone whose messages carry no time is named by this dashboard's receipt times,
        which other dashboards do not share."""
        telemetry_s = self.telemetry.time_s if self.telemetry is not None else None  # receipt time if none
        if self.heard_status_s is None and telemetry_s is None:
            return f"seen {self.last_seen_s or 0.0:.6f}"
        return "/".join("-" if v is None else f"{v:.6f}" for v in (self.heard_status_s, telemetry_s))

    def update_flying(self) -> None:
        """Whether the latest reports say the drone is on a patrol: a flying mission state, or armed.

        A last will carries no mission state, so the one before it counts.
        """
        state = self.status_detail.get("mission_state")
        if isinstance(state, str) and state:
            self.last_mission_state = state.lower()
        armed = self.telemetry.armed if self.telemetry is not None else None
        self.flying = self.last_mission_state in FLYING_STATES or armed is True

    @property
    def key(self) -> str:
        """``<site>/<drone>``."""
        return f"{self.site}/{self.drone}"

    @property
    def latitude_deg(self) -> float | None:
        """Last known latitude (telemetry, else the archived position)."""
        t = self.telemetry
        if t is not None and t.latitude_deg is not None:
            return t.latitude_deg
        return self.track[-1][1] if self.track else None

    @property
    def longitude_deg(self) -> float | None:
        """Last known longitude (telemetry, else the archived position)."""
        t = self.telemetry
        if t is not None and t.longitude_deg is not None:
            return t.longitude_deg
        return self.track[-1][2] if self.track else None

    def to_json(self, now_s: float, offline_after_s: float, with_track: bool = True) -> dict[str, Any]:
        """JSON-ready view: ``link`` is online, offline, stale (online but silent) or unknown."""
        t = self.telemetry
        if self.restored:
            link = "unknown"  # known from the archive only, not heard since the dashboard started
        elif self.online is None:
            link = "unknown" if self.last_seen_s is None else "online"
        else:
            link = "online" if self.online else "offline"
        if link == "online" and (self.last_seen_s is None or now_s - self.last_seen_s > offline_after_s):
            link = "stale"
        st = self.status_detail
        count = t.mission_count if t is not None and t.mission_count else None
        count = count or _positive_int(st.get("waypoints_total")) or _positive_int(st.get("mission_count"))
        reached = _count(st.get("waypoints_reached"))
        progress = None
        if reached is not None and _positive_int(st.get("waypoints_total")):
            progress = min(1.0, reached / float(st["waypoints_total"]))
        elif t is not None and t.mission_current_seq is not None and count:
            progress = max(0.0, min(1.0, t.mission_current_seq / count))
        battery = t.battery_percent if t is not None and t.battery_percent is not None else None
        battery = battery if battery is not None else _num(st.get("battery_percent"))
        out: dict[str, Any] = {
            "site": self.site,
            "drone": self.drone,
            "key": self.key,
            "online": self.online,
            "link": link,
            "status_time": iso_time(self.status_time_s) if self.status_time_s else None,
            "status": self.status_detail,
            "last_seen": iso_time(self.last_seen_s) if self.last_seen_s else None,
            "latitude_deg": self.latitude_deg,
            "longitude_deg": self.longitude_deg,
            "relative_altitude_m": t.relative_altitude_m if t else None,
            "heading_deg": t.heading_deg if t else None,
            "ground_speed_m_s": t.ground_speed_m_s if t else None,
            "battery_percent": t.battery_percent
            if t and t.battery_percent is not None
            else _num(st.get("battery_percent")),
            "mode": (t.mode if t else None) or (str(st["mode"]) if st.get("mode") else None),
            "mission_state": str(st["mission_state"]) if st.get("mission_state") else None,
            "waypoints_reached": reached,
            "armed": t.armed if t else None,
            "mission_current_seq": t.mission_current_seq if t else None,
            "mission_count": count,
            "mission_progress": progress,
            "area": (t.area if t else None) or self.status_detail.get("area"),
            "frame_seq": self.frame_seq,
            "frame_time": iso_time(self.frame_time_s) if self.frame_time_s else None,
            "flying": self.flying,
            "restored": self.restored,
            "command": self.command,
            "heard_mark": self.heard_mark,
        }
        if with_track:
            out["track"] = [[lat, lon] for _, lat, lon in self.track]
        return out


class Fleet:
    """Thread-safe table of drones, updated by the MQTT bridge and read by the web server."""

    def __init__(self, track_points: int, offline_after_s: float) -> None:
        self._drones: dict[str, DroneState] = {}
        self._lock = threading.Lock()
        self.track_points = track_points
        self.offline_after_s = offline_after_s

    def _get(self, site: str, drone: str) -> DroneState:
        key = f"{site}/{drone}"
        state = self._drones.get(key)
        if state is None:
            state = self._drones[key] = DroneState(site, drone, track=deque(maxlen=self.track_points))
        return state

    def set_status(self, site: str, drone: str, status: Status, now_s: float) -> dict[str, Any]:
        """Apply a retained status or last will; returns the drone's JSON view."""
        with self._lock:
            state = self._get(site, drone)
            state.online = status.online
            state.status_time_s = status.time_s or now_s
            state.status_detail = status.detail
            state.restored = False
            if status.online:
                state.last_seen_s = now_s
                state.heard_status_s = status.time_s
            state.update_flying()
            return state.to_json(now_s, self.offline_after_s, with_track=False)

    def add_telemetry(self, site: str, drone: str, sample: Telemetry, now_s: float) -> dict[str, Any]:
        """Apply one telemetry sample and extend the track; returns the drone's JSON view."""
        with self._lock:
            state = self._get(site, drone)
            state.telemetry = sample
            state.last_seen_s = now_s
            state.restored = False
            if not state.online:
                # data again after a last will; or data from a drone whose retained status this
                # dashboard never received (a broker can lose that race on subscribe): it is online
                state.online = True
            state.update_flying()
            if sample.latitude_deg is not None and sample.longitude_deg is not None:
                last = state.track[-1] if state.track else None
                if last is None or (last[1], last[2]) != (sample.latitude_deg, sample.longitude_deg):
                    state.track.append((sample.time_s, sample.latitude_deg, sample.longitude_deg))
            return state.to_json(now_s, self.offline_after_s, with_track=False)

    def add_frame(self, site: str, drone: str, jpeg: bytes, now_s: float, min_interval_s: float) -> int | None:
        """Keep the latest video frame; returns its sequence number when pages should be told, else ``None``.

        Pages are told at most once per ``min_interval_s`` per drone; they always fetch the latest frame.
        """
        with self._lock:
            state = self._get(site, drone)
            state.frame_jpeg = jpeg
            state.frame_seq += 1
            state.frame_time_s = now_s
            state.last_seen_s = state.last_seen_s or now_s
            if now_s - state.frame_notified_s < min_interval_s:
                return None
            state.frame_notified_s = now_s
            return state.frame_seq

    def restore(self, site: str, drone: str, latitude_deg: float, longitude_deg: float, time_s: float) -> None:
        """Put a drone known from the archive on the map at its last position (link unknown)."""
        with self._lock:
            key = f"{site}/{drone}"
            if key in self._drones:
                return
            state = self._get(site, drone)
            state.restored = True
            state.last_seen_s = time_s
            state.track.append((time_s, latitude_deg, longitude_deg))

    def set_command(self, site: str, drone: str, result: dict[str, Any]) -> dict[str, Any]:
        """Record the latest state of a command to a drone (sent, accepted, on_station, ...); returns the event."""
        with self._lock:
            state = self._get(site, drone)
            previous = state.command or {}
            if previous.get("command_id") == result.get("command_id"):
                if _COMMAND_STEP.get(str(result.get("state")), 0) < _COMMAND_STEP.get(str(previous.get("state")), 0):
                    # an earlier step told late: the dashboard's own "sent" after the drone's answer,
                    # a redelivered result; it adds what it knows, never takes the state back
                    result = {**result, **previous}
                else:
                    result = {**previous, **result}
            state.command = result
            return {"key": state.key, "site": site, "drone": drone, **result}

    def frame(self, site: str, drone: str) -> tuple[bytes, int] | None:
        """The latest video frame of a drone and its sequence number."""
        with self._lock:
            state = self._drones.get(f"{site}/{drone}")
            if state is None or state.frame_jpeg is None:
                return None
            return state.frame_jpeg, state.frame_seq

    def snapshot(self, now_s: float | None = None, with_track: bool = True) -> list[dict[str, Any]]:
        """Every drone's JSON view (with its track), sorted by key."""
        now = time.time() if now_s is None else now_s
        with self._lock:
            return [self._drones[k].to_json(now, self.offline_after_s, with_track) for k in sorted(self._drones)]
