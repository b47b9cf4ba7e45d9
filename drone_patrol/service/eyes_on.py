""" "Eyes on": the onboard side of the command room's request to look at a point.

:class:`EyesOnService` listens on the drone's commands topic (through the publisher's
authenticated, persistent MQTT session), decides with
:class:`~drone_patrol.service.eyes_on_rules.CommandLedger` and
:class:`~drone_patrol.planner.eyes_on.ExcursionPlanner`, answers on
``.../commands/result`` and flies the excursion with
:class:`~drone_patrol.controller.guided.GuidedControl`:

pause the patrol (the executor's pause) -> GUIDED legs around the no-fly zones ->
stand ``CIRCLE_RADIUS`` from the point -> ROI on the point -> orbit it in GUIDED,
streaming position + velocity targets round the circle with the nose on the point
(:class:`~drone_patrol.planner.orbit.OrbitTracker`), or hover over the point where an
orbit would touch a no-fly margin or the fence or the radius is under
``MIN_ORBIT_RADIUS_M`` -> watch for the requested time or until released -> GUIDED
legs back to where the patrol was left -> DO_SET_MISSION_CURRENT to the item it was
flying to -> AUTO (the executor's resume).

The orbit is GUIDED, not CIRCLE mode, because CIRCLE takes its climb rate from the
pilot's throttle stick: the patrol drone has no pilot, the stick rests low, and in
CIRCLE it sinks to the ground (2.5 m/s on SITL). GUIDED holds the altitude it is given.

A command is taken in at least once: the broker gets its PUBACK only after the ledger has
recorded the decision (on disk) and the answer is queued in the outbox
(:meth:`AlertPublisher.on_command_delivery`), so a command received just before the
service went down comes again after the restart, and one already answered is answered
again from the ledger, never flown twice.

The camera and the live video keep running throughout: the patrol's data path is not
touched. A failsafe that takes the vehicle (RTL, LAND) ends the command as ``failed``
with reason ``interrupted``; the executor goes on handling the vehicle.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from drone_patrol.alerts.delivery import CommandDelivery
from drone_patrol.alerts.eyes_on import CommandSchemaError, CommandState, EyesOnCommand, Reason, ReleaseCommand
from drone_patrol.alerts.publisher import AlertPublisher
from drone_patrol.controller import Phase, Vehicle
from drone_patrol.controller.guided import GuidedControl, OrbitSettings
from drone_patrol.core.config import Settings
from drone_patrol.core.errors import DronePatrolError
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint, Mission
from drone_patrol.mission.areas import AreaSet
from drone_patrol.planner.eyes_on import Excursion, ExcursionPlanner, Refusal
from drone_patrol.planner.orbit import Orbit, OrbitTracker, orbit_speed_m_s
from drone_patrol.service.command_memory import PersistentLedger, ledger_path
from drone_patrol.service.eyes_on_rules import Decision

log = logging.getLogger(__name__)

S = CommandState
_ARRIVE_M = 1.5  # horizontal and vertical distance that counts as arrived (ArduCopter WPNAV_RADIUS is 2 m)
_POLL_S = 0.05
_TARGET_EVERY_S = 0.25  # vehicle seconds between orbit targets (well within ArduCopter's GUID_TIMEOUT of 3 s)
_BLIND_S = 2.0  # vehicle seconds without a position after which no more orbit targets are sent
_OURS = ("GUIDED", "BRAKE", "LOITER")  # modes the excursion (or the executor's pause) puts it in


class _Released(Exception):
    pass


class _Interrupted(Exception):
    pass


class EyesOnService:
    """Answers and flies "eyes on" and release commands; see the module docstring.

    ``current_run`` returns the patrol in flight (an object with ``executor`` and
    ``mission``) or ``None``.
    """

    def __init__(
        self,
        settings: Settings,
        areas: AreaSet,
        vehicle: Vehicle,
        publisher: AlertPublisher,
        current_run: Callable[[], Any],
    ) -> None:
        self.settings, self.areas, self.vehicle, self.publisher = settings, areas, vehicle, publisher
        self.current_run = current_run
        site = settings.site
        self.ledger = PersistentLedger(
            ledger_path(site.data_dir, site.drone_id), site.id, site.drone_id, settings.alerts.topic_prefix
        )
        self.guided = GuidedControl(vehicle)
        self.frame = LocalFrame(areas.home_point)
        self._lock = threading.Lock()
        self._inbox: queue.Queue[CommandDelivery | None] = queue.Queue()
        self._release = threading.Event()
        self._worker: threading.Thread | None = None
        self._flight: threading.Thread | None = None
        self._planners: dict[tuple[int, float], ExcursionPlanner] = {}
        self._orbit: OrbitSettings | None = None
        self._returning: str | None = None
        self.history: list[tuple[str, CommandState, Reason | None]] = []

    # ------------------------------------------------------------------ life cycle

    def start(self) -> EyesOnService:
        """Listen for commands (in the publisher's network thread, handled in a worker thread)."""
        for command_id, reason in self.ledger.interrupted:  # in progress when the service last stopped
            self._answer(command_id, S.FAILED, reason)
        self.publisher.on_command_delivery(self._inbox.put)
        self._worker = threading.Thread(target=self._work, name="eyes-on", daemon=True)
        self._worker.start()
        return self

    def stop(self) -> None:
        """Stop answering; an excursion in flight is released (the patrol resumes or the executor ends it)."""
        self._release.set()
        self._inbox.put(None)
        if self._worker is not None:
            self._worker.join(5)
        if self._flight is not None:
            self._flight.join(self.vehicle.wall(120.0))

    @property
    def busy(self) -> bool:
        """True while an excursion is in progress."""
        return self.ledger.active is not None

    # ------------------------------------------------------------------ deciding

    def _work(self) -> None:
        while True:
            delivery = self._inbox.get()
            if delivery is None:
                return  # what is still queued is not acknowledged: the broker sends it again
            try:
                self._handle(delivery.command)
            except Exception:
                log.exception("eyes-on: command handling failed")
            finally:
                # the decision is on disk (the ledger) and the answer in the outbox: PUBACK it now. A
                # command whose handling failed is acknowledged too, or it would hold every later PUBACK.
                delivery.taken()

    def planner_for(self, mission: Mission) -> ExcursionPlanner:
        """The excursion planner of ``mission``'s fence and the vehicle's CIRCLE_RADIUS (the circle settings
        are read afresh, kept when the vehicle does not answer); cached per fence and radius."""
        try:
            self._orbit = self.guided.orbit_settings()
        except DronePatrolError as err:
            if self._orbit is None:
                raise
            log.warning("eyes-on: circle settings not read (%s); using %s", err, self._orbit)
        radius = self._orbit.radius_m
        key = (id(mission.fence), radius)
        if key not in self._planners:
            self._planners[key] = ExcursionPlanner(self.areas, mission.fence, self.settings.planner, radius)
        return self._planners[key]

    def _handle(self, message: EyesOnCommand | ReleaseCommand | CommandSchemaError) -> None:
        run = self.current_run()
        state = self.vehicle.state
        flying = (
            run is not None
            and run.executor.phase == Phase.MISSION
            and state.armed
            and not state.landed
            and state.position is not None
        )

        def judge(cmd: EyesOnCommand) -> Excursion | Refusal:
            target = GeoPoint(cmd.lat_deg, cmd.lon_deg, 0.0)
            assert state.position is not None and run is not None
            try:
                planner = self.planner_for(run.mission)
            except DronePatrolError as err:  # the vehicle did not give its CIRCLE_RADIUS
                return Refusal("vehicle", f"cannot plan the excursion: {err}")
            return planner.plan(target, cmd.duration_s, cmd.altitude_m, state.position, state.battery_percent)

        with self._lock:
            decision = self.ledger.receive(
                message, flying_patrol=flying, judge=judge, returning_from=self._returning, now_s=time.time()
            )
        log.info("eyes-on: %s -> %s", getattr(message, "command_id", message), decision.action)
        if decision.action == "release":
            self._release.set()
        elif decision.action == "answer" and decision.state is not None and decision.command_id is not None:
            self._answer(decision.command_id, decision.state, decision.reason)
        elif decision.action == "start" and decision.excursion is not None:
            exc = decision.excursion
            log.info(
                "eyes-on %s: %d leg(s), %.0f m round the no-fly zones, %s at %.0f m; battery %.0f%% of %.0f%% usable",
                decision.command_id, len(exc.legs_out), exc.out_length_m,
                f"orbit of {exc.orbit_radius_m:g} m" if exc.orbit_radius_m > 0 else "hover", exc.relative_altitude_m,
                exc.battery_needed_fraction * 100, exc.battery_available_fraction * 100,
            )  # fmt: skip
            self._release.clear()
            self._answer(str(decision.command_id), S.ACCEPTED, None)
            self._flight = threading.Thread(target=self._fly, args=(decision, run), name="eyes-on-flight", daemon=True)
            self._flight.start()

    def _answer(self, command_id: str, state: CommandState, reason: Reason | None) -> None:
        self.history.append((command_id, state, reason))
        self.publisher.publish_command_result(command_id, state, reason)
        why = f" ({reason.code}: {reason.text})" if reason else ""
        log.info("eyes-on %s: %s%s", command_id, state.value, why)

    def _step(self, command_id: str, state: CommandState, reason: Reason | None = None) -> None:
        with self._lock:
            self.ledger.record(command_id, state, reason)
        self._answer(command_id, state, reason)
        self.publisher.publish_status("online", eyes_on={"command_id": command_id, "state": state.value})

    # ------------------------------------------------------------------ flying

    def _fly(self, decision: Decision, run: Any) -> None:
        cid = str(decision.command_id)
        exc, cmd = decision.excursion, decision.command
        assert exc is not None and cmd is not None
        v, ex = self.vehicle, run.executor
        start = v.state
        resume_seq = max(1, start.mission_current_seq)
        left_at = start.position
        left_alt_m = start.relative_altitude_m
        final: CommandState | None = None
        try:
            ex.pause()
            # a release now still waits for the pause, so that the patrol is resumed, not left held
            self._wait(lambda: ex.phase == Phase.PAUSED, 15.0, "the patrol to pause", check=False, releasable=False)
            self._step(cid, S.EN_ROUTE)
            for leg in exc.legs_out:
                self._go(leg, exc.relative_altitude_m)
            tracker = self._orbit_tracker(exc)
            if tracker is not None:
                # the ROI turns a mount (if any) to the point; the orbit's targets carry the nose's heading
                self.guided.point_at(exc.target.latitude_deg, exc.target.longitude_deg)
            self._step(cid, S.ON_STATION)
            self._watch(cmd.duration_s, exc, tracker)
            final = S.COMPLETED
        except _Released:
            final = S.RELEASED
        except _Interrupted as why:
            self._step(cid, S.FAILED, Reason("interrupted", str(why)))
        except DronePatrolError as err:
            log.error("eyes-on %s: %s", cid, err)
            self._step(cid, S.FAILED, Reason("vehicle", str(err)))
        if final is not None:
            self._step(cid, final)
        # back to the patrol unless something else (a failsafe, a pilot, the end of the patrol) has the vehicle
        if left_at is not None and ex.phase == Phase.PAUSED and v.state.mode in _OURS:
            self._back_to_patrol(cid, run, left_at, left_alt_m, exc.relative_altitude_m, resume_seq)

    def _check(self) -> None:
        run = self.current_run()
        st = self.vehicle.state
        if run is None or run.executor.phase != Phase.PAUSED:
            phase = "ended" if run is None else run.executor.phase.value
            raise _Interrupted(f"the patrol took the vehicle back ({phase}, mode {st.mode})")
        if not st.armed or st.mode not in _OURS:
            raise _Interrupted(f"the vehicle left the excursion (mode {st.mode})")

    def _wait(
        self, done: Callable[[], bool], vehicle_s: float, what: str, *, check: bool = True, releasable: bool = True
    ) -> None:
        deadline = time.monotonic() + self.vehicle.wall(vehicle_s)
        while not done():
            if releasable and self._release.is_set():
                raise _Released()
            if check:
                self._check()
            if time.monotonic() > deadline:
                raise _Interrupted(f"no {what} within {vehicle_s:.0f} s")
            time.sleep(_POLL_S)

    def _distance_m(self, p: GeoPoint, relative_altitude_m: float) -> tuple[float, float]:
        st = self.vehicle.state
        if st.position is None:
            return math.inf, math.inf
        e1, n1, _ = self.frame.point_to_enu(st.position)
        e2, n2, _ = self.frame.point_to_enu(p)
        return math.hypot(e1 - e2, n1 - n2), abs(st.relative_altitude_m - relative_altitude_m)

    def _go(self, p: GeoPoint, relative_altitude_m: float, *, releasable: bool = True) -> None:
        self.guided.go_to(p.latitude_deg, p.longitude_deg, relative_altitude_m)
        far, _ = self._distance_m(p, relative_altitude_m)
        budget = far / max(1.0, self.settings.planner.speed_m_s) * 3 + 60.0

        def arrived() -> bool:
            d, dz = self._distance_m(p, relative_altitude_m)
            return d < _ARRIVE_M and dz < _ARRIVE_M and self.vehicle.state.ground_speed_m_s < 1.0

        where = f"arrival at ({p.latitude_deg:.6f}, {p.longitude_deg:.6f})"
        self._wait(arrived, budget, where, releasable=releasable)

    def _orbit_tracker(self, exc: Excursion) -> OrbitTracker | None:
        """The orbit round the point (None: hover over it) at the vehicle's CIRCLE_RATE within AC_Circle's limits."""
        o = self._orbit
        if exc.orbit_radius_m <= 0 or o is None:
            return None
        speed = orbit_speed_m_s(exc.orbit_radius_m, o.rate_deg_s, o.max_speed_m_s, o.accel_m_s2)
        if speed <= 0:
            return None
        orbit = Orbit(exc.orbit_radius_m, speed, clockwise=o.rate_deg_s >= 0, accel_m_s2=o.accel_m_s2)
        return OrbitTracker(orbit)

    def _watch(self, duration_s: float, exc: Excursion, tracker: OrbitTracker | None) -> None:
        """Hold station for ``duration_s``: hover (GUIDED holds the last go-to) or stream the orbit's targets.

        Targets go out every ``_TARGET_EVERY_S`` of the vehicle's clock, estimated from the last
        position and the wall time since it came, so a late position does not hold them back; with
        no position for ``_BLIND_S`` none are sent, and the vehicle stops at the last one after
        ArduCopter's GUID_TIMEOUT rather than being steered blind.
        """
        around = LocalFrame(GeoPoint(exc.target.latitude_deg, exc.target.longitude_deg, 0.0))
        sent_s: float | None = None
        seen_s, seen_wall = math.nan, 0.0
        deadline = time.monotonic() + self.vehicle.wall(duration_s)
        while time.monotonic() < deadline:
            if self._release.wait(_POLL_S):
                raise _Released()
            self._check()
            st = self.vehicle.state
            if tracker is None or st.position is None or st.vehicle_time_s is None:
                continue
            if st.vehicle_time_s != seen_s:
                seen_s, seen_wall = st.vehicle_time_s, time.monotonic()
            now_s = seen_s + (time.monotonic() - seen_wall) * self.vehicle.speedup
            if now_s - seen_s > _BLIND_S or (sent_s is not None and 0.0 <= now_s - sent_s < _TARGET_EVERY_S):
                continue
            sent_s = now_s
            e, n, _ = around.point_to_enu(GeoPoint(st.position.latitude_deg, st.position.longitude_deg, 0.0))
            sp = tracker.setpoint(now_s, e, n)
            p = around.enu_to_point(sp.east_m, sp.north_m, 0.0)
            log.debug("eyes-on orbit: t %.2f s (position of %.2f s), %.1f m from the point, target %.0f deg",
                      now_s, seen_s, math.hypot(e, n), tracker.bearing_deg)  # fmt: skip
            self.guided.track(p.latitude_deg, p.longitude_deg, exc.relative_altitude_m, sp.velocity_north_m_s,
                              sp.velocity_east_m_s, sp.yaw_deg, sp.yaw_rate_deg_s)  # fmt: skip

    def _back_to_patrol(
        self, cid: str, run: Any, left_at: GeoPoint, left_alt_m: float, transit_alt_m: float, seq: int
    ) -> None:
        """Fly back to where the patrol was left, around the no-fly zones, and resume it at item ``seq``."""
        self._returning = cid
        try:
            self._check()
            here = self.vehicle.state.position
            assert here is not None
            legs = self.planner_for(run.mission).path_back(here, left_at)
            for i, leg in enumerate(legs):
                self._go(leg, left_alt_m if i == len(legs) - 1 else transit_alt_m, releasable=False)
            self.vehicle.action.set_current(seq)
            run.executor.resume()
            deadline = time.monotonic() + self.vehicle.wall(15.0)
            while run.executor.phase != Phase.MISSION and time.monotonic() < deadline:
                time.sleep(_POLL_S)
            log.info("eyes-on %s: patrol resumed at item %d (phase %s)", cid, seq, run.executor.phase.value)
            self.publisher.publish_status("online", eyes_on=None, mission_state=run.executor.phase.value)
        except (_Interrupted, DronePatrolError) as err:
            log.error("eyes-on %s: could not resume the patrol: %s", cid, err)
        finally:
            self._returning = None
