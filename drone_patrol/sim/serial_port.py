"""A serial port for the simulated vehicle: a pseudo-terminal carrying its MAVLink.

A flight controller on USB or behind a telemetry radio appears to the ground station
as a serial device (``/dev/ttyACM0``, ``/dev/ttyUSB0``). :class:`PtySerialPort` makes
the simulated copter appear the same way: it opens a pseudo-terminal pair, connects
to the simulator's TCP port and copies bytes both ways, so a ground station (or
``drone-patrol --connect /dev/pts/N,57600``) opens :attr:`device` with pyserial as it
would a real port. The baud rate of a pseudo-terminal has no effect on the bytes.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
import tty

__all__ = ["PtySerialPort"]


class PtySerialPort:
    """A pseudo-terminal whose far end is the simulated vehicle's TCP port (``host``:``port``)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._master = -1
        self._slave = -1
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.device = ""
        self.bytes_to_vehicle = 0
        self.bytes_from_vehicle = 0

    def start(self) -> PtySerialPort:
        """Open the pseudo-terminal and the TCP connection and start copying."""
        self._master, self._slave = os.openpty()
        # Raw mode on the device: no echo, no line discipline, every byte as sent (as a UART).
        tty.setraw(self._slave)
        self.device = os.ttyname(self._slave)
        os.set_blocking(self._master, False)
        self._sock = socket.create_connection((self.host, self.port), timeout=5.0)
        self._sock.setblocking(False)
        self._thread = threading.Thread(target=self._pump, name=f"sim-serial-{self.device}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop copying and close both ends."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1

    def __enter__(self) -> PtySerialPort:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _pump(self) -> None:
        assert self._sock is not None
        sock, master = self._sock, self._master
        to_vehicle = bytearray()
        to_gcs = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_READ, "sock")
            sel.register(master, selectors.EVENT_READ, "pty")
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    try:
                        if key.data == "sock":
                            data = sock.recv(65536)
                            if not data:
                                return  # the simulator closed the link
                            to_gcs += data
                        else:
                            to_vehicle += os.read(master, 65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        # EIO: the device end is closed between two ground-station sessions
                        continue
                if to_vehicle:
                    with contextlib.suppress(BlockingIOError, InterruptedError):
                        n = sock.send(to_vehicle)
                        self.bytes_to_vehicle += n
                        del to_vehicle[:n]
                if to_gcs:
                    try:
                        n = os.write(master, to_gcs)
                        self.bytes_from_vehicle += n
                        del to_gcs[:n]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        to_gcs.clear()  # nobody reads the device: bytes are lost, as on a real wire
                    if len(to_gcs) > 1 << 20:
                        to_gcs.clear()
