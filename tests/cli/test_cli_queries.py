"""`trainwire runs` filters and formats, `compare`, `metrics`, `artifacts` and `download`."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result


def _names(result: Result) -> set[str]:
    return {row["name"] for row in csv.DictReader(io.StringIO(result.output))}


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ([], {"alpha", "beta", "gamma"}),
        (["--status", "failed"], {"beta"}),
        (["--tag", "owner=ana"], {"alpha"}),
        (["--label", "baseline"], {"alpha"}),
        (["-e", "vision", "--where", "params.lr < 0.05"], {"gamma"}),
        (["--where", "summary.acc > 0.7 or params.opt.name = 'sgd'"], {"alpha"}),
    ],
)
def test_runs_filters_as_csv(cli: Callable[..., Result], args: list[str], names: set[str]) -> None:
    """Each filter keeps exactly the runs it describes; --csv has a header and one row a run."""
    result = cli("runs", "--csv", *args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("id,name,experiment,group,status,")
    assert _names(result) == names


def test_runs_csv_has_a_column_per_param_and_summary(cli: Callable[..., Result]) -> None:
    """--csv adds params.KEY and summary.KEY columns (the summary, else the last value)."""
    result = cli("runs", "--csv", "--sort", "name")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(result.output))}
    assert rows["alpha"]["params.lr"] == "0.1" and rows["alpha"]["params.opt.name"] == "adam"
    assert rows["beta"]["params.lr"] == "0.5" and rows["beta"]["params.opt.name"] == ""
    assert rows["alpha"]["summary.best_acc"] == "0.8" and rows["gamma"]["summary.best_acc"] == ""
    assert rows["alpha"]["summary.loss"] == "nan" and rows["beta"]["summary.loss"] == "3.0"


def test_runs_json_is_the_api_body(cli: Callable[..., Result], pristine: Any) -> None:
    """--json prints {"runs", "total", ...} with each run's id, status, tags and labels."""
    result = cli("runs", "--json", "--sort", "name", "--limit", "2")
    body = json.loads(result.output)
    assert body["total"] == 3 and [r["name"] for r in body["runs"]] == ["alpha", "beta"]
    assert body["runs"][0]["id"] == pristine.ids["alpha"]
    assert body["runs"][0]["tags"] == {"owner": "ana"} and body["runs"][0]["labels"] == ["baseline"]


def test_runs_table_says_when_it_shows_only_some(cli: Callable[..., Result]) -> None:
    """With --limit below the match count the title says how many of how many are shown."""
    result = cli("runs", "--limit", "1", "--sort", "name")
    assert result.exit_code == 0, result.output
    assert "showing 1 of 3" in result.output and "alpha" in result.output
    assert "gamma" not in result.output
    assert "no runs match" in cli("runs", "--tag", "owner=zed").output


def test_bad_filter_expression_is_a_usage_error(cli: Callable[..., Result]) -> None:
    """A malformed --where exits 2 and points at the place it went wrong."""
    result = cli("runs", "--where", "params.lr <")
    assert result.exit_code == 2
    assert "position 11" in result.output and "^" in result.output
    both = cli("runs", "--json", "--csv")
    assert both.exit_code == 2 and "not both" in both.output


def test_show_has_metric_stats_and_artifacts(cli: Callable[..., Result]) -> None:
    """show prints params, each metric's last/min/max/best, and the artifacts with sizes."""
    result = cli("show", "alpha")
    assert result.exit_code == 0, result.output
    for text in ("opt.name", "adam", "best_acc", "0.8 (max)", "ckpt/model.bin", "341.8 KiB"):
        assert text in result.output


def test_compare_marks_differences(cli: Callable[..., Result]) -> None:
    """Params side by side: differing rows marked '*', equal ones not; final and best metrics."""
    result = cli("compare", "alpha", "gamma")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    lr = next(line for line in lines if " lr " in line)
    epochs = next(line for line in lines if " epochs " in line)
    assert "*" in lr and "0.1" in lr and "0.01" in lr
    assert "*" not in epochs
    best = next(line for line in lines if "acc best (max)" in line)
    assert "0.8" in best and "0.666667" in best
    diff_only = cli("compare", "alpha", "gamma", "--diff")
    assert " epochs " not in diff_only.output and " lr " in diff_only.output


def test_compare_json(cli: Callable[..., Result], pristine: Any) -> None:
    """--json gives each param's values by run id and whether they differ."""
    body = json.loads(cli("compare", "alpha", "beta", "gamma", "--json").output)
    alpha, beta = pristine.ids["alpha"], pristine.ids["beta"]
    assert body["params"]["lr"]["differs"] is True
    assert body["params"]["lr"]["values"][alpha] == 0.1
    assert body["params"]["opt.name"]["values"][beta] is None
    assert body["metrics"]["acc"][alpha]["best"] == 0.8


