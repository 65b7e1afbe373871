"""Delivery to a collector that is late or absent: retried, bounded, never hanging."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

import trainwire
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess, free_port


def test_data_logged_before_the_collector_starts_is_delivered(tmp_path: Path) -> None:
    """Points logged while the collector is down are retried and stored once it comes up."""
    port = free_port()
    config = DEFAULT_TEST_CONFIG.replace("127.0.0.1:0", f"127.0.0.1:{port}")
    run = trainwire.init(name="early", endpoint=f"127.0.0.1:{port}")
    for step in range(200):
        run.log({"loss": float(step)}, step=step)
    time.sleep(0.5)  # the sender has tried and failed at least once by now
    with CollectorProcess(tmp_path / "late", config=config) as collector:
        run.finish(timeout_s=30)
        collector.stop()
        with StoreReader(collector.db_path) as store:
            assert store.run(run.id).status == "completed"
            assert [p[0] for p in store.points(run.id, "loss")] == list(range(200))


def test_finish_with_no_collector_returns_within_its_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """finish() against an unreachable collector gives up after timeout_s and says what was lost."""
    run = trainwire.init(endpoint=f"127.0.0.1:{free_port()}")
    run.log({"x": 1.0})
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="trainwire"):
        run.finish(timeout_s=1.0)
    assert time.monotonic() - started < 10
    assert "finish() gave up after 1.0s" in caplog.text and "trainwire sync" in caplog.text
    assert run.finished
