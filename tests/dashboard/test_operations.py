"""Command-room operations against a real Mosquitto: dispatch steps, response figures, eyes-on commands,
drones lost during a patrol, the offline base map and HTTPS."""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from drone_patrol.alerts.eyes_on import COMMAND_EXPIRY_S, Reason, parse_command, result_event
from drone_patrol.alerts.schema import ack_event, parse_event, workflow_event
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.core.errors import ConfigError
from drone_patrol.dashboard.app import Dashboard
from tests.brokers import MosquittoBroker, make_tls_files
from tests.dashboard.helpers import (
    LAT,
    LON,
    MqttTestClient,
    district_tiles,
    get_json,
    http,
    make_alert,
    make_mbtiles,
    make_pmtiles,
    tile_xy,
    wait_until,
)

pytestmark = pytest.mark.mosquitto

MakeDash = Callable[..., Dashboard]


@pytest.fixture
def drone(broker: MosquittoBroker) -> Iterator[MqttTestClient]:
    client = MqttTestClient(broker.url).start()
    yield client
    client.stop()


def _step(dash: Dashboard, target: str, step: str, **body: Any) -> tuple[int, dict[str, Any]]:
    status, _, raw = http("POST", dash.url + f"api/alerts/{target}/step", {"step": step, "by": "Sgt Li", **body})
    return status, json.loads(raw)


def test_dispatch_steps_reach_every_dashboard_and_the_watcher(
    make_dashboard: MakeDash, broker: MosquittoBroker, drone: MqttTestClient, tmp_path: Path
) -> None:
    room_a = make_dashboard()
    room_b = make_dashboard(archive_path=tmp_path / "b.sqlite")
    wire = MqttTestClient(broker.url, subscribe="dronepatrol/+/+/alerts/+").start()
    watched: list[dict[str, Any]] = []
    watcher = AlertSubscriber(broker.url, site="dongxi", on_workflow=watched.append, persistent=False)
    watcher.start(wait_s=5.0)
    try:
        alert = make_alert()
        drone.publish_alert(alert)
        for room in (room_a, room_b):
            wait_until(lambda r=room: get_json(r.url + "api/alerts")["alerts"], 3.0, "alert on both dashboards")

        assert _step(room_a, alert.incident_id, "on_scene")[0] == 409  # nobody sent yet
        assert _step(room_a, alert.incident_id, "dispatched")[0] == 400  # who was sent?
        assert _step(room_a, "no-such-incident", "dispatched", unit="unit 3")[0] == 404
        status, row = _step(room_a, alert.alert_id, "dispatched", unit="unit 3 (Officer Zhao)", note="via radio")
        assert status == 200 and row["state"] == "dispatched" and row["acked"] is True  # acknowledged first
        status, row = _step(room_a, alert.incident_id, "dispatched", unit="unit 3 (Officer Zhao)")  # a retry
        assert status == 200 and row["units"] == ["unit 3 (Officer Zhao)"]  # the same unit once, no second step
        assert _step(room_a, alert.incident_id, "on_scene")[0] == 200
        assert _step(room_a, alert.incident_id, "note", note="two people, a grill fire")[0] == 200
        status, row = _step(room_a, alert.incident_id, "resolved", note="put out")
        assert status == 200 and row["state"] == "resolved"
        assert _step(room_a, alert.incident_id, "false_alarm", reason="x")[0] == 409  # already closed

        steps = ["acknowledged", "dispatched", "on_scene", "note", "resolved"]
        detail = wait_until(
            lambda: (d := get_json(room_b.url + f"api/alerts/{alert.incident_id}"))["state"] == "resolved" and d,
            3.0,
            "the second dashboard sees the steps",
        )
        assert [h["step"] for h in detail["history"]] == steps
        assert {h["by"] for h in detail["history"]} == {"Sgt Li"}
        assert detail["units"] == ["unit 3 (Officer Zhao)"]
        assert detail["response"]["to_on_scene_s"] is not None and detail["on_scene_at"].endswith("Z")

        wire.wait_for(lambda t, p: t.endswith("/alerts/workflow") and b'"resolved"' in p, 3.0)
        events = [parse_event(p) for t, p, _ in wire.received if t == "dronepatrol/dongxi/drone-1/alerts/workflow"]
        assert [e.data["step"] for e in events] == steps[1:]
        assert all(e.subject == alert.incident_id and e.source == "/dronepatrol/dongxi/command-room" for e in events)
        wait_until(lambda: len(watched) == 4, 3.0, "alerts watch sees every step")
        assert watched[0]["data"]["unit"] == "unit 3 (Officer Zhao)"
    finally:
        watcher.stop()
        wire.stop()


