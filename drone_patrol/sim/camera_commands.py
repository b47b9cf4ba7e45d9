"""``drone-patrol sim-camera``: render a simulated thermal flight over a scenario to files.

Output folder: ``frames/NNNNNN.png`` (16-bit TLinear counts), ``frames.csv`` (index,
time_s, file), ``telemetry.jsonl`` (one pose per frame, the format ``detect --telemetry``
reads) and ``truth.jsonl`` (the labelled objects in view of each frame).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
import numpy as np
import shapely
from numpy.typing import NDArray

from drone_patrol.core.config import load_config
from drone_patrol.core.errors import InputError
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint
from drone_patrol.mission.areas import load_areas
from drone_patrol.mission.files import load_mission
from drone_patrol.sim.thermal import Scenario, ThermalCameraSim
from drone_patrol.sim.thermal.flight import fly_route, lawnmower_en
from drone_patrol.sim.thermal.png import write_png16


def _route(
    plan: Path | None, scenario: Scenario, home: GeoPoint, frame: LocalFrame, spacing_m: float
) -> tuple[NDArray[np.float64], float | None, float | None]:
    """The east/north route to fly, and the plan's height and speed when it gives them."""
    if plan is not None:
        mission = load_mission(plan)
        pts = [w for w in mission.items if w.has_position and (w.latitude_deg or w.longitude_deg)]
        if len(pts) < 2:
            raise InputError(f"{plan}: the mission has fewer than two positioned waypoints to fly")
        route = frame.lonlat_to_en([(w.longitude_deg, w.latitude_deg) for w in pts])
        alts = [w.altitude_m for w in pts if w.altitude_m > 0]
        return route, (float(np.median(alts)) if alts else None), mission.cruise_speed_m_s
    if scenario.areas_file is None:
        raise InputError(f"{scenario.source}: no --plan given and the scenario names no area file to sweep")
    areas = load_areas(scenario.areas_file)
    union = shapely.union_all([a.geometry for a in areas.patrol]).envelope
    poly = frame.lonlat_to_en(list(union.exterior.coords))
    return lawnmower_en(poly, spacing_m, 90.0), None, None


@click.command("sim-camera")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--plan",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Mission to fly (.plan, .waypoints, route .geojson); default: a lawnmower over the scenario's area file.",
)
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder."
)
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML config (camera section)."
)
@click.option(
    "--altitude",
    "altitude_m",
    type=float,
    default=None,
    help="Flight height above home in metres (default: the plan's, else 40).",
)
@click.option(
    "--speed",
    "speed_m_s",
    type=float,
    default=None,
    help="Ground speed in m/s (default: the plan's cruise speed, else 6).",
)
@click.option(
    "--rate", "rate_hz", type=float, default=None, help="Frames per second (default: the camera's frame rate)."
)
@click.option(
    "--spacing", "spacing_m", type=float, default=28.0, show_default=True, help="Lawnmower pass spacing in metres."
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--start-time",
    "start_time_s",
    type=float,
    default=1_700_000_000.0,
    show_default=True,
    help="UNIX time of the first frame.",
)
@click.option("--max-frames", type=int, default=None, help="Stop after this many frames.")
def sim_camera(
    scenario: Path,
    plan: Path | None,
    out_dir: Path,
    config_path: Path | None,
    altitude_m: float | None,
    speed_m_s: float | None,
    rate_hz: float | None,
    spacing_m: float,
    seed: int,
    start_time_s: float,
    max_frames: int | None,
) -> None:
    """Render a simulated thermal flight over SCENARIO to frames, telemetry and ground truth."""
    settings = load_config(config_path)
    sc = Scenario.load(scenario)
    if sc.areas_file is not None and sc.areas_file.exists():
        hp = load_areas(sc.areas_file).home_point
        home = GeoPoint(hp.latitude_deg, hp.longitude_deg, settings.site.ground_altitude_m)
    else:
        home = GeoPoint(sc.origin.latitude_deg, sc.origin.longitude_deg, settings.site.ground_altitude_m)
    frame = LocalFrame(home)
    route, plan_alt, plan_speed = _route(plan, sc, home, frame, spacing_m)
    alt = altitude_m or plan_alt or 40.0
    speed = speed_m_s or plan_speed or 6.0
    rate = rate_hz or settings.camera.frame_rate_hz
    if alt <= 0 or speed <= 0 or rate <= 0:
        raise InputError("altitude, speed and rate must be positive")
    cam = ThermalCameraSim(sc, settings.camera, seed=seed)
    (out_dir / "frames").mkdir(parents=True, exist_ok=True)
    n = 0
    with (
        (out_dir / "frames.csv").open("w", encoding="utf-8") as index,
        (out_dir / "telemetry.jsonl").open("w", encoding="utf-8") as tel,
        (out_dir / "truth.jsonl").open("w", encoding="utf-8") as truth_out,
    ):
        index.write("index,time_s,file\n")
        for st in fly_route(route, frame, alt, speed, rate, start_time_s, home):
            if max_frames is not None and n >= max_frames:
                break
            fr, truth = cam.render(st, st.time_s)
            assert fr.counts is not None and st.position is not None
            name = f"frames/{n:06d}.png"
            write_png16(out_dir / name, fr.counts)
            index.write(f"{n},{st.time_s:.3f},{name}\n")
            pose = {
                "time_s": round(st.time_s, 3), "latitude_deg": st.position.latitude_deg,
                "longitude_deg": st.position.longitude_deg, "altitude_m": round(st.position.altitude_m, 3),
                "relative_altitude_m": round(st.relative_altitude_m, 3), "roll_deg": st.roll_deg,
                "pitch_deg": st.pitch_deg, "yaw_deg": round(st.yaw_deg, 3),
                "gimbal_pitch_deg": fr.gimbal.pitch_deg, "gimbal_roll_deg": fr.gimbal.roll_deg,
                "gimbal_yaw_deg": fr.gimbal.yaw_deg, "home_latitude_deg": home.latitude_deg,
                "home_longitude_deg": home.longitude_deg, "home_altitude_m": home.altitude_m,
            }  # fmt: skip
            tel.write(json.dumps(pose) + "\n")
            objs = [asdict(o) for o in truth.objects if o.in_view]
            truth_out.write(json.dumps({"index": n, "time_s": round(st.time_s, 3), "objects": objs}) + "\n")
            n += 1
    click.echo(f"{n} frames of {sc.name} at {alt:g} m, {speed:g} m/s, {rate:g} Hz written to {out_dir}")
