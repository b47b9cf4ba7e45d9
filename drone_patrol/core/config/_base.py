"""Base model of every configuration section: strict, frozen, unknown keys refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A configuration section: unknown keys are errors, values are validated on load.

    No number of a config is NaN or infinite: ``.nan`` would silently switch a check off
    (every comparison with NaN is false) and ``.inf`` is never a real limit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)
