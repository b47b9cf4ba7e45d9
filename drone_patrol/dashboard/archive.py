"""The dashboard's SQLite archive of alert messages, acknowledgements and dispatch steps.

Every alert message is kept once (its CloudEvent id is the key, so a QoS 1
redelivery is a no-op); acknowledgements and workflow steps (dispatched, on
scene, resolved, ...) are kept as an audit trail, each under its event id. The
page and the API see incidents: the messages of one ``incident_id`` folded into
one row with its acks and steps (:func:`.incidents.fold_incidents`). The last
known position of each drone is kept too, so the map shows it after a restart.

:class:`~drone_patrol.dashboard.archive_store.ArchiveStore` is the interface the rest of
the dashboard uses; :class:`Archive` implements it on SQLite and
:class:`~drone_patrol.dashboard.pg_archive.PostgresArchive` on PostgreSQL, both folding
through :class:`IncidentQueries`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.incidents import fold_incidents
from drone_patrol.dashboard.model import Ack, AlertMessage
from drone_patrol.dashboard.workflow import WorkflowStep

# The PostgreSQL city archive's migrations (``migrations/``) define the same tables in their own
# types; tests/city/test_pg_archive.py checks that both hold the same tables, columns and indexes.
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
CREATE TABLE IF NOT EXISTS workflow (
    step_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    step TEXT NOT NULL,
    by TEXT NOT NULL,
    time_s REAL NOT NULL,
    site TEXT NOT NULL,
    drone TEXT NOT NULL,
    unit TEXT NOT NULL,
    reason TEXT NOT NULL,
    note TEXT NOT NULL,
    received_s REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS workflow_incident ON workflow (incident_id);
CREATE TABLE IF NOT EXISTS drones (
    site TEXT NOT NULL,
    drone TEXT NOT NULL,
    latitude_deg REAL NOT NULL,
    longitude_deg REAL NOT NULL,
    time_s REAL NOT NULL,
    PRIMARY KEY (site, drone)
);
"""

#: The archive file's layout, kept in SQLite's ``user_version``. 0 is a file of the first release
#: (``messages`` and ``acks`` only, the same columns as today): opening it adds the newer tables.
#: A change to a table's columns must raise this and add its step to :func:`_upgrade`; a file of
#: a newer version than this code knows is refused rather than written in a layout it cannot read.
SCHEMA_VERSION = 1

_IN_CHUNK = 900
#: The table and id column of each kind of event (what ``stored_ids`` looks up).
ID_COLUMNS = {"message": ("messages", "id"), "ack": ("acks", "ack_id"), "workflow": ("workflow", "step_id")}
_ACK_KEYS = ("ack_id", "target_id", "by", "time_s", "site", "drone", "note", "received_s")
_STEP_KEYS = ("step_id", "incident_id", "step", "by", "time_s", "site", "drone", "unit", "reason", "note", "received_s")


_COLUMNS = (
    "id, incident_id, site, drone, kind, status, severity, time_s, latitude_deg, longitude_deg, error_radius_m, "
    "first_seen_s, last_seen_s, confidence, area, summary, figures, thumbnail IS NOT NULL, received_s"
)


def message_row(msg: AlertMessage, received_s: float, as_json: Callable[[Any], Any]) -> tuple[Any, ...]:
    """The ``messages`` row of ``msg`` in column order (both archives); ``as_json`` wraps figures and raw."""
    return (
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
        as_json(msg.figures),
        msg.thumbnail_jpeg,
        as_json(msg.raw),
    )


def message_dict(msg: AlertMessage, received_s: float) -> dict[str, Any]:
    """``msg`` as a message row reads back from either archive (:meth:`IncidentQueries.messages`)."""
    row = message_row(msg, received_s, lambda value: value)
    out = dict(zip(_ROW_KEYS, row[:8] + row[9:18] + (row[18] is not None, received_s), strict=True))
    out["figures"] = dict(msg.figures)
    return out


def ack_row(ack: Ack, received_s: float) -> tuple[Any, ...]:
    """The ``acks`` row of ``ack`` in column order (both archives)."""
    return (ack.ack_id, ack.target_id, ack.by, ack.time_s, ack.site, ack.drone, ack.note, received_s)


def step_row(step: WorkflowStep, received_s: float) -> tuple[Any, ...]:
    """The ``workflow`` row of ``step`` in column order (both archives), as :data:`_STEP_KEYS` names them."""
    return (
        step.step_id,
        step.incident_id,
        step.step,
        step.by,
        step.time_s,
        step.site,
        step.drone,
        step.unit,
        step.reason,
        step.note,
        received_s,
    )


