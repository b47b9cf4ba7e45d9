"""``tools/provision.sh`` (what `make test` and `.ci/run` run first) and the strict mode of the tests.

The script runs for real against a package list made here; ``id`` and ``apt-get`` are
stand-ins on ``PATH`` so that both the root and the non-root branch run anywhere and
nothing is installed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import needs

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "provision.sh"


def _fake_bin(tmp_path: Path, uid: int) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    # apt-get stand-in: logs its arguments; "installing" fake-pkg creates the file the list checks for
    (bin_dir / "apt-get").write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path}/apt.log\n'
        f'case "$*" in *install*fake-pkg*) touch {tmp_path}/installed-marker ;; esac\n'
    )
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/systemctl.log\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def _run(tmp_path: Path, uid: int, listing: str) -> subprocess.CompletedProcess[str]:
    bin_dir = _fake_bin(tmp_path, uid)
    (tmp_path / "list.txt").write_text(listing.format(tmp=tmp_path))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PROVISION_LIST": str(tmp_path / "list.txt")}
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)


LISTING = """# comment lines and blank lines are skipped

sh|/bin/sh                       already-there
no-such-command-xyz|{tmp}/installed-marker   fake-pkg,fake-pkg-extra   fake-service
"""


def test_nothing_missing_is_silent_and_succeeds(tmp_path: Path) -> None:
    out = _run(tmp_path, 1000, "sh  already-there\n{tmp}/list.txt  the-list-itself\n")
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""
    assert not (tmp_path / "apt.log").exists()


def test_not_root_stops_at_once_with_one_line_naming_the_packages(tmp_path: Path) -> None:
    out = _run(tmp_path, 1000, LISTING)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "fake-pkg fake-pkg-extra" in lines[0] and "apt-get install" in lines[0]
    assert "already-there" not in lines[0]
    assert not (tmp_path / "apt.log").exists()


def test_root_installs_the_missing_packages_and_stops_their_services(tmp_path: Path) -> None:
    out = _run(tmp_path, 0, LISTING)
    assert out.returncode == 0, out.stderr
    apt = (tmp_path / "apt.log").read_text()
    assert "update" in apt and "install -y -qq --no-install-recommends fake-pkg fake-pkg-extra" in apt
    assert "stop fake-service" in (tmp_path / "systemctl.log").read_text()


def test_root_install_that_leaves_something_missing_fails_with_one_line(tmp_path: Path) -> None:
    out = _run(tmp_path, 0, "no-such-command-xyz  other-pkg\n")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("apt-get installed other-pkg but")


def test_the_shipped_list_names_the_broker_and_the_browser() -> None:
    rows = [line.split() for line in (ROOT / "tools" / "system-packages.txt").read_text().splitlines()]
    packages = {p for row in rows if row and not row[0].startswith("#") for p in row[1].split(",")}
    assert {"mosquitto", "mosquitto-clients", "openssl", "chromium", "fonts-dejavu-core"} <= packages


def test_a_missing_package_skips_outside_make_test_and_fails_under_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(needs, "STRICT", False)
    with pytest.raises(pytest.skip.Exception, match=r"needs the thing \(apt thing-pkg\)"):
        needs.missing("the thing", "thing-pkg")
    monkeypatch.setattr(needs, "STRICT", True)
    with pytest.raises(pytest.fail.Exception, match="make test"):
        needs.missing("the thing", "thing-pkg")
