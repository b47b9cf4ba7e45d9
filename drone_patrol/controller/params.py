"""Vehicle parameters: read by name and set with read-back verification."""

from __future__ import annotations

import math
import time

from drone_patrol.controller.link import MavLink, mavlink
from drone_patrol.core.errors import DronePatrolError, InputError, OperationTimeoutError

_INT_TYPES = {
    mavlink.MAV_PARAM_TYPE_UINT8,
    mavlink.MAV_PARAM_TYPE_INT8,
    mavlink.MAV_PARAM_TYPE_UINT16,
    mavlink.MAV_PARAM_TYPE_INT16,
    mavlink.MAV_PARAM_TYPE_UINT32,
    mavlink.MAV_PARAM_TYPE_INT32,
}


class ParameterError(DronePatrolError):
    """The vehicle kept a different value than the one set (out of range, read-only, unknown)."""

    def __init__(self, name: str, wanted: float, got: float | None, detail: str = "") -> None:
        self.name = name
        self.wanted = wanted
        self.got = got
        kept = "no value" if got is None else f"{got:g}"
        msg = f"parameter {name}: set to {wanted:g} but the vehicle holds {kept}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


def _same(a: float, b: float, param_type: int | None) -> bool:
    if param_type in _INT_TYPES:
        return round(a) == round(b)
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


class Params:
    """Named parameter access: ``get`` asks the vehicle, ``set`` reads the answer back."""

    def __init__(self, link: MavLink, timeout_s: float = 1.5, retries: int = 3) -> None:
        self.link = link
        self.timeout_s = timeout_s
        self.retries = retries
        self._types: dict[str, int] = {}

    @staticmethod
    def _check_name(name: str) -> str:
        if not name or len(name) > 16 or not name.isascii():
            raise InputError(f"parameter name {name!r}: expected 1 to 16 ASCII characters")
        return name

    def _exchange(self, name: str, send: object) -> tuple[float, int]:
        with self.link.listen({"PARAM_VALUE"}) as q:
            for _attempt in range(self.retries + 1):
                self.link.send(send)
                wait_until = time.monotonic() + self.timeout_s
                while (remaining := wait_until - time.monotonic()) > 0:
                    msg = q.get(remaining)
                    if msg is None:
                        continue
                    pid = msg.param_id if isinstance(msg.param_id, str) else msg.param_id.decode("ascii", "replace")
                    if pid.rstrip("\x00") == name:
                        self._types[name] = int(msg.param_type)
                        return float(msg.param_value), int(msg.param_type)
        raise OperationTimeoutError(
            f"parameter {name}", self.timeout_s * (self.retries + 1), "no PARAM_VALUE (unknown parameter?)"
        )

    def get(self, name: str) -> float:
        """The vehicle's value of parameter ``name``."""
        self._check_name(name)
        msg = mavlink.MAVLink_param_request_read_message(
            self.link.target_system, self.link.target_component, name.encode("ascii"), -1
        )
        value, _ = self._exchange(name, msg)
        return value

    def set(self, name: str, value: float) -> float:
        """Set ``name`` to ``value`` and return the value the vehicle reports holding.

        Raises :class:`ParameterError` when the vehicle keeps something else.
        """
        self._check_name(name)
        param_type = self._types.get(name)
        if param_type is None:
            self.get(name)
            param_type = self._types.get(name, mavlink.MAV_PARAM_TYPE_REAL32)
        msg = mavlink.MAVLink_param_set_message(
            self.link.target_system, self.link.target_component, name.encode("ascii"), float(value), param_type
        )
        got, got_type = self._exchange(name, msg)
        if not _same(got, value, got_type):
            # a PARAM_VALUE already in flight may carry the old value: read once more
            got = self.get(name)
            if not _same(got, value, got_type):
                raise ParameterError(name, value, got)
        return got

    def ensure(self, name: str, value: float) -> bool:
        """Set ``name`` only if it differs; True when it had to be changed."""
        current = self.get(name)
        if _same(current, value, self._types.get(name)):
            return False
        self.set(name, value)
        return True
