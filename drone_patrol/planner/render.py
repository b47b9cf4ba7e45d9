"""A PNG map of the planned route over the key areas, drawn with numpy and written with zlib.

Colours: patrol areas green, no-fly zones red, heat sources orange, the geofence
grey outline, each sortie's route in its own colour (blue first), waypoints as dots,
home as a black square. North is up; a 100 m scale bar sits in the lower left.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from drone_patrol.core.errors import PlanningError
from drone_patrol.planner.font import text_mask

Colour = tuple[int, int, int]
ROUTE_COLOURS: tuple[Colour, ...] = ((30, 90, 220), (150, 40, 200), (0, 150, 150), (200, 120, 0))


class Canvas:
    """An RGB image mapped onto a rectangle of local metres."""

    def __init__(self, bounds: tuple[float, float, float, float], max_px: int = 1000, pad_m: float = 20.0) -> None:
        minx, miny, maxx, maxy = bounds
        minx, miny, maxx, maxy = minx - pad_m, miny - pad_m, maxx + pad_m, maxy + pad_m
        self.scale = max_px / max(maxx - minx, maxy - miny, 1.0)
        self.w = max(int((maxx - minx) * self.scale), 50)
        self.h = max(int((maxy - miny) * self.scale), 50)
        self.minx, self.maxy = minx, maxy
        self.img = np.full((self.h, self.w, 3), 255, dtype=np.uint8)

    def px(self, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        """Metres to pixel (column, row) coordinates."""
        out = np.empty_like(xy)
        out[:, 0] = (xy[:, 0] - self.minx) * self.scale
        out[:, 1] = (self.maxy - xy[:, 1]) * self.scale
        return out

    def _blend(self, mask: NDArray[np.bool_], colour: Colour, alpha: float) -> None:
        c = np.array(colour, dtype=np.float64)
        self.img[mask] = (self.img[mask] * (1 - alpha) + c * alpha).astype(np.uint8)

    def fill(self, geom: BaseGeometry, colour: Colour, alpha: float = 0.35) -> None:
        """Fill polygons (even-odd over all rings, so holes stay clear)."""
        for poly in _polygons(geom):
            edges = []
            for ring in (poly.exterior, *poly.interiors):
                p = self.px(np.asarray(ring.coords, dtype=np.float64))
                edges.append(np.column_stack([p[:-1], p[1:]]))
            e = np.vstack(edges)
            rows = np.arange(self.h) + 0.5
            y0, y1 = e[:, 1][None, :], e[:, 3][None, :]
            r = rows[:, None]
            crosses = (y0 <= r) != (y1 <= r)
            with np.errstate(divide="ignore", invalid="ignore"):
                x = e[:, 0][None, :] + (r - y0) * (e[:, 2] - e[:, 0])[None, :] / (y1 - y0)
            x = np.where(crosses, x, np.inf)
            cols = np.arange(self.w) + 0.5
            mask = np.zeros((self.h, self.w), dtype=bool)
            for i in range(self.h):
                xs = np.sort(x[i][np.isfinite(x[i])])
                if xs.size:
                    count = np.searchsorted(xs, cols)
                    mask[i] = count % 2 == 1
            self._blend(mask, colour, alpha)
            for ring in (poly.exterior, *poly.interiors):
                self.line(np.asarray(ring.coords), colour, 1)

    def line(self, coords: Iterable[Sequence[float]], colour: Colour, width: int = 2) -> None:
        """A polyline ``width`` pixels wide."""
        pts = self.px(np.asarray(list(coords), dtype=np.float64).reshape(-1, 2))
        for a, b in itertools.pairwise(pts):
            n = max(int(np.hypot(*(b - a)) * 2), 1)
            t = np.linspace(0.0, 1.0, n + 1)[:, None]
            self._stamp(a + (b - a) * t, colour, width)

    def dots(self, coords: Iterable[Sequence[float]], colour: Colour, size: int = 3) -> None:
        """Square dots of ``size`` pixels."""
        pts = self.px(np.asarray(list(coords), dtype=np.float64).reshape(-1, 2))
        self._stamp(pts, colour, size)

    def _stamp(self, pts: NDArray[np.float64], colour: Colour, size: int) -> None:
        half = size // 2
        for dx in range(-half, size - half):
            for dy in range(-half, size - half):
                c = np.round(pts[:, 0]).astype(int) + dx
                r = np.round(pts[:, 1]).astype(int) + dy
                ok = (c >= 0) & (c < self.w) & (r >= 0) & (r < self.h)
                self.img[r[ok], c[ok]] = colour

    def text(
        self, xy_m: tuple[float, float] | None, label: str, colour: Colour, px: tuple[int, int] | None = None
    ) -> None:
        """``label`` centred on ``xy_m`` (metres), or with its top-left corner at pixel ``px``; on a light box."""
        mask = text_mask(label)
        h, w = mask.shape
        if px is None:
            assert xy_m is not None
            c = self.px(np.array([xy_m], dtype=np.float64))[0]
            col, row = int(c[0]) - w // 2, int(c[1]) - h // 2
        else:
            col, row = px
        r0, c0 = max(row - 1, 0), max(col - 1, 0)
        r1, c1 = min(row + h + 1, self.h), min(col + w + 1, self.w)
        if r1 <= r0 or c1 <= c0:
            return
        box_region = self.img[r0:r1, c0:c1]
        box_region[:] = (box_region * 0.3 + 255 * 0.7).astype(np.uint8)
        padded = np.pad(mask, 1)
        sub = padded[r0 - (row - 1) : r1 - (row - 1), c0 - (col - 1) : c1 - (col - 1)]
        box_region[sub] = colour

    def scale_bar(self, metres: float = 100.0) -> None:
        """A black bar of ``metres`` in the lower left corner."""
        length = int(metres * self.scale)
        y = self.h - 12
        self.img[y : y + 4, 10 : 10 + min(length, self.w - 20)] = 0
        self.text(None, f"{metres:g} M", (0, 0, 0), (12 + min(length, self.w - 60), y - 4))

    def png(self) -> bytes:
        """The image as PNG bytes (8-bit RGB, no interlace)."""
        raw = b"".join(b"\x00" + self.img[i].tobytes() for i in range(self.h))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
        )


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    return [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and not g.is_empty]


def render_plan_png(
    path: str | Path,
    patrol_m: Sequence[BaseGeometry],
    nofly_m: BaseGeometry,
    heat_m: Sequence[BaseGeometry],
    routes_m: Sequence[LineString],
    fence_m: BaseGeometry | None = None,
    max_px: int = 1000,
    labels: Sequence[tuple[str, BaseGeometry]] = (),
) -> Path:
    """Draw the plan (all geometries in local metres, home at the origin) and write it as a PNG.

    ``labels`` are (text, geometry) pairs written at each geometry's representative point.
    """
    shapes = [*patrol_m, *routes_m, nofly_m] + ([fence_m] if fence_m is not None else [])
    bounds = np.array([g.bounds for g in shapes if not g.is_empty])
    if bounds.size == 0:
        raise PlanningError("nothing to draw")
    canvas = Canvas((bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()), max_px)
    if fence_m is not None:
        for poly in _polygons(fence_m):
            canvas.line(poly.exterior.coords, (120, 120, 120), 1)
    for g in patrol_m:
        if isinstance(g, LineString):
            canvas.line(g.coords, (40, 170, 60), 3)
        else:
            canvas.fill(g, (40, 170, 60), 0.3)
    canvas.fill(nofly_m, (220, 30, 30), 0.45)
    for g in heat_m:
        canvas.fill(g, (255, 140, 0), 0.8)
    for k, route in enumerate(routes_m):
        colour = ROUTE_COLOURS[k % len(ROUTE_COLOURS)]
        canvas.line(route.coords, colour, 2)
        canvas.dots(route.coords, colour, 5)
    canvas.dots([(0.0, 0.0)], (0, 0, 0), 9)
    home = canvas.px(np.array([[0.0, 0.0]]))[0]
    canvas.text(None, "HOME", (0, 0, 0), (int(home[0]) - 15, int(home[1]) + 8))
    for text, geom in labels:
        p = geom.representative_point()
        canvas.text((p.x, p.y), text, (20, 60, 20))
    for k in range(len(routes_m)):
        canvas.text(None, f"SORTIE {k + 1}", ROUTE_COLOURS[k % len(ROUTE_COLOURS)], (10, 10 + 16 * k))
    canvas.scale_bar()
    p = Path(path)
    p.write_bytes(canvas.png())
    return p
