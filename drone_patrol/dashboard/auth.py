"""Staff sign-in: a shared token from the environment, exchanged for a session cookie.

The token never appears in the page. Scripts may send ``Authorization: Bearer
<token>`` instead of a cookie. Without a token the dashboard is open, which is
allowed only on a loopback address (see :func:`check_exposure`).

The right to command drones ("eyes on") can be kept to those who sign in with a
second, command token: with one configured, the staff token watches and dispatches
but cannot command. Without one, every signed-in member of staff may command.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from drone_patrol.alerts.connection import is_loopback
from drone_patrol.core.errors import ConfigError

__all__ = ["COOKIE_NAME", "Gate", "Session", "check_exposure", "is_loopback"]

COOKIE_NAME = "dp_session"
_MAX_FAILURES_PER_MINUTE = 10


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in member of staff."""

    operator: str
    expires_s: float
    can_command: bool = True


def check_exposure(host: str, token: str | None, token_env: str) -> None:
    """Refuse to serve beyond loopback without a staff token."""
    if token is None and not is_loopback(host):
        raise ConfigError(f"dashboard.host {host!r} is not a loopback address: set a staff token in ${token_env} first")


class Gate:
    """Checks tokens and keeps the sessions they open."""

    def __init__(self, token: str | None, session_s: float, command_token: str | None = None) -> None:
        if command_token is not None and token is None:
            raise ConfigError("dashboard: a command token needs a staff token too (the page is open without one)")
        self._token = token
        self._command_token = command_token
        self._session_s = session_s
        self._sessions: dict[str, Session] = {}
        self._failures: list[float] = []
        self._lock = threading.Lock()

    @property
    def session_s(self) -> float:
        """How long a session lasts."""
        return self._session_s

    @property
    def open(self) -> bool:
        """True when no token is configured (loopback-only use)."""
        return self._token is None

    def token_ok(self, candidate: str) -> bool:
        """Constant-time comparison with the configured token (or the command token)."""
        return self._rights(candidate) is not None

    def _rights(self, candidate: str) -> bool | None:
        """``None`` for a wrong token, else whether it gives the right to command."""
        if self._command_token is not None and hmac.compare_digest(candidate.encode(), self._command_token.encode()):
            return True
        if self._token is not None and hmac.compare_digest(candidate.encode(), self._token.encode()):
            return self._command_token is None
        return None

    def locked_out(self, now_s: float | None = None) -> bool:
        """True after too many failed sign-ins in the last minute."""
        now = time.time() if now_s is None else now_s
        with self._lock:
            self._failures = [t for t in self._failures if now - t < 60]
            return len(self._failures) >= _MAX_FAILURES_PER_MINUTE

    def sign_in(self, token: str, operator: str, now_s: float | None = None) -> str | None:
        """A new session id for a right token, else ``None`` (and the failure is counted)."""
        now = time.time() if now_s is None else now_s
        rights = None if self.locked_out(now) else self._rights(token)
        if rights is None:
            with self._lock:
                self._failures.append(now)
            return None
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires_s > now}
            self._sessions[sid] = Session(operator=operator, expires_s=now + self._session_s, can_command=rights)
        return sid

    def sign_out(self, sid: str) -> None:
        """End a session (idempotent)."""
        with self._lock:
            self._sessions.pop(sid, None)

    def session(self, sid: str | None, now_s: float | None = None) -> Session | None:
        """The live session of ``sid``, or ``None``."""
        if not sid:
            return None
        now = time.time() if now_s is None else now_s
        with self._lock:
            s = self._sessions.get(sid)
            if s is not None and s.expires_s <= now:
                del self._sessions[sid]
                return None
            return s

    def authorize(self, cookie_sid: str | None, authorization: str | None) -> Session | None:
        """The session a request carries (cookie or bearer token); an open gate lets everyone in."""
        if self.open:
            return Session(operator="", expires_s=float("inf"))
        if authorization and authorization.startswith("Bearer "):
            rights = self._rights(authorization[7:].strip())
            if rights is not None:
                return Session(operator="api", expires_s=float("inf"), can_command=rights)
        return self.session(cookie_sid)
