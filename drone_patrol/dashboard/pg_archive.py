"""The city archive: the dashboard's archive interface on PostgreSQL (psycopg 3).

Several dashboards share one database. A message's CloudEvent id is its primary
key and every insert is ``ON CONFLICT DO NOTHING``, so each alert is one row
however many dashboards receive it and however often the broker redelivers it;
:meth:`PostgresArchive.add_message` is ``True`` for the dashboard whose insert
made the row. Reads fold rows (messages, acks, dispatch steps) into incidents with
the same :class:`~drone_patrol.dashboard.archive.IncidentQueries` as SQLite, so the
workflow, the response figures and the shift report are the SQLite archive's.

The schema is the numbered SQL files of :mod:`drone_patrol.dashboard.migrations`,
applied in order by :func:`migrate` under an advisory lock (two dashboards
starting together do not race) and recorded in ``schema_migrations``. A new table
is a new file (``0002_incident_workflow.sql`` added the dispatch steps and the
drones' last positions), never an edit of an applied one.

The connection string is a libpq URL, ``postgresql://USER@HOST:PORT/DBNAME``;
the password comes from libpq's own ``PGPASSWORD`` or ``~/.pgpass``
(``PGPASSFILE``), never from the URL. A lost connection (a database restart) is
re-opened and the statement retried for up to ``retry_s`` (30 s), the dashboard's
MQTT thread holding the alert unacknowledged meanwhile. Past ``retry_s`` the write
fails with :class:`psycopg.OperationalError`, which the dashboard logs: an archive
outage longer than that loses the alerts of that time from the archive.
"""

from __future__ import annotations

import importlib.resources
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.archive import (
    _ACK_KEYS,
    _STEP_KEYS,
    ID_COLUMNS,
    IncidentQueries,
    _row_dict,
    ack_row,
    message_row,
    step_row,
)
from drone_patrol.dashboard.archive import _COLUMNS as _SQLITE_COLUMNS
from drone_patrol.dashboard.model import Ack, AlertMessage
from drone_patrol.dashboard.workflow import WorkflowStep

log = logging.getLogger(__name__)

T = TypeVar("T")

#: pg_advisory_xact_lock key held while migrating ("drone-patrol" as a number).
_MIGRATION_LOCK = 0x64726F6E65
_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

#: The SQLite archive's columns, figures as JSON text as there (a JSONB column here).
_COLUMNS = _SQLITE_COLUMNS.replace("figures", "figures::text")


def is_postgres_url(target: str) -> bool:
    """True for ``postgresql://`` and ``postgres://`` URLs."""
    return target.startswith(("postgresql://", "postgres://"))


def check_url(url: str) -> str:
    """Validate a city-archive URL: a libpq URL with a host and a database, no password."""
    parts = urlsplit(url)
    if not is_postgres_url(url):
        raise ConfigError(f"archive URL {url!r}: expected postgresql://USER@HOST:PORT/DBNAME")
    if parts.password:
        raise ConfigError(f"archive URL {url!r}: put the password in PGPASSWORD or ~/.pgpass, not in the URL")
    if not parts.hostname or parts.path in ("", "/"):
        raise ConfigError(f"archive URL {url!r}: expected postgresql://USER@HOST:PORT/DBNAME")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"archive URL {url!r}: the port must be a number 1-65535") from None
    return url


def migrations() -> list[tuple[int, str, str]]:
    """The shipped migrations as ``(version, name, sql)``, oldest first."""
    out = []
    for entry in importlib.resources.files("drone_patrol.dashboard.migrations").iterdir():
        m = _MIGRATION_FILE.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    out.sort()
    return out


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the migrations the database lacks, each in its own transaction; returns the versions applied."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
    for version, name, sql in migrations():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,)).fetchone()
            if done:
                continue
            conn.execute(sql.encode())  # several statements: simple query protocol, no parameters
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied.append(version)
            log.info("city archive: applied migration %04d_%s", version, name)
    return applied


