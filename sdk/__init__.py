"""trainwire: experiment tracking for machine learning, built on OpenTelemetry.

::

    import trainwire

    with trainwire.init(name="baseline", config={"lr": 0.01}) as run:
        for step in range(100):
            run.log({"loss": 1 / (step + 1)}, step=step)
        run.summary({"best_loss": 0.01})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trainwire import _active
from trainwire._run import Run
from trainwire._start import init
from trainwire.errors import (
    ConfigError,
    InvalidValueError,
    RunFinishedError,
    RunNotFoundError,
    TrainwireError,
)

if TYPE_CHECKING:
    from trainwire.client import Client

__all__ = [
    "Client",
    "ConfigError",
    "InvalidValueError",
    "Run",
    "RunFinishedError",
    "RunNotFoundError",
    "TrainwireError",
    "finish",
    "init",
    "log",
]

__version__ = "0.1.0"


def log(metrics: Mapping[str, Any], step: int | None = None) -> None:
    """Log metrics to the active run (see :meth:`Run.log`)."""
    _require_run().log(metrics, step=step)


def finish(status: str | None = None, *, timeout_s: float | None = None) -> None:
    """Finish the active run, if any (see :meth:`Run.finish`)."""
    run = _active.get()
    if run is not None:
        run.finish(status, timeout_s=timeout_s)


def _require_run() -> Run:
    run = _active.get()
    if run is None:
        raise RunFinishedError("no active run; call trainwire.init() first")
    return run


def __getattr__(name: str) -> Any:
    if name == "run":  # trainwire.run: the active run, or None
        return _active.get()
    if name == "Client":  # loaded on first use: scripts that only log never import it
        from trainwire.client import Client

        return Client
    raise AttributeError(f"module 'trainwire' has no attribute {name!r}")
