"""Typed errors shared by every part of drone-patrol.

Every failure a user can cause or meet is a subclass of :class:`DronePatrolError`;
the CLI prints ``str(error)`` on one line and exits non-zero, so messages must name
the file, field or value at fault and what was expected. Errors from the wire carry
the protocol's result code, as MAVSDK's do, never a bare ``None``.
"""

from __future__ import annotations


class DronePatrolError(Exception):
    """Base class of every error drone-patrol raises on purpose."""

    exit_code: int = 1


class ConfigError(DronePatrolError):
    """A configuration file or environment override is missing or invalid."""

    exit_code = 2


class InputError(DronePatrolError):
    """A user-supplied file or value is malformed (area file, plan file, frame, ...)."""

    exit_code = 2


class AreaFileError(InputError):
    """An area file (GeoJSON or KML) cannot be used as planner input."""


class MissionFileError(InputError):
    """A mission file (.waypoints, .plan, .geojson) cannot be read or written."""


class PlanningError(DronePatrolError):
    """The planner cannot build a mission that meets the constraints.

    ``option`` names the planner setting at fault (a ``PlannerConfig`` field) when one is,
    so a command can name its own option for it.
    """

    def __init__(self, message: str = "", option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class LinkError(DronePatrolError):
    """The MAVLink link to the vehicle cannot be opened or was lost."""


class OperationTimeoutError(DronePatrolError):
    """An operation on the vehicle did not finish within its deadline."""

    def __init__(self, operation: str, timeout_s: float, detail: str = "") -> None:
        self.operation = operation
        self.timeout_s = timeout_s
        msg = f"{operation}: no answer within {timeout_s:.1f} s"
        super().__init__(f"{msg} ({detail})" if detail else msg)


#: what each MAV_MISSION_RESULT refusal means, in words (MAVLink common.xml)
MISSION_RESULT_WORDS = {
    1: "the vehicle reported an error",
    2: "the vehicle does not support this frame (coordinate system)",
    3: "the vehicle does not support this command",
    4: "the vehicle has no room for this many items",
    5: "an item's parameters are invalid",
    6: "param1 is invalid",
    7: "param2 is invalid",
    8: "param3 is invalid",
    9: "param4 is invalid",
    10: "the latitude (x / param5) is invalid",
    11: "the longitude (y / param6) is invalid",
    12: "the altitude (z / param7) is invalid",
    13: "an item was sent out of sequence",
    14: "the vehicle is not accepting mission items now (it may be flying or busy)",
    15: "the vehicle cancelled the transfer",
}


class MissionTransferError(DronePatrolError):
    """A mission, fence or rally transfer failed.

    ``result`` is the MAV_MISSION_RESULT code (or -1 for a timeout without an ACK),
    ``result_name`` its enum name, ``operation`` one of upload/download/clear/verify.
    The message says what the result means in words.
    """

    def __init__(self, result: int, operation: str, result_name: str = "", detail: str = "") -> None:
        self.result = result
        self.operation = operation
        self.result_name = result_name or str(result)
        words = MISSION_RESULT_WORDS.get(result)
        if result_name == "MISMATCH":  # found by reading the list back, not reported by the vehicle
            words = "the list read back differs from the one sent"
        msg = f"mission {operation} failed: {self.result_name}" + (f": {words}" if words else "")
        super().__init__(f"{msg} ({detail})" if detail else msg)


class CommandRejectedError(DronePatrolError):
    """A COMMAND_LONG was answered with a result other than ACCEPTED.

    ``command`` is the MAV_CMD id, ``result`` the MAV_RESULT code; the names are
    carried for the message.
    """

    def __init__(
        self,
        command: int,
        result: int,
        command_name: str = "",
        result_name: str = "",
        detail: str = "",
    ) -> None:
        self.command = command
        self.result = result
        self.command_name = command_name or str(command)
        self.result_name = result_name or str(result)
        msg = f"command {self.command_name} rejected: {self.result_name}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class PreflightError(DronePatrolError):
    """A preflight check failed; the message names the check and the reason."""


class VisionError(DronePatrolError):
    """A frame source, camera model or detector cannot be used."""


class ModelError(VisionError):
    """A model file is missing, truncated or of a layout that cannot be decoded."""


class AlertsError(DronePatrolError):
    """Alert publishing or subscribing failed (broker, credentials, ACL, outbox)."""