def test_response_figures_from_known_times(make_dashboard: MakeDash, drone: MqttTestClient) -> None:
    """Steps taken in another command room at known times give exact figures in /api/report."""
    dash = make_dashboard()
    t0 = time.time() - 6 * 3600
    scenes = [50.0, 170.0, 200.0, 290.0, 400.0]
    incidents = []
    for i, scene_s in enumerate(scenes):
        start = t0 + i * 600
        alert = make_alert(time_s=start, thumbnail=False)
        drone.publish_alert(alert)
        incidents.append(alert.incident_id)
        drone.publish("dronepatrol/dongxi/drone-1/alerts/ack", ack_event(
            alert.alert_id, by="Sgt Li", site="dongxi", drone="drone-1", time_s=start + 10 * (i + 1)
        ))  # fmt: skip
        for step, at_s, extra in (
            ("dispatched", 30.0, {"unit": f"unit {i}"}),
            ("on_scene", scene_s, {}),
            ("resolved", scene_s + 300, {}),
        ):
            event = workflow_event(
                alert.incident_id, step, by="Sgt Li", site="dongxi", drone="drone-1", time_s=start + at_s, **extra
            )
            drone.publish("dronepatrol/dongxi/drone-1/alerts/workflow", event)
    never = make_alert(time_s=t0 + 3000, thumbnail=False)  # nobody went
    drone.publish_alert(never)
    query = f"api/report?since={t0 - 1:.3f}&until={t0 + 3600:.3f}"
    report = wait_until(
        lambda: (r := get_json(dash.url + query))["states"] == {"resolved": 5, "new": 1} and r, 5.0, "all archived"
    )
    assert report["incidents"] == 6
    assert report["stages"]["to_on_scene_s"]["median_s"] == pytest.approx(200.0, abs=1e-3)
    assert report["stages"]["to_on_scene_s"]["p90_s"] == pytest.approx(400.0, abs=1e-3)
    assert report["stages"]["to_acknowledged_s"]["median_s"] == pytest.approx(30.0, abs=1e-3)
    assert report["stages"]["to_dispatched_s"]["count"] == 5
    assert [(t["met"], t["of"]) for t in report["on_scene_targets"]] == [(1, 6), (2, 6), (4, 6)]

    status, headers, body = http("GET", dash.url + query + "&format=csv", headers={"Accept-Language": "zh-CN"})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"] and ".csv" in headers["Content-Disposition"]
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("警情编号,首次告警 (Asia/Shanghai)") and len(text.splitlines()) == 7
    beijing = datetime.fromtimestamp(t0, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert f",{beijing}," in text  # the command room's time, whatever the server's own zone
    assert "东西巷三区" in text  # name_zh of the area file
    status, _, body = http("GET", dash.url + query + "&format=html&lang=en")
    assert status == 200 and b"Shift report" in body and b"<td>4 / 6</td>" in body
    assert http("GET", dash.url + "api/report?format=pdf")[0] == 400
    assert http("GET", dash.url + "api/report?since=yesterday")[0] == 400
    status, _, body = http("GET", dash.url + "api/report?since=253402300800&until=253402300900")
    assert status == 400 and b"1970 to 9999" in body


def test_eyes_on_command_is_sent_and_the_drone_answers_shown(make_dashboard: MakeDash, broker: MosquittoBroker) -> None:
    dash = make_dashboard()
    drone = MqttTestClient(broker.url, subscribe="dronepatrol/dongxi/drone-1/commands", mqtt5=True).start()
    try:
        url = dash.url + "api/drones/dongxi/drone-1/command"
        body = {"kind": "eyes_on", "lat_deg": LAT, "lon_deg": LON, "duration_s": 90, "by": "Sgt Li"}
        status, _, raw = http("POST", url, body)
        assert status == 200, raw
        _, payload, _ = drone.wait_for(lambda t, p: True, 3.0)
        command = json.loads(payload)
        assert command["type"] == "org.dronepatrol.command.eyes_on" and command["specversion"] == "1.0"
        assert command["dataschema"] == "urn:dronepatrol:schema:eyes_on:1.0" and command["source"].endswith(
            "/command-room"
        )
        data = command["data"]
        assert (data["lat_deg"], data["lon_deg"], data["duration_s"]) == (LAT, LON, 90.0)
        assert b'"duration_s":90.0' in payload.replace(b" ", b"")  # floats on the wire, as before
        assert data["requested_by"] == "Sgt Li" and data["command_id"]
        assert command["subject"] == data["command_id"] and command["source"] == "/dronepatrol/dongxi/command-room"
        assert parse_command(payload).lat_deg == LAT  # what the drone reads
        left_s = drone.expiry_left_s[0]  # a command may wait in the broker COMMAND_EXPIRY_S at most
        assert left_s is not None and COMMAND_EXPIRY_S - 5 <= left_s <= COMMAND_EXPIRY_S
        assert http("POST", url, dict(body, lat_deg=200))[0] == 400
        assert http("POST", url, dict(body, duration_s=float("nan")))[0] == 400  # NaN passes min/max checks
        assert http("POST", url, dict(body, lon_deg="east"))[0] == 400
        assert http("POST", url, {"kind": "release"})[0] == 400  # no command_id to end
        assert http("POST", url, {"kind": "self_destruct"})[0] == 400
        assert http("POST", dash.url + "api/drones/dongxi/drone%2B1/command", body)[0] == 400
        watcher = make_dashboard(
            token="staff", command_token="cmd", archive_path=dash.options.archive_path.with_name("w")
        )
        watch_url = watcher.url + "api/drones/dongxi/drone-1/command"
        assert http("POST", watch_url, body, headers={"Authorization": "Bearer staff"})[0] == 403
        assert not get_json(watcher.url + "api/config", {"Authorization": "Bearer staff"})["can_command"]
        assert get_json(watcher.url + "api/config", {"Authorization": "Bearer cmd"})["can_command"]

        def answer(state: str, reason: Reason | None = None) -> None:
            result = result_event(data["command_id"], state, reason, site="dongxi", drone="drone-1")
            drone.publish("dronepatrol/dongxi/drone-1/commands/result", result)

        # A result outside the shipped schema (reason "" instead of null, no RFC 3339 time) is counted, not shown.
        lax = result_event(data["command_id"], "en_route", site="dongxi", drone="drone-1")
        lax["data"].update(reason="", time="x")
        drone.publish("dronepatrol/dongxi/drone-1/commands/result", lax)
        wait_until(
            lambda: get_json(dash.url + "healthz")["rejected_messages"].get("command_result") == 1,
            3.0,
            "malformed result rejected",
        )
        shown = [d["command"] for d in get_json(dash.url + "api/drones")["drones"] if d["command"]]
        assert [c["state"] for c in shown] == ["sent"]
        answer("accepted")
        answer("on_station")
        view = wait_until(
            lambda: [
                d
                for d in get_json(dash.url + "api/drones")["drones"]
                if (d["command"] or {}).get("state") == "on_station"
            ],
            3.0,
            "on_station shown",
        )[0]
        assert view["command"]["command_id"] == data["command_id"]
        status, _, _ = http("POST", url, {"kind": "release", "command_id": data["command_id"]})
        assert status == 200
        _, payload, _ = drone.wait_for(lambda t, p: b"command.release" in p, 3.0)
        assert json.loads(payload)["data"]["command_id"] == data["command_id"]
        answer("refused", Reason("in_no_fly", "point inside no-fly zone hospital-helipad"))
        view = wait_until(
            lambda: [
                d for d in get_json(dash.url + "api/drones")["drones"] if (d["command"] or {}).get("state") == "refused"
            ],
            3.0,
            "refusal shown",
        )[0]
        assert view["command"]["reason"] == "in_no_fly point inside no-fly zone hospital-helipad"
    finally:
        drone.stop()


def test_drone_lost_during_a_patrol_raises_an_alert_and_stays_on_the_map(
    make_dashboard: MakeDash, broker: MosquittoBroker, tmp_path: Path
) -> None:
    dash = make_dashboard(offline_after_s=3.0)
    will = {"state": "offline", "site": "dongxi", "drone": "drone-2", "time": "2026-12-07T05:00:00Z"}
    lost = MqttTestClient(broker.url).will("dronepatrol/dongxi/drone-2/status", will).start()
    silent = MqttTestClient(broker.url).start()
    lost.publish_status("dongxi", "drone-2", "online", mission_state="mission")
    lost.publish_telemetry("dongxi", "drone-2", latitude_deg=LAT, longitude_deg=LON)
    silent.publish_status("dongxi", "drone-3", "online", mission_state="mission")
    silent.publish_telemetry("dongxi", "drone-3", latitude_deg=LAT + 0.001, longitude_deg=LON)
    wait_until(lambda: len(get_json(dash.url + "api/drones")["drones"]) == 2, 3.0, "both drones seen")
    lost.kill()  # the broker sends the last will

    def link_alerts() -> dict[str, dict[str, Any]]:
        rows = get_json(dash.url + "api/alerts")["alerts"]
        return {r["drone"]: r for r in rows if r["kind"] == "vehicle"}

    rows = wait_until(lambda: len(link_alerts()) == 2 and link_alerts(), 15.0, "a link alert per drone")
    assert rows["drone-2"]["figures"]["event"] == "drone_offline" and rows["drone-2"]["severity"] == "critical"
    assert rows["drone-3"]["figures"]["event"] == "drone_silent"
    assert rows["drone-2"]["latitude_deg"] == pytest.approx(LAT)  # where it was last seen
    silent.publish_telemetry("dongxi", "drone-3", latitude_deg=LAT + 0.001, longitude_deg=LON)
    back = wait_until(lambda: link_alerts()["drone-3"]["updates"] == 2 and link_alerts()["drone-3"], 3.0, "heard again")
    assert back["figures"]["event"] == "drone_back_online" and back["max_severity"] == "critical"
    for name in ("drone-2", "drone-3"):  # clear the retained statuses for the next tests on this broker
        silent.publish(f"dronepatrol/dongxi/{name}/status", b"", retain=True)
    silent.stop()

    archive = dash.options.archive_path
    dash.stop()
    again = make_dashboard(archive_path=archive, offline_after_s=3.0)
    drones = {d["drone"]: d for d in get_json(again.url + "api/drones")["drones"]}
    assert drones["drone-2"]["latitude_deg"] == pytest.approx(LAT) and drones["drone-2"]["link"] == "unknown"
    assert drones["drone-3"]["latitude_deg"] == pytest.approx(LAT + 0.001)
    assert {r["drone"] for r in get_json(again.url + "api/alerts")["alerts"]} == {"drone-2", "drone-3"}


def test_two_dashboards_on_one_archive_keep_one_row_per_lost_drone(
    make_dashboard: MakeDash, broker: MosquittoBroker, tmp_path: Path
) -> None:
    """The city room: two dashboards on one broker and one archive both notice a drone lost (its last
    will) and a drone gone silent, each at its own moment; the archive keeps one row per event."""
    rooms = [make_dashboard(archive_path=tmp_path / "city.sqlite", offline_after_s=3.0) for _ in range(2)]
    will = {"state": "offline", "site": "dongxi", "drone": "drone-4", "time": "2026-12-07T05:00:00Z"}
    lost = MqttTestClient(broker.url).will("dronepatrol/dongxi/drone-4/status", will).start()
    silent = MqttTestClient(broker.url).start()
    for client, name in ((lost, "drone-4"), (silent, "drone-5")):
        client.publish_status("dongxi", name, "online", mission_state="mission")
        client.publish_telemetry("dongxi", name, latitude_deg=LAT, longitude_deg=LON)
    for dash in rooms:
        wait_until(lambda d=dash: len(get_json(d.url + "api/drones")["drones"]) >= 2, 3.0, "both drones seen")
    lost.kill()  # the broker sends the last will to both dashboards

    def tried(n: int) -> bool:  # each dashboard has raised (and stored, or found stored) n link alerts
        return all(sum(d.core.stored.values()) == n for d in rooms)

    wait_until(lambda: tried(2), 15.0, "both dashboards raise both link alerts")
    rows = [r for r in rooms[0].core.archive.messages(float("-inf")) if r["kind"] == "vehicle"]
    assert sorted((r["drone"], r["figures"]["event"]) for r in rows) == [
        ("drone-4", "drone_offline"),
        ("drone-5", "drone_silent"),
    ]
    assert sum(d.core.stored["stored"] for d in rooms) == 2  # the other two inserts found the row there
    silent.publish_telemetry("dongxi", "drone-5", latitude_deg=LAT, longitude_deg=LON)
    wait_until(lambda: tried(3), 5.0, "both dashboards hear drone-5 again")
    rows = [r for r in rooms[1].core.archive.messages(float("-inf")) if r["kind"] == "vehicle"]
    assert len(rows) == 3 and len({r["incident_id"] for r in rows}) == 2
    assert sum(d.core.stored["stored"] for d in rooms) == 3  # and 3 inserts that found the row there
    for name in ("drone-4", "drone-5"):  # clear the retained statuses for the next tests on this broker
        silent.publish(f"dronepatrol/dongxi/{name}/status", b"", retain=True)
    silent.stop()


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
def test_offline_base_map_from_a_local_tile_file(make_dashboard: MakeDash, tmp_path: Path, kind: str) -> None:
    make = make_mbtiles if kind == "mbtiles" else make_pmtiles
    tiles = make(tmp_path / f"district.{kind}")
    dash = make_dashboard(tile_file=tiles)
    cfg = get_json(dash.url + "api/config")
    assert cfg["tile_url"] == "/tiles/{z}/{x}/{y}.png" and cfg["tile_max_zoom"] == 18
    assert cfg["tile_attribution"] == "test tiles © drone-patrol"
    x, y = tile_xy(LAT, LON, 17)
    status, headers, body = http("GET", dash.url + f"tiles/17/{x}/{y}.png")
    assert status == 200 and headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")
    assert body == dict(((z, tx, ty), d) for z, tx, ty, d in district_tiles())[(17, x, y)]
    status, _, body = http("GET", dash.url + "tiles/17/0/0.png")  # outside the file
    assert status == 404 and b"no tile 17/0/0" in body
    assert http("GET", dash.url + "tiles/19/0/0.png")[0] == 404  # past the file's zooms
    assert http("GET", dash.url + "tiles/17/x/y")[0] == 404
    with pytest.raises(ConfigError, match="no such file"):
        make_dashboard(tile_file=tmp_path / f"missing.{kind}")
    (tmp_path / f"not.{kind}").write_text("hello")
    with pytest.raises(ConfigError, match=f"{tmp_path / f'not.{kind}'}: not an? (MBTiles|readable PMTiles v3) file"):
        make_dashboard(tile_file=tmp_path / f"not.{kind}")


def test_tile_file_setting_takes_its_older_name(tmp_path: Path) -> None:
    from drone_patrol.core.config.dashboard import DashboardConfig

    assert DashboardConfig.model_validate({"tile_mbtiles": "a.mbtiles"}).tile_file == Path("a.mbtiles")
    assert DashboardConfig.model_validate({"tile_file": "a.pmtiles"}).tile_file == Path("a.pmtiles")


def test_https_with_secure_cookies(make_dashboard: MakeDash, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    dash = make_dashboard(token="staff-1", tls_cert_file=tls.server_cert, tls_key_file=tls.server_key)
    assert dash.url.startswith("https://127.0.0.1:")
    ctx = ssl.create_default_context(cafile=str(tls.ca_cert))
    # A plain-HTTP client gets nothing useful and does not hold the server up.
    with socket.create_connection(("127.0.0.1", dash.port), timeout=5) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert not plain.recv(100).startswith(b"HTTP/1.1 200")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), NoRedirect)
    req = urllib.request.Request(dash.url + "login", data=b"operator=Sgt+Li&token=staff-1", method="POST")
    try:
        opener.open(req, timeout=5)
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as err:
        assert err.code == 303
        cookie = err.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with urllib.request.urlopen(
        urllib.request.Request(dash.url + "api/config", headers={"Cookie": cookie.split(";")[0]}),
        context=ctx,
        timeout=5,
    ) as resp:
        assert json.loads(resp.read())["operator"] == "Sgt Li"
    with pytest.raises(ConfigError, match="go together"):
        make_dashboard(tls_cert_file=tls.server_cert)
