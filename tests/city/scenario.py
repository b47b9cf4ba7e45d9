"""The city scale scenario, shared by ``tests/city/test_scale.py`` and ``benchmarks/bench_city.py``.

Real parts throughout: a three-node NATS cluster from the shipped config, one Mosquitto
per station bridged up with the shipped bridge config, PostgreSQL, and ``drone-patrol
dashboard`` processes (each on its own node first, the others to fall back to) sharing the city archive.
The drones are MQTT clients on their station broker that publish what the drone service
publishes: the retained status with a last will, telemetry at 1 Hz (QoS 0) and
CloudEvent alerts (QoS 1).

The dashboards split the archive writes through the JetStream consumer they share
(``--archive-queue``, :mod:`drone_patrol.dashboard.shared_writer`); ``shared_writer=False``
runs them as before, each writing every alert (the idempotent insert keeps one row).

During the alert burst one station's uplink is cut (every connection to the cluster
reset and refused), later one cluster node is killed (SIGKILL) and restarted, and then
the last dashboard is killed (SIGKILL) for good. Then one drone per site drops off
without a goodbye (its last will says offline). The run waits until the archive holds
every alert and every dashboard still running shows every drone in its right state,
and reports what it measured, with the rows each dashboard wrote.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drone_patrol.core.types import AlertKind
from tests.brokers import MosquittoBroker
from tests.city.actors import ApiProbe, Counter, DashboardProcess, Fleet
from tests.city.servers import (
    NatsCluster,
    PostgresServer,
    postgres_server,
    rss_mib,
    station_broker,
)
from tests.city.uplink import Uplink
from tests.dashboard.helpers import event_of, make_alert


@dataclass(frozen=True)
class CityPlan:
    """Sizes and timings of one run."""

    sites: int = 10
    drones_per_site: int = 5
    alerts_per_drone: int = 4
    burst_s: float = 6.0
    uplink_cut_s: float = 5.0
    node_down_s: float = 3.0
    dashboards: int = 2
    shared_writer: bool = True
    kill_dashboard: bool = True
    settle_timeout_s: float = 60.0


@dataclass
class CityResult:
    """What one run measured."""

    alerts_sent: int = 0
    alerts_archived: int = 0
    duplicate_rows: int = 0
    dashboards_seeing_all: int = 0
    dashboards_running: int = 0
    rows_by_dashboard: list[int] = field(default_factory=list)  # alerts each dashboard stored (shared writer)
    writes_again: int = 0  # inserts of an alert already stored (a redelivery after a dashboard died)
    backstop_stored: int = 0  # events the shared writer missed, stored by a dashboard's backstop
    wrong_drone_states: list[str] = field(default_factory=list)
    settle_s: float = 0.0
    messages_per_s: float = 0.0
    e2e_ms: dict[str, float] = field(default_factory=dict)
    e2e_calm_ms: dict[str, float] = field(default_factory=dict)
    api_ms: dict[str, float] = field(default_factory=dict)
    api_path_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # path -> percentiles
    api_requests: int = 0
    api_errors: int = 0
    memory_mib: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of ``values`` (0 when empty)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    s = sorted(values)

    def at(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))]

    return {"p50": statistics.median(s), "p95": at(0.95), "p99": at(0.99), "max": s[-1]}


def _archive_counts(url: str, ids: list[str]) -> tuple[int, int, list[float]]:
    """(rows of the sent ids, rows minus distinct ids, end-to-end seconds of each row)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT count(*), count(*) - count(DISTINCT id) FROM messages WHERE id = ANY(%s)", (ids,)
        ).fetchone()
        lat = conn.execute("SELECT received_s - time_s FROM messages WHERE id = ANY(%s)", (ids,)).fetchall()
    assert rows is not None
    return int(rows[0]), int(rows[1]), [float(r[0]) for r in lat]


def _drone_states(dash: DashboardProcess) -> dict[str, Any]:
    return {d["key"]: d["online"] for d in dash.get("api/drones")["drones"]}


@contextlib.contextmanager
def city(
    workdir: Path, plan: CityPlan
) -> Iterator[tuple[NatsCluster, PostgresServer, dict[str, MosquittoBroker], list[Uplink]]]:
    """Cluster, archive and stations (the first station's uplink through cuttable relays)."""
    sites = [f"site-{i:02d}" for i in range(plan.sites)]
    with contextlib.ExitStack() as stack:
        cluster = NatsCluster(workdir / "nats", sites)
        stack.callback(cluster.stop)
        for node in cluster.nodes:  # the nodes form their cluster while PostgreSQL starts
            cluster.start_node(node)
        pg = stack.enter_context(postgres_server())
        for node in cluster.nodes:
            cluster.wait_ready(node)
        uplinks = [Uplink(n.mqtt_port) for n in cluster.nodes]
        for uplink in uplinks:
            stack.callback(uplink.close)
        stations: dict[str, MosquittoBroker] = {}
        for i, site in enumerate(sites):
            ports = [u.port for u in uplinks] if i == 0 else None
            broker = station_broker(workdir / "stations" / site, site, cluster, ports)
            stations[site] = broker.start()
            stack.callback(broker.stop)
        yield cluster, pg, stations, uplinks


