"""``drone-patrol patrol`` and ``drone-patrol demo``."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click

from drone_patrol.controller.connection import parse_connection
from drone_patrol.core.config import Settings, load_config, override
from drone_patrol.core.errors import ConfigError
from drone_patrol.core.resources import shipped_file
from drone_patrol.service.demo import run_demo
from drone_patrol.service.logs import setup_logging
from drone_patrol.service.metrics import OpsServer
from drone_patrol.service.schedule import NightSchedule
from drone_patrol.service.session import PatrolSession, VehicleSource

DEMO_CONFIG = Path("configs/demo.yaml")
log = logging.getLogger("drone_patrol.service")


@contextlib.contextmanager
def _stop_on_signals(session: PatrolSession, leave_flying: bool) -> Iterator[None]:
    """SIGINT/SIGTERM end the patrol cleanly (RTL unless leave_flying); a second one aborts the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    count = {"n": 0}

    def handler(signum: int, _frame: FrameType | None) -> None:
        count["n"] += 1
        if count["n"] > 1:
            raise KeyboardInterrupt
        what = "leaving the vehicle on its mission" if leave_flying else "returning home and waiting for landing"
        log.warning("%s: stopping, %s (again to abort)", signal.Signals(signum).name, what)
        session.request_stop(leave_flying)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _source(sitl: Path | None, sitl_defaults: Path | None, connect: str | None) -> VehicleSource:
    if sitl is not None and connect is not None:
        raise click.UsageError("--sitl and --connect exclude each other")
    if connect is not None:
        parse_connection(connect)  # an empty or malformed --connect is refused, never replaced by a default
    return VehicleSource(sitl, sitl_defaults, connect)


def _settings(config: Path | None) -> Settings:
    """The given config, else ./configs/demo.yaml, else the demo config shipped in the package
    (with its sample area and scenario files resolved where they were installed)."""
    if config is not None:
        return load_config(config)
    if DEMO_CONFIG.is_file():
        return load_config(DEMO_CONFIG)
    shipped = shipped_file(DEMO_CONFIG)
    if shipped is None:
        return load_config(None)
    root = shipped.parents[1]
    settings = load_config(shipped)

    def here_or_shipped(p: Path | None) -> str | None:
        return None if p is None else str(p if p.is_absolute() or p.exists() else root / p)

    return override(
        settings,
        {"site": {"areas_file": here_or_shipped(settings.site.areas_file)},
         "sim": {"scenario": here_or_shipped(settings.sim.scenario)}},
    )  # fmt: skip


@click.command()
@click.option("--config", "config", type=click.Path(path_type=Path), help="Config file (default configs/demo.yaml).")
@click.option("--sitl", type=click.Path(path_type=Path), help="Fly ArduPilot SITL: path to an arducopter binary.")
@click.option("--sitl-defaults", type=click.Path(path_type=Path), help="Frame defaults .parm for SITL (copter.parm).")
@click.option("--connect", help="Fly an already running vehicle (pymavlink connection string).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/demo"), show_default=True)
@click.option("--speedup", type=float, help="Simulation speedup (default from the config).")
@click.option("--scenario", type=click.Path(path_type=Path), help="Scenario file for the simulated camera.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--dashboard", "dashboard_port", type=int, help="Also serve the command-room dashboard on this port.")
def demo(
    config: Path | None,
    sitl: Path | None,
    sitl_defaults: Path | None,
    connect: str | None,
    out_dir: Path,
    speedup: float | None,
    scenario: Path | None,
    as_json: bool,
    dashboard_port: int | None,
) -> None:
    """Plan the sample district, fly it on a simulated copter over a simulated thermal world, and show
    the command room's alerts, on embedded defaults (embedded broker, simulator, simulated camera)."""
    settings = _settings(config)
    sim_update = {k: v for k, v in (("speedup", speedup), ("scenario", scenario)) if v is not None}
    if sim_update:
        settings = settings.model_copy(update={"sim": settings.sim.model_copy(update=sim_update)})
    setup_logging(settings.service.log_format, logging.WARNING)
    echo = (lambda _s: None) if as_json else click.echo

    def linger(_result: object) -> None:
        if dashboard_port is None:
            return
        click.echo("demo done; the dashboard stays up until Ctrl-C")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()

    result = run_demo(
        settings, _source(sitl, sitl_defaults, connect), out_dir, echo=echo,
        dashboard_port=dashboard_port, before_close=linger,
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps({**result.summary, "report": str(result.report_path)}, default=str))
        return
    click.echo("\nsummary")
    for key, value in result.summary.items():
        click.echo(f"  {key:40} {value}")
    for m in result.matches:
        where = f"{m.error_m:.1f} m from truth" if m.error_m is not None else "NOT ALERTED"
        delay = f", alert {m.first_seen_to_alert_s:.2f} s after first sighting" if m.first_seen_to_alert_s else ""
        click.echo(f"  {m.kind:6} {m.name:24} {where}{delay}")
    click.echo(f"report: {result.report_path}")


