"""RunQuery's filters, sort and paging over a real store the writer filled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trainwire.errors import InvalidQueryError, RunNotFoundError
from trainwire.exporters.sqlite.filters import parse_filter
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter

T0 = 1_700_000_000_000_000_000
RUNS = {
    # run id: (config, summary, tags set, labels, last loss, experiment)
    "aaa111": ({"lr": 0.001, "opt": {"name": "adam"}, "bs": 32}, {"acc": 0.95}, {"team": "cv"},
               ["best"], 0.1, "vision"),
    "aaa222": ({"lr": 0.01, "opt": {"name": "sgd"}, "bs": 64}, {"acc": 0.80}, {"team": "cv"},
               [], 0.4, "vision"),
    "bbb333": ({"lr": 0.1, "opt": {"name": "adam"}, "bs": "auto"}, {}, {"team": "nlp"},
               ["best", "old"], 0.9, "text"),
}  # fmt: skip


@pytest.fixture
def query(tmp_path: Path, wire: Any) -> Any:
    path = tmp_path / "store.db"
    conn = connect(path)
    writer = StoreWriter(conn)
    for i, (run_id, (config, summary, tags, labels, loss, experiment)) in enumerate(RUNS.items()):
        resource = wire.resource(run_id, experiment=experiment)
        t = T0 + i * 10**9
        events = [(t, "ml.run.start", {"name": f"name-{run_id}", "config": config, "tags": labels})]
        if summary:
            events.append((t + 1, "ml.run.summary", summary))
        events.append((t + 2, "ml.run.tags", {"set": tags}))
        writer.write_logs(wire.events(resource, *events))
        writer.write_metrics(
            wire.log(resource, (t + 3, 0, {"loss": 5.0}), (t + 4, 1, {"loss": loss}))
        )
    conn.close()
    with RunQuery(path) as q:
        yield q


def ids(body: dict[str, Any]) -> list[str]:
    return sorted(r["id"] for r in body["runs"])


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("params.lr < 0.01", ["aaa111"]),
        ("params.lr <= 0.01", ["aaa111", "aaa222"]),
        ("params.opt.name = 'adam'", ["aaa111", "bbb333"]),
        ('params.opt.name != "adam"', ["aaa222"]),
        ("params.bs >= 64", ["aaa222"]),  # "auto" is text: never compared with a number
        ("params.bs = 'auto'", ["bbb333"]),
        ("summary.acc > 0.9", ["aaa111"]),
        ("summary.loss < 0.5", ["aaa111", "aaa222"]),  # no explicit summary: the last value
        ("tags.team = 'cv' and not params.lr = 0.01", ["aaa111"]),
        ("label = 'best'", ["aaa111", "bbb333"]),
        ("label != 'old'", ["aaa111", "aaa222"]),
        ("params.lr > 0.05 or summary.acc > 0.9", ["aaa111", "bbb333"]),
        ("(params.lr > 0.05 or summary.acc > 0.9) and experiment = 'text'", ["bbb333"]),
        ("params.lr > 0.05 or summary.acc > 0.9 and experiment = 'text'", ["bbb333"]),
        ("NOT (experiment = 'vision')", ["bbb333"]),
        ("status = 'running' and name = 'name-aaa222'", ["aaa222"]),
        ("params.missing = 1", []),
        ("not params.missing = 1", ["aaa111", "aaa222", "bbb333"]),
        ("params.`opt.name` = 'sgd'", ["aaa222"]),
        ("id = 'aaa111' or run_id = 'bbb333'", ["aaa111", "bbb333"]),
    ],
)
def test_where_selects_the_runs_the_expression_says(
    query: Any, where: str, expected: list[str]
) -> None:
    """Typed comparisons on params, summaries (explicit or last value), tags, labels, fields."""
    assert ids(query.list_runs(where=where)) == expected


def test_and_binds_tighter_than_or() -> None:
    """a or b and c parses as a or (b and c)."""
    node = parse_filter("status = 'a' or status = 'b' and status = 'c'")
    assert node.op == "or" and node.items[1].op == "and"  # type: ignore[union-attr]


def test_other_filters_combine_with_where(query: Any) -> None:
    """experiment, status, tag, label and where all apply together."""
    assert ids(query.list_runs(experiment="vision", where="params.bs = 32")) == ["aaa111"]
    assert ids(query.list_runs(tag="team=nlp")) == ["bbb333"]
    assert ids(query.list_runs(tag="team")) == ["aaa111", "aaa222", "bbb333"]
    assert ids(query.list_runs(label="old", status="running")) == ["bbb333"]


def test_sort_by_params_and_summaries_with_missing_last(query: Any) -> None:
    """'-summary.acc': highest first, runs without it after them whatever the direction."""
    order = [r["id"] for r in query.list_runs(sort="-summary.acc")["runs"]]
    assert order[:2] == ["aaa111", "aaa222"]
    order = [r["id"] for r in query.list_runs(sort="params.lr")["runs"]]
    assert order == ["aaa111", "aaa222", "bbb333"]
    order = [r["id"] for r in query.list_runs(sort="-experiment,name")["runs"]]
    assert order == ["aaa111", "aaa222", "bbb333"]  # vision before text, then by name


def test_paging_reports_the_total(query: Any) -> None:
    """limit/offset cut the page; total counts every match."""
    page = query.list_runs(sort="name", limit=2, offset=1)
    assert [r["id"] for r in page["runs"]] == ["aaa222", "bbb333"] and page["total"] == 3


def test_resolve_by_prefix_and_name_and_ambiguity(query: Any) -> None:
    """A unique prefix or a name resolves; an ambiguous prefix lists the candidates."""
    assert query.resolve("bbb") == "bbb333"
    assert query.resolve("name-aaa222") == "aaa222"
    with pytest.raises(RunNotFoundError, match=r"'aaa' matches several runs \(aaa111, aaa222\)"):
        query.resolve("aaa")
    with pytest.raises(RunNotFoundError, match="no run matches 'zzz'"):
        query.get_run("zzz")


@pytest.mark.parametrize(
    "where",
    ["", "params.lr", "params.lr = ", "lr = 1", "params.lr = 1e999", "x" * 5000],
)
def test_bad_expressions_raise_invalid_query(query: Any, where: str) -> None:
    """Each names the problem; none reaches SQL."""
    with pytest.raises(InvalidQueryError):
        query.list_runs(where=where)
