"""The city's servers for tests and the city benchmark, each a real process on free loopback ports.

- :class:`NatsCluster`: three ``nats-server`` nodes (Debian ``nats-server``) running the
  shipped ``configs/city/nats-node.conf`` unchanged, with a users file (the shipped one, or
  one made for more stations by :func:`users_conf`) and passwords in the environment.
- :class:`PostgresServer`: ``initdb`` + ``pg_ctl`` (Debian ``postgresql``) in a temporary
  directory; as root the server runs as the ``postgres`` user, since PostgreSQL refuses root.
- :func:`station_broker`: a station's Mosquitto with the shipped ``configs/city/station-bridge.conf``
  (site, cluster addresses and password filled in).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.brokers import MosquittoBroker, free_port, have_mosquitto

CITY_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "city"
NATS_SERVER = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if os.path.exists("/usr/sbin/nats-server") else None
)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(versions[0]) if versions else None


INITDB = _pg_bin("initdb")
PG_CTL = _pg_bin("pg_ctl")

requires_nats = pytest.mark.skipif(NATS_SERVER is None, reason="needs nats-server (apt nats-server)")
requires_postgres = pytest.mark.skipif(INITDB is None or PG_CTL is None, reason="needs PostgreSQL (apt postgresql)")
requires_mosquitto = pytest.mark.skipif(not have_mosquitto(), reason="needs the mosquitto binary (apt mosquitto)")

#: Test passwords of the users in the cluster's users file.
DASHBOARD_PASSWORD = "dashboard-test-pw"
COMMAND_ROOM_PASSWORD = "command-room-test-pw"


def station_password(site: str) -> str:
    """The test password of station ``site``'s bridge user."""
    return f"station-{site}-test-pw"