@click.command()
@click.option("--config", "config", type=click.Path(path_type=Path), required=True, help="Config file.")
@click.option("--schedule", is_flag=True, help="Run the night schedule: patrol after patrol.")
@click.option("--leave-flying", is_flag=True, help="On SIGINT/SIGTERM leave the vehicle on its mission.")
@click.option("--mission", "mission_file", type=click.Path(path_type=Path), help="Fly this .plan/.waypoints.")
@click.option("--sim", "use_sim", is_flag=True, help="Fly the built-in simulated copter.")
@click.option("--sitl", type=click.Path(path_type=Path), help="Fly ArduPilot SITL: path to an arducopter binary.")
@click.option("--sitl-defaults", type=click.Path(path_type=Path), help="Frame defaults .parm for SITL.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Where plans and reports go.")
def patrol(
    config: Path,
    schedule: bool,
    leave_flying: bool,
    mission_file: Path | None,
    use_sim: bool,
    sitl: Path | None,
    sitl_defaults: Path | None,
    out_dir: Path | None,
) -> None:
    """Run the patrol service: plan (or load) the mission, fly it with vision and alerting."""
    settings = load_config(config)
    setup_logging(settings.service.log_format)
    connect = None if (use_sim or sitl) else settings.controller.connection
    session = PatrolSession(settings, _source(sitl, sitl_defaults, connect), out_dir, mission_file)
    ops = None
    if settings.service.metrics_port is not None:
        ops = OpsServer(session.metrics, "127.0.0.1", settings.service.metrics_port).start()
        ops.add_check("broker", lambda: session.publisher is not None and session.publisher.connected)
        ops.add_check("vehicle_link", lambda: session.vehicle is not None and session.vehicle.link_alive)
        log.info("metrics and health on http://127.0.0.1:%d/metrics and /healthz", ops.port)
    try:
        with session, _stop_on_signals(session, leave_flying):
            _, missions, files = session.plan()
            for kind, paths in files.items():
                log.info("plan %s: %s", kind, paths)
            session.start_broker()
            session.start_publisher()
            session.start_vehicle()
            if settings.service.frame_source is None and settings.sim.scenario is None:
                raise ConfigError("service.frame_source: no camera: name a frame source or a sim.scenario")
            session.start_camera()
            if not schedule:
                _fly_all(session, missions)
                return
            plan = NightSchedule.parse(
                settings.service.schedule_start, settings.service.schedule_end, settings.service.schedule_every_min
            )
            session.run_schedule(missions, plan)
    finally:
        if ops is not None:
            ops.stop()


def _fly_all(session: PatrolSession, missions: list) -> None:  # type: ignore[type-arg]
    for i, mission in enumerate(missions, 1):
        if session.stopping:
            return
        log.info("sortie %d/%d: %d items", i, len(missions), len(mission.items))
        for outcome in session.fly_to_end(mission):
            rep = outcome.report
            log.info(
                "sortie %d: %s, %d alerts, %d frames (%d dropped)", i, rep.outcome if rep else "left flying",
                len(outcome.alerts), outcome.datapath.frames_processed, outcome.datapath.frames_dropped,
            )  # fmt: skip
