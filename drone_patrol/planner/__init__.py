"""Mission planner: key areas -> pattern legs -> ordered route -> sorties -> Missions.

Public API::

    plan_patrol(areas: AreaSet, planner: PlannerConfig, camera: CameraConfig, **overrides) -> PlanResult
    write_outputs(result, out_dir, stem) -> {kind: paths}      # .waypoints, .plan, .route.geojson, .png
"""

from drone_patrol.planner.plan import AreaPlan, PlanResult, SortieStats, plan_patrol

__all__ = ["AreaPlan", "PlanResult", "SortieStats", "plan_patrol"]
