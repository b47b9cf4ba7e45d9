"""``controller``: how to reach the vehicle and the failsafes to set before take-off."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    # FENCE_TYPE bits (1 altitude ceiling, 2 circle around home, 4 uploaded polygons and
    # circles); None: ceiling + the uploaded zones when the mission has any, else ceiling + circle
    fence_type: int | None = Field(default=None, ge=0, le=15)
    fence_radius_m: float = Field(default=300.0, ge=30)  # FENCE_RADIUS of the circle around home
    rtl_alt_m: float = Field(default=30.0, gt=0)
    # Clear FS_OPTIONS bit 4 (ArduCopter's default "continue in pilot-controlled modes on GCS
    # failsafe"): a drone the service paused in BRAKE or LOITER then also returns when the link is
    # lost, instead of hovering until its battery failsafe. The other FS_OPTIONS bits are kept.
    gcs_failsafe_in_pilot_modes: bool = True


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
    # How many times faster than real time the vehicle's clock runs (SITL --speedup, the
    # simulator's speedup). Waits that stand for vehicle time (heartbeat rate, GPS wait,
    # flight phases) are divided by it; link timeouts never go below min_wall_timeout_s.
    speedup: float = Field(default=1.0, gt=0, le=100)
    min_wall_timeout_s: float = Field(default=0.5, gt=0)
    link_timeout_s: float = Field(default=3.0, gt=0)  # vehicle seconds without a heartbeat: link lost
    reconnect_timeout_s: float = Field(default=60.0, gt=0)  # vehicle seconds to wait for a lost link
    connect_timeout_s: float = Field(default=30.0, gt=0)  # wall seconds for the first heartbeat
    pause_mode: Literal["BRAKE", "LOITER"] = "BRAKE"
    min_gps_fix: int = Field(default=3, ge=2, le=6)
    min_satellites: int = Field(default=6, ge=0)
    gps_wait_s: float = Field(default=120.0, gt=0)  # vehicle seconds to wait for GPS and EKF
    verify_upload: bool = True
    # endurance model for battery checks: full-battery flight time and phase rates
    flight_time_s: float = Field(default=1500.0, gt=0)
    climb_rate_m_s: float = Field(default=2.5, gt=0)
    descent_rate_m_s: float = Field(default=1.5, gt=0)
    battery_critical_percent: float = Field(default=10.0, ge=0, le=100)
    takeoff_altitude_m: float = Field(default=10.0, gt=0)  # when the mission has no NAV_TAKEOFF
