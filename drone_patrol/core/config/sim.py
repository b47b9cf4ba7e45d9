"""``sim``: the simulated vehicle and camera used by the demo and by tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from drone_patrol.core.config._base import Section


class SimConfig(Section):
    """Where the simulated ArduCopter listens, how fast it runs, and the scenario it sees."""

    home: str | None = None  # "LAT,LON,ALT[,HDG]"; None: the area file's home point
    host: str = "127.0.0.1"
    port: int = Field(default=5760, ge=0, le=65535)
    speedup: float = Field(default=5.0, gt=0, le=100)
    seed: int = 1
    scenario: Path | None = Path("flight_plans/scenarios/fires_in_alleys.geojson")
