"""Mission items and the files real ground stations read: area files in, QGC WPL 110, .plan and GeoJSON out.

Public API::

    load_areas(path, *, ceiling_m=None, floor_m=None, make_valid=False) -> AreaSet   # GeoJSON or KML
    AreaSet: home, patrol, no_fly, heat_sources, rally, all, home_point, local_frame(),
             by_name(name), areas_at(lat, lon, roles, margin_m), patrol_area_at(lat, lon)
    write_waypoints(mission, path) / read_waypoints(path) -> Mission     # QGC WPL 110
    write_plan(mission, path) / read_plan(path) -> Mission               # QGC .plan JSON
    write_route_geojson(missions, path, areas) / read_route_geojson(path, sortie)
    load_mission(path) -> Mission                # by suffix
"""

from drone_patrol.mission.areas import AreaSet, load_areas, parse_areas
from drone_patrol.mission.files import load_mission, save_mission
from drone_patrol.mission.qgc_plan import read_plan, write_plan
from drone_patrol.mission.route_geojson import read_route_geojson, write_route_geojson
from drone_patrol.mission.wpl import read_waypoints, write_waypoints

__all__ = [
    "AreaSet",
    "load_areas",
    "load_mission",
    "parse_areas",
    "read_plan",
    "read_route_geojson",
    "read_waypoints",
    "save_mission",
    "write_plan",
    "write_route_geojson",
    "write_waypoints",
]
