"""Waiting on a live run through the Client (file and URL): wait_for_run, wait_for_artifact,
watch_artifact with its status reports, timeouts and cancellation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import trainwire
from trainwire.client import ArtifactStatus
from trainwire.errors import ArtifactNotFoundError, RunNotFoundError
from trainwire.testing import wait_for


@pytest.fixture
def live(served: Any, client: trainwire.Client) -> Iterator[trainwire.Run]:
    """A run still running, sending to the served collector, visible to ``client``."""
    run = trainwire.init(
        name="live",
        endpoint=served.collector.endpoint,
        capture_pip=False,
        system_metrics=False,
        capture_console=False,
    )

    def visible() -> bool:
        try:
            return client.run(run.id)["status"] == "running"
        except RunNotFoundError:
            return False

    assert wait_for(visible, timeout_s=30)
    yield run
    run.finish()


def test_wait_for_run_times_out_while_running_then_returns_the_ended_run(
    client: trainwire.Client, live: trainwire.Run
) -> None:
    """A running run makes wait_for_run raise TimeoutError; once it ends, it returns it."""
    with pytest.raises(TimeoutError, match=f"run {live.id} still running"):
        client.wait_for_run(live.id, timeout=0.3, poll_interval=0.05)
    result: list[dict[str, Any]] = []
    waiter = threading.Thread(
        target=lambda: result.append(client.wait_for_run(live.id, timeout=60, poll_interval=0.05))
    )
    waiter.start()
    live.finish("killed")
    waiter.join(60)
    assert result and result[0]["id"] == live.id and result[0]["status"] == "killed"


def test_watch_artifact_reports_waiting_then_available(
    client: trainwire.Client, live: trainwire.Run
) -> None:
    """watch_artifact runs in the background, reports each change, and returns the metadata."""
    states: list[ArtifactStatus] = []
    watch = client.watch_artifact(
        live.id, "report.txt", timeout=60, poll_interval=0.05, on_status=states.append
    )
    assert wait_for(lambda: len(states) == 1)
    assert states[0].state == "waiting" and states[0].run_status == "running"
    assert not watch.done
    live.log_text("all good", "report.txt")
    artifact = watch.join(60)
    assert artifact is not None and artifact["name"] == "report.txt" and artifact["size"] == 8
    assert [s.state for s in states] == ["waiting", "available"]
    assert states[-1].artifact == artifact and watch.done


def test_wait_for_artifact_of_a_run_that_ended_without_it(
    client: trainwire.Client, live: trainwire.Run
) -> None:
    """When the run ends without the artifact the wait fails at once, saying so."""
    states: list[str] = []
    live.finish()
    with pytest.raises(ArtifactNotFoundError, match="ended \\(completed\\) without an artifact"):
        client.wait_for_artifact(
            live.id,
            "never.txt",
            timeout=60,
            poll_interval=0.05,
            on_status=lambda s: states.append(s.state),
        )
    assert states == ["run_ended"]


def test_wait_for_artifact_times_out(client: trainwire.Client, live: trainwire.Run) -> None:
    """An artifact that does not come in time raises TimeoutError, in a watch at join()."""
    with pytest.raises(TimeoutError, match="has no artifact 'late.txt'"):
        client.wait_for_artifact(live.id, "late.txt", timeout=0.3, poll_interval=0.05)
    watch = client.watch_artifact(live.id, "late.txt", timeout=0.3, poll_interval=0.05)
    with pytest.raises(TimeoutError, match="late.txt"):
        watch.join(60)


def test_a_cancelled_watch_ends_without_a_result(
    client: trainwire.Client, live: trainwire.Run
) -> None:
    """cancel() stops the watch at its next poll; join() then returns None."""
    watch = client.watch_artifact(live.id, "never.txt", poll_interval=0.05)
    watch.cancel()
    assert watch.join(60) is None
    assert watch.cancelled and watch.done
