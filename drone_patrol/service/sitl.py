"""Start and stop a user's ArduPilot SITL binary (``arducopter``) for the demo and the SITL tests.

This only runs a binary the user built by ArduPilot's own instructions; it builds nothing.
It needs the copter frame defaults (``Tools/autotest/default_params/copter.parm``) or it
never becomes armable.

The instance number (``-I``) is the simulated vehicle's identity: SITL's board id (the
``uid2`` of AUTOPILOT_VERSION, which the project keys vehicle profiles by) is the host's
``/etc/machine-id`` with the instance added to its first byte (``HALSITL::Util::
get_system_id_unformatted``). So one simulated vehicle keeps one instance, across restarts
and runs, and its ports are chosen apart from it: ``--base-port`` (TCP, serial 0 on the
base port, serials 1 and 2 on base + 2 and + 3) and ``--rc-in-port`` (UDP RC input) are
given before ``-I``, which then moves no port (``SITL_cmdline.cpp``). SITL boots only
once a client connects to its base port.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from drone_patrol.core.errors import DronePatrolError
from drone_patrol.core.types import GeoPoint


class SitlError(DronePatrolError):
    """SITL could not be started (binary missing, no free instance, did not open its port)."""


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


#: the port slots tried: slot k gives TCP 5760 + 10 k (and + 2, + 3) and UDP 5501 + 10 k, the
#: ports ``-I k`` would give; slots from 20 up stay clear of instances started by hand
PORT_SLOTS = range(20, 60)


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("0.0.0.0", port))  # where SITL binds its RC input
        except OSError:
            return False
    return True


def free_ports(slots: Sequence[int] = PORT_SLOTS, shuffle: bool = True) -> tuple[int, int]:
    """(TCP base port, UDP RC-input port) of a slot whose ports are all free.

    ``shuffle`` tries the slots in random order, so that parallel test runs rarely collide.
    """
    candidates = list(slots)
    if shuffle:
        random.shuffle(candidates)
    for k in candidates:
        base, rc_in = 5760 + 10 * k, 5501 + 10 * k
        if all(_port_free(base + d) for d in (0, 2, 3)) and _udp_free(rc_in):
            return base, rc_in
    raise SitlError(f"no free SITL ports in slots {min(slots, default=0)}..{max(slots, default=0)}")


def find_defaults(binary: Path) -> Path | None:
    """The copter frame defaults: $ARDUPILOT_SITL_DEFAULTS, else the ArduPilot tree the binary was built in."""
    env = os.environ.get("ARDUPILOT_SITL_DEFAULTS")
    if env:
        return Path(env)
    # <tree>/build/sitl/bin/arducopter -> <tree>/Tools/autotest/default_params/copter.parm
    candidate = binary.resolve().parents[3] / "Tools" / "autotest" / "default_params" / "copter.parm"
    return candidate if len(binary.resolve().parents) > 3 and candidate.is_file() else None


class SitlProcess:
    """One ArduCopter SITL process in a working directory of its own."""

    def __init__(
        self,
        binary: str | Path,
        home: GeoPoint,
        heading_deg: float = 0.0,
        speedup: float = 10.0,
        defaults: str | Path | None = None,
        instance: int = 0,
        model: str = "+",
    ) -> None:
        """``instance`` is the simulated vehicle (its board id); the ports are free ones found at the first start."""
        self.binary = Path(binary)
        if not self.binary.is_file() or not os.access(self.binary, os.X_OK):
            raise SitlError(f"{self.binary}: not an executable arducopter SITL binary")
        self.defaults = Path(defaults) if defaults else find_defaults(self.binary)
        if self.defaults is not None and not self.defaults.is_file():
            raise SitlError(f"{self.defaults}: defaults .parm file not found")
        self.home, self.heading_deg, self.speedup, self.model = home, heading_deg, speedup, model
        if not 0 <= instance <= 255:  # SITL adds it to one byte of the machine id
            raise SitlError(f"SITL instance {instance}: expected 0 to 255")
        self.instance = instance
        self.base_port, self.rc_in_port = 0, 0  # chosen at each start
        self.workdir = Path(tempfile.mkdtemp(prefix=f"sitl-{self.instance}-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._wipe = True  # -w only the first time: a restart keeps the stored parameters

    @property
    def port(self) -> int:
        """The TCP port of SITL's first MAVLink serial port (0 before the first start)."""
        return self.base_port

    @property
    def connection_string(self) -> str:
        """pymavlink connection string for the first serial port."""
        return f"tcp:127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The command line SITL is started with."""
        h = self.home
        cmd = [
            str(self.binary),
            "--model",
            self.model,
            "--speedup",
            f"{self.speedup:g}",
            "--home",
            f"{h.latitude_deg},{h.longitude_deg},{h.altitude_m},{self.heading_deg:g}",
            # the ports first: -I moves only the ports still at their defaults
            "--base-port",
            str(self.base_port),
            "--rc-in-port",
            str(self.rc_in_port),
            "-I",
            str(self.instance),
        ]
        if self._wipe:
            cmd.append("-w")
        if self.defaults is not None:
            cmd[1:1] = ["--defaults", str(self.defaults)]
        return cmd

    def start(self, timeout_s: float = 30.0) -> SitlProcess:
        """Start SITL and wait until it listens on its TCP port.

        Listening is seen as the port being taken, without connecting: the first client
        to connect starts SITL's boot, and that should be the controller.
        """
        if not self.base_port:  # a restart keeps its ports: the controller reconnects to the same one
            self.base_port, self.rc_in_port = free_ports()
        log = open(self.workdir / "sitl.log", "ab")  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(self.command(), cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        self._wipe = False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SitlError(f"SITL exited with code {self._proc.returncode}: {self.log_tail(5)}")
            if not _port_free(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise SitlError(f"SITL did not listen on TCP {self.port} within {timeout_s:.0f} s")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines SITL printed."""
        path = self.workdir / "sitl.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def restart(self, timeout_s: float = 30.0) -> SitlProcess:
        """Power-cycle SITL (a battery swap): stop the process and start it again in the same
        working directory without ``-w``, so the parameters it stored (eeprom.bin) stay."""
        self._terminate()
        return self.start(timeout_s)

    def _terminate(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def stop(self) -> None:
        """Terminate SITL (then kill it) and remove its working directory."""
        self._terminate()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SitlProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
