"""Ending a command's wait on SIGTERM as on Ctrl-C.

``kill`` and service managers (systemd, Docker) stop a process with SIGTERM, whose default
ends it at once, without the cleanup a Ctrl-C (KeyboardInterrupt) runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_sigterm(event: threading.Event) -> Iterator[threading.Event]:
    """Within the block, SIGTERM sets ``event`` (the caller's wait loop ends and cleans up);
    the previous handler is restored after it. Only the main thread may set handlers: in any
    other (a command run in-process by a test) SIGTERM is left as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: event.set())
    try:
        yield event
    finally:
        signal.signal(signal.SIGTERM, previous)
