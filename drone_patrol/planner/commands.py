"""``drone-patrol plan``: an area file in, ground-station files and a summary out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from drone_patrol.core.config import load_config
from drone_patrol.core.errors import InputError, PlanningError
from drone_patrol.core.files import excerpt
from drone_patrol.mission.areas import load_areas
from drone_patrol.planner.endurance import endurance_options
from drone_patrol.planner.export import write_outputs
from drone_patrol.planner.plan import PlanResult, plan_patrol


def _text_summary(result: PlanResult, files: dict[str, Any]) -> str:
    lines = [result.endurance_note] if result.endurance_note else []
    for i, s in enumerate(result.stats, start=1):
        lines.append(
            f"sortie {i}: {s.waypoints} items ({s.nav_waypoints} waypoints), {s.length_m:.0f} m, "
            f"{s.duration_s / 60:.1f} min, battery {s.battery_fraction:.0%}"
        )
    if result.loop_count:
        lines.append(f"patrol loop: DO_JUMP repeat {result.loop_count}")
    for a in sorted(result.areas, key=lambda a: a.order):
        extra = (
            f", sweep {a.sweep_angle_deg:g} deg, lines {a.line_spacing_m:.1f} m apart"
            if a.sweep_angle_deg is not None
            else ""
        )
        lines.append(
            f"  {a.order}. {a.name}: {a.pattern.value}, coverage {a.coverage:.1%}, {a.altitude_m:g} m, "
            f"{a.speed_m_s:g} m/s{extra}; {a.order_reason}"
        )
    for w in result.warnings:
        lines.append(f"warning: {w}")
    for kind, paths in files.items():
        for p in paths if isinstance(paths, list) else [paths]:
            lines.append(f"wrote {kind}: {p}")
    return "\n".join(lines)


def _flag(name: str | None) -> str | None:
    """The command-line flag of ``plan`` that sets the parameter ``name``."""
    return next((p.opts[0] for p in plan.params if isinstance(p, click.Option) and p.name == name), None)


@click.command("plan")
@click.argument("areas_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Directory for the .waypoints, .plan, .route.geojson and .png files.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="DRONE_PATROL_CONFIG",
    help="YAML config (planner and camera sections); defaults built in.",
)
@click.option("--altitude", "altitude_m", type=float, help="Default altitude above home, metres.")
@click.option("--speed", "speed_m_s", type=float, help="Default ground speed, m/s.")
@click.option("--overlap", "side_overlap", type=float, help="Side overlap of sweep lines, 0..1.")
@click.option("--hfov", "hfov_deg", type=float, help="Camera horizontal field of view, degrees.")
@click.option("--vfov", "vfov_deg", type=float, help="Camera vertical field of view, degrees (default: square pixels).")
@click.option("--camera-size", "camera_size", type=str, help="Camera resolution WIDTHxHEIGHT in pixels.")
@click.option("--margin", "nofly_margin_m", type=float, help="Safety margin around no-fly zones, metres.")
@click.option("--ceiling", "ceiling_m", type=float, help="Highest allowed altitude, metres.")
@click.option("--floor", "floor_m", type=float, help="Lowest allowed altitude, metres.")
@click.option(
    "--endurance", "flight_time_s", type=float, help="Flight time of a full battery, seconds (instead of a profile)."
)
@click.option(
    "--vehicle",
    "vehicle_id",
    help="Plan for this vehicle's learned profile (its id as fly and patrol print it; default: the newest "
    "profile of site.drone_id in site.data_dir).",
)
@click.option("--reserve", "reserve_fraction", type=float, help="Battery reserve kept on landing, 0..1.")
@click.option("--loop", "loop_count", type=int, help="Repeat the patrol N more times (DO_JUMP); -1 forever.")
@click.option("--sweep-angle", "sweep_angle_deg", type=float, help="Fix the coverage sweep angle (degrees from east).")
@click.option("--make-valid", is_flag=True, help="Repair self-intersecting polygons instead of refusing them.")
@click.option("--no-png", is_flag=True, help="Do not draw the PNG map.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def plan(
    areas_file: Path,
    out_dir: Path,
    config_file: Path | None,
    camera_size: str | None,
    hfov_deg: float | None,
    vfov_deg: float | None,
    make_valid: bool,
    no_png: bool,
    as_json: bool,
    vehicle_id: str | None,
    **options: Any,
) -> None:
    """Plan a patrol mission from AREAS_FILE (GeoJSON or KML) for QGroundControl and ArduPilot."""
    settings = load_config(config_file)
    camera_update: dict[str, Any] = {}
    if hfov_deg is not None:
        camera_update["hfov_deg"] = hfov_deg
    if vfov_deg is not None:
        camera_update["vfov_deg"] = vfov_deg
    if camera_size is not None:
        try:
            w, h = (int(v) for v in camera_size.lower().split("x"))
        except ValueError:
            raise InputError(f"--camera-size {camera_size!r}: expected WIDTHxHEIGHT, e.g. 640x512") from None
        camera_update.update(width_px=w, height_px=h)
    camera = settings.camera
    if camera_update:
        try:
            camera = type(camera).model_validate({**camera.model_dump(), **camera_update})
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise InputError(f"camera option {key}: {err['msg']} (got {err.get('input')!r})") from None
    ceiling = options.get("ceiling_m") or settings.planner.ceiling_m
    floor = options.get("floor_m") if options.get("floor_m") is not None else settings.planner.floor_m
    areas = load_areas(areas_file, ceiling_m=ceiling, floor_m=floor, make_valid=make_valid)
    options.update(endurance_options(settings, vehicle_id, options.get("flight_time_s")))
    try:
        home_m = settings.site.ground_altitude_m
        result = plan_patrol(areas, settings.planner, camera, home_altitude_m=home_m, **options)
    except PlanningError as exc:
        flag = _flag(exc.option) if options.get(exc.option or "") is not None else None
        message = f"{flag} {excerpt(options[exc.option or ''])}: {exc}" if flag else str(exc)
        raise PlanningError(f"{areas_file}: {message}", exc.option) from None
    files = write_outputs(result, out_dir, areas_file.stem, png=not no_png)
    if as_json:
        click.echo(json.dumps(result.summary(files)))
    else:
        click.echo(_text_summary(result, files))
