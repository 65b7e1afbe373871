"""A watch over HTTP outlives a collector restart: it reports the server unreachable and
carries on until the artifact arrives."""

from __future__ import annotations

from typing import Any

import pytest

import trainwire
from trainwire.client import ArtifactStatus, ClientError
from trainwire.testing import free_port, wait_for


def test_watch_survives_a_collector_restart(restartable: Any) -> None:
    """waiting → unreachable (collector stopped) → ... → available once it is back."""
    client = trainwire.Client(restartable.url)
    run = trainwire.init(
        name="restarts",
        endpoint=restartable.collector.endpoint,
        capture_pip=False,
        system_metrics=False,
        capture_console=False,
    )
    try:
        assert wait_for(lambda: any(r["id"] == run.id for r in client.runs()), timeout_s=30)
        states: list[ArtifactStatus] = []
        watch = client.watch_artifact(
            run.id, "after.txt", timeout=120, poll_interval=0.05, on_status=states.append
        )
        assert wait_for(lambda: [s.state for s in states] == ["waiting"]), states
        restartable.collector.stop()
        assert wait_for(lambda: states[-1].state == "unreachable", timeout_s=30), states
        assert not watch.done and states[-1].run_status == "running"
        restartable.collector.start()
        run.log_text("back again", "after.txt")
        artifact = watch.join(120)
        assert artifact is not None and artifact["name"] == "after.txt"
        assert states[-1].state == "available", states
    finally:
        run.finish()


def test_a_server_that_never_answered_fails_at_once() -> None:
    """Unreachable on the first poll is a configuration error, not something to wait out."""
    client = trainwire.Client(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ClientError, match="cannot reach") as failed:
        client.wait_for_artifact("any", "x.txt", timeout=60, poll_interval=0.05)
    assert failed.value.status is None
    with pytest.raises(ClientError, match="cannot reach"):
        client.wait_for_run("any", timeout=60, poll_interval=0.05)
