"""Shared value types, local geodesic frames, configuration and errors."""
