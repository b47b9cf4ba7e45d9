"""Measuring a flight's battery consumption by phase, for the vehicle's profile and the in-flight rule.

Each telemetry sample is put in a phase by what the vehicle does: take-off (climbing
faster than 0.5 m/s while barely moving), cruise (2 m/s or more over the ground, which
includes orbits), hover (the rest in the air: holding, turning, descending, landing).
The battery current (SYS_STATUS) is integrated over the time between samples; without
it the monitor's consumed mAh (BATTERY_STATUS) is split between the phases, and without
that the percent. Time is the vehicle's own clock (GLOBAL_POSITION_INT's time since
boot), so a vehicle running slower than its nominal speedup is measured right; without
it, wall time times the speedup. What the flight used in all is the monitor's own
consumed mAh from the first sample in the air to the last, when it reports them.
"""

from __future__ import annotations

from drone_patrol.core.profile import PhaseFigure, VehicleProfile
from drone_patrol.core.types import VehicleState

_MAX_GAP_S = 3.0


def phase_of(state: VehicleState) -> str | None:
    """``takeoff``, ``cruise``, ``hover`` or None (on the ground)."""
    if not state.armed or state.landed:
        return None
    if state.ground_speed_m_s >= 2.0:
        return "cruise"
    if state.climb_rate_m_s > 0.5:
        return "takeoff"
    return "hover"


class ConsumptionMeter:
    """Integrates one flight's consumption by phase; not thread-safe (the executor's monitor owns it)."""

    def __init__(self, capacity_mah: float, speedup: float = 1.0) -> None:
        self.capacity_mah = capacity_mah
        self.speedup = speedup
        self.mah = {"takeoff": 0.0, "cruise": 0.0, "hover": 0.0}
        self.seconds = {"takeoff": 0.0, "cruise": 0.0, "hover": 0.0}
        self.distance_m = 0.0
        self.start_percent: float | None = None
        self.last_percent: float | None = None
        self._consumed: list[float] = []  # the monitor's first and last consumed mAh in the air
        self._last: VehicleState | None = None

    def _used_mah(self, a: VehicleState, b: VehicleState, dt_s: float) -> float:
        # the current first: a reading cannot jump the way a reset or re-estimated consumed
        # figure (or a battery swapped under a powered vehicle) can
        if b.battery_current_a is not None:
            return b.battery_current_a * dt_s / 3.6
        if a.battery_consumed_mah is not None and b.battery_consumed_mah is not None:
            return max(0.0, b.battery_consumed_mah - a.battery_consumed_mah)
        if a.battery_percent is not None and b.battery_percent is not None:
            return max(0.0, a.battery_percent - b.battery_percent) * self.capacity_mah / 100.0
        return 0.0

    def sample(self, state: VehicleState) -> None:
        """Add one telemetry snapshot."""
        last, self._last = self._last, state
        phase = phase_of(state)
        if phase is not None and state.battery_percent is not None:
            if self.start_percent is None:
                self.start_percent = state.battery_percent
            self.last_percent = state.battery_percent
        if phase is not None and state.battery_consumed_mah is not None:
            self._consumed[1:] = [state.battery_consumed_mah]
            if len(self._consumed) == 1:
                self._consumed.insert(0, state.battery_consumed_mah)
        if last is None or phase is None or phase_of(last) is None:
            return
        if state.vehicle_time_s is not None and last.vehicle_time_s is not None:
            dt = state.vehicle_time_s - last.vehicle_time_s
            if dt == 0.0:  # the same position report: wait for the vehicle's clock to move
                self._last = last
                return
        else:
            dt = (state.time_s - last.time_s) * self.speedup
        if not 0.0 < dt <= _MAX_GAP_S * self.speedup:
            return
        self.mah[phase] += self._used_mah(last, state, dt)
        self.seconds[phase] += dt
        if phase == "cruise":
            self.distance_m += state.ground_speed_m_s * dt

    @property
    def airborne_s(self) -> float:
        """Vehicle seconds in the air so far."""
        return sum(self.seconds.values())

    @property
    def used_percent(self) -> float:
        """Percent of the battery used in the air so far: by the monitor's consumed mAh, else integrated."""
        if len(self._consumed) == 2:
            return 100.0 * (self._consumed[1] - self._consumed[0]) / self.capacity_mah
        return 100.0 * sum(self.mah.values()) / self.capacity_mah

    def percent_per_s(self, min_airborne_s: float = 60.0) -> float | None:
        """The measured mean rate in the air, once there is enough of it."""
        if self.airborne_s < min_airborne_s:
            return None
        return 100.0 * sum(self.mah.values()) / self.capacity_mah / self.airborne_s

    def profile(self, vehicle_id: str) -> VehicleProfile:
        """This flight's figures as a one-flight profile."""

        def fig(phase: str) -> PhaseFigure:
            s = self.seconds[phase]
            return PhaseFigure(60.0 * self.mah[phase] / s if s > 0 else 0.0, s)

        cruise_s = self.seconds["cruise"]
        return VehicleProfile(
            vehicle_id,
            self.capacity_mah,
            fig("takeoff"),
            fig("cruise"),
            fig("hover"),
            self.distance_m / cruise_s if cruise_s > 0 else 0.0,
        )
