"""Shared test helpers: alert events made with the shared schema, a JPEG, an MQTT test client, HTTP calls."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from drone_patrol.alerts.schema import alert_event, status_payload
from drone_patrol.core.types import Alert, AlertKind, AlertStatus, GeoPoint, Severity

# Inside dongxi-grid-3 of the shared area file.
LAT, LON = 25.28195, 110.2985


def jpeg(width: int = 64, height: int = 48, value: int = 200) -> bytes:
    """A small real JPEG (a warm blob on a dark background)."""
    img = np.zeros((height, width, 3), np.uint8)
    cv2.circle(img, (width // 2, height // 2), min(width, height) // 4, (0, value // 2, value), -1)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return bytes(buf)


def make_alert(
    *,
    kind: AlertKind = AlertKind.THERMAL_HOTSPOT,
    severity: Severity = Severity.CRITICAL,
    status: AlertStatus = AlertStatus.NEW,
    incident_id: str | None = None,
    time_s: float | None = None,
    lat: float = LAT,
    lon: float = LON,
    drone: str = "drone-1",
    site: str = "dongxi",
    thumbnail: bool = True,
    figures: dict[str, Any] | None = None,
) -> Alert:
    """An Alert as the vision pipeline would make it (``figures`` replace the kind's usual ones)."""
    t = time.time() if time_s is None else time_s
    default_figures: dict[str, Any] = {"max_temperature_c": 312.5, "area_m2": 1.8}
    if kind is AlertKind.CROWD_GATHERING:
        default_figures = {"head_count": 9, "density_per_m2": 1.4}
    elif kind is AlertKind.VEHICLE:
        default_figures = {"event": "battery_low", "battery_percent": 22}
    figures = figures if figures is not None else default_figures
    return Alert(
        alert_id=str(uuid.uuid4()),
        incident_id=incident_id or str(uuid.uuid4()),
        kind=kind,
        status=status,
        severity=severity,
        time_s=t,
        location=GeoPoint(lat, lon),
        error_radius_m=4.0,
        first_seen_s=t - 3,
        last_seen_s=t,
        confidence=0.93,
        summary="fire in an alley",
        area_name="dongxi-grid-3",
        figures=figures,
        thumbnail_jpeg=jpeg() if thumbnail else None,
        site=site,
        drone=drone,
    )


def event_of(alert: Alert) -> dict[str, Any]:
    """The CloudEvent of ``alert`` as the drone publishes it."""
    return alert_event(alert, site=alert.site, drone=alert.drone)


def alert_topic(alert: Alert) -> str:
    return f"dronepatrol/{alert.site}/{alert.drone}/alerts/{alert.kind.value}"


class MqttTestClient:
    """A paho client standing for a drone or a second command room; records what it receives."""

    def __init__(
        self,
        url: str,
        client_id: str | None = None,
        subscribe: str | None = None,
        username: str | None = None,
        password: str | None = None,
        mqtt5: bool = False,
    ) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.received: list[tuple[str, bytes, float]] = []
        self.expiry_left_s: list[float | None] = []  # per message received: its MQTT 5 message expiry left
        self._cv = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
        )
        self._filter = subscribe
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        if username is not None:
            self.client.username_pw_set(username, password)
        self._host, self._port = host, int(port)

    def will(self, topic: str, payload: dict[str, Any]) -> MqttTestClient:
        self.client.will_set(topic, json.dumps(payload), qos=1, retain=True)
        return self

    def start(self) -> MqttTestClient:
        self.client.connect(self._host, self._port, keepalive=5)
        self.client.loop_start()
        if self._filter is not None:
            assert self._subscribed.wait(5), "subscription not confirmed"
        return self

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        if self._filter is not None:
            client.subscribe(self._filter, qos=1)

    def _on_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cv:
            self.received.append((msg.topic, bytes(msg.payload), time.monotonic()))
            self.expiry_left_s.append(getattr(msg.properties, "MessageExpiryInterval", None))
            self._cv.notify_all()

    def publish(self, topic: str, payload: bytes | str | dict[str, Any], qos: int = 1, retain: bool = False) -> None:
        body = json.dumps(payload) if isinstance(payload, dict) else payload
        info = self.client.publish(topic, body, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(5)

    def publish_alert(self, alert: Alert) -> dict[str, Any]:
        event = event_of(alert)
        self.publish(alert_topic(alert), event)
        return event

    def publish_status(self, site: str, drone: str, state: str, **fields: Any) -> None:
        doc = status_payload(state, site=site, drone=drone, time_s=time.time(), **fields)
        self.publish(f"dronepatrol/{site}/{drone}/status", doc, retain=True)

    def publish_telemetry(self, site: str, drone: str, **fields: Any) -> None:
        """One QoS 0 telemetry message of a drone flying AUTO at 40 m, 6 m/s; ``fields`` override or add."""
        doc = {
            "time": time.time(),
            "relative_altitude_m": 40.0,
            "ground_speed_m_s": 6.0,
            "mode": "AUTO",
            "armed": True,
            **fields,
        }
        self.publish(f"dronepatrol/{site}/{drone}/telemetry", doc, qos=0)

    def wait_for(self, pred: Callable[[str, bytes], bool], timeout_s: float = 5.0) -> tuple[str, bytes, float]:
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while True:
                for item in self.received:
                    if pred(item[0], item[1]):
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no matching message within {timeout_s} s; got {[t for t, *_ in self.received]}"
                    )
                self._cv.wait(left)

    def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT, so the broker sends the last will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def http(
    method: str,
    url: str,
    body: bytes | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 5.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request without following redirects: (status, headers, body)."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    hdrs = dict(headers or {})
    if isinstance(body, dict):
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=timeout_s) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    status, _, body = http("GET", url, headers=headers)
    assert status == 200, (status, body)
    return json.loads(body)


