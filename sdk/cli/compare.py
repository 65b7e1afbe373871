"""``trainwire compare``: runs side by side, differences marked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from trainwire.cli._common import db_option, git_text, number, open_client, status_text

__all__ = ["compare"]

_MISSING = object()


@click.command()
@db_option
@click.argument("run_refs", metavar="RUN RUN...", nargs=-1, required=True)
@click.option("--diff", "only_diff", is_flag=True, help="Show only params that differ.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def compare(
    db_path: Path | None, run_refs: tuple[str, ...], only_diff: bool, as_json: bool
) -> None:
    """Compare runs: params side by side (differences marked '*'), final and best metrics.

    Each RUN is a run id, a unique prefix of one, or a run name.
    """
    if len(run_refs) < 2:
        raise click.UsageError("give at least two runs to compare")
    with open_client(db_path) as client:
        runs = [client.run(ref) for ref in run_refs]
    ids = [run["id"] for run in runs]
    if len(set(ids)) < len(ids):
        raise click.UsageError("the same run is given twice; give different runs")
    params = _rows(runs, "params")
    metrics = sorted({key for run in runs for key in run.get("metrics", {})})
    if as_json:
        click.echo(json.dumps(_document(runs, params, metrics), indent=2))
        return
    console = Console(width=max(120, Console().width))
    heads = [f"{run['name']}\n{run['id']}" for run in runs]
    console.print(_status_table(runs, heads))
    table = _table("params", heads)
    for key, values, differ in params:
        if differ or not only_diff:
            style = "bold yellow" if differ else None
            table.add_row("*" if differ else "", key, *map(_text, values), style=style)
    console.print(table)
    if metrics:
        console.print(_metric_table(runs, heads, metrics))
    summary = _rows(runs, "summary", skip=set(metrics))
    if summary:
        table = _table("summary", heads)
        for key, values, differ in summary:
            table.add_row("*" if differ else "", key, *map(_text, values))
        console.print(table)


def _rows(
    runs: list[dict[str, Any]], field: str, *, skip: set[str] | None = None
) -> list[tuple[str, list[Any], bool]]:
    keys = sorted({key for run in runs for key in run.get(field, {})} - (skip or set()))
    rows = []
    for key in keys:
        values = [run.get(field, {}).get(key, _MISSING) for run in runs]
        differ = any(
            json.dumps(v, default=str) != json.dumps(values[0], default=str) for v in values
        )
        rows.append((key, values, differ))
    return rows


def _table(title: str, heads: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("key")
    for head in heads:
        table.add_column(head, overflow="fold")
    return table


def _status_table(runs: list[dict[str, Any]], heads: list[str]) -> Table:
    table = _table("runs", heads)
    for field in ("experiment", "group", "status", "duration_s", "host", "world_size"):
        values = [run.get(field) for run in runs]
        shown = [
            status_text(str(v)) if field == "status" else "-" if v is None else _text(v)
            for v in values
        ]
        table.add_row("*" if len(set(map(str, values))) > 1 else "", field, *shown)
    facts = {
        "git": [git_text(run.get("git")) for run in runs],
        "labels": [", ".join(run.get("labels") or []) or "-" for run in runs],
    }
    for key, texts in facts.items():
        table.add_row("*" if len(set(texts)) > 1 else "", key, *texts)
    for key, values, differ in _rows(runs, "tags"):
        table.add_row("*" if differ else "", f"tags.{key}", *map(_text, values))
    return table


def _metric_table(runs: list[dict[str, Any]], heads: list[str], keys: list[str]) -> Table:
    table = _table("metrics (final / best)", heads)
    for key in keys:
        stats = [run.get("metrics", {}).get(key) for run in runs]
        finals = [number(m["last"]) if m else "-" for m in stats]
        bests = [_best(m) for m in stats]
        table.add_row("*" if len(set(finals)) > 1 else "", f"{key} final", *finals)
        goal = next((m["goal"] for m in stats if m and m.get("goal")), None)
        if goal:
            table.add_row("*" if len(set(bests)) > 1 else "", f"{key} best ({goal})", *bests)
        else:
            table.add_row("", f"{key} min / max", *[_range(m) for m in stats])
    return table


def _best(m: dict[str, Any] | None) -> str:
    return "-" if not m or m.get("best") is None else number(m["best"])


def _range(m: dict[str, Any] | None) -> str:
    return "-" if not m else f"{number(m['min'])} / {number(m['max'])}"


def _text(value: Any) -> str:
    if value is _MISSING:
        return "[dim]-[/dim]"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return number(value)
    return value if isinstance(value, str) else json.dumps(value)


def _document(
    runs: list[dict[str, Any]], params: list[tuple[str, list[Any], bool]], metrics: list[str]
) -> dict[str, Any]:
    ids = [run["id"] for run in runs]
    return {
        "runs": [{"id": run["id"], "name": run["name"], "status": run["status"]} for run in runs],
        "params": {
            key: {"differs": differ, "values": dict(zip(ids, _plain(values), strict=True))}
            for key, values, differ in params
        },
        "metrics": {
            key: {
                run["id"]: {
                    field: (run.get("metrics", {}).get(key) or {}).get(field)
                    for field in ("last", "best", "goal", "min", "max")
                }
                for run in runs
            }
            for key in metrics
        },
    }


def _plain(values: list[Any]) -> list[Any]:
    return [None if v is _MISSING else v for v in values]
