"""Real MQTT brokers for tests: Mosquitto as a subprocess, amqtt in-process, on free loopback ports.

Small on purpose. Typical use::

    from tests.brokers import mosquitto_broker, requires_mosquitto

    @requires_mosquitto
    def test_something(tmp_path):
        with mosquitto_broker(tmp_path) as broker:        # plain, anonymous
            ...broker.url...                             # mqtt://127.0.0.1:PORT
        with mosquitto_broker(tmp_path, tls=True, users={"drone-1": "pw"}, acl=ACL_TEXT) as broker:
            broker.tls.ca_cert, broker.tls.client_cert, broker.tls.client_key
            broker.stop(); broker.start()                # same port, same persistence file
            broker.kill()                                # SIGKILL

    MosquittoBroker(workdir, free_port(), config_text=TEXT).start()   # run a given mosquitto.conf as is

    from tests.brokers import amqtt_broker
    with amqtt_broker() as broker: ...broker.url...      # drone_patrol.alerts.broker.EmbeddedBroker

:func:`make_tls_files` makes a throw-away CA, a server certificate for 127.0.0.1 /
localhost and a client certificate with ``openssl`` (needs the ``openssl`` binary).
Nothing here uses a system Mosquitto service: each broker is its own process with
its own config, persistence file and log under the given directory.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.needs import MOSQUITTO, missing

if TYPE_CHECKING:
    from drone_patrol.alerts.broker import EmbeddedBroker

__all__ = [
    "MOSQUITTO",
    "MosquittoBroker",
    "TlsFiles",
    "amqtt_broker",
    "free_port",
    "have_mosquitto",
    "make_password_file",
    "make_tls_files",
    "mosquitto_broker",
    "requires_mosquitto",
]

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


def have_mosquitto() -> bool:
    """True when the mosquitto binary (Debian package ``mosquitto``) is installed."""
    return MOSQUITTO is not None


#: Mark for tests that need Mosquitto: skipped with a reason when it is not installed (failed under ``make test``).
requires_mosquitto = pytest.mark.mosquitto


_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, and not handed out before by this process.

    The kernel may offer a port it just offered again once the probing socket is closed, so a
    caller that asks for several ports before any is bound (a cluster's nodes) could get one twice.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port
    raise RuntimeError("no TCP port on 127.0.0.1 that this process has not used already")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a test CA, a server certificate (127.0.0.1, localhost) and a client certificate."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tls_files(directory: Path, client_cn: str = "command-room") -> TlsFiles:
    """Generate a CA, a server and a client certificate (EC P-256, 1 day) under ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, cn in (("server", "127.0.0.1"), ("client", client_cn)):
        _openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
        _openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext", cwd=d,
        )  # fmt: skip
    return TlsFiles(d / "ca.crt", d / "ca.key", d / "server.crt", d / "server.key", d / "client.crt", d / "client.key")


def make_password_file(path: Path, users: dict[str, str]) -> Path:
    """A Mosquitto password file made with ``mosquitto_passwd -b`` (hashed, as in production)."""
    if MOSQUITTO_PASSWD is None:
        raise RuntimeError("mosquitto_passwd not found (apt mosquitto)")
    path = Path(path)
    path.unlink(missing_ok=True)
    for i, (user, password) in enumerate(users.items()):
        flags = ["-c"] if i == 0 else []
        subprocess.run([MOSQUITTO_PASSWD, *flags, "-b", str(path), user, password], check=True, capture_output=True)
    return path


