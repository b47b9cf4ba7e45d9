"""Configuration: YAML files in ``configs/`` validated with pydantic, with environment overrides.

Every key can be overridden by an environment variable
``DRONE_PATROL_<SECTION>__<KEY>`` (nested keys joined by ``__``, case-insensitive);
the value is parsed as a YAML scalar, so ``40``, ``true`` and ``[1, 2]`` keep their
types. Problems are reported as one :class:`ConfigError` naming the file, the key
and what was expected.

Each section's model lives in its own module beside this one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drone_patrol.core.config._base import Section
from drone_patrol.core.config.alerts import AlertsConfig
from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.core.config.controller import ControllerConfig, FailsafeConfig
from drone_patrol.core.config.dashboard import DashboardConfig
from drone_patrol.core.config.planner import EnduranceConfig, PlannerConfig
from drone_patrol.core.config.service import ServiceConfig
from drone_patrol.core.config.sim import SimConfig
from drone_patrol.core.config.site import SiteConfig
from drone_patrol.core.config.vision import VisionConfig
from drone_patrol.core.errors import ConfigError
from drone_patrol.core.files import MAX_NESTING, excerpt, parse_user_yaml, read_user_text, read_user_yaml

__all__ = [
    "SIMPLE_ENV_PREFIX",
    "AlertsConfig",
    "CameraConfig",
    "ControllerConfig",
    "DashboardConfig",
    "EnduranceConfig",
    "FailsafeConfig",
    "PlannerConfig",
    "ServiceConfig",
    "Settings",
    "SimConfig",
    "SiteConfig",
    "VisionConfig",
    "load_config",
    "override",
    "read_secret",
]

SIMPLE_ENV_PREFIX = "DRONE_PATROL_"
_MAX_CONFIG_BYTES = 1024 * 1024


class Settings(Section):
    """The whole configuration, one attribute per section."""

    site: SiteConfig = SiteConfig()
    camera: CameraConfig = CameraConfig()
    planner: PlannerConfig = PlannerConfig()
    controller: ControllerConfig = ControllerConfig()
    sim: SimConfig = SimConfig()
    vision: VisionConfig = VisionConfig()
    alerts: AlertsConfig = AlertsConfig()
    service: ServiceConfig = ServiceConfig()
    dashboard: DashboardConfig = DashboardConfig()


def override(settings: Settings, updates: Mapping[str, Any]) -> Settings:
    """A copy of ``settings`` with nested ``updates`` ({section: {key: value}}) applied and validated."""
    try:
        return Settings.model_validate(_merge(settings.model_dump(), updates))
    except ValidationError as exc:
        raise ConfigError(f"override: {_describe(exc.errors()[0])}") from None


def _env_overrides(environ: Mapping[str, str], names: dict[tuple[str, ...], str] | None = None) -> dict[str, Any]:
    """Nested dict of the ``DRONE_PATROL_<SECTION>__<KEY>`` variables in ``environ``.

    ``names``, when given, receives the variable that set each key path.
    """
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.upper().startswith(SIMPLE_ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower() for p in name[len(SIMPLE_ENV_PREFIX) :].split("__")]
        if not all(path):
            raise ConfigError(f"environment variable {name}: empty key in name")
        if len(path) > MAX_NESTING:
            raise ConfigError(f"environment variable {excerpt(name)}: nested deeper than {MAX_NESTING} keys")
        if raw == "":
            value = None
        else:
            try:
                value = parse_user_yaml(raw, f"environment variable {name}", "value", ConfigError)
            except ConfigError as exc:
                if "not valid YAML" not in str(exc):
                    raise
                value = raw
        if names is not None:
            names[tuple(path)] = name
        node = tree
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {key} is both a value and a section")
            node = child
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _describe(error: Mapping[str, Any], env_names: Mapping[tuple[str, ...], str] | None = None) -> str:
    loc = tuple(str(p) for p in error.get("loc", ()))
    key = ".".join(loc) or "(top level)"
    # A key set from the environment is named by its variable, which is what the user typed.
    for n in range(len(loc), 0, -1):
        variable = (env_names or {}).get(loc[:n])
        if variable is not None:
            key = f"environment variable {variable} ({key})"
            break
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"{key}: unknown key"
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "finite_number":
        return f"{key}: expected a finite number (got {excerpt(error.get('input'))})"
    msg = excerpt(error.get("msg", "invalid value"), 160)
    return f"{key}: {msg.strip(chr(39))} (got {excerpt(error.get('input'))})"


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load ``path`` (YAML; ``None`` for the built-in defaults) and apply environment overrides.

    Raises :class:`ConfigError` with a one-line message naming the file and key.
    """
    env = os.environ if environ is None else environ
    source = str(path) if path is not None else "built-in defaults"
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        loaded = read_user_yaml(p, "config file", ConfigError, max_bytes=_MAX_CONFIG_BYTES)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: expected a mapping of sections at the top level, got {type(loaded).__name__}")
        data = loaded
    env_names: dict[tuple[str, ...], str] = {}
    overrides = _env_overrides(env, env_names)
    if overrides:
        source += " + environment"
        data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = _describe(errors[0], env_names)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ConfigError(f"{source}: {first}{more}") from None


def read_secret(env_name: str | None, file_path: Path | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Return a secret from the environment variable ``env_name`` or else from ``file_path``.

    The file's trailing newline is stripped. ``None`` when neither gives one.
    """
    env = os.environ if environ is None else environ
    if env_name and env.get(env_name):
        return env[env_name]
    if file_path is not None:
        return read_user_text(file_path, "secret file", ConfigError, max_bytes=64 * 1024).rstrip("\r\n")
    return None
