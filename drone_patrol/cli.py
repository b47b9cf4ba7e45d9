"""The ``drone-patrol`` command.

Subcommands live beside the code they drive (``drone_patrol/<part>/commands.py``)
and are imported only when used, so ``--help`` stays fast and a part that is not
built yet says so plainly. Every :class:`DronePatrolError` ends the command with
one line on stderr and its exit code, never a traceback; no float option of any of
them takes NaN or infinity (:mod:`drone_patrol.core.options`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from drone_patrol import __version__
from drone_patrol.core.errors import DronePatrolError
from drone_patrol.core.options import finite_options

#: name -> (module:attribute of the click command, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "plan": ("drone_patrol.planner.commands:plan", "Plan a patrol mission from an area file."),
    "fly": (
        "drone_patrol.controller.commands:fly",
        "Fly a planned mission (.plan, .waypoints, route .geojson).",
    ),
    "mission": ("drone_patrol.controller.commands:mission", "Upload, download or clear a vehicle's mission."),
    "status": ("drone_patrol.controller.commands:status", "Show a vehicle's state."),
    "sim": ("drone_patrol.sim.commands:sim", "Run the simulated ArduCopter (MAVLink on TCP)."),
    "sim-link": ("drone_patrol.sim.commands:sim_link", "Run a faulty-link proxy between controller and vehicle."),
    "sim-camera": ("drone_patrol.sim.camera_commands:sim_camera", "Render a simulated thermal flight over a scenario."),
    "detect": ("drone_patrol.vision.commands:detect", "Run the vision pipeline on recorded frames and telemetry."),
    "detect-objects": (
        "drone_patrol.vision.onnx.commands:detect_objects",
        "Find people and vehicles in images with the learned thermal model.",
    ),
    "detect-people": ("drone_patrol.vision.onnx.commands:detect_people", "Same as detect-objects (former name)."),
    "evaluate": (
        "drone_patrol.vision.onnx.commands:evaluate",
        "Measure the detector on your own images and COCO-style annotations (AP50, precision, recall).",
    ),
    "alerts": ("drone_patrol.alerts.commands:alerts", "Watch and acknowledge alerts; send a drone to look."),
    "broker": ("drone_patrol.alerts.commands:broker", "Run the embedded MQTT broker on 127.0.0.1."),
    "patrol": ("drone_patrol.service.commands:patrol", "Run the patrol service from a config file."),
    "demo": ("drone_patrol.service.commands:demo", "Run the whole system on embedded defaults."),
    "dashboard": ("drone_patrol.dashboard.commands:dashboard", "Serve the command-room dashboard."),
}


def _not_available(name: str, help_text: str) -> click.Command:
    def run(**_: Any) -> None:
        click.echo(f"drone-patrol {name}: not available yet in this version", err=True)
        sys.exit(3)

    return click.Command(
        name,
        callback=run,
        help=f"{help_text} (not available yet)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        target, help_text = entry
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module_name.startswith(exc.name):
                return _not_available(cmd_name, help_text)
            raise
        command = getattr(module, attr, None)
        if not isinstance(command, click.Command):
            return _not_available(cmd_name, help_text)
        if command.short_help is None and command.help is None:
            command.short_help = help_text
        return finite_options(command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help lists the static one-liners, so --help imports none of the parts.
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drone-patrol")
def cli() -> None:
    """drone-patrol: plan, fly and watch police night patrols by drone."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: runs ``cli`` and turns known errors into one line."""
    try:
        cli.main(args=argv, prog_name="drone-patrol", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except DronePatrolError as exc:
        click.echo(f"drone-patrol: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
