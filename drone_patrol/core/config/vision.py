"""``vision``: detector thresholds, tracking and incident rules."""

from __future__ import annotations

from pydantic import Field

from drone_patrol.core.config._base import Section


class VisionConfig(Section):
    """Thresholds of the thermal pipeline; see drone_patrol.vision for what each does."""

    hotspot_threshold_c: float = 80.0
    hotspot_mad_k: float = Field(default=6.0, gt=0)
    hotspot_margin_c: float = Field(default=15.0, ge=0)
    crowd_min_people: int = Field(default=6, ge=2)
    crowd_eps_m: float = Field(default=2.5, gt=0)
    crowd_min_duration_s: float = Field(default=10.0, ge=0)
