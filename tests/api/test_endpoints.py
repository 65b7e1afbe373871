"""Every endpoint of the query API, served by a collector and by ``trainwire ui``."""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from typing import Any

Served = Any  # tests/api/conftest.py's Served: the API and the runs it serves


def q(text: str) -> str:
    return urllib.parse.quote(text)


def test_runs_lists_both_runs_with_their_fields(api: Served) -> None:
    """GET /api/runs lists the runs newest first with status, times, host, tags and labels."""
    status, body, _ = api.get("/api/runs")
    assert status == 200
    assert body["total"] == 2
    assert [r["name"] for r in body["runs"]] == ["beta", "alpha"]
    run = body["runs"][1]
    assert run["id"] == api.run_ids["alpha"]
    assert run["experiment"] == "vision"
    assert run["status"] == "completed"
    assert run["start_time"] <= run["end_time"]
    assert run["started_at"].endswith("Z") and run["duration_s"] >= 0
    assert run["host"] and run["world_size"] == 1
    assert run["labels"] == ["baseline"]
    assert run["tags"] == {"team": "rl"}


def test_runs_filters_by_expression_on_params_and_summary(api: Served) -> None:
    """where= keeps the runs the expression selects."""
    where = q("params.lr < 0.01 and summary.val_acc > 0.9")
    _, body, _ = api.get(f"/api/runs?where={where}")
    assert [r["name"] for r in body["runs"]] == ["alpha"]
    _, body, _ = api.get("/api/runs?where=" + q("params.model.act = 'relu' or name = 'x'"))
    assert body["total"] == 2
    _, body, _ = api.get(f"/api/runs?where={q('summary.loss > 0.5')}")
    assert body["total"] == 0  # the last logged loss is 1/40


def test_runs_filters_sort_and_page(api: Served) -> None:
    """experiment, status, tag, label, sort, limit and offset."""
    assert api.get("/api/runs?experiment=vision")[1]["total"] == 2
    assert api.get("/api/runs?experiment=other")[1]["total"] == 0
    assert api.get("/api/runs?status=completed")[1]["total"] == 2
    assert api.get("/api/runs?status=failed")[1]["total"] == 0
    assert api.get("/api/runs?tag=team%3Drl")[1]["total"] == 2
    assert api.get("/api/runs?tag=team%3Dcv")[1]["total"] == 0
    assert api.get("/api/runs?label=baseline")[1]["total"] == 2
    _, body, _ = api.get("/api/runs?sort=-summary.val_acc&limit=1")
    assert [r["name"] for r in body["runs"]] == ["alpha"] and body["total"] == 2
    _, body, _ = api.get("/api/runs?sort=params.lr&limit=1&offset=1")
    assert [r["name"] for r in body["runs"]] == ["beta"]


def test_run_by_id_prefix_or_name_has_params_summary_and_metrics(api: Served) -> None:
    """GET /api/runs/{id}: typed flattened params, summary, last/min/max/best of metrics."""
    run_id = api.run_ids["alpha"]
    for ref in (run_id, run_id[:8], "alpha"):
        status, run, _ = api.get(f"/api/runs/{ref}")
        assert status == 200 and run["id"] == run_id
    assert run["params"] == {"lr": 0.001, "model.depth": 18, "model.act": "relu"}
    assert run["summary"]["val_acc"] == 0.95
    assert run["summary"]["loss"] == 1 / 40
    val_loss = run["metrics"]["val_loss"]
    assert val_loss["goal"] == "min" and val_loss["best"] == 2 / 40
    assert val_loss["min"] == 2 / 40 and val_loss["max"] == 2.0 and val_loss["count"] == 40
    odd = run["metrics"]["odd"]
    assert odd["max"] == "Infinity" and odd["min"] == "-Infinity" and odd["nan_count"] == 1
    assert run["ranks"][0]["status"] == "completed"


def test_metrics_series_keep_nan_and_infinities(api: Served) -> None:
    """GET /metrics?key= returns the series as columns; NaN and ±inf come back as such."""
    run_id = api.run_ids["alpha"]
    status, body, _ = api.get(f"/api/runs/{run_id}/metrics?key=odd")
    assert status == 200
    (series,) = body["metrics"]
    assert series["key"] == "odd" and series["source"] == "logged" and series["total"] == 40
    assert series["step"] == list(range(40))
    assert series["value"][2:7] == [2.0, "NaN", "Infinity", "-Infinity", 6.0]
    assert series["time"] == sorted(series["time"])


