"""Helpers for flight tests: the sample area, passes over named objects, and running the pipeline on rendered frames."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from drone_patrol.core.config import CameraConfig, VisionConfig
from drone_patrol.core.geo import LocalFrame, distance_m
from drone_patrol.core.types import Alert, AlertStatus, GeoPoint, VehicleState
from drone_patrol.mission.areas import AreaSet, load_areas
from drone_patrol.sim.thermal import FrameTruth, Scenario, ThermalCameraSim
from drone_patrol.sim.thermal.flight import fly_route
from drone_patrol.vision.baseline import HeatBaseline
from drone_patrol.vision.pipeline import VisionPipeline

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "flight_plans" / "scenarios"
GROUND_ALT_M = 150.0


def scenario(name: str) -> Scenario:
    return Scenario.load(SCENARIOS / f"{name}.geojson")


def areas() -> AreaSet:
    return load_areas(ROOT / "flight_plans" / "guilin_dongxi_xiang.geojson")


def home(a: AreaSet) -> GeoPoint:
    h = a.home_point
    return GeoPoint(h.latitude_deg, h.longitude_deg, GROUND_ALT_M)


def object_en(sc: Scenario, name: str, frame: LocalFrame) -> np.ndarray:
    obj = next(o for o in sc.objects if o.name == name)
    lon, lat = sc.frame.en_to_lonlat(obj.centre_en[None])[0]
    e, n, _ = frame.to_enu(lat, lon, frame.origin.altitude_m)
    return np.array([float(e), float(n)])


def passes_over(points: Iterable[np.ndarray], half_length_m: float = 15.0) -> list[np.ndarray]:
    """One east-bound leg centred on each point."""
    return [np.array([[p[0] - half_length_m, p[1]], [p[0] + half_length_m, p[1]]]) for p in points]


def noisy(
    state: VehicleState, rng: np.random.Generator, attitude_deg: float, position_m: float, frame: LocalFrame
) -> VehicleState:
    """The state the pipeline is told: attitude and horizontal position off by Gaussian errors."""
    assert state.position is not None
    e, n, u = frame.point_to_enu(state.position)
    de, dn = rng.normal(0.0, position_m, 2)
    pos = frame.enu_to_point(e + de, n + dn, u)
    r, p, y = rng.normal(0.0, attitude_deg, 3)
    return replace(
        state,
        position=pos,
        roll_deg=state.roll_deg + r,
        pitch_deg=state.pitch_deg + p,
        yaw_deg=(state.yaw_deg + y) % 360,
    )


@dataclass
class FlightResult:
    alerts: list[Alert] = field(default_factory=list)
    truths: list[FrameTruth] = field(default_factory=list)
    pipe: VisionPipeline | None = None

    def of(self, status: AlertStatus | None = None, kind: str | None = None) -> list[Alert]:
        return [
            a for a in self.alerts if (status is None or a.status is status) and (kind is None or a.kind.value == kind)
        ]


def fly(
    sc: Scenario,
    legs: list[np.ndarray],
    *,
    baseline: HeatBaseline | None = None,
    altitude_m: float = 40.0,
    speed_m_s: float = 6.0,
    rate_hz: float = 3.0,
    scale: float = 0.5,
    seed: int = 1,
    start_s: float = 100.0,
    noise: tuple[float, float] | None = None,
    vision: VisionConfig | None = None,
    pipe: VisionPipeline | None = None,
    finish: bool = True,
) -> FlightResult:
    """Fly legs (each a (K, 2) east/north route) over a scenario, rendering and processing every frame."""
    a = areas()
    h = home(a)
    frame = LocalFrame(h)
    cam_cfg = CameraConfig()
    cam = ThermalCameraSim(sc, cam_cfg, seed=seed, start_time_s=0.0, scale=scale)
    if pipe is None:
        pipe = VisionPipeline(
            vision or VisionConfig(), cam_cfg, h, a.heat_sources, a.patrol, baseline, "dongxi", "drone-1"
        )
    out = FlightResult(pipe=pipe)
    rng = np.random.default_rng(seed)
    t = start_s
    for leg in legs:
        for st in fly_route(leg, frame, altitude_m, speed_m_s, rate_hz, start_time_s=t, home=h):
            fr, truth = cam.render(st, st.time_s)
            if noise is not None:
                fr = replace(fr, state=noisy(st, rng, noise[0], noise[1], frame))
            out.alerts += pipe.process(fr)
            out.truths.append(truth)
            t = st.time_s
        t += 5.0  # the turn between legs
    if finish:
        out.alerts += pipe.finish(t)
    return out


def hover(
    sc: Scenario,
    en: np.ndarray,
    times_s: Iterator[float] | list[float],
    pipe: VisionPipeline,
    altitude_m: float = 40.0,
    scale: float = 1.0,
    seed: int = 1,
) -> FlightResult:
    """Frames from a fixed point above ``en`` at the given scenario times."""
    a = areas()
    h = home(a)
    frame = LocalFrame(h)
    cam = ThermalCameraSim(sc, CameraConfig(), seed=seed, start_time_s=0.0, scale=scale)
    from drone_patrol.sim.thermal.flight import state_at

    out = FlightResult(pipe=pipe)
    for t in times_s:
        st = state_at(frame, float(en[0]), float(en[1]), altitude_m, 0.0, t, h)
        fr, truth = cam.render(st, t)
        out.alerts += pipe.process(fr)
        out.truths.append(truth)
    return out


def nearest_m(alert: Alert, lat: float, lon: float) -> float:
    assert alert.location is not None
    return distance_m(alert.location, GeoPoint(lat, lon))


def truth_positions(truths: list[FrameTruth], kind: str) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for tr in truths:
        for o in tr.of_kind(kind):
            out[o.name] = (o.latitude_deg, o.longitude_deg)
    return out
