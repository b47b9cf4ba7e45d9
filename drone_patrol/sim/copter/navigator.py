"""AUTO-mode mission execution, as ArduCopter's AP_Mission and ModeAuto run it.

The current navigation command is flown while the "do" commands that follow it
(up to the next navigation command) run at once. DO_JUMP is followed with its
repeat count (-1: forever). Each navigation command is announced with
"Mission: N <type>", its completion with MISSION_ITEM_REACHED, and waypoints and
loiters also with "Reached command #N".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.types import MavCmd
from drone_patrol.core.wpnav import WpnavLimits, leg
from drone_patrol.sim.copter.missions import NAV_COMMANDS, Item

if TYPE_CHECKING:
    from drone_patrol.sim.copter.autopilot import Autopilot

_TYPE_NAMES = {
    16: "WP",
    82: "SplineWP",
    20: "RTL",
    17: "LoitUnlim",
    19: "LoitTime",
    18: "LoitTurns",
    22: "Takeoff",
    21: "Land",
    93: "Delay",
    177: "Jump",
    178: "ChangeSpeed",
    195: "SetROILocation",
    197: "SetROINone",
    201: "SetROI",
    207: "FenceEnable",
    189: "LandStart",
    112: "CondDelay",
}

STOPPED = mavlink2.MISSION_STATE_NOT_STARTED
RUNNING = mavlink2.MISSION_STATE_ACTIVE
COMPLETE = mavlink2.MISSION_STATE_COMPLETE


@dataclass
class NavState:
    """Progress within the current navigation command."""

    target: tuple[float, float, float] | None = None  # north, east, up (m from home)
    arrived: bool = False
    arrive_time_s: float = 0.0
    angle_swept_deg: float = 0.0
    orbit_angle_deg: float = 0.0
    landing: bool = False
    speed_m_s: float | None = None  # a waypoint leg's speed: what its S-curve reaches (None: WPNAV_SPEED)


@dataclass
class MissionRunner:
    """State of the mission in AUTO: current nav index, jump counters, run state."""

    state: int = STOPPED
    nav_index: int = 0
    jumps: dict[int, int] = field(default_factory=dict)
    nav: NavState = field(default_factory=NavState)
    auto_rtl: bool = False

    def items(self, ap: Autopilot) -> list[Item]:
        """The stored mission (index 0 is home)."""
        return ap.store.lists[0]

    # --------------------------------------------------------------- traversal
    def _next_nav(self, ap: Autopilot, start: int, run_dos: bool) -> int | None:
        """Index of the next navigation command from ``start``, following jumps."""
        items = self.items(ap)
        i = start
        guard = 0
        while 0 < i < len(items) and guard < 10000:
            guard += 1
            it = items[i]
            if it.command in NAV_COMMANDS:
                return i
            if it.command == MavCmd.DO_JUMP:
                target, repeat = int(it.param1), int(it.param2)
                done = self.jumps.get(i, 0)
                if repeat < 0 or done < repeat:
                    self.jumps[i] = done + 1
                    if run_dos:
                        total = "unlimited" if repeat < 0 else str(repeat)
                        ap.say(mavlink2.MAV_SEVERITY_INFO, f"Mission: {i} Jump {done + 1}/{total}")
                    i = target
                    continue
            elif run_dos:
                pass
            i += 1
        return None

    def _run_dos_between(self, ap: Autopilot, first: int, nav_index: int) -> None:
        """Start the "do" commands in [first, nav_index) as AP_Mission does on its way to the next nav command."""
        items = self.items(ap)
        for i in range(max(first, 1), min(nav_index, len(items))):
            it = items[i]
            if it.command in NAV_COMMANDS or it.command == MavCmd.DO_JUMP:
                continue
            ap.say(mavlink2.MAV_SEVERITY_INFO, f"Mission: {i} {_TYPE_NAMES.get(it.command, 'Cmd')}")
            do_command(ap, it)
            if it.command != 112:  # CONDITION_DELAY is not waited for here; the rest complete at once
                ap.item_reached(i)

    def start(self, ap: Autopilot, restart: bool) -> None:
        """Start (from the first command) or resume the mission."""
        if restart or self.state == COMPLETE or self.nav_index == 0:
            self.jumps.clear()
            first = self._next_nav(ap, 1, run_dos=False)
            # "Do" commands before the first navigation command run at start.
            if first is None:
                self._complete(ap)
                return
            self._run_dos_between(ap, 1, first)
            self._begin(ap, first)
        else:
            self._begin(ap, self.nav_index)
        self.state = RUNNING

    def stop(self) -> None:
        """Leave AUTO: the mission keeps its place for a resume."""
        if self.state == RUNNING:
            self.state = STOPPED

    def set_current(self, ap: Autopilot, seq: int) -> bool:
        """DO_SET_MISSION_CURRENT / MISSION_SET_CURRENT."""
        items = self.items(ap)
        if seq >= len(items):
            return False
        seq = max(seq, 1)
        nxt = self._next_nav(ap, seq, run_dos=False)
        if nxt is None:
            return False
        if self.state == RUNNING:
            self._begin(ap, nxt)
        else:
            self.nav_index = nxt
            if self.state == COMPLETE:
                self.state = STOPPED
        return True

    def mission_changed(self, ap: Autopilot) -> None:
        """A new upload: restart the current navigation command (or the mission's end)."""
        items = self.items(ap)
        if self.nav_index >= len(items):
            self.nav_index = 0
            if self.state == RUNNING:
                self._complete(ap)
            return
        if self.state == RUNNING and self.nav_index > 0:
            self._begin(ap, self.nav_index)

    def _begin(self, ap: Autopilot, index: int) -> None:
        self.nav_index = index
        self.nav = NavState()
        it = self.items(ap)[index]
        ap.say(mavlink2.MAV_SEVERITY_INFO, f"Mission: {index} {_TYPE_NAMES.get(it.command, 'Cmd')}")
        if it.command == MavCmd.NAV_RETURN_TO_LAUNCH:
            ap.rtl.begin(ap)
        elif it.command == MavCmd.NAV_LAND and it.x == 0 and it.y == 0:
            self.nav.landing = True
            ap.land_begin()

    def _complete(self, ap: Autopilot) -> None:
        self.state = COMPLETE
        ap.mission_complete()

    def _reached(self, ap: Autopilot, announce: bool) -> None:
        index = self.nav_index
        if announce:
            ap.say(mavlink2.MAV_SEVERITY_INFO, f"Reached command #{index}")
        ap.item_reached(index)
        nxt = self._next_nav(ap, index + 1, run_dos=True)
        if nxt is None:
            self._run_dos_between(ap, index + 1, len(self.items(ap)))
            self._complete(ap)
        else:
            if nxt > index:
                self._run_dos_between(ap, index + 1, nxt)
            self._begin(ap, nxt)

    # ------------------------------------------------------------------ flying
    def _location(self, ap: Autopilot, it: Item) -> tuple[float, float, float]:
        body = ap.body
        if it.x == 0 and it.y == 0:
            n, e = body.north_m, body.east_m
        else:
            n, e = ap.frame.to_ne(it.latitude_deg, it.longitude_deg)
        if it.frame == mavlink2.MAV_FRAME_GLOBAL:
            up = it.z - ap.home.altitude_m
        else:
            up = it.z
        if it.z == 0 and it.command != MavCmd.NAV_LAND:
            up = body.up_m
        return n, e, up

    def _stop_at(self, ap: Autopilot, index: int, hold_s: float) -> bool:
        if hold_s > 0:
            return True
        items = self.items(ap)
        nxt = self._next_nav_peek(ap, index + 1)
        return nxt is None or items[nxt].command not in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_SPLINE_WAYPOINT)

    @staticmethod
    def _leg_speed(ap: Autopilot, target: tuple[float, float, float]) -> float | None:
        """The speed a waypoint leg reaches: ArduCopter flies each leg as a jerk-limited S-curve
        from rest to rest (``core/wpnav.py``), so a short one (10 m between two orbit points)
        peaks well below WPNAV_SPEED; None when the leg reaches it."""
        speed = ap.speed_override_m_s or ap.params.get("WPNAV_SPEED") / 100.0
        limits = WpnavLimits(ap.params.get("WPNAV_ACCEL") / 100.0, ap.params.get("WPNAV_JERK"))
        length = math.hypot(target[0] - ap.body.north_m, target[1] - ap.body.east_m)
        peak = leg(length, speed, limits).peak_speed_m_s
        return peak if 0.0 < peak < speed else None

    def _next_nav_peek(self, ap: Autopilot, start: int) -> int | None:
        saved = dict(self.jumps)
        try:
            return self._next_nav(ap, start, run_dos=False)
        finally:
            self.jumps = saved

    def update(self, ap: Autopilot, dt: float) -> None:
        """Fly the current navigation command for ``dt`` seconds."""
        if self.state != RUNNING or self.nav_index <= 0 or self.nav_index >= len(self.items(ap)):
            ap.hold_position(dt)
            return
        it = self.items(ap)[self.nav_index]
        nav = self.nav
        cmd = it.command
        now = ap.time_s
        if cmd == MavCmd.NAV_TAKEOFF:
            if nav.target is None:
                up = it.z - ap.home.altitude_m if it.frame == mavlink2.MAV_FRAME_GLOBAL else it.z
                nav.target = (ap.body.north_m, ap.body.east_m, max(up, ap.body.up_m))
                ap.takeoff_started()
            ap.fly_to(dt, nav.target, stop=True, speed_up=ap.limits.climb_m_s)
            if abs(ap.body.up_m - nav.target[2]) < 0.2:
                self._reached(ap, announce=False)
            return
        if cmd == MavCmd.NAV_RETURN_TO_LAUNCH:
            ap.rtl.update(ap, dt)
            if ap.landed:
                self._reached(ap, announce=False)
            return
        if cmd == MavCmd.NAV_LAND:
            if not nav.landing:
                if nav.target is None:
                    n, e, _ = self._location(ap, it)
                    nav.target = (n, e, ap.body.up_m)
                ap.fly_to(dt, nav.target, stop=True)
                if math.hypot(ap.body.north_m - nav.target[0], ap.body.east_m - nav.target[1]) < 0.5:
                    nav.landing = True
                    ap.land_begin()
                return
            ap.land_update(dt)
            if ap.landed:
                self._reached(ap, announce=False)
            return
        if cmd == 93:  # NAV_DELAY: param1 seconds
            if not nav.arrived:
                nav.arrived, nav.arrive_time_s = True, now
            ap.hold_position(dt)
            if now - nav.arrive_time_s >= max(0.0, it.param1):
                self._reached(ap, announce=False)
            return
        if nav.target is None:
            nav.target = self._location(ap, it)
            if cmd == MavCmd.NAV_WAYPOINT:
                nav.speed_m_s = self._leg_speed(ap, nav.target)
        hold_s = it.param1 if cmd in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_SPLINE_WAYPOINT, MavCmd.NAV_LOITER_TIME) else 0.0
        if cmd == MavCmd.NAV_LOITER_TURNS:
            self._loiter_turns(ap, dt, it)
            return
        if not nav.arrived:
            stop = cmd != MavCmd.NAV_WAYPOINT or self._stop_at(ap, self.nav_index, hold_s)
            ap.fly_to(dt, nav.target, stop=stop, speed=nav.speed_m_s)
            dist = math.hypot(ap.body.north_m - nav.target[0], ap.body.east_m - nav.target[1])
            radius = ap.params.get("WPNAV_RADIUS") / 100.0
            if dist <= (radius if not stop else min(radius, 0.5)) and abs(ap.body.up_m - nav.target[2]) < 1.0:
                nav.arrived, nav.arrive_time_s = True, now
        else:
            ap.fly_to(dt, nav.target, stop=True)
        if not nav.arrived:
            return
        if cmd == MavCmd.NAV_LOITER_UNLIM:
            return
        if now - nav.arrive_time_s >= hold_s:
            self._reached(ap, announce=True)

    def _loiter_turns(self, ap: Autopilot, dt: float, it: Item) -> None:
        nav = self.nav
        assert nav.target is not None
        radius = abs(it.param3) if it.param3 else ap.params.get("CIRCLE_RADIUS") / 100.0
        radius = max(radius, 1.0)
        ccw = it.param3 < 0
        cn, ce, cu = nav.target
        if not nav.arrived:
            # Fly to the edge of the circle nearest the vehicle.
            bn, be = ap.body.north_m - cn, ap.body.east_m - ce
            d = math.hypot(bn, be) or 1.0
            entry = (cn + bn / d * radius, ce + be / d * radius, cu)
            ap.fly_to(dt, entry, stop=True)
            if math.hypot(ap.body.north_m - entry[0], ap.body.east_m - entry[1]) < 1.0:
                nav.arrived = True
                nav.orbit_angle_deg = math.degrees(math.atan2(be, bn))
            return
        speed = min(ap.limits.speed_m_s, math.sqrt(ap.limits.accel_m_s2 * radius))
        rate = math.degrees(speed / radius) * (-1.0 if ccw else 1.0)
        nav.orbit_angle_deg += rate * dt
        nav.angle_swept_deg += abs(rate * dt)
        a = math.radians(nav.orbit_angle_deg)
        point = (cn + radius * math.cos(a), ce + radius * math.sin(a), cu)
        ap.fly_to(dt, point, stop=False, speed=speed * 1.2)
        if nav.angle_swept_deg >= 360.0 * max(it.param1, 0.0):
            self._reached(ap, announce=True)


def do_command(ap: Autopilot, item: Item) -> None:
    """Run a mission "do" command."""
    cmd = item.command
    if cmd == MavCmd.DO_CHANGE_SPEED:
        ap.change_speed(int(item.param1), item.param2)
    elif cmd in (MavCmd.DO_SET_ROI_LOCATION, 201):
        if item.x == 0 and item.y == 0:
            ap.roi = None
        else:
            n, e = ap.frame.to_ne(item.latitude_deg, item.longitude_deg)
            ap.roi = (n, e, item.z)
    elif cmd == MavCmd.DO_SET_ROI_NONE:
        ap.roi = None
    elif cmd == MavCmd.DO_FENCE_ENABLE:
        ap.fence_enable(int(item.param1))
