"""Connection strings, signing keys, and the message queues of a closed link."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.controller.link import MessageQueue, parse_connection, signing_key_from_secret
from drone_patrol.core.errors import LinkError


@pytest.mark.parametrize(
    ("text", "kind", "address", "baud"),
    [
        ("tcp:127.0.0.1:5760", "tcp", "127.0.0.1:5760", 57600),
        ("udpin:0.0.0.0:14550", "udpin", "0.0.0.0:14550", 57600),
        ("udp:0.0.0.0:14550", "udpin", "0.0.0.0:14550", 57600),
        ("udpout:10.0.0.2:14550", "udpout", "10.0.0.2:14550", 57600),
        ("/dev/ttyACM0", "serial", "/dev/ttyACM0", 57600),
        ("/dev/ttyUSB0,921600", "serial", "/dev/ttyUSB0", 921600),
    ],
)
def test_parse_connection(text: str, kind: str, address: str, baud: int) -> None:
    spec = parse_connection(text)
    assert (spec.kind, spec.address, spec.baud) == (kind, address, baud)
    assert spec.is_stream == (kind == "tcp")


@pytest.mark.parametrize(
    "text", ["tcp:localhost", "tcp::5760", "tcp:host:99999", "udpin:host:port", "serial0", "/dev/ttyS0,fast", ""]
)
def test_bad_connection_names_the_string(text: str) -> None:
    with pytest.raises(LinkError, match="connection"):
        parse_connection(text)


@given(st.integers(min_value=1, max_value=65535))
def test_any_valid_port(port: int) -> None:
    assert parse_connection(f"tcp:127.0.0.1:{port}").address == f"127.0.0.1:{port}"


def test_signing_key() -> None:
    hex_key = "ab" * 32
    assert signing_key_from_secret(hex_key) == bytes.fromhex(hex_key)
    assert signing_key_from_secret("night patrol\n") == hashlib.sha256(b"night patrol").digest()
    assert len(signing_key_from_secret("x")) == 32


def test_a_closed_queue_wakes_its_waiter_and_refuses_later_waits() -> None:
    q = MessageQueue(frozenset({"COMMAND_ACK"}))
    q.put("queued")  # type: ignore[arg-type]
    assert q.get(0.0) == "queued" and q.get(0.0) is None
    outcome: dict[str, object] = {}

    def wait() -> None:
        started = time.monotonic()
        try:
            q.get(30.0)
        except LinkError as exc:
            outcome["error"], outcome["s"] = str(exc), time.monotonic() - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)
    q.close("link tcp:127.0.0.1:5760 closed")
    waiter.join(5.0)
    assert outcome["error"] == "link tcp:127.0.0.1:5760 closed" and float(outcome["s"]) < 2.0  # type: ignore[arg-type]
    for _ in range(2):  # every later wait too, at once
        with pytest.raises(LinkError, match="closed"):
            q.get(30.0)
    assert q.drain() == []
