"""``dashboard``: the command-room web page."""

from __future__ import annotations

from pydantic import Field

from drone_patrol.core.config._base import Section


class DashboardConfig(Section):
    """Where the dashboard listens and how staff sign in (token from the environment)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    token_env: str = "DRONE_PATROL_DASHBOARD_TOKEN"
    tile_url: str | None = None
