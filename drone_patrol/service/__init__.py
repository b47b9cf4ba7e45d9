"""The patrol service: wires planner, controller, vision and alerts into one process."""