def test_metrics_step_range_limit_and_downsampling(api: Served) -> None:
    """from_step/to_step bound the steps; max_points shrinks a series keeping min and max."""
    run_id = api.run_ids["alpha"]
    _, body, _ = api.get(f"/api/runs/{run_id}/metrics?key=loss&from_step=10&to_step=19")
    assert body["metrics"][0]["step"] == list(range(10, 20))
    _, body, _ = api.get(f"/api/runs/{run_id}/metrics?key=loss&limit=5")
    assert body["metrics"][0]["step"] == [0, 1, 2, 3, 4] and body["metrics"][0]["total"] == 40
    _, body, _ = api.get(f"/api/runs/{run_id}/metrics?key=loss&max_points=8")
    series = body["metrics"][0]
    assert series["downsampled"] and len(series["value"]) <= 8
    assert max(series["value"]) == 1.0 and min(series["value"]) == 1 / 40
    _, body, _ = api.get(f"/api/runs/{run_id}/metrics")
    assert {s["key"] for s in body["metrics"]} >= {"loss", "val_loss", "odd"}


def test_artifacts_listed_and_streamed_with_their_digest(api: Served) -> None:
    """GET /artifacts lists name, kind, sha256, size, mime; /artifacts/{name} returns the bytes."""
    run_id = api.run_ids["beta"]
    _, body, _ = api.get(f"/api/runs/{run_id}/artifacts")
    (artifact,) = body["artifacts"]
    expected = b"hello from beta"
    assert artifact["name"] == "notes/readme.txt" and artifact["kind"] == "text"
    assert artifact["size"] == len(expected)
    assert artifact["sha256"] == hashlib.sha256(expected).hexdigest()
    status, data, headers = api.get(f"/api/runs/{run_id}/artifacts/notes/readme.txt")
    assert status == 200 and data == expected
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["X-Trainwire-Sha256"] == artifact["sha256"]


def test_events_in_time_order_filtered_and_paged(api: Served) -> None:
    """GET /events returns run events and alerts; name=, after= and limit= select them."""
    run_id = api.run_ids["alpha"]
    _, body, _ = api.get(f"/api/runs/{run_id}/events")
    names = [e["name"] for e in body["events"]]
    assert "ml.run.start" in names and "ml.alert" in names and names[-1] == "ml.run.end"
    _, body, _ = api.get(f"/api/runs/{run_id}/events?name=ml.alert")
    (alert,) = body["events"]
    assert alert["body"]["title"] == "plateau"
    _, page, _ = api.get(f"/api/runs/{run_id}/events?limit=2")
    assert len(page["events"]) == 2 and page["next_after"] == page["events"][1]["time"]
    _, rest, _ = api.get(f"/api/runs/{run_id}/events?after={page['next_after']}")
    assert [e["id"] for e in page["events"] + rest["events"]] == [
        e["id"] for e in api.get(f"/api/runs/{run_id}/events")[1]["events"]
    ]


def test_openapi_document_lists_every_route(api: Served) -> None:
    """GET /api/openapi.json is an OpenAPI 3 document of the served paths."""
    status, doc, _ = api.get("/api/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/metrics",
        "/api/runs/{run_id}/histograms",
        "/api/runs/{run_id}/artifacts",
        "/api/runs/{run_id}/artifacts/{name}",
        "/api/runs/{run_id}/events",
        "/api/runs/{run_id}/stream",
    }


def test_openapi_document_has_every_route_of_the_app_with_its_parameters(api: Served) -> None:
    """Each route the application serves under /api is documented (and nothing else), and
    each documented query parameter is one the route accepts (others are a 400)."""
    from trainwire.exporters.sqlite.api.app import make_app
    from trainwire.exporters.sqlite.query import RunQuery

    with RunQuery(api.db_path) as query:
        app = make_app(query)
        served = {
            re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", resource.canonical)
            for resource in app.router.resources()
            if resource.canonical.startswith("/api/") and resource.canonical != "/api/openapi.json"
        }
    _, doc, _ = api.get("/api/openapi.json")
    assert set(doc["paths"]) == served
    run_id = api.run_ids["alpha"]
    for path, item in doc["paths"].items():
        if path.endswith("{name}"):
            continue
        for parameter in item["get"]["parameters"]:
            if parameter["in"] != "query":
                continue
            value = "1" if parameter["schema"]["type"] == "integer" else "x"
            url = path.replace("{run_id}", run_id) + f"?{parameter['name']}={value}"
            status, body, _ = api.get(url)
            assert "unknown query parameter" not in str(body), (url, body)


def test_index_page_lists_runs_from_the_api(api: Served) -> None:
    """GET / is an HTML page that reads /api/runs."""
    status, page, headers = api.get("/", token=None)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"api/runs" in page
