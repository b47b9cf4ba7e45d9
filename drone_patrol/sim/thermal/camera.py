"""The simulated radiometric camera: renders a scenario from a ``VehicleState`` into 16-bit TLinear frames.

Every pixel's ray is intersected with the flat ground (the vehicle's home height, or the
scenario origin's altitude when the state has no home); the ground point's temperature is
the background plus whatever object covers it; rays above the horizon see the cold sky.
Sensor effects: radial vignetting, Gaussian temporal noise of ``netd_k``, the gain range
(0.01 K/count: -25..140 C, high gain; 0.1 K/count: -40..550 C, low gain) and quantisation
to TLinear counts (kelvin / resolution). Output is deterministic from the seed and the
order of ``render`` calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon

from drone_patrol.core.camera import Camera, CameraIntrinsics, CameraPose
from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.core.errors import InputError
from drone_patrol.core.frames import GimbalAttitude, ThermalFrame
from drone_patrol.core.types import VehicleState
from drone_patrol.sim.thermal.scenario import Scenario, ScenarioObject
from drone_patrol.sim.thermal.world import World

#: scene range (Celsius) each TLinear resolution can represent, as the two gain modes of a Lepton/Boson
GAIN_RANGE_C = {0.01: (-25.0, 140.0), 0.1: (-40.0, 550.0)}
_BODY_HALF_M = (0.23, 0.14)  # shoulders seen from above: half length across, half depth
_HEAD_R_M = 0.1
_CAR_BODY_M = (4.3, 1.8)


@dataclass(frozen=True)
class TruthObject:
    """One labelled object of the world in a frame (ground and pixel position)."""

    kind: str
    name: str
    east_m: float
    north_m: float
    latitude_deg: float
    longitude_deg: float
    pixel_xy: tuple[float, float]
    in_view: bool
    temperature_c: float
    radius_m: float = 0.0
    count: int = 1
    count_in_view: int = 1
    owner: str | None = None


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one rendered frame."""

    time_s: float
    scenario_time_s: float
    objects: tuple[TruthObject, ...]

    def of_kind(self, kind: str, in_view: bool = True) -> list[TruthObject]:
        """Objects of one kind (``fire``, ``crowd``, ``person``, ``grill``, ...), only those in view by default."""
        return [o for o in self.objects if o.kind == kind and (o.in_view or not in_view)]


