"""The dispatch workflow (which step may follow which, the folded state) and the response figures (pure code)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drone_patrol.alerts.schema import AlertSchemaError, parse_event, validate_json_schema, workflow_event
from drone_patrol.dashboard.report import nearest_rank, pick_language, summarize, to_csv, to_html
from drone_patrol.dashboard.workflow import WorkflowError, check_step, fold_workflow, response_times

T0 = 1_800_000_000.0  # the first alert of every incident below


def _ack(t: float, by: str = "Sgt Li") -> dict[str, Any]:
    return {"ack_id": f"ack-{t}", "by": by, "time_s": t, "note": ""}


def _step(step: str, t: float, **kw: str) -> dict[str, Any]:
    return {
        "step_id": f"{step}-{t}",
        "step": step,
        "by": "Sgt Li",
        "time_s": t,
        "unit": "",
        "reason": "",
        "note": "",
    } | kw


def _row(incident: str, acks: list[dict[str, Any]], steps: list[dict[str, Any]], start: float = T0) -> dict[str, Any]:
    row: dict[str, Any] = {
        "incident_id": incident,
        "drone": "drone-1",
        "kind": "thermal_hotspot",
        "severity": "critical",
        "max_severity": "critical",
        "area": "dongxi-grid-3",
        "first_time_s": start,
    }
    fold_workflow(row, steps, acks)
    return row


def test_steps_follow_the_dispatch_order() -> None:
    check_step("new", "dispatched", unit="unit 3")  # the dashboard acknowledges first
    check_step("acknowledged", "false_alarm", reason="grill smoke")
    check_step("dispatched", "on_scene")
    check_step("on_scene", "dispatched", unit="unit 5")  # reinforcements
    check_step("resolved", "note", note="report filed")
    with pytest.raises(WorkflowError, match="no unit has been dispatched"):
        check_step("acknowledged", "on_scene")
    with pytest.raises(WorkflowError, match="already closed"):
        check_step("false_alarm", "resolved")
    with pytest.raises(WorkflowError, match="which unit"):
        check_step("acknowledged", "dispatched", unit="  ")
    with pytest.raises(WorkflowError, match="reason is required"):
        check_step("dispatched", "duplicate")
    with pytest.raises(WorkflowError, match="expected one of"):
        check_step("new", "teleported")


def test_fold_gives_state_units_history_and_first_times() -> None:
    row = _row(
        "i1",
        [_ack(T0 + 20), _ack(T0 + 25, "Cst Wang")],
        [
            _step("note", T0 + 30, note="caller says two people"),
            _step("dispatched", T0 + 40, unit="unit 3"),
            _step("dispatched", T0 + 100, unit="unit 5"),
            _step("on_scene", T0 + 150),
            _step("resolved", T0 + 600, note="settled"),
            _step("note", T0 + 700, note="report filed"),
        ],
    )
    assert row["state"] == "resolved"
    assert row["units"] == ["unit 3", "unit 5"]
    assert [h["step"] for h in row["history"]] == [
        "acknowledged",
        "acknowledged",
        "note",
        "dispatched",
        "dispatched",
        "on_scene",
        "resolved",
        "note",
    ]
    assert response_times(row) == {
        "to_acknowledged_s": 20.0,
        "to_dispatched_s": 40.0,
        "to_on_scene_s": 150.0,
        "to_closed_s": 600.0,
    }
    assert _row("i2", [], [])["state"] == "new"
    assert response_times(_row("i2", [], [])) == dict.fromkeys(
        ("to_acknowledged_s", "to_dispatched_s", "to_on_scene_s", "to_closed_s")
    )
    false_alarm = _row("i3", [_ack(T0 + 5)], [_step("false_alarm", T0 + 9, reason="grill")])
    assert false_alarm["state"] == "false_alarm" and false_alarm["outcome_reason"] == "grill"


def _night() -> list[dict[str, Any]]:
    """Five incidents with on-scene times 50, 170, 200, 290 and 400 s, and one never dispatched."""
    rows = []
    for i, (ack_s, disp_s, scene_s, done_s) in enumerate(
        [(10, 20, 50, 300), (30, 60, 170, 500), (5, 90, 200, 700), (60, 120, 290, 900), (100, 200, 400, 1000)]
    ):
        start = T0 + i * 3600
        rows.append(
            _row(
                f"i{i}",
                [_ack(start + ack_s)],
                [
                    _step("dispatched", start + disp_s, unit=f"unit {i}"),
                    _step("on_scene", start + scene_s),
                    _step("resolved", start + done_s),
                ],
                start,
            )
        )
    rows.append(_row("late", [_ack(T0 + 5 * 3600 + 15)], [], T0 + 5 * 3600))
    rows.append(_row("outside", [_ack(T0 + 99 * 3600)], [], T0 + 99 * 3600))  # not in the range
    return rows


def test_night_figures_from_known_times() -> None:
    report = summarize(_night(), T0, T0 + 6 * 3600)
    assert report["incidents"] == 6
    scene = report["stages"]["to_on_scene_s"]
    assert scene == {"count": 5, "median_s": 200.0, "p90_s": 400.0}
    ack = report["stages"]["to_acknowledged_s"]
    assert ack["count"] == 6 and ack["median_s"] == pytest.approx((15 + 30) / 2) and ack["p90_s"] == 100.0
    assert report["stages"]["to_dispatched_s"] == {"count": 5, "median_s": 90.0, "p90_s": 200.0}
    assert report["stages"]["to_closed_s"]["median_s"] == 700.0
    assert [(t["within_s"], t["met"], t["of"]) for t in report["on_scene_targets"]] == [
        (60.0, 1, 6),
        (180.0, 2, 6),
        (300.0, 4, 6),
    ]
    assert report["states"] == {"resolved": 5, "acknowledged": 1}


@given(st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=50))
def test_nearest_rank_p90_is_met_by_at_least_90_percent(values: list[float]) -> None:
    p90 = nearest_rank(values, 0.9)
    assert p90 in values
    assert sum(1 for v in values if v <= p90) >= 0.9 * len(values)
    assert sum(1 for v in values if v < p90) < 0.9 * len(values)


def test_shift_report_csv_and_html_in_chinese_and_english() -> None:
    report = summarize(_night(), T0, T0 + 6 * 3600)
    names = {"dongxi-grid-3": "东西巷三区"}
    rows = list(csv.reader(io.StringIO(to_csv(report, "zh-CN", area_names=names))))
    assert rows[0][:3] == ["警情编号", "首次告警", "无人机"] and rows[0][-2] == "至到场"
    assert len(rows) == 7 and rows[1][3] == "热点(疑似明火)" and rows[1][5] == "东西巷三区" and rows[1][6] == "已处置"
    assert rows[1][-2] == "50.0" and rows[6][-2] == ""
    english = to_html(report, "en", "dongxi")
    assert "Shift report dongxi" in english and "within 3 min" in english and "<td>2 / 6</td>" in english
    assert "<td>3:20</td>" in english  # the median to on scene, 200 s
    chinese = to_html(report, "zh-CN", "dongxi", area_names=names)
    assert "值班报告" in chinese and "3 分钟内" in chinese and "东西巷三区" in chinese and "<script" not in chinese


def test_shift_report_says_when_a_hot_spot_has_no_temperature() -> None:
    hot = _row("hot", [_ack(T0 + 10)], [], T0) | {"figures": {"max_temperature_c": 412.0, "area_m2": 1.0}}
    agc = _row("agc", [_ack(T0 + 70)], [], T0 + 60)
    agc["figures"] = {"max_temperature_c": None, "last_temperature_c": None, "measurement": "agc_saturation"}
    crowd = _row("crowd", [], [], T0 + 120) | {"kind": "crowd_gathering", "figures": {"head_count": 14}}
    report = summarize([hot, agc, crowd], T0, T0 + 3600)
    assert report["lines"][1]["figures"]["max_temperature_c"] is None  # JSON keeps the null
    english = list(csv.reader(io.StringIO(to_csv(report, "en"))))
    assert [r[english[0].index("reading")] for r in english[1:]] == [
        "max temperature 412.0 °C",
        "no temperature (8-bit video)",
        "people 14",
    ]
    chinese = list(csv.reader(io.StringIO(to_csv(report, "zh-CN"))))
    column = chinese[0].index("读数")
    assert [r[column] for r in chinese[1:]] == ["最高温度 412.0 °C", "无温度读数(8位视频)", "人数 14"]
    for lang, words in (("en", "<td>no temperature (8-bit video)</td>"), ("zh-CN", "<td>无温度读数(8位视频)</td>")):
        page = to_html(report, lang, "dongxi")
        assert words in page and "None" not in page and "null" not in page


def test_language_from_the_header_or_the_choice() -> None:
    assert pick_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert pick_language("en-GB,en;q=0.9") == "en"
    assert pick_language("fr-FR", None) == "en"
    assert pick_language("zh-CN", "en") == "en"


def test_workflow_event_validates_with_both_validators() -> None:
    event = workflow_event("inc-1", "dispatched", by="Sgt Li", site="dongxi", drone="drone-1", time_s=T0, unit="unit 3")
    validate_json_schema(event)
    assert parse_event(event).type == "org.dronepatrol.alert.workflow"
    with pytest.raises(AlertSchemaError, match="unit"):
        workflow_event("inc-1", "dispatched", by="Sgt Li", site="dongxi", drone="drone-1", time_s=T0)
    bad = dict(event, data=dict(event["data"], step="false_alarm", reason=""))
    with pytest.raises(AlertSchemaError, match="reason"):
        validate_json_schema(bad)
    with pytest.raises(AlertSchemaError, match="reason"):
        parse_event(bad, check_json_schema=False)


@given(
    st.lists(
        st.sampled_from(["ack", "dispatched", "on_scene", "resolved", "false_alarm", "duplicate", "note"]), max_size=12
    ),
    st.randoms(use_true_random=False),
)
def test_fold_agrees_with_the_steps_the_rules_let_through(wanted: list[str], rnd: Any) -> None:
    """Whatever the order rows come back in, the fold gives the state the checked steps lead to."""
    state = "new"
    acks: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for i, step in enumerate(wanted):
        t = T0 + 10 * (i + 1)
        if step == "ack":
            acks.append(_ack(t))
            state = "acknowledged" if state == "new" else state
            continue
        try:
            check_step(state, step, unit="u", reason="r", note="n")
        except WorkflowError:
            continue
        if state == "new" and step != "note":
            acks.append(_ack(t - 1))  # the dashboard acknowledges first
            state = "acknowledged"
        steps.append(_step(step, t, unit="u" if step == "dispatched" else "", reason="r", note="n"))
        if (
            step in ("resolved", "false_alarm", "duplicate")
            or (step == "on_scene")
            or (step == "dispatched" and state in ("acknowledged",))
        ):
            state = step
    rnd.shuffle(acks)
    rnd.shuffle(steps)
    row = _row("p", acks, steps)
    assert row["state"] == state
    times = response_times(row)
    stages = [v for k in ("to_acknowledged_s", "to_dispatched_s", "to_on_scene_s") if (v := times[k]) is not None]
    assert stages == sorted(stages)
