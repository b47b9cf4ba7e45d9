"""Simulated radiometric thermal camera and the scenario world it looks at."""

from drone_patrol.sim.thermal.camera import FrameTruth, ThermalCameraSim, TruthObject
from drone_patrol.sim.thermal.scenario import Scenario, ScenarioObject
from drone_patrol.sim.thermal.world import People, World

__all__ = ["FrameTruth", "People", "Scenario", "ScenarioObject", "ThermalCameraSim", "TruthObject", "World"]
