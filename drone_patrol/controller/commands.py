"""``drone-patrol fly``, ``mission upload|download|clear`` and ``status``."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from drone_patrol.controller.connection import parse_connection
from drone_patrol.controller.events import INFO, VehicleEvent
from drone_patrol.controller.executor import PatrolExecutor
from drone_patrol.controller.identity import vehicle_identity
from drone_patrol.controller.items import fence_to_wire
from drone_patrol.controller.mission_check import check_mission
from drone_patrol.controller.report import PatrolProgress, PatrolReport
from drone_patrol.controller.vehicle import Vehicle
from drone_patrol.core.config import ControllerConfig, load_config
from drone_patrol.core.profile import find_profile, learn
from drone_patrol.core.types import Mission, VehicleState
from drone_patrol.mission import load_mission, save_mission

_connect_option = click.option(
    "--connect", "connection", metavar="CONN", help="tcp:HOST:PORT, udpin:HOST:PORT, udpout:HOST:PORT or DEVICE[,BAUD]."
)
_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML config file."
)
_speedup_option = click.option(
    "--speedup", type=click.FloatRange(min=0.01, max=100), help="The vehicle's clock speedup (SITL --speedup)."
)


def controller_config(config_path: Path | None, connection: str | None, speedup: float | None) -> ControllerConfig:
    """The controller section of the config, with command-line overrides."""
    config = load_config(config_path).controller
    update: dict[str, Any] = {}
    if connection is not None:
        parse_connection(connection)  # an empty --connect is an error, not "use the config's"
        update["connection"] = connection
    if speedup:
        update["speedup"] = speedup
    return config.model_copy(update=update) if update else config


def _bar(p: PatrolProgress, width: int = 24) -> str:
    if p.phase in ("upload", "verify") and p.upload_total:
        filled = round(width * p.upload_done / p.upload_total)
        return f"[{'#' * filled}{'-' * (width - filled)}] {p.phase} {p.upload_done}/{p.upload_total} list items"
    filled = round(p.fraction * width)
    battery = f"{p.battery_percent:.0f}%" if p.battery_percent is not None else "?"
    home = f"{p.distance_to_home_m:.0f} m" if p.distance_to_home_m is not None else "?"
    area = f" {p.area_name}" if p.area_name else ""
    return (
        f"[{'#' * filled}{'-' * (width - filled)}] {p.reached}/{p.total} items  "
        f"{p.distance_flown_m / 1000:.2f} km  home {home}  alt {p.relative_altitude_m:.0f} m  "
        f"bat {battery}  {p.mode}  {p.phase}{area}"
    )


def _event_line(event: VehicleEvent) -> str | None:
    if event.kind in ("waypoint_reached", "statustext") and event.severity == INFO:
        return None
    stamp = time.strftime("%H:%M:%S", time.localtime(event.time_s))
    return f"{stamp} {event.severity:<8} {event.kind}: {event.message}"


def fly_mission(
    mission: Mission,
    config: ControllerConfig,
    *,
    dry_run: bool = False,
    resume_from_seq: int | None = None,
    out: Any = None,
    records: tuple[Path, str] | None = None,
) -> PatrolReport:
    """Connect, fly ``mission`` with a live progress line on ``out`` (stderr), return the report.

    With ``records`` (the site's data dir and the drone's name) the vehicle's consumption
    profile is looked up by its identity, judges the battery, and learns from the flight.
    Ctrl-C aborts (in the air: RTL) and waits for the landing.
    """
    stream = out or sys.stderr
    tty = stream.isatty()
    lines: list[str] = []
    lock = threading.Lock()

    def on_event(event: VehicleEvent) -> None:
        line = _event_line(event)
        if line:
            with lock:
                lines.append(line)

    vehicle = Vehicle.connect(config.connection, config)
    try:
        vehicle_id, profile = None, None
        if records is not None and not dry_run:
            vehicle_id = vehicle_identity(vehicle, records[1])
            profile = find_profile(records[0], vehicle_id)
            stream.write(
                (f"profile: {profile.describe()}" if profile is not None else f"no consumption profile of "
                 f"{vehicle_id} yet: the battery is judged by the config's figures and the measured rate") + "\n"
            )  # fmt: skip
        executor = PatrolExecutor(
            vehicle,
            mission,
            config,
            on_event=on_event,
            resume_from_seq=resume_from_seq,
            dry_run=dry_run,
            profile=profile,
        )
        result: list[PatrolReport] = []
        worker = threading.Thread(target=lambda: result.append(executor.run()), name="patrol", daemon=True)
        worker.start()
        last_plain = 0.0
        while worker.is_alive():
            try:
                worker.join(0.25)
            except KeyboardInterrupt:
                click.echo("\ninterrupted: aborting the patrol (the vehicle returns home)", err=True)
                executor.abort()
                continue
            with lock:
                pending, lines[:] = list(lines), []
            bar = _bar(executor.progress)
            if tty:
                for line in pending:
                    stream.write("\r\x1b[2K" + line + "\n")
                stream.write("\r\x1b[2K" + bar)
            else:
                for line in pending:
                    stream.write(line + "\n")
                if time.monotonic() - last_plain > 5.0:
                    stream.write(bar + "\n")
                    last_plain = time.monotonic()
            stream.flush()
        if tty:
            stream.write("\n")
        report = result[0]
        if records is not None and vehicle_id is not None and report.consumption is not None:
            learned = learn(records[0], vehicle_id, report.consumption)
            if learned is not None:
                stream.write(f"profile learned: {learned[0].describe()} ({learned[1]})\n")
        return report
    finally:
        vehicle.close()


@click.command()
@click.argument("plan", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_connect_option
@_config_option
@_speedup_option
@click.option(
    "--dry-run", is_flag=True, help="Check the mission against the vehicle and site, upload and verify; do not arm."
)
@click.option("--resume-from", type=click.IntRange(min=1), help="Start at this mission item (after an interruption).")
@click.option("--sortie", type=click.IntRange(min=1), default=1, show_default=True, help="Sortie of a route GeoJSON.")
def fly(
    plan: Path,
    connection: str | None,
    config_path: Path | None,
    speedup: float | None,
    dry_run: bool,
    resume_from: int | None,
    sortie: int,
) -> None:
    """Fly PLAN (.plan, .waypoints or route .geojson) on the vehicle at --connect.

    Preflight sets the vehicle's failsafes and checks the battery against the vehicle's
    learned consumption profile (``site.data_dir``/vehicles), the mission, fence and rally
    points are uploaded and read back, then the vehicle takes off, flies the mission in
    AUTO and returns home; the flight updates the profile. An area file must be planned
    first (``drone-patrol plan``).
    """
    config = controller_config(config_path, connection, speedup)
    site = load_config(config_path).site
    mission = load_mission(plan, sortie=sortie)
    report = fly_mission(
        mission, config, dry_run=dry_run, resume_from_seq=resume_from, records=(Path(site.data_dir), site.drone_id)
    )
    click.echo(report.summary())
    if report.error is not None:
        raise report.error


@click.group()
def mission() -> None:
    """Upload, download or clear a vehicle's mission, fence and rally points."""


