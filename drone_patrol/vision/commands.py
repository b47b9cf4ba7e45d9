"""``drone-patrol detect``: the vision pipeline offline, on recorded frames plus a telemetry log.

Writes one JSON object per alert (new, update, closed) to ``--out`` (default stdout) and
a summary of the run (frames processed and skipped by reason, alerts) to stderr.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import IO, Any

import click

from drone_patrol.core.config import load_config
from drone_patrol.core.config.onnx_detector import OnnxDetectorConfig
from drone_patrol.core.errors import InputError
from drone_patrol.core.files import AtomicText
from drone_patrol.core.types import Alert, GeoPoint
from drone_patrol.mission.areas import load_areas
from drone_patrol.vision.baseline import HeatBaseline
from drone_patrol.vision.pipeline import VisionPipeline
from drone_patrol.vision.radiometry import PlanckConstants
from drone_patrol.vision.sources import Radiometry, open_frames, with_telemetry
from drone_patrol.vision.telemetry import PoseLog


def alert_to_json(alert: Alert) -> dict[str, Any]:
    """A JSON-friendly dict of an alert (thumbnail as base64)."""
    loc = alert.location
    return {
        "alert_id": alert.alert_id,
        "incident_id": alert.incident_id,
        "kind": alert.kind.value,
        "status": alert.status.value,
        "severity": alert.severity.value,
        "time_s": alert.time_s,
        "latitude_deg": loc.latitude_deg if loc else None,
        "longitude_deg": loc.longitude_deg if loc else None,
        "error_radius_m": alert.error_radius_m,
        "first_seen_s": alert.first_seen_s,
        "last_seen_s": alert.last_seen_s,
        "confidence": alert.confidence,
        "summary": alert.summary,
        "area_name": alert.area_name,
        "figures": alert.figures,
        "thumbnail_jpeg_base64": base64.b64encode(alert.thumbnail_jpeg).decode() if alert.thumbnail_jpeg else None,
        "site": alert.site,
        "drone": alert.drone,
    }


def _write(out: IO[str], alerts: list[Alert]) -> None:
    for a in alerts:
        out.write(json.dumps(alert_to_json(a)) + "\n")


def _nothing_used(source: str, stats: dict[str, Any], first_t: float | None, last_t: float, poses: PoseLog) -> str:
    """One line for a run in which not one frame could be used: how many, why, and the time spans."""
    if not stats["frames_in"]:
        return f"{source}: no frames could be read"
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats["skipped"].items())) or "none processed"
    spans = ""
    if first_t is not None and poses.poses:
        t0, t1 = poses.poses[0].time_s, poses.poses[-1].time_s
        spans = f"; frames at {first_t:.1f}..{last_t:.1f} s, telemetry at {t0:.1f}..{t1:.1f} s"
    return f"{source}: none of the {stats['frames_in']} frames could be used ({reasons}){spans}"


@click.command("detect")
@click.argument("input_path", metavar="INPUT")
@click.option(
    "--telemetry",
    "telemetry",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Poses: .tlog, .csv or .jsonl.",
)
@click.option(
    "--areas",
    "areas_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Area file (heat sources, patrol areas, home); default: the config's.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config (camera, vision, site).",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Heat baseline of the site (JSON).",
)
@click.option(
    "--update-baseline",
    is_flag=True,
    help="Learn this run's heat, alerted heat included, into --baseline (run it on an ordinary night).",
)
@click.option(
    "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="Alerts as JSON lines (default: stdout)."
)
@click.option(
    "--fps", type=float, default=None, help="Frame rate of inputs without timestamps (default: the camera's)."
)
@click.option(
    "--start-time",
    "start_time_s",
    type=float,
    default=None,
    help="UNIX time of the first frame of inputs without timestamps.",
)
@click.option(
    "--radiometry",
    type=click.Choice(["tlinear", "flir_raw"]),
    default="tlinear",
    show_default=True,
    help="Meaning of 16-bit pixels.",
)
@click.option(
    "--resolution",
    "resolution_k",
    type=click.Choice(["0.01", "0.1"]),
    default=None,
    help="TLinear kelvin per count (default: the camera's).",
)
@click.option(
    "--span",
    nargs=2,
    type=float,
    default=None,
    help="LOW HIGH Celsius of 8-bit palette frames (degraded mode); without it 8-bit frames are the camera's "
    "automatic-gain video: people and vehicles from the learned model, no temperatures.",
)
@click.option("--palette", type=click.Choice(["grey", "inferno", "jet", "hot"]), default="grey", show_default=True)
@click.option("--emissivity", type=float, default=0.95, show_default=True, help="For --radiometry flir_raw.")
@click.option(
    "--onnx",
    "onnx_model",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[MODEL]",
    help="Add the learned person detector (the shipped model, or MODEL.onnx).",
)
def detect(
    input_path: str,
    telemetry: Path,
    areas_path: Path | None,
    config_path: Path | None,
    baseline_path: Path | None,
    update_baseline: bool,
    out_path: Path | None,
    fps: float | None,
    start_time_s: float | None,
    radiometry: str,
    resolution_k: str | None,
    span: tuple[float, float] | None,
    palette: str,
    emissivity: float,
    onnx_model: str | None,
) -> None:
    """Run the vision pipeline on INPUT (a folder of 16-bit PNG/TIFF, .npy/.npz, a video, device or URL)."""
    settings = load_config(config_path)
    if onnx_model is not None:
        onnx_cfg = settings.vision.onnx_detector or OnnxDetectorConfig()
        if onnx_model:
            onnx_cfg = onnx_cfg.model_copy(update={"model_path": Path(onnx_model)})
        settings = settings.model_copy(
            update={"vision": settings.vision.model_copy(update={"onnx_detector": onnx_cfg})}
        )
    poses = PoseLog.load(telemetry, max_gap_s=max(1.0, settings.vision.max_telemetry_age_s))
    areas_file = areas_path or settings.site.areas_file
    heat_sources: tuple = ()
    patrol: tuple = ()
    home = next((p.home for p in poses.poses if p.home is not None), None)
    if areas_file is not None and Path(areas_file).exists():
        areas = load_areas(areas_file)
        heat_sources, patrol = areas.heat_sources, areas.patrol
        if home is None:
            hp = areas.home_point
            home = GeoPoint(hp.latitude_deg, hp.longitude_deg, settings.site.ground_altitude_m)
    elif areas_path is not None:
        raise InputError(f"{areas_path}: area file not found")
    if home is None:
        raise InputError(f"{telemetry}: no home position in the telemetry and no area file to take it from")
    poses = poses.with_home(home)  # rows with only a height above home are above this one
    baseline = None
    if baseline_path is not None:
        baseline = HeatBaseline.load_or_new(
            baseline_path, settings.site.id, home, cell_m=settings.vision.baseline_cell_m,
            max_patrols=settings.vision.baseline_max_patrols, min_patrols=settings.vision.baseline_min_patrols,
            excess_c=settings.vision.baseline_excess_c,
        )  # fmt: skip
    elif update_baseline:
        raise InputError("--update-baseline needs --baseline FILE")
    rad = Radiometry(
        kind=radiometry,
        resolution_k=float(resolution_k) if resolution_k else float(settings.camera.tlinear_resolution_k),
        planck=PlanckConstants(emissivity=emissivity),
        span_c=tuple(span) if span else None,  # type: ignore[arg-type]
        palette=palette,
    )
    pipe = VisionPipeline(
        settings.vision, settings.camera, home, heat_sources, patrol, baseline, settings.site.id, settings.site.drone_id
    )
    if fps is not None and fps <= 0:
        raise InputError(f"--fps {fps:g}: expected a frame rate above 0")
    frames = open_frames(input_path, rad, fps or settings.camera.frame_rate_hz, start_time_s)
    # --out is written beside itself and renamed at the end: a run that fails leaves an earlier file whole
    out = AtomicText(out_path) if out_path else None
    stream = out.file if out is not None else sys.stdout
    last_t, first_t = 0.0, None
    try:
        for frame in with_telemetry(frames, poses, settings.camera):
            _write(stream, pipe.process(frame))
            last_t = max(last_t, frame.time_s)
            first_t = frame.time_s if first_t is None else min(first_t, frame.time_s)
        _write(stream, pipe.finish(last_t))
        if pipe.stats.frames_processed == 0:
            raise InputError(_nothing_used(input_path, pipe.stats.as_dict(), first_t, last_t, poses))
    except BaseException:
        if out is not None:
            out.discard()
        raise
    if out is not None:
        out.commit()
    if baseline is not None and update_baseline and baseline_path is not None:
        # as the service's survey sortie: what is hot on an ordinary night is the site's everyday heat,
        # even where it reached the alert threshold (engines in the usual car park, a grill's chimney)
        baseline.update_from_patrol(pipe.heat_observations(include_alerted=True), last_t)
        baseline.save(baseline_path)
    s = pipe.stats.as_dict()
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(s["skipped"].items())) or "none"
    modes = ", ".join(f"{k} {v}" for k, v in sorted(s["modes"].items())) or "none"
    click.echo(
        f"{s['frames_processed']} of {s['frames_in']} frames processed (modes: {modes}; {skipped} skipped); alerts: "
        + ", ".join(f"{k} {v}" for k, v in s["alerts"].items()),
        err=True,
    )
