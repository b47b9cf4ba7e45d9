"""Every reader of a user file, fed hostile bytes, answers only with its typed one-line error.

Each fuzzer starts from a real file the reader accepts (the sample district, the plans
made from it, the shipped configs, a recorded telemetry log, a frame index) and damages
it the ways careless and hostile users do: flipped, inserted and dropped bytes, truncation,
other encodings (UTF-16 with and without its mark, Latin-1, a byte-order mark), numbers
replaced by NaN, Infinity, 1e999 or booleans, duplicated keys and deep nesting. Whatever
comes out must be the reader's own error class with a single bounded line that names the
file, or a successful read; never another exception, a hang or a runaway allocation.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drone_patrol.core.config import load_config
from drone_patrol.core.errors import AreaFileError, ConfigError, DronePatrolError, InputError, MissionFileError
from drone_patrol.mission import load_areas, load_mission
from drone_patrol.sim.thermal.scenario import Scenario
from drone_patrol.vision.baseline import HeatBaseline
from drone_patrol.vision.sources import Radiometry, folder_frames
from drone_patrol.vision.telemetry import PoseLog

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "flight_plans"
MAX_MESSAGE = 500
#: examples per reader; DRONE_PATROL_FUZZ_EXAMPLES=5000 runs a longer campaign
EXAMPLES = int(os.environ.get("DRONE_PATROL_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"true", b"null", b'"x"', b"[]", b"{}", b".nan", b".inf"]


@st.composite
def damaged(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` damaged by one to three hostile edits."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 9))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == 0:  # flip a byte
            if data:
                data[at] = draw(st.integers(0, 255))
        elif kind == 1:  # insert bytes
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == 2:  # drop a run
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == 3:  # truncate
            del data[at:]
        elif kind == 4:  # a number becomes NaN, Infinity, a boolean...
            numbers = [m.span() for m in re.finditer(rb"-?\d+(\.\d+)?", bytes(data))]
            if numbers:
                lo, hi = draw(st.sampled_from(numbers))
                data[lo:hi] = draw(st.sampled_from(_TOKENS))
        elif kind == 5:  # another encoding
            text = bytes(data).decode("utf-8", errors="replace")
            encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "utf-8-sig"]))
            data = bytearray(text.encode(encoding, errors="replace"))
        elif kind == 6:  # duplicate a slice (duplicate keys, repeated lines)
            hi = min(len(data), at + draw(st.integers(1, 200)))
            data[hi:hi] = data[at:hi]
        elif kind == 7:  # deep nesting
            depth = draw(st.sampled_from([70, 1000, 50_000]))
            data[at:at] = b"[" * depth + b"1" + b"]" * depth
        elif kind == 8:  # NUL and control bytes
            data[at:at] = b"\x00\x01\x1b"
        else:  # a long run of one character
            data[at:at] = draw(st.sampled_from([b"9", b"a", b" ", b"\n", b","])) * draw(st.sampled_from([300, 70_000]))
    return bytes(data)


def _check(read: Callable[[Path], Any], path: Path, data: bytes, error: type[DronePatrolError]) -> None:
    path.write_bytes(data)
    try:
        read(path)
    except error as exc:
        message = str(exc)
        assert "\n" not in message, message[:300]
        assert len(message) <= MAX_MESSAGE + len(str(path)), message[:300]
        assert path.name in message, message[:300]


def _seed(path: Path) -> bytes:
    return path.read_bytes()


# -- area files -------------------------------------------------------------------------------


@FUZZ
@given(data=damaged(_seed(PLANS / "guilin_dongxi_xiang.geojson")))
def test_area_file_reader(tmp_path: Path, data: bytes) -> None:
    _check(load_areas, tmp_path / "areas.geojson", data, AreaFileError)


@FUZZ
@given(data=damaged(_seed(PLANS / "zhongshan_street_corridor.geojson")))
def test_area_file_reader_corridors(tmp_path: Path, data: bytes) -> None:
    _check(load_areas, tmp_path / "corridor.geojson", data, AreaFileError)


# -- plans, waypoints and routes --------------------------------------------------------------


@FUZZ
@given(data=damaged(_seed(PLANS / "guilin_dongxi_xiang.plan")))
def test_plan_reader(tmp_path: Path, data: bytes) -> None:
    _check(load_mission, tmp_path / "m.plan", data, MissionFileError)


@FUZZ
@given(data=damaged(_seed(PLANS / "guilin_dongxi_xiang.waypoints")))
def test_waypoints_reader(tmp_path: Path, data: bytes) -> None:
    _check(load_mission, tmp_path / "m.waypoints", data, MissionFileError)


@FUZZ
@given(data=damaged(_seed(PLANS / "guilin_dongxi_xiang.route.geojson")))
def test_route_reader(tmp_path: Path, data: bytes) -> None:
    _check(load_mission, tmp_path / "m.route.geojson", data, MissionFileError)


# -- configs ----------------------------------------------------------------------------------


@FUZZ
@given(data=damaged(_seed(ROOT / "configs" / "patrol.example.yaml")))
def test_config_reader(tmp_path: Path, data: bytes) -> None:
    _check(lambda p: load_config(p, environ={}), tmp_path / "patrol.yaml", data, ConfigError)


_SECTIONS = ["planner", "site", "vision", "controller", "controller__failsafe", "sim__params", "alerts", "x"]
_KEYS = ["altitude_m", "ground_altitude_m", "hotspot_threshold_c", "fs_gcs_timeout_s", "FENCE_RADIUS", "id", "y"]


@settings(max_examples=2 * EXAMPLES, deadline=None)
@given(
    env=st.dictionaries(
        st.builds(lambda s, k: f"DRONE_PATROL_{s}__{k}".upper(), st.sampled_from(_SECTIONS), st.sampled_from(_KEYS)),
        st.one_of(
            st.sampled_from([".nan", ".inf", "-1e999", "[1, [2, [3]]]", "{a: 1}", "&a [*a]", "'", "~", "true", ""]),
            st.text(max_size=30),
        ),
        max_size=4,
    )
)
def test_environment_overrides(env: dict[str, str]) -> None:
    try:
        load_config(None, environ=env)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) <= MAX_MESSAGE
        assert "environment variable DRONE_PATROL_" in message or "unknown key" in message


# -- telemetry and frame indexes --------------------------------------------------------------


def _telemetry_rows(n: int = 6) -> list[dict[str, float]]:
    return [
        {
            "time_s": 100.0 + i * 0.5,
            "latitude_deg": 25.2821593 + i * 1e-5,
            "longitude_deg": 110.296202,
            "altitude_m": 190.0,
            "relative_altitude_m": 40.0,
            "yaw_deg": 90.0,
            "home_latitude_deg": 25.2821593,
            "home_longitude_deg": 110.296202,
            "home_altitude_m": 150.0,
        }
        for i in range(n)
    ]


JSONL = "".join(json.dumps(r) + "\n" for r in _telemetry_rows()).encode()
CSV = (
    ",".join(_telemetry_rows()[0])
    + "\n"
    + "".join(",".join(str(v) for v in r.values()) + "\n" for r in _telemetry_rows())
).encode()


def _tlog() -> bytes:
    from pymavlink.dialects.v20 import ardupilotmega as mavlink

    mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
    out = bytearray()
    for i in range(6):
        stamp = struct.pack(">Q", int((100.0 + i * 0.5) * 1e6))
        att = mav.attitude_encode(i * 500, 0.01, -0.02, 1.5, 0, 0, 0).pack(mav)
        pos = mav.global_position_int_encode(i * 500, 252821593 + i * 100, 1102962020, 190000, 40000, 0, 0, 0, 9000)
        home = mav.home_position_encode(252821593, 1102962020, 150000, 0, 0, 0, [1, 0, 0, 0], 0, 0, 0)
        out += stamp + home.pack(mav) + stamp + att + stamp + pos.pack(mav)
    return bytes(out)


@FUZZ
@given(data=damaged(JSONL))
def test_telemetry_jsonl_reader(tmp_path: Path, data: bytes) -> None:
    _check(PoseLog.load, tmp_path / "t.jsonl", data, InputError)


@FUZZ
@given(data=damaged(CSV))
def test_telemetry_csv_reader(tmp_path: Path, data: bytes) -> None:
    _check(PoseLog.load, tmp_path / "t.csv", data, InputError)


@FUZZ
@given(data=damaged(_tlog()))
def test_telemetry_tlog_reader(tmp_path: Path, data: bytes) -> None:
    _check(PoseLog.load, tmp_path / "t.tlog", data, InputError)


INDEX = b"index,time_s,file\n" + b"".join(b"%d,%.1f,frames/%06d.png\n" % (i, i * 0.5, i) for i in range(5))


@FUZZ
@given(data=damaged(INDEX))
def test_frame_index_reader(tmp_path: Path, data: bytes) -> None:
    def read(path: Path) -> None:
        for frame in folder_frames(path.parent, Radiometry(), fps=9.0):
            assert frame.celsius.size == 0  # the index names no real images: each is an unusable frame

    _check(read, tmp_path / "frames.csv", data, InputError)


# -- scenarios and heat baselines -------------------------------------------------------------


@FUZZ
@given(data=damaged(_seed(PLANS / "scenarios" / "fires_in_alleys.geojson")))
def test_scenario_reader(tmp_path: Path, data: bytes) -> None:
    _check(Scenario.load, tmp_path / "scenario.geojson", data, InputError)


def _baseline() -> bytes:
    from drone_patrol.core.types import GeoPoint

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "b.json"
        HeatBaseline.load_or_new(path, "site", GeoPoint(25.28, 110.29, 150.0)).save(path)
        return path.read_bytes()


@FUZZ
@given(data=damaged(_baseline()))
def test_baseline_reader(tmp_path: Path, data: bytes) -> None:
    _check(HeatBaseline.load, tmp_path / "baseline.json", data, InputError)
