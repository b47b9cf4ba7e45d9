"""``drone-patrol alerts watch|ack|eyes-on|release`` (the command room) and ``drone-patrol broker``."""

from __future__ import annotations

import getpass
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from drone_patrol.alerts.broker import EmbeddedBroker
from drone_patrol.alerts.command_client import CommandClient, CommandRefusedError, result_summary
from drone_patrol.alerts.connection import BrokerConnectionError, ClientSettings
from drone_patrol.alerts.eyes_on import CommandState
from drone_patrol.alerts.subscriber import AlertSubscriber, default_client_id
from drone_patrol.alerts.watch import format_row, format_status, format_workflow, header
from drone_patrol.core.config import AlertsConfig, load_config
from drone_patrol.core.errors import AlertsError, ConfigError
from drone_patrol.core.signals import stop_on_sigterm


def _connection_options(fn: Any) -> Any:
    options = [
        click.option(
            "--broker",
            "broker_url",
            metavar="URL",
            help="mqtt://HOST:PORT or mqtts://HOST:PORT (default: alerts.broker_url).",
        ),
        click.option("--config", "config_path", type=click.Path(path_type=Path), help="YAML config (alerts section)."),
        click.option("--username", help="Broker user name."),
        click.option("--password-env", metavar="VAR", help="Environment variable holding the password."),
        click.option("--password-file", type=click.Path(path_type=Path), help="File holding the password."),
        click.option("--ca-file", type=click.Path(path_type=Path), help="CA certificate (PEM) for TLS."),
        click.option("--cert", "cert_file", type=click.Path(path_type=Path), help="Client certificate (PEM)."),
        click.option("--key", "key_file", type=click.Path(path_type=Path), help="Client key (PEM)."),
        click.option(
            "--mqtt-version", type=click.Choice(["auto", "5", "3.1.1"]), help="Protocol (auto: 5, else 3.1.1)."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _alerts_config(config_path: Path | None, **given: Any) -> AlertsConfig:
    """The ``alerts`` section of the config (or defaults and the environment) with the command-line values."""
    base = load_config(config_path).alerts
    names = {
        "broker_url": "broker_url",
        "username": "username",
        "password_env": "password_env",
        "password_file": "password_file",
        "ca_file": "tls_ca_file",
        "cert_file": "tls_cert_file",
        "key_file": "tls_key_file",
        "mqtt_version": "mqtt_version",
    }
    updates = {names[k]: v for k, v in given.items() if k in names and v is not None}
    try:
        return AlertsConfig.model_validate({**base.model_dump(), **updates})
    except ValueError as exc:
        raise ConfigError(f"alerts options: {exc}") from None


@click.group("alerts")
def alerts() -> None:
    """Watch and acknowledge alerts in the command room; send a drone to look (eyes-on, release)."""


@alerts.command("watch")
@_connection_options
@click.option("--site", default="+", show_default=True, help="Site id, or + for every site.")
@click.option("--drone", default="+", show_default=True, help="Drone id, or + for every drone.")
@click.option("--json", "as_json", is_flag=True, help="Print each alert as one JSON line (the CloudEvents envelope).")
@click.option("--archive", type=click.Path(path_type=Path), help="SQLite archive of alerts and acks (also dedups).")
@click.option("--client-id", help="MQTT client id of the persistent session (default: per host).")
@click.option("--no-persistent", is_flag=True, help="Clean session: miss what is sent while away.")
@click.option("--share-group", metavar="GROUP", help="Shared subscription $share/GROUP/... (clustered brokers).")
@click.option("--status/--no-status", default=True, show_default=True, help="Show drones' status changes.")
@click.option("--strict", is_flag=True, help="Also validate every alert against the JSON Schema files.")
@click.option("--count", type=int, help="Exit after this many alerts.")
@click.option("--timeout", "timeout_s", type=float, help="Exit after this many seconds.")
def watch(
    site: str,
    drone: str,
    as_json: bool,
    archive: Path | None,
    client_id: str | None,
    no_persistent: bool,
    share_group: str | None,
    status: bool,
    strict: bool,
    count: int | None,
    timeout_s: float | None,
    config_path: Path | None,
    **conn: Any,
) -> None:
    """Show alerts live as they arrive, each once (deduplicated by event id).

    A table by default (time, drone, kind, severity, place, area, figures, event id);
    ``--json`` prints JSON lines. The session is persistent: alerts sent while the
    watcher was away arrive when it comes back (same host, or the same --client-id).
    """
    cfg = _alerts_config(config_path, **conn)
    seen = threading.Event()
    received = [0]
    lock = threading.Lock()

    def out(line: str) -> None:
        with lock:
            click.echo(line)

    def on_alert(envelope: dict[str, Any]) -> None:
        out(json.dumps(envelope, separators=(",", ":")) if as_json else format_row(envelope))
        received[0] += 1
        if count is not None and received[0] >= count:
            seen.set()

    def on_status(site_: str, drone_: str, doc: dict[str, Any]) -> None:
        if as_json:
            out(json.dumps({"status": doc, "site": site_, "drone": drone_}, separators=(",", ":")))
        else:
            out(format_status(site_, drone_, doc))

    def on_ack(envelope: dict[str, Any]) -> None:
        data = envelope["data"]
        if as_json:
            out(json.dumps(envelope, separators=(",", ":")))
        else:
            out(f"ack {data['target_id']} by {data['by']}" + (f": {data['note']}" if data["note"] else ""))

    def on_workflow(envelope: dict[str, Any]) -> None:
        out(json.dumps(envelope, separators=(",", ":")) if as_json else format_workflow(envelope))

    sub = AlertSubscriber.from_config(
        cfg,
        site=site,
        drone=drone,
        on_alert=on_alert,
        on_status=on_status if status else None,
        on_ack=on_ack,
        on_workflow=on_workflow,
        client_id=client_id or (default_client_id() if not no_persistent else None),
        persistent=not no_persistent,
        archive_path=archive,
        share_group=share_group,
        json_schema=strict,
    )
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        with stop_on_sigterm(seen):
            if not as_json:
                out(header())  # once SIGTERM is handled, like the commands that wait
            sub.start(wait_s=5.0 if timeout_s is None else min(5.0, timeout_s))
            if not sub.connected:
                click.echo(f"waiting for broker {cfg.broker_url} ({sub.state}); retrying", err=True)
            while not seen.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if sub.connection_error is not None and not sub.connected:
                    raise sub.connection_error
                seen.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sub.stop()
    if count is not None and received[0] < count:
        raise AlertsError(f"watch: {received[0]} of {count} alert(s) within {timeout_s} s")


@alerts.command("ack")
@_connection_options
@click.argument("target_id", metavar="ID")
@click.option("--by", default=None, help="Who acknowledges (default: the login name).")
@click.option("--note", default="", help="A note for the crew (e.g. 'unit 12 dispatched').")
@click.option("--site", help="Site of the drone (needed without an --archive that has the alert).")
@click.option("--drone", help="Drone that sent the alert (needed without an --archive that has the alert).")
@click.option("--archive", type=click.Path(path_type=Path), help="The watcher's archive, to find the drone.")
def ack(
    target_id: str,
    by: str | None,
    note: str,
    site: str | None,
    drone: str | None,
    archive: Path | None,
    config_path: Path | None,
    **conn: Any,
) -> None:
    """Acknowledge one alert (its event id) or a whole incident (its incident id)."""
    if (site is None) != (drone is None):
        raise ConfigError("alerts ack: give both --site and --drone, or neither (then --archive finds them)")
    if site is None and archive is None:
        raise ConfigError("alerts ack: give --site and --drone, or the watcher's --archive to look the alert up")
    if archive is not None and not archive.is_file():
        raise ConfigError(f"alerts ack: archive {archive} not found")
    cfg = _alerts_config(config_path, **conn)
    sub = AlertSubscriber.from_config(cfg, persistent=False, archive_path=archive, subscribe_alerts=False)
    try:
        sub.start(wait_s=5.0)
        if not sub.wait_connected(5.0):
            raise BrokerConnectionError(cfg.broker_url, -1, f"not reachable ({sub.state})")
        ack_id = sub.ack(target_id, by=by or getpass.getuser(), note=note, site=site, drone=drone)
    finally:
        sub.stop()
    click.echo(f"acknowledged {target_id} (ack {ack_id})")


def _command_client(config_path: Path | None, site: str, conn: dict[str, Any]) -> CommandClient:
    cfg = _alerts_config(config_path, **conn)
    settings = ClientSettings.from_config(cfg)
    room = CommandClient(settings.address.url, site, settings=settings, prefix=cfg.topic_prefix)
    room.start(wait_s=5.0)
    if not room.connected:
        room.stop()
        raise BrokerConnectionError(cfg.broker_url, -1, "not reachable")
    return room


def _follow(room: CommandClient, command_id: str, until: tuple[str, ...], timeout_s: float) -> None:
    """Print the drone's answers to ``command_id`` until one of ``until`` (refused and failed end it too)."""
    shown = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        results = room.results(command_id)
        for r in results[shown:]:
            click.echo(f"{time.strftime('%H:%M:%S', time.localtime(r.time_s))} {result_summary(r)}")
            if r.state.value in until or r.state in (CommandState.REFUSED, CommandState.FAILED):
                if r.state in (CommandState.REFUSED, CommandState.FAILED):
                    code = r.reason.code if r.reason else r.state.value
                    raise CommandRefusedError(code, result_summary(r), command_id)
                return
        shown = len(results)
        time.sleep(0.1)
    raise AlertsError(f"command {command_id}: no answer in {' or '.join(until)} within {timeout_s:.0f} s")


@alerts.command("eyes-on")
@_connection_options
@click.argument("drone")
@click.option("--site", required=True, help="Site of the drone.")
@click.option("--lat", "lat_deg", type=float, required=True, help="Latitude of the point, degrees.")
@click.option("--lon", "lon_deg", type=float, required=True, help="Longitude of the point, degrees.")
@click.option("--duration", "duration_s", type=float, default=120.0, show_default=True, help="Seconds to watch.")
@click.option("--altitude", "altitude_m", type=float, help="Altitude above home, m (default: the patrol's).")
@click.option("--by", default=None, help="Who commands (default: the login name).")
@click.option("--until", type=click.Choice(["accepted", "on_station", "done"]), default="accepted", show_default=True,
              help="Follow the drone's answers until this step (done: completed or released).")  # fmt: skip
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True, help="Seconds to follow.")
def eyes_on(
    drone: str, site: str, lat_deg: float, lon_deg: float, duration_s: float, altitude_m: float | None,
    by: str | None, until: str, timeout_s: float, config_path: Path | None, **conn: Any,
) -> None:  # fmt: skip
    """Send DRONE to look at a point: it leaves its patrol, watches the point, then resumes the patrol.

    Prints the command id and the drone's answers (accepted or refused with the reason,
    en_route, on_station, completed or released); exits non-zero when refused or failed.
    """
    room = _command_client(config_path, site, conn)
    try:
        cid = room.eyes_on(drone, lat_deg, lon_deg, duration_s, by or getpass.getuser(), altitude_m=altitude_m)
        click.echo(f"eyes-on {cid} sent to {site}/{drone}")
        ends = ("completed", "released") if until == "done" else (until,)
        _follow(room, cid, ends, timeout_s)
    finally:
        room.stop()


@alerts.command("release")
@_connection_options
@click.argument("drone")
@click.argument("command_id")
@click.option("--site", required=True, help="Site of the drone.")
@click.option("--by", default=None, help="Who releases (default: the login name).")
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True, help="Seconds to wait.")
def release(
    drone: str, command_id: str, site: str, by: str | None, timeout_s: float, config_path: Path | None, **conn: Any
) -> None:
    """End DRONE's eyes-on COMMAND_ID now: the drone goes back to its patrol."""
    room = _command_client(config_path, site, conn)
    try:
        room.release(drone, command_id, by or getpass.getuser())
        _follow(room, command_id, ("released", "completed"), timeout_s)
    finally:
        room.stop()


@click.command("broker")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=1883, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any).")
def broker(host: str, port: int) -> None:
    """Run the embedded MQTT broker (amqtt, MQTT 3.1.1, no authentication) on a loopback address.

    For the demo and for trying drone-patrol without Mosquitto; production uses
    Mosquitto with TLS, passwords and an ACL (configs/mosquitto/).
    """
    b = EmbeddedBroker(host=host, port=port).start()
    crashed = False
    try:
        with stop_on_sigterm(threading.Event()) as stop:
            # announced once SIGTERM is handled: a stop sent on seeing the line gets the cleanup
            click.echo(f"embedded MQTT broker on {b.url} (MQTT 3.1.1, no authentication); Ctrl-C stops", err=True)
            while not stop.is_set():
                if not b.running:
                    crashed = True
                    break
                stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()
    if crashed:
        click.echo("drone-patrol: error: the embedded broker stopped unexpectedly", err=True)
        sys.exit(1)
