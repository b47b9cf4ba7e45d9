"""Frame sources: folders of 16-bit PNG/TIFF, .npy/.npz sequences, video files, V4L2 and RTSP streams.

Every source yields :class:`RawFrame` values (Celsius plus the raw counts when there are
any); :func:`with_telemetry` turns them into :class:`ThermalFrame` values carrying the
vehicle state interpolated to each frame's time. A frame that cannot be decoded is
yielded with an empty array, so the pipeline counts and skips it rather than the source
stopping.

8-bit frames are the camera's automatic-gain video (grey level is not temperature) unless
the span of their palette is given: they become ``agc`` frames with no temperatures, on
which only the learned detector (people, vehicles) and saturation hot spots work.

A folder written by ``drone-patrol sim-camera`` holds ``frames/NNNNNN.png`` (16-bit
TLinear) and ``frames.csv`` (``index,time_s,file``); other folders are read in name order
at ``fps``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from drone_patrol.core.config.camera import CameraConfig
from drone_patrol.core.errors import InputError, VisionError
from drone_patrol.core.files import excerpt, read_user_csv
from drone_patrol.vision.frames import GimbalAttitude, ThermalFrame
from drone_patrol.vision.radiometry import PlanckConstants, flir_raw_to_celsius, palette_to_celsius, tlinear_to_celsius
from drone_patrol.vision.telemetry import PoseLog

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
_EMPTY = np.zeros((0, 0), dtype=np.float32)


@dataclass(frozen=True)
class Radiometry:
    """How a source's pixels become Celsius."""

    kind: str = "tlinear"  # tlinear | flir_raw | celsius
    resolution_k: float = 0.01
    planck: PlanckConstants | None = None
    span_c: tuple[float, float] | None = None  # for 8-bit palette frames
    palette: str = "grey"


@dataclass(frozen=True)
class RawFrame:
    """A decoded frame before its pose is attached."""

    celsius: NDArray[np.float32]
    time_s: float
    index: int
    counts: NDArray[np.uint16] | None = None
    kelvin_per_count: float | None = None
    degraded: bool = False
    #: the grey image of an automatic-gain video frame (then ``celsius`` is all NaN)
    video: NDArray[np.uint8] | None = None

    @property
    def agc(self) -> bool:
        """True for automatic-gain video frames (no temperatures)."""
        return self.video is not None


#: the smallest and largest frames used: thermal cores are 160x120 to 1280x1024
MIN_FRAME_SIDE_PX = 16
MAX_FRAME_PIXELS = 4096 * 4096


def _convert(pixels: Any, rad: Radiometry, time_s: float, index: int, where: str) -> RawFrame:
    if pixels is None:
        log.warning("vision: %s: frame %d could not be decoded", where, index)
        return RawFrame(_EMPTY, time_s, index)
    if not math.isfinite(time_s):
        log.warning("vision: %s: frame %d has no finite time (%s)", where, index, time_s)
        return RawFrame(_EMPTY, time_s, index)
    shape: tuple[int, ...] = tuple(getattr(pixels, "shape", ()))
    if len(shape) >= 2 and (min(shape[:2]) < MIN_FRAME_SIDE_PX or shape[0] * shape[1] > MAX_FRAME_PIXELS):
        log.warning("vision: %s: frame %d is %sx%s pixels, outside the sizes used", where, index, shape[1], shape[0])
        return RawFrame(_EMPTY, time_s, index)
    if pixels.dtype == np.uint16 and pixels.ndim == 2:
        if rad.kind == "flir_raw":
            return RawFrame(flir_raw_to_celsius(pixels, rad.planck), time_s, index, pixels)
        return RawFrame(tlinear_to_celsius(pixels, rad.resolution_k), time_s, index, pixels, rad.resolution_k)
    if pixels.dtype == np.uint8 and (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))):
        if rad.span_c is None:  # the camera's automatic-gain video: grey levels, not temperatures
            bgr = np.ascontiguousarray(pixels[..., :3]) if pixels.ndim == 3 else pixels
            grey = pixels if pixels.ndim == 2 else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            return RawFrame(
                np.full(grey.shape[:2], np.nan, np.float32), time_s, index, video=grey.astype(np.uint8, copy=False)
            )
        colour = np.ascontiguousarray(pixels[..., :3]) if pixels.ndim == 3 else pixels  # BGRA: the alpha goes
        try:
            return RawFrame(palette_to_celsius(colour, *rad.span_c, rad.palette), time_s, index, degraded=True)
        except VisionError as exc:  # e.g. a grey frame read with a colour palette: this frame is skipped
            log.warning("vision: %s: frame %d skipped: %s", where, index, exc)
            return RawFrame(_EMPTY, time_s, index)
    if pixels.dtype in (np.float32, np.float64) and pixels.ndim == 2:
        return RawFrame(pixels.astype(np.float32), time_s, index)
    log.warning("vision: %s: frame %d has unsupported pixels %s %s", where, index, pixels.dtype, pixels.shape)
    return RawFrame(_EMPTY, time_s, index)


