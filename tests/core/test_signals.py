"""SIGTERM ends a command's wait like Ctrl-C, and only while the command waits."""

from __future__ import annotations

import os
import signal
import threading

from drone_patrol.core.signals import stop_on_sigterm


def test_sigterm_sets_the_event_inside_and_the_old_handler_comes_back() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
    try:
        with stop_on_sigterm(threading.Event()) as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.wait(2.0)
        assert seen == []
        os.kill(os.getpid(), signal.SIGTERM)  # the caller's handler again
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_off_the_main_thread_sigterm_is_left_alone() -> None:
    before = signal.getsignal(signal.SIGTERM)
    during: list[object] = []

    def body() -> None:
        with stop_on_sigterm(threading.Event()):
            during.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert during == [before]
