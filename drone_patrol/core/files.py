"""Reading the files users hand us, with the one-line errors the CLI prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drone_patrol.core.errors import DronePatrolError


def read_user_text(path: str | Path, what: str, error: type[DronePatrolError], encoding: str = "utf-8-sig") -> str:
    """The text of ``path``; ``error`` naming the file and ``what`` it should be when it cannot be read."""
    p = Path(path)
    try:
        return p.read_text(encoding=encoding)
    except FileNotFoundError:
        raise error(f"{p}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{p}: cannot read {what} ({exc})") from None


def read_user_json(path: str | Path, what: str, error: type[DronePatrolError]) -> Any:
    """The JSON document in ``path``; ``error`` with the line and column of a syntax error."""
    text = read_user_text(path, what, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise error(f"{path}: cannot read {what}: not valid JSON ({where}: {exc.msg})") from None
