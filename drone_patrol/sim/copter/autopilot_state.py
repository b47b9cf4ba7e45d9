"""The simulated ArduCopter's state: what it knows of itself and its sensors.

:class:`AutopilotState` holds every attribute the flight logic reads and writes (mode,
arming, the body, the mission, RTL, circle and failsafe state, targets); its subclasses
add behaviour: :class:`~drone_patrol.sim.copter.steering.Steering` moves the body, and
:class:`~drone_patrol.sim.copter.autopilot.Autopilot` decides (modes, arming, missions,
the step). All times are simulated seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from drone_patrol.core.types import GeoPoint
from drone_patrol.sim.copter import fence as fence_mod
from drone_patrol.sim.copter import guided as guided_mod
from drone_patrol.sim.copter.battery import Battery
from drone_patrol.sim.copter.circle import Circle
from drone_patrol.sim.copter.failsafes import Failsafes
from drone_patrol.sim.copter.kinematics import Body, Limits, LocalTangent, wrap_180
from drone_patrol.sim.copter.missions import ItemStore
from drone_patrol.sim.copter.modes import CopterMode
from drone_patrol.sim.copter.navigator import MissionRunner
from drone_patrol.sim.copter.params import ParamStore
from drone_patrol.sim.copter.rtl import Rtl


class AutopilotState:
    """Everything the vehicle knows: position and motion, mode, arming, targets, sensors."""

    def __init__(
        self,
        home: GeoPoint,
        heading_deg: float,
        params: ParamStore,
        say: Callable[[int, str], None],
        item_reached: Callable[[int], None],
        gps_ready_s: float = 3.0,
        ekf_ready_s: float = 6.0,
    ) -> None:
        self.home = home
        self.frame = LocalTangent(home.latitude_deg, home.longitude_deg)
        self.params = params
        self.say = say
        self._item_reached = item_reached
        self.store = ItemStore()
        self.body = Body(heading_deg)
        self.battery = Battery(
            params.get("BATT_CAPACITY"), params.get("SIM_BATT_VOLTAGE"), params.get("SIM_BATT_CAP_AH")
        )
        self.limits = Limits()
        self.time_s = 0.0
        self.mode = CopterMode.STABILIZE
        self.armed = False
        self.landed = True
        self.auto_armed = False
        self.throttle_pwm = 1000  # RC3 with no transmitter, as on SITL
        self.gps_ready_s = gps_ready_s
        self.ekf_ready_s = ekf_ready_s
        self.gps_override: tuple[int, int] | None = None
        self.ekf_announced = False
        self.ready_announced = False
        self.mission = MissionRunner()
        self.rtl = Rtl()
        self.circle = Circle()
        self.failsafes = Failsafes()
        self.fence_state = fence_mod.FenceState()
        self.fence_zones: list[fence_mod.Zone] = []
        self.fence_enabled = params.get("FENCE_ENABLE") >= 1
        self.guided_target: tuple[float, float, float] | None = None
        self.guided_motion: guided_mod.GuidedMotion | None = None  # a moving target or commanded heading
        self.hold_target: tuple[float, float, float] | None = None
        self.land_at: tuple[float, float] | None = None
        self.land_pause_until_s = 0.0
        self.land_contact_s: float | None = None
        self.roi: tuple[float, float, float] | None = None
        self.fixed_yaw_deg: float | None = None  # CONDITION_YAW
        self.paused = False  # DO_PAUSE_CONTINUE in AUTO or GUIDED
        self.speed_override_m_s: float | None = None
        self.disarm_timer_s = 0.0
        self.home_set = False
        self.reached_seq = -1
        self.pending_reached: int | None = None
        self.prearm_reported_s = -15.0  # the first report comes 15 s after boot, then every 30 s

    # ---------------------------------------------------------------- sensors
    @property
    def gps(self) -> tuple[int, int]:
        """(fix_type, satellites) the GPS reports."""
        if self.gps_override is not None:
            return self.gps_override
        if self.params.get("SIM_GPS_DISABLE") >= 1:
            return (0, 0)
        if self.time_s < self.gps_ready_s:
            return (1, 0)
        return (3, int(self.params.get("SIM_GPS_NUMSATS")))

    @property
    def position_ok(self) -> bool:
        """True once the EKF has a GPS position (copter.position_ok())."""
        fix, sats = self.gps
        return fix >= 3 and sats >= 6 and self.time_s >= self.ekf_ready_s

    @property
    def flying(self) -> bool:
        """Armed and off the ground."""
        return self.armed and not self.landed

    def heading_deg(self) -> float:
        """Current heading in [0, 360)."""
        return wrap_180(self.body.yaw_deg) % 360.0
