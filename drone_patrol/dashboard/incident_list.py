"""The page's incident list, kept in memory and encoded once per change.

``GET /api/alerts`` (the page's list, the default twelve-hour window) used to query the
archive and fold and encode every incident of the window on every request. The
dashboard already folds an incident each time one of its messages, acks or steps
arrives (to tell the open pages); :class:`IncidentList` keeps that incident's JSON, so a
request only picks, orders and joins ready-made bytes, with no archive query on its path.

The list is loaded from the archive when the dashboard starts and then follows what the
dashboard receives and does (every alert, ack and dispatch step reaches every dashboard
over MQTT), so it holds the same incidents as the archive. Each incident is shown whole
(all its messages), as ``GET /api/alerts/<id>`` shows it; a request with its own
``since`` still asks the archive.
"""

from __future__ import annotations

import json
import threading
from typing import Any


def encode(value: Any) -> bytes:
    """Compact JSON as the API sends it."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


class IncidentList:
    """Incident id -> (latest message time, the incident's JSON); thread-safe."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self._since_s = float("inf")  # nothing before this was loaded: older windows ask the archive

    def load(self, views: list[dict[str, Any]], since_s: float) -> None:
        """Start from the archive's incidents since ``since_s`` (views as the API shows them)."""
        rows = {v["incident_id"]: (float(v["time_s"]), encode(v)) for v in views}
        with self._lock:
            rows.update(self._rows)  # anything received while loading is newer
            self._rows = rows
            self._since_s = since_s

    def put(self, view: dict[str, Any]) -> None:
        """One incident as it is now (after a message, ack or step)."""
        row = (float(view["time_s"]), encode(view))
        with self._lock:
            self._rows[view["incident_id"]] = row

    def evict(self, before_s: float) -> None:
        """Forget incidents whose latest message is older than ``before_s`` (out of every window served)."""
        with self._lock:
            self._rows = {k: v for k, v in self._rows.items() if v[0] >= before_s}
            self._since_s = max(self._since_s, before_s)

    def json(self, since_s: float, limit: int | None = None) -> bytes | None:
        """The JSON array of incidents with a message since ``since_s``, newest first; ``None`` if not held."""
        with self._lock:
            if since_s < self._since_s:
                return None
            rows = [r for r in self._rows.values() if r[0] >= since_s]
        rows.sort(key=lambda r: r[0], reverse=True)
        return b"[" + b",".join(body for _, body in rows[:limit]) + b"]"
