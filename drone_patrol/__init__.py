"""drone-patrol: police night-patrol drones over MAVLink, with thermal alerts over MQTT."""

__version__ = "0.1.0"
