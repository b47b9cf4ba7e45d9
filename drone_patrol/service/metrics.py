"""Prometheus metrics and a health check, served on one small HTTP endpoint.

``GET /metrics`` is the Prometheus text format; ``GET /healthz`` answers 200 with a
JSON body while every registered check passes and 503 naming the failing ones.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class ServiceMetrics:
    """The service's counters and gauges, in a registry of their own (one per service)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.alerts_published = Counter(
            "dronepatrol_alerts_published", "Alerts handed to the outbox", ["kind"], registry=r
        )
        self.outbox_depth = Gauge("dronepatrol_outbox_depth", "Alerts waiting for a PUBACK", registry=r)
        self.broker_connected = Gauge("dronepatrol_broker_connected", "1 while connected to the broker", registry=r)
        self.link_heartbeat_age_s = Gauge(
            "dronepatrol_link_heartbeat_age_seconds", "Age of the last heartbeat", registry=r
        )
        self.link_packet_loss = Gauge(
            "dronepatrol_link_packet_loss_ratio", "MAVLink loss from sequence gaps", registry=r
        )
        self.frames_processed = Counter(
            "dronepatrol_frames_processed", "Frames through the vision pipeline", registry=r
        )
        self.frames_dropped = Counter("dronepatrol_frames_dropped", "Frames dropped: vision behind", registry=r)
        self.pipeline_fps = Gauge("dronepatrol_pipeline_fps", "Vision pipeline frames per second", registry=r)
        self.vehicle_events = Counter("dronepatrol_vehicle_events", "Vehicle events", ["kind"], registry=r)
        self.patrols_completed = Counter("dronepatrol_patrols_completed", "Patrols flown to the end", registry=r)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class OpsServer:
    """HTTP endpoint for ``/metrics`` and ``/healthz`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, metrics: ServiceMetrics, host: str = "127.0.0.1", port: int = 0) -> None:
        self.metrics = metrics
        self._checks: dict[str, Callable[[], bool]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, outer.metrics.render())
                elif self.path.split("?")[0] == "/healthz":
                    failing = outer.failing_checks()
                    body = json.dumps({"ok": not failing, "failing": failing}).encode()
                    self._send(503 if failing else 200, "application/json", body)
                else:
                    self._send(404, "text/plain", b"not found\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True)

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self._server.server_address[1])

    def add_check(self, name: str, check: Callable[[], bool]) -> None:
        """Register a health check; it must be cheap and must not raise."""
        self._checks[name] = check

    def failing_checks(self) -> list[str]:
        """Names of the checks that fail now (a check that raises fails)."""
        failing = []
        for name, check in self._checks.items():
            try:
                ok = bool(check())
            except Exception:
                ok = False
            if not ok:
                failing.append(name)
        return failing

    def start(self) -> OpsServer:
        """Start serving in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
