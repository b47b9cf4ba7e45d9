"""RTL as ArduCopter's ModeRTL flies it: climb, return, loiter, then land or hold.

The return target is home, or the nearest rally point when one is closer (home
competes only with RALLY_INCL_HOME = 1); when every rally point lies farther than
RALLY_LIMIT_KM (0.3 km on Copter; 0 is no limit) home is used (AP_Rally.cpp). The return altitude is the larger of
RTL_ALT and the current altitude plus RTL_CLIMB_MIN, capped below FENCE_ALT_MAX
(less FENCE_MARGIN) when the altitude fence is on; a rally point's own altitude
is a floor. After RTL_LOIT_TIME at the target the vehicle lands, or descends to
RTL_ALT_FINAL and holds there when that is above zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drone_patrol.sim.copter.autopilot import Autopilot

CLIMB, RETURN, LOITER, FINAL, LAND = "climb", "return", "loiter", "final", "land"


@dataclass
class Rtl:
    """One return-to-launch in progress."""

    stage: str = CLIMB
    target_n: float = 0.0
    target_e: float = 0.0
    alt_m: float = 15.0
    loiter_start_s: float = 0.0

    def begin(self, ap: Autopilot) -> None:
        """Compute the return target and altitude at mode entry."""
        p = ap.params
        body = ap.body
        best = (0.0, 0.0, 0.0)
        nearest, nearest_d = best, math.inf
        for item in ap.store.lists[2]:
            n, e = ap.frame.to_ne(item.latitude_deg, item.longitude_deg)
            d = math.hypot(body.north_m - n, body.east_m - e)
            if d < nearest_d:
                up = item.z - ap.home.altitude_m if item.frame == 0 else item.z
                nearest, nearest_d = (n, e, up), d
        limit_m = p.get("RALLY_LIMIT_KM") * 1000.0
        if nearest_d < math.inf and not (limit_m > 0 and nearest_d > limit_m):
            home_d = math.hypot(body.north_m, body.east_m)
            if p.get("RALLY_INCL_HOME") < 1 or nearest_d < home_d:
                best = nearest
        self.target_n, self.target_e = best[0], best[1]
        alt = max(p.get("RTL_ALT") / 100.0, body.up_m + p.get("RTL_CLIMB_MIN") / 100.0, best[2])
        if ap.fence_enabled and int(p.get("FENCE_TYPE")) & 1:
            alt = min(alt, p.get("FENCE_ALT_MAX") - p.get("FENCE_MARGIN"))
        self.alt_m = max(alt, 2.0) if not ap.landed else alt
        self.stage = CLIMB
        if ap.landed:
            self.stage = LAND

    def update(self, ap: Autopilot, dt: float) -> None:
        """Fly one step of the return."""
        body = ap.body
        speed = ap.params.get("RTL_SPEED") / 100.0 or None
        if self.stage == CLIMB:
            ap.fly_to(dt, (body.north_m, body.east_m, max(self.alt_m, body.up_m)), stop=True, hold_yaw=True)
            if body.up_m >= self.alt_m - 0.3:
                self.stage = RETURN
        elif self.stage == RETURN:
            ap.fly_to(dt, (self.target_n, self.target_e, self.alt_m), stop=True, speed=speed, hold_yaw=True)
            if (
                math.hypot(body.north_m - self.target_n, body.east_m - self.target_e) < 0.5
                and body.ground_speed_m_s < 0.5
            ):
                self.stage = LOITER
                self.loiter_start_s = ap.time_s
        elif self.stage == LOITER:
            ap.fly_to(dt, (self.target_n, self.target_e, self.alt_m), stop=True, hold_yaw=True)
            if ap.time_s - self.loiter_start_s >= ap.params.get("RTL_LOIT_TIME") / 1000.0:
                final = ap.params.get("RTL_ALT_FINAL") / 100.0
                if final > 0:
                    self.stage = FINAL
                else:
                    self.stage = LAND
                    ap.land_begin(at=(self.target_n, self.target_e))
        elif self.stage == FINAL:
            final = ap.params.get("RTL_ALT_FINAL") / 100.0
            ap.fly_to(dt, (self.target_n, self.target_e, final), stop=True, hold_yaw=True)
        else:
            ap.land_update(dt)
