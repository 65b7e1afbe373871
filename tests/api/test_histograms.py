"""GET /api/runs/{id}/histograms: run.log_histogram and OpenTelemetry histograms, read back."""

from __future__ import annotations

from typing import Any


def test_logged_and_opentelemetry_histograms_come_back(api: Any) -> None:
    """Each distribution is a series of points with count, sum, min, max and its buckets."""
    run_id = api.run_ids["alpha"]
    status, body, _ = api.get(f"/api/runs/{run_id}/histograms")
    assert status == 200 and body["run_id"] == run_id
    by_key = {series["key"]: series for series in body["histograms"]}
    assert set(by_key) == {"weights", "app.batch_ms"}
    weights = by_key["weights"]
    assert weights["source"] == "logged" and weights["type"] == "histogram"
    (point,) = weights["points"]
    assert point["step"] == 39 and point["count"] == 4 and point["sum"] == 4.5
    assert point["min"] == 0.5 and point["max"] == 2.0 and sum(point["counts"]) == 4
    assert len(point["counts"]) == len(point["bounds"]) + 1
    batch = by_key["app.batch_ms"]
    assert batch["source"] == "system" and batch["unit"] == "ms"
    assert batch["attributes"] == {"device": "cuda:0"}
    assert batch["points"][-1]["sum"] == 12.5 and batch["points"][-1]["step"] is None


def test_histograms_filters(api: Any) -> None:
    """key keeps one name; a step range without the point keeps the series, empty."""
    run_id = api.run_ids["alpha"]
    _, body, _ = api.get(f"/api/runs/{run_id}/histograms?key=weights")
    assert [s["key"] for s in body["histograms"]] == ["weights"]
    _, body, _ = api.get(f"/api/runs/{run_id}/histograms?key=weights&to_step=38")
    assert body["histograms"][0]["points"] == [] and body["histograms"][0]["total"] == 0
    _, body, _ = api.get(f"/api/runs/{run_id}/histograms?key=nope")
    assert body["histograms"] == []


def test_histograms_bad_input_is_400_and_unknown_run_404(api: Any) -> None:
    """Malformed parameters name the problem; an unknown run is a 404."""
    run_id = api.run_ids["alpha"]
    status, body, _ = api.get(f"/api/runs/{run_id}/histograms?limit=0")
    assert status == 400 and "limit must be 1 or more" in body["error"]
    status, body, _ = api.get(f"/api/runs/{run_id}/histograms?from_step=5&to_step=1")
    assert status == 400 and "after to_step" in body["error"]
    status, body, _ = api.get(f"/api/runs/{run_id}/histograms?max_points=5")
    assert status == 400 and "unknown query parameter 'max_points'" in body["error"]
    status, body, _ = api.get("/api/runs/nosuchrun/histograms")
    assert status == 404 and "nosuchrun" in body["error"]
