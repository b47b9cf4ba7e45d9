"""The scenario world at a moment: where the people are and which objects are present."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from drone_patrol.sim.thermal.scenario import Scenario, ScenarioObject


@dataclass(frozen=True)
class People:
    """Everyone present at one moment: positions (N, 2) east/north, headings, owner object and member index."""

    en_m: NDArray[np.float64]
    heading_deg: NDArray[np.float64]
    owner: NDArray[np.int64]  # index of the person or crowd object
    member: NDArray[np.int64]  # member number within a crowd (0 for a lone person)
    clothing_c: NDArray[np.float64]


def _along_path(points: NDArray[np.float64], distance_m: float) -> tuple[NDArray[np.float64], float]:
    """Position and heading after walking ``distance_m`` back and forth along a polyline."""
    seg = np.diff(points, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    total = float(lengths.sum())
    if total <= 0:
        return points[0], 0.0
    d = distance_m % (2 * total)
    backwards = d > total
    if backwards:
        d = 2 * total - d
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    k = min(int(np.searchsorted(cum, d, side="right")) - 1, len(lengths) - 1)
    frac = (d - cum[k]) / lengths[k] if lengths[k] > 0 else 0.0
    pos = points[k] + frac * seg[k]
    heading = math.degrees(math.atan2(seg[k, 0], seg[k, 1])) + (180.0 if backwards else 0.0)
    return pos, heading % 360.0


class World:
    """Time-dependent state of a scenario; deterministic from ``seed``."""

    def __init__(self, scenario: Scenario, seed: int = 1) -> None:
        self.scenario = scenario
        self.seed = seed
        self._crowd_offsets = {o.index: o.crowd_offsets_m(seed) for o in scenario.objects if o.role == "crowd"}
        self._phase = {o.index: (zlib.crc32(o.name.encode()) % 1000) / 1000.0 * 2 * math.pi for o in scenario.objects}

    def phase(self, obj: ScenarioObject) -> float:
        """A per-object phase in [0, 2 pi) for flicker and sway."""
        return self._phase[obj.index]

    def crowd_offsets(self, obj: ScenarioObject) -> NDArray[np.float64]:
        """The member offsets of a crowd (arrival order)."""
        return self._crowd_offsets[obj.index]

    def people_at(self, t_s: float) -> People:
        """Everyone present at scenario time ``t_s`` (lone persons and crowd members)."""
        en, hdg, owner, member, cloth = [], [], [], [], []
        for obj in self.scenario.objects:
            if obj.role == "person" and obj.active(t_s):
                ph = self._phase[obj.index]
                if len(obj.points_en) >= 2 and obj.speed_m_s > 0:
                    pos, heading = _along_path(obj.points_en, obj.speed_m_s * (t_s - obj.start_s) + ph * 3.0)
                else:
                    pos = obj.points_en[0] + 0.1 * np.array([math.sin(0.4 * t_s + ph), math.cos(0.3 * t_s + ph)])
                    heading = math.degrees(ph)
                en.append(pos)
                hdg.append(heading)
                owner.append(obj.index)
                member.append(0)
                cloth.append(obj.temperature_c)
            elif obj.role == "crowd":
                n = obj.crowd_size(t_s)
                offs = self._crowd_offsets[obj.index][:n]
                for k, off in enumerate(offs):
                    ph = self._phase[obj.index] + k * 0.7
                    sway = 0.12 * np.array([math.sin(0.35 * t_s + ph), math.cos(0.27 * t_s + 1.3 * ph)])
                    en.append(obj.points_en[0] + off + sway)
                    hdg.append((math.degrees(ph) * 7.0) % 360.0)
                    owner.append(obj.index)
                    member.append(k)
                    cloth.append(obj.properties.get("clothing_c", 27.0) if obj.properties else 27.0)
        if not en:
            z = np.zeros(0)
            return People(np.zeros((0, 2)), z, z.astype(np.int64), z.astype(np.int64), z)
        return People(
            np.array(en, dtype=np.float64),
            np.array(hdg, dtype=np.float64),
            np.array(owner, dtype=np.int64),
            np.array(member, dtype=np.int64),
            np.array(cloth, dtype=np.float64),
        )

    def fire_temperature_c(self, obj: ScenarioObject, t_s: float) -> float:
        """A fire's core temperature with a slow flicker of +-5 %."""
        ph = self._phase[obj.index]
        return obj.temperature_c * (1.0 + 0.05 * math.sin(2 * math.pi * 0.7 * t_s + ph))
