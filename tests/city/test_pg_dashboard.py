"""The dashboard's dispatch workflow and response figures on the PostgreSQL city archive.

The Mosquitto tests of ``tests/dashboard/test_operations.py`` run here again with every
dashboard on one PostgreSQL database (``--archive-url``): two command rooms sharing the
archive see each other's steps, ``/api/report`` gives the same exact figures, and both
dashboards' alerts for a lost drone are one row each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.dashboard.app import Dashboard
from tests.brokers import MosquittoBroker, mosquitto_broker
from tests.city.servers import requires_mosquitto, requires_postgres
from tests.dashboard.conftest import dashboards
from tests.dashboard.test_operations import (  # noqa: F401  (the SQLite cases, run here on PostgreSQL)
    drone,
    test_dispatch_steps_reach_every_dashboard_and_the_watcher,
    test_response_figures_from_known_times,
    test_two_dashboards_on_one_archive_keep_one_row_per_lost_drone,
)

pytest.importorskip("psycopg")
from drone_patrol.dashboard.pg_archive import PostgresArchive

pytestmark = [requires_postgres, requires_mosquitto]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    with mosquitto_broker(tmp_path_factory.mktemp("mosquitto")) as b:
        yield b


@pytest.fixture
def make_dashboard(broker: MosquittoBroker, db_url: str, tmp_path: Path) -> Iterator[Callable[..., Dashboard]]:
    """Dashboards on port 0, every one on the test's PostgreSQL database; all stopped at the end."""
    with dashboards(broker.url, tmp_path, archive_url=db_url) as start:

        def make(**overrides: Any) -> Dashboard:
            dash = start(**overrides)
            assert isinstance(dash.archive, PostgresArchive)
            return dash

        yield make
