"""The page in a real headless Chromium (Debian's ``chromium``, driven by Playwright), with a real broker.

Skipped when Chromium is missing (failed under ``make test``, which installs it). The screenshot
goes to ``tests/artifacts/dashboard.png``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api  # a dev dependency; the browser is Debian's chromium

from drone_patrol.core.types import AlertKind, GeoPoint, MavCmd, Mission, Severity, Waypoint
from drone_patrol.dashboard.app import Dashboard
from drone_patrol.mission.qgc_plan import write_plan
from tests.brokers import MosquittoBroker
from tests.dashboard.helpers import LAT, LON, MqttTestClient, jpeg, make_alert
from tests.needs import CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture
def context(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1600, "height": 900},
    )
    try:
        yield ctx
    finally:
        ctx.close()


def _drone_reports(drone: MqttTestClient) -> None:
    drone.publish_status(
        "dongxi", "drone-1", "online", mission_state="patrolling", waypoints_reached=16, waypoints_total=48
    )
    for i in range(6):
        drone.publish_telemetry(
            "dongxi",
            "drone-1",
            latitude_deg=25.2808 + i * 0.00012,
            longitude_deg=110.2972 + i * 0.00015,
            heading_deg=40.0,
            battery_percent=76.0,
            mission_current_seq=17,
        )
    drone.publish("dronepatrol/dongxi/drone-1/video", jpeg(320, 256, 255), qos=0)


def test_live_alert_on_map_and_list_then_acknowledge(
    make_dashboard: Callable[..., Dashboard], broker: MosquittoBroker, context: Any, tmp_path: Path
) -> None:
    plan = write_plan(
        Mission(
            home=GeoPoint(25.28075, 110.29705, 150.0),
            items=tuple(
                Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=lat, longitude_deg=lon, altitude_m=40.0)
                for lat, lon in ((25.2810, 110.2975), (25.2826, 110.2978), (25.2826, 110.2992), (25.2812, 110.2995))
            ),
        ),
        tmp_path / "tonight.plan",
    )
    dash = make_dashboard(token="staff-token-1", offline_after_s=120.0, route_files=(plan,))
    drone = MqttTestClient(broker.url).start()
    watcher = MqttTestClient(broker.url, subscribe="dronepatrol/+/+/alerts/ack").start()
    try:
        # An earlier alert, in the archive before the page opens.
        earlier = make_alert(kind=AlertKind.CROWD_GATHERING, severity=Severity.WARNING, lat=LAT + 0.0006, lon=LON)
        drone.publish_alert(earlier)
        _drone_reports(drone)

        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(dash.url)
        assert page.url.endswith("/login")
        page.fill("input[name=operator]", "Sgt Li")
        page.fill("input[name=token]", "staff-token-1")
        page.click("button[type=submit]")
        page.wait_for_selector("#link-page.ok", timeout=15000)
        page.wait_for_selector(f'#alerts li[data-incident="{earlier.incident_id}"]', timeout=10000)
        page.wait_for_selector('#drones article[data-drone="dongxi/drone-1"] img.video:not([hidden])', timeout=10000)
        assert "staff-token-1" not in page.content()
        assert page.locator("path.route-line").count() == 1  # the planned route is drawn

        second = context.new_page()  # another open dashboard (same staff session)
        second.goto(dash.url)
        second.wait_for_selector("#link-page.ok", timeout=15000)
        page.bring_to_front()  # the page worked in: a background tab runs animation frames late

        page.check("#opt-sound")  # the beep path runs (headless Chromium has a null audio sink)
        alert = make_alert()
        published_s = time.time()
        drone.publish_alert(alert)
        page.wait_for_selector(f'.alert-marker[data-incident="{alert.incident_id}"]', timeout=10000, state="attached")
        item = page.wait_for_selector(f'#alerts li[data-incident="{alert.incident_id}"]', timeout=10000)
        t_waited = time.time() - published_s
        # When the page itself put the alert on the map and in the list (same clock as the publisher).
        shown_ms = page.evaluate(f"() => window.dronePatrol.state.shownAt[{json.dumps(alert.incident_id)}]")
        t_shown = shown_ms / 1000.0 - published_s
        ARTIFACTS.mkdir(exist_ok=True)
        latency = {"publish_to_page_s": round(t_shown, 4), "publish_to_playwright_saw_it_s": round(t_waited, 4)}
        (ARTIFACTS / "dashboard-latency.json").write_text(json.dumps(latency) + "\n")
        assert 0 <= t_shown < 1.0, latency
        classes = item.get_attribute("class") or ""
        assert "fresh" in classes and "unacked" in classes  # highlighted as new
        first_li = page.eval_on_selector("#alerts li", "li => li.dataset.incident")
        assert first_li == alert.incident_id  # newest first
        text = item.inner_text()
        assert "Thermal hotspot" in text and "critical" in text.lower() and "dongxi-grid-3" in text
        assert "312.5 °C" in text and "±4 m" in text
        assert item.eval_on_selector("img.thumb", "img => img.complete && img.naturalWidth") == 64
        marker_class = page.get_attribute(f'.alert-marker[data-incident="{alert.incident_id}"]', "class") or ""
        assert "kind-thermal_hotspot" in marker_class and "sev-critical" in marker_class

        # Clicking the alert centres the map on it. The view set here is not animated: Leaflet starts a
        # zoom animation on the next animation frame (late in a background page) and ends it at its own
        # target, which would undo the click's centring.
        page.eval_on_selector(
            "#map", "_ => window.dronePatrol.map().setView([25.2790, 110.2950], 15, { animate: false })"
        )
        item.click(position={"x": 200, "y": 10})
        centre = page.evaluate("() => { const c = window.dronePatrol.map().getCenter(); return [c.lat, c.lng]; }")
        assert centre == pytest.approx([LAT, LON], abs=1e-5)

        item.query_selector("button.ack").click()
        _, payload, _ = watcher.wait_for(lambda t, p: t == "dronepatrol/dongxi/drone-1/alerts/ack", 3.0)
        ack = json.loads(payload)
        assert ack["data"]["target_id"] == alert.alert_id and ack["data"]["by"] == "Sgt Li"
        page.wait_for_selector(f'#alerts li.acked[data-incident="{alert.incident_id}"]', timeout=5000)
        second.wait_for_selector(f'#alerts li.acked[data-incident="{alert.incident_id}"]', timeout=5000)
        assert "acknowledged by Sgt Li" in second.inner_text(f'#alerts li[data-incident="{alert.incident_id}"]')

        drone_card = page.inner_text('#drones article[data-drone="dongxi/drone-1"]')
        assert "AUTO" in drone_card and "76 %" in drone_card and "item 17 / 48" in drone_card
        assert "patrolling" in drone_card and "33 %" in drone_card
        assert "online" in drone_card.lower()
        assert errors == []
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
    finally:
        watcher.stop()
        drone.stop()
