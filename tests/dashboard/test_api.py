"""The dashboard's REST API and event stream against a real Mosquitto broker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.client import HTTPConnection
from urllib.parse import urlsplit

import pytest

from drone_patrol.alerts.schema import parse_event
from drone_patrol.core.types import AlertKind, AlertStatus, Severity
from drone_patrol.dashboard.app import Dashboard
from tests.brokers import MosquittoBroker
from tests.dashboard.helpers import MqttTestClient, get_json, http, jpeg, make_alert, wait_until

pytestmark = pytest.mark.mosquitto

MakeDash = Callable[..., Dashboard]


@pytest.fixture
def drone(broker: MosquittoBroker) -> MqttTestClient:
    client = MqttTestClient(broker.url).start()
    yield client
    client.stop()


def _alerts(dash: Dashboard) -> list[dict]:
    return get_json(dash.url + "api/alerts")["alerts"]


def test_alert_reaches_the_api_with_thumbnail_and_figures(make_dashboard: MakeDash, drone: MqttTestClient) -> None:
    dash = make_dashboard()
    alert = make_alert()
    t0 = time.monotonic()
    drone.publish_alert(alert)
    rows = wait_until(lambda: _alerts(dash), 2.0, "alert in /api/alerts")
    assert time.monotonic() - t0 < 1.0
    row = rows[0]
    assert row["incident_id"] == alert.incident_id and row["event_id"] == alert.alert_id
    assert (row["kind"], row["severity"], row["status"]) == ("thermal_hotspot", "critical", "new")
    assert row["latitude_deg"] == pytest.approx(alert.location.latitude_deg)
    assert row["area"] == "dongxi-grid-3" and row["figures"]["max_temperature_c"] == 312.5
    assert row["acked"] is False and row["updates"] == 1
    status, headers, body = http("GET", dash.url + row["thumbnail_url"].lstrip("/"))
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and body == alert.thumbnail_jpeg


def test_updates_fold_into_one_incident_newest_first(make_dashboard: MakeDash, drone: MqttTestClient) -> None:
    dash = make_dashboard()
    now = time.time()
    first = make_alert(severity=Severity.WARNING, time_s=now - 20)
    other = make_alert(kind=AlertKind.CROWD_GATHERING, severity=Severity.WARNING, time_s=now - 10)
    update = make_alert(
        incident_id=first.incident_id, severity=Severity.CRITICAL, status=AlertStatus.UPDATE, time_s=now
    )
    for a in (first, other, update):
        drone.publish_alert(a)
    drone.publish_alert(first)  # a redelivery: same event id, ignored
    rows = wait_until(lambda: (r := _alerts(dash)) and len(r) == 2 and r[0]["updates"] == 2 and r, 3.0, "fold")
    assert [r["incident_id"] for r in rows] == [first.incident_id, other.incident_id]
    assert rows[0]["severity"] == "critical" and rows[0]["status"] == "update"
    detail = get_json(dash.url + f"api/alerts/{first.incident_id}")
    assert [m["id"] for m in detail["messages"]] == [first.alert_id, update.alert_id]
    since = get_json(dash.url + f"api/alerts?since={now - 15}")["alerts"]
    assert {r["incident_id"] for r in since} == {first.incident_id, other.incident_id}
    assert len(get_json(dash.url + "api/alerts?limit=1")["alerts"]) == 1


def test_bad_messages_are_counted_not_fatal(make_dashboard: MakeDash, drone: MqttTestClient) -> None:
    dash = make_dashboard()
    drone.publish("dronepatrol/dongxi/drone-1/alerts/thermal_hotspot", b"not json")
    drone.publish("dronepatrol/dongxi/drone-1/alerts/thermal_hotspot", {"specversion": "1.0", "id": "x"})
    drone.publish("dronepatrol/dongxi/drone-1/video", b"GIF89a", qos=0)
    good = make_alert()
    drone.publish_alert(good)
    wait_until(lambda: _alerts(dash), 2.0, "good alert after bad ones")
    health = get_json(dash.url + "healthz")
    assert health["broker_connected"] is True
    assert health["rejected_messages"].get("alert") == 2


def test_acknowledge_publishes_a_schema_valid_ack(
    make_dashboard: MakeDash, drone: MqttTestClient, broker: MosquittoBroker
) -> None:
    dash = make_dashboard()
    watcher = MqttTestClient(broker.url, subscribe="dronepatrol/+/+/alerts/ack").start()
    try:
        alert = make_alert()
        drone.publish_alert(alert)
        wait_until(lambda: _alerts(dash), 2.0, "alert")
        status, _, body = http("POST", dash.url + f"api/alerts/{alert.alert_id}/ack", {"by": "duty officer"})
        assert status == 200, body
        row = json.loads(body)
        assert row["acked"] is True and row["acked_by"] == "duty officer"
        topic, payload, _ = watcher.wait_for(lambda t, p: t.endswith("/alerts/ack"), 2.0)
        assert topic == "dronepatrol/dongxi/drone-1/alerts/ack"
        event = parse_event(payload)  # the shared schema, JSON Schema included
        assert event.type == "org.dronepatrol.alert.ack"
        assert event.data["target_id"] == alert.alert_id and event.data["by"] == "duty officer"
        assert _alerts(dash)[0]["acked"] is True
        # unknown ids and wrong content types are refused
        assert http("POST", dash.url + "api/alerts/nope/ack", {})[0] == 404
        assert http("POST", dash.url + f"api/alerts/{alert.alert_id}/ack", b"{}")[0] == 415
        json_type = {"Content-Type": "application/json"}
        status, _, body = http("POST", dash.url + f"api/alerts/{alert.alert_id}/ack", b"\xff{}", json_type)
        assert status == 400 and b"not JSON" in body  # not UTF-8: a clear 400, no traceback
        assert http("POST", dash.url + "login", b"\xff", json_type)[0] in (303, 401)  # answered, not dropped
    finally:
        watcher.stop()


def test_ack_from_elsewhere_and_escalation_after_ack(make_dashboard: MakeDash, drone: MqttTestClient) -> None:
    dash_a = make_dashboard()
    dash_b = make_dashboard(archive_path=dash_a.options.archive_path.with_name("b.sqlite"))
    alert = make_alert(severity=Severity.WARNING)
    drone.publish_alert(alert)
    wait_until(lambda: _alerts(dash_a) and _alerts(dash_b), 2.0, "alert on both dashboards")
    assert http("POST", dash_a.url + f"api/alerts/{alert.alert_id}/ack", {})[0] == 200
    row_b = wait_until(lambda: (r := _alerts(dash_b)[0])["acked"] and r, 2.0, "ack seen by the other dashboard")
    assert row_b["acked_by"] == "command-room"
    # a later, more severe message of the same incident needs a new acknowledgement
    worse = make_alert(incident_id=alert.incident_id, severity=Severity.CRITICAL, status=AlertStatus.UPDATE)
    drone.publish_alert(worse)
    row = wait_until(lambda: (r := _alerts(dash_a)[0])["updates"] == 2 and r, 2.0, "escalation")
    assert row["acked"] is False and row["severity"] == "critical"


def test_archive_survives_a_restart(make_dashboard: MakeDash, drone: MqttTestClient) -> None:
    dash = make_dashboard()
    alert = make_alert()
    drone.publish_alert(alert)
    wait_until(lambda: _alerts(dash), 2.0, "alert")
    path = dash.options.archive_path
    dash.stop()
    later = make_dashboard(archive_path=path)
    rows = _alerts(later)
    assert [r["event_id"] for r in rows] == [alert.alert_id]


def test_alerts_published_while_the_dashboard_is_down_arrive_on_restart(
    make_dashboard: MakeDash, drone: MqttTestClient
) -> None:
    dash = make_dashboard(client_id="dash-persistent-session")
    path = dash.options.archive_path
    dash.stop()
    missed = make_alert()
    drone.publish_alert(missed)
    later = make_dashboard(client_id="dash-persistent-session", archive_path=path)
    rows = wait_until(lambda: _alerts(later), 3.0, "queued alert")
    assert rows[0]["event_id"] == missed.alert_id


def test_drone_status_last_will_telemetry_and_video(make_dashboard: MakeDash, broker: MosquittoBroker) -> None:
    dash = make_dashboard()
    will = {"state": "offline", "site": "dongxi", "drone": "drone-2", "time": "2026-12-01T22:00:00Z"}
    drone = MqttTestClient(broker.url).will("dronepatrol/dongxi/drone-2/status", will).start()
    drone.publish_status(
        "dongxi", "drone-2", "online", mission_state="patrolling", waypoints_reached=10, waypoints_total=40
    )
    for i in range(3):
        drone.publish_telemetry(
            "dongxi",
            "drone-2",
            latitude_deg=25.2815 + i * 1e-4,
            longitude_deg=110.2980,
            heading_deg=90.0,
            battery_percent=81.0,
            mission_current_seq=10 + i,
        )
    frame = jpeg(160, 128)
    drone.publish("dronepatrol/dongxi/drone-2/video", frame, qos=0)

    def view() -> dict | None:
        drones = {d["key"]: d for d in get_json(dash.url + "api/drones")["drones"]}
        d = drones.get("dongxi/drone-2")
        return d if d and len(d["track"]) == 3 and d["frame_seq"] == 1 else None

    d = wait_until(view, 3.0, "drone state")
    assert d["link"] == "online" and d["mode"] == "AUTO" and d["battery_percent"] == 81.0
    assert d["mission_current_seq"] == 12 and d["mission_count"] == 40 and d["mission_state"] == "patrolling"
    assert d["mission_progress"] == pytest.approx(10 / 40)  # waypoints reached, from the status
    status, headers, body = http("GET", dash.url + "api/drones/dongxi/drone-2/frame.jpg")
    assert status == 200 and body == frame and headers["X-Frame-Seq"] == "1"
    drone.kill()  # no DISCONNECT: the broker publishes the last will after the keepalive
    gone = wait_until(
        lambda: (
            next(x for x in get_json(dash.url + "api/drones")["drones"] if x["drone"] == "drone-2")["link"] == "offline"
        ),
        12.0,
        "last will",
    )
    assert gone


def test_areas_and_routes(make_dashboard: MakeDash, tmp_path) -> None:
    from drone_patrol.core.types import GeoPoint, MavCmd, Mission, Waypoint
    from drone_patrol.mission.qgc_plan import write_plan

    plan = write_plan(
        Mission(
            home=GeoPoint(25.2812, 110.2978, 150.0),
            items=(
                Waypoint(MavCmd.NAV_TAKEOFF, latitude_deg=25.2812, longitude_deg=110.2978, altitude_m=40),
                Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=25.2820, longitude_deg=110.2985, altitude_m=40),
                Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=25.2825, longitude_deg=110.2990, altitude_m=40),
            ),
        ),
        tmp_path / "night.plan",
    )
    dash = make_dashboard(route_files=(plan,))
    doc = get_json(dash.url + "api/areas")
    names = {f["properties"]["name"]: f["properties"]["role"] for f in doc["areas"]["features"]}
    assert names["dongxi-grid-3"] == "patrol" and names["hospital-helipad"] == "no_fly"
    assert names["dongxi-police-post"] == "home" and names["grill-stall-1"] == "heat_source"
    routes = [f for f in doc["routes"]["features"] if f["properties"]["kind"] == "route"]
    assert len(routes) == 1 and routes[0]["properties"]["file"] == "night.plan"
    assert routes[0]["geometry"]["coordinates"][1] == [110.2978, 25.2812]


def test_event_stream_delivers_alerts_within_a_second(make_dashboard: MakeDash, drone: MqttTestClient) -> None:
    dash = make_dashboard()
    u = urlsplit(dash.url)
    conn = HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("GET", "/api/events")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    wait_until(lambda: dash.hub.subscriber_count == 1, 2.0, "stream subscribed")
    alert = make_alert()
    t0 = time.monotonic()
    drone.publish_alert(alert)
    event_name = None
    while True:
        line = resp.fp.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            event_name = line[7:]
        elif line.startswith("data: ") and event_name == "alert":
            data = json.loads(line[6:])
            break
    elapsed = time.monotonic() - t0
    conn.close()
    assert data["incident_id"] == alert.incident_id
    assert elapsed < 1.0, f"alert took {elapsed:.3f} s to reach the page's stream"


def test_token_sign_in_and_bearer(make_dashboard: MakeDash) -> None:
    dash = make_dashboard(token="s3cret-token")
    assert http("GET", dash.url + "api/alerts")[0] == 401
    status, headers, _ = http("GET", dash.url)
    assert status == 303 and headers["Location"] == "/login"
    status, _, body = http("GET", dash.url + "login")
    assert status == 200 and b"s3cret" not in body
    bad = http(
        "POST", dash.url + "login", b"token=wrong&operator=x", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert bad[0] == 401
    status, headers, _ = http(
        "POST",
        dash.url + "login",
        b"token=s3cret-token&operator=Sgt+Li",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 303 and "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    cookie = headers["Set-Cookie"].split(";")[0]
    cfg = get_json(dash.url + "api/config", {"Cookie": cookie})
    assert cfg["operator"] == "Sgt Li" and "s3cret-token" not in json.dumps(cfg)
    status, _, page = http("GET", dash.url, headers={"Cookie": cookie})
    assert status == 200 and b"s3cret" not in page
    assert isinstance(get_json(dash.url + "api/drones", {"Authorization": "Bearer s3cret-token"})["drones"], list)
    assert http("GET", dash.url + "api/drones", headers={"Authorization": "Bearer nope"})[0] == 401
    cross = http("POST", dash.url + "api/alerts/x/ack", {}, {"Cookie": cookie, "Origin": "http://evil.example"})
    assert cross[0] == 403
    assert http("GET", dash.url + "healthz")[0] == 200  # health needs no sign-in


def test_bad_query_values_are_400(make_dashboard: MakeDash) -> None:
    dash = make_dashboard()
    assert http("GET", dash.url + "api/alerts?since=yesterday")[0] == 400
    assert http("GET", dash.url + "api/alerts?limit=-3")[0] == 400
    assert http("GET", dash.url + "api/nothing")[0] == 404
    assert http("GET", dash.url + "static/../app.py")[0] == 404


def test_tile_layer_is_configurable_and_allowed_by_the_csp(make_dashboard: MakeDash) -> None:
    dash = make_dashboard(tile_url="http://{s}.tiles.local:8081/{z}/{x}/{y}.png", tile_attribution="local tiles")
    cfg = get_json(dash.url + "api/config")
    assert cfg["tile_url"] == "http://{s}.tiles.local:8081/{z}/{x}/{y}.png" and cfg["tile_attribution"] == "local tiles"
    status, headers, _ = http("GET", dash.url)
    assert (
        status == 200 and "img-src 'self' data: blob: http://*.tiles.local:8081" in headers["Content-Security-Policy"]
    )
    assert "connect-src 'self'" in headers["Content-Security-Policy"]


def test_acknowledge_without_a_broker_is_503(tmp_path, broker: MosquittoBroker) -> None:
    from drone_patrol.dashboard.app import DashboardOptions
    from drone_patrol.dashboard.archive import Archive
    from drone_patrol.dashboard.model import Topic, parse_alert
    from tests.brokers import free_port
    from tests.dashboard.helpers import event_of

    alert = make_alert()
    path = tmp_path / "a.sqlite"
    arc = Archive(path)
    topic = Topic("dongxi", "drone-1", "alert", "thermal_hotspot")
    arc.add_message(parse_alert(topic, "t", json.dumps(event_of(alert)).encode()), time.time())
    arc.close()
    dash = Dashboard(
        DashboardOptions(broker_url=f"mqtt://127.0.0.1:{free_port()}", site="dongxi", archive_path=path, port=0)
    )
    dash.start()
    try:
        status, _, body = http("POST", dash.url + f"api/alerts/{alert.alert_id}/ack", {})
        assert status == 503 and b"not connected" in body
        assert _alerts(dash)[0]["acked"] is False
        assert get_json(dash.url + "healthz")["broker_connected"] is False
    finally:
        dash.stop()


def test_embedded_amqtt_broker_mqtt_311(tmp_path) -> None:
    """The demo's embedded broker speaks only MQTT 3.1.1: the dashboard probes and uses it."""
    from drone_patrol.dashboard.app import DashboardOptions
    from tests.brokers import amqtt_broker

    with amqtt_broker() as b:
        dash = Dashboard(
            DashboardOptions(
                broker_url=b.url, site="dongxi", archive_path=tmp_path / "a.sqlite", port=0, client_id="d1"
            )
        )
        dash.start()
        drone = MqttTestClient(b.url).start()
        try:
            assert dash.bridge.wait_connected(10) and dash.bridge.protocol == "3.1.1"
            alert = make_alert()
            drone.publish_alert(alert)
            wait_until(lambda: _alerts(dash), 3.0, "alert through amqtt")
            assert http("POST", dash.url + f"api/alerts/{alert.alert_id}/ack", {})[0] == 200
        finally:
            drone.stop()
            dash.stop()
