"""The PostgreSQL city archive against a real PostgreSQL: same answers as SQLite, migrations, sharing.

The SQLite archive's cases (``tests/dashboard/test_archive.py``: folding, acks, prune, the
dispatch workflow, the shift figures, drones' last positions) run here again on PostgreSQL
through this module's ``open_store``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.core.errors import ConfigError
from drone_patrol.core.types import AlertKind, AlertStatus, Severity
from drone_patrol.dashboard.archive import Archive
from drone_patrol.dashboard.archive_store import ArchiveStore, open_archive
from drone_patrol.dashboard.model import AlertMessage
from drone_patrol.dashboard.report import summarize
from drone_patrol.dashboard.workflow import WorkflowStep
from tests.city.servers import PostgresServer, requires_postgres
from tests.dashboard.helpers import make_alert
from tests.dashboard.test_archive import (  # noqa: F401  (the SQLite cases, run here on PostgreSQL)
    OpenStore,
    ack,
    test_a_busy_night_folds_with_every_ack_and_step,
    test_ack_arriving_before_its_alert_applies_when_the_alert_comes,
    test_ack_of_a_message_is_undone_by_escalation_only,
    test_ack_of_a_whole_incident_covers_what_was_received_before_it,
    test_dispatch_steps_are_stored_once_and_folded_into_the_incident,
    test_drone_positions_are_kept_and_never_go_back_in_time,
    test_fold_keeps_latest_fields_first_time_and_thumbnail,
    test_messages_are_stored_once_and_kept_on_disk,
    test_prune_removes_whole_old_incidents_only,
    test_the_shift_figures_come_from_the_stored_rows,
)

psycopg = pytest.importorskip("psycopg")
from drone_patrol.dashboard.pg_archive import PostgresArchive, check_url, migrations  # noqa: E402

pytestmark = requires_postgres


@pytest.fixture
def open_store(db_url: str) -> Iterator[OpenStore]:
    """Open the test's PostgreSQL archive (the same database each call); every one is closed afterwards."""
    opened: list[ArchiveStore] = []

    def make() -> ArchiveStore:
        opened.append(PostgresArchive(db_url))
        return opened[-1]

    yield make
    for arc in opened:
        arc.close()


def test_migrations_are_applied_once_and_recorded(db_url: str) -> None:
    first = PostgresArchive(db_url)
    assert first.schema_version() == max(v for v, _, _ in migrations()) == 2
    first.close()
    again = PostgresArchive(db_url)  # a second dashboard, or a restart: nothing applied twice
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(1, "alerts"), (2, "incident_workflow")]
    again.close()


#: the column types of the SQLite archive and what the migrations give each column on PostgreSQL
_SAME_TYPE = {("TEXT", "text"), ("TEXT", "jsonb"), ("REAL", "double precision"), ("BLOB", "bytea")}
#: indexes only the city archive has (a city's room filters the messages of many sites by site and time)
_POSTGRES_ONLY_INDEXES = {("messages", "messages_site_time", ("site", "time_s"))}


def _sqlite_schema(path: Path) -> tuple[dict[str, list[tuple[str, str, bool]]], dict[str, tuple[str, ...]], set]:
    """Columns (name, type, not null) in order, primary keys and indexes of an SQLite archive file."""
    db = sqlite3.connect(str(path))
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    columns: dict[str, list[tuple[str, str, bool]]] = {}
    keys: dict[str, tuple[str, ...]] = {}
    indexes: set[tuple[str, str, tuple[str, ...]]] = set()
    for t in tables:
        info = db.execute(f"PRAGMA table_info({t})").fetchall()  # cid, name, type, notnull, default, pk
        # a primary key is never null on PostgreSQL; on SQLite only INTEGER keys say so
        columns[t] = [(c[1], c[2], bool(c[3]) or c[5] > 0) for c in info]
        keys[t] = tuple(c[1] for c in sorted((c for c in info if c[5] > 0), key=lambda c: c[5]))
        for _, name, _, origin, _ in db.execute(f"PRAGMA index_list({t})").fetchall():
            if origin == "c":  # made by CREATE INDEX, not by the primary key
                cols = tuple(r[2] for r in db.execute(f"PRAGMA index_info({name})").fetchall())
                indexes.add((t, name, cols))
    db.close()
    return columns, keys, indexes


