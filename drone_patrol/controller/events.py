"""Vehicle events (what the alerts part publishes) and ArduCopter mode names."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

INFO = "info"
WARNING = "warning"
CRITICAL = "critical"

#: ArduCopter custom_mode numbers by name (ArduCopter/mode.h)
COPTER_MODES: dict[str, int] = {
    "STABILIZE": 0,
    "ACRO": 1,
    "ALT_HOLD": 2,
    "AUTO": 3,
    "GUIDED": 4,
    "LOITER": 5,
    "RTL": 6,
    "CIRCLE": 7,
    "LAND": 9,
    "DRIFT": 11,
    "SPORT": 13,
    "FLIP": 14,
    "AUTOTUNE": 15,
    "POSHOLD": 16,
    "BRAKE": 17,
    "THROW": 18,
    "AVOID_ADSB": 19,
    "GUIDED_NOGPS": 20,
    "SMART_RTL": 21,
    "FLOWHOLD": 22,
    "FOLLOW": 23,
    "ZIGZAG": 24,
    "SYSTEMID": 25,
    "AUTOROTATE": 26,
    "AUTO_RTL": 27,
}
COPTER_MODE_NAMES: dict[int, str] = {v: k for k, v in COPTER_MODES.items()}


def mode_name(custom_mode: int) -> str:
    """ArduCopter mode name for a HEARTBEAT ``custom_mode``."""
    return COPTER_MODE_NAMES.get(custom_mode, f"MODE({custom_mode})")


@dataclass(frozen=True)
class VehicleEvent:
    """Something that happened to the vehicle or the patrol, for logs and the command room.

    ``kind`` is one of: ``link_lost``, ``link_restored``, ``mode_changed``, ``armed``,
    ``disarmed``, ``took_off``, ``landed``, ``statustext``, ``waypoint_reached``,
    ``mission_current``, ``fence_breach``, ``gps_lost``, ``gps_restored``, ``battery_low``,
    ``failsafe``, ``area_entered``, ``area_left``, ``mission_state``, ``command_rejected``.
    ``severity`` is ``info``, ``warning`` or ``critical``; ``time_s`` is UNIX time.
    """

    time_s: float
    kind: str
    severity: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def now(cls, kind: str, severity: str, message: str, **data: Any) -> VehicleEvent:
        """An event stamped with the current time."""
        return cls(time.time(), kind, severity, message, data)


EventCallback = Callable[[VehicleEvent], None]


class EventBus:
    """Fan-out of events to subscribers; a failing subscriber is logged and skipped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[EventCallback] = []

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, event: VehicleEvent) -> None:
        """Deliver ``event`` to every subscriber."""
        level = logging.WARNING if event.severity != INFO else logging.INFO
        log.log(level, "%s: %s", event.kind, event.message)
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed")
