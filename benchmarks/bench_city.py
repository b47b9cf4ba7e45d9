"""City scale: 50 drones at 10 stations bridged to a three-node NATS cluster, two dashboards, PostgreSQL.

The scenario of ``tests/city/scenario.py`` at full size: telemetry at 1 Hz and
retained status from every drone, a burst of 500 alerts over 60 s, one station's
uplink cut for 30 s, one cluster node killed for 10 s and then one of the two
dashboards killed for good in the middle of the burst, then one drone per site
vanishing (last will). The dashboards split the archive writes through their shared
JetStream consumer; ``rows_by_dashboard`` is each one's share (the killed one last), ``backstop_stored``
what the dashboards' backstop stored because the writers missed it (normally 0). Targets: 0 alerts lost, 0 duplicate
rows, every drone's state right on every dashboard left, dashboard API p99 < 200 ms.
End-to-end latency is drone publish -> row in the city archive (the CloudEvent time
against the dashboard's receive time; the alerts queued behind the cut uplink or on
the dead node are in it, so the tail is the outage; "calm" is the alerts sent before the
first fault). The API is polled from its own process. Memory is resident set size.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

TITLE = "City scale: 50 drones, 10 station bridges, 3-node NATS cluster, 2 dashboards, PostgreSQL"
API_P99_TARGET_MS = 200.0


def run() -> list[dict[str, Any]]:
    """One row: the full-size run."""
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from tests.city import servers

    if servers.NATS_SERVER is None or servers.INITDB is None or not servers.have_mosquitto():
        return [{"case": "city", "ok": False, "target": "needs apt nats-server postgresql mosquitto"}]
    from tests.city.scenario import CityPlan
    from tests.city.scenario import run as run_city

    plan = CityPlan(alerts_per_drone=10, burst_s=60.0, uplink_cut_s=30.0, node_down_s=10.0, settle_timeout_s=120.0)
    work = Path(tempfile.mkdtemp(prefix="bench-city-"))
    try:
        r = run_city(work, plan, log=lambda text: print(text, file=sys.stderr))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = (
        r.alerts_archived == r.alerts_sent
        and r.duplicate_rows == 0
        and not r.wrong_drone_states
        and r.dashboards_seeing_all == r.dashboards_running
        and sum(r.rows_by_dashboard) + r.backstop_stored == r.alerts_sent
        and r.api_ms["p99"] < API_P99_TARGET_MS
    )
    return [
        {
            "drones": plan.sites * plan.drones_per_site,
            "alerts_sent": r.alerts_sent,
            "lost": r.alerts_sent - r.alerts_archived,
            "dup_rows": r.duplicate_rows,
            "wrong_states": len(r.wrong_drone_states),
            "rows_by_dashboard": "/".join(str(n) for n in r.rows_by_dashboard),
            "writes_again": r.writes_again,
            "backstop_stored": r.backstop_stored,
            "settle_s": round(r.settle_s, 1),
            "msgs_per_s": round(r.messages_per_s, 1),
            "e2e_calm_p50_ms": round(r.e2e_calm_ms["p50"], 1),
            "e2e_calm_p99_ms": round(r.e2e_calm_ms["p99"], 1),
            "e2e_p50_ms": round(r.e2e_ms["p50"], 1),
            "e2e_p95_ms": round(r.e2e_ms["p95"], 1),
            "e2e_p99_ms": round(r.e2e_ms["p99"], 1),
            "e2e_max_ms": round(r.e2e_ms["max"], 1),
            "api_p50_ms": round(r.api_ms["p50"], 1),
            "api_p99_ms": round(r.api_ms["p99"], 1),
            **{
                f"api_{name}_{q}_ms": round(r.api_path_ms.get(path, {}).get(q, 0.0), 1)
                for name, path in (("alerts", "api/alerts?limit=100"), ("drones", "api/drones"))
                for q in ("p50", "p99")
            },
            "api_requests": r.api_requests,
            "api_errors": r.api_errors,
            "rss_nats_mib": round(r.memory_mib["nats_cluster"], 1),
            "rss_stations_mib": round(r.memory_mib["stations"], 1),
            "rss_dashboards_mib": round(r.memory_mib["dashboards"], 1),
            "target": f"0 lost, 0 dup, states right, API p99 < {API_P99_TARGET_MS:g} ms",
            "ok": ok,
        }
    ]
