"""The serial link: MAVLink over a pseudo-terminal between the simulated copter and the controller.

pymavlink opens the device with pyserial exactly as it opens /dev/ttyACM0 or a telemetry
radio; the far end of the pseudo-terminal is the simulator, so a mission goes up and
comes back over a real serial device.
"""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from drone_patrol.controller import Vehicle
from drone_patrol.controller.connection import parse_connection
from drone_patrol.core.errors import LinkError
from drone_patrol.sim.serial_port import PtySerialPort
from tests.controller.conftest import make_config
from tests.controller.missions import HOME, small_mission
from tests.sim.test_commands import ctrl_c_works


@pytest.fixture
def serial_device(sim: Any) -> Iterator[str]:
    with PtySerialPort(sim.host, sim.port) as port:
        yield port.device


def test_mission_round_trip_over_a_serial_device(serial_device: str) -> None:
    config = make_config(f"{serial_device},57600")
    mission = small_mission()
    with Vehicle.connect(config.connection, config, timeout_s=15) as vehicle:
        assert vehicle.link.spec.kind == "serial"
        assert vehicle.link.target_system == 1
        vehicle.mission.upload(mission, verify=True)
        got = vehicle.mission.download()
        assert vehicle.wait_for(lambda s: s.position is not None, 10.0)
        assert abs(vehicle.state.position.latitude_deg - HOME.latitude_deg) < 1e-3
    assert len(got.items) == len(mission.items)
    assert [w.command for w in got.items] == [w.command for w in mission.items]


def test_status_command_over_a_serial_device(serial_device: str) -> None:
    from click.testing import CliRunner

    from drone_patrol.cli import cli

    result = CliRunner().invoke(cli, ["status", "--connect", f"{serial_device},115200", "--speedup", "40"])
    assert result.exit_code == 0, result.output
    assert "mode" in result.output and "system 1" in result.output


def test_missing_device_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LinkError, match=r"serial device /dev/ttyNOPE0 not found: is the flight controller"):
        Vehicle.connect("/dev/ttyNOPE0,57600", make_config("/dev/ttyNOPE0,57600"), timeout_s=1)
    with pytest.raises(LinkError, match="is a directory"):
        Vehicle.connect(f"{tmp_path},57600", make_config(f"{tmp_path},57600"), timeout_s=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/dev/ttyACM0,fast", "baud rate 'fast' is not a number"),
        ("/dev/ttyACM0,57601", "57601 is not a serial baud rate"),
        ("/dev/ttyACM0,0", "0 is not a serial baud rate"),
        ("", "connection '': empty"),
        ("   ", "connection '': empty"),
    ],
)
def test_bad_connection_strings(text: str, message: str) -> None:
    with pytest.raises(LinkError, match=message):
        parse_connection(text)


@contextmanager
def _device_sending(payload: bytes | None) -> Iterator[str]:
    """A raw pseudo-terminal whose far end writes ``payload`` every 20 ms (nothing when None); yields its path."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def send() -> None:
        while payload and not stop.is_set():
            try:
                os.write(master, payload)
            except OSError:
                return
            time.sleep(0.02)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        thread.join(2)
        os.close(master)
        os.close(slave)


def test_wrong_baud_rate_is_named() -> None:
    """At the wrong baud rate a UART delivers bytes that never frame as MAVLink: say so."""
    noise = bytes(b for b in range(7, 250, 3) if b not in (0xFD, 0xFE)) * 4
    with _device_sending(noise) as device, pytest.raises(LinkError, match=r"baud rate is probably wrong"):
        Vehicle.connect(f"{device},57600", make_config(f"{device},57600"), timeout_s=1.5)


def test_silent_device_is_named() -> None:
    with _device_sending(None) as device, pytest.raises(LinkError, match=r"nothing arrived at 57600 baud"):
        Vehicle.connect(f"{device},57600", make_config(f"{device},57600"), timeout_s=1.0)


def test_system_id_zero_is_not_a_vehicle() -> None:
    """A heartbeat from system 0 (MAVLink's broadcast id) is ignored and the error says why."""
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    sender = mavlink.MAVLink(None, srcSystem=0, srcComponent=1)
    beat = sender.heartbeat_encode(
        mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, 0, 0, mavlink.MAV_STATE_STANDBY
    )
    with (
        _device_sending(beat.pack(sender)) as device,
        pytest.raises(LinkError, match=r"system id 0 \(the broadcast id\) were ignored"),
    ):
        Vehicle.connect(f"{device},57600", make_config(f"{device},57600"), timeout_s=1.5)


def test_sim_command_offers_a_serial_device() -> None:
    """``drone-patrol sim --serial`` prints a device that ``status --connect DEVICE,57600`` reaches."""
    import re
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "drone_patrol", "sim", "--port", "0", "--speedup", "10", "--serial"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=ctrl_c_works,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        found = re.search(r"serial (/dev/\S+),", banner)
        assert found, banner
        status = subprocess.run(
            [sys.executable, "-m", "drone_patrol", "status", "--connect", f"{found.group(1)},57600", "--speedup", "10"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert status.returncode == 0, status.stderr
        assert "link      system 1" in status.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)  # a bound on a hang: the joins and exit take over 10 s on a loaded machine
