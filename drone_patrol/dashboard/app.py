"""The command-room dashboard as one object: archive, MQTT bridge and web server.

Use::

    with Dashboard.from_settings(load_config("configs/site.yaml")) as dash:
        print(dash.url)
        dash.serve_forever()

or :meth:`Dashboard.start` / :meth:`Dashboard.stop` around other work (tests do).
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drone_patrol.alerts.connection import ClientSettings, parse_broker_url
from drone_patrol.core.config import Settings, read_secret
from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.archive_backstop import ArchiveBackstop
from drone_patrol.dashboard.archive_store import open_archive
from drone_patrol.dashboard.auth import Gate, check_exposure, is_loopback
from drone_patrol.dashboard.bridge import MqttBridge
from drone_patrol.dashboard.core import DashboardCore
from drone_patrol.dashboard.geodata import load_area_features, route_features
from drone_patrol.dashboard.server import DashboardServer
from drone_patrol.dashboard.state import EventHub, Fleet
from drone_patrol.dashboard.tiles import open_tiles

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DashboardOptions:
    """Everything the dashboard needs, resolved from the config (see :meth:`from_settings`)."""

    broker_url: str
    site: str
    archive_path: Path
    archive_url: str | None = None  # postgresql://...: the shared city archive instead of archive_path
    archive_queue_url: str | None = None  # nats://...: split the archive writes with the other dashboards
    archive_confirm_after_s: float = 30.0  # with archive_queue_url: check the archive holds what arrived, this late
    client: ClientSettings | None = None  # None: plain connection to broker_url
    prefix: str = "dronepatrol"
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    token_env: str = "DRONE_PATROL_DASHBOARD_TOKEN"
    command_token: str | None = None
    session_hours: float = 12.0
    areas_file: Path | None = None
    route_files: tuple[Path, ...] = ()
    history_hours: float = 12.0
    archive_keep_days: float = 90.0
    track_points: int = 1800
    offline_after_s: float = 10.0
    video_max_fps: float = 4.0
    video_max_bytes: int = 262_144
    tile_url: str | None = None
    tile_attribution: str = ""
    tile_max_zoom: int = 19
    tile_file: Path | None = None  # MBTiles or PMTiles
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    sound: bool = True
    realert_after_s: float = 60.0
    client_id: str | None = None
    time_zone: str = "Asia/Shanghai"  # of the shift reports
    extra_page_config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DashboardOptions:
        """Resolve the ``dashboard`` (and ``alerts``, ``site``) sections; ``overrides`` win."""
        d, a, s = settings.dashboard, settings.alerts, settings.site
        client = ClientSettings.from_config(a, overrides.get("broker_url"))
        values: dict[str, Any] = {
            "broker_url": client.address.url,
            "client": client,
            "prefix": a.topic_prefix,
            "site": d.site or s.id,
            "archive_path": d.archive_path or (s.data_dir / "dashboard.sqlite"),
            "archive_url": d.archive_url,
            "archive_queue_url": d.archive_queue_url,
            "archive_confirm_after_s": d.archive_confirm_after_s,
            "host": d.host,
            "port": d.port,
            "token": read_secret(d.token_env, d.token_file),
            "token_env": d.token_env,
            "command_token": read_secret(d.command_token_env, d.command_token_file),
            "session_hours": d.session_hours,
            "areas_file": d.areas_file or s.areas_file,
            "route_files": d.route_files,
            "history_hours": d.history_hours,
            "archive_keep_days": d.archive_keep_days,
            "track_points": d.track_points,
            "offline_after_s": d.offline_after_s,
            "video_max_fps": d.video_max_fps,
            "video_max_bytes": d.video_max_bytes,
            "tile_url": d.tile_url,
            "tile_attribution": d.tile_attribution,
            "tile_max_zoom": d.tile_max_zoom,
            "tile_file": d.tile_file,
            "tls_cert_file": d.tls_cert_file,
            "tls_key_file": d.tls_key_file,
            "sound": d.sound,
            "realert_after_s": d.realert_after_s,
            "client_id": d.client_id,
            "time_zone": d.time_zone,
        }
        values.update({k: v for k, v in overrides.items() if v is not None and k != "broker_url"})
        return cls(**values)


class Dashboard:
    """The running dashboard: call :meth:`start`, then :meth:`stop` (or use ``with``)."""

    def __init__(self, options: DashboardOptions) -> None:
        check_exposure(options.host, options.token, options.token_env)
        if not re.fullmatch(r"\+|[A-Za-z0-9_-]+", options.site):
            raise ConfigError(f"dashboard site {options.site!r}: expected a site id (letters, digits, _ or -) or +")
        try:
            ZoneInfo(options.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"dashboard time_zone {options.time_zone!r}: expected an IANA time zone such as Asia/Shanghai"
            ) from None
        self.options = options
        areas: dict[str, Any] = {"type": "FeatureCollection", "features": []}
        if options.areas_file is not None:
            areas = load_area_features(options.areas_file)
        routes = route_features(options.route_files)
        self.archive = open_archive(options.archive_url or options.archive_path)
        pruned = self.archive.prune(time.time() - options.archive_keep_days * 86400.0)
        if pruned:
            log.info(
                "dashboard: archive %s: removed %d messages older than %g days",
                options.archive_url or options.archive_path,
                pruned,
                options.archive_keep_days,
            )
        self.hub = EventHub()
        self.fleet = Fleet(options.track_points, options.offline_after_s)
        for pos in self.archive.drone_positions():
            self.fleet.restore(pos["site"], pos["drone"], pos["latitude_deg"], pos["longitude_deg"], pos["time_s"])
        tiles = open_tiles(options.tile_file) if options.tile_file is not None else None
        tls = _tls_context(options.tls_cert_file, options.tls_key_file)
        if tls is None and not is_loopback(options.host):
            log.warning("dashboard: serving %s over plain HTTP; configure tls_cert_file and tls_key_file", options.host)
        self.core = DashboardCore(
            self.archive,
            self.fleet,
            self.hub,
            video_max_fps=options.video_max_fps,
            video_max_bytes=options.video_max_bytes,
            prefix=options.prefix,
        )
        host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:30] or "host"
        client_id = options.client_id or f"dronepatrol-dashboard-{host}-{options.port}"
        client = options.client or ClientSettings(address=parse_broker_url(options.broker_url))
        self.bridge = MqttBridge(
            client,
            site=options.site,
            client_id=client_id[:64],
            on_message=self.core.handle_message,
            on_link=self.core.set_link,
            prefix=options.prefix,
        )
        self.core.publish = self.bridge.publish_json
        self.writer = self._shared_writer(options, client) if options.archive_queue_url else None
        self.core.load_incidents(time.time() - options.history_hours * 3600.0)
        tile_url, max_zoom = options.tile_url, options.tile_max_zoom
        if tiles is not None:
            tile_url, max_zoom = "/tiles/{z}/{x}/{y}." + tiles.format, tiles.max_zoom
        page_config = {
            "site": options.site,
            "tile_url": tile_url,
            "tile_attribution": options.tile_attribution or (tiles.metadata.get("attribution", "") if tiles else ""),
            "tile_max_zoom": max_zoom,
            "sound": options.sound,
            "realert_after_s": options.realert_after_s,
            "offline_after_s": options.offline_after_s,
            "history_hours": options.history_hours,
            "time_zone": options.time_zone,
            **options.extra_page_config,
        }
        gate = Gate(options.token, options.session_hours * 3600.0, options.command_token)
        try:
            self.server = DashboardServer(
                (options.host, options.port),
                self.core,
                gate,
                page_config,
                {"areas": areas, "routes": routes},
                options.history_hours * 3600.0,
                tiles=tiles,
                tls=tls,
            )
        except OSError as exc:
            self.archive.close()
            raise ConfigError(f"dashboard: cannot listen on {options.host}:{options.port} ({exc.strerror})") from None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._stopped = False

    def _shared_writer(self, options: DashboardOptions, client: ClientSettings) -> Any:
        """The archive writer shared with the other dashboards (:mod:`.shared_writer`); this one then only shows."""
        assert options.archive_queue_url is not None
        if not options.archive_url:
            self.archive.close()
            raise ConfigError(
                f"dashboard: archive_queue_url {options.archive_queue_url}: the dashboards can only split "
                "the writes of an archive they share; set archive_url (postgresql://...) too"
            )
        try:
            from drone_patrol.dashboard.shared_writer import SharedArchiveWriter, parse_nats_urls
        except ImportError:
            self.archive.close()
            raise ConfigError(
                f"dashboard: archive_queue_url {options.archive_queue_url}: needs nats-py "
                "(pip install 'drone-patrol[city]')"
            ) from None
        try:
            urls = parse_nats_urls(options.archive_queue_url)
        except ConfigError:
            self.archive.close()
            raise
        tls = _client_tls(client) if any(u.startswith("tls://") for u in urls) else None
        writer = SharedArchiveWriter(
            urls,
            self.core.store_event,
            site=options.site,
            prefix=options.prefix,
            username=client.username,
            password=client.password,
            tls=tls,
        )
        self.core.writes_archive = False
        self.core.backstop = ArchiveBackstop(self.archive, confirm_after_s=options.archive_confirm_after_s)
        backstop = self.core.backstop

        def status() -> dict[str, Any]:
            return {**writer.status(), "backstop": backstop.status()}

        self.core.writer_status = status
        return writer

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Dashboard:
        """Build from a loaded config; ``overrides`` are :class:`DashboardOptions` fields."""
        return cls(DashboardOptions.from_settings(settings, **overrides))

    @property
    def port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """The page's URL."""
        host = self.options.host
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.server.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}/"

    def start(self) -> None:
        """Connect to the broker and serve HTTP in background threads."""
        self.bridge.start()
        if self.writer is not None:
            self.writer.start()
        self._thread = threading.Thread(target=self.server.serve_forever, name="dashboard-http", daemon=True)
        self._thread.start()
        self._watchdog = threading.Thread(target=self._watch_links, name="dashboard-links", daemon=True)
        self._watchdog.start()
        log.info("dashboard: serving %s (broker %s, site %s)", self.url, self.options.broker_url, self.options.site)

    def _watch_links(self) -> None:
        """Once a second: a drone gone silent on a patrol raises its alert (:meth:`DashboardCore.check_links`);
        incidents past the page's window leave the in-memory list; with a shared writer, what arrived
        over MQTT a while ago is checked against the archive (:mod:`.archive_backstop`)."""
        while not self.server.stopping.wait(1.0):
            try:
                self.core.incidents.evict(time.time() - self.options.history_hours * 3600.0 - 60.0)
                self.core.check_links()
                if self.core.backstop is not None:
                    self.core.backstop.run(time.time())
            except Exception:
                log.exception("dashboard: link check failed")

    def serve_forever(self) -> None:
        """Block until interrupted (after :meth:`start`)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        """Stop serving, disconnect, close the archive (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(5)
            self._thread = None
        if self._watchdog is not None:
            self._watchdog.join(5)
        self.server.server_close()
        if self.writer is not None:
            self.writer.stop()
        self.bridge.stop()
        self.archive.close()

    def __enter__(self) -> Dashboard:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _tls_context(cert_file: Path | None, key_file: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context from a PEM certificate (chain) and key, or ``None`` for plain HTTP."""
    if cert_file is None and key_file is None:
        return None
    if cert_file is None or key_file is None:
        raise ConfigError("dashboard: tls_cert_file and tls_key_file go together; set both or neither")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except FileNotFoundError as exc:
        raise ConfigError(f"{exc.filename}: dashboard TLS file not found") from None
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{cert_file}, {key_file}: cannot load the dashboard certificate and key ({exc})") from None
    return ctx


def _client_tls(client: ClientSettings) -> ssl.SSLContext:
    """TLS for the NATS connection from the MQTT client's CA and certificate files (``alerts.*``)."""
    ctx = ssl.create_default_context(cafile=str(client.ca_file) if client.ca_file else None)
    if client.cert_file is not None:
        ctx.load_cert_chain(client.cert_file, client.key_file)
    return ctx
