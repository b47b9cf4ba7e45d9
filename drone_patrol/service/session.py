"""A patrol session: the long-lived parts of the service (broker, vehicle, publisher, vision) and its patrols.

``PatrolSession`` is what ``drone-patrol patrol`` and ``drone-patrol demo`` share: it
plans (or loads) the mission, brings up the vehicle (simulated, ArduPilot SITL or any
connection string), the publisher and the vision pipeline, flies one patrol or a
night's schedule of them, and tears everything down in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drone_patrol.alerts.broker import EmbeddedBroker
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.controller import Vehicle
from drone_patrol.controller.identity import vehicle_identity
from drone_patrol.core.config import Settings
from drone_patrol.core.errors import ConfigError
from drone_patrol.core.profile import VehicleProfile, find_profile, learn
from drone_patrol.core.types import GeoPoint, Mission
from drone_patrol.mission.areas import AreaSet, load_areas
from drone_patrol.mission.files import load_mission
from drone_patrol.planner import PlanResult, plan_patrol
from drone_patrol.planner.endurance import endurance_options
from drone_patrol.planner.export import write_outputs
from drone_patrol.service.eyes_on import EyesOnService
from drone_patrol.service.feeds import LiveFrameFeed, SimCameraFeed
from drone_patrol.service.metrics import ServiceMetrics
from drone_patrol.service.patrol import PatrolOutcome, PatrolRun
from drone_patrol.service.pipeline import MissionClock
from drone_patrol.service.schedule import NightSchedule
from drone_patrol.service.sitl import SitlProcess
from drone_patrol.service.swap import restart_sim, wait_for_swap
from drone_patrol.sim.copter import SimulatedCopter
from drone_patrol.sim.thermal import Scenario, ThermalCameraSim
from drone_patrol.vision.baseline import HeatBaseline
from drone_patrol.vision.pipeline import VisionPipeline
from drone_patrol.vision.sources import Radiometry

log = logging.getLogger(__name__)


@dataclass
class VehicleSource:
    """Which vehicle to fly: the built-in simulator (default), a SITL binary, or a connection string."""

    sitl_binary: Path | None = None
    sitl_defaults: Path | None = None
    connect: str | None = None
    sitl_instance: int = 0  # SITL's -I: which simulated vehicle (its board id), the same across restarts
    speedup: float | None = None  # None: sim.speedup for the simulator and SITL, controller.speedup for a connection

    @property
    def simulated(self) -> bool:
        """True when the built-in simulator is used."""
        return self.sitl_binary is None and self.connect is None


@dataclass
class SessionResult:
    """Everything a session produced."""

    plan: PlanResult | None
    missions: list[Mission]
    outcomes: list[PatrolOutcome] = field(default_factory=list)
    files: dict[str, Any] = field(default_factory=dict)
    broker_url: str = ""


def site_home(settings: Settings, areas: AreaSet) -> GeoPoint:
    """Home with its AMSL altitude: the area file's third coordinate, else the site's ground altitude."""
    p = areas.home_point
    alt = p.altitude_m if p.altitude_m else settings.site.ground_altitude_m
    return GeoPoint(p.latitude_deg, p.longitude_deg, alt)


class PatrolSession:
    """Bring the service up, fly, bring it down. Use as a context manager."""

    def __init__(
        self,
        settings: Settings,
        source: VehicleSource | None = None,
        out_dir: Path | None = None,
        mission_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.source = source or VehicleSource()
        self.out_dir = Path(out_dir or settings.service.report_dir)
        self.mission_file = mission_file
        self.metrics = ServiceMetrics()
        self.areas = load_areas(
            settings.site.areas_file, ceiling_m=settings.planner.ceiling_m, floor_m=settings.planner.floor_m
        )
        self.home = site_home(settings, self.areas)
        self.broker: EmbeddedBroker | None = None
        self.sim: SimulatedCopter | None = None
        self.sitl: SitlProcess | None = None
        self.vehicle: Vehicle | None = None
        self.publisher: AlertPublisher | None = None
        self.feed: SimCameraFeed | LiveFrameFeed | None = None
        self.baseline: HeatBaseline | None = None
        self._stack = contextlib.ExitStack()
        self._current: PatrolRun | None = None
        self.eyes_on: EyesOnService | None = None
        self._stopping = threading.Event()
        self._leave_flying = False
        self._flown = 0
        self.vehicle_id = ""
        self.profile: VehicleProfile | None = None

    # -- bring up -------------------------------------------------------------------------------------------

    @property
    def speedup(self) -> float:
        """How much faster than real time the vehicle runs (1 for a real vehicle)."""
        if self.source.speedup is not None:
            return self.source.speedup
        # an external vehicle runs at the controller config's speedup (1 for a real aircraft)
        return self.settings.controller.speedup if self.source.connect else self.settings.sim.speedup

    @property
    def broker_url(self) -> str:
        """The URL the publisher and the command room use."""
        return self.broker.url if self.broker is not None else self.settings.alerts.broker_url

    def plan(self) -> tuple[PlanResult | None, list[Mission], dict[str, Any]]:
        """Plan the site's patrol (or load the given mission file) and write the plan files."""
        if self.mission_file is not None:
            return None, [load_mission(self.mission_file)], {}
        # the service flies what it plans: a vehicle it has no profile of gets a conservative first flight
        endurance = endurance_options(self.settings, None, None, first_flight=True)
        result = plan_patrol(self.areas, self.settings.planner, self.settings.camera, **endurance)
        log.info("planner: %s", result.endurance_note)
        for warning in result.warnings:
            log.warning("planner: %s", warning)
        stem = Path(self.settings.site.areas_file).stem
        files = write_outputs(result, self.out_dir, stem)
        return result, list(result.sorties), files

    def start_broker(self) -> None:
        """Start the embedded broker when the config asks for it."""
        if self.settings.alerts.embedded_broker:
            self.broker = EmbeddedBroker("127.0.0.1", 0).start()
            self._stack.callback(self.broker.stop)
            log.info("embedded MQTT broker on %s", self.broker.url)

    def start_vehicle(self) -> Vehicle:
        """Start the simulator or SITL when asked, then connect the controller."""
        s = self.settings
        if self.source.sitl_binary is not None:
            self.sitl = SitlProcess(
                self.source.sitl_binary,
                self.home,
                speedup=self.speedup,
                defaults=self.source.sitl_defaults,
                instance=self.source.sitl_instance,
            ).start()
            self._stack.callback(self.sitl.stop)
            connection = self.sitl.connection_string
        elif self.source.connect is not None:
            connection = self.source.connect
        else:
            self.sim = SimulatedCopter(
                home=self.home, port=0, speedup=self.speedup, seed=s.sim.seed, params=s.sim.params
            ).start()
            self._stack.callback(self.sim.stop)
            connection = self.sim.connection_string
        cfg = s.controller.model_copy(update={"connection": connection, "speedup": self.speedup})
        timeout_s = 120.0 if self.sitl is not None else None
        self.vehicle = Vehicle.connect(connection, cfg, timeout_s=timeout_s)
        self._stack.callback(self.vehicle.close)
        self._identify()
        self._take_commands()
        return self.vehicle

    def _identify(self) -> None:
        """Name the vehicle on the link by its board id and take up its profile."""
        assert self.vehicle is not None
        s = self.settings
        self.vehicle_id = vehicle_identity(self.vehicle, s.site.drone_id)
        self.profile = find_profile(s.site.data_dir, self.vehicle_id)
        log.info(
            "vehicle %s: %s", self.vehicle_id,
            self.profile.describe() if self.profile else "no consumption profile yet (learned from its first flight)",
        )  # fmt: skip

    def start_publisher(self) -> AlertPublisher:
        """Start the alert publisher towards the broker."""
        s = self.settings
        self.publisher = AlertPublisher(s.alerts, s.site.id, s.site.drone_id, broker_url=self.broker_url).start()
        self._stack.callback(self._stop_publisher)
        self.publisher.publish_status("online", mission_state="idle")
        self._take_commands()
        return self.publisher

    def _take_commands(self) -> None:
        """Answer the room's "eyes on" commands from now on, once the vehicle and the publisher are up.

        Between patrols they are refused (``not_flying``) at once; until then the link holds
        them unacknowledged."""
        if self.eyes_on is None and self.vehicle is not None and self.publisher is not None:
            self.eyes_on = EyesOnService(self.settings, self.areas, self.vehicle, self.publisher, lambda: self._current)
            self._stack.callback(self.eyes_on.start().stop)

    def _stop_publisher(self) -> None:
        if self.publisher is not None:
            self.publisher.stop(flush_timeout_s=10.0)

    def start_camera(self, scenario_file: Path | None = None) -> SimCameraFeed | LiveFrameFeed:
        """The configured real camera (``service.frame_source``), else the simulated one over
        ``scenario_file`` (default: the configured scenario)."""
        s = self.settings
        if s.service.frame_source is not None and scenario_file is None:
            rad = Radiometry(kind=s.service.frame_radiometry, resolution_k=s.camera.tlinear_resolution_k)
            live = LiveFrameFeed(s.service.frame_source, rad)
            self._stack.callback(live.close)
            self.feed = live
            return live
        path = scenario_file or s.sim.scenario
        if path is None:
            raise ConfigError("sim.scenario: no scenario file configured for the simulated camera")
        scenario = Scenario.load(path)
        self.feed = SimCameraFeed(ThermalCameraSim(scenario, s.camera, seed=s.sim.seed))
        return self.feed

    def baseline_path(self) -> Path:
        """Where this site's heat baseline is kept."""
        return Path(self.settings.site.data_dir) / f"heat_baseline_{self.settings.site.id}.json"

    def new_pipeline(self) -> VisionPipeline:
        """A vision pipeline for one patrol, with the site's heat baseline."""
        s = self.settings
        self.baseline = HeatBaseline.load_or_new(self.baseline_path(), s.site.id, self.home)
        return VisionPipeline(
            s.vision, s.camera, self.home, self.areas.heat_sources, self.areas.patrol, self.baseline,
            site=s.site.id, drone=s.site.drone_id,
        )  # fmt: skip

    # -- fly ------------------------------------------------------------------------------------------------

    def fly(
        self, mission: Mission, resume_from_seq: int | None = None, survey: bool = False, **hooks: Any
    ) -> PatrolOutcome:
        """Fly one sortie with vision and alerting, then fold its heat into the site's baseline.

        Normally heat that raised an alert is kept out of the baseline; a ``survey`` patrol
        (a site's first, known to be an ordinary night) learns every heat source it saw.
        """
        if self.vehicle is None or self.publisher is None or self.feed is None:
            raise RuntimeError("start the vehicle, the publisher and the camera first")
        if self._flown:
            self.swap_battery()
        self._flown += 1
        self._take_commands()
        pipeline = self.new_pipeline()
        clock = MissionClock(self.speedup)
        run = PatrolRun(
            self.settings, self.vehicle, mission, self.publisher, self.feed, pipeline, clock,
            metrics=self.metrics, resume_from_seq=resume_from_seq, profile=self.profile, **hooks,
        )  # fmt: skip
        self._current = run
        if self._stopping.is_set():
            run.request_stop(self._leave_flying)
        try:
            outcome = run.run()
        finally:
            self._current = None
        self._learn(outcome)
        if self.baseline is not None:
            observed = pipeline.heat_observations(include_alerted=survey)
            added = self.baseline.update_from_patrol(observed, clock.now())
            self.baseline.save(self.baseline_path())
            log.info("heat baseline: %d cells from this patrol, saved to %s", added, self.baseline_path())
        return outcome

    def _learn(self, outcome: PatrolOutcome) -> None:
        """Fold the sortie's measured consumption into the vehicle's profile."""
        report = outcome.report
        if report is None or report.consumption is None or not self.vehicle_id:
            return
        learned = learn(self.settings.site.data_dir, self.vehicle_id, report.consumption)
        if learned is not None:
            self.profile = learned[0]
            log.info(
                "sortie used %.0f%% (expected %s): profile %s", report.battery_used_percent or 0.0,
                f"{report.predicted_percent:.0f}%" if report.predicted_percent is not None else "?",
                self.profile.describe(),
            )  # fmt: skip

    def swap_battery(self) -> None:
        """Between sorties: wait for the battery swap (power-cycling the simulator or SITL, which
        the crew cannot), with ``waiting for battery swap`` on the retained status."""
        assert self.vehicle is not None
        power_cycle = None
        if self.sim is not None:
            power_cycle = self._restart_sim
        elif self.sitl is not None:
            power_cycle = self._restart_sitl
        timeout = self.vehicle.wall(self.settings.service.battery_swap_timeout_s, floor=True)
        if power_cycle is not None:
            timeout = max(timeout, 120.0)  # a restart boots the vehicle again: give it wall time
        wait_for_swap(self.vehicle, self.publisher, timeout, power_cycle, lambda: self.stopping)
        # the board id survives a power cycle: another id is another aircraft (or flight controller)
        before = self.vehicle_id
        self._identify()
        if self.vehicle_id != before:
            log.warning(
                "after the battery swap the vehicle is %s, not %s: flying on its own profile", self.vehicle_id, before
            )

    def _restart_sitl(self) -> None:
        assert self.sitl is not None
        self.sitl.restart()

    def _restart_sim(self) -> None:
        assert self.sim is not None
        self.sim = restart_sim(self.sim)
        self._stack.callback(self.sim.stop)

    def fly_to_end(self, mission: Mission, max_resumes: int = 2, **kwargs: Any) -> list[PatrolOutcome]:
        """Fly ``mission``; when a failsafe brought the vehicle home early, fly the rest from the
        last reached item (after the battery swap), up to ``max_resumes`` times."""
        outcomes = [self.fly(mission, **kwargs)]
        while len(outcomes) <= max_resumes and not self.stopping:
            report = outcomes[-1].report
            if report is None or report.outcome != "returned_early" or report.resume_seq is None:
                break
            log.info("sortie returned early (%s): resuming at item %d", report.reason, report.resume_seq)
            outcomes.append(self.fly(mission, resume_from_seq=report.resume_seq, **kwargs))
        return outcomes

    def run_schedule(
        self,
        missions: Sequence[Mission],
        schedule: NightSchedule,
        now: Callable[[], datetime] = datetime.now,
        max_patrols: int | None = None,
        wait: Callable[[float], object] | None = None,
    ) -> list[PatrolOutcome]:
        """Patrol after patrol on ``schedule`` until stopped (or ``max_patrols`` patrols).

        Between patrols the retained status says ``waiting`` with the next start time, so the
        command room sees the drone is alive; every patrol adds its heat to the site's baseline.
        """
        if self.publisher is None:
            raise RuntimeError("start the publisher first")
        outcomes: list[PatrolOutcome] = []
        patrols = 0
        wait = wait or self._stopping.wait
        last_start: datetime | None = None
        while not self.stopping and (max_patrols is None or patrols < max_patrols):
            after = now() if last_start is None else max(now(), last_start + timedelta(seconds=1))
            start = last_start = schedule.next_patrol(after)  # never the same slot twice
            log.info("next patrol at %s", start.isoformat(timespec="minutes"))
            while not self.stopping and now() < start:
                self.publisher.publish_status("online", mission_state="waiting", next_patrol=start.isoformat())
                wait(min(30.0, max(0.0, (start - now()).total_seconds())))
            if self.stopping:
                break
            for mission in missions:
                if self.stopping:
                    break
                outcomes.extend(self.fly_to_end(mission))
            patrols += 1
        return outcomes

    def request_stop(self, leave_flying: bool = False) -> None:
        """From a signal handler or another thread: end the current patrol (RTL unless ``leave_flying``)."""
        self._leave_flying = leave_flying
        self._stopping.set()
        if self._current is not None:
            self._current.request_stop(leave_flying)

    @property
    def stopping(self) -> bool:
        """True once a stop was requested."""
        return self._stopping.is_set()

    def on_close(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` when the session closes (before what was started earlier stops)."""
        self._stack.callback(callback)

    def close(self) -> None:
        """Stop everything that was started, in reverse order."""
        if self.publisher is not None:
            self.publisher.publish_status("offline", mission_state="stopped")
        self._stack.close()

    def __enter__(self) -> PatrolSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
