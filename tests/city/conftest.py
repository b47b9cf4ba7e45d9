"""Fixtures: a throw-away PostgreSQL per module and a fresh database in it per test; a NATS cluster
and a station Mosquitto bridged to it per module (started only by the modules that use them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.brokers import MosquittoBroker
from tests.city.servers import NatsCluster, PostgresServer, nats_cluster, postgres_server, station_broker


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def db_url(pg: PostgresServer) -> str:
    """A fresh database per test."""
    psycopg = pytest.importorskip("psycopg")
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    with nats_cluster(tmp_path_factory.mktemp("nats")) as c:
        yield c


@pytest.fixture(scope="module")
def station(cluster: NatsCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    broker = station_broker(tmp_path_factory.mktemp("station"), "dongxi", cluster).start()
    yield broker
    broker.stop()
