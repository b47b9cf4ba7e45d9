"""A sortie cut short by the battery failsafe is finished by a second sortie from the last reached item."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from drone_patrol.service.session import PatrolSession, VehicleSource
from drone_patrol.sim.copter import SimulatedCopter
from tests.controller.missions import PATROL_PACK
from tests.service.test_patrol_e2e import settings_for


def test_battery_rtl_then_resume_from_last_reached_item(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "fires_in_alleys.geojson")
    session = PatrolSession(settings, out_dir=tmp_path / "out")
    with SimulatedCopter(home=session.home, port=0, speedup=10, seed=4, params=PATROL_PACK) as sim:
        session.source = VehicleSource(connect=sim.connection_string, speedup=10)
        session.sim = sim  # this session's own simulator: fresh battery per sortie
        with session:
            _, missions, _ = session.plan()
            session.start_broker()
            session.start_publisher()
            session.start_vehicle()
            session.start_camera()

            def drain() -> None:  # the battery sags once the vehicle has reached its third item
                while sim.truth().mission_reached_seq < 3:
                    time.sleep(0.05)
                sim.set_battery_percent(12.0)

            threading.Thread(target=drain, daemon=True).start()
            outcomes = session.fly_to_end(missions[0])
    first, second = (o.report for o in outcomes)
    assert first is not None and second is not None
    assert first.outcome == "returned_early" and first.resume_seq is not None and first.resume_seq >= 3
    assert second.outcome == "completed"
    assert min(second.reached_seqs) >= first.resume_seq  # it did not fly the first part again
    assert second.landed_distance_from_home_m is not None and second.landed_distance_from_home_m < 2.0
