"""``Detections``: the one currency of the vision stages.

One value per frame, a set of parallel numpy arrays of length N (as supervision's
``Detections``): detectors create it, georeferencing fills ``ground_en_m`` and
``error_radius_m``, trackers fill ``tracker_id``, rules read it. Adapters are
``from_*`` classmethods; values are immutable in spirit (methods return new ones).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

#: Class ids shared by every detector.
CLASS_HOTSPOT = 0
CLASS_PERSON = 1
CLASS_VEHICLE = 2
CLASS_BICYCLE = 3
CLASS_NAMES: dict[int, str] = {
    CLASS_HOTSPOT: "hotspot",
    CLASS_PERSON: "person",
    CLASS_VEHICLE: "vehicle",
    CLASS_BICYCLE: "bicycle",
}


def _f64(values: object, n: int, cols: int | None = None, fill: float = np.nan) -> NDArray[np.float64]:
    if values is None:
        shape = (n,) if cols is None else (n, cols)
        return np.full(shape, fill, dtype=np.float64)
    arr = np.asarray(values, dtype=np.float64)
    expected = (n,) if cols is None else (n, cols)
    if arr.size == 0 and n == 0:
        return arr.reshape(expected)
    if arr.shape != expected:
        raise ValueError(f"expected shape {expected}, got {arr.shape}")
    return arr


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one frame.

    - ``xyxy``: (N, 4) pixel boxes, x0 y0 x1 y1.
    - ``confidence``: (N,) in [0, 1].
    - ``class_id``: (N,) ints, see ``CLASS_NAMES``.
    - ``peak_c`` / ``mean_c``: (N,) temperatures in Celsius (NaN when not radiometric).
    - ``centroid_px``: (N, 2) x, y of the temperature-weighted centroid.
    - ``area_px``: (N,) blob pixel count (box area for learned detectors).
    - ``ground_en_m``: (N, 2) east, north in the site's local frame (NaN until georeferenced).
    - ``error_radius_m``: (N,) 1-sigma-ish horizontal uncertainty of ``ground_en_m``.
    - ``tracker_id``: (N,) ints, -1 until tracked.
    """

    xyxy: NDArray[np.float64]
    confidence: NDArray[np.float64]
    class_id: NDArray[np.int64]
    peak_c: NDArray[np.float64]
    mean_c: NDArray[np.float64]
    centroid_px: NDArray[np.float64]
    area_px: NDArray[np.float64]
    ground_en_m: NDArray[np.float64]
    error_radius_m: NDArray[np.float64]
    tracker_id: NDArray[np.int64]
    data: dict[str, NDArray[np.generic]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls.create(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))

    @classmethod
    def create(
        cls,
        xyxy: object,
        confidence: object,
        class_id: object,
        *,
        peak_c: object = None,
        mean_c: object = None,
        centroid_px: object = None,
        area_px: object = None,
        ground_en_m: object = None,
        error_radius_m: object = None,
        tracker_id: object = None,
        data: dict[str, NDArray[np.generic]] | None = None,
    ) -> Detections:
        """Build from array-likes; missing columns are NaN (or -1 for ``tracker_id``).

        ``centroid_px`` defaults to the box centres and ``area_px`` to box areas.
        """
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        n = boxes.shape[0]
        centres = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        tid = (
            np.full(n, -1, dtype=np.int64) if tracker_id is None else np.asarray(tracker_id, dtype=np.int64).reshape(n)
        )
        extra = {k: np.asarray(v) for k, v in (data or {}).items()}
        for key, arr in extra.items():
            if arr.shape[:1] != (n,):
                raise ValueError(f"data[{key!r}] has length {arr.shape[:1]}, expected {n}")
        return cls(
            xyxy=boxes,
            confidence=_f64(confidence, n),
            class_id=np.asarray(class_id, dtype=np.int64).reshape(n),
            peak_c=_f64(peak_c, n),
            mean_c=_f64(mean_c, n),
            centroid_px=centres if centroid_px is None else _f64(centroid_px, n, 2),
            area_px=areas if area_px is None else _f64(area_px, n),
            ground_en_m=_f64(ground_en_m, n, 2),
            error_radius_m=_f64(error_radius_m, n),
            tracker_id=tid,
            data=extra,
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self)))

    def __getitem__(self, index: int | slice | Sequence[int] | NDArray[np.bool_] | NDArray[np.integer]) -> Detections:
        """Select rows (an int, slice, index list or boolean mask) as a new ``Detections``."""
        idx = np.asarray([index]) if isinstance(index, (int, np.integer)) else index
        return Detections(
            xyxy=self.xyxy[idx].reshape(-1, 4),
            confidence=self.confidence[idx],
            class_id=self.class_id[idx],
            peak_c=self.peak_c[idx],
            mean_c=self.mean_c[idx],
            centroid_px=self.centroid_px[idx].reshape(-1, 2),
            area_px=self.area_px[idx],
            ground_en_m=self.ground_en_m[idx].reshape(-1, 2),
            error_radius_m=self.error_radius_m[idx],
            tracker_id=self.tracker_id[idx],
            data={k: v[idx] for k, v in self.data.items()},
        )

    def with_fields(self, **changes: object) -> Detections:
        """A copy with some arrays replaced (shapes are checked by the caller)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def merge(cls, parts: Sequence[Detections]) -> Detections:
        """Concatenate several ``Detections`` (their ``data`` keys must agree)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        keys = set(parts[0].data)
        if any(set(p.data) != keys for p in parts):
            raise ValueError("cannot merge Detections with different data keys")
        return cls(
            xyxy=np.concatenate([p.xyxy for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_id=np.concatenate([p.class_id for p in parts]),
            peak_c=np.concatenate([p.peak_c for p in parts]),
            mean_c=np.concatenate([p.mean_c for p in parts]),
            centroid_px=np.concatenate([p.centroid_px for p in parts]),
            area_px=np.concatenate([p.area_px for p in parts]),
            ground_en_m=np.concatenate([p.ground_en_m for p in parts]),
            error_radius_m=np.concatenate([p.error_radius_m for p in parts]),
            tracker_id=np.concatenate([p.tracker_id for p in parts]),
            data={k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )
