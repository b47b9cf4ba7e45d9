"""Simulators for CI and the demo: ArduCopter over MAVLink, faulty link, thermal camera and scenario world."""
