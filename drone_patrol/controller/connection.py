"""Connection strings as pymavlink and MAVProxy take them, and MAVLink 2 signing keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from drone_patrol.core.errors import LinkError


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    """A parsed connection string."""

    kind: str  # tcp | udpin | udpout | serial
    address: str  # host:port or device path
    baud: int = 57600

    @property
    def is_stream(self) -> bool:
        """True for links that can drop and be reopened (TCP)."""
        return self.kind == "tcp"


def parse_connection(text: str) -> ConnectionSpec:
    """Parse a connection string as pymavlink and MAVProxy take them.

    ``tcp:HOST:PORT``, ``udpin:HOST:PORT`` (listen), ``udpout:HOST:PORT`` (send),
    ``udp:HOST:PORT`` (same as udpin), ``DEVICE`` or ``DEVICE,BAUD`` for a serial port.
    Raises :class:`LinkError` naming the string and what was expected.
    """
    raw = text.strip()
    for kind in ("tcp", "udpin", "udpout", "udp"):
        prefix = kind + ":"
        if raw.startswith(prefix):
            address = raw[len(prefix) :]
            host, sep, port = address.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise LinkError(f"connection {text!r}: expected {kind}:HOST:PORT with a port in 1..65535")
            return ConnectionSpec("udpin" if kind == "udp" else kind, f"{host}:{int(port)}")
    if raw.startswith("/") or raw.upper().startswith("COM"):
        device, sep, baud = raw.partition(",")
        if sep and not baud.isdigit():
            raise LinkError(f"connection {text!r}: baud rate {baud!r} is not a number")
        return ConnectionSpec("serial", device, int(baud) if sep else 57600)
    raise LinkError(
        f"connection {text!r}: expected tcp:HOST:PORT, udpin:HOST:PORT, udpout:HOST:PORT or /dev/DEVICE[,BAUD]"
    )


def signing_key_from_secret(secret: str) -> bytes:
    """The 32-byte MAVLink 2 signing key: 64 hex digits as they are, else SHA-256 of the passphrase.

    SHA-256 of a passphrase is how MAVProxy's ``signing setup`` and QGroundControl derive it.
    """
    text = secret.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return hashlib.sha256(text.encode("utf-8")).digest()
