"""Files that ship with drone-patrol: the sample district, its scenarios, the demo config and the model.

In a source checkout they are the repository's own ``flight_plans/``, ``configs/`` and
``models/``; an installed wheel carries copies under ``drone_patrol/_shipped/`` (see
``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
ROOTS = (_PACKAGE.parent, _PACKAGE / "_shipped")


def shipped_file(relative: str | Path) -> Path | None:
    """The shipped file at ``relative`` (e.g. ``"flight_plans/guilin_dongxi_xiang.geojson"``), or None."""
    for root in ROOTS:
        candidate = root / relative
        if candidate.is_file() and _looks_shipped(root):
            return candidate
    return None


def _looks_shipped(root: Path) -> bool:
    # the source tree's parent directory counts only when it is this project's checkout
    return root != _PACKAGE.parent or (root / "pyproject.toml").is_file()
