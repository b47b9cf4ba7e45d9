"""``controller``: how to reach the vehicle and the failsafes to set before take-off."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from drone_patrol.core.config._base import Section


class FailsafeConfig(Section):
    """Vehicle failsafe parameters set and read back during preflight (ArduCopter names)."""

    fs_gcs_enable: int = Field(default=1, ge=0, le=7)
    fs_gcs_timeout_s: float = Field(default=5.0, ge=2, le=120)
    batt_fs_low_act: int = Field(default=2, ge=0, le=5)
    fence_enable: int = Field(default=1, ge=0, le=1)
    fence_action: int = Field(default=1, ge=0, le=7)
    fence_alt_max_m: float = Field(default=120.0, gt=0)
    rtl_alt_m: float = Field(default=30.0, gt=0)


class ControllerConfig(Section):
    """MAVLink link and mission-transfer settings."""

    connection: str = "tcp:127.0.0.1:5760"
    source_system: int = Field(default=255, ge=1, le=255)
    source_component: int = Field(default=190, ge=0, le=255)
    heartbeat_hz: float = Field(default=1.0, gt=0)
    telemetry_hz: float = Field(default=4.0, gt=0)
    item_timeout_s: float = Field(default=1.5, gt=0)
    retries: int = Field(default=5, ge=0)
    transfer_deadline_s: float = Field(default=60.0, gt=0)
    command_timeout_s: float = Field(default=1.5, gt=0)
    signing_key_env: str = "DRONE_PATROL_SIGNING_KEY"
    signing_key_file: Path | None = None
    battery_reserve_fraction: float = Field(default=0.25, ge=0, lt=1)
    failsafe: FailsafeConfig = FailsafeConfig()
