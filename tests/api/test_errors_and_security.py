"""Bad input gets a JSON error naming the problem (400/401/404), never a 500 or a stray file."""

from __future__ import annotations

import http.client
import urllib.parse
from typing import Any

import pytest

Served = Any  # tests/api/conftest.py's Served

BAD_FILTERS = [
    ("params.lr <", "expected a value", 11),
    ("params.lr < 0.01 and", "expected a field", 20),
    ("(status = 'running'", "expected ')'", 19),
    ("paramz.lr = 1", "unknown field 'paramz'", 0),
    ("params.lr ~ 1", "unexpected character '~'", 10),
    ("status = 'x' or or", "expected a field", 16),
    ("params = 1", "'params' needs a key", 0),
    ("params.lr = 1 1", "unexpected '1'", 14),
]


@pytest.mark.parametrize(("where", "message", "position"), BAD_FILTERS)
def test_bad_filter_is_a_400_pointing_at_the_mistake(
    api: Served, where: str, message: str, position: int
) -> None:
    """A malformed where= expression is refused with its position, never run."""
    status, body, _ = api.get("/api/runs?where=" + urllib.parse.quote(where))
    assert status == 400
    assert message in body["error"]
    assert f"at position {position} " in body["error"]


def test_filter_values_are_bound_never_pasted(api: Served) -> None:
    """Quotes and SQL in a filter value are data: they match nothing and break nothing."""
    for where in (
        "name = 'x'' OR 1=1 --'",
        "name = \"alpha' OR '1'='1\"",
        "params.lr = '0); DROP TABLE runs; --'",
    ):
        status, body, _ = api.get("/api/runs?where=" + urllib.parse.quote(where))
        assert status in (200, 400), body
        if status == 200:
            assert body["total"] == 0
    assert api.get("/api/runs")[1]["total"] == 2


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/runs?limit=abc", 400, "limit must be an integer"),
        ("/api/runs?limit=-1", 400, "limit must be between"),
        ("/api/runs?offset=-5", 400, "offset must be 0 or more"),
        ("/api/runs?status=sleeping", 400, "status 'sleeping' is not one of"),
        ("/api/runs?sort=bogus", 400, "cannot sort by 'bogus'"),
        ("/api/runs?colour=red", 400, "unknown query parameter 'colour'"),
        ("/api/runs?limit=1&limit=2", 400, "is given 2 times"),
        ("/api/runs/nope-nope", 404, "no run matches 'nope-nope'"),
        ("/api/runs/nope/metrics", 404, "no run matches"),
        ("/api/runs/nope/events", 404, "no run matches"),
        ("/api/runs/nope/artifacts", 404, "no run matches"),
        ("/api/runs/nope/stream", 404, "no run matches"),
        ("/api/nothing-here", 404, "no such path"),
    ],
)
def test_bad_requests_get_json_errors(api: Served, path: str, status: int, message: str) -> None:
    """Each gets the right status and a JSON error that says what is wrong."""
    got, body, headers = api.get(path)
    assert got == status
    assert headers["Content-Type"].startswith("application/json")
    assert message in body["error"]


def test_metric_and_event_ranges_are_checked(api: Served) -> None:
    """max_points, limit and step ranges must make sense."""
    run_id = api.run_ids["alpha"]
    for query, message in (
        ("max_points=0", "max_points must be 1 or more"),
        ("from_step=9&to_step=2", "from_step 9 is after to_step 2"),
        ("from_step=1.5", "from_step must be an integer"),
        ("limit=99999999999999999999999", "out of range"),
    ):
        status, body, _ = api.get(f"/api/runs/{run_id}/metrics?{query}")
        assert status == 400 and message in body["error"], (query, body)
    status, body, _ = api.get(f"/api/runs/{run_id}/events?limit=0")
    assert status == 400 and "limit must be between 1 and" in body["error"]


@pytest.mark.parametrize(
    "name",
    [
        "../../../../etc/passwd",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "notes/../../secret",
        "%2Fetc%2Fpasswd",
        "notes%5C..%5C..%5Cx",
    ],
)
def test_path_traversal_artifact_names_are_refused(api: Served, name: str) -> None:
    """Names that climb out, are absolute or use backslashes never reach the disk."""
    run_id = api.run_ids["alpha"]
    conn = http.client.HTTPConnection(api.url.removeprefix("http://"), timeout=30)
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    conn.request("GET", f"/api/runs/{run_id}/artifacts/{name}", headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    assert response.status in (400, 404)
    assert b"root:" not in data
    assert response.getheader("Content-Type", "").startswith("application/json")


def test_unknown_artifact_is_a_404_naming_it(api: Served) -> None:
    """An artifact the run never logged."""
    status, body, _ = api.get(f"/api/runs/{api.run_ids['alpha']}/artifacts/model.pt")
    assert status == 404 and "has no artifact 'model.pt'" in body["error"]


def test_run_ids_that_try_traversal_are_not_found(api: Served) -> None:
    """A run id is looked up, never used as a path."""
    status, body, _ = api.get("/api/runs/..%2F..%2Fetc%2Fpasswd/artifacts/x")
    assert status == 404 and "no run matches" in body["error"]


def test_read_token_is_required_when_configured(collector_api: Served) -> None:
    """With api::read_token, requests without the right bearer token get 401 and no data."""
    status, body, headers = collector_api.get("/api/runs", token=None)
    assert status == 401 and "Authorization: Bearer" in body["error"]
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, body, _ = collector_api.get("/api/runs", token="wrong")
    assert status == 401 and body == {"error": "the read token is wrong"}
    run_id = collector_api.run_ids["alpha"]
    status, _, _ = collector_api.get(f"/api/runs/{run_id}/artifacts/notes/readme.txt", token=None)
    assert status == 401
    assert collector_api.get("/api/runs")[0] == 200


def test_read_token_never_appears_in_the_collector_log(collector_api: Served) -> None:
    """The token is a secret: the collector's output does not contain it."""
    output = "".join(collector_api.log)
    assert "query API on http://127.0.0.1" in output
    assert collector_api.token not in output


def test_only_get_is_allowed(api: Served) -> None:
    """Writes are refused with 405 and a JSON error."""
    conn = http.client.HTTPConnection(api.url.removeprefix("http://"), timeout=30)
    headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
    conn.request("POST", "/api/runs", body=b"{}", headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    assert response.status == 405 and b"use GET" in data
