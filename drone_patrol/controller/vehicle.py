"""The vehicle facade: one object per connected autopilot, MAVSDK style.

``Vehicle.connect`` opens the link, discovers the autopilot, sets the telemetry rates
and returns a vehicle with ``state``, ``mission``, ``action`` and ``params``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from drone_patrol.controller.actions import Action, Commander, CommandTiming
from drone_patrol.controller.events import CRITICAL, INFO, EventBus, EventCallback, VehicleEvent
from drone_patrol.controller.items import (
    fence_to_wire,
    list_differences,
    mission_to_wire,
    rally_to_wire,
    wire_to_fence,
    wire_to_mission,
    wire_to_rally,
)
from drone_patrol.controller.link import LinkHealth, MavLink, mavlink, signing_key_from_secret
from drone_patrol.controller.params import Params
from drone_patrol.controller.telemetry import StateCallback, Telemetry
from drone_patrol.controller.transfer import MissionTransfer, Progress, TransferTiming
from drone_patrol.core.config import ControllerConfig, read_secret
from drone_patrol.core.errors import CommandRejectedError, DronePatrolError, MissionTransferError
from drone_patrol.core.types import Geofence, GeoPoint, Mission, MissionType, VehicleState

log = logging.getLogger(__name__)


class MissionClient:
    """Mission, fence and rally transfer with read-back verification."""

    def __init__(self, transfer: MissionTransfer) -> None:
        self.transfer = transfer

    def upload(self, mission: Mission, progress: Progress | None = None, verify: bool = True) -> None:
        """Upload the mission, its fence and its rally points (empty lists clear the vehicle's).

        With ``verify`` every list is read back and compared item by item; a difference
        raises :class:`MissionTransferError` with operation ``verify``.
        """
        lists = [
            (MissionType.MISSION, mission_to_wire(mission)),
            (MissionType.FENCE, fence_to_wire(mission.fence)),
            (MissionType.RALLY, rally_to_wire(mission.rally_points)),
        ]
        total = sum(len(items) for _, items in lists)
        done = 0
        for mission_type, items in lists:
            offset = done

            def step(n: int, _count: int, offset: int = offset) -> None:
                if progress is not None:
                    progress(offset + n, total)

            self.transfer.upload(items, mission_type, step)
            done += len(items)
        if verify:
            self.verify(mission)

    def upload_items(self, mission: Mission, progress: Progress | None = None) -> None:
        """Upload only the mission list (home at seq 0, then ``mission.items``)."""
        self.transfer.upload(mission_to_wire(mission), MissionType.MISSION, progress)

    def upload_fence(self, fence: Geofence, progress: Progress | None = None) -> None:
        """Upload a geofence (replacing the vehicle's)."""
        self.transfer.upload(fence_to_wire(fence), MissionType.FENCE, progress)

    def upload_rally(self, points: Sequence[GeoPoint], progress: Progress | None = None) -> None:
        """Upload rally points (altitudes relative to home)."""
        self.transfer.upload(rally_to_wire(points), MissionType.RALLY, progress)

    def download(self, progress: Progress | None = None) -> Mission:
        """The vehicle's mission with its fence and rally points (home from seq 0)."""
        items = self.transfer.download(MissionType.MISSION, progress)
        fence = wire_to_fence(self.transfer.download(MissionType.FENCE))
        rally = wire_to_rally(self.transfer.download(MissionType.RALLY))
        base = wire_to_mission(items, name="downloaded")
        return Mission(home=base.home, items=base.items, fence=fence, rally_points=rally, name=base.name)

    def clear(self) -> None:
        """Clear mission, fence and rally lists."""
        for mission_type in (MissionType.MISSION, MissionType.FENCE, MissionType.RALLY):
            self.transfer.clear(mission_type)

    def verify(self, mission: Mission) -> None:
        """Read every list back and compare it with ``mission`` within the vehicle's precision."""
        checks = [
            (MissionType.MISSION, mission_to_wire(mission), True),
            (MissionType.FENCE, fence_to_wire(mission.fence), False),
            (MissionType.RALLY, rally_to_wire(mission.rally_points), False),
        ]
        for mission_type, sent, skip_home in checks:
            got = self.transfer.download(mission_type)
            diffs = list_differences(sent, got, skip_home=skip_home)
            if diffs:
                name = mission_type.name.lower()
                more = f" (and {len(diffs) - 1} more)" if len(diffs) > 1 else ""
                raise MissionTransferError(mavlink.MAV_MISSION_ERROR, "verify", "MISMATCH", f"{name}: {diffs[0]}{more}")


class Vehicle:
    """A connected vehicle. Build with :meth:`connect`; close with :meth:`close` (or ``with``)."""

    def __init__(self, link: MavLink, config: ControllerConfig) -> None:
        self.link = link
        self.config = config
        self.speedup = config.speedup
        self.events = EventBus()
        self.telemetry = Telemetry(link, self.events)
        self.commander = Commander(
            link,
            self.telemetry,
            CommandTiming(
                ack_timeout_s=config.command_timeout_s,
                retries=config.retries,
                effect_timeout_s=max(5.0 / self.speedup, 4 * config.min_wall_timeout_s),
            ),
        )
        self.action = Action(self.commander, self.telemetry, config.pause_mode)
        self.params = Params(link, timeout_s=config.command_timeout_s, retries=config.retries)
        timing = TransferTiming(
            item_timeout_s=self.wall(config.item_timeout_s, floor=True),
            retries=config.retries,
            deadline_s=config.transfer_deadline_s,
        )
        self.mission = MissionClient(MissionTransfer(link, timing))
        link.on_health_change(self._on_link_health)

    @classmethod
    def connect(
        cls,
        connection: str | None = None,
        config: ControllerConfig | None = None,
        timeout_s: float | None = None,
    ) -> Vehicle:
        """Open ``connection`` (default: the config's), wait for the autopilot and set up telemetry.

        Raises :class:`LinkError` when the link cannot be opened or no autopilot answers
        within ``timeout_s`` (default ``config.connect_timeout_s``) wall-clock seconds.
        """
        config = config or ControllerConfig()
        secret = read_secret(config.signing_key_env, config.signing_key_file)
        speedup = config.speedup
        link = MavLink(
            connection or config.connection,
            source_system=config.source_system,
            source_component=config.source_component,
            heartbeat_interval_s=1.0 / (config.heartbeat_hz * speedup),
            link_timeout_s=max(config.link_timeout_s / speedup, 2 * config.min_wall_timeout_s),
            signing_key=signing_key_from_secret(secret) if secret else None,
        )
        link.open()
        try:
            link.wait_for_vehicle(config.connect_timeout_s if timeout_s is None else timeout_s)
            vehicle = cls(link, config)
        except BaseException:
            link.close()
            raise
        vehicle.request_telemetry_in_background()
        # the default streams usually carry a position within moments; do not insist
        vehicle.wait_for(
            lambda s: s.mode != "UNKNOWN" and s.position is not None and s.battery_percent is not None, 1.0
        )
        return vehicle

    def wall(self, vehicle_s: float, floor: bool = False) -> float:
        """Wall-clock seconds for ``vehicle_s`` seconds of the vehicle's clock."""
        seconds = vehicle_s / self.speedup
        return max(seconds, self.config.min_wall_timeout_s) if floor else seconds

    def request_telemetry(self) -> None:
        """Set every stream's rate explicitly and ask for the home position."""

        def send_interval(msg_id: int, interval_us: float) -> None:
            if self.link.closed:
                return
            try:
                self.commander.set_message_interval(msg_id, interval_us)
            except DronePatrolError as exc:
                log.info("message %d interval not set: %s", msg_id, exc)

        self.telemetry.request_streams(send_interval, self.config.telemetry_hz)
        if self.link.closed:  # closed while setting up (a short upload): nothing to ask for any more
            return
        try:
            self.commander.request_message(mavlink.MAVLINK_MSG_ID_HOME_POSITION)
        except (CommandRejectedError, DronePatrolError) as exc:
            if not self.link.closed:
                log.warning("home position not requested: %s", exc)

    def request_telemetry_in_background(self) -> threading.Thread:
        """:meth:`request_telemetry` in its own thread (each request waits for its ACK)."""
        thread = threading.Thread(target=self.request_telemetry, name="telemetry-setup", daemon=True)
        thread.start()
        return thread

    def _on_link_health(self, alive: bool) -> None:
        if alive:
            self.events.emit(VehicleEvent.now("link_restored", INFO, f"link {self.link.connection_string} restored"))
            # re-set the streams away from the reader thread, which must keep reading
            self.request_telemetry_in_background()
        else:
            health = self.link.health()
            age = health.heartbeat_age_s
            self.events.emit(
                VehicleEvent.now(
                    "link_lost",
                    CRITICAL,
                    f"link {self.link.connection_string} lost"
                    + (f": no heartbeat for {age:.1f} s" if age is not None else ""),
                    heartbeat_age_s=age,
                    connected=health.connected,
                )
            )

    # -- MAVSDK-like surface ---------------------------------------------------

    @property
    def state(self) -> VehicleState:
        """The latest telemetry snapshot."""
        return self.telemetry.state

    @property
    def health(self) -> LinkHealth:
        """Link health (heartbeat age, loss from sequence gaps, bad data, reconnects)."""
        return self.link.health()

    @property
    def link_alive(self) -> bool:
        """True while the vehicle's heartbeats arrive."""
        return self.link.alive

    def subscribe_state(self, callback: StateCallback) -> Callable[[], None]:
        """Call ``callback(state)`` on every state change; returns an unsubscribe function."""
        return self.telemetry.subscribe(callback)

    def subscribe_events(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for every :class:`VehicleEvent`; returns an unsubscribe function."""
        return self.events.subscribe(callback)

    def wait_for(self, predicate: Callable[[VehicleState], bool], timeout_s: float) -> VehicleState | None:
        """Block until ``predicate(state)``; ``None`` after ``timeout_s`` wall-clock seconds."""
        return self.telemetry.wait_for(predicate, timeout_s)

    def close(self) -> None:
        """Close the link and stop its threads."""
        self.telemetry.close()
        self.link.close()

    def __enter__(self) -> Vehicle:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