def wait_until(pred: Callable[[], Any], timeout_s: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s} s")
        time.sleep(0.01)


def tile_xy(lat: float, lon: float, z: int) -> tuple[int, int]:
    """The XYZ (slippy map) tile holding a WGS84 point at zoom ``z``."""
    import math

    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


TILE_META = {"name": "test district", "format": "png", "attribution": "test tiles © drone-patrol"}


def district_tiles(
    lat: float = LAT, lon: float = LON, zooms: tuple[int, ...] = (15, 16, 17, 18)
) -> list[tuple[int, int, int, bytes]]:
    """``(z, x, y, png)`` for each zoom's 3x3 block of 256 px tiles around a point (XYZ rows).

    Each tile is a flat colour of its zoom with a grid line, so a screenshot shows the base map
    (and the tiles of one zoom are the same bytes, as a PMTiles writer stores once).
    """
    out = []
    for z in zooms:
        img = np.full((256, 256, 3), (60 + 10 * (z - 15), 90, 70), np.uint8)
        img[0, :] = img[:, 0] = (200, 200, 200)
        ok, buf = cv2.imencode(".png", img)
        assert ok
        cx, cy = tile_xy(lat, lon, z)
        out.extend((z, x, y, bytes(buf)) for x in range(cx - 1, cx + 2) for y in range(cy - 1, cy + 2))
    return out


def make_mbtiles(path: Any, lat: float = LAT, lon: float = LON, zooms: tuple[int, ...] = (15, 16, 17, 18)) -> Any:
    """A tiny raster MBTiles 1.3 file of :func:`district_tiles`. Returns ``path``."""
    import sqlite3

    db = sqlite3.connect(str(path))
    db.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);"
        "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);"
    )
    meta = {**TILE_META, "minzoom": str(min(zooms)), "maxzoom": str(max(zooms))}
    db.executemany("INSERT INTO metadata VALUES (?, ?)", list(meta.items()))
    for z, x, y, data in district_tiles(lat, lon, zooms):
        db.execute("INSERT INTO tiles VALUES (?,?,?,?)", (z, x, 2**z - 1 - y, data))
    db.commit()
    db.close()
    return path


def make_pmtiles(
    path: Any,
    tiles: list[tuple[int, int, int, bytes]] | None = None,
    *,
    leaf_size: int | None = None,
    gzip_internal: bool = True,
    tile_type: int = 2,
) -> Any:
    """A PMTiles v3 file of ``tiles`` (default :func:`district_tiles`), assembled with the ``pmtiles`` package's
    header, directory and Hilbert id code: identical tiles stored once (run lengths where their ids follow
    each other), a root directory only or leaves of ``leaf_size`` entries, directories and metadata gzipped
    or not. ``tile_type`` is the header's (2 = png, 1 = mvt). Returns ``path``."""
    import gzip

    from pmtiles.tile import Compression, Entry, TileType, serialize_directory, serialize_header, zxy_to_tileid

    def directory(entries: list[Entry]) -> bytes:
        data: bytes = serialize_directory(entries)
        return data if gzip_internal else gzip.decompress(data)

    items = sorted((zxy_to_tileid(z, x, y), data) for z, x, y, data in (tiles or district_tiles()))
    entries: list[Entry] = []
    stored: dict[bytes, int] = {}
    blob = b""
    for tile_id, data in items:
        last = entries[-1] if entries else None
        if (
            last is not None
            and data in stored
            and stored[data] == last.offset
            and tile_id == last.tile_id + last.run_length
        ):
            last.run_length += 1
            continue
        if data not in stored:
            stored[data] = len(blob)
            blob += data
        entries.append(Entry(tile_id, stored[data], len(data), 1))
    leaves = b""
    if leaf_size is None:
        root = directory(entries)
    else:
        pointers = []
        for i in range(0, len(entries), leaf_size):
            leaf = directory(entries[i : i + leaf_size])
            pointers.append(Entry(entries[i].tile_id, len(leaves), len(leaf), 0))
            leaves += leaf
        root = directory(pointers)
    zooms = sorted({z for z, *_ in (tiles or district_tiles())})
    meta = json.dumps(TILE_META).encode()
    if gzip_internal:
        meta = gzip.compress(meta)
    header: dict[str, Any] = {
        "root_offset": 127,
        "root_length": len(root),
        "metadata_offset": 127 + len(root),
        "metadata_length": len(meta),
        "leaf_directory_offset": 127 + len(root) + len(meta),
        "leaf_directory_length": len(leaves),
        "tile_data_offset": 127 + len(root) + len(meta) + len(leaves),
        "tile_data_length": len(blob),
        "addressed_tiles_count": len(items),
        "tile_entries_count": len(entries),
        "tile_contents_count": len(stored),
        "clustered": True,
        "internal_compression": Compression.GZIP if gzip_internal else Compression.NONE,
        "tile_compression": Compression.NONE,
        "tile_type": TileType(tile_type),
        "min_zoom": zooms[0],
        "max_zoom": zooms[-1],
    }
    with open(path, "wb") as f:
        f.write(serialize_header(header) + root + meta + leaves + blob)
    return path
