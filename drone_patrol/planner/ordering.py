"""Ordering of route units (patrol areas, or the cells of one area), each with entry/exit variants.

A unit is flown by one of its variants (a path with its own entry and exit, e.g. a
lawnmower entered at one of four corners). Units are visited by priority group
(1 first); inside a group the order starts nearest-neighbour and is improved with
2-opt and or-opt moves, and for every tried order the variants are chosen exactly by
dynamic programming over the chain (so a unit's entry and direction are chosen
together with the order). Distances are straight lines unless a ``metric`` is given
(the planner passes path lengths around the no-fly zones); the nearest-neighbour
start uses straight lines.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

XY = tuple[float, float]
#: distances from every point of the first list to every point of the second
Metric = Callable[[Sequence[XY], Sequence[XY]], list[list[float]]]


@dataclass(frozen=True)
class Variant:
    """One way to fly a unit: its path (entry first, exit last) and the path's length."""

    points: tuple[XY, ...]
    length_m: float

    @property
    def entry(self) -> XY:
        """Where this variant starts."""
        return self.points[0]

    @property
    def exit(self) -> XY:
        """Where this variant ends."""
        return self.points[-1]


class _Table:
    """Pre-computed straight-line distances between every variant's exit and every variant's entry.

    Kept per pair of units as small numpy blocks, so that one step of the chain
    (best cost per variant of the next unit) is one vectorised minimum.
    """

    def __init__(
        self, start: XY, end: XY | None, units: Sequence[Sequence[Variant]], metric: Metric | None = None
    ) -> None:
        self.ids: list[list[int]] = []
        flat: list[Variant] = []
        for vs in units:
            self.ids.append(list(range(len(flat), len(flat) + len(vs))))
            flat.extend(vs)
        entries = np.array([v.entry for v in flat], dtype=float).reshape(-1, 2)
        exits = np.array([v.exit for v in flat], dtype=float).reshape(-1, 2)
        length = np.array([v.length_m for v in flat], dtype=float)
        between = np.hypot(exits[:, None, 0] - entries[None, :, 0], exits[:, None, 1] - entries[None, :, 1])
        from_start = np.hypot(entries[:, 0] - start[0], entries[:, 1] - start[1])
        to_end = np.hypot(exits[:, 0] - end[0], exits[:, 1] - end[1]) if end is not None else np.zeros(len(flat))
        spans = [slice(ids[0], ids[-1] + 1) if ids else slice(0, 0) for ids in self.ids]
        self.length = [length[sp] for sp in spans]
        self.first = [from_start[sp] + length[sp] for sp in spans]
        self.last = [to_end[sp] for sp in spans]
        # block[u][w][j, k]: from variant j of unit u to variant k of unit w, plus the length of the latter
        self.block = [[between[su, sw] + length[sw][None, :] for sw in spans] for su in spans]

    def _step(self, cost: np.ndarray, prev_u: int, u: int) -> np.ndarray:
        return (cost[:, None] + self.block[prev_u][u]).min(axis=0)

    def forward(self, order: Sequence[int]) -> list[np.ndarray]:
        """Best cost to have flown each prefix of ``order``, per variant of its last unit."""
        cost = self.first[order[0]]
        out = [cost]
        for prev_u, u in itertools.pairwise(order):
            cost = self._step(cost, prev_u, u)
            out.append(cost)
        return out

    def cost_from(self, order: Sequence[int], i: int, fwd: list[np.ndarray], bound: float) -> float:
        """Total cost of ``order`` whose first ``i`` units match the order ``fwd`` was computed for;
        ``inf`` as soon as the partial cost reaches ``bound`` (costs only grow)."""
        if i == 0:
            cost = self.first[order[0]]
            i = 1
        else:
            cost = fwd[i - 1]
        for k in range(i, len(order)):
            cost = self._step(cost, order[k - 1], order[k])
            if cost.min() >= bound:
                return math.inf
        return float((cost + self.last[order[-1]]).min())

    def chain(self, order: Sequence[int]) -> tuple[float, list[int]]:
        """Optimal variant per unit for a fixed order: (total length, variant indices within units)."""
        cost = self.first[order[0]]
        back: list[np.ndarray] = []
        for prev_u, u in itertools.pairwise(order):
            total = cost[:, None] + self.block[prev_u][u]
            back.append(total.argmin(axis=0))
            cost = total.min(axis=0)
        totals = cost + self.last[order[-1]]
        j = int(totals.argmin())
        best = float(totals[j])
        chosen = [j]
        for step in reversed(back):
            j = int(step[j])
            chosen.append(j)
        chosen.reverse()
        return best, chosen


def _nearest_neighbour(start: XY, units: Sequence[Sequence[Variant]], members: list[int]) -> tuple[list[int], XY]:
    left = list(members)
    here = start
    order: list[int] = []
    while left:
        best = min(left, key=lambda u: min(math.dist(here, v.entry) for v in units[u]))
        v = min(units[best], key=lambda v: math.dist(here, v.entry))
        order.append(best)
        here = v.exit
        left.remove(best)
    return order, here


def order_units(
    start: XY,
    end: XY,
    units: Sequence[Sequence[Variant]],
    priorities: Sequence[int],
    *,
    return_to_end: bool = True,
    max_passes: int = 6,
    metric: Metric | None = None,
) -> list[tuple[int, int]]:
    """The visiting order as (unit index, variant index) pairs, from ``start`` (and back to ``end``)."""
    if not units:
        return []
    groups = [[u for u in range(len(units)) if priorities[u] == p] for p in sorted(set(priorities))]
    order: list[int] = []
    here = start
    bounds: list[tuple[int, int]] = []
    for members in groups:
        part, here = _nearest_neighbour(here, units, members)
        bounds.append((len(order), len(order) + len(part)))
        order.extend(part)
    table = _Table(start, end if return_to_end else None, units, metric)
    best, chosen = table.chain(order)
    for _ in range(max_passes):
        improved = False
        for lo, hi in bounds:
            for i in range(lo, hi - 1):
                fwd = table.forward(order)
                for j in range(i + 1, hi):
                    cand = order[:i] + order[i : j + 1][::-1] + order[j + 1 :]
                    c = table.cost_from(cand, i, fwd, best - 1e-6)
                    if c < best - 1e-6:
                        best, order, improved = c, cand, True
                        fwd = table.forward(order)
            for i in range(lo, hi):
                fwd = table.forward(order)
                for j in range(lo, hi):
                    if i == j:
                        continue
                    cand = list(order)
                    cand.insert(j, cand.pop(i))
                    c = table.cost_from(cand, min(i, j), fwd, best - 1e-6)
                    if c < best - 1e-6:
                        best, order, improved = c, cand, True
                        fwd = table.forward(order)
                        break
        if not improved:
            break
    best, chosen = table.chain(order)
    return list(zip(order, chosen, strict=True))


def route_length(
    start: XY, end: XY | None, units: Sequence[Sequence[Variant]], plan: Sequence[tuple[int, int]]
) -> float:
    """Straight-line length of a plan from ``start`` through every chosen variant (to ``end``)."""
    here, total = start, 0.0
    for u, v in plan:
        var = units[u][v]
        total += math.dist(here, var.entry) + var.length_m
        here = var.exit
    return total + (math.dist(here, end) if end else 0.0)
