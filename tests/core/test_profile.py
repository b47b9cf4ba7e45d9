"""Vehicle consumption profiles: figures, merging, files and what the planner gets from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drone_patrol.core.config.planner import EnduranceConfig
from drone_patrol.core.profile import (
    PhaseFigure,
    ProfileError,
    VehicleProfile,
    find_profile,
    latest_profile,
    learn,
    load_profile,
    save_profile,
)


def _profile(cruise: float = 800.0, seconds: float = 300.0, vid: str = "drone-1-abc") -> VehicleProfile:
    return VehicleProfile(
        vid, 3300.0, PhaseFigure(780.0, 20.0), PhaseFigure(cruise, seconds), PhaseFigure(770.0, 60.0), 5.0
    )


def test_percent_and_endurance_follow_the_pack() -> None:
    p = _profile()
    assert p.percent_per_min("cruise") == pytest.approx(100 * 800 / 3300)
    assert p.percent_per_min("cruise", 6600.0) == pytest.approx(100 * 800 / 6600)
    model = p.endurance(EnduranceConfig())
    assert model.flight_time_s == pytest.approx(60 * 3300 / 800)
    assert model.hover_power_factor == pytest.approx(780 / 800)
    assert model.reserve_fraction == EnduranceConfig().reserve_fraction
    assert "cruise 24.2 at 5.0 m/s" in p.describe()


def test_merge_weighs_the_new_flight_at_least_half_and_skips_thin_phases() -> None:
    old = _profile(cruise=800.0, seconds=3000.0)
    new = _profile(cruise=900.0, seconds=100.0)
    merged = old.merged(new)
    assert merged.cruise.mah_per_min == pytest.approx(850.0) and merged.flights == 2
    thin = VehicleProfile("x", 3300.0, PhaseFigure(5000.0, 1.0), PhaseFigure(0.0, 0.0), PhaseFigure(1.0, 2.0), 0.0)
    assert old.merged(thin).cruise == old.cruise and old.merged(thin).takeoff == old.takeoff


def test_files_round_trip_and_bad_files_are_one_line(tmp_path: Path) -> None:
    path = save_profile(_profile(), tmp_path)
    assert path == tmp_path / "vehicles" / "drone-1-abc.json"
    assert load_profile(path) == _profile()
    assert find_profile(tmp_path, "drone-1-abc") == _profile() and find_profile(tmp_path, "other") is None
    assert latest_profile(tmp_path, "drone-1") == _profile() and latest_profile(tmp_path, "drone-2") is None
    data = json.loads(path.read_text())
    del data["cruise"]
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(err.value) == f"{path}: vehicle profile lacks field 'cruise'"


def test_learn_makes_then_updates_the_stored_profile(tmp_path: Path) -> None:
    first = learn(tmp_path, "drone-1-abc", _profile(vid=""))
    assert first is not None and first[0].flights == 1 and first[0].vehicle_id == "drone-1-abc"
    second = learn(tmp_path, "drone-1-abc", _profile(cruise=1000.0, vid=""))
    assert second is not None and second[0].flights == 2 and second[0].cruise.mah_per_min == pytest.approx(900.0)
    thin = VehicleProfile("", 3300.0, PhaseFigure(0, 0), PhaseFigure(900.0, 2.0), PhaseFigure(0, 0), 5.0)
    assert learn(tmp_path, "drone-2-def", thin) is None  # too little cruise to start a profile on
