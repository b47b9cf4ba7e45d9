"""Mission planner: key areas -> pattern legs -> ordered route -> Mission."""
