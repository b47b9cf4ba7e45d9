"""Thermal vision: frames, detectors, georeferencing, tracking and incident rules."""
