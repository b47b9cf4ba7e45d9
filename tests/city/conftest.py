"""Fixtures: a throw-away PostgreSQL per module and a fresh database in it per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.city.servers import PostgresServer, postgres_server


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
