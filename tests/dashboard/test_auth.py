"""Staff sign-in: token check, sessions, lock-out, exposure rule."""

from __future__ import annotations

import pytest

from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.auth import Gate, check_exposure, is_loopback


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("dashboard.local")


def test_no_token_only_on_loopback() -> None:
    check_exposure("127.0.0.1", None, "X")
    check_exposure("0.0.0.0", "t", "X")
    with pytest.raises(ConfigError, match=r"\$DRONE_TOKEN"):
        check_exposure("0.0.0.0", None, "DRONE_TOKEN")


def test_sessions_expire_and_sign_out() -> None:
    gate = Gate("tok", session_s=60)
    assert gate.sign_in("wrong", "Li", now_s=0) is None
    sid = gate.sign_in("tok", "Li", now_s=0)
    assert sid is not None
    session = gate.session(sid, now_s=30)
    assert session is not None and session.operator == "Li"
    assert gate.session(sid, now_s=61) is None
    sid2 = gate.sign_in("tok", "Wang", now_s=100)
    gate.sign_out(sid2 or "")
    assert gate.session(sid2, now_s=101) is None


def test_bearer_and_open_gate() -> None:
    gate = Gate("tok", session_s=60)
    assert gate.authorize(None, "Bearer tok") is not None
    assert gate.authorize(None, "Bearer nope") is None
    assert gate.authorize("forged", None) is None
    assert Gate(None, 60).authorize(None, None) is not None


def test_lock_out_after_repeated_failures() -> None:
    gate = Gate("tok", session_s=60)
    for _ in range(10):
        assert gate.sign_in("guess", "x", now_s=0) is None
    assert gate.locked_out(now_s=1)
    assert gate.sign_in("tok", "x", now_s=1) is None  # even the right token, for a minute
    assert gate.sign_in("tok", "x", now_s=62) is not None


def test_only_the_command_token_may_command_when_one_is_set() -> None:
    gate = Gate("staff", session_s=60, command_token="cmd")
    staff = gate.session(gate.sign_in("staff", "Li", now_s=0), now_s=1)
    commander = gate.session(gate.sign_in("cmd", "Wang", now_s=0), now_s=1)
    assert staff is not None and not staff.can_command
    assert commander is not None and commander.can_command
    assert gate.authorize(None, "Bearer cmd").can_command  # type: ignore[union-attr]
    assert not gate.authorize(None, "Bearer staff").can_command  # type: ignore[union-attr]
    assert Gate("staff", 60).authorize(None, "Bearer staff").can_command  # type: ignore[union-attr]
    assert Gate(None, 60).authorize(None, None).can_command  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="needs a staff token"):
        Gate(None, 60, command_token="cmd")
