"""Battery swaps: when the vehicle counts as swapped, and SITL restarted without ``-w``."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from drone_patrol.core.types import GeoPoint, VehicleState
from drone_patrol.service.sitl import SitlProcess
from drone_patrol.service.swap import swapped

HOME = GeoPoint(25.28, 110.29, 150.0)

# stands in for arducopter: records its command line and listens on SITL's first serial port
FAKE_SITL = f"""#!{sys.executable}
import socket, sys, time
args = sys.argv[1:]
with open("argv.txt", "a") as f:
    f.write(" ".join(args) + "\\n")
port = int(args[args.index("--base-port") + 1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1)
time.sleep(60)
"""


def test_swapped_needs_a_full_battery_on_the_ground_disarmed_with_home() -> None:
    ok = VehicleState(battery_percent=100.0, landed=True, armed=False, home=HOME)
    assert swapped(ok)
    assert not swapped(VehicleState(battery_percent=60.0, landed=True, armed=False, home=HOME))
    assert not swapped(VehicleState(battery_percent=100.0, landed=True, armed=True, home=HOME))
    assert not swapped(VehicleState(battery_percent=100.0, landed=True, armed=False, home=None))


def test_sitl_restart_keeps_its_directory_and_drops_the_wipe(tmp_path: Path) -> None:
    fake = tmp_path / "arducopter"
    fake.write_text(FAKE_SITL)
    fake.chmod(0o755)
    sitl = SitlProcess(fake, HOME, speedup=10)
    try:
        assert "-w" in sitl.command()
        sitl.start(timeout_s=20.0)
        workdir = sitl.workdir
        (workdir / "eeprom.bin").write_bytes(b"params")
        sitl.restart(timeout_s=20.0)
        assert (workdir / "eeprom.bin").read_bytes() == b"params"
        runs = [r.split() for r in (workdir / "argv.txt").read_text().splitlines()]
        assert len(runs) == 2 and "-w" in runs[0] and "-w" not in runs[1]
        # the same vehicle (instance 0, so the same board id) on the same ports after the power cycle;
        # the ports come before -I, which would otherwise move them by 10 * instance
        for run in runs:
            assert run[run.index("-I") + 1] == "0" and run.index("--base-port") < run.index("-I")
            assert run[run.index("--base-port") + 1] == str(sitl.port)
            assert run[run.index("--rc-in-port") + 1] == str(sitl.rc_in_port)
        with socket.create_connection(("127.0.0.1", sitl.port), timeout=5):
            pass
    finally:
        sitl.stop()
    assert not sitl.workdir.exists()