class ThermalCameraSim:
    """Renders ``scenario`` as a ``camera`` would see it; ``scale`` shrinks the image for fast tests.

    Heights are the state's ``relative_altitude_m`` when it carries its home (the world is
    flat at the home's height), else its AMSL altitude above ``ground_altitude_m``.
    """

    def __init__(
        self,
        scenario: Scenario,
        camera: CameraConfig,
        seed: int = 1,
        start_time_s: float | None = None,
        scale: float = 1.0,
        ground_altitude_m: float | None = None,
    ) -> None:
        if camera.tlinear_resolution_k not in GAIN_RANGE_C:
            raise InputError(f"camera.tlinear_resolution_k must be 0.01 or 0.1, got {camera.tlinear_resolution_k}")
        self.scenario = scenario
        self.config = camera
        self.seed = seed
        self.world = World(scenario, seed)
        self.start_time_s = start_time_s
        #: AMSL height of the flat world, used when a state carries no home (heights are above home otherwise)
        self.ground_altitude_m = scenario.ground_altitude_m if ground_altitude_m is None else ground_altitude_m
        intr = CameraIntrinsics.from_config(camera)
        self.intrinsics = intr if scale == 1.0 else intr.scaled(scale)
        self.resolution_k = float(camera.tlinear_resolution_k)
        self.range_c = GAIN_RANGE_C[camera.tlinear_resolution_k]
        self._frame = scenario.frame
        self._rays = self.intrinsics.pixel_rays_grid().astype(np.float32)
        h, w = self.intrinsics.height_px, self.intrinsics.width_px
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2
        self._vignette = (r2 / 2.0 * scenario.vignetting_c).astype(np.float32)
        self._count = 0
        self._roofs = {o.index: Polygon(o.points_en) for o in scenario.by_role("warm_roof")}

    @property
    def gimbal(self) -> GimbalAttitude:
        """The mount attitude frames are tagged with."""
        c = self.config
        return GimbalAttitude(c.mount_pitch_deg, c.mount_roll_deg, c.mount_yaw_deg)

    def camera_at(self, state: VehicleState) -> Camera | None:
        """The camera model at a vehicle state in the scenario's frame (``None`` without a position)."""
        if state.position is None:
            return None
        e, n, _ = self._frame.point_to_enu(state.position)
        up = state.relative_altitude_m if state.home is not None else state.position.altitude_m - self.ground_altitude_m
        c = self.config
        pose = CameraPose.from_attitude(
            e, n, up, state.roll_deg, state.pitch_deg, state.yaw_deg,
            c.mount_pitch_deg, c.mount_roll_deg, c.mount_yaw_deg, c.gimbal_stabilized,
        )  # fmt: skip
        return Camera(self.intrinsics, pose, 0.0, max_range_m=2000.0)

    def render(self, state: VehicleState, time_s: float) -> tuple[ThermalFrame, FrameTruth]:
        """Render the frame seen from ``state`` at ``time_s`` and its ground truth."""
        if self.start_time_s is None:
            self.start_time_s = time_s
        t = time_s - self.start_time_s
        cam = self.camera_at(state)
        h, w = self.intrinsics.height_px, self.intrinsics.width_px
        rng = np.random.default_rng([self.seed, self._count])
        index = self._count
        self._count += 1
        if cam is None:
            celsius = np.full((h, w), self.scenario.sky_c, dtype=np.float32)
            return self._finish(celsius, rng, state, time_s, index), FrameTruth(time_s, t, ())
        temp, en_grid = self._background(cam)
        people = self.world.people_at(t)
        self._draw_objects(temp, en_grid, cam, t)
        self._draw_people(temp, en_grid, cam, people)
        frame = self._finish(temp, rng, state, time_s, index)
        return frame, self._truth(cam, t, time_s, people, frame.celsius)

    # rendering -------------------------------------------------------------------------------------------------

    def _background(self, cam: Camera) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        rot = cam.pose.rotation_enu_from_cam.astype(np.float32)
        d = self._rays @ rot.T
        height = np.float32(cam.pose.position_enu_m[2])
        dz = d[..., 2]
        ground = dz < -0.02
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(ground, height / -dz, np.nan).astype(np.float32)
        if height <= 0:
            t[:] = np.nan
        en = np.empty((*d.shape[:2], 2), dtype=np.float32)
        en[..., 0] = np.float32(cam.pose.position_enu_m[0]) + t * d[..., 0]
        en[..., 1] = np.float32(cam.pose.position_enu_m[1]) + t * d[..., 1]
        s = self.scenario
        e, n = en[..., 0], en[..., 1]
        # smooth variation of the street (paving, shade, drains), fixed in the world
        var = np.sin(e * np.float32(2 * math.pi / 17.0) + 0.3) * np.cos(n * np.float32(2 * math.pi / 23.0) + 1.1)
        var += 0.5 * np.sin((e + n) * np.float32(2 * math.pi / 7.3))
        temp = (np.float32(s.background_c) + np.float32(s.background_variation_c / 1.5) * var).astype(np.float32)
        temp[~np.isfinite(t)] = np.float32(s.sky_c)
        return temp, en

    def _roi(self, cam: Camera, centre: NDArray[np.float64], half_m: float) -> tuple[slice, slice] | None:
        ce, cn = float(centre[0]), float(centre[1])
        corners_e = np.array([ce - half_m, ce + half_m, ce + half_m, ce - half_m])
        corners_n = np.array([cn - half_m, cn - half_m, cn + half_m, cn + half_m])
        uv = cam.ground_to_pixel(corners_e, corners_n)
        if np.isnan(uv).any():
            return None
        h, w = self.intrinsics.height_px, self.intrinsics.width_px
        u0, u1 = int(max(0, math.floor(uv[:, 0].min()) - 1)), int(min(w, math.ceil(uv[:, 0].max()) + 2))
        v0, v1 = int(max(0, math.floor(uv[:, 1].min()) - 1)), int(min(h, math.ceil(uv[:, 1].max()) + 2))
        if u0 >= u1 or v0 >= v1:
            return None
        return slice(v0, v1), slice(u0, u1)

    def _draw_objects(self, temp: NDArray[np.float32], en: NDArray[np.float32], cam: Camera, t: float) -> None:
        bg = self.scenario.background_c
        for obj in self.scenario.objects:
            if not obj.active(t) or obj.role in ("person", "crowd"):
                continue
            if obj.role == "warm_roof":
                pts = obj.points_en
                half = float(np.max(np.abs(pts - pts.mean(axis=0)))) + 0.5
                roi = self._roi(cam, pts.mean(axis=0), half)
                if roi is None:
                    continue
                e, n = en[roi][..., 0], en[roi][..., 1]
                inside = shapely.contains_xy(self._roofs[obj.index], e.astype(np.float64), n.astype(np.float64))
                temp[roi][inside] = obj.temperature_c
                continue
            c = obj.centre_en
            if obj.role == "fire":
                roi = self._roi(cam, c, obj.radius_m * 3.0)
                if roi is None:
                    continue
                e, n = en[roi][..., 0], en[roi][..., 1]
                r = np.hypot(e - c[0], n - c[1]) / np.float32(max(obj.radius_m, 0.05))
                core = np.float32(self.world.fire_temperature_c(obj, t))
                # a hot core that cools towards its rim, then a hot-air and ember halo to 3 radii
                fire = np.where(
                    r <= 1.0, core * (1.0 - 0.35 * r * r), bg + (0.65 * core - bg) * np.exp(-(r - 1.0) * 3.0)
                )
                sub = temp[roi]
                np.maximum(sub, fire.astype(np.float32), out=sub)
                continue
            length, width = obj.size_m
            if obj.role == "car_engine":
                # the cool body of the car (metal reflects the cold sky) with the warm bonnet at its front
                hd = math.radians(obj.heading_deg)
                back = c - np.array([math.sin(hd), math.cos(hd)]) * (_CAR_BODY_M[0] - length) / 2
                roi = self._roi(cam, back, _CAR_BODY_M[0] / 2 + 0.5)
                if roi is not None:
                    mask = _rect_mask(en[roi], back, _CAR_BODY_M[0], _CAR_BODY_M[1], obj.heading_deg)
                    temp[roi][mask] = bg - 3.0
            roi = self._roi(cam, c, max(length, width) / 2 + 0.6)
            if roi is None:
                continue
            sub = temp[roi]
            if obj.role == "grill":
                halo = _rect_mask(en[roi], c, length + 0.5, width + 0.5, obj.heading_deg)
                np.maximum(sub, np.where(halo, np.float32(bg + 25.0), sub), out=sub)
            mask = _rect_mask(en[roi], c, length, width, obj.heading_deg)
            sub[mask] = obj.temperature_c

    def _draw_people(self, temp: NDArray[np.float32], en: NDArray[np.float32], cam: Camera, people: object) -> None:
        from drone_patrol.sim.thermal.world import People

        assert isinstance(people, People)
        for k in range(len(people.en_m)):
            c = people.en_m[k]
            roi = self._roi(cam, c, 0.35)
            if roi is None:
                continue
            sub = temp[roi]
            cloth = people.clothing_c[k]
            body = _ellipse_mask(en[roi], c, _BODY_HALF_M[0], _BODY_HALF_M[1], people.heading_deg[k] + 90.0)
            sub[body] = cloth
            e, n = en[roi][..., 0], en[roi][..., 1]
            head = (e - c[0]) ** 2 + (n - c[1]) ** 2 <= _HEAD_R_M**2
            sub[head] = cloth + 4.5

    def _finish(
        self, celsius: NDArray[np.float32], rng: np.random.Generator, state: VehicleState, time_s: float, index: int
    ) -> ThermalFrame:
        s = self.scenario
        celsius += self._vignette
        if s.netd_k > 0:
            celsius += rng.standard_normal(celsius.shape, dtype=np.float32) * np.float32(s.netd_k)
        lo, hi = self.range_c
        np.clip(celsius, lo, hi, out=celsius)
        counts = np.rint((celsius + np.float32(273.15)) / np.float32(self.resolution_k)).astype(np.uint16)
        out = (counts.astype(np.float32) * np.float32(self.resolution_k) - np.float32(273.15)).astype(np.float32)
        return ThermalFrame(
            celsius=out,
            time_s=time_s,
            index=index,
            state=state,
            gimbal=self.gimbal,
            counts=counts,
            kelvin_per_count=self.resolution_k,
        )

    def _truth(self, cam: Camera, t: float, time_s: float, people: object, celsius: NDArray[np.float32]) -> FrameTruth:
        from drone_patrol.sim.thermal.world import People

        assert isinstance(people, People)
        rows: list[tuple[str, str, float, float, float, float, int, int, str | None]] = []
        by_index = {o.index: o for o in self.scenario.objects}
        member_uv = cam.ground_to_pixel(people.en_m[:, 0], people.en_m[:, 1]) if len(people.en_m) else np.zeros((0, 2))
        member_in = cam.in_image(member_uv) if len(people.en_m) else np.zeros(0, bool)
        for obj in self.scenario.objects:
            if not obj.active(t):
                continue
            c = obj.centre_en
            if obj.role == "crowd":
                sel = people.owner == obj.index
                if not sel.any():
                    continue
                c = people.en_m[sel].mean(axis=0)
                rows.append(
                    ("crowd", obj.name, c[0], c[1], 27.0, obj.radius_m, int(sel.sum()), int(member_in[sel].sum()), None)
                )
                continue
            if obj.role == "person":
                continue
            temp = self.world.fire_temperature_c(obj, t) if obj.role == "fire" else obj.temperature_c
            rows.append((obj.role, obj.name, c[0], c[1], temp, obj.radius_m, 1, 1, None))
        for k in range(len(people.en_m)):
            owner = by_index[int(people.owner[k])]
            crowd = owner.name if owner.role == "crowd" else None
            name = f"{owner.name}#{int(people.member[k])}" if crowd else owner.name
            rows.append(
                ("person", name, people.en_m[k, 0], people.en_m[k, 1], people.clothing_c[k] + 4.5, 0.25, 1, 1, crowd)
            )
        if not rows:
            return FrameTruth(time_s, t, ())
        en = np.array([[r[2], r[3]] for r in rows])
        lonlat = self._frame.en_to_lonlat(en)
        uv = cam.ground_to_pixel(en[:, 0], en[:, 1])
        inside = cam.in_image(uv)
        objs = []
        for i, r in enumerate(rows):
            in_view = bool(inside[i]) and (r[0] != "crowd" or r[7] > 0)
            objs.append(
                TruthObject(
                    kind=r[0], name=r[1], east_m=float(r[2]), north_m=float(r[3]),
                    latitude_deg=float(lonlat[i, 1]), longitude_deg=float(lonlat[i, 0]),
                    pixel_xy=(float(uv[i, 0]), float(uv[i, 1])), in_view=in_view or (r[0] == "crowd" and r[7] > 0),
                    temperature_c=float(min(r[4], self.range_c[1])), radius_m=float(r[5]),
                    count=int(r[6]), count_in_view=int(r[7]), owner=r[8],
                )
            )  # fmt: skip
        return FrameTruth(time_s, t, tuple(objs))


