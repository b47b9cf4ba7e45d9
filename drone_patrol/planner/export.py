"""Write a plan's files: QGC WPL 110, QGC .plan, route GeoJSON and a PNG map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shapely.geometry import Polygon

from drone_patrol.core.errors import MissionFileError
from drone_patrol.mission.areas import area_footprint_m
from drone_patrol.mission.qgc_plan import write_plan
from drone_patrol.mission.route_geojson import write_route_geojson
from drone_patrol.mission.wpl import write_waypoints
from drone_patrol.planner.plan import PlanResult
from drone_patrol.planner.render import render_plan_png


def sortie_stem(stem: str, index: int, total: int) -> str:
    """``stem`` for the first (or only) sortie, ``stem-sortie-N`` for sortie N >= 2."""
    return stem if index == 0 else f"{stem}-sortie-{index + 1}"


def write_outputs(result: PlanResult, out_dir: str | Path, stem: str, png: bool = True) -> dict[str, Any]:
    """Write every output file into ``out_dir``; returns {kind: [paths]} as strings."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MissionFileError(f"{out}: cannot create output directory ({exc.strerror})") from None
    files: dict[str, Any] = {"waypoints": [], "plan": []}
    total = len(result.sorties)
    # sortie files of an earlier plan of the same areas that had more sorties would mislead
    for old in [*out.glob(f"{stem}-sortie-*.waypoints"), *out.glob(f"{stem}-sortie-*.plan")]:
        number = old.name[len(stem) + len("-sortie-") :].split(".")[0]
        if number.isdigit() and int(number) > total:
            old.unlink()
    for i, mission in enumerate(result.sorties):
        name = sortie_stem(stem, i, total)
        files["waypoints"].append(str(write_waypoints(mission, out / f"{name}.waypoints")))
        files["plan"].append(str(write_plan(mission, out / f"{name}.plan")))
    files["route_geojson"] = str(write_route_geojson(result.sorties, out / f"{stem}.route.geojson", result.area_set))
    if png:
        frame = result.frame
        fence = None
        if result.sorties and result.sorties[0].fence.polygons:
            inc = result.sorties[0].fence.polygons[0]
            fence = Polygon(frame.lonlat_to_en([(v.longitude_deg, v.latitude_deg) for v in inc.vertices]))
        heat = [area_footprint_m(h, frame).buffer(2.0) for h in result.area_set.heat_sources]
        patrol = [area_footprint_m(a, frame) for a in result.area_set.patrol]
        labels = [(a.name, p) for a, p in zip(result.area_set.patrol, patrol, strict=True)]
        labels += [(n.name, area_footprint_m(n, frame)) for n in result.area_set.no_fly]
        files["png"] = str(
            render_plan_png(out / f"{stem}.png", patrol, result.nofly_m, heat, result.routes_m, fence, labels=labels)
        )
    return files
