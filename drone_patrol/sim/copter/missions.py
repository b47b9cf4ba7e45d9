"""The vehicle's three item lists (mission, fence, rally) and how ArduCopter stores items.

Pure data and validation; the transfer protocol lives in ``transfer.py``. An item is
kept as MISSION_ITEM_INT carries it. What is stored follows ArduCopter's
``AP_Mission`` conversion: positions are checked, the frame must be one it knows
(GLOBAL, GLOBAL_RELATIVE_ALT or GLOBAL_TERRAIN_ALT, with or without _INT, or
MISSION meaning absolute), and a download returns the non-_INT frame numbers
(0, 3, 10) whatever was uploaded. Seq 0 of the mission is home: whatever is
uploaded there is replaced by the vehicle's home when read back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from drone_patrol.core.types import MavCmd

# Capacities come from ArduPilot's storage layout. Fence and rally are what ArduCopter
# SITL reports ("Only 70/46 items are supported"); the mission keeps 724 items (home
# included), the figure of 16 KiB-storage flight controllers, so that a 700-waypoint
# patrol fits (this SITL build stops at 650).
MISSION_MAX_ITEMS = 724
FENCE_MAX_ITEMS = 70
RALLY_MAX_ITEMS = 46

MISSION = mavlink2.MAV_MISSION_TYPE_MISSION
FENCE = mavlink2.MAV_MISSION_TYPE_FENCE
RALLY = mavlink2.MAV_MISSION_TYPE_RALLY

ACCEPTED = mavlink2.MAV_MISSION_ACCEPTED
ERROR = mavlink2.MAV_MISSION_ERROR
UNSUPPORTED_FRAME = mavlink2.MAV_MISSION_UNSUPPORTED_FRAME
UNSUPPORTED = mavlink2.MAV_MISSION_UNSUPPORTED
NO_SPACE = mavlink2.MAV_MISSION_NO_SPACE
INVALID = mavlink2.MAV_MISSION_INVALID
INVALID_PARAM1 = mavlink2.MAV_MISSION_INVALID_PARAM1
INVALID_X = mavlink2.MAV_MISSION_INVALID_PARAM5_X
INVALID_Y = mavlink2.MAV_MISSION_INVALID_PARAM6_Y
INVALID_SEQUENCE = mavlink2.MAV_MISSION_INVALID_SEQUENCE
DENIED = mavlink2.MAV_MISSION_DENIED
CANCELLED = mavlink2.MAV_MISSION_OPERATION_CANCELLED

# Navigation commands the simulator flies.
NAV_COMMANDS = frozenset(
    {
        MavCmd.NAV_WAYPOINT,
        MavCmd.NAV_LOITER_UNLIM,
        MavCmd.NAV_LOITER_TURNS,
        MavCmd.NAV_LOITER_TIME,
        MavCmd.NAV_RETURN_TO_LAUNCH,
        MavCmd.NAV_LAND,
        MavCmd.NAV_TAKEOFF,
        MavCmd.NAV_SPLINE_WAYPOINT,
        93,  # NAV_DELAY
    }
)
# "Do" commands executed when reached (or accepted and ignored, like DO_SET_CAM_TRIGG_DIST).
DO_COMMANDS = frozenset(
    {
        MavCmd.DO_JUMP,
        MavCmd.DO_CHANGE_SPEED,
        MavCmd.DO_SET_ROI_LOCATION,
        MavCmd.DO_SET_ROI_NONE,
        MavCmd.DO_FENCE_ENABLE,
        112,  # CONDITION_DELAY
        177,  # DO_JUMP
        179,  # DO_SET_HOME
        183,  # DO_SET_SERVO
        189,  # DO_LAND_START
        201,  # DO_SET_ROI
        203,  # DO_DIGICAM_CONTROL
        205,  # DO_MOUNT_CONTROL
        206,  # DO_SET_CAM_TRIGG_DIST
        2000,  # IMAGE_START_CAPTURE
        2001,  # IMAGE_STOP_CAPTURE
    }
)
FENCE_COMMANDS = frozenset(
    {
        MavCmd.NAV_FENCE_RETURN_POINT,
        MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        MavCmd.NAV_FENCE_CIRCLE_INCLUSION,
        MavCmd.NAV_FENCE_CIRCLE_EXCLUSION,
    }
)
# Commands whose x/y/z hold a location (checked and frame-converted on upload).
LOCATION_COMMANDS = frozenset(
    {
        MavCmd.NAV_WAYPOINT,
        MavCmd.NAV_LOITER_UNLIM,
        MavCmd.NAV_LOITER_TURNS,
        MavCmd.NAV_LOITER_TIME,
        MavCmd.NAV_LAND,
        MavCmd.NAV_TAKEOFF,
        MavCmd.NAV_SPLINE_WAYPOINT,
        MavCmd.DO_SET_ROI_LOCATION,
        179,
        201,
    }
)
_ABSOLUTE_FRAMES = {mavlink2.MAV_FRAME_MISSION, mavlink2.MAV_FRAME_GLOBAL, mavlink2.MAV_FRAME_GLOBAL_INT}
_RELATIVE_FRAMES = {mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT, mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT}
_TERRAIN_FRAMES = {mavlink2.MAV_FRAME_GLOBAL_TERRAIN_ALT, mavlink2.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT}


@dataclass(frozen=True, slots=True)
class Item:
    """One stored item, as MISSION_ITEM_INT carries it (x, y in degrees * 1e7)."""

    command: int
    frame: int = mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0
    y: int = 0
    z: float = 0.0
    autocontinue: int = 1

    @property
    def latitude_deg(self) -> float:
        """Latitude in degrees."""
        return self.x / 1e7

    @property
    def longitude_deg(self) -> float:
        """Longitude in degrees."""
        return self.y / 1e7

    @property
    def relative_alt(self) -> bool:
        """True when ``z`` is above home."""
        return self.frame in (mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT, mavlink2.MAV_FRAME_GLOBAL_TERRAIN_ALT)


def _check_lat_lon(x: int, y: int) -> int:
    if abs(x) > 900_000_000:
        return INVALID_X
    if abs(y) > 1_800_000_000:
        return INVALID_Y
    return ACCEPTED


def _stored_frame(frame: int) -> int | None:
    if frame in _ABSOLUTE_FRAMES:
        return mavlink2.MAV_FRAME_GLOBAL
    if frame in _RELATIVE_FRAMES:
        return mavlink2.MAV_FRAME_GLOBAL_RELATIVE_ALT
    if frame in _TERRAIN_FRAMES:
        return mavlink2.MAV_FRAME_GLOBAL_TERRAIN_ALT
    return None


def convert_mission_item(item: Item) -> tuple[int, Item | None]:
    """Validate a mission item as AP_Mission does; return (MAV_MISSION_RESULT, stored item)."""
    cmd = item.command
    if cmd not in NAV_COMMANDS and cmd not in DO_COMMANDS:
        return UNSUPPORTED, None
    if cmd in LOCATION_COMMANDS:
        result = _check_lat_lon(item.x, item.y)
        if result != ACCEPTED:
            return result, None
        frame = _stored_frame(item.frame)
        if frame is None:
            return UNSUPPORTED_FRAME, None
        # AP_Mission keeps altitude in centimetres.
        stored = replace(item, frame=frame, z=round(item.z * 100.0) / 100.0)
    else:
        stored = replace(item, frame=mavlink2.MAV_FRAME_GLOBAL, x=0, y=0, z=0.0) if cmd != 93 else item
        if cmd in (MavCmd.DO_JUMP,):
            stored = replace(stored, param1=float(int(item.param1)), param2=float(int(item.param2)))
    if cmd in (MavCmd.NAV_WAYPOINT, MavCmd.NAV_SPLINE_WAYPOINT):
        # Copter keeps only the hold time (whole seconds) of a waypoint.
        stored = replace(stored, param1=float(max(0, min(65535, int(item.param1)))), param2=0.0, param3=0.0, param4=0.0)
    elif cmd == MavCmd.NAV_LOITER_TIME:
        stored = replace(stored, param1=float(max(0, min(65535, int(item.param1)))))
    elif cmd == MavCmd.NAV_LOITER_TURNS and item.param1 < 0:
        return INVALID_PARAM1, None
    return ACCEPTED, stored


_FENCE_FRAMES = _ABSOLUTE_FRAMES - {mavlink2.MAV_FRAME_MISSION} | _RELATIVE_FRAMES | _TERRAIN_FRAMES


def convert_fence_item(item: Item) -> tuple[int, Item | None]:
    """Convert one fence item (5000-5004) as MissionItemProtocol_Fence does (counts are checked at the end)."""
    if item.frame not in _FENCE_FRAMES:
        return UNSUPPORTED_FRAME, None
    if item.command not in FENCE_COMMANDS:
        return UNSUPPORTED, None
    polygon = (MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
    if item.command in polygon and item.param1 > 255:
        return INVALID_PARAM1, None
    return ACCEPTED, replace(item, frame=mavlink2.MAV_FRAME_GLOBAL, z=0.0)


def convert_rally_item(item: Item) -> tuple[int, Item | None]:
    """Validate one rally point (5100) as AP_Rally does."""
    if item.command != MavCmd.NAV_RALLY_POINT:
        return UNSUPPORTED, None
    result = _check_lat_lon(item.x, item.y)
    if result != ACCEPTED:
        return result, None
    if not -32768 <= item.z <= 32767:
        return mavlink2.MAV_MISSION_INVALID_PARAM7, None
    frame = _stored_frame(item.frame) if item.frame != mavlink2.MAV_FRAME_MISSION else None
    if frame is None:
        return UNSUPPORTED_FRAME, None
    # RallyLocation keeps whole metres and the altitude frame; it reads back in that frame.
    return ACCEPTED, replace(item, frame=frame, z=float(int(item.z)))


def validate_fence(items: list[Item]) -> str | None:
    """AC_PolyFence_loader's checks of a complete upload: None when good, else its warning text."""
    polygon = (MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MavCmd.NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
    i = 0
    while i < len(items):
        item = items[i]
        if item.command in polygon:
            count = int(item.param1)
            if count < 3:
                return f"Invalid vertex count ({count})"
            for v in items[i : i + count]:
                if v.command != item.command:
                    return f"Received incorrect vertex type (want={item.command} got={v.command})"
                if int(v.param1) != count:
                    return f"Unexpected vertex count want={count} got={int(v.param1)}"
            if len(items) - i < count:
                return "Fence validation failed"
            i += count
            continue
        if item.command in (MavCmd.NAV_FENCE_CIRCLE_INCLUSION, MavCmd.NAV_FENCE_CIRCLE_EXCLUSION) and item.param1 <= 0:
            return "Non-positive circle radius"
        i += 1
    return None


class ItemStore:
    """The three lists the vehicle holds; ``mission[0]`` is a placeholder for home."""

    def __init__(self) -> None:
        self.lists: dict[int, list[Item]] = {MISSION: [Item(MavCmd.NAV_WAYPOINT)], FENCE: [], RALLY: []}

    @staticmethod
    def max_items(mission_type: int) -> int:
        """How many items the list of ``mission_type`` can hold (mission: home included)."""
        return {MISSION: MISSION_MAX_ITEMS, FENCE: FENCE_MAX_ITEMS, RALLY: RALLY_MAX_ITEMS}[mission_type]

    def count(self, mission_type: int) -> int:
        """Items in a list, home included for the mission (as MISSION_COUNT reports)."""
        return len(self.lists[mission_type])

    def convert(self, mission_type: int, item: Item) -> tuple[int, Item | None]:
        """Validate an uploaded item for a list."""
        if mission_type == MISSION:
            return convert_mission_item(item)
        if mission_type == FENCE:
            return convert_fence_item(item)
        return convert_rally_item(item)
