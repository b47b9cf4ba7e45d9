"""What a sortie did: live progress and the final report, assembled from states and events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drone_patrol.controller.events import INFO, VehicleEvent
from drone_patrol.core.errors import DronePatrolError
from drone_patrol.core.geo import distance_m
from drone_patrol.core.profile import VehicleProfile
from drone_patrol.core.types import GeoPoint, Mission, VehicleState


@dataclass(frozen=True, slots=True)
class PatrolProgress:
    """A snapshot for a progress bar."""

    phase: str
    mode: str
    reached: int
    total: int
    current_seq: int
    distance_flown_m: float
    distance_to_home_m: float | None
    battery_percent: float | None
    relative_altitude_m: float
    area_name: str | None
    upload_done: int = 0
    upload_total: int = 0

    @property
    def fraction(self) -> float:
        """Share of mission items reached, 0..1."""
        return min(self.reached / self.total, 1.0) if self.total else 0.0


@dataclass(frozen=True)
class PatrolReport:
    """The outcome of one sortie.

    ``waypoints_total`` counts navigation items (the ones a vehicle reports reaching).
    ``outcome`` is ``completed`` (every item flown, landed, disarmed), ``returned_early``
    (a failsafe, the operator or the vehicle brought it home first), ``aborted``,
    ``uploaded`` (dry run) or ``failed`` (``error`` says why). ``resume_seq`` is the item
    a follow-up sortie should start at (``None`` when the mission was completed): the
    first item not yet reached, or the item this flight started from when it reached none.
    ``consumption`` holds this flight's measured figures by phase, ``battery_used_percent``
    what it used in the air and ``predicted_percent`` what preflight expected (by the vehicle's
    learned profile, or by the config's endurance when ``predicted_by_profile`` is false).
    """

    mission_name: str
    outcome: str
    reason: str
    started_s: float
    ended_s: float
    waypoints_total: int
    reached_seqs: tuple[int, ...]
    last_reached_seq: int
    resume_seq: int | None
    areas_visited: tuple[str, ...]
    distance_flown_m: float
    max_relative_altitude_m: float
    min_battery_percent: float | None
    landed_at: GeoPoint | None
    landed_distance_from_home_m: float | None
    failsafes: tuple[str, ...]
    link_losses: int
    phases: tuple[tuple[float, str], ...]
    events: tuple[VehicleEvent, ...] = field(repr=False, default=())
    error: DronePatrolError | None = None
    consumption: VehicleProfile | None = None
    battery_used_percent: float | None = None
    predicted_percent: float | None = None
    predicted_by_profile: bool = False

    @property
    def duration_s(self) -> float:
        return self.ended_s - self.started_s

    @property
    def ok(self) -> bool:
        """True unless the sortie failed."""
        return self.outcome != "failed"

    def summary(self) -> str:
        """A few lines for the operator."""
        lines = [
            f"patrol {self.mission_name or '(unnamed)'}: {self.outcome}" + (f" ({self.reason})" if self.reason else ""),
            f"  items reached {len(self.reached_seqs)}/{self.waypoints_total}, "
            f"distance {self.distance_flown_m / 1000:.2f} km, duration {self.duration_s:.0f} s",
        ]
        if self.min_battery_percent is not None:
            lines.append(
                f"  battery min {self.min_battery_percent:.0f}%, max altitude {self.max_relative_altitude_m:.0f} m"
            )
        if self.battery_used_percent is not None:
            expected = ""
            if self.predicted_percent is not None:
                basis = (
                    "the vehicle's profile" if self.predicted_by_profile else "the config's endurance, no profile yet"
                )
                expected = f" (expected {self.predicted_percent:.0f}% by {basis})"
            lines.append(f"  battery used {self.battery_used_percent:.0f}%{expected}")
        if self.landed_distance_from_home_m is not None:
            lines.append(f"  landed {self.landed_distance_from_home_m:.1f} m from home")
        if self.areas_visited:
            lines.append(f"  areas: {', '.join(self.areas_visited)}")
        if self.failsafes or self.link_losses:
            lines.append(f"  failsafes: {', '.join(self.failsafes) or 'none'}; link losses: {self.link_losses}")
        if self.resume_seq is not None and self.outcome != "uploaded":
            lines.append(f"  resume a follow-up sortie at item {self.resume_seq}")
        return "\n".join(lines)


class Tracker:
    """Accumulates what the executor saw (thread-safe)."""

    def __init__(self, mission: Mission) -> None:
        self.mission = mission
        self.started_s = time.time()
        self._lock = threading.Lock()
        self.reached: list[int] = []
        self.areas: list[str] = []
        self.current_area: str | None = None
        self.distance_m = 0.0
        self.max_alt_m = 0.0
        self.min_battery: float | None = None
        self.failsafes: list[str] = []
        self.link_losses = 0
        self.phases: list[tuple[float, str]] = []
        self.events: list[VehicleEvent] = []
        self.completed = False
        self.start_seq = 1
        self.upload_done = 0
        self.upload_total = 0
        self._last_position: GeoPoint | None = None
        # MISSION_ITEM_REACHED comes for navigation commands (MAV_CMD_NAV_* are below 100)
        self.nav_total = sum(1 for wp in mission.items if wp.command < 100)

    def record_event(self, event: VehicleEvent) -> None:
        with self._lock:
            self.events.append(event)
            if event.kind == "waypoint_reached":
                seq = int(event.data.get("seq", -1))
                if seq not in self.reached:
                    self.reached.append(seq)
            elif event.kind == "link_lost":
                self.link_losses += 1

    def record_phase(self, phase: str) -> None:
        with self._lock:
            self.phases.append((time.time(), phase))

    def sample(self, state: VehicleState) -> None:
        """Integrate distance and extremes from one state."""
        with self._lock:
            if state.position is not None and state.armed:
                if self._last_position is not None:
                    step = distance_m(self._last_position, state.position)
                    if step > 0.2:
                        self.distance_m += step
                        self._last_position = state.position
                else:
                    self._last_position = state.position
            self.max_alt_m = max(self.max_alt_m, state.relative_altitude_m)
            if state.battery_percent is not None:
                b = state.battery_percent
                self.min_battery = b if self.min_battery is None else min(self.min_battery, b)

    def track_area(self, state: VehicleState, emit: Callable[[VehicleEvent], None]) -> None:
        """Emit ``area_left`` / ``area_entered`` when the current item moves between key areas."""
        area = self.mission.area_at(state.mission_current_seq)
        if area == self.current_area:
            return
        previous, self.current_area = self.current_area, area
        if previous is not None:
            emit(VehicleEvent.now("area_left", INFO, f"left key area {previous}", area=previous))
        if area is not None:
            if area not in self.areas:
                self.areas.append(area)
            emit(VehicleEvent.now("area_entered", INFO, f"entered key area {area}", area=area))

    def close_area(self, emit: Callable[[VehicleEvent], None]) -> None:
        """Emit ``area_left`` for the area being flown when the patrol part of the sortie ends."""
        if self.current_area is not None:
            previous, self.current_area = self.current_area, None
            emit(VehicleEvent.now("area_left", INFO, f"left key area {previous}", area=previous))

    def progress(self, phase: object, state: VehicleState) -> PatrolProgress:
        home = state.home or self.mission.home
        to_home = distance_m(state.position, home) if state.position is not None else None
        return PatrolProgress(
            phase=str(phase),
            mode=state.mode,
            reached=len(self.reached),
            total=self.nav_total,
            current_seq=state.mission_current_seq,
            distance_flown_m=self.distance_m,
            distance_to_home_m=to_home,
            battery_percent=state.battery_percent,
            relative_altitude_m=state.relative_altitude_m,
            area_name=self.current_area,
            upload_done=self.upload_done,
            upload_total=self.upload_total,
        )

    def report(self, outcome: str, reason: str, state: VehicleState, error: DronePatrolError | None) -> PatrolReport:
        with self._lock:
            last = max(self.reached, default=-1)
            total = len(self.mission.items)
            completed = outcome == "completed"
            # the first item not yet reached: after the last one reached, and never before the
            # item this flight started from (a resumed flight that reached nothing resumes there again)
            resume = None if completed else max(1, self.start_seq, min(last + 1, total)) if total else None
            landed_at = state.position if state.landed else None
            home = state.home or self.mission.home
            return PatrolReport(
                mission_name=self.mission.name,
                outcome=outcome,
                reason=reason,
                started_s=self.started_s,
                ended_s=time.time(),
                waypoints_total=self.nav_total,
                reached_seqs=tuple(self.reached),
                last_reached_seq=last,
                resume_seq=resume,
                areas_visited=tuple(self.areas),
                distance_flown_m=self.distance_m,
                max_relative_altitude_m=self.max_alt_m,
                min_battery_percent=self.min_battery,
                landed_at=landed_at,
                landed_distance_from_home_m=distance_m(landed_at, home) if landed_at is not None else None,
                failsafes=tuple(self.failsafes),
                link_losses=self.link_losses,
                phases=tuple(self.phases),
                events=tuple(self.events),
                error=error,
            )
