"""The dashboard's SQLite archive of alert messages and acknowledgements.

Every alert message is kept once (its CloudEvent id is the key, so a QoS 1
redelivery is a no-op); acknowledgements are kept as an audit trail. The page
and the API see incidents: the messages of one ``incident_id`` folded into one
row (:func:`fold_incidents`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.model import SEVERITY_RANK, Ack, AlertMessage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    site TEXT NOT NULL,
    drone TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    time_s REAL NOT NULL,
    received_s REAL NOT NULL,
    latitude_deg REAL,
    longitude_deg REAL,
    error_radius_m REAL,
    first_seen_s REAL,
    last_seen_s REAL,
    confidence REAL,
    area TEXT,
    summary TEXT NOT NULL,
    figures TEXT NOT NULL,
    thumbnail BLOB,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_time ON messages (time_s);
CREATE INDEX IF NOT EXISTS messages_incident ON messages (incident_id);
CREATE TABLE IF NOT EXISTS acks (
    ack_id TEXT PRIMARY KEY,
    target_id TEXT NOT NULL,
    by TEXT NOT NULL,
    time_s REAL NOT NULL,
    site TEXT NOT NULL,
    drone TEXT NOT NULL,
    note TEXT NOT NULL,
    received_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS acks_target ON acks (target_id);
"""

_COLUMNS = (
    "id, incident_id, site, drone, kind, status, severity, time_s, latitude_deg, longitude_deg, error_radius_m, "
    "first_seen_s, last_seen_s, confidence, area, summary, figures, thumbnail IS NOT NULL, received_s"
)


