"""Scenario files and the simulated radiometric camera."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.core.config import CameraConfig
from drone_patrol.core.errors import InputError
from drone_patrol.sim.camera_commands import sim_camera
from drone_patrol.sim.thermal import Scenario, ThermalCameraSim
from drone_patrol.sim.thermal.flight import lawnmower_en, state_at
from drone_patrol.sim.thermal.png import encode_png16

SCEN = Path(__file__).resolve().parents[2] / "flight_plans" / "scenarios"


def test_shipped_scenarios_load() -> None:
    names = {p.stem for p in SCEN.glob("*.geojson")}
    assert {"fires_in_alleys", "crowd_near_grills", "quiet_night"} <= names
    fires = Scenario.load(SCEN / "fires_in_alleys.geojson")
    assert len(fires.by_role("fire")) == 3 and len(fires.by_role("grill")) == 6
    assert fires.areas_file is not None and fires.areas_file.name == "guilin_dongxi_xiang.geojson"
    crowd = Scenario.load(SCEN / "crowd_near_grills.geojson").by_role("crowd")[0]
    assert [crowd.crowd_size(t) for t in (0, 20, 50, 80, 300, 390, 420)] == [0, 0, 7, 14, 14, 7, 0]
    offs = crowd.crowd_offsets_m(1)
    d = np.hypot(offs[:, None, 0] - offs[None, :, 0], offs[:, None, 1] - offs[None, :, 1]) + np.eye(len(offs)) * 9
    assert d.min() >= 0.6 - 1e-9 and np.hypot(*offs.T).max() <= crowd.radius_m


def _doc(**feature_props):
    props = {"role": "fire", "name": "f", **feature_props}
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [110.3, 25.28]}}
        ],
    }


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
        (_doc(role="dragon"), "role must be one of"),
        (_doc(radius_m=-1), "radius_m must be a number"),
        (_doc(role="crowd", count=0), "integer count"),
        (_doc(start_s=50, end_s=10), "end_s"),
        ({**_doc(), "scenario": {"netd_k": "lots"}}, "scenario.netd_k"),
    ],
)
def test_bad_scenarios_are_one_line_errors(tmp_path, doc, message) -> None:
    p = tmp_path / "s.geojson"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=message) as err:
        Scenario.load(p)
    assert "\n" not in str(err.value) and str(p) in str(err.value)


@settings(max_examples=40, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=5),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(["type", "features", "properties", "geometry", "coordinates", "role", "scenario"]),
                c,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_arbitrary_documents_raise_only_input_errors(doc) -> None:
    with contextlib.suppress(InputError):
        Scenario.parse(doc, "x.geojson")


def test_render_is_deterministic_radiometric_and_labelled() -> None:
    sc = Scenario.load(SCEN / "fires_in_alleys.geojson")
    fire = sc.by_role("fire")[0]
    st_ = state_at(sc.frame, fire.centre_en[0], fire.centre_en[1] - 5, 40.0, 0.0, 10.0)
    a = ThermalCameraSim(sc, CameraConfig(), seed=3, start_time_s=0.0)
    b = ThermalCameraSim(sc, CameraConfig(), seed=3, start_time_s=0.0)
    fa, ta = a.render(st_, 10.0)
    fb, _ = b.render(st_, 10.0)
    assert fa.counts is not None and fa.counts.dtype == np.uint16 and fa.counts.shape == (512, 640)
    assert np.array_equal(fa.counts, fb.counts)
    assert np.allclose(fa.celsius, fa.counts * 0.1 - 273.15, atol=1e-3) and fa.kelvin_per_count == 0.1
    truth = next(o for o in ta.of_kind("fire") if o.name == fire.name)
    x, y = (round(v) for v in truth.pixel_xy)
    assert abs(x - 319.5) < 1 and abs(y - (255.5 - 5 * 686.2 / 40)) < 1.5
    assert fa.celsius[y, x] > 300 and abs(float(np.median(fa.celsius)) - 18.0) < 1.0
    other = ThermalCameraSim(sc, CameraConfig(), seed=4, start_time_s=0.0).render(st_, 10.0)[0]
    assert not np.array_equal(other.counts, fa.counts)


def test_high_gain_clips_fires_and_looking_up_sees_sky() -> None:
    sc = Scenario.load(SCEN / "fires_in_alleys.geojson")
    fire = sc.by_role("fire")[0]
    st_ = state_at(sc.frame, fire.centre_en[0], fire.centre_en[1], 40.0, 0.0, 10.0)
    hi = ThermalCameraSim(sc, CameraConfig(tlinear_resolution_k=0.01), scale=0.25).render(st_, 10.0)[0]
    assert hi.celsius.max() == pytest.approx(140.0, abs=0.01)
    up = ThermalCameraSim(sc, CameraConfig(mount_pitch_deg=20.0), scale=0.25).render(st_, 10.0)[0]
    assert float(np.median(up.celsius[:10])) < -15


def test_png16_round_trip_and_lawnmower() -> None:
    img = (np.arange(12 * 7, dtype=np.uint16).reshape(7, 12) * 700).astype(np.uint16)
    back = cv2.imdecode(np.frombuffer(encode_png16(img), np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and np.array_equal(back, img)
    route = lawnmower_en([[0, 0], [100, 0], [100, 50], [0, 50]], 20.0, 90.0)
    assert len(route) == 6 and np.allclose(route[0], [0, 40]) and np.allclose(route[1], [100, 40])


def test_sim_camera_command_writes_frames_telemetry_and_truth(tmp_path) -> None:
    res = CliRunner().invoke(
        sim_camera, [str(SCEN / "quiet_night.geojson"), "--out", str(tmp_path), "--max-frames", "3", "--rate", "2"]
    )
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "frames").glob("*.png"))) == 3
    tel = [json.loads(x) for x in (tmp_path / "telemetry.jsonl").read_text().splitlines()]
    assert len(tel) == 3 and tel[1]["time_s"] - tel[0]["time_s"] == pytest.approx(0.5)
    assert (tmp_path / "frames.csv").read_text().startswith("index,time_s,file\n0,")
    assert len((tmp_path / "truth.jsonl").read_text().splitlines()) == 3
    bad = CliRunner().invoke(sim_camera, [str(tmp_path / "none.geojson"), "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "scenario file not found" in str(bad.exception)


def test_rendered_flight_files_round_trip_through_detect(tmp_path) -> None:
    from drone_patrol.vision.commands import detect
    from tests.vision.flights import areas, home, object_en

    sc = Scenario.load(SCEN / "fires_in_alleys.geojson")
    h = home(areas())
    from drone_patrol.core.geo import LocalFrame

    frame = LocalFrame(h)
    fire = object_en(sc, "fire-alley-1", frame)
    a = frame.enu_to_point(fire[0] - 12, fire[1])
    b = frame.enu_to_point(fire[0] + 12, fire[1])
    wpl = ["QGC WPL 110", f"0\t1\t0\t16\t0\t0\t0\t0\t{h.latitude_deg}\t{h.longitude_deg}\t150\t1"]
    for i, p in enumerate((a, b), start=1):
        wpl.append(f"{i}\t0\t3\t16\t0\t0\t0\t0\t{p.latitude_deg:.8f}\t{p.longitude_deg:.8f}\t40\t1")
    plan = tmp_path / "pass.waypoints"
    plan.write_text("\n".join(wpl) + "\n")
    out = tmp_path / "flight"
    res = CliRunner().invoke(
        sim_camera,
        [str(SCEN / "fires_in_alleys.geojson"), "--plan", str(plan), "--out", str(out), "--rate", "2", "--speed", "6"],
    )
    assert res.exit_code == 0, res.output
    alerts_path = tmp_path / "alerts.jsonl"
    res = CliRunner().invoke(
        detect,
        [
            str(out),
            "--telemetry",
            str(out / "telemetry.jsonl"),
            "--out",
            str(alerts_path),
            "--areas",
            str(SCEN.parent / "guilin_dongxi_xiang.geojson"),
        ],
    )
    assert res.exit_code == 0, res.output
    alerts = [json.loads(x) for x in alerts_path.read_text().splitlines()]
    new = [x for x in alerts if x["status"] == "new"]
    truth = [
        o
        for line in (out / "truth.jsonl").read_text().splitlines()
        for o in json.loads(line)["objects"]
        if o["name"] == "fire-alley-1"
    ]
    assert len(new) == 1 and truth
    from drone_patrol.core.geo import distance_m
    from drone_patrol.core.types import GeoPoint

    d = distance_m(
        GeoPoint(new[0]["latitude_deg"], new[0]["longitude_deg"]),
        GeoPoint(truth[0]["latitude_deg"], truth[0]["longitude_deg"]),
    )
    assert d < 3.0
