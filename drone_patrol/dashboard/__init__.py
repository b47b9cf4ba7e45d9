"""Command-room dashboard: a live map of drones and alerts."""
