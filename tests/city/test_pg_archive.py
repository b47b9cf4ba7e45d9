"""The PostgreSQL city archive against a real PostgreSQL: same answers as SQLite, migrations, sharing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from drone_patrol.core.errors import ConfigError
from drone_patrol.core.types import AlertKind, AlertStatus, Severity
from drone_patrol.dashboard.archive import Archive
from drone_patrol.dashboard.archive_store import open_archive
from drone_patrol.dashboard.model import Ack, AlertMessage
from tests.city.servers import PostgresServer, postgres_server, requires_postgres
from tests.dashboard.helpers import make_alert

psycopg = pytest.importorskip("psycopg")
from drone_patrol.dashboard.pg_archive import PostgresArchive, check_url, migrations  # noqa: E402

pytestmark = requires_postgres


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def db_url(pg: PostgresServer) -> str:
    """A fresh database per test."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + "/" + name


def ack(target: str, n: int, by: str = "a") -> Ack:
    return Ack(ack_id=f"ack-{n}", target_id=target, by=by, time_s=100.0 + n, site="dongxi", drone="drone-1")


def test_migrations_are_applied_once_and_recorded(db_url: str) -> None:
    first = PostgresArchive(db_url)
    assert first.schema_version() == max(v for v, _, _ in migrations()) == 2
    first.close()
    again = PostgresArchive(db_url)  # a second dashboard, or a restart: nothing applied twice
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(1, "alerts"), (2, "incident_workflow")]
    again.close()


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
    assert pg_arc.incidents(0) == lite.incidents(0)
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