def _rect_mask(
    en: NDArray[np.float32], centre: NDArray[np.float64], length_m: float, width_m: float, heading_deg: float
) -> NDArray[np.bool_]:
    """Pixels whose ground point lies in a rectangle ``length`` along ``heading`` (clockwise from north)."""
    h = math.radians(heading_deg)
    de, dn = en[..., 0] - centre[0], en[..., 1] - centre[1]
    fwd = de * math.sin(h) + dn * math.cos(h)
    side = de * math.cos(h) - dn * math.sin(h)
    return (np.abs(fwd) <= length_m / 2) & (np.abs(side) <= width_m / 2)


def _ellipse_mask(
    en: NDArray[np.float32], centre: NDArray[np.float64], a_m: float, b_m: float, heading_deg: float
) -> NDArray[np.bool_]:
    """Pixels in an ellipse with semi-axis ``a_m`` along ``heading`` and ``b_m`` across it."""
    h = math.radians(heading_deg)
    de, dn = en[..., 0] - centre[0], en[..., 1] - centre[1]
    fwd = de * math.sin(h) + dn * math.cos(h)
    side = de * math.cos(h) - dn * math.sin(h)
    return (fwd / a_m) ** 2 + (side / b_m) ** 2 <= 1.0


__all__ = ["GAIN_RANGE_C", "FrameTruth", "ScenarioObject", "ThermalCameraSim", "TruthObject"]
