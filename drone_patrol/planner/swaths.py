"""Order individual swath pieces: which piece next, entered at which end.

A coverage route is a sequence of straight swath pieces (one piece of one sweep
line each), every piece flown whole in one of its two directions, with a transit
leg from each piece's exit to the next piece's entry. Its length is the pieces'
lengths (fixed) plus the transits, so the problem is a travelling-salesman tour
over the pieces where each piece is a fixed edge between its two end nodes (a
generalised TSP over the graph of entry/exit ends and transits).

It is solved by local search on that graph: a nearest-neighbour start, then 2-opt
(reversing a run of pieces, which also flips each piece's direction), or-opt
(moving a chain of one to three pieces elsewhere, either way round) and single
piece flips until no move shortens the route, followed by a few deterministic
double-bridge perturbations that are kept only when the descent after them ends
shorter. Every move's gain is computed for all positions at once with numpy. The
search is deterministic: the same pieces always give the same route.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

XY = tuple[float, float]
#: distances between every pair of the given points (a square, symmetric matrix)
PairMetric = Callable[[np.ndarray], np.ndarray]

_EPS = 1e-6
_FAR = 1e12  # "never": no transit into the start or out of the end


def _euclid(pts: np.ndarray) -> np.ndarray:
    return np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])


@functools.cache
def _lower(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(n, -1)


@functools.cache
def _own_edges(n: int, length: int) -> np.ndarray:
    """Mask of (chain start i - 1, edge p) where edge p touches the chain itself."""
    i = np.arange(1, n - length + 2)[:, None]
    p = np.arange(n + 1)[None, :]
    return (p >= i - 1) & (p <= i + length - 1)


class _Tour:
    """A tour as piece ids and directions, with depot nodes ``2n`` (start) and ``2n + 1`` (end)."""

    def __init__(self, d: np.ndarray, order: list[int], flip: list[bool]) -> None:
        self.d = d
        self.n = len(order)
        self.order = order
        self.flip = flip
        self.refresh()

    def refresh(self) -> None:
        n = self.n
        o = np.asarray(self.order, dtype=np.int64)
        f = np.asarray(self.flip, dtype=np.int64)
        # entry / exit node of the piece at each position; position 0 is the start, n + 1 the end
        e = np.empty(n + 2, dtype=np.int64)
        x = np.empty(n + 2, dtype=np.int64)
        e[1 : n + 1] = 2 * o + f
        x[1 : n + 1] = 2 * o + 1 - f
        x[0] = e[0] = 2 * n
        e[n + 1] = x[n + 1] = 2 * n + 1
        self.entry, self.exit = e, x
        # distances by position: exit -> entry, exit -> exit, entry -> entry
        self.xe = self.d[x[:, None], e[None, :]]
        self.xx = self.d[x[:, None], x[None, :]]
        self.ee = self.d[e[:, None], e[None, :]]
        self.edge = self.xe[np.arange(n + 1), np.arange(1, n + 2)]  # edge k: position k -> k + 1

    def cost(self) -> float:
        return float(self.edge.sum())

    def _best_two_opt(self) -> tuple[float, int, int]:
        """The best reversal of positions i..j (1 <= i <= j <= n): (gain < 0 is better, i, j)."""
        n, c = self.n, self.edge
        delta = self.xx[:n, 1 : n + 1] + self.ee[1 : n + 1, 2 : n + 2]
        delta -= c[:n, None] + c[None, 1 : n + 1]
        delta[_lower(n)] = np.inf  # rows i - 1, columns j - 1: only j >= i
        k = int(np.argmin(delta))
        i, j = divmod(k, n)
        return float(delta[i, j]), i + 1, j + 1

    def _best_or_opt(self, length: int) -> tuple[float, int, int, bool]:
        """The best move of the chain at positions i..i+length-1 to after position p (maybe reversed)."""
        n, c = self.n, self.edge
        m = n - length + 1
        if m < 1 or n - length < 1:
            return np.inf, 0, 0, False
        # chain i = 1..m ends at j = i + length - 1 = length..n; insertion edges p = 0..n
        gain = c[:m] + c[length : n + 1] - self.xe[np.arange(m), np.arange(length + 1, n + 2)]
        cp = c[None, : n + 1]
        fwd = self.xe[: n + 1, 1 : m + 1].T + self.xe[length : n + 1, 1 : n + 2] - cp
        rev = self.xx[: n + 1, length : n + 1].T + self.ee[1 : m + 1, 1 : n + 2] - cp
        best = np.minimum(fwd, rev) - gain[:, None]
        best[_own_edges(n, length)] = np.inf
        k = int(np.argmin(best))
        r, q = divmod(k, n + 1)
        return float(best[r, q]), r + 1, q, bool(rev[r, q] < fwd[r, q])

    def _reverse(self, i: int, j: int) -> None:
        self.order[i - 1 : j] = self.order[i - 1 : j][::-1]
        self.flip[i - 1 : j] = [not f for f in self.flip[i - 1 : j][::-1]]

    def _move(self, i: int, length: int, p: int, reverse: bool) -> None:
        j = i + length - 1
        chain_o, chain_f = self.order[i - 1 : j], self.flip[i - 1 : j]
        if reverse:
            chain_o, chain_f = chain_o[::-1], [not f for f in chain_f[::-1]]
        rest_o = self.order[: i - 1] + self.order[j:]
        rest_f = self.flip[: i - 1] + self.flip[j:]
        at = p if p < i else p - length  # pieces before the insertion edge, in the rest
        self.order = rest_o[:at] + chain_o + rest_o[at:]
        self.flip = rest_f[:at] + chain_f + rest_f[at:]

    def descend(self, max_moves: int) -> None:
        """Apply the best 2-opt or or-opt move (chains of 1 to 3) until none shortens the tour."""
        for _ in range(max_moves):
            best = self._best_two_opt()
            move: tuple[str, tuple[int, ...]] = ("2opt", (best[1], best[2]))
            gain = best[0]
            for length in (1, 2, 3):
                g, i, p, rev = self._best_or_opt(length)
                if g < gain:
                    gain, move = g, ("or", (i, length, p, int(rev)))
            if gain >= -_EPS:
                return
            if move[0] == "2opt":
                self._reverse(*move[1])
            else:
                at, size, to, back = move[1]
                self._move(at, size, to, bool(back))
            self.refresh()

    def copy(self) -> _Tour:
        return _Tour(self.d, list(self.order), list(self.flip))


def _nearest_neighbour(d: np.ndarray, n: int) -> tuple[list[int], list[bool]]:
    left = np.ones(n, dtype=bool)
    here = 2 * n
    order: list[int] = []
    flip: list[bool] = []
    for _ in range(n):
        row = d[here, : 2 * n].copy()
        row[np.repeat(~left, 2)] = np.inf
        node = int(np.argmin(row))
        piece, reverse = divmod(node, 2)
        order.append(piece)
        flip.append(bool(reverse))
        left[piece] = False
        here = 2 * piece + 1 - reverse
    return order, flip


def order_swaths(
    pieces: Sequence[tuple[XY, XY]],
    start: XY,
    end: XY | None,
    metric: PairMetric | None = None,
    perturbations: int = 8,
) -> list[tuple[int, bool]]:
    """The order in which to fly ``pieces`` from ``start`` (to ``end``; open when None).

    Returns (piece index, reversed) pairs: a reversed piece is flown from its second
    point to its first. ``metric`` gives the transit length between points (e.g.
    around no-fly zones); straight lines otherwise.
    """
    n = len(pieces)
    if n == 0:
        return []
    ends = np.asarray([p for ab in pieces for p in ab] + [start, end if end is not None else start], dtype=float)
    d = metric(ends) if metric is not None else _euclid(ends)
    d = np.array(d, dtype=float)
    if end is None:
        d[:, 2 * n + 1] = 0.0  # an open route: the last piece may end anywhere
    d[2 * n + 1, :] = _FAR
    d[:, 2 * n] = _FAR
    best = _Tour(d, *_nearest_neighbour(d, n))
    best.descend(50 * n + 100)
    if n >= 8:
        rng = np.random.default_rng(n)
        for _ in range(perturbations):
            cand = best.copy()
            a, b, c = sorted(int(v) for v in rng.choice(np.arange(1, n), size=3, replace=False))
            # double bridge: A B C D -> A C B D (no reversal, so no 2-opt move undoes it)
            cand.order = cand.order[:a] + cand.order[b:c] + cand.order[a:b] + cand.order[c:]
            cand.flip = cand.flip[:a] + cand.flip[b:c] + cand.flip[a:b] + cand.flip[c:]
            cand.refresh()
            cand.descend(50 * n + 100)
            if cand.cost() < best.cost() - _EPS:
                best = cand
    return list(zip(best.order, best.flip, strict=True))


def tour_length(pieces: Sequence[tuple[XY, XY]], plan: Sequence[tuple[int, bool]], start: XY, end: XY | None) -> float:
    """Straight-line length of flying ``plan`` from ``start`` (to ``end``), pieces included."""
    here, total = start, 0.0
    for i, rev in plan:
        a, b = pieces[i][::-1] if rev else pieces[i]
        total += float(np.hypot(a[0] - here[0], a[1] - here[1]) + np.hypot(b[0] - a[0], b[1] - a[1]))
        here = b
    if end is not None:
        total += float(np.hypot(end[0] - here[0], end[1] - here[1]))
    return total