def run(workdir: Path, plan: CityPlan = CityPlan(), log: Any = print) -> CityResult:
    """Run the scenario in ``workdir``; see the module docstring."""
    result = CityResult()
    t_begin = time.monotonic()
    with city(workdir, plan) as (cluster, pg, stations, uplinks), contextlib.ExitStack() as stack:
        dashboards = []
        for i in range(plan.dashboards):
            node = cluster.nodes[i % len(cluster.nodes)]
            others = [n.mqtt_url for n in cluster.nodes if n is not node]  # where it goes when its node dies
            brokers = ",".join([node.mqtt_url, *others])
            order = [node, *(n for n in cluster.nodes if n is not node)]
            queue = ",".join(f"nats://127.0.0.1:{n.port}" for n in order) if plan.shared_writer else ""
            dash = DashboardProcess(workdir / f"dashboard-{i}", i, brokers, pg.url, queue)
            log(f"city: dashboard {i} on {node.name} ({time.monotonic() - t_begin:.1f} s)")
            stack.callback(dash.stop)
            dashboards.append(dash)
        for dash in dashboards:
            dash.wait_ready()
        log(f"city: servers and dashboards up after {time.monotonic() - t_begin:.1f} s")
        counter = Counter(cluster.nodes[-1].mqtt_url)
        stack.callback(counter.stop)
        fleet = Fleet(stations, plan.drones_per_site)
        stack.callback(fleet.stop)
        fleet.start_telemetry()
        everyone = set(fleet.drones)
        if not _wait(lambda: all(_online(d) >= everyone for d in dashboards), 60.0, "", raise_=False):
            missing = {d.url: sorted(everyone - _online(d)) for d in dashboards}
            stations_log = {site: b.log()[-600:] for site, b in stations.items()}
            raise AssertionError(f"drones not online on the dashboards after 60 s: {missing}\n{stations_log}")
        log(f"city: {len(fleet.drones)} drones online on {len(dashboards)} dashboards")

        probe = ApiProbe(dashboards, workdir / "api-probe.json")
        stack.callback(probe.stop)
        t_start = time.monotonic()
        count_start = counter.count
        sent: list[str] = []
        calm: list[str] = []  # sent before the first fault
        keys = sorted(fleet.drones)
        total = plan.alerts_per_drone * len(keys)
        step_s = plan.burst_s / total
        cut_at, kill_at, kill_dash_at = total // 4, total // 2, total * 3 // 5
        victim = cluster.nodes[0]  # every bridge's first address, and the first dashboard's node
        restore_timer: threading.Timer | None = None
        restart_timer: threading.Timer | None = None
        for n in range(total):
            if n == cut_at:
                log(f"city: uplink of {next(iter(stations))} cut for {plan.uplink_cut_s:g} s")
                for u in uplinks:
                    u.cut()
                restore_timer = threading.Timer(plan.uplink_cut_s, _restore_all, args=(uplinks,))
                restore_timer.start()
            if n == kill_at:
                log(f"city: node {victim.name} killed for {plan.node_down_s:g} s")
                cluster.kill(victim)
                restart_timer = threading.Timer(plan.node_down_s, cluster.start_node, args=(victim,))
                restart_timer.start()
            if n == kill_dash_at and plan.kill_dashboard and len(dashboards) > 1:
                log(f"city: dashboard {len(dashboards) - 1} killed")
                probe.drop_last()
                time.sleep(0.3)  # the probe's request in flight to it ends
                dashboards[-1].kill()
            key = keys[n % len(keys)]
            site, drone = key.split("/")
            kind = (AlertKind.THERMAL_HOTSPOT, AlertKind.CROWD_GATHERING, AlertKind.VEHICLE)[n % 3]
            alert = make_alert(kind=kind, site=site, drone=drone)
            fleet.drones[key].publish(f"dronepatrol/{site}/{drone}/alerts/{kind.value}", event_of(alert))
            sent.append(alert.alert_id)
            if n < cut_at:
                calm.append(alert.alert_id)
            time.sleep(step_s)
        for timer in (restore_timer, restart_timer):
            if timer is not None:
                timer.join()
        offline = {f"{site}/drone-1" for site in stations}
        for key in offline:
            fleet.drop(key)
        result.alerts_sent = len(sent)
        log(f"city: {len(sent)} alerts sent; waiting for the archive and the dashboards")

        expected = {k: k not in offline for k in everyone}
        running = [d for d in dashboards if d.proc.poll() is None]

        def settled() -> bool:
            archived, _dups, _lat = _archive_counts(pg.url, sent)
            if archived < len(sent):
                return False
            return all({k: v for k, v in _drone_states(d).items() if k in everyone} == expected for d in running)

        t_burst_end = time.monotonic()
        _wait(settled, plan.settle_timeout_s, "archive complete and drone states right", raise_=False)
        result.settle_s = time.monotonic() - t_burst_end
        elapsed_s = time.monotonic() - t_start
        probe.stop()
        result.messages_per_s = (counter.count - count_start) / elapsed_s
        archived, dups, lat = _archive_counts(pg.url, sent)
        result.alerts_archived, result.duplicate_rows = archived, dups
        result.e2e_ms = {k: v * 1000.0 for k, v in percentiles(lat).items()}
        result.e2e_calm_ms = {k: v * 1000.0 for k, v in percentiles(_archive_counts(pg.url, calm)[2]).items()}
        every = [ms for values in probe.latencies_ms.values() for ms in values]
        result.api_ms = percentiles(every)
        result.api_path_ms = {path: percentiles(v) for path, v in probe.latencies_ms.items()}
        result.api_requests, result.api_errors = len(every), probe.errors
        result.dashboards_running = len(running)
        health = [d.get("healthz") if d.proc.poll() is None else None for d in dashboards]  # None: killed
        writers = [(h["shared_writer"] or {}) for h in health if h is not None]
        result.backstop_stored = sum(w.get("backstop", {}).get("stored_here", 0) for w in writers)
        result.rows_by_dashboard, result.writes_again = _rows_by_dashboard(health, archived - result.backstop_stored)
        for dash in running:
            states = _drone_states(dash)
            wrong = [k for k in sorted(everyone) if states.get(k) != expected[k]]
            result.wrong_drone_states += [f"{dash.url}: {k}" for k in wrong]
            sites_seen = {row["site"] for row in dash.get("api/alerts")["alerts"]}
            if sites_seen >= set(stations):
                result.dashboards_seeing_all += 1
        result.memory_mib = {
            "nats_cluster": cluster.memory_rss_mib(),
            "stations": sum(rss_mib(b._proc.pid) for b in stations.values() if b._proc is not None),
            "dashboards": sum(rss_mib(d.proc.pid) for d in running),
        }
        if result.alerts_archived < result.alerts_sent or result.backstop_stored:
            result.notes.append(
                f"{result.alerts_sent - result.alerts_archived} alerts not in the archive, "
                f"{result.backstop_stored} stored by a backstop"
            )
            if plan.shared_writer:
                result.notes += cluster.jetstream_report("$MQTT_msgs", "dronepatrol-archive")
                result.notes += [f"shared writer of a running dashboard: {w}" for w in writers]
            result.notes.append(f"dashboard logs:\n{dashboards[0].log()[-3000:]}")
    return result