def _postgres_schema(url: str) -> tuple[dict[str, list[tuple[str, str, bool]]], dict[str, tuple[str, ...]], set]:
    """The same of a migrated PostgreSQL archive, read from its catalogue (``schema_migrations`` left out)."""
    columns: dict[str, list[tuple[str, str, bool]]] = {}
    keys: dict[str, tuple[str, ...]] = {}
    indexes: set[tuple[str, str, tuple[str, ...]]] = set()
    with psycopg.connect(url) as conn:
        rows: list[Any] = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name <> 'schema_migrations' "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
        for t, name, kind, nullable in rows:
            columns.setdefault(t, []).append((name, kind, nullable == "NO"))
        for t, name, cols, primary in conn.execute(
            "SELECT t.relname, i.relname, array_agg(a.attname ORDER BY k.n), x.indisprimary "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace s ON s.oid = t.relnamespace "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "WHERE s.nspname = current_schema() AND t.relname <> 'schema_migrations' "
            "GROUP BY t.relname, i.relname, x.indisprimary"
        ).fetchall():
            if primary:
                keys[t] = tuple(cols)
            else:
                indexes.add((t, name, tuple(cols)))
    return columns, keys, indexes


def test_the_migrations_define_the_tables_and_columns_of_the_sqlite_archive(db_url: str, tmp_path: Path) -> None:
    """One schema, two dialects: the SQLite archive (made in one go) and the PostgreSQL
    migrations (0001 then 0002, shipped files that never change) must hold the same tables,
    columns in the same order, types, NOT NULL, primary keys and indexes; a column added to
    one and not the other fails here, naming it."""
    Archive(tmp_path / "a.sqlite").close()
    PostgresArchive(db_url).close()
    lite_cols, lite_keys, lite_idx = _sqlite_schema(tmp_path / "a.sqlite")
    pg_cols, pg_keys, pg_idx = _postgres_schema(db_url)
    assert sorted(pg_cols) == sorted(lite_cols) == ["acks", "drones", "messages", "workflow"]
    for table, lite in lite_cols.items():
        pg = pg_cols[table]
        assert [c[0] for c in pg] == [c[0] for c in lite], table
        for (name, lite_type, lite_not_null), (_, pg_type, pg_not_null) in zip(lite, pg, strict=True):
            assert (lite_type, pg_type) in _SAME_TYPE, f"{table}.{name}: {lite_type} on SQLite, {pg_type} on PostgreSQL"
            assert lite_not_null == pg_not_null, f"{table}.{name}: NOT NULL on one archive only"
    assert pg_keys == lite_keys
    assert pg_idx - _POSTGRES_ONLY_INDEXES == lite_idx and pg_idx >= _POSTGRES_ONLY_INDEXES


