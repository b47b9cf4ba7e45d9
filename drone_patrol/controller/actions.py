"""Commands: COMMAND_LONG with its COMMAND_ACK, and the actions built on it.

Each command is re-sent with an incremented confirmation counter when no ACK comes,
``IN_PROGRESS`` extends the wait, and a refusal becomes a
:class:`CommandRejectedError` naming the MAV_CMD, the MAV_RESULT and the vehicle's
own STATUSTEXT reason ("PreArm: ...") when it gave one. Actions whose effect shows
in telemetry (mode, arming) also wait for the vehicle to report the change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from drone_patrol.controller.events import COPTER_MODES
from drone_patrol.controller.link import MavLink, mavlink
from drone_patrol.controller.telemetry import Telemetry
from drone_patrol.core.errors import CommandRejectedError, InputError, OperationTimeoutError
from drone_patrol.core.types import MavCmd, VehicleState

log = logging.getLogger(__name__)

_FORCE_MAGIC = 21196  # COMPONENT_ARM_DISARM param2 that skips checks


def command_name(command: int) -> str:
    """MAV_CMD name of ``command``."""
    entry = mavlink.enums["MAV_CMD"].get(command)
    return entry.name if entry is not None else f"MAV_CMD({command})"


def mav_result_name(result: int) -> str:
    """MAV_RESULT name of ``result``."""
    entry = mavlink.enums["MAV_RESULT"].get(result)
    return entry.name if entry is not None else f"MAV_RESULT({result})"


@dataclass(frozen=True, slots=True)
class CommandTiming:
    """Wall-clock timing of commands and of waiting for their effect."""

    ack_timeout_s: float = 1.5
    retries: int = 3
    in_progress_timeout_s: float = 30.0
    effect_timeout_s: float = 5.0


class Commander:
    """Sends COMMAND_LONG and waits for the matching COMMAND_ACK."""

    def __init__(self, link: MavLink, telemetry: Telemetry, timing: CommandTiming = CommandTiming()) -> None:
        self.link = link
        self.telemetry = telemetry
        self.timing = timing

    def command_long(self, command: int, params: Sequence[float] = (), *, retries: int | None = None) -> int:
        """Send ``command`` with up to seven params; return the accepting MAV_RESULT.

        Raises :class:`CommandRejectedError` (with the vehicle's STATUSTEXT reason),
        :class:`OperationTimeoutError` when no ACK came after the retries, or
        :class:`LinkError` at once when the link is closed meanwhile.
        """
        p = [float(v) for v in params] + [0.0] * (7 - len(params))
        return self._exchange(
            command,
            lambda confirmation: mavlink.MAVLink_command_long_message(
                self.link.target_system, self.link.target_component, command, confirmation, *p
            ),
            retries,
        )

    def command_int(
        self,
        command: int,
        frame: int,
        params: Sequence[float],
        latitude_deg: float,
        longitude_deg: float,
        z: float,
        *,
        retries: int | None = None,
    ) -> int:
        """Send ``command`` as COMMAND_INT (params 1-4, a position in ``frame``); as :meth:`command_long`.

        ArduPilot takes positions (DO_REPOSITION, DO_SET_ROI_LOCATION) best this way: the
        frame is explicit and latitude and longitude keep their 1e-7 degree resolution.
        """
        p = [float(v) for v in params] + [0.0] * (4 - len(params))
        x, y = round(latitude_deg * 1e7), round(longitude_deg * 1e7)
        return self._exchange(
            command,
            lambda _confirmation: mavlink.MAVLink_command_int_message(
                self.link.target_system, self.link.target_component, frame, command, 0, 0, *p, x, y, float(z)
            ),
            retries,
        )

    def _exchange(self, command: int, build: Callable[[int], Any], retries: int | None) -> int:
        """Send ``build(confirmation)`` until the matching COMMAND_ACK; see :meth:`command_long`."""
        retries = self.timing.retries if retries is None else retries
        name = command_name(command)
        sent_at = time.time()
        with self.link.listen({"COMMAND_ACK"}) as q:
            for confirmation in range(retries + 1):
                self.link.send(build(confirmation))
                wait_until = time.monotonic() + self.timing.ack_timeout_s
                while (remaining := wait_until - time.monotonic()) > 0:
                    ack = q.get(remaining)  # LinkError at once if the link is closed meanwhile
                    if ack is None or int(ack.command) != command:
                        continue
                    if getattr(ack, "target_system", 0) not in (0, self.link.source_system):
                        continue
                    result = int(ack.result)
                    if result == mavlink.MAV_RESULT_IN_PROGRESS:
                        wait_until = time.monotonic() + self.timing.in_progress_timeout_s
                        continue
                    if result == mavlink.MAV_RESULT_ACCEPTED:
                        return result
                    raise CommandRejectedError(command, result, name, mav_result_name(result), self._reason(sent_at))
        raise OperationTimeoutError(
            f"command {name}", self.timing.ack_timeout_s * (retries + 1), f"no COMMAND_ACK after {retries} retries"
        )

    def _reason(self, sent_at: float) -> str:
        """The vehicle's STATUSTEXT about a refusal: it may trail the ACK by a few messages."""
        deadline = time.monotonic() + 0.3
        while True:
            texts = [t.text for t in self.telemetry.statustexts_since(sent_at - 0.05) if t.severity <= 4]
            if texts or time.monotonic() >= deadline:
                return "; ".join(dict.fromkeys(texts))
            time.sleep(0.02)

    def set_message_interval(self, message_id: int, interval_us: float) -> None:
        """Ask for ``message_id`` every ``interval_us`` microseconds (vehicle clock)."""
        self.command_long(MavCmd.SET_MESSAGE_INTERVAL, (message_id, interval_us), retries=1)

    def request_message(self, message_id: int) -> None:
        """Ask the vehicle to send ``message_id`` once."""
        self.command_long(MavCmd.REQUEST_MESSAGE, (message_id,), retries=1)


class Action:
    """Flight actions, MAVSDK style: each returns when the vehicle accepted (and did) it."""

    def __init__(self, commander: Commander, telemetry: Telemetry, pause_mode: str = "BRAKE") -> None:
        self.commander = commander
        self.telemetry = telemetry
        self.pause_mode = pause_mode

    def _wait_state(self, what: str, predicate: object, timeout_s: float | None = None) -> VehicleState:
        timeout = self.commander.timing.effect_timeout_s if timeout_s is None else timeout_s
        state = self.telemetry.wait_for(predicate, timeout)  # type: ignore[arg-type]
        if state is None:
            raise OperationTimeoutError(what, timeout, "the vehicle's telemetry never showed it")
        return state

    def set_mode(self, mode: str) -> None:
        """Switch to the ArduCopter mode ``mode`` (e.g. ``GUIDED``) and wait until the heartbeat shows it."""
        name = mode.strip().upper()
        if name not in COPTER_MODES:
            raise InputError(f"mode {mode!r}: not an ArduCopter mode (one of {', '.join(sorted(COPTER_MODES))})")
        if self.telemetry.state.mode == name:
            return
        custom = COPTER_MODES[name]
        try:
            self.commander.command_long(MavCmd.DO_SET_MODE, (mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, custom))
        except CommandRejectedError as exc:
            if exc.result != mavlink.MAV_RESULT_UNSUPPORTED:
                raise
            link = self.commander.link
            link.send(
                mavlink.MAVLink_set_mode_message(link.target_system, mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, custom)
            )
        self._wait_state(f"set mode {name}", lambda s: s.mode == name)

    def arm(self, force: bool = False) -> None:
        """Arm the motors and wait until the vehicle reports armed."""
        self.commander.command_long(MavCmd.COMPONENT_ARM_DISARM, (1, _FORCE_MAGIC if force else 0))
        self._wait_state("arm", lambda s: s.armed)

    def disarm(self, force: bool = False) -> None:
        """Disarm the motors and wait until the vehicle reports disarmed."""
        self.commander.command_long(MavCmd.COMPONENT_ARM_DISARM, (0, _FORCE_MAGIC if force else 0))
        self._wait_state("disarm", lambda s: not s.armed)

    def takeoff(self, altitude_m: float) -> None:
        """Take off (GUIDED, armed) to ``altitude_m`` above home; returns once accepted."""
        self.commander.command_long(MavCmd.NAV_TAKEOFF, (0, 0, 0, 0, 0, 0, altitude_m))

    def start_mission(self) -> None:
        """MISSION_START: ArduCopter switches to AUTO and flies from the current item."""
        self.commander.command_long(MavCmd.MISSION_START, (0, 0))
        self._wait_state("start mission", lambda s: s.mode == "AUTO")

    def return_to_launch(self) -> None:
        """Switch to RTL."""
        self.set_mode("RTL")

    def land(self) -> None:
        """Switch to LAND (lands where it is)."""
        self.set_mode("LAND")

    def pause(self) -> None:
        """Hold position in the configured pause mode (BRAKE or LOITER)."""
        self.set_mode(self.pause_mode)

    def resume(self) -> None:
        """Continue the mission from its current item (AUTO)."""
        self.set_mode("AUTO")

    def set_current(self, seq: int, shown_as: int | None = None) -> None:
        """Make mission item ``seq`` the current one and wait for MISSION_CURRENT to show it
        (as ``shown_as`` when given: ArduPilot shows the first navigation item at or after ``seq``)."""
        try:
            self.commander.command_long(MavCmd.DO_SET_MISSION_CURRENT, (seq,))
        except CommandRejectedError as exc:
            if exc.result != mavlink.MAV_RESULT_UNSUPPORTED:
                raise
            link = self.commander.link
            link.send(mavlink.MAVLink_mission_set_current_message(link.target_system, link.target_component, seq))
        shown = seq if shown_as is None else shown_as
        self._wait_state(f"set current item {seq}", lambda s: s.mission_current_seq == shown)

    def set_speed(self, speed_m_s: float) -> None:
        """Change the horizontal ground speed of AUTO and GUIDED flight."""
        self.commander.command_long(MavCmd.DO_CHANGE_SPEED, (1, speed_m_s, -1))
