"""Connection strings and signing keys."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.controller.link import parse_connection, signing_key_from_secret
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
