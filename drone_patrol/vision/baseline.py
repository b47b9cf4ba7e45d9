"""The heat baseline of a site: where heat is seen night after night, and how hot it usually gets.

A grid (``cell_m`` square cells in a local frame around the site origin) of the peak
temperature seen in each cell on each of the last ``max_patrols`` patrols. A hot spot
is *baseline heat* when cells within reach of it held heat on at least ``min_patrols``
of those patrols and it is not more than ``excess_c`` hotter than the hottest peak
they recorded. Saved as JSON (atomically, so a crash never leaves half a file).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drone_patrol.core.errors import InputError
from drone_patrol.core.files import AtomicText, read_user_json
from drone_patrol.core.geo import LocalFrame
from drone_patrol.core.types import GeoPoint

FORMAT = "drone-patrol-heat-baseline"


@dataclass(frozen=True)
class HeatObservation:
    """One hot thing seen on a patrol."""

    latitude_deg: float
    longitude_deg: float
    peak_c: float


class HeatBaseline:
    """Peak temperature per grid cell over the last patrols of one site."""

    def __init__(
        self,
        site: str,
        origin: GeoPoint,
        cell_m: float = 2.0,
        max_patrols: int = 10,
        min_patrols: int = 1,
        excess_c: float = 80.0,
    ) -> None:
        if cell_m <= 0 or max_patrols < 1 or min_patrols < 1:
            raise ValueError("cell_m must be > 0, max_patrols and min_patrols >= 1")
        self.site = site
        self.origin = origin
        self.cell_m = cell_m
        self.max_patrols = max_patrols
        self.min_patrols = min_patrols
        self.excess_c = excess_c
        self.frame = LocalFrame(GeoPoint(origin.latitude_deg, origin.longitude_deg, 0.0))
        #: one dict per patrol, oldest first: {"time_s": float, "cells": {(i, j): peak_c}}
        self.patrols: list[dict[str, Any]] = []

    # queries -------------------------------------------------------------------------------------------------

    def _cell(self, east_m: float, north_m: float) -> tuple[int, int]:
        return math.floor(east_m / self.cell_m), math.floor(north_m / self.cell_m)

    def usual_peak_c(self, latitude_deg: float, longitude_deg: float, reach_m: float = 0.0) -> float | None:
        """The hottest recorded peak of cells within ``reach_m`` of a point that held heat on enough patrols."""
        if not self.patrols:
            return None
        e, n = (float(v) for v in self.frame.lonlat_to_en([(longitude_deg, latitude_deg)])[0])
        r = max(1, math.ceil((reach_m + self.cell_m / 2) / self.cell_m))
        ci, cj = self._cell(e, n)
        best: float | None = None
        for i in range(ci - r, ci + r + 1):
            for j in range(cj - r, cj + r + 1):
                peaks = [p["cells"][(i, j)] for p in self.patrols if (i, j) in p["cells"]]
                if len(peaks) >= self.min_patrols:
                    m = max(peaks)
                    best = m if best is None else max(best, m)
        return best

    def explains(self, latitude_deg: float, longitude_deg: float, peak_c: float, reach_m: float = 0.0) -> bool:
        """True when a hot spot of ``peak_c`` at this place is the site's usual heat."""
        usual = self.usual_peak_c(latitude_deg, longitude_deg, reach_m)
        return usual is not None and peak_c <= usual + self.excess_c

    # learning ------------------------------------------------------------------------------------------------

    def update_from_patrol(self, observations: Iterable[HeatObservation], time_s: float) -> int:
        """Add one patrol's hot observations (keeping the last ``max_patrols``); returns the cells it marked."""
        cells: dict[tuple[int, int], float] = {}
        for ob in observations:
            e, n = (float(v) for v in self.frame.lonlat_to_en([(ob.longitude_deg, ob.latitude_deg)])[0])
            key = self._cell(e, n)
            cells[key] = max(cells.get(key, -math.inf), float(ob.peak_c))
        self.patrols.append({"time_s": float(time_s), "cells": cells})
        del self.patrols[: -self.max_patrols]
        return len(cells)

    # files ---------------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The document :meth:`save` writes."""
        return {
            "format": FORMAT,
            "version": 1,
            "site": self.site,
            "origin": [self.origin.longitude_deg, self.origin.latitude_deg],
            "cell_m": self.cell_m,
            "max_patrols": self.max_patrols,
            "min_patrols": self.min_patrols,
            "excess_c": self.excess_c,
            "patrols": [
                {"time_s": p["time_s"], "cells": [[i, j, round(v, 2)] for (i, j), v in sorted(p["cells"].items())]}
                for p in self.patrols
            ],
        }

    def save(self, path: str | Path) -> Path:
        """Write the baseline to ``path`` atomically (an existing file stays whole until the new one is in place)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        out = AtomicText(p, "thermal baseline", InputError)
        try:
            json.dump(self.to_json(), out.file)
            out.file.write("\n")
        except BaseException:
            out.discard()
            raise
        return out.commit()

    @classmethod
    def load(cls, path: str | Path) -> HeatBaseline:
        """Read a baseline file; raises :class:`InputError` naming the file and field at fault."""
        p = Path(path)
        doc = read_user_json(p, "heat baseline", InputError)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError(f"{p}: not a heat baseline (expected format {FORMAT!r})")
        try:
            lon, lat = (float(v) for v in doc["origin"])
            base = cls(
                str(doc["site"]),
                GeoPoint(lat, lon),
                float(doc.get("cell_m", 2.0)),
                int(doc.get("max_patrols", 10)),
                int(doc.get("min_patrols", 1)),
                float(doc.get("excess_c", 80.0)),
            )
            for patrol in doc["patrols"]:
                cells = {(int(i), int(j)): float(v) for i, j, v in patrol["cells"]}
                base.patrols.append({"time_s": float(patrol["time_s"]), "cells": cells})
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{p}: malformed heat baseline ({type(exc).__name__}: {exc})") from None
        return base

    @classmethod
    def load_or_new(cls, path: str | Path, site: str, origin: GeoPoint, **kwargs: Any) -> HeatBaseline:
        """Load ``path`` if it exists, else start an empty baseline for the site."""
        return cls.load(path) if Path(path).exists() else cls(site, origin, **kwargs)
