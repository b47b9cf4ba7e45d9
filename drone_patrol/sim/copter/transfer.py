"""The vehicle side of the MAVLink mission protocol, one state machine per list.

Mirrors ArduPilot's ``MissionItemProtocol``: an upload starts with MISSION_COUNT,
the vehicle asks for each item with the legacy MISSION_REQUEST (id 40), takes
MISSION_ITEM_INT or MISSION_ITEM answers, re-asks after 1 s without one and
cancels with MAV_MISSION_OPERATION_CANCELLED after 8 s; only the system and
component that started the upload may send items or restart it (others get
DENIED); a download or clear during an upload is DENIED; fence and rally need
MAVLink 2. Mission and rally uploads overwrite the stored list as they go (not
atomic, as in ArduPilot); a fence upload is applied when complete. Times are the
vehicle's simulated seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.types import MavCmd
from drone_patrol.sim.copter import missions as m

REREQUEST_S = 1.0
UPLOAD_TIMEOUT_S = 8.0


class Peer(Protocol):
    """What the protocol needs of a ground-station connection."""

    def send(self, msg: Any) -> None:
        """Queue one MAVLink message to this connection."""

    def send_text(self, severity: int, text: str) -> None:
        """Send a STATUSTEXT to this connection only."""

    @property
    def sending_mavlink1(self) -> bool:
        """True when the peer speaks MAVLink 1 only."""


class ListProtocol:
    """Upload, download and clear of one list (mission, fence or rally)."""

    def __init__(
        self,
        mission_type: int,
        store: m.ItemStore,
        clock: Callable[[], float],
        mav: Any,
        say: Callable[[int, str], None],
        home_item: Callable[[], m.Item],
        current_seq: Callable[[], int],
        can_clear: Callable[[], bool],
        on_changed: Callable[[int], None],
    ) -> None:
        self.mission_type = mission_type
        self.store = store
        self._clock = clock
        self._mav = mav  # an encoder: only *_encode methods are used
        self._say = say
        self._home_item = home_item
        self._current_seq = current_seq
        self._can_clear = can_clear
        self._on_changed = on_changed
        self.receiving = False
        self.link: Peer | None = None
        self.dest = (0, 0)
        self.request_i = 0
        self.request_last = 0
        self.last_receive_s = 0.0
        self.last_request_s = 0.0
        self._new_items: list[m.Item] = []  # fence uploads are staged here
        self._item_warning_sent = False
        self._request_warning_sent = False

    # ----------------------------------------------------------------- helpers
    def _ack(self, link: Peer, msg: Any, result: int) -> None:
        link.send(self._mav.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(), result, self.mission_type))

    def _mavlink2_ok(self, link: Peer, msg: Any) -> bool:
        if self.mission_type == m.MISSION or not link.sending_mavlink1:
            return True
        self._say(mavlink2.MAV_SEVERITY_WARNING, "Need mavlink2 for item transfer")
        self._ack(link, msg, m.UNSUPPORTED)
        return False

    def _cancel_upload(self, link: Peer, msg: Any) -> bool:
        if self.receiving:
            if (msg.get_srcSystem(), msg.get_srcComponent()) != self.dest:
                self._ack(link, msg, m.DENIED)
                return False
            self._end_upload()
        return True

    def _end_upload(self) -> None:
        if self.receiving and self.mission_type != m.FENCE:
            self._on_changed(self.mission_type)  # a failed upload may have changed the list too
        self.receiving = False
        self.link = None
        self._new_items = []

    def _send_request(self) -> None:
        if not self.receiving or self.link is None or self.request_i > self.request_last:
            return
        self.link.send(self._mav.mission_request_encode(self.dest[0], self.dest[1], self.request_i, self.mission_type))
        self.last_request_s = self._clock()

    def _items(self) -> list[m.Item]:
        return self.store.lists[self.mission_type]

    # ---------------------------------------------------------------- messages
    def handle_count(self, link: Peer, msg: Any) -> None:
        """MISSION_COUNT: start (or restart) an upload of ``msg.count`` items."""
        if not self._mavlink2_ok(link, msg) or not self._cancel_upload(link, msg):
            return
        count = int(msg.count)
        limit = self.store.max_items(self.mission_type)
        if count > limit:
            self._ack(link, msg, m.NO_SPACE)
            self._say(mavlink2.MAV_SEVERITY_WARNING, f"Only {limit} items are supported")
            return
        items = self._items()
        if self.mission_type == m.FENCE:
            self._new_items = []
        elif count < len(items):
            # Truncated at once (AP_Mission::truncate); the vehicle is told when the upload ends.
            keep = max(count, 1) if self.mission_type == m.MISSION else count
            del items[keep:]
        if count == 0:
            self._complete(link, msg)
            return
        self.receiving = True
        self.link = link
        self.dest = (msg.get_srcSystem(), msg.get_srcComponent())
        self.request_i = 0
        self.request_last = count - 1
        self.last_receive_s = self._clock()
        self._item_warning_sent = False
        self._request_warning_sent = False
        self._send_request()

    def handle_item(self, link: Peer, msg: Any, item: m.Item, seq: int, legacy: bool) -> None:
        """MISSION_ITEM_INT (or a legacy MISSION_ITEM already converted to integers)."""
        if legacy and not self._item_warning_sent:
            self._item_warning_sent = True
            self._say(mavlink2.MAV_SEVERITY_WARNING, "got MISSION_ITEM; GCS should send MISSION_ITEM_INT")
        if not self.receiving or self.link is None:
            self._ack(link, msg, m.ERROR)
            return
        if not self._mavlink2_ok(self.link, msg):
            return
        if seq != self.request_i:
            self._ack(self.link, msg, m.INVALID_SEQUENCE)
            return
        if (msg.get_srcSystem(), msg.get_srcComponent()) != self.dest:
            self._ack(self.link, msg, m.DENIED)
            return
        result, stored = self.store.convert(self.mission_type, item)
        if result == m.ACCEPTED and stored is not None and stored.command == 177:
            target = int(stored.param1)
            if target == 0 or (target >= self._count_for_jump() and target > self.request_last):
                result = m.ERROR
        if result != m.ACCEPTED or stored is None:
            self._ack(self.link, msg, result)
            self._end_upload()
            return
        self._place(seq, stored)
        self.last_receive_s = self._clock()
        self.request_i += 1
        if self.request_i > self.request_last:
            self._complete(self.link, msg)
            return
        self._send_request()

    def _count_for_jump(self) -> int:
        return len(self._new_items) if self.mission_type == m.FENCE else len(self._items())

    def _place(self, seq: int, stored: m.Item) -> None:
        if self.mission_type == m.FENCE:
            self._new_items.append(stored)
            return
        items = self._items()
        if seq < len(items):
            items[seq] = stored
        else:
            items.append(stored)

    def _complete(self, link: Peer, msg: Any) -> None:
        self.receiving = False
        result = m.ACCEPTED
        if self.mission_type == m.MISSION:
            link.send_text(mavlink2.MAV_SEVERITY_INFO, "Flight plan received")
        if self.mission_type == m.FENCE:
            problem = m.validate_fence(self._new_items)
            if problem is None:
                self.store.lists[m.FENCE] = list(self._new_items)
                self._on_changed(m.FENCE)
            else:
                self._say(mavlink2.MAV_SEVERITY_WARNING, problem)
                result = m.ERROR
        else:
            self._on_changed(self.mission_type)
        self._ack(link, msg, result)
        self._end_upload()

    def handle_request_list(self, link: Peer, msg: Any) -> None:
        """MISSION_REQUEST_LIST: answer with MISSION_COUNT (home included for the mission)."""
        if not self._mavlink2_ok(link, msg):
            return
        if self.receiving:
            self._ack(link, msg, m.DENIED)
            return
        link.send(
            self._mav.mission_count_encode(
                msg.get_srcSystem(), msg.get_srcComponent(), self.store.count(self.mission_type), self.mission_type
            )
        )

    def handle_request(self, link: Peer, msg: Any, seq: int, legacy: bool) -> None:
        """MISSION_REQUEST_INT (or legacy MISSION_REQUEST): send one item."""
        if not self._mavlink2_ok(link, msg):
            return
        if self.receiving and not legacy:
            self._ack(link, msg, m.DENIED)
            return
        items = self._items()
        if seq >= len(items) and not (self.mission_type == m.MISSION and seq == 0):
            if not legacy:
                link.send(
                    self._mav.mission_count_encode(
                        msg.get_srcSystem(), msg.get_srcComponent(), len(items), self.mission_type
                    )
                )
            self._ack(link, msg, m.INVALID_SEQUENCE)
            return
        item = self._home_item() if self.mission_type == m.MISSION and seq == 0 else items[seq]
        current = 1 if self.mission_type == m.MISSION and seq == self._current_seq() > 0 else 0
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        if legacy:
            if not self._request_warning_sent:
                self._request_warning_sent = True
                self._say(mavlink2.MAV_SEVERITY_WARNING, "got MISSION_REQUEST; use MISSION_REQUEST_INT!")
            out = self._mav.mission_item_encode(
                src[0],
                src[1],
                seq,
                item.frame,
                item.command,
                current,
                item.autocontinue,
                item.param1,
                item.param2,
                item.param3,
                item.param4,
                item.x / 1e7,
                item.y / 1e7,
                item.z,
                self.mission_type,
            )
        else:
            out = self._mav.mission_item_int_encode(
                src[0],
                src[1],
                seq,
                item.frame,
                item.command,
                current,
                item.autocontinue,
                item.param1,
                item.param2,
                item.param3,
                item.param4,
                item.x,
                item.y,
                item.z,
                self.mission_type,
            )
        link.send(out)

    def handle_clear_all(self, link: Peer, msg: Any) -> None:
        """MISSION_CLEAR_ALL: refused (ERROR) while the mission runs in AUTO."""
        ok = self._cancel_upload(link, msg)
        if not ok:
            return
        if self.mission_type == m.MISSION and not self._can_clear():
            ok = False
        if ok:
            self.store.lists[self.mission_type] = (
                [m.Item(MavCmd.NAV_WAYPOINT)] if self.mission_type == m.MISSION else []
            )
            self._on_changed(self.mission_type)
        self._ack(link, msg, m.ACCEPTED if ok else m.ERROR)

    # ------------------------------------------------------------------ timers
    def update(self) -> None:
        """Re-request after 1 s of silence; cancel after 8 s without an item."""
        if not self.receiving or self.link is None:
            return
        now = self._clock()
        if now - self.last_receive_s > UPLOAD_TIMEOUT_S:
            link = self.link
            kind = {m.MISSION: "Mission", m.FENCE: "Fence", m.RALLY: "Rally"}[self.mission_type]
            link.send_text(mavlink2.MAV_SEVERITY_WARNING, f"{kind} upload timeout")
            link.send(self._mav.mission_ack_encode(self.dest[0], self.dest[1], m.CANCELLED, self.mission_type))
            self._end_upload()
            return
        if now - self.last_request_s > REREQUEST_S:
            self._send_request()
