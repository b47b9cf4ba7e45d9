"""The dashboard with the real drone side (AlertPublisher) and the CLI watcher (AlertSubscriber)."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drone_patrol.alerts.publisher import AlertAck, AlertPublisher
from drone_patrol.alerts.subscriber import AlertSubscriber
from drone_patrol.core.config import AlertsConfig, DashboardConfig, Settings, SiteConfig
from drone_patrol.core.types import GeoPoint, VehicleState
from drone_patrol.dashboard.app import Dashboard
from tests.brokers import MosquittoBroker, mosquitto_broker
from tests.dashboard.conftest import AREAS
from tests.dashboard.helpers import event_of, get_json, http, jpeg, make_alert, wait_until

pytestmark = pytest.mark.mosquitto


def test_publisher_to_dashboard_and_ack_back_to_the_drone(
    make_dashboard: Callable[..., Dashboard], broker: MosquittoBroker, tmp_path: Path
) -> None:
    dash = make_dashboard()
    config = AlertsConfig(
        broker_url=broker.url, outbox_path=tmp_path / "outbox.sqlite", reconnect_min_s=0.1, keepalive_s=5
    )
    pub = AlertPublisher(config, "dongxi", "drone-7").start()
    acks: list[AlertAck] = []
    pub.on_ack(acks.append)
    watcher = AlertSubscriber(broker.url, site="dongxi", persistent=False, client_id="cli-watcher").start(wait_s=5)
    try:
        assert wait_until(lambda: pub.connected, 5.0, "publisher connected")
        pub.publish_status("online", mission_state="patrolling", waypoints_reached=3, waypoints_total=12)
        pub.publish_telemetry(
            VehicleState(
                time_s=time.time(), position=GeoPoint(25.2815, 110.2981, 190.0), battery_percent=64.0, mode="AUTO"
            )
        )
        pub.publish_video(jpeg(160, 128))
        alert = make_alert(drone="drone-7")
        event_id = pub.publish_alert(alert)
        assert pub.flush(5.0)
        row = wait_until(lambda: (r := get_json(dash.url + "api/alerts")["alerts"]) and r[0], 3.0, "alert")
        assert row["event_id"] == event_id and row["drone"] == "drone-7" and row["thumbnail_url"]

        def drone_7() -> dict | None:
            d = next((d for d in get_json(dash.url + "api/drones")["drones"] if d["drone"] == "drone-7"), None)
            return d if d and d["frame_seq"] >= 1 and d["latitude_deg"] is not None else None

        drone = wait_until(drone_7, 3.0, "drone-7 with telemetry and a video frame")
        assert drone["link"] == "online" and drone["mission_state"] == "patrolling"
        assert drone["mission_progress"] == pytest.approx(0.25) and drone["battery_percent"] == 64.0

        # The dashboard's ack reaches the drone's publisher.
        assert http("POST", dash.url + f"api/alerts/{event_id}/ack", {"by": "Sgt Li"})[0] == 200
        assert wait_until(lambda: acks, 3.0, "ack at the drone")
        assert acks[0].target_id == event_id and acks[0].by == "Sgt Li"

        # An ack of the whole incident from the CLI watcher shows on the dashboard.
        second = make_alert(drone="drone-7")
        pub.publish_alert(second)
        wait_until(lambda: len(get_json(dash.url + "api/alerts")["alerts"]) == 2, 3.0, "second alert")
        wait_until(lambda: watcher.metrics["received"] >= 2, 3.0, "watcher saw both")
        watcher.ack(second.incident_id, by="cli operator")

        def acked_row() -> dict | None:
            rows = get_json(dash.url + "api/alerts")["alerts"]
            return next((r for r in rows if r["incident_id"] == second.incident_id and r["acked"]), None)

        row = wait_until(acked_row, 3.0, "CLI ack on the dashboard")
        assert row["acked_by"] == "cli operator"
    finally:
        watcher.stop()
        pub.stop()


def test_tls_and_password_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard takes the broker's TLS files and credentials from the ``alerts`` section."""

    monkeypatch.setenv("TEST_DASH_MQTT_PW", "room-pw")
    monkeypatch.setenv("TEST_DASH_TOKEN", "staff")
    with mosquitto_broker(tmp_path / "mq", tls=True, users={"command-room": "room-pw", "drone-1": "d-pw"}) as b:
        assert b.tls is not None
        settings = Settings(
            site=SiteConfig(id="dongxi", areas_file=AREAS, data_dir=tmp_path),
            alerts=AlertsConfig(
                broker_url=b.url, username="command-room", password_env="TEST_DASH_MQTT_PW", tls_ca_file=b.tls.ca_cert
            ),
            dashboard=DashboardConfig(port=0, token_env="TEST_DASH_TOKEN", client_id="dash-tls"),
        )
        dash = Dashboard.from_settings(settings)
        assert dash.options.token == "staff" and dash.options.archive_path == tmp_path / "dashboard.sqlite"
        dash.start()
        try:
            assert dash.bridge.wait_connected(10), dash.bridge.last_error

            drone = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="drone-1")
            drone.username_pw_set("drone-1", "d-pw")
            drone.tls_set(ca_certs=str(b.tls.ca_cert), tls_version=ssl.PROTOCOL_TLS_CLIENT)
            drone.connect("127.0.0.1", b.port)
            drone.loop_start()
            alert = make_alert()
            drone.publish(
                "dronepatrol/dongxi/drone-1/alerts/thermal_hotspot", json.dumps(event_of(alert)), qos=1
            ).wait_for_publish(5)
            bearer = {"Authorization": "Bearer staff"}
            rows = wait_until(lambda: get_json(dash.url + "api/alerts", bearer)["alerts"], 3.0, "alert over TLS")
            assert rows[0]["event_id"] == alert.alert_id
            drone.disconnect()
            drone.loop_stop()
        finally:
            dash.stop()
