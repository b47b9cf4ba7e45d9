"""``drone-patrol alerts eyes-on|release`` as a user runs them, against a drone that answers over MQTT."""

from __future__ import annotations

from pathlib import Path

import pytest

from drone_patrol.alerts.broker import EmbeddedBroker
from drone_patrol.alerts.eyes_on import CommandSchemaError, CommandState, EyesOnCommand, Reason, ReleaseCommand
from drone_patrol.alerts.publisher import AlertPublisher
from tests.alerts.helpers import DRONE, SITE, commanded_drone
from tests.alerts.test_commands import _run


def _answering_drone(url: str, tmp_path: Path) -> AlertPublisher:
    """A drone that refuses points north of 25.3 and otherwise accepts, flies and is released."""
    pub: AlertPublisher

    def answer(cmd: EyesOnCommand | ReleaseCommand | CommandSchemaError) -> None:
        if isinstance(cmd, EyesOnCommand) and cmd.lat_deg > 25.3:
            pub.publish_command_result(cmd.command_id, "refused", Reason("outside_fence", "outside the geofence"))
        elif isinstance(cmd, EyesOnCommand):
            for state in (CommandState.ACCEPTED, CommandState.EN_ROUTE, CommandState.ON_STATION):
                pub.publish_command_result(cmd.command_id, state)
        elif isinstance(cmd, ReleaseCommand):
            pub.publish_command_result(cmd.command_id, "released")

    pub = commanded_drone(url, tmp_path / "ob.sqlite", answer)
    return pub


def test_eyes_on_follows_the_answers_and_release_ends_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with EmbeddedBroker(port=0) as broker:
        pub = _answering_drone(broker.url, tmp_path)
        try:
            code, out, err = _run(["alerts", "eyes-on", DRONE, "--site", SITE, "--broker", broker.url, "--lat",
                                   "25.2823", "--lon", "110.2972", "--duration", "60", "--by", "officer-7",
                                   "--until", "on_station"], capsys)  # fmt: skip
            assert code == 0, err
            lines = out.splitlines()
            assert lines[0].startswith("eyes-on ") and lines[0].endswith(f" sent to {SITE}/{DRONE}")
            cid = lines[0].split()[1]
            assert [line.split()[-1] for line in lines[1:]] == ["accepted", "en_route", "on_station"]
            code, out, err = _run(["alerts", "release", DRONE, cid, "--site", SITE, "--broker", broker.url], capsys)
            assert code == 0, err
            assert out.strip().endswith(f"{DRONE} {cid} released")
            code, out, err = _run(["alerts", "eyes-on", DRONE, "--site", SITE, "--broker", broker.url, "--lat",
                                   "25.4", "--lon", "110.2972"], capsys)  # fmt: skip
            assert code == 1
            assert err.strip().endswith("refused (outside_fence: outside the geofence)")
            assert len(err.strip().splitlines()) == 1
        finally:
            pub.stop()


def test_unknown_drone_and_bad_values_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with EmbeddedBroker(port=0) as broker:
        pub = _answering_drone(broker.url, tmp_path)
        try:
            code, _, err = _run(["alerts", "eyes-on", "drone-9", "--site", SITE, "--broker", broker.url, "--lat",
                                 "25.28", "--lon", "110.29"], capsys)  # fmt: skip
            assert code == 1 and "drone 'drone-9' is not known at site 'dongxi' (known: drone-1)" in err
            code, _, err = _run(["alerts", "eyes-on", DRONE, "--site", SITE, "--broker", broker.url, "--lat",
                                 "25.28", "--lon", "190"], capsys)  # fmt: skip
            assert code == 1 and "data.lon_deg: 190.0 is greater than the maximum of 180" in err
        finally:
            pub.stop()
