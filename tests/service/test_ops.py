"""Metrics and health endpoint over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from drone_patrol.service.metrics import OpsServer, ServiceMetrics


def test_metrics_and_health() -> None:
    m = ServiceMetrics()
    m.alerts_published.labels(kind="thermal_hotspot").inc(3)
    m.outbox_depth.set(2)
    ok = {"broker": True}
    srv = OpsServer(m).start()
    try:
        srv.add_check("broker", lambda: ok["broker"])
        body = urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/metrics", timeout=5).read().decode()
        assert 'dronepatrol_alerts_published_total{kind="thermal_hotspot"} 3.0' in body
        assert "dronepatrol_outbox_depth 2.0" in body
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/healthz", timeout=5).read())
        assert health == {"ok": True, "failing": []}
        ok["broker"] = False
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/healthz", timeout=5)
            raise AssertionError("expected 503")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and json.loads(exc.read())["failing"] == ["broker"]
    finally:
        srv.stop()
