"""A vehicle's own battery consumption, learned from its flights and kept per vehicle.

The figures are currents in mAh per minute for the three phases a patrol flies:
take-off (the climb after arming), cruise (moving along the route, orbits included, at
``cruise_speed_m_s``) and hover (holding, turning, descending and landing). Keeping
mAh rather than percent lets the same profile serve a pack of another BATT_CAPACITY.
Each phase keeps the seconds it was observed, so a new flight is merged in by weight.

``endurance()`` turns the profile into the planner's :class:`EnduranceConfig`: the
flight time of a full battery in cruise, and hover as a multiple of cruise.
Profiles live in the site's data dir (``vehicles/<vehicle id>.json``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from drone_patrol.core.config.planner import EnduranceConfig
from drone_patrol.core.errors import InputError
from drone_patrol.core.files import read_user_json

#: a new flight counts at least this share of the merged figures (older flights fade)
NEW_FLIGHT_WEIGHT = 0.5
#: phases observed for less than this are not trusted for their own rate
MIN_PHASE_S = 10.0


class ProfileError(InputError):
    """A vehicle profile file that cannot be used."""


@dataclass(frozen=True)
class PhaseFigure:
    """The mean current of one phase and how long it was observed."""

    mah_per_min: float
    seconds: float


@dataclass(frozen=True)
class VehicleProfile:
    """What a vehicle burns per minute in each phase of a patrol."""

    vehicle_id: str
    capacity_mah: float
    takeoff: PhaseFigure
    cruise: PhaseFigure
    hover: PhaseFigure
    cruise_speed_m_s: float
    flights: int = 1

    def percent_per_min(self, phase: str, capacity_mah: float | None = None) -> float:
        """Battery percent a minute of ``phase`` takes of a ``capacity_mah`` pack (default: the learned one)."""
        fig: PhaseFigure = getattr(self, phase)
        return 100.0 * fig.mah_per_min / (capacity_mah or self.capacity_mah)

    def endurance(self, base: EnduranceConfig, capacity_mah: float | None = None) -> EnduranceConfig:
        """``base`` with the flight time and hover factor of this vehicle."""
        cruise = self.percent_per_min("cruise", capacity_mah)
        hover = max(self.percent_per_min("hover", capacity_mah), self.percent_per_min("takeoff", capacity_mah))
        return base.model_copy(
            update={"flight_time_s": 60.0 * 100.0 / cruise, "hover_power_factor": max(hover / cruise, 0.5)}
        )

    def merged(self, new: VehicleProfile) -> VehicleProfile:
        """This profile with ``new`` flight's figures folded in (by observed seconds, the new at least half)."""

        def mix(old: PhaseFigure, add: PhaseFigure) -> PhaseFigure:
            if add.seconds < MIN_PHASE_S:
                return old
            if old.seconds < MIN_PHASE_S:
                return add
            w = max(NEW_FLIGHT_WEIGHT, add.seconds / (add.seconds + old.seconds))
            return PhaseFigure((1 - w) * old.mah_per_min + w * add.mah_per_min, old.seconds + add.seconds)

        return replace(
            self,
            capacity_mah=new.capacity_mah,
            takeoff=mix(self.takeoff, new.takeoff),
            cruise=mix(self.cruise, new.cruise),
            hover=mix(self.hover, new.hover),
            cruise_speed_m_s=new.cruise_speed_m_s if new.cruise.seconds >= MIN_PHASE_S else self.cruise_speed_m_s,
            flights=self.flights + new.flights,
        )

    def describe(self, capacity_mah: float | None = None) -> str:
        """One line for the operator."""
        pack = capacity_mah or self.capacity_mah
        return (
            f"vehicle {self.vehicle_id} ({self.flights} flight{'s' if self.flights != 1 else ''}, "
            f"{pack:.0f} mAh): take-off {self.percent_per_min('takeoff', capacity_mah):.1f}, "
            f"cruise {self.percent_per_min('cruise', capacity_mah):.1f} at {self.cruise_speed_m_s:.1f} m/s, "
            f"hover {self.percent_per_min('hover', capacity_mah):.1f} %/min"
        )


def profile_path(data_dir: str | Path, vehicle_id: str) -> Path:
    """Where ``vehicle_id``'s profile is kept under the site's data dir."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", vehicle_id)
    return Path(data_dir) / "vehicles" / f"{safe}.json"


def load_profile(path: str | Path) -> VehicleProfile:
    """Read a profile; :class:`ProfileError` naming the file and field when it is wrong."""
    data = read_user_json(path, "vehicle profile", ProfileError)
    try:
        phases = {
            k: PhaseFigure(float(data[k]["mah_per_min"]), float(data[k]["seconds"]))
            for k in ("takeoff", "cruise", "hover")
        }
        profile = VehicleProfile(
            vehicle_id=str(data["vehicle_id"]),
            capacity_mah=float(data["capacity_mah"]),
            cruise_speed_m_s=float(data["cruise_speed_m_s"]),
            flights=int(data.get("flights", 1)),
            **phases,
        )
    except KeyError as exc:
        raise ProfileError(f"{path}: vehicle profile lacks field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{path}: vehicle profile has a field of the wrong type ({exc})") from None
    if profile.capacity_mah <= 0 or profile.cruise.mah_per_min <= 0:
        raise ProfileError(f"{path}: vehicle profile needs capacity_mah and cruise.mah_per_min above 0")
    return profile


def find_profile(data_dir: str | Path, vehicle_id: str) -> VehicleProfile | None:
    """The stored profile of ``vehicle_id``, or None when it has not flown here yet."""
    path = profile_path(data_dir, vehicle_id)
    return load_profile(path) if path.exists() else None


def save_profile(profile: VehicleProfile, data_dir: str | Path) -> Path:
    """Write the profile (atomically) and return its path."""
    path = profile_path(data_dir, profile.vehicle_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(profile), indent=1) + "\n")
    tmp.replace(path)
    return path


def latest_profile(data_dir: str | Path, name: str) -> VehicleProfile | None:
    """The most recently updated profile of the drone called ``name`` (any flight controller), or None."""
    folder = Path(data_dir) / "vehicles"
    paths = sorted(folder.glob(f"{name}-*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    return load_profile(paths[-1]) if paths else None


def learn(data_dir: str | Path, vehicle_id: str, flight: VehicleProfile) -> tuple[VehicleProfile, Path] | None:
    """Fold one flight's figures into ``vehicle_id``'s stored profile (made on its first flight
    with at least ``MIN_PHASE_S`` of cruise) and save it; None when there was too little to learn."""
    flight = replace(flight, vehicle_id=vehicle_id)
    old = find_profile(data_dir, vehicle_id)
    if old is None and flight.cruise.seconds < MIN_PHASE_S:
        return None
    profile = old.merged(flight) if old is not None else flight
    return profile, save_profile(profile, data_dir)
