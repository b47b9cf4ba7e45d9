"""The city scale scenario, shared by ``tests/city/test_scale.py`` and ``benchmarks/bench_city.py``.

Real parts throughout: a three-node NATS cluster from the shipped config, one Mosquitto
per station bridged up with the shipped bridge config, PostgreSQL, and ``drone-patrol
dashboard`` processes (each on its own node first, the others to fall back to) sharing the city archive.
The drones are MQTT clients on their station broker that publish what the drone service
publishes: the retained status with a last will, telemetry at 1 Hz (QoS 0) and
CloudEvent alerts (QoS 1).

During the alert burst one station's uplink is cut (every connection to the cluster
reset and refused) and, later, one cluster node is killed (SIGKILL) and restarted. Then
one drone per site drops off without a goodbye (its last will says offline). The run
waits until the archive holds every alert and every dashboard shows every drone in its
right state, and reports what it measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from drone_patrol.alerts.schema import status_payload
from drone_patrol.core.types import AlertKind
from tests.brokers import MosquittoBroker, free_port
from tests.city.servers import (
    DASHBOARD_PASSWORD,
    NatsCluster,
    PostgresServer,
    postgres_server,
    rss_mib,
    station_broker,
)
from tests.city.uplink import Uplink
from tests.dashboard.helpers import MqttTestClient, event_of, make_alert

REPO = Path(__file__).resolve().parents[2]


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
    settle_timeout_s: float = 60.0


@dataclass
class CityResult:
    """What one run measured."""

    alerts_sent: int = 0
    alerts_archived: int = 0
    duplicate_rows: int = 0
    dashboards_seeing_all: int = 0
    wrong_drone_states: list[str] = field(default_factory=list)
    settle_s: float = 0.0
    messages_per_s: float = 0.0
    e2e_ms: dict[str, float] = field(default_factory=dict)
    e2e_calm_ms: dict[str, float] = field(default_factory=dict)
    api_ms: dict[str, float] = field(default_factory=dict)
    api_path_p99_ms: dict[str, float] = field(default_factory=dict)
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


class DashboardProcess:
    """``drone-patrol dashboard`` as a child process on the city cluster and archive."""

    def __init__(self, workdir: Path, index: int, broker_url: str, archive_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DRONE_PATROL_ALERTS__USERNAME": "dashboard",
            "DRONE_PATROL_MQTT_PASSWORD": DASHBOARD_PASSWORD,
            "DRONE_PATROL_DASHBOARD__CLIENT_ID": f"city-dashboard-{index}",
            "DRONE_PATROL_SITE__DATA_DIR": str(workdir),
        }
        env.pop("DRONE_PATROL_DASHBOARD_TOKEN", None)
        self.log_path = workdir / "dashboard.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "drone_patrol", "dashboard", "--broker", broker_url, "--site", "+",
                 "--archive-url", archive_url, "--port", str(self.port)],
                env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def get(self, path: str, timeout_s: float = 5.0) -> Any:
        """GET ``path`` of the API as JSON."""
        with urllib.request.urlopen(self.url + path, timeout=timeout_s) as resp:
            return json.loads(resp.read())

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until the API answers."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard exited: {self.log()}")
            with contextlib.suppress(OSError):
                self.get("api/drones", 1.0)
                return
            time.sleep(0.2)
        raise RuntimeError(f"dashboard not ready: {self.log()}")

    def log(self) -> str:
        """Its output so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ApiProbe:
    """``tests/city/probe.py`` in its own process, polling every dashboard's API and timing each answer."""

    def __init__(self, dashboards: list[DashboardProcess], out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.city.probe", str(out), *(d.url for d in dashboards)], cwd=REPO
        )
        self.latencies_ms: dict[str, list[float]] = {}
        self.errors = 0

    def stop(self) -> None:
        """Stop polling and read what it measured."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.out.exists():
            doc = json.loads(self.out.read_text())
            self.latencies_ms, self.errors = doc["ms"], doc["errors"]


class Counter:
    """A QoS 0 subscriber on the cluster counting what it sees (the cluster's delivered rate)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.count = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="city-counter")
        self.client.username_pw_set("dashboard", DASHBOARD_PASSWORD)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(host, int(port), keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, _props: Any) -> None:
        if not rc.is_failure:
            # Not dronepatrol/#: that is also the subject "dronepatrol", which the room may not read.
            client.subscribe([("dronepatrol/+/+/+", 0), ("dronepatrol/+/+/alerts/+", 0)])

    def _on_message(self, *_: Any) -> None:
        self.count += 1

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Fleet:
    """The simulated drones: one MQTT client each on its station broker."""

    def __init__(self, stations: dict[str, MosquittoBroker], per_site: int) -> None:
        self.drones: dict[str, MqttTestClient] = {}
        for site, broker in stations.items():
            for n in range(per_site):
                drone = f"drone-{n + 1}"
                key = f"{site}/{drone}"
                client = MqttTestClient(broker.url, client_id=f"{site}-{drone}")
                offline = status_payload("offline", site=site, drone=drone, time_s=time.time())
                self.drones[key] = client.will(f"dronepatrol/{site}/{drone}/status", offline).start()
        for key, client in self.drones.items():
            site, drone = key.split("/")
            client.publish_status(site, drone, "online", mode="AUTO")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._telemetry, name="fleet-telemetry", daemon=True)
        self.dropped: set[str] = set()

    def start_telemetry(self) -> None:
        self._thread.start()

    def _telemetry(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            for key, client in list(self.drones.items()):
                if key not in self.dropped:
                    site, drone = key.split("/")
                    with contextlib.suppress(Exception):
                        client.publish_telemetry(site, drone, latitude_deg=25.28, longitude_deg=110.29)
            self._stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))

    def drop(self, key: str) -> None:
        """The drone vanishes without DISCONNECT: its station sends the last will."""
        self.dropped.add(key)
        self.drones[key].kill()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for key, client in self.drones.items():
            if key not in self.dropped:
                with contextlib.suppress(Exception):
                    client.stop()


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
        stack.callback(lambda: [u.close() for u in uplinks])
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
            dash = DashboardProcess(workdir / f"dashboard-{i}", i, ",".join([node.mqtt_url, *others]), pg.url)
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
        _wait(lambda: all(_online(d) >= everyone for d in dashboards), 30.0, "every dashboard sees every drone online")
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
        cut_at, kill_at = total // 4, total // 2
        victim = cluster.nodes[0]  # every bridge's first address, and the first dashboard's node
        restore_timer: threading.Timer | None = None
        restart_timer: threading.Timer | None = None
        for n in range(total):
            if n == cut_at:
                log(f"city: uplink of {next(iter(stations))} cut for {plan.uplink_cut_s:g} s")
                for u in uplinks:
                    u.cut()
                restore_timer = threading.Timer(plan.uplink_cut_s, lambda: [u.restore() for u in uplinks])
                restore_timer.start()
            if n == kill_at:
                log(f"city: node {victim.name} killed for {plan.node_down_s:g} s")
                cluster.kill(victim)
                restart_timer = threading.Timer(plan.node_down_s, cluster.start_node, args=(victim,))
                restart_timer.start()
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

        def settled() -> bool:
            archived, _dups, _lat = _archive_counts(pg.url, sent)
            if archived < len(sent):
                return False
            return all({k: v for k, v in _drone_states(d).items() if k in everyone} == expected for d in dashboards)

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
        result.api_path_p99_ms = {path: percentiles(v)["p99"] for path, v in probe.latencies_ms.items()}
        result.api_requests, result.api_errors = len(every), probe.errors
        for dash in dashboards:
            states = _drone_states(dash)
            wrong = [k for k in sorted(everyone) if states.get(k) != expected[k]]
            result.wrong_drone_states += [f"{dash.url}: {k}" for k in wrong]
            sites_seen = {row["site"] for row in dash.get("api/alerts")["alerts"]}
            if sites_seen >= set(stations):
                result.dashboards_seeing_all += 1
        result.memory_mib = {
            "nats_cluster": cluster.memory_rss_mib(),
            "stations": sum(rss_mib(b._proc.pid) for b in stations.values() if b._proc is not None),
            "dashboards": sum(rss_mib(d.proc.pid) for d in dashboards),
        }
        if result.alerts_archived < result.alerts_sent:
            result.notes.append(f"dashboard logs:\n{dashboards[0].log()[-3000:]}")
    return result


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