class PostgresArchive(IncidentQueries):
    """The :class:`~drone_patrol.dashboard.archive_store.ArchiveStore` interface on PostgreSQL.

    A small pool of connections in autocommit mode (psycopg_pool), so that the
    dashboard's MQTT thread writing and its HTTP threads reading do not wait for one
    another. A connection found broken (the database restarted) is dropped by the pool
    and the statement retried on another, so no round trip is spent checking each one
    beforehand. Migrated on open.
    """

    def __init__(self, url: str, *, retry_s: float = 30.0, connect_timeout_s: float = 5.0, pool_size: int = 4) -> None:
        self.url = check_url(url)
        self.path = url  # what the dashboard logs as the archive's name
        self.retry_s = retry_s
        self._closed = False
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=min(2, pool_size),
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(connect_timeout_s))},
            name="city-archive",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
            with self._pool.connection() as conn:
                migrate(conn)
        except psycopg.Error as exc:
            self._pool.close()
            raise ConfigError(f"{url}: cannot open the city archive ({_one_line(exc)})") from None

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``work`` on a pooled connection; when the database is unreachable, retry for up to ``retry_s``."""
        deadline = time.monotonic() + self.retry_s
        delay_s = 0.1
        while True:
            try:
                with self._pool.connection(timeout=max(0.1, deadline - time.monotonic())) as conn:
                    return work(conn)
            except psycopg.OperationalError as exc:  # also the pool's timeout
                if self._closed or time.monotonic() >= deadline:
                    raise
                log.warning("city archive: %s; retrying in %.1f s", _one_line(exc), delay_s)
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, 2.0)

    def close(self) -> None:
        """Close every connection."""
        self._closed = True
        self._pool.close()

    def schema_version(self) -> int:
        """The newest migration applied."""
        row = self._run(lambda db: db.execute("SELECT max(version) FROM schema_migrations").fetchone())
        return int(row[0]) if row and row[0] is not None else 0

    def add_message(self, msg: AlertMessage, received_s: float) -> bool:
        """Store one alert message; ``False`` when its id was already stored (a redelivery, another dashboard)."""
        values = message_row(msg, received_s, Jsonb)
        sql = f"INSERT INTO messages VALUES ({','.join(['%s'] * len(values))}) ON CONFLICT (id) DO NOTHING"
        return self._run(lambda db: db.execute(sql, values).rowcount == 1)

    def add_ack(self, ack: Ack, received_s: float) -> bool:
        """Store one acknowledgement; ``False`` when its ack id was already stored."""
        values = ack_row(ack, received_s)
        sql = "INSERT INTO acks VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (ack_id) DO NOTHING"
        return self._run(lambda db: db.execute(sql, values).rowcount == 1)

    def add_workflow_step(self, step: WorkflowStep, received_s: float) -> bool:
        """Store one dispatch step; ``False`` when its step id was already stored."""
        values = step_row(step, received_s)
        sql = f"INSERT INTO workflow VALUES ({','.join(['%s'] * len(values))}) ON CONFLICT (step_id) DO NOTHING"
        return self._run(lambda db: db.execute(sql, values).rowcount == 1)

    def stored_ids(self, kind: Literal["message", "ack", "workflow"], ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` (alert message, ack or dispatch step ids, by ``kind``) are stored."""
        table, column = ID_COLUMNS[kind]
        wanted = list(ids)
        if not wanted:
            return set()
        sql = f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)"
        return self._run(lambda db: {r[0] for r in db.execute(sql, (wanted,)).fetchall()})

    def workflow_steps(self, incident_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Dispatch steps of the given incidents, oldest first."""
        ids = list(incident_ids)
        if not ids:
            return []
        sql = f"SELECT {', '.join(_STEP_KEYS)} FROM workflow WHERE incident_id = ANY(%s) ORDER BY time_s, received_s"
        rows = self._run(lambda db: db.execute(sql, (ids,)).fetchall())
        return [dict(zip(_STEP_KEYS, r, strict=True)) for r in rows]

    def save_drone_position(
        self, site: str, drone: str, latitude_deg: float, longitude_deg: float, time_s: float
    ) -> None:
        """Remember a drone's last known position (one row per drone; an older position never replaces a newer)."""
        sql = (
            "INSERT INTO drones VALUES (%s,%s,%s,%s,%s) ON CONFLICT (site, drone) DO UPDATE SET "
            "latitude_deg = EXCLUDED.latitude_deg, longitude_deg = EXCLUDED.longitude_deg, time_s = EXCLUDED.time_s "
            "WHERE drones.time_s <= EXCLUDED.time_s"
        )
        self._run(lambda db: db.execute(sql, (site, drone, latitude_deg, longitude_deg, time_s)))

    def drone_positions(self) -> list[dict[str, Any]]:
        """Every drone's last known position, by site and drone."""
        keys = ("site", "drone", "latitude_deg", "longitude_deg", "time_s")
        sql = f"SELECT {', '.join(keys)} FROM drones ORDER BY site, drone"
        rows = self._run(lambda db: db.execute(sql).fetchall())
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def incident_of(self, target_id: str) -> str | None:
        """The incident id an ack target (an event id or an incident id) refers to, if known."""
        sql = "SELECT incident_id FROM messages WHERE id = %s OR incident_id = %s LIMIT 1"
        row = self._run(lambda db: db.execute(sql, (target_id, target_id)).fetchone())
        return str(row[0]) if row else None

    def prune(self, before_s: float) -> int:
        """Delete messages (and the acks and steps of their incidents) older than ``before_s``.

        Returns the messages deleted. An incident with a message at or after ``before_s`` keeps all its messages.
        """
        old = "SELECT incident_id FROM messages GROUP BY incident_id HAVING MAX(time_s) < %(t)s"

        def work(db: psycopg.Connection[Any]) -> int:
            with db.transaction():
                db.execute(
                    f"DELETE FROM acks WHERE target_id IN ({old}) OR target_id IN "
                    f"(SELECT id FROM messages WHERE incident_id IN ({old}))",
                    {"t": before_s},
                )
                db.execute(f"DELETE FROM workflow WHERE incident_id IN ({old})", {"t": before_s})
                return db.execute(f"DELETE FROM messages WHERE incident_id IN ({old})", {"t": before_s}).rowcount

        return self._run(work)

    def thumbnail(self, message_id: str) -> bytes | None:
        """The JPEG thumbnail of one message, if it had one."""
        row = self._run(lambda db: db.execute("SELECT thumbnail FROM messages WHERE id = %s", (message_id,)).fetchone())
        return bytes(row[0]) if row and row[0] is not None else None

    def message(self, message_id: str) -> dict[str, Any] | None:
        """One message as JSON-ready dict, or ``None``."""
        sql = f"SELECT {_COLUMNS} FROM messages WHERE id = %s"
        row = self._run(lambda db: db.execute(sql, (message_id,)).fetchone())
        return _row_dict(row) if row else None

    def messages(self, since_s: float, incident_id: str | None = None) -> list[dict[str, Any]]:
        """Messages with ``time_s >= since_s`` (of one incident if given), oldest first."""
        sql = f"SELECT {_COLUMNS} FROM messages WHERE time_s >= %s"
        args: list[Any] = [since_s]
        if incident_id is not None:
            sql += " AND incident_id = %s"
            args.append(incident_id)
        sql += " ORDER BY time_s, received_s"
        rows = self._run(lambda db: db.execute(sql, args).fetchall())
        return [_row_dict(r) for r in rows]

    def incidents(self, since_s: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Incidents with a message since ``since_s``, newest first, each folded with its acks and steps.

        With ``limit`` only the messages of the newest ``limit`` incidents are read (a city's
        twelve hours hold thousands); the answer is the SQLite archive's.
        """
        if limit is None:
            return super().incidents(since_s)
        sql = (
            f"SELECT {_COLUMNS} FROM messages WHERE time_s >= %(t)s AND incident_id IN ("
            "SELECT incident_id FROM messages WHERE time_s >= %(t)s GROUP BY incident_id "
            "ORDER BY max(time_s) DESC LIMIT %(n)s) ORDER BY time_s, received_s"
        )
        rows = self._run(lambda db: db.execute(sql, {"t": since_s, "n": limit}).fetchall())
        return self.fold([_row_dict(r) for r in rows])[:limit]

    def acks(self, target_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Acknowledgements (of the given event or incident ids, or all), oldest first."""
        sql = "SELECT ack_id, target_id, by, time_s, site, drone, note, received_s FROM acks"
        args: list[Any] = []
        if target_ids is not None:
            ids = list(target_ids)
            if not ids:
                return []
            sql += " WHERE target_id = ANY(%s)"
            args.append(ids)
        sql += " ORDER BY received_s"
        rows = self._run(lambda db: db.execute(sql, args).fetchall())
        return [dict(zip(_ACK_KEYS, r, strict=True)) for r in rows]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