def _wait_port(port: int, timeout_s: float, alive: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
        time.sleep(0.05)
    return False


def users_conf(sites: list[str]) -> str:
    """The shipped ``city-users.conf`` with its station role and user repeated for each of ``sites``."""
    shipped = (CITY_CONFIGS / "city-users.conf").read_text()
    role_start = shipped.index("  STATION_DONGXI = {")
    role_end = shipped.index("\n  }\n", role_start) + len("\n  }\n")
    role = shipped[role_start:role_end]
    user_line = next(line for line in shipped.splitlines(keepends=True) if "user: station-dongxi" in line)
    roles, users = [], []
    for site in sites:
        name = f"STATION_{site.upper().replace('-', '_')}"
        roles.append(role.replace("STATION_DONGXI", name).replace("dronepatrol.dongxi.", f"dronepatrol.{site}."))
        users.append(
            user_line.replace("station-dongxi", f"station-{site}")
            .replace("$CITY_STATION_DONGXI_PASSWORD", f"${name}_PASSWORD")
            .replace("$STATION_DONGXI", f"${name}")
        )
    out = shipped[:role_start] + "".join(roles) + shipped[role_end:]
    return out.replace(user_line, "".join(users))


@dataclass
class NatsNode:
    """One node: its name, ports and process."""

    name: str
    port: int
    mqtt_port: int
    cluster_port: int
    store: Path
    log_path: Path
    http_port: int = 0  # NATS monitoring (/jsz) for diagnosis; 0: none
    proc: subprocess.Popen[bytes] | None = None

    @property
    def mqtt_url(self) -> str:
        """``mqtt://127.0.0.1:PORT`` of this node's MQTT listener."""
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self.proc is not None and self.proc.poll() is None


@dataclass
class NatsCluster:
    """Three NATS nodes with JetStream and MQTT on loopback, from the shipped config."""

    workdir: Path
    sites: list[str] = field(default_factory=lambda: ["dongxi"])
    size: int = 3
    nodes: list[NatsNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(CITY_CONFIGS / "nats-node.conf", self.workdir / "nats-node.conf")
        users = (CITY_CONFIGS / "city-users.conf").read_text() if self.sites == ["dongxi"] else users_conf(self.sites)
        (self.workdir / "city-users.conf").write_text(users)
        for i in range(self.size):
            name = f"city-{i + 1}"
            self.nodes.append(
                NatsNode(
                    name,
                    free_port(),
                    free_port(),
                    free_port(),
                    self.workdir / name,
                    self.workdir / f"{name}.log",
                    http_port=free_port(),
                )
            )

    @property
    def mqtt_urls(self) -> list[str]:
        """The MQTT URL of each node."""
        return [n.mqtt_url for n in self.nodes]

    def env(self, node: NatsNode) -> dict[str, str]:
        """The environment the shipped config reads for ``node``."""
        routes = ",".join(f'"nats-route://127.0.0.1:{n.cluster_port}"' for n in self.nodes)
        env = {
            **os.environ,
            "CITY_NODE": node.name,
            "CITY_HOST": "127.0.0.1",
            "CITY_PORT": str(node.port),
            "CITY_MQTT_PORT": str(node.mqtt_port),
            "CITY_CLUSTER_PORT": str(node.cluster_port),
            "CITY_STORE": str(node.store),
            "CITY_ROUTES": f"[{routes}]",
            "CITY_DASHBOARD_PASSWORD": DASHBOARD_PASSWORD,
            "CITY_COMMAND_ROOM_PASSWORD": COMMAND_ROOM_PASSWORD,
        }
        for site in self.sites:
            env[f"STATION_{site.upper().replace('-', '_')}_PASSWORD"] = station_password(site)
        env["CITY_STATION_DONGXI_PASSWORD"] = station_password("dongxi")
        return env

    def start_node(self, node: NatsNode, timeout_s: float = 10.0) -> None:
        """Start (or restart) one node and wait for its MQTT port."""
        if node.running:
            return
        if NATS_SERVER is None:
            raise RuntimeError("nats-server not installed")
        log = node.log_path.open("ab")
        monitor = ["-m", str(node.http_port)] if node.http_port else []
        node.proc = subprocess.Popen(
            [NATS_SERVER, "-c", str(self.workdir / "nats-node.conf"), *monitor],
            env=self.env(node),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if not _wait_port(node.mqtt_port, timeout_s, node.proc):
            raise RuntimeError(f"nats node {node.name} did not listen for MQTT:\n{self.log(node)}")

    def start(self, timeout_s: float = 60.0) -> NatsCluster:
        """Start every node, then wait until each takes MQTT sessions (JetStream formed, streams made)."""
        for node in self.nodes:
            self.start_node(node)
        for node in self.nodes:
            self.wait_ready(node, timeout_s)
        return self

    def wait_ready(self, node: NatsNode, timeout_s: float = 60.0) -> None:
        """Until ``node`` answers an MQTT CONNECT with success (it needs its JetStream peers for that)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if _mqtt_connects(node.mqtt_port, "dashboard", DASHBOARD_PASSWORD, f"ready-{node.name}"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"nats node {node.name} took no MQTT session within {timeout_s} s:\n{self.log(node)}")

    def kill(self, node: NatsNode) -> None:
        """SIGKILL one node."""
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait()

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL)."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()

    def log(self, node: NatsNode) -> str:
        """The node's log so far."""
        return node.log_path.read_text(errors="replace") if node.log_path.exists() else ""

    def jetstream_report(self, stream: str, consumer: str) -> list[str]:
        """Each running node's view of ``stream`` and its ``consumer`` (from ``/jsz``), one line per node."""
        import json
        import urllib.request

        lines = []
        for node in self.nodes:
            if not node.running or not node.http_port:
                continue
            url = f"http://127.0.0.1:{node.http_port}/jsz?accounts=true&streams=true&consumers=true"
            try:
                with urllib.request.urlopen(url, timeout=3.0) as reply:
                    jsz = json.load(reply)
            except (OSError, ValueError) as exc:
                lines.append(f"{node.name}: /jsz unreadable ({exc})")
                continue
            for account in jsz.get("account_details") or []:
                for s in account.get("stream_detail") or []:
                    if s.get("name") != stream:
                        continue
                    st, cl = s.get("state", {}), s.get("cluster", {})
                    lines.append(
                        f"{node.name}: stream {stream} leader {cl.get('leader')} msgs {st.get('messages')} "
                        f"seq {st.get('first_seq')}-{st.get('last_seq')} deleted {st.get('num_deleted')}"
                    )
                    for c in s.get("consumer_detail") or []:
                        if c.get("name") != consumer:
                            continue
                        lines.append(
                            f"{node.name}: consumer {consumer} leader {c.get('cluster', {}).get('leader')} "
                            f"delivered {c.get('delivered', {}).get('stream_seq')} "
                            f"ack floor {c.get('ack_floor', {}).get('stream_seq')} "
                            f"ack pending {c.get('num_ack_pending')} redelivered {c.get('num_redelivered')} "
                            f"pending {c.get('num_pending')} waiting {c.get('num_waiting')}"
                        )
        return lines

    def memory_rss_mib(self) -> float:
        """Resident memory of the running nodes, MiB in all."""
        return sum(rss_mib(n.proc.pid) for n in self.nodes if n.proc is not None and n.running)


def _mqtt_connects(port: int, user: str, password: str, client_id: str, timeout_s: float = 6.0) -> bool:
    """True when a clean MQTT 3.1.1 session on 127.0.0.1:``port`` gets CONNACK 0."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    answer: list[bool] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv311)
    client.username_pw_set(user, password)

    def on_connect(_c: object, _u: object, _f: object, rc: object, _p: object) -> None:
        answer.append(not getattr(rc, "is_failure", True))
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = lambda *_: done.set()
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return False
    client.loop_start()
    done.wait(timeout_s)
    client.disconnect()
    client.loop_stop()
    return bool(answer and answer[0])


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


@contextlib.contextmanager
def nats_cluster(workdir: Path, sites: list[str] | None = None) -> Iterator[NatsCluster]:
    """A running three-node cluster; stopped on exit."""
    cluster = NatsCluster(Path(workdir), sites or ["dongxi"])
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster on a free loopback port; database ``city``, user ``city``."""

    workdir: Path
    port: int = 0
    proc_user: str | None = None

    @property
    def url(self) -> str:
        """The libpq URL of the ``city`` database."""
        return f"postgresql://city@127.0.0.1:{self.port}/city"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), capture_output=True, text=True, check=False, user=self.proc_user, cwd=self.workdir
        )

    def start(self) -> PostgresServer:
        """initdb (trust authentication on loopback), start, create the ``city`` database."""
        if INITDB is None or PG_CTL is None:
            raise RuntimeError("PostgreSQL not installed")
        if os.geteuid() == 0:
            self.proc_user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.workdir, pw.pw_uid, pw.pw_gid)
        data = self.workdir / "data"
        out = self._run(INITDB, "-D", str(data), "-U", "city", "--auth=trust", "-E", "UTF8", "--no-sync")
        if out.returncode != 0:
            raise RuntimeError(f"initdb failed: {out.stderr}")
        self.port = self.port or free_port()
        self.start_again()
        import psycopg

        with psycopg.connect(f"postgresql://city@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE city")
        return self

    def start_again(self) -> None:
        """pg_ctl start on the existing data directory and port (after :meth:`stop`)."""
        assert PG_CTL is not None
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} -c fsync=off"
        data = str(self.workdir / "data")
        out = self._run(PG_CTL, "-D", data, "-o", opts, "-l", str(self.workdir / "pg.log"), "-w", "start")
        if out.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {out.stderr}\n{self.log()}")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop (``fast``; ``immediate`` is a crash)."""
        if PG_CTL is not None and (self.workdir / "data" / "postmaster.pid").exists():
            self._run(PG_CTL, "-D", str(self.workdir / "data"), "-m", mode, "-w", "stop")

    def log(self) -> str:
        """The server's log so far."""
        path = self.workdir / "pg.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL in a new temporary directory (outside pytest's root-only tree); removed on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="drone-patrol-pg-"))
    os.chmod(workdir, 0o700)
    server = PostgresServer(workdir)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def bridge_conf(site: str, cluster: NatsCluster, ports: list[int] | None = None) -> str:
    """The shipped ``station-bridge.conf`` for ``site``, aimed at ``cluster`` (or ``ports``), test password."""
    text = (CITY_CONFIGS / "station-bridge.conf").read_text()
    addresses = " ".join(f"127.0.0.1:{p}" for p in (ports or [n.mqtt_port for n in cluster.nodes]))
    text = text.replace("city-broker-1:1883 city-broker-2:1883 city-broker-3:1883", addresses)
    text = text.replace("remote_password CHANGE-ME", f"remote_password {station_password(site)}")
    return text.replace("dongxi", site)


def station_broker(workdir: Path, site: str, cluster: NatsCluster, ports: list[int] | None = None) -> MosquittoBroker:
    """A station Mosquitto (anonymous on loopback, persistent) bridged to ``cluster`` (not started).

    ``ports`` replaces the cluster's MQTT ports in the bridge's address list (an uplink relay).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = "\n".join(
        [
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {workdir}/",
            "max_queued_messages 20000",
            f"log_dest file {workdir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
            bridge_conf(site, cluster, ports),
        ]
    )
    return MosquittoBroker(workdir, port, config_text=config)
