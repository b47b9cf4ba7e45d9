"""MAVLink mission protocol: upload, download and clear of mission, fence and rally lists.

Behaves as QGroundControl's PlanManager and MAVSDK's transfer client do: MISSION_COUNT
is re-sent until the vehicle starts requesting, MISSION_REQUEST and MISSION_REQUEST_INT
are both answered with MISSION_ITEM_INT, a repeated request is answered again,
INVALID_SEQUENCE is not fatal, and the whole operation has a deadline. Faster on a bad
link: each wait lasts the retransmission timeout of the link's measured round trip
(:mod:`drone_patrol.controller.retransmit`; at least 2 ms over the round trip, at most
``item_timeout_s``, doubling while nothing comes), a timeout resends what the vehicle's
last request asked for (to ArduPilot with the item after it), and a transfer gives up
only after ``(retries + 1) * item_timeout_s`` without an answer, longer on a lossy link
while the vehicle's heartbeats still come
(:func:`~drone_patrol.controller.retransmit.gives_up`). Downloads keep a window of
requests out and ask again only for the items that did not come within the timeout.
Every failure is a :class:`MissionTransferError` naming the MAV_MISSION_RESULT
(``-1``/``TIMEOUT`` when the vehicle stopped answering).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from drone_patrol.controller.items import WireItem, describe_item, list_differences
from drone_patrol.controller.link import MavLink, Message, MessageQueue, mavlink
from drone_patrol.controller.retransmit import RoundTrip, UploadState, gives_up
from drone_patrol.core.errors import MissionTransferError

log = logging.getLogger(__name__)

#: progress(done_items, total_items)
Progress = Callable[[int, int], None]

TIMEOUT_RESULT = -1
_T = TypeVar("_T")
_ACCEPTED = mavlink.MAV_MISSION_ACCEPTED
_NON_FATAL = {mavlink.MAV_MISSION_INVALID_SEQUENCE}
# Answers that can be a stale or duplicated reply to an earlier exchange.
_AMBIGUOUS = {mavlink.MAV_MISSION_ERROR, mavlink.MAV_MISSION_INVALID_SEQUENCE}

_TYPE_NAMES = {0: "mission", 1: "fence", 2: "rally"}


def result_name(result: int) -> str:
    """The MAV_MISSION_RESULT name of ``result`` (``TIMEOUT`` for -1)."""
    if result == TIMEOUT_RESULT:
        return "TIMEOUT"
    entry = mavlink.enums["MAV_MISSION_RESULT"].get(result)
    return entry.name if entry is not None else f"MAV_MISSION_RESULT({result})"


class _FinalAckUncertain(Exception):
    """Every item went out but the final ACK never came (or came garbled by a duplicate)."""

    def __init__(self, why: str, result: int = -1) -> None:
        super().__init__(why)
        self.result = result  # the ambiguous answer, reported if the read-back differs


class _Restart(Exception):
    """The vehicle cancelled the transfer; start it again."""


@dataclass(frozen=True, slots=True)
class TransferTiming:
    """Wall-clock timing of transfers: per-wait timeout, retries per wait, overall deadline."""

    item_timeout_s: float = 1.5
    retries: int = 5
    deadline_s: float = 60.0
    download_window: int = 8
    upload_window: int = 8  # items sent ahead of their requests (ArduPilot only)


class MissionTransfer:
    """Runs mission-protocol exchanges over a :class:`MavLink` (one at a time per instance).

    :attr:`round_trip` holds the link's measured round trip; each transfer refines it,
    and the next one starts from it.
    """

    def __init__(self, link: MavLink, timing: TransferTiming = TransferTiming()) -> None:
        self.link = link
        self.timing = timing
        self.round_trip = RoundTrip(max_timeout_s=timing.item_timeout_s)

    # -- helpers ---------------------------------------------------------------

    def _for_us(self, msg: Message, mission_type: int) -> bool:
        target = getattr(msg, "target_system", 0)
        if target not in (0, self.link.source_system):
            return False
        return int(getattr(msg, "mission_type", 0)) == mission_type

    def _error(self, result: int, operation: str, mission_type: int, detail: str) -> MissionTransferError:
        what = _TYPE_NAMES.get(mission_type, str(mission_type))
        return MissionTransferError(result, operation, result_name(result), f"{what}: {detail}")

    def _send_item(self, item: WireItem, mission_type: int) -> None:
        self.link.send(
            mavlink.MAVLink_mission_item_int_message(
                self.link.target_system,
                self.link.target_component,
                item.seq,
                item.frame,
                item.command,
                0,  # current: 2 or 3 would be a GUIDED request on ArduPilot
                1 if item.autocontinue else 0,
                item.param1,
                item.param2,
                item.param3,
                item.param4,
                item.x,
                item.y,
                item.z,
                mission_type,
            )
        )

    def _send_count(self, count: int, mission_type: int) -> None:
        self.link.send(
            mavlink.MAVLink_mission_count_message(
                self.link.target_system, self.link.target_component, count, mission_type
            )
        )

    def _send_ack(self, mission_type: int, result: int = _ACCEPTED) -> None:
        self.link.send(
            mavlink.MAVLink_mission_ack_message(
                self.link.target_system, self.link.target_component, result, mission_type
            )
        )

    # -- upload ----------------------------------------------------------------

    def upload(self, items: Sequence[WireItem], mission_type: int, progress: Progress | None = None) -> None:
        """Upload ``items`` (seq 0..N-1) as the vehicle's list of ``mission_type``.

        When every item went out but the final ACK was lost, the list is read back and
        the upload counts as done if the vehicle holds exactly what was sent.
        """
        items = list(items)
        deadline = time.monotonic() + self.timing.deadline_s
        restarts = 0
        while True:
            try:
                self._upload_once(items, mission_type, deadline, progress)
                return
            except _Restart:
                # The vehicle answers but gave up waiting (its own upload timeout ran out,
                # e.g. on a fast-running simulator): start over while the deadline allows.
                restarts += 1
                if restarts > 2 * self.timing.retries or time.monotonic() >= deadline:
                    raise self._error(
                        mavlink.MAV_MISSION_OPERATION_CANCELLED,
                        "upload",
                        mission_type,
                        f"vehicle cancelled {restarts} times",
                    ) from None
                log.info("vehicle cancelled the upload; restarting (%d)", restarts)
            except _FinalAckUncertain as exc:
                log.info("final ACK of upload uncertain (%s); reading back", exc)
                remaining = max(deadline - time.monotonic(), self.timing.item_timeout_s * 4)
                try:
                    got = self.download(mission_type, deadline_s=remaining)
                except MissionTransferError as down:
                    raise self._error(
                        TIMEOUT_RESULT, "upload", mission_type, f"no final ACK and read-back failed ({down})"
                    ) from None
                skip_home = mission_type == mavlink.MAV_MISSION_TYPE_MISSION
                diffs = list_differences(items, got, skip_home=skip_home)
                if diffs:
                    raise self._error(
                        exc.result, "upload", mission_type, f"{exc} and the read-back differs: {diffs[0]}"
                    ) from None
                return

    def _upload_once(
        self, items: list[WireItem], mission_type: int, deadline: float, progress: Progress | None
    ) -> None:
        count = len(items)
        window = self.timing.upload_window
        up = UploadState(self.link, self._send_item, self._send_count, items, mission_type, self.round_trip, window)
        rtt = self.round_trip
        with self.link.listen({"MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"}) as q:
            up.start()
            while True:
                now = time.monotonic()
                # The last item counts as sent only once the vehicle is known to be receiving
                # (ArduPilot's first window may hold the whole list before any request).
                if now >= deadline:
                    if up.final_sends and up.requested_any:
                        raise _FinalAckUncertain("deadline reached after the last item")
                    raise self._error(
                        TIMEOUT_RESULT,
                        "upload",
                        mission_type,
                        f"deadline of {self.timing.deadline_s:.1f} s passed with {up.highest + 1}/{count} items sent",
                    )
                silent_s = now - up.last_heard
                if self._gives_up(silent_s, up.backoff + 1):
                    if up.final_sends and up.requested_any:
                        raise _FinalAckUncertain(f"no ACK for {silent_s:.2f} s")
                    waited = "first request" if not up.requested_any else f"request after seq {up.last_request}"
                    raise self._error(
                        TIMEOUT_RESULT,
                        "upload",
                        mission_type,
                        f"no {waited} for {silent_s:.2f} s ({up.backoff} retries)",
                    )
                due = up.waiting_since + rtt.timeout_s(up.backoff)
                msg = q.get(self._wait_s(now, due, deadline, silent_s))
                if msg is None:
                    if time.monotonic() >= due:
                        up.backoff += 1
                        up.retransmit()
                    continue
                if not self._for_us(msg, mission_type):
                    continue
                mtype = msg.get_type()
                if mtype in ("MISSION_REQUEST", "MISSION_REQUEST_INT"):
                    seq = int(msg.seq)
                    if 0 <= seq < count and up.answer(seq) and progress is not None:
                        progress(seq + 1, count)
                    continue
                result = int(msg.type)
                if result == _ACCEPTED:
                    if count == 0 or up.final_sends:
                        if progress is not None and (count == 0 or up.highest < count - 1):
                            progress(count, count)  # the last request(s) lost; the vehicle has them all
                        return
                    continue  # a stale ACK of an earlier exchange
                if result == mavlink.MAV_MISSION_OPERATION_CANCELLED:
                    raise _Restart()
                if result in _NON_FATAL:
                    up.nack()
                    continue
                if result in _AMBIGUOUS and not up.requested_any:
                    up.nack(count_lost=result == mavlink.MAV_MISSION_ERROR)
                    continue
                if result in _AMBIGUOUS and up.final_sends:
                    # The last item went out: this may answer a duplicate of it after a lost
                    # ACCEPTED (ArduPilot answers items outside a transfer with ERROR).
                    raise _FinalAckUncertain(f"{result_name(result)} after the last item", result)
                last = up.last_request
                where = (
                    f"at {describe_item(items[last])}"
                    if last is not None and 0 <= last < len(items)
                    else f"to a count of {count} items"
                )
                raise self._error(result, "upload", mission_type, f"vehicle answered {where}")

    @property
    def _patience_s(self) -> float:
        """Silence after which a transfer gives up: as many waits of the longest timeout as retries allow."""
        return (self.timing.retries + 1) * self.timing.item_timeout_s

    def _gives_up(self, silent_s: float, tries: int) -> bool:
        """Whether an exchange that sent ``tries`` tries and heard no answer for ``silent_s`` gives up."""
        if silent_s < self._patience_s:
            return False  # within the patience: no need to ask the link (called on every message)
        health = self.link.health()
        return gives_up(
            silent_s, tries, self._patience_s, health.heartbeat_age_s, health.loss_fraction, self.timing.retries + 1
        )

    def _wait_s(self, now: float, due: float, deadline: float, silent_s: float) -> float:
        """How long to wait for a message: until the next resend, the deadline or the end of the patience."""
        wait = min(due, deadline) - now
        if silent_s < self._patience_s:
            wait = min(wait, self._patience_s - silent_s)
        return max(0.0, wait)

    # -- download --------------------------------------------------------------

    def download(
        self, mission_type: int, progress: Progress | None = None, deadline_s: float | None = None
    ) -> list[WireItem]:
        """Read the vehicle's list of ``mission_type`` (for missions, seq 0 is home)."""
        timing = self.timing
        deadline = time.monotonic() + (deadline_s if deadline_s is not None else timing.deadline_s)
        types = {"MISSION_COUNT", "MISSION_ITEM_INT", "MISSION_ITEM", "MISSION_ACK"}
        rtt = self.round_trip
        with self.link.listen(types) as q:
            count = self._request_count(q, mission_type, deadline)
            got: dict[int, WireItem] = {}
            outstanding: dict[int, float] = {}  # seq -> when last requested
            first_asked: dict[int, float] = {}
            asked: dict[int, int] = {}  # seq -> how often requested (Karn: time only the once-asked)
            next_seq = 0
            backoff = 0
            last_heard = time.monotonic()
            while len(got) < count:
                now = time.monotonic()
                if now >= deadline:
                    raise self._error(
                        TIMEOUT_RESULT, "download", mission_type, f"deadline passed with {len(got)}/{count} items"
                    )
                if self._gives_up(now - last_heard, backoff + 1):
                    first = min(outstanding) if outstanding else len(got)
                    raise self._error(
                        TIMEOUT_RESULT,
                        "download",
                        mission_type,
                        f"no item {first} for {now - last_heard:.2f} s ({backoff} retries)",
                    )
                while next_seq < count and len(outstanding) < timing.download_window:
                    if next_seq not in got:
                        self._request_item(next_seq, mission_type)
                        outstanding[next_seq] = first_asked[next_seq] = now
                        asked[next_seq] = 1
                    next_seq += 1
                due = min(outstanding.values(), default=now) + rtt.timeout_s(backoff)
                msg = q.get(self._wait_s(now, due, deadline, now - last_heard))
                if msg is None:
                    now = time.monotonic()
                    if now >= due:
                        late = [seq for seq, at in outstanding.items() if now >= at + rtt.timeout_s(backoff)]
                        backoff += 1
                        for seq in late:  # ask again for what did not come within the timeout
                            self._request_item(seq, mission_type)
                            outstanding[seq] = now
                            asked[seq] += 1
                    continue
                if not self._for_us(msg, mission_type):
                    continue
                mtype = msg.get_type()
                if mtype == "MISSION_ACK":
                    result = int(msg.type)
                    if result in (_ACCEPTED, *_NON_FATAL):
                        continue
                    raise self._error(result, "download", mission_type, f"vehicle answered after {len(got)} items")
                if mtype not in ("MISSION_ITEM_INT", "MISSION_ITEM"):
                    continue
                seq = int(msg.seq)
                if seq in got or not 0 <= seq < count:
                    continue
                now = time.monotonic()
                if asked.get(seq) == 1 and seq in outstanding:
                    rtt.sample(now - first_asked[seq])
                backoff = 0
                last_heard = now
                got[seq] = _wire_from_message(msg, mission_type)
                outstanding.pop(seq, None)
                if progress is not None:
                    progress(len(got), count)
            self._send_ack(mission_type)
        return [got[i] for i in range(count)]

    def _request_count(self, q: MessageQueue, mission_type: int, deadline: float) -> int:
        request = mavlink.MAVLink_mission_request_list_message(
            self.link.target_system, self.link.target_component, mission_type
        )

        def answer(msg: Message) -> int | None:
            if msg.get_type() == "MISSION_COUNT":
                return int(msg.count)
            if msg.get_type() == "MISSION_ACK" and int(msg.type) not in (_ACCEPTED, *_AMBIGUOUS):
                raise self._error(int(msg.type), "download", mission_type, "vehicle refused the list request")
            return None

        count, waited = self._ask(q, request, mission_type, answer, deadline)
        if count is None:
            raise self._error(TIMEOUT_RESULT, "download", mission_type, f"no MISSION_COUNT {waited}")
        return count

    def _ask(
        self,
        q: MessageQueue,
        request: Message,
        mission_type: int,
        answer: Callable[[Message], _T | None],
        deadline: float,
    ) -> tuple[_T | None, str]:
        """Send ``request`` until ``answer`` makes something of a reply: again after each
        retransmission timeout (backing off), until the deadline or :meth:`_gives_up`.
        Returns the answer (``None`` on giving up) and how long it waited, in words."""
        rtt = self.round_trip
        started = sent_at = time.monotonic()
        backoff = 0
        self.link.send(request)
        while (now := time.monotonic()) < deadline and not self._gives_up(now - started, backoff + 1):
            due = sent_at + rtt.timeout_s(backoff)
            if now >= due:
                backoff += 1
                self.link.send(request)
                sent_at = now
                continue
            msg = q.get(self._wait_s(now, due, deadline, now - started))
            if msg is None or not self._for_us(msg, mission_type):
                continue
            result = answer(msg)
            if result is not None:
                if backoff == 0:  # sent once: a clean round trip
                    rtt.sample(time.monotonic() - sent_at)
                return result, ""
        return None, f"for {time.monotonic() - started:.2f} s ({backoff} retries)"

    def _request_item(self, seq: int, mission_type: int) -> None:
        self.link.send(
            mavlink.MAVLink_mission_request_int_message(
                self.link.target_system, self.link.target_component, seq, mission_type
            )
        )

    # -- clear -----------------------------------------------------------------

    def clear(self, mission_type: int) -> None:
        """Clear the vehicle's list of ``mission_type``."""
        deadline = time.monotonic() + self.timing.deadline_s
        msg_out = mavlink.MAVLink_mission_clear_all_message(
            self.link.target_system, self.link.target_component, mission_type
        )

        def answer(msg: Message) -> bool | None:
            result = int(msg.type)
            if result == _ACCEPTED:
                return True
            if result in _NON_FATAL:
                return None
            raise self._error(result, "clear", mission_type, "vehicle refused to clear")

        with self.link.listen({"MISSION_ACK"}) as q:
            done, waited = self._ask(q, msg_out, mission_type, answer, deadline)
        if not done:
            raise self._error(TIMEOUT_RESULT, "clear", mission_type, f"no MISSION_ACK {waited}")


def _wire_from_message(msg: Message, mission_type: int) -> WireItem:
    if msg.get_type() == "MISSION_ITEM":  # legacy float item: x, y in degrees
        x, y = round(msg.x * 1e7), round(msg.y * 1e7)
    else:
        x, y = int(msg.x), int(msg.y)
    return WireItem(
        seq=int(msg.seq),
        frame=int(msg.frame),
        command=int(msg.command),
        param1=float(msg.param1),
        param2=float(msg.param2),
        param3=float(msg.param3),
        param4=float(msg.param4),
        x=x,
        y=y,
        z=float(msg.z),
        autocontinue=bool(msg.autocontinue),
        current=int(msg.current),
        mission_type=mission_type,
    )
