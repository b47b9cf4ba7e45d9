"""Radiometric conversions: TLinear, FLIR Planck raw counts, palette frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drone_patrol.core.errors import VisionError
from drone_patrol.vision.radiometry import (
    PlanckConstants,
    celsius_to_flir_raw,
    celsius_to_tlinear,
    flir_raw_to_celsius,
    palette_to_celsius,
    tlinear_to_celsius,
)


def test_tlinear_both_resolutions() -> None:
    counts = np.array([[29315, 37315]], dtype=np.uint16)
    assert np.allclose(tlinear_to_celsius(counts, 0.01), [[20.0, 100.0]], atol=1e-3)
    assert np.allclose(tlinear_to_celsius(np.array([[2932]], np.uint16), 0.1), [[20.05]], atol=1e-3)
    with pytest.raises(VisionError):
        tlinear_to_celsius(counts, 0.05)


@settings(max_examples=50, deadline=None)
@given(c=st.floats(-20, 130), res=st.sampled_from([0.01, 0.1]))
def test_tlinear_round_trip(c, res) -> None:
    back = tlinear_to_celsius(celsius_to_tlinear(np.array([c]), res), res)
    assert abs(float(back[0]) - c) <= res / 2 + 1e-3


@settings(max_examples=50, deadline=None)
@given(c=st.floats(-10, 120), e=st.floats(0.6, 1.0))
def test_flir_planck_round_trip(c, e) -> None:
    k = PlanckConstants(emissivity=e)
    raw = celsius_to_flir_raw(np.array([c]), k)
    back = float(flir_raw_to_celsius(raw, k)[0])
    assert abs(back - c) < 0.6 + 0.01 * abs(c)


def test_planck_default_constants_give_plausible_counts() -> None:
    raw = celsius_to_flir_raw(np.array([20.0, 100.0]))
    assert 10000 < raw[0] < raw[1] < 65535
    with pytest.raises(VisionError):
        PlanckConstants(emissivity=0.0)


def test_palette_grey_and_colour() -> None:
    grey = np.array([[0, 255, 128]], dtype=np.uint8)
    assert np.allclose(palette_to_celsius(grey, 10, 60), [[10, 60, 10 + 50 * 128 / 255]], atol=1e-3)
    levels = np.arange(0, 256, 15, dtype=np.uint8).reshape(1, -1)
    colour = cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO)
    c = palette_to_celsius(colour, 0, 255, "inferno")
    assert np.allclose(c, levels, atol=2.0)
    with pytest.raises(VisionError, match="high > low"):
        palette_to_celsius(grey, 50, 10)
    with pytest.raises(VisionError, match="unknown palette"):
        palette_to_celsius(colour, 0, 1, "rainbow")
