"""Run labels, run names from events, expiry of ended runs, and the cardinality guard."""

from __future__ import annotations

import logging

import pytest

from trainwire import semconv

from .conftest import Harness, event, gauge, metrics_request, run_resource


def _log(
    harness: Harness, loss: float, step: int, *, t: int, run_id: str = "r1", rank: int = 0
) -> None:
    """What ``run.log({"loss": loss}, step=step)`` sends."""
    request, metrics = metrics_request(run_resource(run_id, rank))
    gauge(metrics, "loss", loss, t=t)
    gauge(metrics, semconv.METRIC_STEP, float(step), t=t)
    harness.send(request)


def test_run_series_carry_run_labels_and_the_step_is_its_own_gauge(harness: Harness) -> None:
    """A run's loss has run_id, run_name, experiment and rank labels; the step is `ml_step`."""
    harness.send(event(run_resource(), semconv.EVENT_RUN_START, {"name": "bright-owl"}))
    _log(harness, 0.5, 7, t=1)
    _log(harness, 0.25, 8, t=2)
    body = harness.body()
    labels = (
        'experiment="mnist",host_name="node-1",instance="r1/0",job="mnist",'
        'otel_scope_name="trainwire",rank="0",run_id="r1",run_name="bright-owl"'
    )
    assert f"loss{{{labels}}} 0.25\n" in body
    assert f"ml_step{{{labels}}} 8.0\n" in body
    assert "ml_step=" not in body


def test_a_point_attribute_cannot_pose_as_a_run_label(harness: Harness) -> None:
    """Attributes that sanitize to run_id or rank do not replace the run's own labels."""
    request, metrics = metrics_request(run_resource())
    gauge(metrics, "loss", 0.5, **{"run.id": "forged", "rank": "9", "split": "val"})
    harness.send(request)
    body = harness.body()
    assert 'run_id="r1"' in body and 'rank="0"' in body and 'split="val"' in body
    assert "forged" not in body and 'rank="9"' not in body


def test_a_rename_relabels_the_run_without_a_second_series(harness: Harness) -> None:
    """After ``ml.run.rename`` the run's series carry the new name, and only it."""
    harness.send(event(run_resource(), semconv.EVENT_RUN_START, {"name": "old"}))
    _log(harness, 0.5, 1, t=1)
    harness.send(event(run_resource(), semconv.EVENT_RUN_RENAME, {"name": "new"}))
    body = harness.body()
    assert 'run_name="new"' in body and 'run_name="old"' not in body


def test_a_name_on_the_resource_is_used_when_no_event_named_the_run(harness: Harness) -> None:
    """Senders that put ``ml.run.name`` on the resource get it as run_name."""
    request, metrics = metrics_request(run_resource(**{semconv.ML_RUN_NAME: "from-resource"}))
    gauge(metrics, "loss", 1.0)
    harness.send(request)
    assert 'run_name="from-resource"' in harness.body()


def test_an_ended_run_disappears_after_metric_expiration(harness: Harness) -> None:
    """Series of a rank that sent ``ml.run.end`` go metric_expiration_s later; others stay."""
    _log(harness, 0.5, 1, t=1, rank=0)
    _log(harness, 0.6, 1, t=1, rank=1)
    harness.send(event(run_resource(rank=0), semconv.EVENT_RUN_END, {"status": "completed"}))
    harness.clock.now += 299
    _log(harness, 0.7, 2, t=2, rank=1)  # rank 1 keeps logging
    assert 'rank="0"' in harness.body()
    harness.clock.now += 2
    body = harness.body()
    assert 'rank="0"' not in body
    assert 'loss{experiment="mnist"' in body and 'rank="1"' in body
    assert 'ml_run_rank="0"' not in body  # its target_info went with it


def test_series_that_stop_updating_expire(harness: Harness) -> None:
    """A series not updated for metric_expiration_s is no longer served."""
    request, metrics = metrics_request({"host.name": "node-1"}, scope="")
    gauge(metrics, "hw.power", 250.0, unit="W")
    harness.send(request)
    assert "hw_power_watts" in harness.body()
    harness.clock.now += 301
    assert harness.body() == ""


def test_cardinality_guard_refuses_new_series_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past max_series new series are refused, logged once and counted; known ones update."""
    harness = Harness(max_series=3)
    try:
        with caplog.at_level(logging.WARNING):
            for round_ in range(2):
                request, metrics = metrics_request({"service.name": "svc"}, scope="")
                for user in range(10):
                    gauge(metrics, "requests", float(round_), t=round_ + 1, user=str(user))
                harness.send(request)
        body = harness.body()
        assert body.count("requests{") == 3
        assert 'requests{job="svc",user="0"} 1.0' in body
        warnings = [r for r in caplog.records if "max_series" in r.getMessage()]
        assert len(warnings) == 1
        assert "Raise max_series" in warnings[0].getMessage()
        refused = harness.host.telemetry.counter(
            "otelcol_exporter_prometheus_refused_series", "", ("exporter",)
        )
        assert refused.value(exporter="prometheus") == 14
    finally:
        harness.close()


def test_self_telemetry_counts_points_and_live_series(harness: Harness) -> None:
    """The collector's own metrics say how many points were taken and series are served."""
    _log(harness, 0.5, 1, t=1)
    samples = {(s.name, s.value) for s in harness.host.telemetry.collect()}
    assert ("otelcol_exporter_sent_metric_points", 2.0) in samples
    assert ("otelcol_exporter_prometheus_series", 2.0) in samples


def test_metrics_answers_while_running_and_shutdown_stops_listening(harness: Harness) -> None:
    """/metrics answers while running; after shutdown (twice) the port is closed."""
    _log(harness, 0.5, 1, t=1)
    assert "loss{" in harness.scrape(path="/metrics")[1]
    harness.close()
    harness.close()
    with pytest.raises(OSError):
        harness.scrape()
