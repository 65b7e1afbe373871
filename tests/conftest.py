"""Fixtures shared by every suite."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# `python -m pytest` puts the checkout on sys.path, which would make collector/, proto/
# and sdk/ importable as top-level packages; only the installed `trainwire` layout may be.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]

from trainwire.testing import CollectorProcess  # noqa: E402


@pytest.fixture(autouse=True)
def clean_environ(tmp_path: Path) -> Iterator[None]:
    """Keep TRAINWIRE_* and OTEL_* settings of the machine out of every test.

    Runs started in the test process keep their local directories under tmp_path.
    """
    saved = {k: v for k, v in os.environ.items() if k.startswith(("TRAINWIRE_", "OTEL_"))}
    for key in saved:
        del os.environ[key]
    os.environ["TRAINWIRE_DIR"] = str(tmp_path / "trainwire-runs")
    yield
    for key in [k for k in os.environ if k.startswith(("TRAINWIRE_", "OTEL_"))]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A real collector process on a free loopback port, writing tmp_path/collector/collector.db."""
    with CollectorProcess(tmp_path / "collector") as process:
        yield process
