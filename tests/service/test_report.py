"""The HTML report draws areas, route, track and alerts."""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import Point, Polygon

from drone_patrol.core.types import (
    Alert,
    AlertKind,
    AlertStatus,
    AreaRole,
    GeoPoint,
    KeyArea,
    MavCmd,
    Mission,
    Severity,
    Waypoint,
)
from drone_patrol.service.report import PatrolReportData, TruthMarker, write_report

HOME = GeoPoint(25.2821593, 110.296202, 150.0)


def test_report_is_self_contained_html(tmp_path: Path) -> None:
    area = KeyArea("grid-1", AreaRole.PATROL, Polygon([(110.2965, 25.2818), (110.297, 25.2818), (110.297, 25.2828)]))
    grill = KeyArea("grill", AreaRole.HEAT_SOURCE, Point(110.2967, 25.2823), radius_m=2.0)
    wp = Waypoint(MavCmd.NAV_WAYPOINT, latitude_deg=25.2825, longitude_deg=110.2968, altitude_m=40)
    mission = Mission(home=HOME, items=(wp,))
    alert = Alert(
        "a1",
        "i1",
        AlertKind.THERMAL_HOTSPOT,
        AlertStatus.NEW,
        Severity.CRITICAL,
        1e9,
        GeoPoint(25.2824, 110.2969),
        1.5,
        1e9,
        1e9,
        0.9,
        summary="fire <b>",
        figures={"max_temperature_c": 412.0},
        thumbnail_jpeg=b"\xff\xd8\xff",
    )
    data = PatrolReportData(
        "Night patrol",
        HOME,
        [area, grill],
        [mission],
        [HOME, GeoPoint(25.2825, 110.2968)],
        [alert],
        [TruthMarker("fire-1", "fire", GeoPoint(25.2824, 110.29691))],
        {"alerts": 1, "length_m": 312.5},
    )
    path = write_report(data, tmp_path / "r" / "report.html")
    text = path.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text
    assert "grid-1 (patrol)" in text and "grill (heat_source)" in text
    assert "fire &lt;b&gt;" in text and "max_temperature_c=412.0" in text
    assert "data:image/jpeg;base64," in text and "truth: fire-1" in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
