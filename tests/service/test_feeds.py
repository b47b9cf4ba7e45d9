"""The live frame feed: newest frame only, each served once, with the vehicle state attached."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from drone_patrol.core.types import GeoPoint, VehicleState
from drone_patrol.service.feeds import LiveFrameFeed


def test_live_feed_serves_newest_frame_once_with_state(tmp_path: Path) -> None:
    for i in range(5):
        counts = np.full((32, 40), 29315 + 100 * i, dtype=np.uint16)  # 20 C + i, TLinear 0.01 K
        cv2.imwrite(str(tmp_path / f"{i:04d}.png"), counts)
    feed = LiveFrameFeed(str(tmp_path), fps=9.0)
    deadline = time.monotonic() + 5
    while feed.frames_read < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert feed.frames_read == 5 and feed.error is None
    state = VehicleState(time_s=1.0, position=GeoPoint(25.28, 110.29, 190.0), relative_altitude_m=40.0)
    frame = feed.frame_at(state, 1.0)
    assert frame is not None and frame.index == 4 and frame.state is state
    assert abs(float(frame.celsius.mean()) - 24.0) < 0.01
    assert feed.frame_at(state, 1.1) is None  # the same frame is not served twice
    feed.close()
