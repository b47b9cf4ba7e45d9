"""Command-room operations in a real headless Chromium with a real broker: the dispatch workflow clicked
through on one page and seen on another, eyes-on from an alert, the marker popup, filters, the page in
Chinese and English, the offline base map (MBTiles and PMTiles) with no request leaving the machine, re-alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from drone_patrol.alerts.eyes_on import Reason, result_event
from drone_patrol.core.types import AlertKind, Severity
from drone_patrol.dashboard.app import Dashboard
from tests.brokers import MosquittoBroker
from tests.dashboard.helpers import LAT, LON, MqttTestClient, make_alert, make_mbtiles, make_pmtiles
from tests.dashboard.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, playwright  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.mosquitto]
#: a hot spot of automatic-gain (8-bit) video: no temperature
AGC_FIGURES = {
    "max_temperature_c": None,
    "last_temperature_c": None,
    "area_m2": 0.4,
    "sightings": 3,
    "measurement": "agc_saturation",
}


@pytest.fixture
def browser(playwright: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:  # noqa: F811
    """Start persistent Chromium contexts (``locale`` as the browser's language); all closed at the end."""
    contexts: list[Any] = []

    def start(locale: str = "en-US") -> Any:
        ctx = playwright.chromium.launch_persistent_context(
            str(tmp_path / f"profile-{len(contexts)}"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 900},
            locale=locale,
        )
        contexts.append(ctx)
        return ctx

    yield start
    for ctx in contexts:
        ctx.close()


def _sign_in(page: Any, url: str, who: str = "Sgt Li") -> None:
    page.goto(url)
    page.fill("input[name=operator]", who)
    page.fill("input[name=token]", "staff-token-1")
    page.click("button[type=submit]")
    page.wait_for_selector("#link-page.ok", timeout=15000)


def _row(incident: str, state: str = "") -> str:
    return f'#alerts li[data-incident="{incident}"]' + (f'[data-state="{state}"]' if state else "")


def _take(page: Any, step: str, **fields: str) -> None:
    page.click(f'#detail button.step[data-step="{step}"]')
    page.wait_for_selector("dialog[open]", timeout=5000)
    for name, value in fields.items():
        page.fill(f"dialog [name={name}]", value)
    page.click("dialog button.primary")


def test_dispatch_workflow_clicked_through_and_seen_on_a_second_page(
    make_dashboard: Callable[..., Dashboard], broker: MosquittoBroker, browser: Callable[..., Any]
) -> None:
    dash = make_dashboard(token="staff-token-1", offline_after_s=120.0)
    drone = MqttTestClient(broker.url, subscribe="dronepatrol/dongxi/drone-1/commands").start()
    wire = MqttTestClient(broker.url, subscribe="dronepatrol/+/+/alerts/workflow").start()
    try:
        drone.publish_status("dongxi", "drone-1", "online", mission_state="mission")
        drone.publish_telemetry("dongxi", "drone-1", latitude_deg=LAT - 0.0005, longitude_deg=LON)
        ctx = browser()
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _sign_in(page, dash.url)
        second = ctx.new_page()
        second.on("pageerror", lambda exc: errors.append(str(exc)))
        second.goto(dash.url)
        second.wait_for_selector("#link-page.ok", timeout=15000)
        page.bring_to_front()  # the page worked in: a background tab runs animation frames late

        alert = make_alert()
        drone.publish_alert(alert)
        page.wait_for_selector(_row(alert.incident_id, "new"), timeout=10000)
        second.wait_for_selector(_row(alert.incident_id, "new"), timeout=10000)

        # The marker's popup opens on a click and stays open.
        marker = f'.alert-marker[data-incident="{alert.incident_id}"]'
        page.wait_for_selector(marker, timeout=5000)
        page.click(marker)
        page.wait_for_selector(".leaflet-popup", timeout=3000)
        page.wait_for_timeout(600)
        assert page.locator(".leaflet-popup").count() == 1
        assert "Thermal hotspot" in page.inner_text(".leaflet-popup")
        assert page.get_attribute("#detail", "data-incident") == alert.incident_id  # the detail panel too

        page.click('#detail button.step[data-step="acknowledged"]')
        second.wait_for_selector(_row(alert.incident_id, "acknowledged"), timeout=5000)
        _take(page, "dispatched", unit="unit 3 (Officer Zhao)", note="via radio")
        second.wait_for_selector(_row(alert.incident_id, "dispatched"), timeout=5000)
        assert "unit 3 (Officer Zhao)" in second.inner_text(_row(alert.incident_id))
        _take(page, "on_scene")
        second.wait_for_selector(_row(alert.incident_id, "on_scene"), timeout=5000)
        _take(page, "resolved", note="fire put out")
        second.wait_for_selector(_row(alert.incident_id, "resolved"), timeout=5000)

        second.bring_to_front()
        second.click(_row(alert.incident_id))
        second.wait_for_selector('#detail[data-state="resolved"]', timeout=5000)
        history = second.eval_on_selector_all("#detail ol.history li", "els => els.map(e => e.dataset.step)")
        assert history == ["acknowledged", "dispatched", "on_scene", "resolved"]
        assert "Sgt Li" in second.inner_text("#detail ol.history")
        assert "null" not in second.inner_text("#detail") and "undefined" not in second.inner_text("#detail")
        assert second.inner_text('#detail table.response tr[data-stage="on_scene"] td') != "–"
        steps = [json.loads(p)["data"] for t, p, _ in wire.received]
        assert [s["step"] for s in steps] == ["dispatched", "on_scene", "resolved"]
        assert {s["by"] for s in steps} == {"Sgt Li"}

        # Eyes on from the alert: the command goes to the drone.
        page.bring_to_front()
        page.click(_row(alert.incident_id))
        page.click("#detail button.step.eyes")
        page.wait_for_selector("dialog[open]", timeout=5000)
        page.fill("dialog [name=duration_s]", "60")
        page.click("dialog button.primary")
        _, payload, _ = drone.wait_for(lambda t, p: b"eyes_on" in p, 5.0)
        command = json.loads(payload)["data"]
        assert command["lat_deg"] == pytest.approx(LAT) and command["duration_s"] == 60.0
        assert command["requested_by"] == "Sgt Li"
        page.wait_for_selector(f'#drones .command[data-command="{command["command_id"]}"]', timeout=5000)
        # The drone refuses it: the reason's code in the page's language, the drone's words after it.
        refusal = Reason("in_no_fly", "inside no-fly zone 'hospital-helipad'")
        answer = result_event(command["command_id"], "refused", refusal, site="dongxi", drone="drone-1")
        drone.publish("dronepatrol/dongxi/drone-1/commands/result", answer)
        refused = f'#drones .command.state-refused[data-command="{command["command_id"]}"]'
        page.wait_for_selector(refused, timeout=5000)
        assert "(in a no-fly zone: inside no-fly zone 'hospital-helipad')" in page.inner_text(refused)

        # Filters and search.
        crowd = make_alert(kind=AlertKind.CROWD_GATHERING, severity=Severity.WARNING, lat=LAT + 0.002)
        drone.publish_alert(crowd)
        page.wait_for_selector(_row(crowd.incident_id), timeout=5000)
        page.select_option("#f-kind", "crowd_gathering")
        assert page.is_hidden(_row(alert.incident_id)) and page.is_visible(_row(crowd.incident_id))
        page.select_option("#f-kind", "")
        page.uncheck("#opt-show-closed")
        assert page.is_hidden(_row(alert.incident_id))
        page.check("#opt-show-closed")
        page.fill("#f-search", "Officer Zhao")
        assert page.is_visible(_row(alert.incident_id)) and page.is_hidden(_row(crowd.incident_id))
        page.fill("#f-search", "")
        page.select_option("#f-state", "new")
        assert page.is_hidden(_row(alert.incident_id)) and page.is_visible(_row(crowd.incident_id))
        page.select_option("#f-state", "")

        # The shift report of the filters' time range, with the dispatch in it.
        page.fill("#f-from", time.strftime("%Y-%m-%dT00:00", time.localtime(time.time() - 86400)))
        href = page.get_attribute("#report-link", "href") or ""
        assert "format=html" in href and "since=" in href
        report = page.request.get(dash.url.rstrip("/") + href)
        assert report.status == 200 and "Shift report" in report.text() and "unit 3 (Officer Zhao)" in report.text()
        assert errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        second.screenshot(path=str(ARTIFACTS / "dashboard-dispatch.png"))
    finally:
        drone.publish("dronepatrol/dongxi/drone-1/status", b"", retain=True)  # no retained patrol for later tests
        wire.stop()
        drone.stop()


def test_page_in_chinese_and_english_with_offline_tiles_and_realert(
    make_dashboard: Callable[..., Dashboard], broker: MosquittoBroker, browser: Callable[..., Any], tmp_path: Path
) -> None:
    tiles = make_mbtiles(tmp_path / "district.mbtiles")
    dash = make_dashboard(token="staff-token-1", tile_file=tiles, realert_after_s=1.0)
    drone = MqttTestClient(broker.url).start()
    try:
        ctx = browser("zh-CN")
        outside: list[str] = []

        def guard(route: Any) -> None:
            host = urlsplit(route.request.url).hostname
            if host not in ("127.0.0.1", "localhost"):
                outside.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        ctx.route("**/*", guard)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _sign_in(page, dash.url, "李警官")
        alert = make_alert()
        drone.publish_alert(alert)
        item = page.wait_for_selector(_row(alert.incident_id), timeout=10000)
        text = item.inner_text()
        assert "热点(疑似明火)" in text and "紧急" in text and "东西巷三区" in text and "确认" in text
        assert alert.summary not in text  # the drone's English line: the kind and figures say it in Chinese
        assert page.inner_text("#alerts-pane h2").startswith("警情")
        assert "重点区域" in page.inner_text("#legend") and "实际航迹" in page.inner_text("#legend")
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        since = page.inner_text("#alerts-since")
        assert time.strftime("%Y-") in since  # a date, not only a time of day

        page.wait_for_selector("img.leaflet-tile-loaded", timeout=10000)
        srcs = page.eval_on_selector_all("img.leaflet-tile-loaded", "els => els.map(e => e.src)")
        assert srcs and all(urlsplit(s).path.startswith("/tiles/") for s in srcs)
        assert "test tiles © drone-patrol" in page.inner_text(".leaflet-control-attribution")

        # Nobody acknowledges: the alert sounds again (sound is on by default) and the row flashes.
        page.wait_for_selector(_row(alert.incident_id) + ".realert", timeout=8000)
        assert page.evaluate("window.dronePatrolBeeps") >= 2
        assert page.is_checked("#opt-sound")

        ARTIFACTS.mkdir(exist_ok=True)
        page.click(_row(alert.incident_id))
        page.wait_for_selector("#detail:not([hidden])", timeout=5000)
        page.screenshot(path=str(ARTIFACTS / "dashboard-zh.png"))
        assert "null" not in page.inner_text("#detail")
        page.select_option("#lang", "en")
        page.wait_for_selector("html[lang=en]", state="attached", timeout=5000)
        text = page.inner_text(_row(alert.incident_id))
        assert "Thermal hotspot" in text and "critical" in text.lower() and "dongxi-grid-3" in text
        assert alert.summary in text
        assert "Flown tracks" in page.inner_text("#legend")
        page.reload()  # the choice is remembered
        page.wait_for_selector(_row(alert.incident_id), timeout=10000)
        assert "Thermal hotspot" in page.inner_text(_row(alert.incident_id))

        # Alerts that overlap on the map are drawn as one cluster with their number, apart when zoomed in.
        for i in range(3):
            drone.publish_alert(make_alert(lat=LAT + 0.00001 * (i + 1), severity=Severity.WARNING))
        page.eval_on_selector("#map", f"_ => window.dronePatrol.map().setView([{LAT}, {LON}], 17, {{animate: false}})")
        cluster = page.wait_for_selector(".marker-cluster", timeout=5000)
        assert cluster.inner_text().strip() == "4"
        page.eval_on_selector("#map", f"_ => window.dronePatrol.map().setView([{LAT}, {LON}], 20, {{animate: false}})")
        page.wait_for_selector(".alert-marker >> nth=3", timeout=5000)
        # the cluster's icon leaves the map once markercluster's zoom transition ends
        page.wait_for_selector(".marker-cluster", state="detached", timeout=5000)
        assert page.locator(".marker-cluster").count() == 0
        assert outside == [] and errors == []

        # Heat seen in automatic-gain video has no temperature: the row, the popup and the detail say so
        # in words, in both languages (never "null").
        agc = make_alert(lat=LAT + 0.002, severity=Severity.WARNING, figures=AGC_FIGURES)
        drone.publish_alert(agc)
        page.wait_for_selector(_row(agc.incident_id), timeout=10000)
        page.eval_on_selector(
            "#map", f"_ => window.dronePatrol.map().setView([{LAT + 0.002}, {LON}], 18, {{ animate: false }})"
        )
        for lang, words in (("en", "no temperature (8-bit video)"), ("zh-CN", "无温度读数(8位视频)")):
            page.select_option("#lang", lang)
            page.wait_for_selector(f"html[lang={lang}]", state="attached", timeout=5000)
            page.eval_on_selector("#map", "_ => window.dronePatrol.map().closePopup()")
            page.click(f'.alert-marker[data-incident="{agc.incident_id}"]')
            page.wait_for_selector(".leaflet-popup", timeout=3000)
            page.wait_for_selector(f'#detail[data-incident="{agc.incident_id}"]', timeout=5000)
            for where in (_row(agc.incident_id), ".leaflet-popup", "#detail"):
                text = page.inner_text(where)
                assert words in text and "null" not in text and "°C" not in text, (lang, where, text)

        # The same offline base map from a PMTiles file: every tile from the dashboard, nothing from outside.
        pm_dash = make_dashboard(token="staff-token-1", tile_file=make_pmtiles(tmp_path / "district.pmtiles"))
        pm_page = ctx.new_page()
        pm_page.on("pageerror", lambda exc: errors.append(str(exc)))
        _sign_in(pm_page, pm_dash.url, "李警官")
        pm_page.wait_for_selector("img.leaflet-tile-loaded", timeout=10000)
        srcs = pm_page.eval_on_selector_all("img.leaflet-tile-loaded", "els => els.map(e => e.src)")
        here = urlsplit(pm_dash.url).netloc
        assert srcs and all(urlsplit(s).netloc == here and urlsplit(s).path.startswith("/tiles/") for s in srcs)
        assert "test tiles © drone-patrol" in pm_page.inner_text(".leaflet-control-attribution")
        assert outside == [] and errors == []
    finally:
        drone.stop()