def _rows_by_dashboard(health: list[dict[str, Any] | None], archived: int) -> tuple[list[int], int]:
    """Alerts each dashboard stored (of ``archived``, those not stored by a backstop), and its writes that
    found the row there already.

    From each dashboard's ``/healthz`` (``None`` for a killed one): the shared writer's counts,
    or without one the dashboard's own writes (every dashboard writes every alert; the first
    insert stores it). A killed dashboard cannot be asked: its share is what the others did not store.
    """
    stored: list[int | None] = []
    again = 0
    for h in health:
        if h is None:
            stored.append(None)
            continue
        counts = h["shared_writer"] or h["archive_writes"]
        stored.append(counts["stored"])
        again += counts["already_stored"]
    known = sum(n for n in stored if n is not None)
    return [archived - known if n is None else n for n in stored], again


def _restore_all(uplinks: list[Uplink]) -> None:
    for uplink in uplinks:
        uplink.restore()


def _online(dash: DashboardProcess) -> set[str]:
    try:
        return {k for k, v in _drone_states(dash).items() if v}
    except OSError:
        return set()


def _wait(pred: Any, timeout_s: float, what: str, raise_: bool = True) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if pred():
                return True
        time.sleep(0.25)
    if raise_:
        raise AssertionError(f"timed out after {timeout_s:g} s waiting until {what}")
    return False