def test_compare_needs_two_different_runs(cli: Callable[..., Result]) -> None:
    """One run, or the same run twice, is a usage error."""
    assert cli("compare", "alpha").exit_code == 2
    twice = cli("compare", "alpha", "alpha")
    assert twice.exit_code == 2 and "twice" in twice.output


def test_metrics_overview_points_and_csv(cli: Callable[..., Result]) -> None:
    """Without KEY one line a metric; with KEY its points; --csv every point, NaN kept."""
    overview = cli("metrics", "alpha")
    assert overview.exit_code == 0, overview.output
    assert "acc" in overview.output and "loss" in overview.output
    result = cli("metrics", "alpha", "loss", "--csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3, 4, 5]
    assert float(rows[1]["value"]) == 0.5 and math.isnan(float(rows[5]["value"]))
    ranged = cli("metrics", "alpha", "acc", "--csv", "--from-step", "3")
    assert [r["step"] for r in csv.DictReader(io.StringIO(ranged.output))] == ["3", "4"]
    series = json.loads(cli("metrics", "alpha", "loss", "--json").output)
    assert series[0]["value"][5] == "NaN"


def test_metrics_unknown_key_is_an_error(cli: Callable[..., Result]) -> None:
    """A key the run never logged exits 1 and says how to list the metrics."""
    result = cli("metrics", "alpha", "nope")
    assert result.exit_code == 1
    assert "has no metric 'nope'" in result.output and "trainwire metrics alpha" in result.output


def test_artifacts_lists_names_kinds_sizes(cli: Callable[..., Result]) -> None:
    """artifacts RUN shows each artifact; --json gives name, kind, size and sha256."""
    result = cli("artifacts", "alpha")
    assert "ckpt/model.bin" in result.output and "notes.txt" in result.output
    listed = json.loads(cli("artifacts", "alpha", "--json").output)
    assert {a["name"]: a["size"] for a in listed} == {"ckpt/model.bin": 350_000, "notes.txt": 5}
    assert "has no artifacts" in cli("artifacts", "gamma").output


def test_download_to_a_folder_and_a_file(
    cli: Callable[..., Result], pristine: Any, tmp_path: Path
) -> None:
    """download writes the artifact (checked) into a folder or to the file named by -o."""
    into = cli("download", "alpha", "ckpt/model.bin", "-o", f"{tmp_path}/out/")
    assert into.exit_code == 0, into.output
    assert (tmp_path / "out" / "model.bin").read_bytes() == pristine.model_bytes
    assert "downloaded ckpt/model.bin (341.8 KiB)" in into.output
    named = cli("download", "alpha", "notes.txt", "-o", str(tmp_path / "n.txt"))
    assert named.exit_code == 0 and (tmp_path / "n.txt").read_bytes() == b"hello"


def test_download_unknown_artifact_names_the_fix(cli: Callable[..., Result]) -> None:
    """An unknown artifact name exits 1 and says how to list the run's artifacts."""
    result = cli("download", "alpha", "nope.bin")
    assert result.exit_code == 1
    assert (
        "no artifact 'nope.bin'" in result.output and "trainwire artifacts alpha" in result.output
    )
    traversal = cli("download", "alpha", "../../etc/passwd")
    assert traversal.exit_code == 2 and "'..'" in traversal.output


@pytest.mark.parametrize(
    "args",
    [
        ["show", "nope"],
        ["compare", "alpha", "nope"],
        ["metrics", "nope"],
        ["artifacts", "nope"],
        ["download", "nope", "x"],
        ["export", "nope"],
        ["rename", "nope", "x"],
        ["rm", "nope", "--yes"],
    ],
)
def test_unknown_run_exits_1_naming_it(cli: Callable[..., Result], args: list[str]) -> None:
    """Every command given an unknown run exits 1 and says how to list runs."""
    result = cli(*args)
    assert result.exit_code == 1, result.output
    assert "no run matches 'nope'" in result.output and "trainwire runs" in result.output


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    """--db pointing at some other file exits 1 saying it is not a trainwire store."""
    from click.testing import CliRunner

    from trainwire.cli import main

    other = tmp_path / "notes.txt"
    other.write_text("not a database, just text\n" * 100)
    for args in (["runs"], ["rm", "x", "--yes"], ["export", "x"], ["gc"]):
        result = CliRunner().invoke(main, [*args, "--db", str(other)])
        assert result.exit_code == 1, (args, result.output)
        assert "is it a trainwire store?" in result.output, args
    assert other.read_text().startswith("not a database")


def test_runs_does_not_load_server_code(pristine: Any) -> None:
    """`trainwire runs` imports neither the HTTP server, the collector, gRPC nor pandas (it starts quickly)."""
    code = (
        "import sys\n"
        "from trainwire.cli import main\n"
        f"main(['runs', '--db', {str(pristine.db)!r}], standalone_mode=False)\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'grpc', 'pandas')\n"
        "         or m.startswith(('trainwire.exporters.sqlite.api', 'trainwire.collector'))]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "HEAVY []" in result.stdout, result.stdout
