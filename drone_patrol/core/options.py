"""Command-line number types: no option of drone-patrol takes NaN or infinity.

``float("nan")`` and ``float("inf")`` parse, and click's ``FLOAT`` and ``FloatRange``
take them (every comparison with NaN is false, so NaN even passes a range). No option
has a use for them: a NaN margin or sweep angle ends in a geometry exception, a NaN
frame rate in frames without times. :func:`finite_options` swaps the float types of a
command (and of its subcommands) for these finite ones; the ``drone-patrol`` group
applies it to every subcommand it loads.
"""

from __future__ import annotations

import math
from typing import Any

import click

__all__ = ["FINITE_FLOAT", "FiniteFloat", "FiniteFloatRange", "finite_options"]


class FiniteFloat(click.types.FloatParamType):
    """A float option that refuses NaN and infinity."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        out = super().convert(value, param, ctx)
        if isinstance(out, float) and not math.isfinite(out):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return out


class FiniteFloatRange(click.FloatRange):
    """A ``click.FloatRange`` that refuses NaN and infinity."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)  # NaN passes a range: every comparison is false
        if isinstance(number, float) and not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


FINITE_FLOAT = FiniteFloat()


def _finite(kind: click.ParamType) -> click.ParamType:
    if isinstance(kind, FiniteFloat | FiniteFloatRange):
        return kind
    if isinstance(kind, click.FloatRange):
        return FiniteFloatRange(kind.min, kind.max, min_open=kind.min_open, max_open=kind.max_open, clamp=kind.clamp)
    if isinstance(kind, click.types.FloatParamType):
        return FINITE_FLOAT
    if isinstance(kind, click.Tuple):
        return click.Tuple([_finite(t) for t in kind.types])
    return kind


def finite_options(command: click.Command) -> click.Command:
    """``command`` with every float option and argument (of it and its subcommands) made finite."""
    for param in command.params:
        param.type = _finite(param.type)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            finite_options(sub)
    return command
