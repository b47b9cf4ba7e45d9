"""``service``: the patrol service's schedule and operations endpoints."""

from __future__ import annotations

from pydantic import Field

from drone_patrol.core.config._base import Section


class ServiceConfig(Section):
    """Night patrol schedule and operations settings."""

    schedule_start: str = Field(default="19:00", pattern=r"^\d{2}:\d{2}$")
    schedule_end: str = Field(default="02:00", pattern=r"^\d{2}:\d{2}$")
    schedule_every_min: float = Field(default=30.0, gt=0)
    log_format: str = Field(default="text", pattern=r"^(text|json)$")
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    return_home_on_exit: bool = True
    camera_fps: float = Field(default=2.0, gt=0)  # frames per second of vehicle time
    video_fps: float = Field(default=2.0, ge=0)  # annotated JPEGs per wall second to the command room
    frame_queue: int = Field(default=4, ge=1)  # frames waiting for vision before the oldest is dropped
    report_dir: str = "out"
    # A real thermal camera: V4L2 device (/dev/video0 or an index), RTSP/HTTP URL, video file or frame folder.
    # None: the simulated camera over sim.scenario.
    frame_source: str | None = None
    frame_radiometry: str = Field(default="tlinear", pattern=r"^(tlinear|flir_raw|celsius)$")
    # Between sorties: how long (vehicle seconds) to wait for the crew to swap the battery.
    battery_swap_timeout_s: float = Field(default=1800.0, gt=0)
