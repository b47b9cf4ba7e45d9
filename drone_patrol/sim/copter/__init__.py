"""A simulated ArduCopter that speaks MAVLink 2 over TCP, for CI and the embedded demo.

Details of what it mirrors are in the docstring of each module; see the end of this
docstring for the differences from ArduCopter SITL.
"""

from drone_patrol.sim.copter.modes import CopterMode
from drone_patrol.sim.copter.vehicle import SimulatedCopter

__all__ = ["CopterMode", "SimulatedCopter"]
