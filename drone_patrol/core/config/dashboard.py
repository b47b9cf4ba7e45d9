"""``dashboard``: the command-room web page."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator

from drone_patrol.core.config._base import Section


class DashboardConfig(Section):
    """Where the dashboard listens, how staff sign in, what it draws and what it keeps.

    The staff token is read from the environment variable named by ``token_env``
    (or from ``token_file``), never from the config file. Without a token the
    dashboard only serves on a loopback address. ``site`` ``None`` follows
    ``site.id``; ``"+"`` watches every site on the broker. ``areas_file`` ``None``
    follows ``site.areas_file``. ``route_files`` are planned routes to draw
    (``.plan``, ``.route.geojson``, ``.geojson`` or ``.waypoints``).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    token_env: str = "DRONE_PATROL_DASHBOARD_TOKEN"
    token_file: Path | None = None
    # A second token for those who may command drones ("eyes on"); without it every member of staff may.
    command_token_env: str = "DRONE_PATROL_DASHBOARD_COMMAND_TOKEN"
    command_token_file: Path | None = None
    session_hours: float = Field(default=12.0, gt=0)
    tile_url: str | None = None
    tile_attribution: str = ""
    tile_max_zoom: int = Field(default=19, ge=1, le=24)
    # a local raster MBTiles or PMTiles file: the offline base map, served at /tiles/ (tile_mbtiles: its older name)
    tile_file: Path | None = Field(default=None, validation_alias=AliasChoices("tile_file", "tile_mbtiles"))
    tls_cert_file: Path | None = None  # PEM certificate (chain) and key: HTTPS with Secure cookies
    tls_key_file: Path | None = None
    realert_after_s: float = Field(default=60.0, gt=0)  # an incident nobody acknowledged sounds again
    site: str | None = Field(default=None, pattern=r"^(\+|[A-Za-z0-9_-]+)$")
    areas_file: Path | None = None
    route_files: tuple[Path, ...] = ()
    archive_path: Path | None = None  # None: <site.data_dir>/dashboard.sqlite
    # postgresql://USER@HOST:PORT/DB: the PostgreSQL city archive several dashboards share (wins over archive_path)
    archive_url: str | None = Field(default=None, pattern=r"^postgres(ql)?://")
    # nats://HOST:PORT,...: the city cluster's NATS client ports; with archive_url the dashboards
    # split the archive writes through one shared JetStream consumer (each alert stored once)
    archive_queue_url: str | None = Field(default=None, pattern=r"^(nats|tls)://")
    # with archive_queue_url: each dashboard checks, this long after an alert, ack or dispatch step
    # arrived over MQTT, that the archive holds it, and stores it itself when not (the writer's backstop)
    archive_confirm_after_s: float = Field(default=30.0, gt=0)
    history_hours: float = Field(default=12.0, gt=0)
    archive_keep_days: float = Field(default=90.0, gt=0)
    track_points: int = Field(default=1800, ge=2)
    offline_after_s: float = Field(default=10.0, gt=0)
    video_max_fps: float = Field(default=4.0, gt=0, le=30)
    video_max_bytes: int = Field(default=262_144, gt=0)
    sound: bool = True
    client_id: str | None = None
    # the command room's time zone (IANA name): the times of the shift reports (CSV, HTML)
    time_zone: str = "Asia/Shanghai"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (expected an IANA name such as Asia/Shanghai)") from None
        return v
