"""Retransmission in the mission protocol: timeouts from measured round trips, and what to resend.

:class:`RoundTrip` is TCP's estimator (RFC 6298): a smoothed round trip and its mean deviation, the timeout
``srtt + max(4 * rttvar, min_timeout_s)`` (RFC 9002's form) bounded above, doubled for each consecutive timeout
(back-off), and samples taken only from exchanges that were not retransmitted (Karn's
rule: the answer to a resent message cannot be told from the answer to the first).
Before the first sample the timeout is the upper bound, the fixed timeout of old.
:class:`UploadState` is one upload's bookkeeping: what went out when, which request
came last, what a timeout sends again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from drone_patrol.controller.items import WireItem
from drone_patrol.controller.link import MavLink, mavlink

#: Downlink loss (from MAVLink sequence gaps) from which a windowed upload sends every
#: item twice from the start; a loss seen during the upload switches it on as well.
DOUBLE_FROM_LOSS = 0.02

#: An exchange silent for its patience goes on while the vehicle is heard and the link's
#: measured loss leaves a larger chance than this that every try so far was lost ...
GIVE_UP_CHANCE = 1e-6
#: ... but never past this many times its patience.
MAX_PATIENCE_FACTOR = 4.0

#: The timeout is at least the smoothed round trip plus this (seconds), however steady the
#: samples: the vehicle's message loop (2.5 ms at ArduCopter's 400 Hz) and the scheduling
#: of both ends add a few milliseconds that the deviation of a few samples may not show
#: (RFC 9002's kGranularity). On a radio link, with tens of milliseconds of round trip and
#: its deviation, it changes nothing; a loopback or USB link with a 2 ms round trip gets a
#: timeout of about 4 ms instead of a fixed 10 ms.
MIN_TIMEOUT_S = 0.002


def tries_needed(loss_fraction: float, chance: float = GIVE_UP_CHANCE) -> int | None:
    """Tries of one request and its answer after which all of them were lost with at most
    ``chance``, each message lost with ``loss_fraction`` (measured on the downlink; the
    uplink is taken to lose as much). ``None`` when no number of tries is enough.

    At 20 % each way a try fails 36 % of the time: 6 tries all fail once in 460, 14 once in
    a million.
    """
    loss = min(max(loss_fraction, 0.0), 1.0)
    per_try = 1.0 - (1.0 - loss) ** 2
    if per_try <= 0.0:
        return 1
    if per_try >= 1.0:
        return None
    return max(1, math.ceil(math.log(chance) / math.log(per_try)))


def gives_up(
    silent_s: float,
    tries: int,
    patience_s: float,
    heartbeat_age_s: float | None,
    loss_fraction: float,
    min_tries: int = 1,
) -> bool:
    """Whether an exchange that sent ``tries`` tries and heard no answer for ``silent_s`` gives up.

    Never before ``min_tries`` tries went out (the configured retries: a machine so busy
    that the timer fired late has not tried as often as the patience allows). After
    ``patience_s``, unless the vehicle is still heard (its last heartbeat came within
    the patience: a link that loses some heartbeats is still up) and the
    link's measured loss makes it likelier than :data:`GIVE_UP_CHANCE` that every try so
    far was lost: a try fails 36 % of the time at 20 % loss each way, so the six or seven
    tries of the patience all fail once in 500 to 1,300 exchanges, and one upload with
    its read-back is dozens of exchanges. It then goes on trying at the same pace until
    :func:`tries_needed` tries went out, for at most :data:`MAX_PATIENCE_FACTOR` times
    the patience. A vehicle no longer heard, or a clean link, gives up after the patience.
    """
    if silent_s < patience_s:
        return False
    if silent_s >= MAX_PATIENCE_FACTOR * patience_s:
        return True
    if tries < min_tries:
        return False
    if heartbeat_age_s is None or heartbeat_age_s >= patience_s:
        return True
    needed = tries_needed(loss_fraction)
    return needed is None or tries >= needed


@dataclass(slots=True)
class RoundTrip:
    """Smoothed round trip of one link and the retransmission timeout derived from it."""

    max_timeout_s: float
    min_timeout_s: float = MIN_TIMEOUT_S
    srtt_s: float | None = None
    rttvar_s: float = 0.0
    samples: int = 0

    def sample(self, rtt_s: float) -> None:
        """Take one round trip (seconds) of an exchange that was sent once."""
        rtt_s = max(0.0, rtt_s)
        if self.srtt_s is None:
            self.srtt_s, self.rttvar_s = rtt_s, rtt_s / 2
        else:
            self.rttvar_s = 0.75 * self.rttvar_s + 0.25 * abs(self.srtt_s - rtt_s)
            self.srtt_s = 0.875 * self.srtt_s + 0.125 * rtt_s
        self.samples += 1

    def timeout_s(self, backoff: int = 0) -> float:
        """The wait before a retransmission, after ``backoff`` consecutive timeouts."""
        if self.srtt_s is None:
            base = self.max_timeout_s
        else:
            base = min(self.max_timeout_s, self.srtt_s + max(4 * self.rttvar_s, self.min_timeout_s))
        return float(min(self.max_timeout_s, base * 2 ** min(backoff, 16)))


class UploadState:
    """One upload attempt: what went out when, what the vehicle asked for, the round trips.

    Stop-and-wait, as the protocol describes it, for every autopilot but ArduPilot: each
    request is answered with its item; when the next request does not come within the
    timeout, the item the last request asked for goes out again.

    ArduPilot takes any item whose seq is the one it waits for, requested or not, and
    answers any other with INVALID_SEQUENCE and carries on
    (``MissionItemProtocol::handle_mission_item``); its requests are thus cumulative
    acknowledgements ("I hold everything before seq"). So it gets a window: the first
    ``window`` items follow MISSION_COUNT at once (the link keeps order, so they arrive
    after the count; an item that arrives without the count is answered with ERROR and
    nothing is stored), and from then on up to ``window`` items ahead of its highest
    request go out without waiting, each once, in order. A lost request then costs
    nothing (the next one says more), and a lost item is sent again, with the rest of the
    window behind it (ArduPilot dropped those), as soon as one of these comes: an
    INVALID_SEQUENCE (an item behind the lost one arrived), an ERROR before any request
    (the count was lost: it goes again too), the vehicle's second request for it (its
    own re-request), or the timeout. An INVALID_SEQUENCE within ``srtt + 2 * rttvar`` of
    a resend is taken for an answer to the copies that were in flight before it and
    resends nothing (else each resend's answers would trigger the next, a storm). The
    timeout sends one new item too, in case the vehicle took the whole window and only
    its request was lost.

    On a lossy link (downlink loss from MAVLink sequence gaps, since the link opened, of
    at least :data:`DOUBLE_FROM_LOSS`, or once an item was lost in this upload) every item goes
    out twice in a row: ArduPilot takes the first copy that arrives and answers the other
    with INVALID_SEQUENCE, so an item is lost only when both copies are (p**2 instead of
    p), at the cost of twice the uplink bytes. Every item then draws an INVALID_SEQUENCE,
    so those no longer signal a loss: the vehicle's repeated request and the timeout do.

    Every item is timed from its first send to the request that follows it, unless it
    went out more than once (Karn) or something went wrong in between (an
    INVALID_SEQUENCE, a resend, a timeout): such a request may be the vehicle's own
    re-request a second after its first one was lost, which is no round trip.
    """

    def __init__(
        self,
        link: MavLink,
        send_item: Callable[[WireItem, int], None],
        send_count: Callable[[int, int], None],
        items: list[WireItem],
        mission_type: int,
        round_trip: RoundTrip,
        window: int = 1,
    ) -> None:
        self._send_item = send_item
        self._send_count = send_count
        self.items = items
        self.mission_type = mission_type
        self.rtt = round_trip
        self.count = len(items)
        self.window = max(1, window) if link.autopilot == mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA else 1
        lossy = link.health().loss_fraction >= DOUBLE_FROM_LOSS  # since the link opened
        self.copies = 2 if self.pipelined and lossy else 1  # each item goes out this often
        self.requested_any = False
        self.last_request: int | None = None
        self.highest = -1  # the highest seq requested: the vehicle holds every item before it
        self.max_sent = -1
        self.final_sends = 0
        self.backoff = 0
        now = time.monotonic()
        self.last_heard = now
        self.last_sent_s = now
        self._resent_at = -1e9
        self._highest_at = -1e9  # when the highest request first came
        self._troubled_at = -1e9  # the last INVALID_SEQUENCE, resend or timeout
        self._sends: dict[int, int] = {}  # seq -> how often it went out (-1: MISSION_COUNT)
        self._first_sent: dict[int, float] = {}
        self._last_sent: dict[int, float] = {}
        self._timed: set[int] = set()

    @property
    def pipelined(self) -> bool:
        """True when items go out ahead of their requests (ArduPilot)."""
        return self.window > 1

    def start(self) -> None:
        """MISSION_COUNT, and for ArduPilot the first window of items right behind it."""
        self.send_count()
        if self.pipelined:
            self._send_range(0, self.window - 1)

    def send_count(self) -> None:
        """MISSION_COUNT (again, until the vehicle starts requesting; twice on a lossy link:
        a second count before any item only starts the same upload again)."""
        for _ in range(self.copies):
            self._send_count(self.count, self.mission_type)
        self._note(-1)

    def _note(self, seq: int) -> None:
        now = time.monotonic()
        self._sends[seq] = self._sends.get(seq, 0) + 1
        self._first_sent.setdefault(seq, now)
        self._last_sent[seq] = now
        self.last_sent_s = now

    @property
    def waiting_since(self) -> float:
        """When what the vehicle waits for last went out: the retransmission timer runs from here."""
        if not self.requested_any:
            return self._last_sent.get(-1, self.last_sent_s)
        seq = self.highest if self.pipelined else self.last_request
        return self._last_sent.get(seq if seq is not None else -1, self.last_sent_s)

    def _send(self, seq: int) -> None:
        for _ in range(self.copies):
            self._send_item(self.items[seq], self.mission_type)
        self._note(seq)
        self.max_sent = max(self.max_sent, seq)
        if seq == self.count - 1:
            self.final_sends += 1

    def _send_range(self, first: int, last: int) -> None:
        for seq in range(first, min(last, self.count - 1) + 1):
            self._send(seq)

    def answer(self, seq: int) -> bool:
        """The vehicle asked for ``seq``: time the exchange that led here and send; True on progress."""
        now = time.monotonic()
        before = seq - 1  # what we sent that this request answers (-1: the count)
        if self._sends.get(before) == 1 and before not in self._timed and self._first_sent[before] > self._troubled_at:
            self._timed.add(before)
            self.rtt.sample(now - self._first_sent[before])
        self.requested_any = True
        self.backoff = 0
        self.last_heard = now
        self.last_request = seq
        progressed = seq > self.highest
        if progressed:
            self.highest, self._highest_at = seq, now
        if not self.pipelined:
            self._send(seq)
        elif progressed:
            if seq <= self.max_sent and now - self._last_sent[seq] >= self.rtt.timeout_s():
                self._resend_window()  # it went out a timeout ago: this asks for it again
            self._send_range(max(self.max_sent + 1, seq), seq + self.window - 1)  # fill the window
        elif seq == self.highest:
            if now - self._highest_at >= self._quiet_s:  # asked again: the item and the window behind it were lost
                self._resend_window()
            # else a duplicate of the request (a link that repeats frames): nothing new
        else:  # an older request (a restarted upload, or a late copy): answer just that
            self._send(seq)
        return progressed

    def nack(self, count_lost: bool = False) -> None:
        """INVALID_SEQUENCE: the vehicle got an item other than the one it waits for; with
        ``count_lost``, an ERROR before any request: items reached it outside an upload."""
        if not self.pipelined:
            return
        now = time.monotonic()
        if self.rtt.srtt_s is None and self._sends.get(0) == 1 and self._sends.get(-1) == 1:
            self.rtt.sample(now - self._first_sent[0])  # the first answer to the first window
        if count_lost and not self.requested_any:
            self._troubled_at = now
            if now - self._resent_at >= self._quiet_s:
                self.send_count()
                self._resent_at = now
                self._send_range(0, self.max_sent)
            return
        if self.copies > 1:
            return  # each second copy draws one: no sign of a loss
        self._troubled_at = now
        if now - self._resent_at < self._quiet_s:
            return  # within a round trip of a resend: an answer to what was in flight before it
        self._resend_window()

    @property
    def _quiet_s(self) -> float:
        if self.rtt.srtt_s is None:
            return self.rtt.timeout_s()
        return self.rtt.srtt_s + 2 * self.rtt.rttvar_s

    def _resend_window(self) -> None:
        """Send the item the vehicle waits for again, with what went out behind it (from now
        on every item twice: the link loses items)."""
        now = time.monotonic()
        self._resent_at = self._troubled_at = now
        self.copies = 2
        self._send_range(max(self.highest, 0), self.max_sent)

    def retransmit(self) -> None:
        """No request within the timeout: send again what the vehicle's last request asked for."""
        self._troubled_at = time.monotonic()
        if not self.requested_any:
            self.send_count()
            if self.pipelined:
                self._resent_at = self._troubled_at
                self._send_range(0, self.max_sent)
            return
        if not self.pipelined:
            self._send(self.last_request if self.last_request is not None else 0)
            return
        newest = self.max_sent
        self._resend_window()
        self._send_range(newest + 1, newest + 1)  # taken if only the last request was lost
