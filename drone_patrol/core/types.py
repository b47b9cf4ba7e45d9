"""The value types that flow between the stages of drone-patrol.

All are frozen dataclasses with units in their field names. Angles are degrees,
distances metres, speeds metres per second, times seconds (UNIX epoch unless the
field says otherwise). Geographic positions are WGS84.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A WGS84 position; ``altitude_m`` is above mean sea level unless a field says otherwise."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude_deg <= 90.0:
            raise ValueError(f"latitude_deg {self.latitude_deg} outside [-90, 90]")
        if not -180.0 <= self.longitude_deg <= 180.0:
            raise ValueError(f"longitude_deg {self.longitude_deg} outside [-180, 180]")


class AreaRole(enum.StrEnum):
    """What a feature of an area file stands for (see DESIGN.md, 'Area file')."""

    PATROL = "patrol"
    NO_FLY = "no_fly"
    HEAT_SOURCE = "heat_source"
    HOME = "home"
    RALLY = "rally"


class PatternKind(enum.StrEnum):
    """How a patrol area is flown."""

    COVERAGE = "coverage"
    PERIMETER = "perimeter"
    CORRIDOR = "corridor"
    ORBIT = "orbit"


@dataclass(frozen=True)
class KeyArea:
    """One feature of an area file.

    ``geometry`` is a shapely geometry in WGS84 with (lon, lat) coordinates, as in
    GeoJSON. Optional figures are ``None`` when the file does not give them and the
    planner's defaults apply.
    """

    name: str
    role: AreaRole
    geometry: BaseGeometry
    pattern: PatternKind | None = None
    priority: int = 3
    altitude_m: float | None = None
    speed_m_s: float | None = None
    dwell_s: float | None = None
    radius_m: float | None = None
    width_m: float | None = None
    properties: dict[str, Any] = field(default_factory=dict, compare=False)


class MavFrame(enum.IntEnum):
    """The MAV_FRAME values the project writes and reads."""

    GLOBAL = 0
    MISSION = 2
    GLOBAL_RELATIVE_ALT = 3
    GLOBAL_INT = 5
    GLOBAL_RELATIVE_ALT_INT = 6
    GLOBAL_TERRAIN_ALT = 10
    GLOBAL_TERRAIN_ALT_INT = 11


class MavCmd(enum.IntEnum):
    """The MAV_CMD values the project uses (ids from MAVLink common.xml)."""

    NAV_WAYPOINT = 16
    NAV_LOITER_UNLIM = 17
    NAV_LOITER_TURNS = 18
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    NAV_SPLINE_WAYPOINT = 82
    DO_SET_MODE = 176
    DO_JUMP = 177
    DO_CHANGE_SPEED = 178
    DO_SET_ROI_LOCATION = 195
    DO_FENCE_ENABLE = 207
    DO_SET_ROI_NONE = 197
    DO_SET_MISSION_CURRENT = 224
    MISSION_START = 300
    COMPONENT_ARM_DISARM = 400
    SET_MESSAGE_INTERVAL = 511
    REQUEST_MESSAGE = 512
    NAV_FENCE_RETURN_POINT = 5000
    NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
    NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
    NAV_FENCE_CIRCLE_INCLUSION = 5003
    NAV_FENCE_CIRCLE_EXCLUSION = 5004
    NAV_RALLY_POINT = 5100


class MissionType(enum.IntEnum):
    """MAV_MISSION_TYPE: which of the vehicle's three lists a transfer is about."""

    MISSION = 0
    FENCE = 1
    RALLY = 2


@dataclass(frozen=True, slots=True)
class Waypoint:
    """One mission item, shaped like MISSION_ITEM_INT without its sequence number.

    ``altitude_m`` is interpreted by ``frame`` (relative to home for
    GLOBAL_RELATIVE_ALT_INT). For commands without a position, latitude and
    longitude are 0.
    """

    command: int
    frame: int = MavFrame.GLOBAL_RELATIVE_ALT_INT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    latitude_deg: float = 0.0
    longitude_deg: float = 0.0
    altitude_m: float = 0.0
    autocontinue: bool = True

    @property
    def x_int(self) -> int:
        """Latitude as MISSION_ITEM_INT carries it (degrees * 1e7)."""
        return round(self.latitude_deg * 1e7)

    @property
    def y_int(self) -> int:
        """Longitude as MISSION_ITEM_INT carries it (degrees * 1e7)."""
        return round(self.longitude_deg * 1e7)

    @property
    def has_position(self) -> bool:
        """True for navigation items that carry a location."""
        return self.command in _POSITIONED_COMMANDS


