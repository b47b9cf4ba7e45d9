"""Priority without waste: lower-priority areas that lie on the way are flown on the way.

:func:`~drone_patrol.planner.ordering.order_units` visits the areas strictly by
priority group (1 first). That can waste flight: a plaza of priority 3 passed over
between two priority-1 areas is flown only at the end, with a long flight back to
it. Here an area is moved earlier, into the leg between two areas, when

* the whole route gets shorter, and
* no area of higher priority (smaller number) is reached more than ``max_delay_m``
  of flight later than in the strict order (the allowance is the planner's
  ``on_the_way_delay_s`` at cruise speed; 0 keeps the strict order).

Moves are tried greedily, the largest saving first, until none is left. Every
area gets the reason for its place, which the plan's summary reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from drone_patrol.planner.ordering import Variant

XY = tuple[float, float]


@dataclass(frozen=True)
class Placement:
    """Where an area is flown in the route (1 = first) and why there."""

    position: int
    reason: str


def _arrivals(start: XY, units: Sequence[Sequence[Variant]], plan: Sequence[tuple[int, int]]) -> dict[int, float]:
    """Flight (m) from ``start`` to the entry of each unit of ``plan``."""
    here, flown, out = start, 0.0, {}
    for u, v in plan:
        var = units[u][v]
        flown += math.dist(here, var.entry)
        out[u] = flown
        flown += var.length_m
        here = var.exit
    return out


def _length(start: XY, end: XY, units: Sequence[Sequence[Variant]], plan: Sequence[tuple[int, int]]) -> float:
    here, total = start, 0.0
    for u, v in plan:
        var = units[u][v]
        total += math.dist(here, var.entry) + var.length_m
        here = var.exit
    return total + math.dist(here, end)


def on_the_way(
    start: XY,
    end: XY,
    units: Sequence[Sequence[Variant]],
    priorities: Sequence[int],
    names: Sequence[str],
    plan: Sequence[tuple[int, int]],
    max_delay_m: float,
    speed_m_s: float,
) -> tuple[list[tuple[int, int]], dict[int, Placement]]:
    """``plan`` (strict priority order) with lower-priority areas moved onto the way, and each area's reason."""
    strict = _arrivals(start, units, plan)
    current = list(plan)
    moved: dict[int, float] = {}
    for _ in range(len(plan)):
        ends = [start, *(units[u][v].exit for u, v in current)]
        starts = [*(units[u][v].entry for u, v in current), end]
        moves: list[tuple[float, int, int, int]] = []
        for pos, (u, v0) in enumerate(current):
            if all(priorities[w] >= priorities[u] for w, _ in current[:pos]):
                continue  # nothing of higher priority before it: already as early as it can be
            var0 = units[u][v0]
            gain = (
                math.dist(ends[pos], var0.entry)
                + var0.length_m
                + math.dist(var0.exit, starts[pos + 1])
                - math.dist(ends[pos], starts[pos + 1])
            )
            for slot in range(pos):  # between current[slot - 1] and current[slot]
                a, b = ends[slot], starts[slot]
                for v, var in enumerate(units[u]):
                    cost = math.dist(a, var.entry) + var.length_m + math.dist(var.exit, b) - math.dist(a, b)
                    if gain - cost > 1.0:
                        moves.append((gain - cost, pos, slot, v))
        chosen = None
        for saving, pos, slot, v in sorted(moves, reverse=True):
            u = current[pos][0]
            rest = current[:pos] + current[pos + 1 :]
            cand = [*rest[:slot], (u, v), *rest[slot:]]
            arrive = _arrivals(start, units, cand)
            late = [(arrive[w] - strict[w], w) for w, _ in cand if priorities[w] < priorities[u]]
            worst = max(late, default=(0.0, -1))
            if worst[0] > max_delay_m + 1e-6:
                continue
            chosen = (cand, u, saving)
            break
        if chosen is None:
            break
        current, u, saving = chosen
        moved[u] = moved.get(u, 0.0) + saving
    final = _arrivals(start, units, current)
    out: dict[int, Placement] = {}
    for k, (u, _v) in enumerate(current):
        why = f"priority {priorities[u]}"
        if u in moved:
            before = names[current[k - 1][0]] if k > 0 else "home"
            after = names[current[k + 1][0]] if k + 1 < len(current) else "home"
            why += f", flown on the way from {before!r} to {after!r} (saves {moved[u]:.0f} m"
            higher = [(final[w] - strict[w], w) for w, _ in current[k + 1 :] if priorities[w] < priorities[u]]
            lag, w = max(higher, default=(0.0, u))
            if lag > 1e-6:
                why += f"; {names[w]!r} of priority {priorities[w]} reached {lag / speed_m_s:.0f} s later"
            why += ")"
        out[u] = Placement(k + 1, why)
    return current, out
