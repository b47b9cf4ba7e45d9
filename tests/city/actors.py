"""The parts of the city scenario around the servers: dashboard processes, the API probe, a counter, the fleet."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from drone_patrol.alerts.schema import status_payload
from tests.brokers import MosquittoBroker, free_port
from tests.city.servers import DASHBOARD_PASSWORD
from tests.dashboard.helpers import MqttTestClient

REPO = Path(__file__).resolve().parents[2]


class DashboardProcess:
    """``drone-patrol dashboard`` as a child process on the city cluster and archive."""

    def __init__(self, workdir: Path, index: int, broker_url: str, archive_url: str, queue_url: str = "") -> None:
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
                 "--archive-url", archive_url, "--port", str(self.port),
                 *(["--archive-queue", queue_url] if queue_url else [])],
                env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def get(self, path: str, timeout_s: float = 5.0) -> Any:
        """GET ``path`` of the API as JSON."""
        with urllib.request.urlopen(self.url + path, timeout=timeout_s) as resp:
            return json.loads(resp.read())

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until the API answers and the dashboard holds its broker subscriptions (SUBACK received).

        The API answers before the MQTT session is up; a drone status published in that gap
        reaches this dashboard only as a retained message, which a NATS node learns from its
        cluster's retained-message stream a moment later, so an early subscriber can miss it.
        With a shared archive writer, also until it pulls from the shared consumer.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard exited: {self.log()}")
            with contextlib.suppress(OSError):
                health = self.get("healthz", 1.0)
                writer = health.get("shared_writer")
                if health["broker_connected"] and (writer is None or writer["pulling"]):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"dashboard not ready: {self.log()}")

    def log(self) -> str:
        """Its output so far."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the process dies mid-work."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

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

    def drop_last(self) -> None:
        """Stop polling the last dashboard (before it is killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)

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