class IncidentQueries:
    """Incidents folded from an archive's :meth:`messages` and :meth:`acks` (shared by SQLite and PostgreSQL)."""

    def messages(self, since_s: float, incident_id: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def acks(self, target_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def incidents(self, since_s: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Incidents with a message since ``since_s``, newest first, each folded with its acks."""
        msgs = self.messages(since_s)
        acks = self.acks({m["incident_id"] for m in msgs} | {m["id"] for m in msgs})
        rows = fold_incidents(msgs, acks)
        return rows[:limit] if limit is not None else rows

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident folded from all its messages, or ``None``."""
        msgs = self.messages(float("-inf"), incident_id)
        rows = fold_incidents(msgs, self.acks({incident_id} | {m["id"] for m in msgs}))
        return rows[0] if rows else None


class Archive(IncidentQueries):
    """Thread-safe SQLite store of alert messages and acks (one connection behind a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"{path}: cannot open the dashboard archive ({exc})") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def add_message(self, msg: AlertMessage, received_s: float) -> bool:
        """Store one alert message; ``False`` when its id was already stored (a redelivery)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    msg.id,
                    msg.incident_id,
                    msg.site,
                    msg.drone,
                    msg.kind,
                    msg.status,
                    msg.severity,
                    msg.time_s,
                    received_s,
                    msg.latitude_deg,
                    msg.longitude_deg,
                    msg.error_radius_m,
                    msg.first_seen_s,
                    msg.last_seen_s,
                    msg.confidence,
                    msg.area,
                    msg.summary,
                    json.dumps(msg.figures),
                    msg.thumbnail_jpeg,
                    json.dumps(msg.raw),
                ),
            )
            return cur.rowcount == 1

    def add_ack(self, ack: Ack, received_s: float) -> bool:
        """Store one acknowledgement; ``False`` when its ack id was already stored."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO acks VALUES (?,?,?,?,?,?,?,?)",
                (ack.ack_id, ack.target_id, ack.by, ack.time_s, ack.site, ack.drone, ack.note, received_s),
            )
            return cur.rowcount == 1

    def incident_of(self, target_id: str) -> str | None:
        """The incident id an ack target (an event id or an incident id) refers to, if known."""
        with self._lock:
            row = self._db.execute(
                "SELECT incident_id FROM messages WHERE id = ? OR incident_id = ? LIMIT 1", (target_id, target_id)
            ).fetchone()
        return row[0] if row else None

    def prune(self, before_s: float) -> int:
        """Delete messages (and the acks of their incidents) older than ``before_s``; returns messages deleted.

        An incident with a message at or after ``before_s`` keeps all its messages.
        """
        with self._lock:
            self._db.execute("BEGIN")
            try:
                old = "SELECT incident_id FROM messages GROUP BY incident_id HAVING MAX(time_s) < ?"
                self._db.execute(
                    f"DELETE FROM acks WHERE target_id IN ({old}) OR target_id IN "
                    f"(SELECT id FROM messages WHERE incident_id IN ({old}))",
                    (before_s, before_s),
                )
                cur = self._db.execute(f"DELETE FROM messages WHERE incident_id IN ({old})", (before_s,))
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._db.execute("ROLLBACK")
                raise
            return cur.rowcount

    def thumbnail(self, message_id: str) -> bytes | None:
        """The JPEG thumbnail of one message, if it had one."""
        with self._lock:
            row = self._db.execute("SELECT thumbnail FROM messages WHERE id = ?", (message_id,)).fetchone()
        return row[0] if row and row[0] is not None else None

    def message(self, message_id: str) -> dict[str, Any] | None:
        """One message as JSON-ready dict, or ``None``."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
        return _row_dict(row) if row else None

    def messages(self, since_s: float, incident_id: str | None = None) -> list[dict[str, Any]]:
        """Messages with ``time_s >= since_s`` (of one incident if given), oldest first."""
        sql = f"SELECT {_COLUMNS} FROM messages WHERE time_s >= ?"
        args: list[Any] = [since_s]
        if incident_id is not None:
            sql += " AND incident_id = ?"
            args.append(incident_id)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY time_s, received_s", args).fetchall()
        return [_row_dict(r) for r in rows]

    def acks(self, target_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Acknowledgements (of the given event or incident ids, or all), oldest first."""
        sql = "SELECT ack_id, target_id, by, time_s, site, drone, note, received_s FROM acks"
        args: list[str] = []
        if target_ids is not None:
            args = list(target_ids)
            if not args:
                return []
            sql += f" WHERE target_id IN ({','.join('?' * len(args))})"
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY received_s", args).fetchall()
        keys = ("ack_id", "target_id", "by", "time_s", "site", "drone", "note", "received_s")
        return [dict(zip(keys, r, strict=True)) for r in rows]


def _row_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = (
        "id",
        "incident_id",
        "site",
        "drone",
        "kind",
        "status",
        "severity",
        "time_s",
        "latitude_deg",
        "longitude_deg",
        "error_radius_m",
        "first_seen_s",
        "last_seen_s",
        "confidence",
        "area",
        "summary",
        "figures",
        "has_thumbnail",
        "received_s",
    )
    out = dict(zip(keys, row, strict=True))
    out["figures"] = json.loads(out["figures"])
    out["has_thumbnail"] = bool(out["has_thumbnail"])
    return out


def fold_incidents(messages: list[dict[str, Any]], acks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold messages (oldest first) and acks into one row per incident, newest first.

    A row carries the latest message's fields, the first time seen, the number of
    messages, the highest severity, the id of the latest message with a thumbnail,
    and the acknowledgement. An ack targets one message (its event id) or the whole
    incident (its incident id). The incident stays acknowledged unless a later
    message raises its severity above what was acknowledged: the targeted
    message's severity, or for an incident ack the highest severity received
    before the ack.
    """
    by_incident: dict[str, dict[str, Any]] = {}
    incident_of: dict[str, str] = {}
    history: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        incident_of[m["id"]] = m["incident_id"]
        history.setdefault(m["incident_id"], []).append(m)
        row = by_incident.get(m["incident_id"])
        if row is None:
            row = by_incident[m["incident_id"]] = {"first_time_s": m["time_s"], "updates": 0, "thumbnail_id": None}
            row["max_severity"] = m["severity"]
        row["updates"] += 1
        if SEVERITY_RANK[m["severity"]] > SEVERITY_RANK[row["max_severity"]]:
            row["max_severity"] = m["severity"]
        if m["has_thumbnail"]:
            row["thumbnail_id"] = m["id"]
        row.update({k: v for k, v in m.items() if k not in ("has_thumbnail", "received_s", "id")})
        row["event_id"] = m["id"]
        row.update(acked=False, acked_by=None, acked_at_s=None)
    for a in acks:
        target = a["target_id"]
        incident = incident_of.get(target, target)
        row = by_incident.get(incident)
        if row is None:
            continue
        if target in incident_of and target != incident:
            acked_rank = max(SEVERITY_RANK[m["severity"]] for m in history[incident] if m["id"] == target)
        else:
            before = [SEVERITY_RANK[m["severity"]] for m in history[incident] if m["received_s"] <= a["received_s"]]
            acked_rank = max(before, default=SEVERITY_RANK[row["severity"]])
        if SEVERITY_RANK[row["severity"]] <= acked_rank:
            row.update(acked=True, acked_by=a["by"], acked_at_s=a["time_s"])
    rows = list(by_incident.values())
    rows.sort(key=lambda r: r["time_s"], reverse=True)
    return rows
