"""``drone-patrol sim`` and ``drone-patrol sim-link``: the simulated vehicle and the faulty link, in the foreground."""

from __future__ import annotations

import math
import threading

import click

from drone_patrol.core.config import SimConfig
from drone_patrol.core.errors import InputError
from drone_patrol.core.signals import stop_on_sigterm
from drone_patrol.core.types import GeoPoint

_DEFAULTS = SimConfig()
_SITL_HOME = "-35.363261,149.165230,584,353"


def parse_home(text: str) -> tuple[GeoPoint, float]:
    """Parse "LAT,LON,ALT[,HDG]" into a home point and heading; InputError naming the value otherwise."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4):
        raise InputError(f"--home {text!r}: expected LAT,LON,ALT[,HDG] (degrees, degrees, metres AMSL, degrees)")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"--home {text!r}: every part must be a number") from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"--home {text!r}: every part must be a finite number")
    try:
        point = GeoPoint(values[0], values[1], values[2])
    except ValueError as exc:
        raise InputError(f"--home {text!r}: {exc}") from None
    return point, (values[3] if len(values) == 4 else 0.0) % 360.0


def parse_hostport(text: str, option: str) -> tuple[str, int]:
    """Parse "HOST:PORT" or "PORT"."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise InputError(f"{option} {text!r}: expected HOST:PORT or PORT") from None
    if not 0 < number < 65536:
        raise InputError(f"{option} {text!r}: port must be 1-65535")
    return host or "127.0.0.1", number


def _parse_params(values: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for text in values:
        name, sep, raw = text.partition("=")
        try:
            if not sep:
                raise ValueError
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            out[name.strip().upper()] = value
        except ValueError:
            raise InputError(f"--param {text!r}: expected NAME=NUMBER (a finite number)") from None
    return out


def _wait_forever(ready_line: str) -> None:
    """Print ``ready_line``, then return on Ctrl-C (SIGINT) or SIGTERM (what ``kill`` and service
    managers send). The line comes once both are handled: whoever stops the command on seeing it
    gets the cleanup, not a process killed half-way."""
    try:
        with stop_on_sigterm(threading.Event()) as stop:
            click.echo(ready_line)
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass


@click.command("sim")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="YAML config; its sim section sets defaults."
)
@click.option("--home", default=None, help=f"LAT,LON,ALT[,HDG] of home [default: sim.home or {_SITL_HOME}].")
@click.option("--host", default=None, help=f"Address to listen on [default: {_DEFAULTS.host}].")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help=f"TCP port [default: {_DEFAULTS.port}].")
@click.option(
    "--speedup", default=None, type=click.FloatRange(0.1, 100), help=f"Time scale [default: {_DEFAULTS.speedup:g}]."
)
@click.option("--seed", default=None, type=int, help=f"Random seed [default: {_DEFAULTS.seed}].")
@click.option("--udp-out", default=None, help="Also send to a UDP ground station at HOST:PORT (e.g. 127.0.0.1:14550).")
@click.option("--param", "param_values", multiple=True, help="Parameter override NAME=VALUE (repeatable).")
@click.option(
    "--serial",
    "serial",
    is_flag=True,
    help="Also offer the vehicle on a serial device (a pseudo-terminal) for --connect /dev/pts/N,57600.",
)
def sim(
    config_path: str | None,
    home: str | None,
    host: str | None,
    port: int | None,
    speedup: float | None,
    seed: int | None,
    udp_out: str | None,
    param_values: tuple[str, ...],
    serial: bool,
) -> None:
    """Run the simulated ArduCopter (MAVLink 2 on TCP, like SITL's serial0) until Ctrl-C."""
    from drone_patrol.core.config import load_config
    from drone_patrol.sim.copter import SimulatedCopter

    cfg = load_config(config_path).sim if config_path else _DEFAULTS
    point, heading = parse_home(home or cfg.home or _SITL_HOME)
    udp_text_in = udp_out or cfg.udp_out
    udp = parse_hostport(udp_text_in, "--udp-out") if udp_text_in else None
    params = {**{k.upper(): float(v) for k, v in cfg.params.items()}, **_parse_params(param_values)}
    speed = speedup if speedup is not None else cfg.speedup
    try:
        vehicle = SimulatedCopter(
            home=point,
            heading_deg=heading,
            host=host or cfg.host,
            port=port if port is not None else cfg.port,
            speedup=speed,
            seed=seed if seed is not None else cfg.seed,
            udp_out=udp,
            params=params,
            gps_ready_s=cfg.gps_ready_s,
            ekf_ready_s=cfg.ekf_ready_s,
        )
    except KeyError as exc:
        raise InputError(f"--param: {exc.args[0]}") from None
    vehicle.start()
    port_text = ""
    serial_port = None
    if serial:
        from drone_patrol.sim.serial_port import PtySerialPort

        serial_port = PtySerialPort(vehicle.host, vehicle.port).start()
        port_text = f", serial {serial_port.device}"
    udp_text = f", udp out {udp[0]}:{udp[1]}" if udp else ""
    udp_text += port_text
    try:
        _wait_forever(
            f"drone-patrol sim: ArduCopter on {vehicle.connection_string}{udp_text}, home {point.latitude_deg:.6f},"
            f"{point.longitude_deg:.6f},{point.altitude_m:g} hdg {heading:g}, speedup {speed:g}x (Ctrl-C to stop)"
        )
    finally:
        if serial_port is not None:
            serial_port.stop()
        vehicle.stop()


