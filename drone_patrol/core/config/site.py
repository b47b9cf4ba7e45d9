"""``site``: which site and drone this process serves, and where its files live."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from drone_patrol.core.config._base import Section


class SiteConfig(Section):
    """Identity of the site and drone (they appear in MQTT topics and CloudEvents sources)."""

    id: str = Field(default="dongxi", pattern=r"^[A-Za-z0-9_-]+$")
    drone_id: str = Field(default="drone-1", pattern=r"^[A-Za-z0-9_-]+$")
    areas_file: Path = Path("flight_plans/guilin_dongxi_xiang.geojson")
    data_dir: Path = Path("var")
    ground_altitude_m: float = 150.0  # AMSL of the site's ground: flat-ground georeferencing, simulator home
