"""The whole service: from the first frame in which an incident is visible to the alert at the subscriber.

Runs the demo (embedded broker, simulated copter at x10, simulated camera) over the
sample district with a survey patrol first, then the fires and the crowd scenarios,
and reports per incident: localisation error, the on-board confirmation time in
vehicle seconds (what a real-time flight would take), the MQTT transit in wall
seconds, and the wall time from first sighting to the command room at the speedup.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from drone_patrol.core.config import load_config, override
from drone_patrol.service.demo import run_demo

TITLE = "Service: first sighting to alert at the command room (demo flow, simulator x10)"
ROOT = Path(__file__).resolve().parents[1]


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = load_config(ROOT / "configs" / "demo.yaml", environ={})
        for scenario in ("fires_in_alleys.geojson", "crowd_near_grills.geojson"):
            settings = override(
                base,
                {
                    "site": {"areas_file": str(ROOT / "flight_plans" / "guilin_dongxi_xiang.geojson"),
                             "data_dir": f"{tmp}/var"},
                    "sim": {"scenario": str(ROOT / "flight_plans" / "scenarios" / scenario), "speedup": 10},
                    "alerts": {"outbox_path": f"{tmp}/var/outbox-{scenario}.sqlite"},
                },
            )  # fmt: skip
            result = run_demo(
                settings, out_dir=Path(tmp) / "out", echo=lambda _s: None,
                learn_scenario=ROOT / "flight_plans" / "scenarios" / "quiet_night.geojson",
            )  # fmt: skip
            for m in result.matches:
                rows.append(
                    {
                        "scenario": scenario.removesuffix(".geojson"),
                        "incident": m.name,
                        "alerted": m.alert_incident_id is not None,
                        "error_m": round(m.error_m, 2) if m.error_m is not None else "-",
                        "confirm_vehicle_s": round(m.confirm_vehicle_s, 2) if m.confirm_vehicle_s is not None else "-",
                        "transit_wall_ms": round(m.transit_s * 1000, 1) if m.transit_s is not None else "-",
                        "sighting_to_room_wall_s": (
                            round(m.first_seen_to_alert_s, 2) if m.first_seen_to_alert_s is not None else "-"
                        ),
                        "false_alerts": len(result.false_alerts),
                        "target": "alerted, < 5 m",
                        "ok": m.alert_incident_id is not None and (m.error_m or 99) < 5.0,
                    }
                )
    return rows