def folder_frames(path: Path, rad: Radiometry, fps: float, start_time_s: float = 0.0) -> Iterator[RawFrame]:
    """Frames of a folder (``frames.csv`` index, or images in name order at ``fps``)."""
    index_file = path / "frames.csv"
    entries: list[tuple[int, float, Path]] = []
    if index_file.is_file():
        header, rows = read_user_csv(index_file, "frame index", InputError)
        missing = [k for k in ("index", "time_s", "file") if k not in header]
        if missing:
            raise InputError(f"{index_file}: missing column {', '.join(missing)} (expected index,time_s,file)")
        for n, row in rows:
            entries.append(_index_entry(row, path, index_file, n))
    else:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files and (path / "frames").is_dir():
            files = sorted(p for p in (path / "frames").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        entries = [(i, start_time_s + i / fps, p) for i, p in enumerate(files)]
    if not entries:
        raise InputError(f"{path}: no frames (16-bit PNG or TIFF files, or a frames.csv index)")
    for index, t, file in entries:
        img = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
        yield _convert(img, rad, t, index, str(file))


def _index_entry(row: dict[str, str], folder: Path, index_file: Path, line: int) -> tuple[int, float, Path]:
    """One line of ``frames.csv``: a frame number, a finite time and a file inside the folder."""
    try:
        index = int(row["index"])
        time_s = float(row["time_s"])
    except (TypeError, ValueError):
        raise InputError(
            f"{index_file}: line {line}: expected an integer index and a number time_s, "
            f"got {excerpt(row['index'])}, {excerpt(row['time_s'])}"
        ) from None
    if not math.isfinite(time_s):
        raise InputError(f"{index_file}: line {line}: time_s must be a finite number, got {excerpt(row['time_s'])}")
    name = row["file"].strip()
    file = folder / name
    if not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise InputError(f"{index_file}: line {line}: file {excerpt(name)} is not a path inside {folder}")
    return index, time_s, file


def array_frames(path: Path, rad: Radiometry, fps: float, start_time_s: float = 0.0) -> Iterator[RawFrame]:
    """Frames of a ``.npy`` (N, H, W) array or a ``.npz`` with ``frames`` (or ``counts``/``celsius``) and ``time_s``."""
    try:
        data = np.load(path, allow_pickle=False, mmap_mode="r")  # a frame is read only when used
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read frames ({exc})") from None
    times = None
    if isinstance(data, np.lib.npyio.NpzFile):
        key = next((k for k in ("frames", "counts", "celsius") if k in data.files), None)
        if key is None:
            raise InputError(f"{path}: expected an array named frames, counts or celsius; has {', '.join(data.files)}")
        arr = data[key]
        times = data["time_s"] if "time_s" in data.files else None
    else:
        arr = data
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim not in (3, 4):
        raise InputError(f"{path}: expected frames shaped (N, H, W), got {arr.shape}")
    if times is not None and len(times) != len(arr):
        raise InputError(f"{path}: time_s has {len(times)} values for {len(arr)} frames")
    for i in range(len(arr)):
        t = float(times[i]) if times is not None else start_time_s + i / fps
        yield _convert(arr[i], rad, t, i, str(path))


def capture_frames(source: str, rad: Radiometry, start_time_s: float | None = None) -> Iterator[RawFrame]:
    """Frames of a video file, V4L2 device (``/dev/videoN`` or an index) or stream URL through OpenCV.

    Raw 16-bit (Y16) output is asked for; cameras that only give 8-bit video are read as
    palette frames (degraded). Files are timed by their position, live sources by the clock.
    """
    live = source.isdigit() or source.startswith(("/dev/video", "rtsp://", "rtsps://", "http://", "https://", "udp://"))
    cap = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not cap.isOpened():
        raise InputError(f"{source}: cannot open video source")
    cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
    base = start_time_s if start_time_s is not None else (time.time() if live else 0.0)
    i = 0
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            t = time.time() if live and start_time_s is None else base + cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if (
                img is not None
                and img.ndim == 3
                and img.shape[2] == 3
                and (rad.palette == "grey" or rad.span_c is None)
            ):
                img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            yield _convert(img, rad, t, i, source)
            i += 1
    finally:
        cap.release()


def open_frames(
    source: str | Path, rad: Radiometry | None = None, fps: float = 9.0, start_time_s: float | None = None
) -> Iterator[RawFrame]:
    """Frames from a folder, ``.npy``/``.npz`` file, video file, device or URL."""
    rad = rad or Radiometry()
    s = str(source)
    p = Path(s)
    if p.is_dir():
        return folder_frames(p, rad, fps, start_time_s or 0.0)
    if p.suffix.lower() in (".npy", ".npz"):
        if not p.is_file():
            raise InputError(f"{p}: file not found")
        return array_frames(p, rad, fps, start_time_s or 0.0)
    if p.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"{p}: give the folder of frames, not one image")
    if not p.exists() and "://" not in s and not s.isdigit() and not s.startswith("/dev/video"):
        raise InputError(f"{s}: no such file, folder, device or stream")
    return capture_frames(s, rad, start_time_s)


def with_telemetry(frames: Iterator[RawFrame], poses: PoseLog | None, camera: CameraConfig) -> Iterator[ThermalFrame]:
    """``ThermalFrame`` values with the pose interpolated to each frame's time (``None`` when missing)."""
    mount = GimbalAttitude(camera.mount_pitch_deg, camera.mount_roll_deg, camera.mount_yaw_deg)
    for raw in frames:
        state, gimbal = None, mount
        if poses is not None:
            pose = poses.pose_at(raw.time_s)
            state = poses.state_at(raw.time_s) if pose is not None else None
            if pose is not None and pose.gimbal_pitch_deg is not None:
                gimbal = GimbalAttitude(pose.gimbal_pitch_deg, pose.gimbal_roll_deg or 0.0, pose.gimbal_yaw_deg or 0.0)
        yield ThermalFrame(
            celsius=raw.celsius,
            time_s=raw.time_s,
            index=raw.index,
            state=state,
            gimbal=gimbal,
            degraded=raw.degraded,
            counts=raw.counts,
            kelvin_per_count=raw.kelvin_per_count,
            video=raw.video,
            agc=raw.agc,
        )
