"""Config loading: defaults, files, environment overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from drone_patrol.core.config import load_config, read_secret
from drone_patrol.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_defaults() -> None:
    s = load_config(None, environ={})
    assert s.planner.altitude_m == 40.0
    assert s.controller.connection.startswith("tcp:")


def test_shipped_configs_load() -> None:
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        load_config(path, environ={})


def test_env_override_nested_and_typed(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("planner:\n  altitude_m: 30\n")
    env = {"DRONE_PATROL_PLANNER__ALTITUDE_M": "55", "DRONE_PATROL_CONTROLLER__FAILSAFE__FS_GCS_TIMEOUT_S": "10"}
    s = load_config(cfg, environ=env)
    assert s.planner.altitude_m == 55.0
    assert s.controller.failsafe.fs_gcs_timeout_s == 10.0


def one_line_error(path: Path | None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=env or {})
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_wrong_type_names_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("planner:\n  altitude_m: high\n")
    msg = one_line_error(cfg)
    assert str(cfg) in msg and "planner.altitude_m" in msg and "'high'" in msg


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("planner:\n  altitude: 30\n")
    msg = one_line_error(cfg)
    assert "planner.altitude: unknown key" in msg


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("plannr: {}\n")
    assert "plannr: unknown key" in one_line_error(cfg)


def test_missing_file(tmp_path: Path) -> None:
    assert "config file not found" in one_line_error(tmp_path / "nope.yaml")


def test_invalid_yaml_and_non_mapping(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("planner: [\n")
    assert "not valid YAML" in one_line_error(cfg)
    cfg.write_text("- 1\n- 2\n")
    assert "expected a mapping" in one_line_error(cfg)


def test_bad_env_override_is_named() -> None:
    msg = one_line_error(None, {"DRONE_PATROL_PLANNER__SPEED_M_S": "fast"})
    assert "environment" in msg and "planner.speed_m_s" in msg


def test_read_secret_env_then_file(tmp_path: Path) -> None:
    f = tmp_path / "secret"
    f.write_text("s3cret\n")
    assert read_secret("X_PW", f, environ={"X_PW": "fromenv"}) == "fromenv"
    assert read_secret("X_PW", f, environ={}) == "s3cret"
    assert read_secret("X_PW", None, environ={}) is None
    with pytest.raises(ConfigError, match="missing: secret file not found"):
        read_secret(None, tmp_path / "missing", environ={})


def test_override_nested_and_validated() -> None:
    from drone_patrol.core.config import override

    s = load_config(None, environ={})
    t = override(s, {"planner": {"altitude_m": 33}, "controller": {"failsafe": {"rtl_alt_m": 40}}})
    assert t.planner.altitude_m == 33 and t.controller.failsafe.rtl_alt_m == 40
    assert t.planner.speed_m_s == s.planner.speed_m_s
    with pytest.raises(ConfigError, match=r"planner\.altitude_m"):
        override(s, {"planner": {"altitude_m": "x"}})


def test_hostile_config_files(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("planner:\n  altitude_m: 30\nplanner:\n  altitude_m: 90\n")
    assert one_line_error(cfg) == f"{cfg}: cannot read config file: not valid YAML at line 3: duplicate key 'planner'"
    for key, section in (("ground_altitude_m", "site"), ("hotspot_threshold_c", "vision")):
        for value in (".nan", ".inf", "-.inf"):
            cfg.write_text(f"{section}:\n  {key}: {value}\n")
            assert one_line_error(cfg).startswith(f"{cfg}: {section}.{key}: expected a finite number")
    cfg.write_text("sim:\n  params:\n    FENCE_RADIUS: .nan\n")
    assert "sim.params.FENCE_RADIUS: expected a finite number" in one_line_error(cfg)
    cfg.write_bytes(b"\xff\xfe" + "planner:\n  altitude_m: 35\n".encode("utf-16-le"))
    assert load_config(cfg, environ={}).planner.altitude_m == 35.0
    cfg.write_bytes(b"planner:\n  altitude_m: \xe9\n")
    assert "not UTF-8 text" in one_line_error(cfg)
    laughs = "    a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"    {n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True)
    )
    cfg.write_text("site:\n  id: hello\nplanner:\n  lol:\n" + laughs)
    msg = one_line_error(cfg)
    assert "aliases expand to more than" in msg and len(msg) < 300
    cfg.write_text("site:\n  id: " + "x" * 100_000 + "\n  drone_id: [" * 1 + "1" * 10 + "]\n")
    assert len(one_line_error(cfg)) < 400


def test_env_errors_name_the_variable() -> None:
    msg = one_line_error(None, {"DRONE_PATROL_PLANNER__ALTITUDE_M": "high"})
    assert msg.startswith("built-in defaults + environment: environment variable DRONE_PATROL_PLANNER__ALTITUDE_M")
    msg = one_line_error(None, {"DRONE_PATROL_VISION__HOTSPOT_THRESHOLD_C": ".nan"})
    assert "DRONE_PATROL_VISION__HOTSPOT_THRESHOLD_C (vision.hotspot_threshold_c): expected a finite number" in msg
    laughs = "[&a [x, x, x, x, x, x, x, x, x, x], " + ", ".join(["*a"] * 10) + "]"
    msg = one_line_error(None, {"DRONE_PATROL_SITE__ID": laughs})
    assert "DRONE_PATROL_SITE__ID" in msg and len(msg) < 300
