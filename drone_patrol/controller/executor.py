"""The patrol executor: one sortie from preflight to disarmed, as a state machine.

connect (the caller's Vehicle) -> preflight -> upload mission, fence and rally ->
verify -> arm in GUIDED -> takeoff -> AUTO (MISSION_START) -> monitor -> RTL ->
landed -> disarmed -> report. Every transition is logged and emitted as a
``mission_state`` :class:`VehicleEvent`; every step has a timeout. The failsafe
rules run on every monitoring tick and the executor carries out their verdict.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from dataclasses import replace

from drone_patrol.controller.consumption import ConsumptionMeter
from drone_patrol.controller.events import CRITICAL, INFO, WARNING, EventCallback, VehicleEvent
from drone_patrol.controller.failsafe import (
    FailsafeAction,
    FailsafeDecision,
    check_link,
    evaluate,
    mission_battery_percent,
    mission_duration_s,
)
from drone_patrol.controller.mission_check import check_mission, height_above_home_m
from drone_patrol.controller.preflight import limits_from_config, run_preflight
from drone_patrol.controller.report import PatrolProgress, PatrolReport, Tracker
from drone_patrol.controller.resume import resume_mission
from drone_patrol.controller.vehicle import Vehicle
from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.errors import DronePatrolError, OperationTimeoutError
from drone_patrol.core.profile import VehicleProfile
from drone_patrol.core.types import MavCmd, Mission, VehicleState
from drone_patrol.core.wpnav import WpnavLimits

log = logging.getLogger(__name__)
#: MAV_CMD_NAV_LAST: commands up to this id are navigation commands (ArduPilot's is_nav_cmd)
_NAV_LAST = 95


class Phase(enum.StrEnum):
    """Where the sortie is."""

    IDLE = "idle"
    PREFLIGHT = "preflight"
    UPLOAD = "upload"
    VERIFY = "verify"
    ARM = "arm"
    TAKEOFF = "takeoff"
    MISSION = "mission"
    PAUSED = "paused"
    RETURNING = "returning"
    LANDING = "landing"
    LANDED = "landed"
    DISARMED = "disarmed"
    DONE = "done"
    ABORTED = "aborted"
    FAILED = "failed"


_HOME_ENDINGS = (MavCmd.NAV_RETURN_TO_LAUNCH, MavCmd.NAV_LAND)
_DEFAULT_CAPACITY_MAH = 3300.0  # ArduPilot's BATT_CAPACITY default
_TICK_S = 0.05


class _Abort(Exception):
    pass


class PatrolExecutor:
    """Flies ``mission`` on ``vehicle``. :meth:`run` blocks and returns a :class:`PatrolReport`.

    :meth:`pause`, :meth:`resume`, :meth:`request_rtl` and :meth:`abort` may be called
    from any thread. ``resume_from_seq`` continues an interrupted sortie (after a
    battery swap or an RTL) at that mission item instead of the first. ``profile`` is the
    vehicle's learned consumption: preflight and the in-flight endurance rule judge the
    battery by it (else by the config), and the report carries this flight's figures.
    """

    def __init__(
        self,
        vehicle: Vehicle,
        mission: Mission,
        config: ControllerConfig | None = None,
        on_event: EventCallback | None = None,
        resume_from_seq: int | None = None,
        dry_run: bool = False,
        profile: VehicleProfile | None = None,
    ) -> None:
        self.vehicle = vehicle
        # a resumed sortie flies a mission of its own: take-off, a way to the item that keeps
        # to the fence and out of no-fly zones, then the rest (see controller/resume.py)
        self.resumed = resume_mission(mission, resume_from_seq) if resume_from_seq and resume_from_seq > 1 else None
        self.mission = self.resumed.mission if self.resumed is not None else mission
        self.config = config or vehicle.config
        self.on_event = on_event
        self.resume_from_seq = resume_from_seq
        self.dry_run = dry_run
        self.profile = profile
        self.limits = limits_from_config(self.config, profile)
        self.meter: ConsumptionMeter | None = None
        self.phase = Phase.IDLE
        self.tracker = Tracker(self.mission)
        self._requests: queue.Queue[str] = queue.Queue()
        self._aborted = threading.Event()
        self._handled_rules: set[str] = set()
        self._outcome = ""
        self._reason = ""
        self._predicted_percent: float | None = None
        self._unsubscribe = vehicle.subscribe_events(self._on_vehicle_event)

    # -- control from other threads -------------------------------------------

    def pause(self) -> None:
        """Hold position (BRAKE or LOITER) until :meth:`resume`."""
        self._requests.put("pause")

    def resume(self) -> None:
        """Continue the mission (AUTO) after :meth:`pause`."""
        self._requests.put("resume")

    def request_rtl(self) -> None:
        """Break off the patrol and return home (before the mission has started: do not start it)."""
        if self.phase in (Phase.IDLE, Phase.PREFLIGHT, Phase.UPLOAD, Phase.VERIFY, Phase.ARM, Phase.TAKEOFF):
            self.abort()
        else:
            self._requests.put("rtl")

    def abort(self) -> None:
        """Stop: before take-off nothing flies; in the air the vehicle returns home."""
        self._aborted.set()
        self._requests.put("abort")

    @property
    def progress(self) -> PatrolProgress:
        """A snapshot for progress displays."""
        return self.tracker.progress(self.phase, self.vehicle.state)

    # -- events ----------------------------------------------------------------

    def _emit(self, event: VehicleEvent) -> None:
        self.tracker.record_event(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event callback failed")

    def _on_vehicle_event(self, event: VehicleEvent) -> None:
        self._emit(event)

    def _set_phase(self, phase: Phase, why: str = "") -> None:
        if phase == self.phase:
            return
        old, self.phase = self.phase, phase
        if old in (Phase.MISSION, Phase.PAUSED) and phase not in (Phase.MISSION, Phase.PAUSED):
            self.tracker.close_area(self._emit)
        self.tracker.record_phase(phase.value)
        severity = CRITICAL if phase == Phase.FAILED else WARNING if phase == Phase.ABORTED else INFO
        text = f"patrol {old.value} -> {phase.value}" + (f": {why}" if why else "")
        self._emit(VehicleEvent.now("mission_state", severity, text, phase=phase.value, previous=old.value))

    def _check_abort(self) -> None:
        if self._aborted.is_set():
            raise _Abort()

    # -- the sortie ------------------------------------------------------------

    def run(self) -> PatrolReport:
        """Fly the sortie; returns the report (``report.error`` holds the failure, if any)."""
        error: DronePatrolError | None = None
        try:
            self._run()
        except _Abort:
            self._outcome, self._reason = "aborted", "aborted before take-off"
            self._set_phase(Phase.ABORTED, self._reason)
        except DronePatrolError as exc:
            error = exc
            self._outcome, self._reason = "failed", str(exc)
            self._set_phase(Phase.FAILED, str(exc))
            self._recover_after_failure()
        finally:
            self._unsubscribe()
        report = self.tracker.report(self._outcome, self._reason, self.vehicle.state, error)
        if self.resumed is not None:
            report = self.resumed.report(report)
        if self.meter is not None and self.meter.airborne_s > 0:
            vehicle_id = self.profile.vehicle_id if self.profile is not None else ""
            report = replace(
                report,
                consumption=self.meter.profile(vehicle_id),
                battery_used_percent=self.meter.used_percent,
                predicted_percent=self._predicted_percent,
                predicted_by_profile=self.profile is not None,
            )
        return report

    def _run(self) -> None:
        v = self.vehicle
        # dry run or not, nothing goes on the wire before the mission passes its checks
        check_mission(v, self.mission, self.config, self.resume_from_seq)
        if not self.dry_run:  # a dry run changes nothing on the vehicle but its lists
            self._set_phase(Phase.PREFLIGHT)
            capacity = self._battery_capacity_mah()
            self.limits = replace(limits_from_config(self.config, self.profile, capacity), wpnav=self._wpnav_limits())
            self.meter = ConsumptionMeter(capacity, v.speedup)
            run_preflight(v, self.mission, self.config, self.limits)
            self._predicted_percent = mission_battery_percent(self.mission, self.limits)
            self._check_abort()
        self._set_phase(Phase.UPLOAD)
        v.mission.upload(self.mission, progress=self._upload_progress, verify=False)
        v.telemetry.reset_mission_progress()  # items reached in an earlier sortie are not this one's
        self._check_abort()
        if self.config.verify_upload or self.dry_run:
            self._set_phase(Phase.VERIFY)
            v.mission.verify(self.mission)
        if self.dry_run:
            self._outcome, self._reason = "uploaded", "dry run: mission, fence and rally uploaded and verified"
            self._set_phase(Phase.DONE, self._reason)
            return
        self._check_abort()
        self._set_phase(Phase.ARM)
        v.action.set_mode("GUIDED")
        v.action.arm()
        try:
            self._takeoff()
            self._start_mission()
        except _Abort:
            self._outcome, self._reason = "aborted", "aborted during take-off"
            self._return_home(self._reason)
        else:
            self._set_phase(Phase.MISSION)
        self._monitor()

    def _battery_capacity_mah(self) -> float:
        """BATT_CAPACITY as the vehicle has it (the profile's, or ArduPilot's 3300 mAh default, if unreadable)."""
        try:
            capacity = float(self.vehicle.params.get("BATT_CAPACITY"))
        except DronePatrolError as exc:
            log.warning("cannot read BATT_CAPACITY (%s): using the profile's or the default", exc)
            capacity = 0.0
        if capacity <= 0:
            capacity = self.profile.capacity_mah if self.profile is not None else _DEFAULT_CAPACITY_MAH
        return capacity

    def _wpnav_limits(self) -> WpnavLimits:
        """WPNAV_ACCEL, WPNAV_JERK and WPNAV_RADIUS as the vehicle has them, which time its legs
        (ArduCopter's defaults when one is unreadable or not above 0)."""
        try:
            p = self.vehicle.params
            accel, jerk, radius = (float(p.get(n)) for n in ("WPNAV_ACCEL", "WPNAV_JERK", "WPNAV_RADIUS"))
        except DronePatrolError as exc:
            log.warning("cannot read the WPNAV parameters (%s): timing legs with ArduCopter's defaults", exc)
            return WpnavLimits()
        if min(accel, jerk, radius) <= 0:
            return WpnavLimits()
        return WpnavLimits(accel / 100.0, jerk, radius / 100.0)

    def _upload_progress(self, done: int, total: int) -> None:
        self.tracker.upload_done, self.tracker.upload_total = done, total

    def _first_nav_seq(self, seq: int) -> int:
        """The first navigation item at or after ``seq``: what MISSION_CURRENT shows when ``seq``
        is made current (ArduPilot reports its current navigation command, not a DO item before it)."""
        for i in range(seq, len(self.mission.items) + 1):
            if self.mission.items[i - 1].command <= _NAV_LAST:
                return i
        return seq

    def _takeoff_altitude_m(self) -> float:
        """Height above home to climb to: the mission's take-off item's (or first position's),
        whatever its frame (NAV_TAKEOFF as a command takes a height above home)."""
        first = next((wp for wp in self.mission.items if wp.command == MavCmd.NAV_TAKEOFF), None)
        first = first or next((wp for wp in self.mission.items if wp.has_position), None)
        if first is None:
            return self.config.takeoff_altitude_m
        home = self.vehicle.state.home
        if home is None:  # checked before the upload; only a vehicle that lost it gets here
            log.warning("no home position: taking off to the configured %.0f m", self.config.takeoff_altitude_m)
            return self.config.takeoff_altitude_m
        return height_above_home_m(first, home)

    def _takeoff(self) -> None:
        v = self.vehicle
        altitude = self._takeoff_altitude_m()
        self._set_phase(Phase.TAKEOFF, f"to {altitude:.0f} m")
        v.action.takeoff(altitude)
        timeout = v.wall(altitude / self.config.climb_rate_m_s * 3 + 30)
        deadline = time.monotonic() + timeout
        while v.state.relative_altitude_m < 0.9 * altitude:
            if self.meter is not None:  # the climb is part of what the sortie uses
                self.meter.sample(v.state)
            self._check_abort()
            if not v.state.armed:
                raise OperationTimeoutError("takeoff", timeout, "the vehicle disarmed during take-off")
            if time.monotonic() > deadline:
                raise OperationTimeoutError("takeoff", timeout, f"at {v.state.relative_altitude_m:.1f} m")
            time.sleep(_TICK_S)

    def _start_mission(self) -> None:
        v = self.vehicle
        if self.resumed is not None:
            seq = self.resumed.start_seq
            v.action.set_current(1, shown_as=self._first_nav_seq(1))
            self._emit(
                VehicleEvent.now(
                    "mission_state",
                    INFO,
                    f"resuming at mission item {seq} by {self.resumed.approach} waypoints clear of the fence and zones",
                    resume_seq=seq,
                )
            )
        else:
            # a fresh patrol starts at its first item: with MIS_RESTART 0 ArduPilot would otherwise
            # resume where an interrupted mission stopped (after an RTL, say)
            v.action.set_current(1, shown_as=self._first_nav_seq(1))
        v.action.start_mission()

    # -- monitoring ------------------------------------------------------------

    def _monitor(self) -> None:
        v = self.vehicle
        final_seq = len(self.mission.items)
        ends_home = bool(self.mission.items) and self.mission.items[-1].command in _HOME_ENDINGS
        budget = v.wall(mission_duration_s(self.mission, self.limits) * 2 + 300)
        deadline = time.monotonic() + budget
        was_airborne = True
        landed_since: float | None = None
        lost_since: float | None = None
        tick = time.monotonic()
        while True:
            if self.phase == Phase.PAUSED:  # time held (by the operator, an eyes-on) is not the patrol's
                deadline += time.monotonic() - tick
            tick = time.monotonic()
            state = v.state
            self.tracker.sample(state)
            if self.meter is not None:
                self.meter.sample(state)
            self._handle_requests()
            alive = v.link_alive
            if not alive:
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > v.wall(self.config.reconnect_timeout_s):
                    raise OperationTimeoutError(
                        "link", v.wall(self.config.reconnect_timeout_s), "lost and not restored"
                    )
            elif lost_since is not None:
                lost_since = None
                self._handled_rules.discard("link:rtl")  # a later loss is reported again
                self._emit(
                    VehicleEvent.now("mission_state", INFO, f"monitoring again in mode {state.mode}", mode=state.mode)
                )
            if self.phase in (Phase.MISSION, Phase.PAUSED) and alive:
                self.tracker.track_area(state, self._emit)
            if alive:
                measured = self.meter.percent_per_s() if self.meter is not None else None
                decision = evaluate(
                    state,
                    self.mission,
                    self.limits,
                    fence_breached=v.telemetry.fence_breached,
                    measured_percent_per_s=measured,
                )
            else:  # the state is stale; only the lost link itself can be judged
                decision = check_link(False, state)
            if decision.triggered:
                self._apply_failsafe(decision, alive)
            if alive and self.phase == Phase.MISSION:
                if state.mode in ("RTL", "SMART_RTL", "LAND") and state.armed:
                    # the vehicle's own failsafe (GCS, battery, fence) or a pilot took it home
                    self._outcome = self._outcome or "returned_early"
                    self._reason = self._reason or f"the vehicle switched to {state.mode}"
                    self._set_phase(Phase.LANDING if state.mode == "LAND" else Phase.RETURNING, self._reason)
                elif state.mode == "AUTO" and self._mission_done(state, final_seq, ends_home):
                    self.tracker.completed = True
                    self._outcome = self._outcome or "completed"
                    if ends_home:
                        self._set_phase(Phase.RETURNING, "mission flies home")
                    else:
                        self._return_home("mission complete")
            airborne = state.armed and not state.landed
            if was_airborne and not airborne and state.landed:
                self._set_phase(Phase.LANDED)
                landed_since = time.monotonic()
            was_airborne = airborne
            if self.phase == Phase.LANDED or (state.landed and self.phase != Phase.MISSION):
                if not state.armed:
                    self._set_phase(Phase.DISARMED)
                    break
                landed_since = landed_since or time.monotonic()
                if alive and time.monotonic() - landed_since > v.wall(20.0):
                    v.action.disarm()
            if time.monotonic() > deadline:
                raise OperationTimeoutError("patrol", budget, f"still {self.phase.value} in mode {state.mode}")
            time.sleep(_TICK_S)
        if not self._outcome:
            self._outcome = "completed" if self.tracker.completed else "returned_early"
        self._set_phase(Phase.DONE, self._outcome)

    @staticmethod
    def _mission_done(state: VehicleState, final_seq: int, ends_home: bool) -> bool:
        if ends_home:
            return state.mission_current_seq >= final_seq or state.mission_reached_seq >= final_seq - 1
        return state.mission_reached_seq >= final_seq

    def _return_home(self, why: str) -> None:
        self._set_phase(Phase.RETURNING, why)
        if self.vehicle.state.mode not in ("RTL", "SMART_RTL", "LAND"):
            self.vehicle.action.return_to_launch()

    def _apply_failsafe(self, decision: FailsafeDecision, alive: bool) -> None:
        key = f"{decision.rule}:{decision.action.value}"
        if key in self._handled_rules:
            return
        if decision.action == FailsafeAction.RTL and self.phase in (Phase.RETURNING, Phase.LANDING, Phase.LANDED):
            return
        if decision.action == FailsafeAction.LAND and self.phase in (Phase.LANDING, Phase.LANDED):
            return
        self._handled_rules.add(key)
        self.tracker.failsafes.append(decision.rule)
        data = {"rule": decision.rule, "action": decision.action.value}
        if decision.rule.startswith("battery"):
            self._emit(VehicleEvent.now("battery_low", CRITICAL, decision.reason, **data))
        self._emit(VehicleEvent.now("failsafe", CRITICAL, f"{decision.action.value}: {decision.reason}", **data))
        if not alive:
            # Nothing can be sent: the vehicle's own GCS failsafe acts. Whether it really
            # went home shows in its mode once the link is back (see _monitor).
            return
        self._outcome = self._outcome or "returned_early"
        self._reason = self._reason or decision.reason
        try:
            if decision.action == FailsafeAction.LAND:
                self._set_phase(Phase.LANDING, decision.reason)
                self.vehicle.action.land()
            elif decision.action == FailsafeAction.RTL:
                self._return_home(decision.reason)
            elif decision.action == FailsafeAction.HOLD:
                self._set_phase(Phase.PAUSED, decision.reason)
                self.vehicle.action.pause()
        except DronePatrolError as exc:
            self._emit(VehicleEvent.now("command_rejected", CRITICAL, f"failsafe {decision.action.value}: {exc}"))
            self._handled_rules.discard(key)

    def _handle_requests(self) -> None:
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            action = self.vehicle.action
            try:
                if request == "pause" and self.phase == Phase.MISSION:
                    action.pause()
                    self._set_phase(Phase.PAUSED, "paused by the operator")
                elif request == "resume" and self.phase == Phase.PAUSED:
                    action.resume()
                    self._set_phase(Phase.MISSION, "resumed by the operator")
                elif request == "rtl" and self.phase in (Phase.MISSION, Phase.PAUSED):
                    self._outcome, self._reason = "returned_early", "return requested by the operator"
                    self._return_home(self._reason)
                elif request == "abort" and self.phase in (Phase.MISSION, Phase.PAUSED, Phase.TAKEOFF):
                    self._outcome, self._reason = "aborted", "aborted by the operator"
                    self._return_home(self._reason)
            except DronePatrolError as exc:
                self._emit(VehicleEvent.now("command_rejected", WARNING, f"{request}: {exc}"))

    def _recover_after_failure(self) -> None:
        """After a failure in the air, send the vehicle home (best effort)."""
        state = self.vehicle.state
        if state.armed and not state.landed and self.vehicle.link_alive and state.mode not in ("RTL", "LAND"):
            try:
                self.vehicle.action.return_to_launch()
            except DronePatrolError as exc:
                log.error("RTL after failure refused: %s", exc)
        elif state.armed and state.landed and self.vehicle.link_alive:
            try:
                self.vehicle.action.disarm()
            except DronePatrolError as exc:
                log.error("disarm after failure refused: %s", exc)
