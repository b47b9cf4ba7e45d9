"""Mission items and the plan files real ground stations read (QGC WPL 110, .plan, GeoJSON)."""
