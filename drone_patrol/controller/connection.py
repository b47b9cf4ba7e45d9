"""Connection strings as pymavlink and MAVProxy take them, and MAVLink 2 signing keys."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from drone_patrol.core.errors import LinkError
from drone_patrol.core.files import excerpt


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    """A parsed connection string."""

    kind: str  # tcp | udpin | udpout | serial
    address: str  # host:port or device path
    baud: int = 57600

    @property
    def is_stream(self) -> bool:
        """True for stream sockets (TCP), which the peer can close."""
        return self.kind == "tcp"

    @property
    def reopenable(self) -> bool:
        """True for links that can drop and be reopened: TCP, and a serial port unplugged and plugged back."""
        return self.kind in ("tcp", "serial")


#: the serial rates ArduPilot's SERIALn_BAUD offers (and the slower classic ones)
SERIAL_BAUDS = (
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 111100, 115200, 230400, 256000, 460800, 500000, 921600,
    1000000, 1500000, 2000000,
)  # fmt: skip


def parse_connection(text: str) -> ConnectionSpec:
    """Parse a connection string as pymavlink and MAVProxy take them.

    ``tcp:HOST:PORT``, ``udpin:HOST:PORT`` (listen), ``udpout:HOST:PORT`` (send),
    ``udp:HOST:PORT`` (same as udpin), ``DEVICE`` or ``DEVICE,BAUD`` for a serial port.
    Raises :class:`LinkError` naming the string and what was expected.
    """
    raw = text.strip()
    if not raw:
        raise LinkError(
            "connection '': empty; expected tcp:HOST:PORT, udpin:HOST:PORT, udpout:HOST:PORT or /dev/DEVICE[,BAUD]"
        )
    for kind in ("tcp", "udpin", "udpout", "udp"):
        prefix = kind + ":"
        if raw.startswith(prefix):
            address = raw[len(prefix) :]
            host, sep, port = address.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise LinkError(f"connection {excerpt(text)}: expected {kind}:HOST:PORT with a port in 1..65535")
            return ConnectionSpec("udpin" if kind == "udp" else kind, f"{host}:{int(port)}")
    if raw.startswith("/") or raw.upper().startswith("COM"):
        device, sep, baud = raw.partition(",")
        baud = baud.strip()
        if sep and not (baud.isascii() and baud.isdigit()):
            raise LinkError(f"connection {excerpt(text)}: baud rate {excerpt(baud)} is not a number")
        rate = int(baud) if sep else 57600
        if rate not in SERIAL_BAUDS:
            rates = ", ".join(str(b) for b in SERIAL_BAUDS)
            raise LinkError(f"connection {excerpt(text)}: {rate} is not a serial baud rate (one of {rates})")
        return ConnectionSpec("serial", device.strip(), rate)
    raise LinkError(
        f"connection {excerpt(text)}: expected tcp:HOST:PORT, udpin:HOST:PORT, udpout:HOST:PORT or /dev/DEVICE[,BAUD]"
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
