"""What the drone does with each command from the command room: pure decisions, no I/O.

:class:`CommandLedger` remembers every command id it has answered (so a repeat, as
QoS 1 redelivery or a second click produces, changes nothing and is answered with
the state the command has reached), holds the one "eyes on" command in progress, and
checks each step against the command's state machine::

    accepted -> en_route -> on_station -> completed | released
        \\-----------\\-------------\\------> released | failed

``refused`` is final at once. The excursion itself is judged by
:class:`drone_patrol.planner.eyes_on.ExcursionPlanner` (passed in as ``judge``).

A command queued in the drone's broker session while the drone was down must not be flown
when it comes back, long after the incident it was sent for. Commands carry an MQTT 5
message expiry, so an MQTT 5 broker drops such a command itself and delivers the rest with
the time they have left (:attr:`EyesOnCommand.expiry_left_s`): no clock is involved. A
command that came without it (an MQTT 3.1.1 hop on the way) and is older than
:attr:`CommandLedger.max_command_age_s` by its CloudEvent time and the drone's clock is
refused ``expired``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from drone_patrol.alerts.eyes_on import (
    COMMAND_EXPIRY_S,
    CommandSchemaError,
    CommandState,
    EyesOnCommand,
    Reason,
    ReleaseCommand,
)
from drone_patrol.planner.eyes_on import Excursion, Refusal

S = CommandState
_NEXT: dict[CommandState, frozenset[CommandState]] = {
    S.ACCEPTED: frozenset({S.EN_ROUTE, S.RELEASED, S.FAILED}),
    S.EN_ROUTE: frozenset({S.ON_STATION, S.RELEASED, S.FAILED}),
    S.ON_STATION: frozenset({S.COMPLETED, S.RELEASED, S.FAILED}),
}


class StateTransitionError(ValueError):
    """A step that the command's state machine does not allow (a bug, not a user error)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one message: ``start`` an excursion, ``release`` the one in progress,
    ``answer`` with ``state``/``reason`` only (a refusal or a repeat), or ``ignore`` it."""

    action: str
    command_id: str | None
    state: CommandState | None = None
    reason: Reason | None = None
    excursion: Excursion | None = None
    command: EyesOnCommand | None = None


class CommandLedger:
    """The commands of one drone; see the module docstring."""

    #: an eyes-on command sent longer ago than this (seconds, by its own time) is refused ``expired``,
    #: unless a broker counted its wait (:attr:`EyesOnCommand.expiry_left_s`: it is younger than its expiry)
    max_command_age_s = float(COMMAND_EXPIRY_S)

    def __init__(self, site: str, drone: str, prefix: str = "dronepatrol", remember: int = 1000) -> None:
        self.site, self.drone, self.prefix = site, drone, prefix
        self.remember = remember
        self._states: OrderedDict[str, CommandState] = OrderedDict()
        self._reasons: dict[str, Reason | None] = {}
        self.active: str | None = None

    def state_of(self, command_id: str) -> CommandState | None:
        """The latest state of ``command_id`` (``None`` when never seen)."""
        return self._states.get(command_id)

    def _source_site(self, source: str) -> str | None:
        parts = source.strip("/").split("/")
        return parts[1] if len(parts) == 3 and parts[0] == self.prefix else None

    def receive(
        self,
        message: EyesOnCommand | ReleaseCommand | CommandSchemaError,
        *,
        flying_patrol: bool,
        judge: Callable[[EyesOnCommand], Excursion | Refusal],
        returning_from: str | None = None,
        now_s: float | None = None,
    ) -> Decision:
        """Decide what to do with ``message``; records refusals and acceptances.

        ``returning_from`` names a finished eyes-on whose way back to the patrol is still flown;
        ``now_s`` (UNIX seconds) is the time the command's age is judged at (no age check without it).
        """
        if isinstance(message, CommandSchemaError):
            if message.command_id is None or message.command_id in self._states:
                return Decision("ignore", message.command_id)  # nothing to answer to, or already answered
            return self._refuse(message.command_id, "malformed", str(message))
        cid = message.command_id
        known = self._states.get(cid)
        if isinstance(message, ReleaseCommand):
            if cid == self.active and known is not None and not known.final:
                return Decision("release", cid)
            if known is not None and known is not S.ACCEPTED:
                return Decision("answer", cid, known, self._reasons.get(cid))
            return Decision("answer", cid, S.REFUSED, Reason("unknown_command", f"no eyes-on command {cid} here"))
        if known is not None:
            return Decision("answer", cid, known, self._reasons.get(cid))
        if message.expiry_left_s is None and message.sent_s is not None and now_s is not None:
            age_s = now_s - message.sent_s  # by two clocks: only when no broker counted the wait
            if age_s > self.max_command_age_s:
                return self._refuse(
                    cid, "expired", f"sent {age_s:.0f} s ago, more than {self.max_command_age_s:g} s; send it again"
                )
        site = self._source_site(message.source)
        if site is not None and site != self.site:
            return self._refuse(cid, "unknown_site", f"this drone belongs to site {self.site!r}, not {site!r}")
        if self.active is not None:
            return self._refuse(cid, "busy", f"eyes-on command {self.active} is in progress; release it first")
        if returning_from is not None:
            return self._refuse(cid, "busy", f"returning to the patrol after eyes-on command {returning_from}")
        if not flying_patrol:
            return self._refuse(cid, "not_flying", f"drone {self.drone} is not flying a patrol")
        verdict = judge(message)
        if isinstance(verdict, Refusal):
            return self._refuse(cid, verdict.code, verdict.text)
        self.record(cid, S.ACCEPTED)
        self.active = cid
        return Decision("start", cid, S.ACCEPTED, None, verdict, message)

    def _refuse(self, cid: str, code: str, text: str) -> Decision:
        reason = Reason(code, text)
        self.record(cid, S.REFUSED, reason)
        return Decision("answer", cid, S.REFUSED, reason)

    def record(self, command_id: str, state: CommandState, reason: Reason | None = None) -> None:
        """Note a step of ``command_id``; raises :class:`StateTransitionError` for a step out of order."""
        old = self._states.get(command_id)
        if old is None and state not in (S.ACCEPTED, S.REFUSED):
            raise StateTransitionError(f"command {command_id}: {state.value} before it was accepted")
        if old is not None and state not in _NEXT.get(old, frozenset()):
            raise StateTransitionError(f"command {command_id}: {old.value} -> {state.value} is not a step")
        self._states[command_id] = state
        self._states.move_to_end(command_id)
        self._reasons[command_id] = reason
        if state.final and self.active == command_id:
            self.active = None
        while len(self._states) > self.remember:  # forget the oldest, never the one in progress
            old_id = next(c for c in self._states if c != self.active)
            del self._states[old_id]
            self._reasons.pop(old_id, None)
