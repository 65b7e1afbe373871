"""``trainwire collector``: run or validate a collector config."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from trainwire.collector.components import default_factories
from trainwire.collector.config import CollectorConfig, load_config
from trainwire.collector.service import Service
from trainwire.errors import ConfigError

__all__ = ["collector"]

_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_CONFIG_HELP = (
    "Collector config in the OpenTelemetry Collector format (default: ./otel-config.yaml)."
)


def _load(path: Path) -> CollectorConfig:
    try:
        return load_config(path, default_factories())
    except ConfigError as exc:
        lines = "\n".join(f"  {line}" for line in exc.problems)
        click.echo(f"trainwire collector: invalid config {path}:\n{lines}", err=True)
        sys.exit(2)


@click.group(invoke_without_command=True)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("otel-config.yaml"),
    show_default=True,
    help=_CONFIG_HELP,
)
@click.pass_context
def collector(ctx: click.Context, config_path: Path) -> None:
    """Run the collector: receive OTLP, export to the run store and elsewhere.

    SIGTERM or SIGINT stops the receivers, drains the exporters and exits 0.
    """
    if ctx.invoked_subcommand is not None:
        return
    config = _load(config_path)
    logging.basicConfig(
        level=_LOG_LEVELS[config.log_level],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(Service(config).run())
    except (OSError, ConfigError) as exc:  # a port in use, a missing extra or extension
        click.echo(f"trainwire collector: {exc}", err=True)
        sys.exit(1)


@collector.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("otel-config.yaml"),
    show_default=True,
    help=_CONFIG_HELP,
)
def validate(config_path: Path) -> None:
    """Check a config without starting anything; exit 2 and name each problem if it is wrong."""
    config = _load(config_path)
    pipelines = ", ".join(sorted(config.pipelines))
    click.echo(f"{config_path}: valid (pipelines: {pipelines})")