@click.command("sim-link")
@click.option("--listen", "listen", default="5770", show_default=True, help="[HOST:]PORT to accept clients on.")
@click.option("--to", "to", default="127.0.0.1:5760", show_default=True, help="HOST:PORT of the vehicle.")
@click.option("--drop", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Drop probability.")
@click.option("--dup", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Duplicate probability.")
@click.option("--delay-ms", default=0.0, show_default=True, type=click.FloatRange(0, 60000), help="Added latency.")
@click.option("--jitter-ms", default=0.0, show_default=True, type=click.FloatRange(0, 60000), help="Latency jitter.")
@click.option("--reorder", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Reorder probability.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed.")
@click.option(
    "--direction",
    type=click.Choice(["both", "up", "down"]),
    default="both",
    show_default=True,
    help="Where the faults apply: up is controller to vehicle, down vehicle to controller.",
)
def sim_link(
    listen: str,
    to: str,
    drop: float,
    dup: float,
    delay_ms: float,
    jitter_ms: float,
    reorder: float,
    seed: int,
    direction: str,
) -> None:
    """Run a faulty-link proxy between a controller and a vehicle until Ctrl-C."""
    from drone_patrol.sim.link import FaultyLink, LinkFaults

    listen_host, listen_port = parse_hostport(listen if ":" in listen else f"127.0.0.1:{listen}", "--listen")
    target = parse_hostport(to, "--to")
    faults = LinkFaults(drop, dup, delay_ms, jitter_ms, reorder)
    clean = LinkFaults()
    link = FaultyLink(
        target=target,
        listen_host=listen_host,
        listen_port=listen_port,
        seed=seed,
        up=faults if direction in ("both", "up") else clean,
        down=faults if direction in ("both", "down") else clean,
    )
    link.start()
    try:
        _wait_forever(
            f"drone-patrol sim-link: tcp:{listen_host}:{link.port} -> tcp:{target[0]}:{target[1]},"
            f" drop {drop:g} dup {dup:g} delay {delay_ms:g}+-{jitter_ms:g} ms reorder {reorder:g}"
            f" ({direction}) seed {seed} (Ctrl-C to stop)"
        )
    finally:
        link.stop()
        click.echo(f"drone-patrol sim-link: {link.stats.summary()}")
