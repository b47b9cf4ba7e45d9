"""Mission upload time: 100 and 700 items, clean and through 20% loss each way, to the simulator and SITL.

The lossy rows go through the faulty-link proxy (20% drop each way, 2% duplicates,
30 +- 20 ms delay). The simulated vehicle runs at 5x there: the proxy's delays are
wall-clock while the vehicle's re-request (1 s) and upload timeout (8 s) run on its
clock. SITL rows appear when ``ARDUPILOT_SITL`` names an arducopter binary
(``ARDUPILOT_SITL_DEFAULTS`` its copter.parm); SITL holds at most 650 items with
home, so its large row is 649 items.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from drone_patrol.controller import Vehicle
from drone_patrol.core.config import ControllerConfig
from drone_patrol.core.geo import destination
from drone_patrol.core.types import GeoPoint, MavCmd, Mission, Waypoint

TITLE = "Controller: mission upload time (clean and 20% loss each way)"

HOME = GeoPoint(25.2821593, 110.296202, 150.0)
SIZES = (100, 700)


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


def _time_upload(connection: str, speedup: float, count: int, floor_s: float = 0.5) -> dict[str, Any]:
    config = ControllerConfig(
        connection=connection,
        speedup=speedup,
        telemetry_hz=1.0,
        min_wall_timeout_s=floor_s,
        transfer_deadline_s=600.0,
    )
    with Vehicle.connect(connection, config, timeout_s=90.0) as vehicle:
        mission = _mission(count)
        started = time.perf_counter()
        vehicle.mission.upload_items(mission)
        upload_s = time.perf_counter() - started
        started = time.perf_counter()
        vehicle.mission.verify(mission)
        verify_s = time.perf_counter() - started
    return {"upload_s": round(upload_s, 3), "items_per_s": round(count / upload_s, 1), "verify_s": round(verify_s, 3)}


def _row(target: str, loss: str, count: int, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"target": target, "link": loss, "items": count}
    try:
        row.update(fn())
    except Exception as exc:  # one failing row must not hide the others
        row.update({"upload_s": "", "items_per_s": "", "verify_s": "", "error": f"{type(exc).__name__}: {exc}"})
    return row


def _sim_rows() -> list[dict[str, Any]]:
    from drone_patrol.sim.copter import SimulatedCopter
    from drone_patrol.sim.link import FaultyLink

    rows = []
    for count in SIZES:
        with SimulatedCopter(home=HOME, speedup=5.0, seed=1) as sim:
            conn = sim.connection_string
            rows.append(_row("sim 5x", "direct", count, partial(_time_upload, conn, 5.0, count)))
        with SimulatedCopter(home=HOME, speedup=5.0, seed=1) as sim:
            link = FaultyLink(("127.0.0.1", sim.port), drop=0.2, dup=0.02, delay_ms=30, jitter_ms=20, seed=5).start()
            try:
                conn = f"tcp:127.0.0.1:{link.port}"
                rows.append(_row("sim 5x", "20% loss", count, partial(_time_upload, conn, 5.0, count, 0.3)))
            finally:
                link.stop()
    return rows


def _sitl_rows() -> list[dict[str, Any]]:
    binary = os.environ.get("ARDUPILOT_SITL", "")
    if not binary:
        return [{"target": "sitl", "link": "", "items": "", "error": "ARDUPILOT_SITL not set: skipped"}]
    from drone_patrol.service.sitl import SitlProcess
    from drone_patrol.sim.link import FaultyLink

    defaults = os.environ.get("ARDUPILOT_SITL_DEFAULTS") or None
    rows = []
    # ArduCopter SITL holds 650 items with home ("Only 650 items are supported")
    for count in (100, 649):
        for lossy in (False, True):
            label = "20% loss" if lossy else "direct"
            sitl = SitlProcess(binary, HOME, speedup=5.0, defaults=defaults)
            try:
                sitl.start()
                if lossy:
                    link = FaultyLink(("127.0.0.1", sitl.port), drop=0.2, dup=0.02, delay_ms=30, jitter_ms=20).start()
                    try:
                        conn = f"tcp:127.0.0.1:{link.port}"
                        rows.append(_row("sitl 5x", label, count, partial(_time_upload, conn, 5.0, count, 0.3)))
                    finally:
                        link.stop()
                else:
                    conn = sitl.connection_string
                    rows.append(_row("sitl 5x", label, count, partial(_time_upload, conn, 5.0, count)))
            finally:
                sitl.stop()
    return rows


def run() -> list[dict[str, Any]]:
    """One row per target, link and mission size."""
    return _sim_rows() + _sitl_rows()
