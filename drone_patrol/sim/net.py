"""Socket helpers shared by the simulators."""

from __future__ import annotations

import socket

from drone_patrol.core.errors import LinkError


def listen_tcp(host: str, port: int, backlog: int = 8) -> socket.socket:
    """A non-blocking TCP socket listening on ``host:port`` (0: a free port); LinkError when it cannot."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise LinkError(f"cannot listen on tcp:{host}:{port}: {exc.strerror}") from None
    sock.listen(backlog)
    sock.setblocking(False)
    return sock
