"""Mission, fence and rally upload time, clean and through 20% loss each way, to the simulator and SITL.

Each list is timed on two links, each clean and then lossy over ``BENCH_SEEDS``
(default 20) seeds of the faulty-link proxy (20% dropped each way, 2% duplicated):
with no added delay, and with 30 +- 20 ms each way. Clean is the same proxy without
loss (the proxy's own forwarding, and the delay, are on the lossy link too); the
``direct_s`` column times the vehicle's own port without the proxy. A row gives the
clean time (median of 5 uploads), the median and worst lossy time, how many seeds succeeded and the median
over the clean time. Target (issue 17): 100 items at 20% loss in at most 3x
the clean time, every seed succeeding; fence and rally likewise.

Each link gets one vehicle, warmed up by an untimed upload; every timed upload is a
fresh connection. The simulated vehicle runs at 5x: the proxy's delays are wall-clock while the
vehicle's re-request (1 s) and upload timeout (8 s) run on its clock. SITL rows
appear when ``ARDUPILOT_SITL`` names an arducopter binary (``ARDUPILOT_SITL_DEFAULTS``
its copter.parm) and run it at real-time speed; SITL holds at most 650 items with
home, so its large row is 649 items.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from drone_patrol.controller import Vehicle
from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.geo import destination
from drone_patrol.core.types import FencePolygon, Geofence, GeoPoint, MavCmd, Mission, Waypoint

TITLE = "Controller: mission, fence and rally upload time (clean, and 20% loss each way over many seeds)"

HOME = GeoPoint(25.2821593, 110.296202, 150.0)
LOSS: dict[str, float] = {"drop": 0.2, "dup": 0.02, "delay_ms": 30, "jitter_ms": 20}
LOSS_ONLY: dict[str, float] = {"drop": 0.2, "dup": 0.02}
NO_FAULTS: dict[str, float] = {"drop": 0.0}  # through the proxy, nothing lost
DELAY_ONLY: dict[str, float] = {"delay_ms": 30, "jitter_ms": 20}
TARGET_RATIO = 3.0
CLEAN_SEEDS = 5  # clean uploads timed per row (their median is the clean time)
#: a vehicle: (context manager yielding (host, port, speedup))
VehicleFactory = Callable[[], AbstractContextManager[tuple[str, int, float]]]


def _mission(count: int) -> Mission:
    items = [Waypoint(MavCmd.NAV_TAKEOFF, altitude_m=30.0)]
    for i in range(count - 1):
        row, col = divmod(i, 25)
        p = destination(destination(HOME, 0.0, 8.0 * row - 100.0), 90.0, 8.0 * col)
        items.append(
            Waypoint(
                MavCmd.NAV_WAYPOINT,
                latitude_deg=round(p.latitude_deg, 7),
                longitude_deg=round(p.longitude_deg, 7),
                altitude_m=30.0,
            )
        )
    return Mission(home=HOME, items=tuple(items))


def _fence(vertices: int) -> Geofence:
    def rounded(p: GeoPoint) -> GeoPoint:
        return GeoPoint(round(p.latitude_deg, 7), round(p.longitude_deg, 7), 0.0)

    ring = tuple(rounded(destination(HOME, 360.0 * i / vertices, 400.0)) for i in range(vertices))
    return Geofence(polygons=(FencePolygon(True, ring),), return_point=rounded(destination(HOME, 180.0, 20.0)))


def _rally(count: int) -> list[GeoPoint]:
    out = []
    for i in range(count):
        p = destination(HOME, 360.0 * i / count, 60.0)
        out.append(GeoPoint(round(p.latitude_deg, 7), round(p.longitude_deg, 7), 25.0))
    return out


def _upload(vehicle: Vehicle, what: str, count: int) -> None:
    if what == "mission":
        mission = _mission(count)
        vehicle.mission.upload_items(mission)
    elif what == "fence":
        vehicle.mission.upload_fence(_fence(count - 1))
    else:
        vehicle.mission.upload_rally(_rally(count))


def _time_upload(connection: str, speedup: float, what: str, count: int, floor_s: float) -> float:
    config = ControllerConfig(
        connection=connection, speedup=speedup, telemetry_hz=1.0, min_wall_timeout_s=floor_s, transfer_deadline_s=600.0
    )
    with Vehicle.connect(connection, config, timeout_s=90.0) as vehicle:
        started = time.perf_counter()
        _upload(vehicle, what, count)
        return time.perf_counter() - started


@contextmanager
def _through(port: int, faults: dict[str, float], seed: int) -> Iterator[str]:
    from drone_patrol.sim.link import FaultyLink

    if not faults:
        yield f"tcp:127.0.0.1:{port}"
        return
    # The controller warns of what the lossy link does (heartbeats missed, a home request unanswered)
    # on every seed; the rows already say whether each upload succeeded, so the table stays readable.
    controller_log = logging.getLogger("drone_patrol.controller")
    level = controller_log.level
    controller_log.setLevel(logging.ERROR)
    try:
        link = FaultyLink(("127.0.0.1", port), seed=seed, **faults).start()  # type: ignore[arg-type]
        try:
            yield f"tcp:127.0.0.1:{link.port}"
        finally:
            link.stop()
    finally:
        controller_log.setLevel(level)


def _measure(port: int, speedup: float, faults: dict[str, float], seed: int, what: str, count: int) -> float | None:
    """One upload's seconds on a fresh connection (through the proxy unless ``faults`` is
    empty), or None when it failed."""
    with _through(port, faults, seed) as conn:
        try:
            return _time_upload(conn, speedup, what, count, 0.3)
        except Exception as exc:  # a failed seed is counted, not fatal
            print(f"    {what} {count} seed {seed}: {type(exc).__name__}: {exc}", flush=True)
            return None


def _median(times: list[float | None]) -> float | None:
    """The median of the uploads that succeeded; None when none did."""
    done = [t for t in times if t is not None]
    return statistics.median(done) if done else None


def _warm_up(port: int, speedup: float, what: str, count: int) -> None:
    """Upload once, untimed, until the vehicle takes it: a freshly booted ArduPilot answers
    heartbeats before its mission storage is ready (it then refuses a count with NO_SPACE)."""
    deadline = time.monotonic() + 60.0
    while True:
        try:
            _time_upload(f"tcp:127.0.0.1:{port}", speedup, what, count, 0.3)
            return
        except Exception:
            if time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _rows(target: str, factory: VehicleFactory, what: str, count: int, seeds: int) -> list[dict[str, Any]]:
    rows = []
    for link, clean_faults, lossy_faults in (
        ("no added delay", NO_FAULTS, LOSS_ONLY),
        ("30 +- 20 ms each way", DELAY_ONLY, LOSS),
    ):
        with factory() as (_host, port, speedup):  # one vehicle per link: each upload replaces the list
            _warm_up(port, speedup, what, count)
            clean_seeds = range(1, 1 + min(seeds, CLEAN_SEEDS))
            direct = (
                _median([_measure(port, speedup, {}, s, what, count) for s in clean_seeds])
                if clean_faults is NO_FAULTS
                else None
            )
            clean = _median([_measure(port, speedup, clean_faults, s, what, count) for s in clean_seeds])
            lossy = [_measure(port, speedup, lossy_faults, 100 + s, what, count) for s in range(seeds)]
        done = [t for t in lossy if t is not None]
        median = statistics.median(done) if done else math.nan
        ratio = median / clean if clean else math.nan
        rows.append(
            {
                "target": target,
                "list": what,
                "items": count,
                "link": link,
                "direct_s": round(direct, 3) if direct is not None else "",
                "clean_s": round(clean, 3) if clean is not None else "failed",
                "loss20_median_s": round(median, 3),
                "loss20_max_s": round(max(done), 3) if done else math.nan,
                "succeeded": f"{len(done)}/{seeds}",
                "ratio": round(ratio, 2),
                "goal": f"<= {TARGET_RATIO:g}x, all seeds",
                "ok": len(done) == seeds and ratio <= TARGET_RATIO,
            }
        )
    return rows


def _sim_factory() -> AbstractContextManager[tuple[str, int, float]]:
    from drone_patrol.sim.copter import SimulatedCopter

    @contextmanager
    def run() -> Iterator[tuple[str, int, float]]:
        with SimulatedCopter(home=HOME, speedup=5.0, seed=1) as sim:
            yield ("127.0.0.1", sim.port, 5.0)

    return run()


def _sitl_factory() -> AbstractContextManager[tuple[str, int, float]]:
    from drone_patrol.service.sitl import SitlProcess

    @contextmanager
    def run() -> Iterator[tuple[str, int, float]]:
        sitl = SitlProcess(
            os.environ["ARDUPILOT_SITL"], HOME, speedup=1.0, defaults=os.environ.get("ARDUPILOT_SITL_DEFAULTS") or None
        )
        try:
            sitl.start()
            yield ("127.0.0.1", sitl.port, 1.0)
        finally:
            sitl.stop()

    return run()


def run() -> list[dict[str, Any]]:
    """Rows per target (simulator, SITL) and list: mission 100 (and the largest), fence, rally.

    ``BENCH_SEEDS`` (20), ``BENCH_CONTROLLER_TARGETS`` (``sim,sitl``) and
    ``BENCH_CONTROLLER_LISTS`` (``mission,fence,rally,large``) choose what runs."""
    seeds = int(os.environ.get("BENCH_SEEDS", "20"))
    only = os.environ.get("BENCH_CONTROLLER_TARGETS", "sim,sitl").split(",")
    lists = os.environ.get("BENCH_CONTROLLER_LISTS", "mission,fence,rally,large").split(",")
    rows: list[dict[str, Any]] = []
    cases = [(what, count) for what, count in (("mission", 100), ("fence", 41), ("rally", 10)) if what in lists]
    targets: list[tuple[str, VehicleFactory, int]] = []
    if "sim" in only:
        targets.append(("sim 5x", _sim_factory, 700))
    if "sitl" in only:
        if not os.environ.get("ARDUPILOT_SITL"):
            rows.append({"target": "sitl", "goal": "ARDUPILOT_SITL not set: skipped"})
        else:
            targets.append(("sitl 1x", _sitl_factory, 649))
    for target, factory, large in targets:
        for what, count in cases:
            rows += _rows(target, factory, what, count, seeds)
        if "large" in lists:
            rows += _rows(target, factory, "mission", large, max(1, seeds // 10))
    return rows
