"""``drone-patrol alerts watch|ack`` (the command room) and ``drone-patrol broker`` (the embedded broker)."""

from __future__ import annotations

import getpass
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from drone_patrol.alerts.broker import EmbeddedBroker
from drone_patrol.alerts.connection import BrokerConnectionError
from drone_patrol.alerts.subscriber import AlertSubscriber, default_client_id
from drone_patrol.alerts.watch import format_row, format_status, format_workflow, header
from drone_patrol.core.config import AlertsConfig, load_config
from drone_patrol.core.errors import AlertsError, ConfigError


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
    """Watch and acknowledge alerts in the command room."""


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
    if not as_json:
        out(header())
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    _on_sigterm(seen)
    try:
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


@click.command("broker")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=1883, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any).")
def broker(host: str, port: int) -> None:
    """Run the embedded MQTT broker (amqtt, MQTT 3.1.1, no authentication) on a loopback address.

    For the demo and for trying drone-patrol without Mosquitto; production uses
    Mosquitto with TLS, passwords and an ACL (configs/mosquitto/).
    """
    b = EmbeddedBroker(host=host, port=port).start()
    stop = threading.Event()
    _on_sigterm(stop)
    click.echo(f"embedded MQTT broker on {b.url} (MQTT 3.1.1, no authentication); Ctrl-C stops", err=True)
    crashed = False
    try:
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


def _on_sigterm(event: threading.Event) -> None:
    """End the command's wait loop on SIGTERM too (only the main thread may set handlers)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: event.set())
