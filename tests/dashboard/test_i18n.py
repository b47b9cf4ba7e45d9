"""The page's two translation tables cover the same keys, and every key the page and the report use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import drone_patrol.dashboard

STATIC = Path(drone_patrol.dashboard.__file__).parent / "static"


def _table(lang: str) -> dict[str, str]:
    table: dict[str, str] = json.loads((STATIC / "i18n" / f"{lang}.json").read_text("utf-8"))
    return table


def _reason_codes() -> list[str]:
    """The refusal and failure codes the command-result schema lists (the drone's answers)."""
    from drone_patrol.alerts.eyes_on import RESULT_TYPE, command_schema

    description = command_schema(RESULT_TYPE)["description"]
    listed = description.split("is one of", 1)[1].rstrip(".")
    return [c.strip() for c in listed.split(",")]


def test_chinese_and_english_have_the_same_keys_and_no_empty_text() -> None:
    en, zh = _table("en"), _table("zh-CN")
    assert set(en) == set(zh)
    assert all(v.strip() for v in [*en.values(), *zh.values()])
    assert sum(1 for k in zh if zh[k] == en[k]) < 10  # translated, not copied (units like °C and % stay)


def test_every_key_the_page_uses_is_in_the_tables() -> None:
    used: set[str] = set()
    for path in (STATIC / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\("([a-z0-9_.]+)"', path.read_text("utf-8")))
    used |= set(re.findall(r'data-i18n(?:-placeholder)?="([a-z0-9_.]+)"', (STATIC / "index.html").read_text("utf-8")))
    for prefix, values in {
        "kind": ["thermal_hotspot", "crowd_gathering", "vehicle"],
        "severity": ["info", "warning", "critical"],
        "state": ["new", "acknowledged", "dispatched", "on_scene", "resolved", "false_alarm", "duplicate"],
        "step": ["acknowledged", "dispatched", "on_scene", "resolved", "false_alarm", "duplicate", "note"],
        "command": ["sent", "accepted", "refused", "en_route", "on_station", "released", "completed", "failed"],
        "layer": ["areas", "no_fly", "heat", "fence", "routes", "tracks", "drones", "alerts"],
        "link": ["online", "offline", "stale", "unknown"],
        "reason": _reason_codes(),
    }.items():
        used |= {f"{prefix}.{v}" for v in values}
    used = {k for k in used if not k.endswith((".", "_"))}  # prefixes of keys built at run time (listed above)
    assert len(used) > 90
    missing = sorted(used - set(_table("en")))
    assert missing == []
