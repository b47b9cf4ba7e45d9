"""`drone-patrol sim` and `drone-patrol sim-link` in the foreground: banner, service, Ctrl-C, bad input."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from drone_patrol.cli import main
from drone_patrol.core.errors import InputError
from drone_patrol.sim.commands import parse_home, parse_hostport
from tests.sim.gcs import Gcs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "drone_patrol", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_works,
    )


def ctrl_c_works() -> None:
    """In the child before it runs: SIGINT as in a terminal. A test run started in the background
    (``cmd &``, ``nohup``) has SIGINT ignored, the child inherits that and Ctrl-C could not reach it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _banner(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline()


def _interrupt(proc: subprocess.Popen[str], signum: int = signal.SIGINT) -> tuple[int, str, str]:
    proc.send_signal(signum)
    # a bound on a hang, not a speed check: on a loaded machine the threads' joins (up to 5 s
    # each) and the interpreter's exit take more than 10 s
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_sim_and_sim_link_run_until_ctrl_c_or_sigterm() -> None:
    port, link_port = _free_port(), _free_port()
    # Both start at once (the link dials the vehicle only when a client comes).
    sim = _spawn("sim", "--home", "-35.363261,149.165230,584,353", "--port", str(port), "--speedup", "5")
    link: subprocess.Popen[str] | None = _spawn(
        "sim-link", "--listen", str(link_port), "--to", f"127.0.0.1:{port}", "--drop", "0.1"
    )
    try:
        banner = _banner(sim)
        assert banner.startswith(f"drone-patrol sim: ArduCopter on tcp:127.0.0.1:{port}")
        assert "speedup 5x" in banner and "Ctrl-C" in banner
        assert link is not None
        link_banner = _banner(link)
        assert link_banner.startswith(f"drone-patrol sim-link: tcp:127.0.0.1:{link_port} -> tcp:127.0.0.1:{port}")
        gcs = Gcs(f"tcp:127.0.0.1:{link_port}")
        try:
            hb = gcs.recv("HEARTBEAT", 10.0)
            assert hb is not None and hb.autopilot == 3
        finally:
            gcs.close()
        code, out, _ = _interrupt(link, signal.SIGTERM)  # as `kill` or a service manager stops it
        assert code == 0 and "connection(s)" in out
        link = None
        code, _, err = _interrupt(sim)
        assert code == 0 and "Traceback" not in err
    finally:
        for proc in (sim, link):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sim", "--home", "91,0,10"], "latitude"),
        (["sim", "--param", "NOPE=1"], "NOPE"),
        (["sim", "--udp-out", "host:x"], "--udp-out"),
        (["sim-link", "--to", "nohost"], "--to"),
    ],
)
def test_bad_input_is_one_line_error(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.strip().count("\n") == 0 and needle in err and "Traceback" not in err


def test_parsers() -> None:
    point, heading = parse_home("-35.36,149.16,584,353")
    assert point.altitude_m == 584 and heading == 353
    assert parse_home("1,2,3")[1] == 0.0
    for bad in ("1,2", "a,b,c", "1,2,3,4,5", "1,200,3"):
        with pytest.raises(InputError):
            parse_home(bad)
    assert parse_hostport("127.0.0.1:5760", "--to") == ("127.0.0.1", 5760)
    assert parse_hostport("5770", "--listen") == ("127.0.0.1", 5770)
    for bad in ("host:", "host:x", "host:70000"):
        with pytest.raises(InputError):
            parse_hostport(bad, "--to")
