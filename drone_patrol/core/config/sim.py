"""``sim``: the simulated vehicle and camera used by the demo and by tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from drone_patrol.core.config._base import Section


class SimConfig(Section):
    """Where the simulated ArduCopter listens, how fast it runs, and the scenario it sees.

    ``udp_out`` also sends the vehicle's MAVLink to a UDP ground station ("HOST:PORT",
    e.g. QGroundControl on 127.0.0.1:14550); ``params`` overrides ArduCopter parameter
    defaults by name (``{"BATT_FS_LOW_ACT": 2}``); ``gps_ready_s`` and ``ekf_ready_s`` are
    the simulated seconds after start at which the GPS has a 3D fix and the EKF uses it.
    """

    home: str | None = None  # "LAT,LON,ALT[,HDG]"; None: the area file's home point
    host: str = "127.0.0.1"
    port: int = Field(default=5760, ge=0, le=65535)
    speedup: float = Field(default=5.0, gt=0, le=100)
    seed: int = 1
    scenario: Path | None = Path("flight_plans/scenarios/fires_in_alleys.geojson")
    udp_out: str | None = None
    params: dict[str, float] = Field(default_factory=dict)
    gps_ready_s: float = Field(default=3.0, ge=0)
    ekf_ready_s: float = Field(default=6.0, ge=0)
