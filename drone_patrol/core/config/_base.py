"""Base model of every configuration section: strict, frozen, unknown keys refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A configuration section: unknown keys are errors, values are validated on load."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
