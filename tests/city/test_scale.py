"""City scale, bounded: 50 drones at 10 stations, a cut uplink and a dead cluster node (and, with the shared
archive writer, a dead dashboard) mid-burst.

The scenario is ``tests/city/scenario.py`` (also the ``city`` benchmark at full length,
with a 30 s cut; speed figures are the benchmark's). Here: nothing lost, nothing
stored twice, every drone's state right on every dashboard left, every one sees every site;
with the shared writer, the two dashboards split the archive writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.city.scenario import CityPlan, run
from tests.city.servers import requires_mosquitto, requires_nats, requires_postgres

pytest.importorskip("psycopg")

pytestmark = [requires_nats, requires_postgres, requires_mosquitto]


def test_fifty_drones_through_a_cut_uplink_and_a_dead_node(tmp_path: Path) -> None:
    """The default city deployment: every dashboard stores what it receives (idempotent inserts)."""
    plan = CityPlan(
        alerts_per_drone=4, burst_s=6.0, uplink_cut_s=5.0, node_down_s=3.0, shared_writer=False, kill_dashboard=False
    )
    r = run(tmp_path, plan, log=lambda _text: None)
    assert r.alerts_sent == plan.sites * plan.drones_per_site * plan.alerts_per_drone == 200
    assert r.alerts_archived == r.alerts_sent, "\n".join(r.notes)
    assert r.duplicate_rows == 0
    assert r.wrong_drone_states == []
    assert r.dashboards_running == plan.dashboards
    assert r.dashboards_seeing_all == r.dashboards_running
    assert r.api_requests > 0 and r.api_errors == 0


def test_shared_writer_through_a_dead_node_and_a_dead_dashboard(tmp_path: Path) -> None:
    """The dashboards pull the archive writes from one JetStream consumer; one dashboard dies mid-burst.

    What the writer's path misses the dashboards' backstop stores (``r.backstop_stored``), so the
    archive is complete either way; the split of the writes is checked on what the writers stored.
    """
    plan = CityPlan(alerts_per_drone=4, burst_s=6.0, uplink_cut_s=5.0, node_down_s=3.0)
    r = run(tmp_path, plan, log=lambda _text: None)
    assert r.alerts_archived == r.alerts_sent == 200, "\n".join(r.notes)
    assert r.duplicate_rows == 0
    assert r.wrong_drone_states == []
    assert r.dashboards_running == plan.dashboards - 1  # one was killed mid-burst
    assert r.dashboards_seeing_all == r.dashboards_running
    # the dashboards split the writes: each stored a share (the killed one's is what the running writers
    # and the backstop did not store, so the shares add up to the archive by construction; a running
    # writer that counted more rows than the archive holds leaves the killed one none)
    assert all(n > 0 for n in r.rows_by_dashboard), (r.rows_by_dashboard, r.backstop_stored)
