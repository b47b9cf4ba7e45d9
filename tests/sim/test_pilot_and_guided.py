"""The throttle stick and GUIDED's position targets, as ArduCopter flies them (the autopilot stepped directly).

CIRCLE, LOITER and ALT_HOLD take their climb rate from RC3: with no transmitter the stick rests at
minimum, so a copter left in CIRCLE by a ground station sinks at PILOT_SPEED_UP (2.5 m/s) and lands,
as ArduCopter SITL does. GUIDED ignores the stick; a stream of position + velocity targets flies an
orbit at the altitude given.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from drone_patrol.core.types import GeoPoint
from drone_patrol.planner.orbit import Orbit, OrbitTracker
from drone_patrol.sim.copter import guided
from drone_patrol.sim.copter.autopilot import Autopilot
from drone_patrol.sim.copter.guided import ACC_IGNORE, FORCE_SET, POS_IGNORE, VEL_IGNORE, YAW_IGNORE, YAW_RATE_IGNORE
from drone_patrol.sim.copter.modes import CopterMode
from drone_patrol.sim.copter.params import ParamStore
from drone_patrol.sim.copter.pilot import pilot_climb_rate_m_s, throttle_mid
from drone_patrol.sim.copter.vehicle import STEP_S

HOME = GeoPoint(-35.363261, 149.165230, 584.0)
RELATIVE_ALT_INT = 6


def _flying(altitude_m: float = 40.0, **params: float) -> Autopilot:
    ap = Autopilot(HOME, 0.0, ParamStore(params), lambda *_: None, lambda _: None, gps_ready_s=0.0, ekf_ready_s=0.0)
    _run(ap, 2.0)
    assert ap.set_mode(CopterMode.GUIDED) and ap.arm(force=False)
    assert ap.user_takeoff(altitude_m)
    _run(ap, altitude_m / 2.0 + 10.0)
    assert ap.body.up_m == pytest.approx(altitude_m, abs=0.2)
    return ap


def _run(ap: Autopilot, seconds: float, each: object = None) -> None:
    for _ in range(round(seconds / STEP_S)):
        ap.step(STEP_S)
        if callable(each):
            each()


def _target(ap: Autopilot, north_m: float, east_m: float, up_m: float, mask: int, vel: tuple[float, float] = (0, 0),
            yaw_deg: float = 0.0, yaw_rate_deg_s: float = 0.0, frame: int = RELATIVE_ALT_INT) -> None:  # fmt: skip
    lat, lon = ap.frame.to_latlon(north_m, east_m)
    msg = SimpleNamespace(type_mask=mask, coordinate_frame=frame, lat_int=round(lat * 1e7), lon_int=round(lon * 1e7),
                          alt=up_m, vx=vel[0], vy=vel[1], vz=0.0, yaw=math.radians(yaw_deg),
                          yaw_rate=math.radians(yaw_rate_deg_s))  # fmt: skip

    def local(la: float, lo: float, alt: float, _frame: int) -> tuple[float, float, float]:
        n, e = ap.frame.to_ne(la, lo)
        return n, e, alt

    guided.set_position_target(ap, msg, local)


# ---------------------------------------------------------------------------- the throttle stick


def test_the_stick_maps_to_a_climb_rate_as_copter_reads_it() -> None:
    p = ParamStore()  # RC3 1100-1900, dead zone 30, THR_DZ 100, PILOT_SPEED_UP 250, PILOT_SPEED_DN 0
    assert throttle_mid(p) == 480  # (1500 - 1130) * 1000 // (1900 - 1130)
    assert pilot_climb_rate_m_s(p, 1000) == pytest.approx(-2.5)  # no transmitter: full descent
    assert pilot_climb_rate_m_s(p, 1100) == pytest.approx(-2.5)
    assert pilot_climb_rate_m_s(p, 1500) == 0.0
    assert pilot_climb_rate_m_s(p, 1430) == 0.0 and pilot_climb_rate_m_s(p, 1570) == 0.0  # THR_DZ either side
    assert pilot_climb_rate_m_s(p, 1900) == pytest.approx(2.5)
    assert -2.5 < pilot_climb_rate_m_s(p, 1300) < 0.0 < pilot_climb_rate_m_s(p, 1700) < 2.5
    slow = ParamStore({"PILOT_SPEED_DN": 100})
    assert pilot_climb_rate_m_s(slow, 1000) == pytest.approx(-1.0)
    parm = ParamStore({"RC3_MIN": 1000, "RC3_MAX": 2000})  # SITL's copter.parm
    assert pilot_climb_rate_m_s(parm, 1000) == pytest.approx(-2.5) and pilot_climb_rate_m_s(parm, 1500) == 0.0


def _sink_rate(ap: Autopilot) -> tuple[float, float]:
    """(steady climb rate over 4 s, seconds until landed) after entering the current mode."""
    _run(ap, 6.0)  # accelerate into the descent
    up0, t0 = ap.body.up_m, ap.time_s
    _run(ap, 4.0)
    rate = (ap.body.up_m - up0) / (ap.time_s - t0)
    while not ap.landed and ap.time_s < t0 + 60.0:
        _run(ap, 0.5)
    return rate, ap.time_s - t0


@pytest.mark.parametrize("mode", [CopterMode.CIRCLE, CopterMode.LOITER, CopterMode.ALT_HOLD])
def test_a_mode_under_the_stick_sinks_to_the_ground_without_a_pilot(mode: CopterMode) -> None:
    ap = _flying(40.0)
    assert ap.throttle_pwm == 1000  # as SITL without a transmitter
    assert ap.set_mode(mode)
    rate, landed_after_s = _sink_rate(ap)
    print(f"{mode.name}: {rate:.2f} m/s, landed {landed_after_s + 6.0:.1f} s after entry")
    assert rate == pytest.approx(-2.5, abs=0.1)
    assert ap.landed and ap.body.up_m == 0.0
    _run(ap, 11.0)  # DISARM_DELAY 10 s on the ground with the throttle low
    assert not ap.armed


def test_circle_holds_its_height_with_the_stick_centred_and_climbs_with_it_up() -> None:
    ap = _flying(40.0)
    ap.throttle_pwm = 1500  # RC_CHANNELS_OVERRIDE, or a pilot
    assert ap.set_mode(CopterMode.CIRCLE)
    lows: list[float] = []
    _run(ap, 30.0, lambda: lows.append(ap.body.up_m))
    assert min(lows) > 39.7 and max(lows) < 40.3
    dists = [math.hypot(ap.body.north_m - ap.circle.center_n, ap.body.east_m - ap.circle.center_e)]
    assert dists[0] == pytest.approx(10.0, abs=1.0)  # CIRCLE_RADIUS 1000 cm
    ap.throttle_pwm = 1900
    up0 = ap.body.up_m
    _run(ap, 4.0)
    assert (ap.body.up_m - up0) / 4.0 > 1.5


# ---------------------------------------------------------------------------- GUIDED targets

POSVEL_YAW = ACC_IGNORE
POS_ONLY = VEL_IGNORE | ACC_IGNORE | YAW_IGNORE | YAW_RATE_IGNORE


def test_a_streamed_guided_orbit_keeps_its_altitude_and_radius_without_a_pilot() -> None:
    ap = _flying(40.0)
    assert ap.throttle_pwm == 1000
    orbit = Orbit(radius_m=10.0, speed_m_s=3.5)
    centre_n, centre_e = 60.0, 0.0
    _target(ap, centre_n - 10.0, centre_e, 40.0, POS_ONLY)  # the entry point, on the near side
    _run(ap, 30.0)
    tracker = OrbitTracker(orbit)
    samples: list[tuple[float, float, float]] = []
    octants: set[int] = set()

    def stream() -> None:
        b = ap.body
        if round(ap.time_s / STEP_S) % round(0.25 / STEP_S) == 0:
            sp = tracker.setpoint(ap.time_s, b.east_m - centre_e, b.north_m - centre_n)
            _target(ap, centre_n + sp.north_m, centre_e + sp.east_m, 40.0, POSVEL_YAW,
                    (sp.velocity_north_m_s, sp.velocity_east_m_s), sp.yaw_deg, sp.yaw_rate_deg_s)  # fmt: skip
        bearing = math.degrees(math.atan2(centre_e - b.east_m, centre_n - b.north_m)) % 360.0
        heading_error = abs((b.yaw_deg - bearing + 180.0) % 360.0 - 180.0)
        samples.append((math.hypot(b.north_m - centre_n, b.east_m - centre_e), b.up_m, heading_error))
        octants.add(int(bearing // 45))

    _run(ap, 60.0, stream)
    assert ap.mode == CopterMode.GUIDED
    steady = samples[len(samples) // 6 :]  # after the first 10 s (ramp and turn to the point)
    radii = [r for r, _, _ in steady]
    alts = [u for _, u, _ in samples]
    print(f"orbit radius {min(radii):.2f}-{max(radii):.2f} m, altitude {min(alts):.2f}-{max(alts):.2f} m")
    assert min(radii) > 9.0 and max(radii) < 11.0, (min(radii), max(radii))
    assert min(alts) > 39.5 and max(alts) < 40.5, (min(alts), max(alts))
    assert max(h for _, _, h in steady) < 10.0
    assert len(octants) == 8 and tracker.speed_m_s == pytest.approx(3.5)  # round and round at full speed


def test_guided_position_and_velocity_moves_the_target_on_until_the_timeout() -> None:
    ap = _flying(20.0)
    b = ap.body
    _target(ap, b.north_m, b.east_m, 20.0, POSVEL_YAW | YAW_IGNORE | YAW_RATE_IGNORE, (2.0, 0.0))
    _run(ap, 2.0)
    assert ap.guided_motion is not None and b.vn > 1.0
    _run(ap, 6.0)  # GUID_TIMEOUT 3 s: the velocity is zeroed, the vehicle stops at the target
    assert b.ground_speed_m_s < 0.1
    assert 5.0 < b.north_m < 9.0  # about 3 s of 2 m/s, plus braking
    assert b.up_m == pytest.approx(20.0, abs=0.3)


def test_guided_targets_take_the_yaw_and_drop_an_roi_and_bad_ones_stop_the_vehicle() -> None:
    ap = _flying(20.0)
    ap.roi = (0.0, 100.0, 0.0)
    _target(ap, 50.0, 0.0, 20.0, POS_ONLY & ~YAW_IGNORE, yaw_deg=270.0)
    assert ap.roi is None
    _run(ap, 10.0)
    assert ap.heading_deg() == pytest.approx(270.0, abs=1.0)
    _target(ap, 100.0, 0.0, 20.0, POS_ONLY)
    assert ap.guided_target is not None and ap.guided_target[0] == pytest.approx(100.0, abs=0.01)
    _run(ap, 2.0)
    # force with acceleration used, and an unknown frame: ModeGuided::init, stop where it is
    _target(ap, 200.0, 0.0, 20.0, POS_IGNORE | VEL_IGNORE | FORCE_SET)
    here = ap.guided_target
    assert here is not None and here[0] < 100.0
    _target(ap, 200.0, 0.0, 20.0, POS_ONLY, frame=1)
    assert ap.guided_target is not None and ap.guided_target[0] < 100.0
    # outside GUIDED the message is ignored
    assert ap.set_mode(CopterMode.BRAKE)
    _target(ap, 300.0, 0.0, 20.0, POS_ONLY)
    assert ap.guided_target is None