_POSITIONED_COMMANDS = frozenset(
    {
        MavCmd.NAV_WAYPOINT,
        MavCmd.NAV_LOITER_UNLIM,
        MavCmd.NAV_LOITER_TURNS,
        MavCmd.NAV_LOITER_TIME,
        MavCmd.NAV_LAND,
        MavCmd.NAV_TAKEOFF,
        MavCmd.NAV_SPLINE_WAYPOINT,
        MavCmd.DO_SET_ROI_LOCATION,
        MavCmd.NAV_FENCE_RETURN_POINT,
        MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        MavCmd.NAV_FENCE_CIRCLE_INCLUSION,
        MavCmd.NAV_FENCE_CIRCLE_EXCLUSION,
        MavCmd.NAV_RALLY_POINT,
    }
)


@dataclass(frozen=True, slots=True)
class FencePolygon:
    """A geofence polygon; ``vertices`` are open (the first is not repeated)."""

    inclusion: bool
    vertices: tuple[GeoPoint, ...]


@dataclass(frozen=True, slots=True)
class FenceCircle:
    """A geofence circle."""

    inclusion: bool
    center: GeoPoint
    radius_m: float


@dataclass(frozen=True, slots=True)
class Geofence:
    """Inclusion and exclusion zones, plus the optional breach return point."""

    polygons: tuple[FencePolygon, ...] = ()
    circles: tuple[FenceCircle, ...] = ()
    return_point: GeoPoint | None = None

    @property
    def is_empty(self) -> bool:
        """True when the fence has no zones."""
        return not self.polygons and not self.circles


@dataclass(frozen=True, slots=True)
class AreaSpan:
    """The mission items (uploaded sequence numbers, home = 0) that fly one key area."""

    area_name: str
    first_seq: int
    last_seq: int


@dataclass(frozen=True)
class Mission:
    """One sortie as the vehicle will hold it.

    ``items`` exclude home: on upload home goes at seq 0 and ``items[i]`` at seq
    ``i + 1``, as ArduPilot and QGroundControl number them.
    """

    home: GeoPoint
    items: tuple[Waypoint, ...]
    fence: Geofence = Geofence()
    rally_points: tuple[GeoPoint, ...] = ()
    cruise_speed_m_s: float = 5.0
    hover_speed_m_s: float = 5.0
    name: str = ""
    area_spans: tuple[AreaSpan, ...] = ()

    def area_at(self, seq: int) -> str | None:
        """Name of the key area whose items include uploaded sequence number ``seq``."""
        for span in self.area_spans:
            if span.first_seq <= seq <= span.last_seq:
                return span.area_name
        return None


@dataclass(frozen=True, slots=True)
class VehicleState:
    """A snapshot of what the vehicle reports, assembled from its telemetry streams.

    ``time_s`` is the UNIX time at which the snapshot was taken by the receiver;
    ``position.altitude_m`` is AMSL and ``relative_altitude_m`` above home.
    Fields the vehicle has not yet reported keep their defaults.
    """

    time_s: float = 0.0
    position: GeoPoint | None = None
    vehicle_time_s: float | None = None  # the vehicle's clock (time since boot) of the position
    relative_altitude_m: float = 0.0
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    yaw_deg: float = 0.0
    ground_speed_m_s: float = 0.0
    climb_rate_m_s: float = 0.0
    heading_deg: float = 0.0
    velocity_north_m_s: float = 0.0
    velocity_east_m_s: float = 0.0
    velocity_down_m_s: float = 0.0
    battery_percent: float | None = None
    battery_voltage_v: float | None = None
    battery_current_a: float | None = None
    battery_consumed_mah: float | None = None
    mode: str = "UNKNOWN"
    armed: bool = False
    landed: bool = True
    gps_fix_type: int = 0
    satellites_visible: int = 0
    ekf_ok: bool = False
    mission_current_seq: int = 0
    mission_reached_seq: int = -1
    home: GeoPoint | None = None
    system_status: int = 0


class AlertKind(enum.StrEnum):
    """What an alert is about; the CloudEvents type is ``org.dronepatrol.alert.<kind>``."""

    THERMAL_HOTSPOT = "thermal_hotspot"
    CROWD_GATHERING = "crowd_gathering"
    VEHICLE = "vehicle"


class AlertStatus(enum.StrEnum):
    """Where an incident is in its life."""

    NEW = "new"
    UPDATE = "update"
    CLOSED = "closed"


class Severity(enum.StrEnum):
    """How urgently the command room should act."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Alert:
    """One message for the command room about one incident.

    ``alert_id`` is unique per message (the CloudEvents ``id``, the idempotency
    key); ``incident_id`` is stable across the new/update/closed messages of the
    same incident. ``figures`` holds the kind's own numbers
    (``max_temperature_c``, ``head_count``, ``density_per_m2``, ...).
    """

    alert_id: str
    incident_id: str
    kind: AlertKind
    status: AlertStatus
    severity: Severity
    time_s: float
    location: GeoPoint | None
    error_radius_m: float
    first_seen_s: float
    last_seen_s: float
    confidence: float
    summary: str = ""
    area_name: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    thumbnail_jpeg: bytes | None = None
    site: str = ""
    drone: str = ""