class IncidentQueries:
    """Incidents folded from an archive's rows: :meth:`messages`, :meth:`acks` and :meth:`workflow_steps`.

    Shared by SQLite and PostgreSQL, so both fold the same rows the same way
    (:func:`~drone_patrol.dashboard.incidents.fold_incidents`).
    """

    def messages(self, since_s: float, incident_id: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def acks(self, target_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def workflow_steps(self, incident_ids: Iterable[str]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def fold(self, msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``msgs`` (oldest first) folded with their acks and dispatch steps into incidents, newest first."""
        incidents = {m["incident_id"] for m in msgs}
        acks = self.acks(incidents | {m["id"] for m in msgs})
        return fold_incidents(msgs, acks, self.workflow_steps(incidents))

    def incidents(self, since_s: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Incidents with a message since ``since_s``, newest first, each folded with its acks and steps."""
        rows = self.fold(self.messages(since_s))
        return rows[:limit] if limit is not None else rows

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        """One incident folded from all its messages, or ``None``."""
        rows = self.fold(self.messages(float("-inf"), incident_id))
        return rows[0] if rows else None

    def incident_with(
        self,
        incident_id: str,
        received_s: float,
        *,
        message: AlertMessage | None = None,
        ack: Ack | None = None,
        step: WorkflowStep | None = None,
    ) -> dict[str, Any] | None:
        """One incident as it is once ``message``, ``ack`` or ``step`` (received, perhaps not yet stored) is in.

        For a dashboard whose archive writes another dashboard makes: its pages show the
        incident with what it just received, whether or not the writer has stored it yet.
        """
        msgs = self.messages(float("-inf"), incident_id)
        if message is not None and all(m["id"] != message.id for m in msgs):
            msgs.append(message_dict(message, received_s))
            msgs.sort(key=lambda m: (m["time_s"], m["received_s"]))
        if not msgs:
            return None
        ids = {incident_id} | {m["id"] for m in msgs}
        acks = self.acks(ids)
        if ack is not None and all(a["ack_id"] != ack.ack_id for a in acks):
            acks.append(dict(zip(_ACK_KEYS, ack_row(ack, received_s), strict=True)))
        steps = self.workflow_steps([incident_id])
        if step is not None and all(s["step_id"] != step.step_id for s in steps):
            steps.append(dict(zip(_STEP_KEYS, step_row(step, received_s), strict=True)))
            steps.sort(key=lambda s: (s["time_s"], s["received_s"]))
        rows = fold_incidents(msgs, acks, steps)
        return rows[0] if rows else None


def _upgrade(db: sqlite3.Connection, path: Path | str) -> None:
    """Bring an archive file to :data:`SCHEMA_VERSION` in one transaction (a new file: create it)."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"{path}: dashboard archive of schema version {version}, written by a newer drone-patrol; "
            f"this one reads up to {SCHEMA_VERSION} (upgrade drone-patrol, or point dashboard.archive_path elsewhere)"
        )
    if version == SCHEMA_VERSION:
        return
    # 0 -> 1: the first release's messages and acks are kept as they are; workflow and drones are new.
    db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;")


class Archive(IncidentQueries):
    """Thread-safe SQLite store of messages, acks, dispatch steps and drone positions (one connection, a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            _upgrade(self._db, path)
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
                message_row(msg, received_s, json.dumps),
            )
            return cur.rowcount == 1

    def add_ack(self, ack: Ack, received_s: float) -> bool:
        """Store one acknowledgement; ``False`` when its ack id was already stored."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO acks VALUES (?,?,?,?,?,?,?,?)",
                ack_row(ack, received_s),
            )
            return cur.rowcount == 1

    def add_workflow_step(self, step: WorkflowStep, received_s: float) -> bool:
        """Store one dispatch step; ``False`` when its step id was already stored."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO workflow VALUES (?,?,?,?,?,?,?,?,?,?,?)", step_row(step, received_s)
            )
            return cur.rowcount == 1

    def stored_ids(self, kind: Literal["message", "ack", "workflow"], ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` (alert message, ack or dispatch step ids, by ``kind``) are stored."""
        table, column = ID_COLUMNS[kind]
        return {r[0] for r in self._select_in(f"SELECT {column} FROM {table}", column, ids)}

    def workflow_steps(self, incident_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Dispatch steps of the given incidents, oldest first."""
        rows = self._select_in(f"SELECT {', '.join(_STEP_KEYS)} FROM workflow", "incident_id", incident_ids)
        rows.sort(key=lambda r: (r[4], r[10]))  # time_s, received_s
        return [dict(zip(_STEP_KEYS, r, strict=True)) for r in rows]

    def _select_in(self, select: str, column: str, values: Iterable[str]) -> list[tuple[Any, ...]]:
        """``select`` rows whose ``column`` is one of ``values``, asked in chunks (SQLite before 3.32
        takes at most 999 parameters per statement)."""
        items = list(values)
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            for i in range(0, len(items), _IN_CHUNK):
                chunk = items[i : i + _IN_CHUNK]
                sql = f"{select} WHERE {column} IN ({','.join('?' * len(chunk))})"
                rows.extend(self._db.execute(sql, chunk).fetchall())
        return rows

    def save_drone_position(
        self, site: str, drone: str, latitude_deg: float, longitude_deg: float, time_s: float
    ) -> None:
        """Remember a drone's last known position (one row per drone; an older position never replaces a newer)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO drones VALUES (?,?,?,?,?) ON CONFLICT (site, drone) DO UPDATE SET "
                "latitude_deg = excluded.latitude_deg, longitude_deg = excluded.longitude_deg, "
                "time_s = excluded.time_s "
                "WHERE drones.time_s <= excluded.time_s",
                (site, drone, latitude_deg, longitude_deg, time_s),
            )

    def drone_positions(self) -> list[dict[str, Any]]:
        """Every drone's last known position, by site and drone."""
        keys = ("site", "drone", "latitude_deg", "longitude_deg", "time_s")
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(keys)} FROM drones ORDER BY site, drone").fetchall()
        return [dict(zip(keys, r, strict=True)) for r in rows]

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
                self._db.execute(f"DELETE FROM workflow WHERE incident_id IN ({old})", (before_s,))
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
        if target_ids is None:
            with self._lock:
                rows = self._db.execute(sql).fetchall()
        else:
            rows = self._select_in(sql, "target_id", target_ids)
        rows.sort(key=lambda r: r[7])  # received_s
        return [dict(zip(_ACK_KEYS, r, strict=True)) for r in rows]


#: The keys of a message row as both archives read it back (``_COLUMNS`` in order).
_ROW_KEYS = (
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


def _row_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(_ROW_KEYS, row, strict=True))
    out["figures"] = json.loads(out["figures"])
    out["has_thumbnail"] = bool(out["has_thumbnail"])
    return out