@mission.command("upload")
@click.argument("plan", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_connect_option
@_config_option
@_speedup_option
@click.option("--sortie", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--no-verify", is_flag=True, help="Skip reading the lists back.")
def mission_upload(
    plan: Path, connection: str | None, config_path: Path | None, speedup: float | None, sortie: int, no_verify: bool
) -> None:
    """Upload PLAN's mission, fence and rally points and verify them."""
    config = controller_config(config_path, connection, speedup)
    loaded = load_mission(plan, sortie=sortie)
    started = time.monotonic()
    bar_cm = click.progressbar(length=1000, label="uploading", file=sys.stderr)
    with Vehicle.connect(config.connection, config) as vehicle, bar_cm as bar:
        check_mission(vehicle, loaded, config)
        done = [0]

        def progress(n: int, total: int) -> None:
            step = round(1000 * n / total) if total else 1000
            bar.update(step - done[0])
            done[0] = step

        vehicle.mission.upload(loaded, progress=progress, verify=not no_verify)
    fence_n = len(fence_to_wire(loaded.fence))
    click.echo(
        f"uploaded {len(loaded.items)} items, {fence_n} fence items, {len(loaded.rally_points)} rally points "
        f"in {time.monotonic() - started:.1f} s" + ("" if no_verify else " (verified)")
    )


@mission.command("download")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@_connect_option
@_config_option
@_speedup_option
def mission_download(out: Path, connection: str | None, config_path: Path | None, speedup: float | None) -> None:
    """Download the vehicle's mission, fence and rally points into OUT (.plan or .waypoints)."""
    config = controller_config(config_path, connection, speedup)
    with Vehicle.connect(config.connection, config) as vehicle:
        got = vehicle.mission.download()
    path = save_mission(got, out)
    click.echo(
        f"{path}: {len(got.items)} items, {len(got.fence.polygons)} fence polygons, {len(got.rally_points)} rally"
    )


@mission.command("clear")
@_connect_option
@_config_option
@_speedup_option
def mission_clear(connection: str | None, config_path: Path | None, speedup: float | None) -> None:
    """Clear the vehicle's mission, fence and rally points."""
    config = controller_config(config_path, connection, speedup)
    with Vehicle.connect(config.connection, config) as vehicle:
        vehicle.mission.clear()
    click.echo("cleared mission, fence and rally points")


def format_state(state: VehicleState) -> str:
    """A few lines describing ``state``."""
    pos = state.position
    where = f"{pos.latitude_deg:.7f}, {pos.longitude_deg:.7f}, {pos.altitude_m:.1f} m AMSL" if pos else "unknown"
    battery = "unknown" if state.battery_percent is None else f"{state.battery_percent:.0f}%"
    volts = "" if state.battery_voltage_v is None else f" ({state.battery_voltage_v:.2f} V)"
    home = f"{state.home.latitude_deg:.7f}, {state.home.longitude_deg:.7f}" if state.home else "not set"
    return "\n".join(
        [
            f"mode      {state.mode} ({'armed' if state.armed else 'disarmed'}, "
            f"{'landed' if state.landed else 'flying'})",
            f"position  {where}; {state.relative_altitude_m:.1f} m above home",
            f"motion    {state.ground_speed_m_s:.1f} m/s, heading {state.heading_deg:.0f} deg, "
            f"climb {state.climb_rate_m_s:.1f} m/s",
            f"attitude  roll {state.roll_deg:.1f}, pitch {state.pitch_deg:.1f}, yaw {state.yaw_deg:.1f} deg",
            f"battery   {battery}{volts}",
            f"gps       fix {state.gps_fix_type}, {state.satellites_visible} satellites; "
            f"EKF {'ok' if state.ekf_ok else 'not ready'}",
            f"mission   current item {state.mission_current_seq}, last reached {state.mission_reached_seq}",
            f"home      {home}",
        ]
    )


@click.command()
@_connect_option
@_config_option
@_speedup_option
@click.option("--watch", is_flag=True, help="Keep printing once a second until Ctrl-C.")
def status(connection: str | None, config_path: Path | None, speedup: float | None, watch: bool) -> None:
    """Show the vehicle's state and link health."""
    config = controller_config(config_path, connection, speedup)
    with Vehicle.connect(config.connection, config) as vehicle:
        vehicle.wait_for(
            lambda s: s.mode != "UNKNOWN" and s.position is not None and s.battery_percent is not None, 3.0
        )
        while True:
            health = vehicle.health
            click.echo(format_state(vehicle.state))
            click.echo(
                f"link      system {vehicle.link.target_system}, {health.received} packets, "
                f"{100 * health.loss_fraction:.1f}% lost, {health.bad_data} bad, {health.reconnects} reconnects"
            )
            if not watch:
                return
            try:
                time.sleep(1.0)
            except KeyboardInterrupt:
                return
            click.echo("")
