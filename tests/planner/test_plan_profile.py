"""``drone-patrol plan`` on the vehicle's learned profile, or the config's figures, and says which."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from drone_patrol.core.profile import PhaseFigure, VehicleProfile, save_profile
from drone_patrol.planner.commands import plan

DISTRICT = Path(__file__).resolve().parents[2] / "flight_plans" / "concave_district_notch.geojson"
# what the simulated quad (ArduPilot SITL's default) burns: 14.7 % of 3300 mAh a minute in cruise
SITL_QUAD = VehicleProfile(
    "drone-1-1", 3300.0, PhaseFigure(472.0, 40.0), PhaseFigure(485.0, 600.0), PhaseFigure(465.0, 120.0), 5.0
)


def _plan(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    env = {"DRONE_PATROL_SITE__DATA_DIR": str(tmp_path / "var")}
    out = CliRunner().invoke(plan, [str(DISTRICT), "--out", str(tmp_path), "--no-png", "--json", *args], env=env)
    assert out.exit_code == 0, out.output
    return json.loads(out.output)  # type: ignore[no-any-return]


def test_plan_without_a_profile_uses_the_config_and_says_so(tmp_path: Path) -> None:
    summary = _plan(tmp_path)
    assert summary["endurance"].startswith("endurance from the config's figures (no profile of this vehicle yet)")
    assert len(summary["sorties"]) == 1


def test_plan_on_the_learned_profile_splits_the_district_into_sorties_that_fit(tmp_path: Path) -> None:
    save_profile(SITL_QUAD, tmp_path / "var")
    summary = _plan(tmp_path)
    assert "learned profile of vehicle drone-1-1" in summary["endurance"]
    assert "6.8 min of cruise" in summary["endurance"]  # 3300 mAh at 485 mAh a minute
    assert len(summary["sorties"]) >= 2
    assert all(0.3 < s["battery_fraction"] <= 0.75 for s in summary["sorties"])  # each with the 25 % reserve
    named = _plan(tmp_path, "--vehicle", "drone-1-1")
    assert named["sorties"] == summary["sorties"]
    missing = CliRunner().invoke(plan, [str(DISTRICT), "--out", str(tmp_path), "--vehicle", "drone-9-9"])
    assert missing.exit_code != 0
