"""``drone-patrol dashboard``: serve the command-room page."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from drone_patrol.core.config import load_config


@click.command("dashboard")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), help="YAML config file.")
@click.option(
    "--broker",
    help="Broker URL, e.g. mqtt://127.0.0.1:1883, or a cluster's nodes, comma-separated (alerts.broker_url).",
)
@click.option("--host", help="Address to listen on (default 127.0.0.1; others need a staff token).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port to listen on (default 8080).")
@click.option("--site", help="Site id to watch, or + for every site (default: site.id).")
@click.option("--areas", "areas_file", type=click.Path(path_type=Path), help="Area file to draw.")
@click.option(
    "--route",
    "route_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Planned route to draw (.plan, .waypoints, route .geojson); repeatable.",
)
@click.option("--archive", "archive_path", type=click.Path(path_type=Path), help="SQLite archive of alerts.")
@click.option(
    "--archive-url",
    help="PostgreSQL city archive shared by several dashboards, postgresql://USER@HOST:PORT/DB (password: PGPASSWORD).",
)
@click.option(
    "--archive-queue",
    "archive_queue_url",
    help="With --archive-url: the NATS cluster's client addresses, nats://HOST:4222,...; the dashboards "
    "then split the archive writes (one shared JetStream consumer) instead of each writing every alert.",
)
@click.option("--tile-url", help="Optional map tile URL template, e.g. http://tiles.local/{z}/{x}/{y}.png.")
@click.option(
    "--tile-file",
    type=click.Path(path_type=Path),
    help="Offline base map served by the dashboard: a raster .mbtiles or .pmtiles file (dashboard.tile_file).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every connection and rejected message.")
def dashboard(
    config_path: Path | None,
    broker: str | None,
    host: str | None,
    port: int | None,
    site: str | None,
    areas_file: Path | None,
    route_files: tuple[Path, ...],
    archive_path: Path | None,
    archive_url: str | None,
    archive_queue_url: str | None,
    tile_url: str | None,
    tile_file: Path | None,
    verbose: bool,
) -> None:
    """Serve the command-room dashboard: live map, alert list with acknowledgement, drone panel.

    The staff token comes from the environment variable named by
    dashboard.token_env (DRONE_PATROL_DASHBOARD_TOKEN by default).
    """
    from drone_patrol.dashboard.app import Dashboard

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_config(config_path)
    dash = Dashboard.from_settings(
        settings,
        broker_url=broker,
        host=host,
        port=port,
        site=site,
        areas_file=areas_file,
        route_files=route_files or None,
        archive_path=archive_path,
        archive_url=archive_url,
        archive_queue_url=archive_queue_url,
        tile_url=tile_url,
        tile_file=tile_file,
    )
    dash.start()
    auth = "staff token required" if dash.options.token else "no token (loopback only)"
    click.echo(f"dashboard: {dash.url} ({auth}); broker {dash.options.broker_url}, site {dash.options.site}")
    try:
        dash.serve_forever()
    except KeyboardInterrupt:
        click.echo("dashboard: stopping")
    finally:
        dash.stop()