def test_an_archive_of_the_first_schema_is_upgraded_keeping_its_rows(db_url: str) -> None:
    """A city archive made before the dispatch workflow (0001 only) gets 0002 on the next start."""
    first = next(sql for v, _, sql in migrations() if v == 1)
    alert = make_alert(time_s=100.0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        conn.execute(first.encode())
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (1, 'alerts')")
        conn.execute(  # a row the older release wrote
            "INSERT INTO messages (id, incident_id, site, drone, kind, status, severity, time_s, received_s, "
            "summary, figures, raw) VALUES (%s, %s, 'dongxi', 'drone-1', 'thermal_hotspot', 'new', 'critical', "
            "100.0, 100.5, 'fire', '{}', '{}')",
            (alert.alert_id, alert.incident_id),
        )
    arc = PostgresArchive(db_url)
    assert arc.schema_version() == 2
    step = WorkflowStep("s1", alert.incident_id, "dispatched", "Li", 101.0, "dongxi", "drone-1", unit="u1")
    assert arc.add_workflow_step(step, 101.0) is True
    row = arc.incident(alert.incident_id)
    assert row is not None and row["event_id"] == alert.alert_id and row["state"] == "dispatched"
    arc.close()


def test_two_dashboards_store_each_alert_once(db_url: str) -> None:
    a, b = open_archive(db_url), open_archive(db_url)
    assert isinstance(a, PostgresArchive)
    alert = make_alert(time_s=100.0)
    msg = AlertMessage.from_alert(alert)
    assert a.add_message(msg, 100.5) is True
    assert b.add_message(msg, 100.6) is False  # the other dashboard wrote it first
    assert a.add_message(msg, 101.0) is False  # a QoS 1 redelivery
    assert b.thumbnail(alert.alert_id) == alert.thumbnail_jpeg
    assert [r["event_id"] for r in b.incidents(0)] == [alert.alert_id]
    assert b.add_ack(ack(alert.alert_id, 1), 102.0) is True and a.add_ack(ack(alert.alert_id, 1), 102.0) is False
    assert a.incident(alert.incident_id)["acked"] is True  # type: ignore[index]
    a.close()
    b.close()


def test_answers_match_the_sqlite_archive(db_url: str, tmp_path: Path) -> None:
    pg_arc, lite = PostgresArchive(db_url), Archive(tmp_path / "a.sqlite")
    w = make_alert(time_s=100.0, severity=Severity.WARNING)
    worse = make_alert(incident_id=w.incident_id, time_s=110.0, severity=Severity.CRITICAL, status=AlertStatus.UPDATE)
    crowd = make_alert(kind=AlertKind.CROWD_GATHERING, time_s=105.0, thumbnail=False, site="xiangshan")
    old = make_alert(time_s=10.0, drone="drone-2")
    for arc in (pg_arc, lite):
        for i, a in enumerate((w, crowd, old)):
            arc.add_message(AlertMessage.from_alert(a), 200.0 + i)
        arc.add_ack(ack(w.alert_id, 1, "Li"), 204.0)
        arc.add_message(AlertMessage.from_alert(worse), 205.0)
        arc.add_ack(ack(crowd.incident_id, 2, "Wang"), 206.0)
        for step in (
            WorkflowStep("s1", w.incident_id, "dispatched", "Li", 207.0, "dongxi", "drone-1", unit="u3"),
            WorkflowStep("s2", w.incident_id, "on_scene", "Li", 230.0, "dongxi", "drone-1"),
            WorkflowStep("s3", old.incident_id, "note", "Li", 20.0, "dongxi", "drone-2", note="x"),
        ):
            arc.add_workflow_step(step, step.time_s + 0.5)
        arc.save_drone_position("xiangshan", "drone-1", 25.28, 110.30, 210.0)
    assert pg_arc.incidents(0) == lite.incidents(0)
    both = [w.incident_id, old.incident_id]
    assert pg_arc.workflow_steps(both) == lite.workflow_steps(both) and len(lite.workflow_steps(both)) == 3
    assert pg_arc.drone_positions() == lite.drone_positions()
    assert summarize(pg_arc.incidents(0), 0, 1e9) == summarize(lite.incidents(0), 0, 1e9)
    for limit in (1, 2, 3, 10):
        assert pg_arc.incidents(0, limit=limit) == lite.incidents(0, limit=limit)
    assert pg_arc.incidents(50, limit=1) == lite.incidents(50, limit=1)
    assert pg_arc.incident(w.incident_id) == lite.incident(w.incident_id)
    assert pg_arc.messages(0, w.incident_id) == lite.messages(0, w.incident_id)
    assert pg_arc.message(crowd.alert_id) == lite.message(crowd.alert_id)
    assert pg_arc.acks() == lite.acks() and pg_arc.acks([]) == lite.acks([]) == []
    assert pg_arc.incident_of(worse.alert_id) == lite.incident_of(worse.alert_id) == w.incident_id
    assert pg_arc.incident_of("nope") is lite.incident_of("nope") is None
    assert pg_arc.thumbnail(crowd.alert_id) is lite.thumbnail(crowd.alert_id) is None
    assert pg_arc.prune(50.0) == lite.prune(50.0) == 1
    assert pg_arc.incidents(0) == lite.incidents(0)
    assert pg_arc.workflow_steps([old.incident_id]) == lite.workflow_steps([old.incident_id]) == []
    pg_arc.close()
    lite.close()


def test_a_database_restart_is_ridden_out(pg: PostgresServer, db_url: str) -> None:
    arc = PostgresArchive(db_url, retry_s=30.0)
    first = make_alert(time_s=100.0)
    assert arc.add_message(AlertMessage.from_alert(first), 100.0)
    pg.stop()
    pg.start_again()
    second = make_alert(time_s=101.0)
    assert arc.add_message(AlertMessage.from_alert(second), 101.0)  # reconnects and writes
    assert {r["event_id"] for r in arc.incidents(0)} == {first.alert_id, second.alert_id}
    arc.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://city:secret@127.0.0.1/city", "PGPASSWORD"),
        ("postgresql://city@127.0.0.1", "DBNAME"),
        ("postgresql://city@127.0.0.1:99999/city", "port"),
        ("mysql://city@127.0.0.1/city", "postgresql://"),
    ],
)
def test_bad_archive_urls_are_one_line_errors(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        check_url(url) if url.startswith("postgres") else open_archive(url)
    assert "\n" not in str(info.value)


def test_an_unreachable_database_is_a_config_error(pg: PostgresServer) -> None:
    from tests.brokers import free_port

    with pytest.raises(ConfigError, match="cannot open the city archive"):
        PostgresArchive(f"postgresql://city@127.0.0.1:{free_port()}/city", connect_timeout_s=1)
