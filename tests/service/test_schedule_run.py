"""The night schedule run for real: wait (status says so), patrol, patrol again; the baseline grows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from drone_patrol.core.types import MavCmd, Mission, Waypoint
from drone_patrol.service.schedule import NightSchedule
from drone_patrol.service.session import PatrolSession
from tests.service.test_patrol_e2e import settings_for


class FakeNight:
    """A clock that starts ten minutes before 19:00; waiting on it moves it on at once."""

    def __init__(self) -> None:
        self.t = datetime(2026, 12, 1, 18, 50)
        self.waited_s = 0.0

    def __call__(self) -> datetime:
        return self.t

    def wait(self, seconds: float) -> None:
        self.waited_s += seconds
        self.t += timedelta(seconds=seconds)


def test_two_scheduled_patrols_with_waiting_status(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "fires_in_alleys.geojson")
    statuses: list[str] = []
    with PatrolSession(settings, out_dir=tmp_path / "out") as session:
        session.start_broker()
        pub = session.start_publisher()
        original = pub.publish_status

        def spy(state: str, **fields: object) -> None:
            statuses.append(str(fields.get("mission_state")))
            original(state, **fields)

        pub.publish_status = spy  # type: ignore[method-assign]
        session.start_vehicle()
        session.start_camera()
        home = session.home
        short = Mission(
            home=home,
            items=(
                Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=20),
                Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=home.latitude_deg + 0.0002,
                         longitude_deg=home.longitude_deg + 0.0002, altitude_m=20),
                Waypoint(MavCmd.NAV_RETURN_TO_LAUNCH, frame=2),
            ),
        )  # fmt: skip
        night = FakeNight()
        outcomes = session.run_schedule(
            [short], NightSchedule.parse("19:00", "02:00", 30), night, max_patrols=2, wait=night.wait
        )
    # 10 min before the first patrol, then the 30-minute slot after it (flights take no fake time)
    assert abs(night.waited_s - 40 * 60) < 1
    assert [o.report.outcome for o in outcomes if o.report] == ["completed", "completed"]
    assert "waiting" in statuses
    baseline = json.loads(session.baseline_path().read_text())
    assert len(baseline["patrols"]) == 2
