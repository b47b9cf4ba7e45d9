"""A conformance probe: the facts a controller relies on, read from any ArduCopter over MAVLink.

Run it against the simulator (``test_conformance.py`` does) or against ArduPilot SITL::

    python -m tests.sim.conformance tcp:127.0.0.1:5760

and compare the two JSON outputs. The probe needs a freshly booted, disarmed vehicle
at its home; it flies a short GUIDED hop and a two-waypoint AUTO mission.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from tests.sim.gcs import Gcs

OK = mavlink2.MAV_RESULT_ACCEPTED


def _vehicle_time_s(gcs: Gcs) -> float:
    msg = gcs.recv(["SYSTEM_TIME", "GLOBAL_POSITION_INT", "ATTITUDE"], 5.0)
    return msg.time_boot_ms / 1000.0 if msg is not None else float("nan")


def _streams(gcs: Gcs, seconds: float = 3.0) -> dict[str, int]:
    counts: dict[str, int] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        msg = gcs.recv(None, 0.2)
        if msg is not None:
            counts[msg.get_type()] = counts.get(msg.get_type(), 0) + 1
    return counts


def _param(gcs: Gcs, name: str) -> float | None:
    gcs.send(gcs.mav.param_request_read_encode(1, 1, name.encode(), -1))
    pv = gcs.recv("PARAM_VALUE", 3.0, cond=lambda m: m.param_id == name)
    return None if pv is None else float(pv.param_value)


def _no_space_limit(gcs: Gcs, mission_type: int) -> Any:
    gcs.texts.clear()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 60000, mission_type))
    ack = gcs.recv("MISSION_ACK", 3.0)
    text = gcs.wait_text("items are supported", 2.0)
    return {"ack": None if ack is None else ack.type, "text": text}


def _wait_ready(gcs: Gcs, timeout_s: float) -> tuple[float, list[str]]:
    """Try to arm in GUIDED until it works; return vehicle seconds and the refusal texts seen."""
    refusals: list[str] = []
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        gcs.set_mode(4)
        gcs.texts.clear()
        if gcs.command(400, 1) == OK:
            return _vehicle_time_s(gcs), refusals
        for t in gcs.texts:
            if (t.startswith(("PreArm", "Arm")) or "failed" in t) and t not in refusals:
                refusals.append(t)
        time.sleep(0.3)
    return float("nan"), refusals


def probe(connection: str, ready_timeout_s: float = 90.0) -> dict[str, Any]:
    """Collect the facts; every key is one observable behaviour."""
    gcs = Gcs(connection)
    facts: dict[str, Any] = {}
    try:
        hb = gcs.recv("HEARTBEAT", 30.0, cond=lambda m: m.get_srcComponent() == 1)
        facts["heartbeat"] = {
            "type": hb.type, "autopilot": hb.autopilot, "base_mode": hb.base_mode,
            "custom_mode": hb.custom_mode, "system_status": hb.system_status, "mavlink2": hb.get_msgbuf()[0] == 0xFD,
        }  # fmt: skip
        facts["default_streams"] = sorted(_streams(gcs))
        gcs.request_streams(4)
        facts["streams after REQUEST_DATA_STREAM"] = sorted(_streams(gcs, 2.0))
        for name in ("FS_GCS_ENABLE", "FS_GCS_TIMEOUT", "BATT_FS_LOW_ACT", "BATT_LOW_VOLT", "FENCE_ENABLE",
                     "FENCE_ACTION", "FENCE_ALT_MAX", "FENCE_TYPE", "FENCE_RADIUS", "RTL_ALT", "WPNAV_SPEED",
                     "DISARM_DELAY", "SYSID_MYGCS", "MIS_RESTART", "NO_SUCH_PARAM"):  # fmt: skip
            facts[f"param {name}"] = _param(gcs, name)
        facts["no_space mission"] = _no_space_limit(gcs, 0)
        facts["no_space fence"] = _no_space_limit(gcs, 1)
        facts["no_space rally"] = _no_space_limit(gcs, 2)
        facts["unsupported command"] = gcs.command(31010)
        facts["set_message_interval unknown id"] = gcs.command(511, 31337, 1000)
        facts["request_message unknown id"] = gcs.command(512, 31337)
        facts["mission_start p1=1"] = gcs.command(300, 1, 0)
        home = gcs.recv("HOME_POSITION", 1.0)
        # Upload: which request, how the items read back.
        lat, lon = -35.363261, 149.165230
        if home is not None:
            lat, lon = home.latitude / 1e7, home.longitude / 1e7
        items = [
            (16, 0, 0, 0, 0, 0, 1.0, 2.0, 3.0),
            (22, 6, 0, 0, 0, 0, 0.0, 0.0, 10.0),
            (16, 6, 3.7, 2.5, 1.0, 45.0, lat + 0.0002, lon, 10.0),
            (178, 2, 1, 4.0, -1, 0, 0.0, 0.0, 0.0),
            (16, 6, 0, 0, 0, 0, lat + 0.0002, lon + 0.0002, 12.34),
        ]
        gcs.texts.clear()
        up = gcs.upload(items)
        facts["upload"] = {"ack": up.ack, "request_types": sorted({k for k, _ in up.requests}),
                           "texts": [t for t in gcs.texts if "plan" in t.lower()]}  # fmt: skip
        got = gcs.download() or []
        facts["download"] = [
            {"cmd": i.command, "frame": i.frame, "p": [round(i.param1, 3), round(i.param2, 3), round(i.param3, 3),
             round(i.param4, 3)], "z": round(i.z, 2), "current": i.current} for i in got
        ]  # fmt: skip
        facts["download home matches HOME_POSITION"] = bool(
            got and home is not None and (got[0].x, got[0].y) == (home.latitude, home.longitude)
        )
        cur = gcs.recv("MISSION_CURRENT", 5.0)
        if cur is not None:
            facts["mission_current"] = {"seq": cur.seq, "total": cur.total, "state": cur.mission_state}
        # Arming readiness.
        t_ready, refusals = _wait_ready(gcs, ready_timeout_s)
        facts["arm refusals before ready"] = refusals
        facts["armed at vehicle s"] = round(t_ready, 1)
        gcs.texts.clear()
        facts["auto armed on ground (takeoff first)"] = gcs.set_mode(3)
        facts["mission_start"] = gcs.command(300)
        reached = []
        end = time.monotonic() + 120.0
        while time.monotonic() < end:
            msg = gcs.recv("MISSION_ITEM_REACHED", 5.0)
            if msg is None:
                continue
            reached.append(msg.seq)
            if msg.seq == 4:
                break
        facts["reached"] = reached
        facts["mission texts"] = [t for t in gcs.texts if t.startswith(("Mission:", "Reached"))]
        facts["disarm in flight"] = gcs.command(400, 0)
        facts["loiter"] = gcs.set_mode(5)
        climbs = []
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            hud = gcs.recv("VFR_HUD", 1.0)
            if hud is not None:
                climbs.append(hud.climb)
        facts["loiter climb without rc (min m/s)"] = round(min(climbs), 1) if climbs else None
        gcs.texts.clear()
        facts["rtl"] = gcs.command(20)
        end = time.monotonic() + 180.0
        disarmed = False
        while time.monotonic() < end and not disarmed:
            hb = gcs.recv("HEARTBEAT", 5.0, cond=lambda m: m.get_srcComponent() == 1)
            disarmed = hb is not None and not hb.base_mode & mavlink2.MAV_MODE_FLAG_SAFETY_ARMED
        facts["rtl disarmed on landing"] = disarmed
        facts["rtl texts"] = list(gcs.texts)
        # Entering AUTO armed on the ground with no takeoff next.
        gcs.set_mode(4)
        nt = [items[0], items[2], items[4]]
        gcs.upload(nt)
        gcs.texts.clear()
        facts["arm again"] = gcs.command(400, 1)
        facts["auto without takeoff"] = gcs.set_mode(3)
        facts["auto without takeoff texts"] = list(gcs.texts)
        gcs.command(400, 0)
    finally:
        gcs.close()
    return facts


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1]), indent=1, sort_keys=True))
