"""Mission planner: key areas -> pattern variants -> ordered route -> sorties -> Missions.

Public API::

    plan_patrol(areas: AreaSet, planner: PlannerConfig, camera: CameraConfig, **overrides) -> PlanResult
        overrides: any PlannerConfig or EnduranceConfig field (altitude_m, speed_m_s, side_overlap,
        nofly_margin_m, ceiling_m, floor_m, loop_count, flight_time_s, reserve_fraction, ...)
        (min_waypoint_spacing_m, on_the_way_delay_s, ...) and sweep_angle_deg (fix the coverage
        sweep angle); raises PlanningError.
    PlanResult: sorties (Mission per sortie), stats (SortieStats: waypoints, nav_waypoints,
        length_m, duration_s, battery_fraction), areas (AreaPlan: name, pattern, coverage,
        sweep_angle_deg, line_spacing_m, clipped_by, order, order_reason, ...), warnings, routes_m (flown lines in
        the home-centred LocalFrame), frame, nofly_m, forbidden_m, loop_count, summary(files).
    drone_patrol.planner.export.write_outputs(result, out_dir, stem) -> {kind: paths}
        .waypoints and .plan per sortie, .route.geojson, .png map.
"""

from drone_patrol.planner.plan import plan_patrol
from drone_patrol.planner.result import AreaPlan, PlanResult, SortieStats

__all__ = ["AreaPlan", "PlanResult", "SortieStats", "plan_patrol"]