@dataclass
class MosquittoBroker:
    """One Mosquitto process on 127.0.0.1:``port`` with its config under ``workdir``.

    :meth:`stop` (SIGTERM: Mosquitto saves its persistence file) and :meth:`start`
    again keep the same port, retained messages and persistent sessions.
    """

    workdir: Path
    port: int
    tls: TlsFiles | None = None
    users: dict[str, str] = field(default_factory=dict)
    acl: str | None = None
    persistence: bool = True
    require_certificate: bool = False
    extra_config: str = ""
    host: str = "127.0.0.1"
    config_text: str | None = None  # a whole mosquitto.conf to run as is (e.g. the shipped one)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:PORT`` (``mqtts://`` with TLS)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def conf_path(self) -> Path:
        """The generated mosquitto.conf."""
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        """Mosquitto's log file."""
        return self.workdir / "mosquitto.log"

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """The broker's log so far (for assertion messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _write_config(self) -> None:
        w = self.workdir
        run_as = [f"user {getpass.getuser()}"] if os.geteuid() == 0 else []  # as root it would become 'mosquitto'
        if self.config_text is not None:
            self.conf_path.write_text(self.config_text + "\n" + "\n".join(run_as) + "\n")
            return
        lines = [f"listener {self.port} {self.host}"]
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_cert}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                "tls_version tlsv1.2",
                f"require_certificate {'true' if self.require_certificate else 'false'}",
            ]
        if self.users:
            make_password_file(w / "passwd", self.users)
            lines += [f"password_file {w / 'passwd'}", "allow_anonymous false"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            (w / "acl").write_text(self.acl)
            lines.append(f"acl_file {w / 'acl'}")
        if self.persistence:
            lines += ["persistence true", f"persistence_location {w}/", "autosave_interval 60"]
        lines += [
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "max_queued_messages 20000",
            "max_inflight_messages 20",
        ]
        lines += run_as
        self.conf_path.write_text("\n".join(lines) + "\n" + self.extra_config + "\n")

    def start(self, timeout_s: float = 5.0) -> MosquittoBroker:
        """Start (or start again) and wait until the port accepts connections."""
        if self.running:
            return self
        if MOSQUITTO is None:
            missing("the mosquitto broker", "mosquitto")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}: {err}\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.2):
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout_s} s\n{self.log()}")

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM and wait (Mosquitto writes its persistence file on the way out)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL: no goodbye, no persistence save."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self.stop()

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down ``down_s`` seconds, start on the same port."""
        self.stop()
        if down_s > 0:
            time.sleep(down_s)
        self.start()

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def mosquitto_broker(
    workdir: Path | None = None,
    *,
    tls: bool | TlsFiles = False,
    users: dict[str, str] | None = None,
    acl: str | None = None,
    persistence: bool = True,
    require_certificate: bool = False,
    extra_config: str = "",
) -> Iterator[MosquittoBroker]:
    """A running Mosquitto on a free loopback port; stopped on exit.

    ``tls=True`` makes fresh certificates under ``workdir/tls`` (or pass a
    :class:`TlsFiles`); the listener is then TLS only. ``users`` switches anonymous
    access off and writes a hashed password file; ``acl`` is the text of an ACL file.
    Skips the test when Mosquitto is not installed (fails it under ``make test``).
    """
    if MOSQUITTO is None:
        missing("the mosquitto broker", "mosquitto")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mosquitto-")))
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        files = tls if isinstance(tls, TlsFiles) else (make_tls_files(workdir / "tls") if tls else None)
        last: Exception | None = None
        for _ in range(3):  # the free port may be taken between the probe and the bind
            broker = MosquittoBroker(
                workdir, free_port(), files, dict(users or {}), acl, persistence, require_certificate, extra_config
            )
            try:
                broker.start()
            except RuntimeError as exc:
                last = exc
                continue
            try:
                yield broker
            finally:
                broker.stop()
            return
        raise RuntimeError(f"could not start mosquitto: {last}")


@contextlib.contextmanager
def amqtt_broker() -> Iterator[EmbeddedBroker]:
    """The embedded amqtt broker (:class:`drone_patrol.alerts.broker.EmbeddedBroker`) on a free port."""
    from drone_patrol.alerts.broker import EmbeddedBroker

    broker = EmbeddedBroker(host="127.0.0.1", port=0).start()
    try:
        yield broker
    finally:
        broker.stop()
