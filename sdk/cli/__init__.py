"""The ``trainwire`` command line."""

from __future__ import annotations

import importlib

import click

from trainwire.cli.compare import compare
from trainwire.cli.data import artifacts, download, metrics
from trainwire.cli.export import export
from trainwire.cli.manage import gc, rename, rm
from trainwire.cli.runs import runs
from trainwire.cli.show import show
from trainwire.cli.sync import sync

__all__ = ["main"]

# Commands that import server-side code load only when used, so `trainwire runs` stays quick.
_LAZY = {"collector": "trainwire.collector.cli:collector", "ui": "trainwire.cli.ui:ui"}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY:
            module, _, attr = _LAZY[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Group)
@click.version_option(package_name="trainwire")
def main() -> None:
    """trainwire: experiment tracking for machine learning, built on OpenTelemetry."""


main.add_command(runs)
main.add_command(show)
main.add_command(sync)
for _command in (artifacts, compare, download, export, gc, metrics, rename, rm):
    main.add_command(_command)
