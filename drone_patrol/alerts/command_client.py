"""The command room's side of drone commands: send "eyes on" and release, follow the drones' answers.

::

    room = CommandClient("mqtts://broker:8883", site="dongxi", username="command-room", password=...).start(wait_s=5)
    cid = room.eyes_on("drone-1", 25.2821, 110.2962, duration_s=120, requested_by="officer-7")
    room.wait_for(cid, "on_station", timeout_s=300)
    room.release("drone-1", cid, requested_by="officer-7")

A command goes only to a drone this client knows from its retained status: one never
seen is refused here with :class:`CommandRefusedError` (code ``unknown_drone``, or
``unknown_site`` when no drone of that site was ever seen), as nothing would answer it.
The drone's answers (:class:`~drone_patrol.alerts.eyes_on.CommandResult`) arrive on
``.../commands/result``; :meth:`CommandClient.results` lists them per command.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from drone_patrol.alerts.connection import ClientSettings, Topics, split_topic
from drone_patrol.alerts.eyes_on import (
    COMMAND_EXPIRY_S,
    CommandResult,
    CommandSchemaError,
    CommandState,
    eyes_on_event,
    parse_result,
    release_event,
)
from drone_patrol.alerts.session import MqttSession
from drone_patrol.core.errors import AlertsError

log = logging.getLogger("drone_patrol.alerts.commands")


class CommandRefusedError(AlertsError):
    """The command was not sent (``code``: ``unknown_drone``, ``unknown_site``) or the drone refused or failed it."""

    def __init__(self, code: str, message: str, command_id: str = "") -> None:
        self.code = code
        self.command_id = command_id
        super().__init__(message)


class CommandClient(MqttSession):
    """Commands to the drones of ``site`` and their results; see the module docstring."""

    thread_name = "room-commands"

    def __init__(
        self,
        broker_url: str,
        site: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        prefix: str = "dronepatrol",
        settings: ClientSettings | None = None,
        on_result: Callable[[CommandResult], None] | None = None,
        **tls: Any,
    ) -> None:
        settings = settings or ClientSettings.from_url(broker_url, username=username, password=password, **tls)
        super().__init__(settings, client_id or f"dronepatrol-room-cmd-{uuid.uuid4().hex[:8]}", persistent=False)
        self.site = site
        self.prefix = prefix
        self._on_result = on_result
        #: how long a command may wait in the broker for its drone (MQTT 5 message expiry)
        self.command_expiry_s = COMMAND_EXPIRY_S
        self._known: set[str] = set()
        self._results: dict[str, list[CommandResult]] = {}
        self._changed = threading.Condition()

    def start(self, wait_s: float | None = None) -> CommandClient:
        """Connect; with ``wait_s`` wait for the broker's answer and raise its refusal (``BrokerConnectionError``)."""
        self._begin_and_wait(wait_s)
        return self

    def stop(self) -> None:
        """Disconnect."""
        self._end()

    def __enter__(self) -> CommandClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def known_drones(self) -> set[str]:
        """The drones of the site whose status was seen."""
        with self._changed:
            return set(self._known)

    # ------------------------------------------------------------------ commands

    def _check_drone(self, drone: str, command_id: str, wait_s: float = 2.0) -> None:
        # the drones' retained status messages follow the SUBACK: give them a moment after connecting
        deadline = time.monotonic() + wait_s
        with self._changed:
            while drone not in self._known and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)
            known = set(self._known)
        if drone in known:
            return
        if not known:
            raise CommandRefusedError(
                "unknown_site", f"command {command_id}: no drone of site {self.site!r} is known here", command_id
            )
        raise CommandRefusedError(
            "unknown_drone",
            f"command {command_id}: drone {drone!r} is not known at site {self.site!r} "
            f"(known: {', '.join(sorted(known))})",
            command_id,
        )

    def _send(self, drone: str, doc: dict[str, Any], timeout_s: float) -> None:
        topic = Topics(self.site, drone, self.prefix).commands
        if not self._publish_confirmed(topic, doc, timeout_s, str(doc["id"]), self.command_expiry_s):
            raise AlertsError(f"command {doc['subject']}: the broker did not confirm within {timeout_s:.1f} s")

    def eyes_on(
        self,
        drone: str,
        lat_deg: float,
        lon_deg: float,
        duration_s: float,
        requested_by: str,
        *,
        altitude_m: float | None = None,
        command_id: str | None = None,
        timeout_s: float = 5.0,
    ) -> str:
        """Send ``drone`` to look at a point for ``duration_s`` seconds; returns the command id.

        Raises :class:`CommandRefusedError` for a drone not known here,
        :class:`CommandSchemaError` for values outside the schema and
        :class:`~drone_patrol.alerts.connection.PublishRejectedError` when the broker's ACL refuses it.
        """
        cid = command_id or str(uuid.uuid4())
        doc = eyes_on_event(cid, lat_deg, lon_deg, duration_s, requested_by, site=self.site, altitude_m=altitude_m,
                            prefix=self.prefix)  # fmt: skip
        self._check_drone(drone, cid)
        self._send(drone, doc, timeout_s)
        return cid

    def release(self, drone: str, command_id: str, requested_by: str, *, timeout_s: float = 5.0) -> None:
        """End the "eyes on" command ``command_id`` of ``drone`` now."""
        self._check_drone(drone, command_id)
        self._send(drone, release_event(command_id, requested_by, site=self.site, prefix=self.prefix), timeout_s)

    def results(self, command_id: str) -> list[CommandResult]:
        """The drone's answers to ``command_id`` so far, in arrival order."""
        with self._changed:
            return list(self._results.get(command_id, ()))

    def wait_for(self, command_id: str, state: CommandState | str, timeout_s: float) -> CommandResult:
        """Wait until the drone reports ``state`` for ``command_id``.

        Raises :class:`CommandRefusedError` (with the drone's reason code) when the
        command is refused or fails first, :class:`AlertsError` on timeout.
        """
        want = CommandState(state)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for r in self._results.get(command_id, ()):
                    if r.state is want:
                        return r
                    if r.state in (CommandState.REFUSED, CommandState.FAILED) and want is not r.state:
                        code, text = (r.reason.code, r.reason.text) if r.reason else ("", "")
                        raise CommandRefusedError(code, f"command {command_id} {r.state.value}: {text}", command_id)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [r.state.value for r in self._results.get(command_id, ())]
                    raise AlertsError(f"command {command_id}: no {want.value} within {timeout_s:.0f} s (seen: {seen})")
                self._changed.wait(remaining)

    # ------------------------------------------------------------------ paho

    def _session_up(self, client: mqtt.Client, props: Any) -> None:
        base = Topics(self.site, "+", self.prefix)
        self._subscribe(client, [(base.status, 1), (base.command_results, 1)])
        self._connected.set()

    def _message(self, client: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        parts = split_topic(msg.topic, self.prefix)
        if parts is None:
            return
        _site, drone, rest = parts
        if rest == "status":
            if msg.payload:
                with self._changed:
                    self._known.add(drone)
                    self._changed.notify_all()
            return
        if rest != "commands/result":
            return
        try:
            result = parse_result(msg.payload)
        except CommandSchemaError as exc:
            log.warning("ignored a malformed command result from %s: %s", drone, exc)
            return
        with self._changed:
            self._results.setdefault(result.command_id, []).append(result)
            self._changed.notify_all()
        if self._on_result is not None:
            self._on_result(result)


def result_summary(result: CommandResult) -> str:
    """One line for people: ``drone-1 cmd-7 refused (in_no_fly: ...)``."""
    why = f" ({result.reason.code}: {result.reason.text})" if result.reason else ""
    return f"{result.drone} {result.command_id} {result.state.value}{why}"


def dumps(doc: dict[str, Any]) -> str:
    """Compact JSON of a command document (for logs and the CLI)."""
    return json.dumps(doc, separators=(",", ":"))
