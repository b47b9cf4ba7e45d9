"""The dashboard's HTTP server (standard library ``ThreadingHTTPServer``).

Routes:

- ``GET /``: the page (``/login`` first when a staff token is configured);
  ``GET /static/...``: its scripts, styles and the vendored Leaflet.
- ``GET /api/alerts[?since=ISO|epoch&limit=N]``: incidents, newest first;
  ``GET /api/alerts/<id>``: one incident with its messages and acks;
  ``GET /api/alerts/<event id>/thumbnail.jpg``; ``POST /api/alerts/<event id>/ack``.
- ``GET /api/drones``; ``GET /api/drones/<site>/<drone>/frame.jpg``: latest video frame.
- ``GET /api/areas``: key areas and planned routes as GeoJSON.
- ``GET /api/config``: what the page needs (tile layer, sound, operator); never a secret.
- ``GET /api/events``: server-sent events ``alert``, ``drone``, ``frame``, ``broker``.
- ``GET /healthz``: broker link and counts, without authentication.
- Dispatch steps, commands to drones, ``/api/report`` and ``/tiles/...``: see :mod:`.ops_api`.

With a TLS certificate and key configured the server speaks HTTPS only and its
session cookie is ``Secure``.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import socket
import ssl
import threading
import time
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from drone_patrol import __version__
from drone_patrol.dashboard import ops_api
from drone_patrol.dashboard.auth import COOKIE_NAME, Gate, Session
from drone_patrol.dashboard.core import DashboardCore
from drone_patrol.dashboard.incident_list import encode
from drone_patrol.dashboard.model import parse_time
from drone_patrol.dashboard.state import pump_events
from drone_patrol.dashboard.tiles import TileSource

log = logging.getLogger(__name__)

_MAX_BODY_BYTES = 16_384


def _static_root() -> Traversable:
    return resources.files("drone_patrol.dashboard").joinpath("static")


class DashboardServer(ThreadingHTTPServer):
    """The HTTP server, holding what its handlers need."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # listen backlog (5 by default): a room's pages reconnecting at once are not refused

    def __init__(
        self,
        address: tuple[str, int],
        core: DashboardCore,
        gate: Gate,
        page_config: dict[str, Any],
        areas: dict[str, Any],
        history_s: float,
        *,
        tiles: TileSource | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.core = core
        self.tiles = tiles
        self.tls = tls
        self.gate = gate
        self.page_config = page_config
        self.areas = areas
        self.history_s = history_s
        self.stopping = threading.Event()
        self.static_root = _static_root()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, DashboardHandler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Do the TLS handshake in the request's thread (a slow or plain-HTTP client holds only its own)."""
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(10.0)
            try:
                request.do_handshake()
            except (OSError, ssl.SSLError) as exc:
                log.debug("dashboard: TLS handshake with %s failed: %s", client_address[0], exc)
                return
            request.settimeout(None)
        super().finish_request(request, client_address)

    def shutdown(self) -> None:
        """Stop serving and end the open event streams."""
        self.stopping.set()
        super().shutdown()


class DashboardHandler(BaseHTTPRequestHandler):
    """One HTTP request."""

    server: DashboardServer
    protocol_version = "HTTP/1.1"
    server_version = f"drone-patrol-dashboard/{__version__}"

    # ------------------------------------------------------------------ plumbing

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _security_headers(self) -> None:
        tile = self.server.page_config.get("tile_url") or ""
        tile_src = ""
        if tile:
            parts = urlsplit(tile)
            if parts.scheme in ("http", "https") and parts.netloc:
                tile_src = f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:{tile_src}; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "same-origin")

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None, cache: str = ""
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache or "no-store")
        self._security_headers()
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, encode(value), "application/json", headers)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _cookie(self, value: str, max_age: int) -> str:
        secure = "; Secure" if self.server.tls is not None else ""
        return f"{COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"

    def _cookie_sid(self) -> str | None:
        raw = self.headers.get("Cookie")
        if not raw:
            return None
        try:
            morsel = SimpleCookie(raw).get(COOKIE_NAME)
        except CookieError:
            return None
        return morsel.value if morsel is not None else None

    def _session(self) -> Session | None:
        return self.server.gate.authorize(self._cookie_sid(), self.headers.get("Authorization"))

    def _same_origin(self) -> bool:
        """For state-changing requests: the Origin (when sent) must be this server."""
        origin = self.headers.get("Origin")
        if origin is None:
            return True
        host = self.headers.get("Host", "")
        return urlsplit(origin).netloc == host

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY_BYTES:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body must be at most {_MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(length) if length else b""

    # ------------------------------------------------------------------ dispatch

    def do_HEAD(self) -> None:
        if urlsplit(self.path).path == "/api/events":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "the event stream needs GET")
            return
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        try:
            if path == "/healthz":
                self._health()
            elif path.startswith("/static/"):
                self._static(path[len("/static/") :])
            elif path == "/login":
                self._login_page()
            elif path in ("/", "/index.html"):
                if self._session() is None:
                    self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": "/login"})
                else:
                    self._static("index.html")
            elif path.startswith(("/api/", "/tiles/")):
                if self._session() is None:
                    self._error(HTTPStatus.UNAUTHORIZED, "sign in first (POST /login) or send a bearer token")
                elif path.startswith("/tiles/"):
                    ops_api.get_tile(self, [p for p in path.split("/") if p][1:])
                else:
                    self._api_get(path, query)
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self) -> None:
        path = unquote(urlsplit(self.path).path)
        try:
            if not self._same_origin():
                self._error(HTTPStatus.FORBIDDEN, "cross-origin request refused")
                return
            body = self._read_body()
            if body is None:
                return
            if path == "/login":
                self._login(body)
            elif path == "/logout":
                sid = self._cookie_sid()
                if sid:
                    self.server.gate.sign_out(sid)
                expired = self._cookie("", 0)
                self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": "/login", "Set-Cookie": expired})
            elif path.startswith("/api/"):
                session = self._session()
                if session is None:
                    self._error(HTTPStatus.UNAUTHORIZED, "sign in first (POST /login) or send a bearer token")
                else:
                    self._api_post(path, body, session)
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ------------------------------------------------------------------ pages and files

    def _static(self, rel: str) -> None:
        parts = [p for p in rel.split("/") if p]
        if not parts or any(p in (".", "..") or "\\" in p for p in parts):
            self._error(HTTPStatus.NOT_FOUND, "no such file")
            return
        node = self.server.static_root
        for p in parts:
            node = node.joinpath(p)
        if not node.is_file():
            self._error(HTTPStatus.NOT_FOUND, f"no such file: {rel}")
            return
        kind = mimetypes.guess_type(parts[-1])[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "text/javascript"):
            kind += "; charset=utf-8"
        cache = "no-cache" if parts[0] != "vendor" else "public, max-age=86400"
        self._send(HTTPStatus.OK, node.read_bytes(), kind, cache=cache)

    def _login_page(self, error: str = "") -> None:
        if self.server.gate.open:
            self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": "/"})
            return
        html = self.server.static_root.joinpath("login.html").read_text(encoding="utf-8")
        html = html.replace("<!--error-->", f'<p class="error" role="alert">{error}</p>' if error else "")
        status = HTTPStatus.UNAUTHORIZED if error else HTTPStatus.OK
        self._send(status, html.encode(), "text/html; charset=utf-8")

    def _login(self, body: bytes) -> None:
        form = parse_qs(body.decode("utf-8", errors="replace"))
        if (self.headers.get("Content-Type") or "").startswith("application/json"):
            try:
                doc = json.loads(body or b"{}")
                form = {k: [str(v)] for k, v in doc.items()} if isinstance(doc, dict) else {}
            except (UnicodeDecodeError, json.JSONDecodeError):
                form = {}
        token = (form.get("token") or [""])[0]
        operator = (form.get("operator") or [""])[0].strip()[:64] or "command-room"
        if self.server.gate.locked_out():
            self._login_page("尝试次数过多,请等一分钟。 Too many failed attempts; wait a minute.")
            return
        sid = self.server.gate.sign_in(token, operator)
        if sid is None:
            log.warning("dashboard: failed sign-in from %s", self.client_address[0])
            self._login_page("令牌错误。 Wrong token.")
            return
        max_age = int(self.server.gate.session_s)
        cookie = self._cookie(sid, max_age)
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": "/", "Set-Cookie": cookie})

    def _health(self) -> None:
        core = self.server.core
        self._json(
            HTTPStatus.OK,
            {
                "broker_connected": core.broker_connected,
                "pages": core.hub.subscriber_count,
                "rejected_messages": core.rejected,
                "archive_writes": core.stored,
                "shared_writer": core.writer_status() if core.writer_status is not None else None,
                "version": __version__,
            },
        )

    # ------------------------------------------------------------------ API

    def _since(self, query: dict[str, list[str]]) -> float | None:
        raw = (query.get("since") or [""])[0]
        if not raw:
            return time.time() - self.server.history_s
        try:
            return parse_time(float(raw) if raw.replace(".", "", 1).isdigit() else raw, "since")
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return None

    def _api_get(self, path: str, query: dict[str, list[str]]) -> None:
        core = self.server.core
        parts = [p for p in path.split("/") if p][1:]  # after "api"
        if parts == ["alerts"]:
            since = self._since(query)
            if since is None:
                return
            raw_limit = (query.get("limit") or [""])[0]
            if raw_limit and not (raw_limit.isdigit() and int(raw_limit) > 0):
                self._error(HTTPStatus.BAD_REQUEST, f"limit: expected a positive integer, got {raw_limit!r}")
                return
            limit = int(raw_limit) if raw_limit else None
            listed = None if query.get("since") else core.incidents.json(since, limit)
            if listed is not None:  # the page's window: the list kept in memory, encoded once per change
                body = b'{"since":' + encode(since) + b',"alerts":' + listed + b"}"
                self._send(HTTPStatus.OK, body, "application/json")
            else:
                self._json(HTTPStatus.OK, {"since": since, "alerts": core.alerts(since, limit)})
        elif len(parts) == 2 and parts[0] == "alerts":
            detail = core.alert_detail(parts[1])
            if detail is None:
                self._error(HTTPStatus.NOT_FOUND, f"no alert or incident {parts[1]!r}")
            else:
                self._json(HTTPStatus.OK, detail)
        elif len(parts) == 3 and parts[0] == "alerts" and parts[2] == "thumbnail.jpg":
            jpeg = core.archive.thumbnail(parts[1])
            if jpeg is None:
                self._error(HTTPStatus.NOT_FOUND, f"alert {parts[1]!r} has no thumbnail")
            else:
                self._send(HTTPStatus.OK, jpeg, "image/jpeg", cache="private, max-age=86400")
        elif parts == ["drones"]:
            self._json(HTTPStatus.OK, {"drones": core.fleet.snapshot()})
        elif len(parts) == 4 and parts[0] == "drones" and parts[3] == "frame.jpg":
            frame = core.fleet.frame(parts[1], parts[2])
            if frame is None:
                self._error(HTTPStatus.NOT_FOUND, f"no video frame from {parts[1]}/{parts[2]} yet")
            else:
                self._send(HTTPStatus.OK, frame[0], "image/jpeg", {"X-Frame-Seq": str(frame[1])})
        elif parts == ["areas"]:
            self._json(HTTPStatus.OK, self.server.areas)
        elif parts == ["config"]:
            session = self._session()
            operator = session.operator if session else ""
            can_command = session.can_command if session else False
            self._json(
                HTTPStatus.OK,
                {
                    **self.server.page_config,
                    "operator": operator,
                    "auth": not self.server.gate.open,
                    "can_command": can_command,
                },
            )
        elif parts == ["events"]:
            self._events()
        elif parts == ["report"]:
            ops_api.get_report(self, query)
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")

    def _api_post(self, path: str, body: bytes, session: Session) -> None:
        parts = [p for p in path.split("/") if p][1:]
        if len(parts) == 3 and parts[0] == "alerts" and parts[2] == "ack":
            ops_api.post_ack(self, parts[1], body, session)
        elif len(parts) == 3 and parts[0] == "alerts" and parts[2] == "step":
            ops_api.post_step(self, parts[1], body, session)
        elif len(parts) == 4 and parts[0] == "drones" and parts[3] == "command":
            ops_api.post_command(self, parts[1], parts[2], body, session)
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")

    def _events(self) -> None:
        """A server-sent event stream until the page goes or the server stops."""
        hub = self.server.core.hub
        sub = hub.subscribe()
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.send_header("X-Accel-Buffering", "no")
            self._security_headers()
            self.end_headers()
            self.close_connection = True
            pump_events(self.wfile, sub, self.server.stopping, self.server.core.broker_connected)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            sub.close()
