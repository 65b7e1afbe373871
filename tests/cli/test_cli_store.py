"""`trainwire export`, `rename`, `rm` and `gc` on copies of a real store."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import trainwire
from trainwire.collector.artifacts import ArtifactInfo, artifact_event
from trainwire.collector.exporterhelper import PersistentQueue
from trainwire.transports.embedded import store_blob


def _blob(store: Any, sha: str) -> Path:
    return Path(store.blobs) / "blobs" / sha[:2] / sha[2:]


def _sha(store: Any, run: str, name: str) -> str:
    with trainwire.Client(store.db) as client:
        return next(a["sha256"] for a in client.artifacts(run) if a["name"] == name)


def test_export_jsonl(pristine: Any, tmp_path: Path) -> None:
    """jsonl: run.json with params, summary and artifacts; metrics.jsonl one point a line."""
    result = pristine.cli("export", "alpha", "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["name"] == "alpha" and run["params"]["opt.name"] == "adam"
    assert run["summary"] == {"best_acc": 0.8} and run["labels"] == ["baseline"]
    assert {a["name"] for a in run["artifacts"]} == {"ckpt/model.bin", "notes.txt"}
    lines = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").open()]
    loss = [p for p in lines if p["key"] == "loss"]
    assert [p["step"] for p in loss] == [0, 1, 2, 3, 4, 5] and math.isnan(loss[5]["value"])
    assert len(lines) == 11 and lines[0]["time"].endswith("Z")


def test_export_csv(pristine: Any, tmp_path: Path) -> None:
    """csv: metrics.csv with key,step,time,value, NaN written as nan."""
    result = pristine.cli("export", "alpha", "--format", "csv", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert list(rows[0]) == ["key", "step", "time", "value"]
    acc = [float(r["value"]) for r in rows if r["key"] == "acc"]
    assert acc == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert any(r["value"] == "nan" for r in rows)


def test_export_whirr_run_directory(pristine: Any, tmp_path: Path) -> None:
    """whirr: meta.json, config.json (nested again) and metrics.jsonl one row a step."""
    result = pristine.cli("export", "alpha", "-f", "whirr", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["run_id"] == pristine.ids["alpha"] and meta["status"] == "completed"
    assert meta["config_file"] == "config.json" and meta["summary"] == {"best_acc": 0.8}
    assert meta["started_at"].endswith("Z") and meta["duration_seconds"] > 0
    assert "baseline" in meta["tags"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"lr": 0.1, "opt": {"name": "adam"}, "epochs": 5}
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    assert [r["_idx"] for r in rows] == list(range(6))
    assert rows[1] == {
        "_idx": 1,
        "_timestamp": rows[1]["_timestamp"],
        "step": 1,
        "acc": 0.2,
        "loss": 0.5,
    }
    assert math.isnan(rows[5]["loss"]) and "acc" not in rows[5]


def test_export_into_a_file_is_refused(pristine: Any, tmp_path: Path) -> None:
    """-o naming an existing file exits 2 and says to give a folder."""
    target = tmp_path / "file.txt"
    target.write_text("x")
    result = pristine.cli("export", "alpha", "-o", str(target))
    assert result.exit_code == 2 and "give a folder" in result.output


def test_rename_changes_the_name_and_keeps_the_id(store: Any) -> None:
    """rename RUN NAME: the run is found by its new name, under the same id."""
    result = store.cli("rename", "alpha", "alpha-v2")
    assert result.exit_code == 0, result.output
    assert "alpha -> alpha-v2" in result.output
    with trainwire.Client(store.db) as client:
        assert client.run("alpha-v2")["id"] == store.ids["alpha"]
    empty = store.cli("rename", "alpha-v2", " ")
    assert empty.exit_code == 2 and "name is empty" in empty.output


def test_rename_to_a_name_in_use_says_refs_become_ambiguous(store: Any) -> None:
    """Renaming to another run's name works, with a note naming that run and to use ids."""
    result = store.cli("rename", "gamma", "beta")
    assert result.exit_code == 0, result.output
    assert f"note: {store.ids['beta']} is also named 'beta'" in result.output
    assert "by id" in result.output
    ambiguous = store.cli("show", "beta")
    assert ambiguous.exit_code == 1 and store.ids["gamma"] in ambiguous.output
    assert "note:" not in store.cli("rename", "alpha", "alpha-2").output


def test_rm_asks_first_and_keeps_shared_blobs(store: Any) -> None:
    """rm asks; 'n' keeps the run. After 'y' the run and its rows are gone; a blob another
    run references stays, the run's own blob is deleted."""
    model, notes = _sha(store, "alpha", "ckpt/model.bin"), _sha(store, "alpha", "notes.txt")
    declined = store.cli("rm", "alpha", input="n\n")
    assert declined.exit_code == 1 and "remove alpha" in declined.output
    with trainwire.Client(store.db) as client:
        assert client.run("alpha")["name"] == "alpha"
    result = store.cli("rm", "alpha", "--min-age", "0", input="y\n")
    assert result.exit_code == 0, result.output
    assert "1 artifact blobs deleted, 1 kept (other runs reference them)" in result.output
    with trainwire.Client(store.db) as client:
        assert {r["name"] for r in client.runs()} == {"beta", "gamma"}
        assert client.get_artifact("beta", "model.bin") == store.model_bytes
    assert _blob(store, model).exists() and not _blob(store, notes).exists()
    with sqlite3.connect(store.db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        with_run_id = [
            t for t in tables if "run_id" in {c[1] for c in conn.execute(f"PRAGMA table_info({t})")}
        ]
        assert {"runs", "params", "events", "artifacts", "resources"} <= set(with_run_id)
        for table in with_run_id:
            count = conn.execute(
                f"SELECT count(*) FROM {table} WHERE run_id = ?", (store.ids["alpha"],)
            ).fetchone()[0]
            assert count == 0, table
        for table in tables:  # points, rollups, distributions...: none left without a series
            if "series_id" in {c[1] for c in conn.execute(f"PRAGMA table_info({table})")}:
                orphans = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE series_id NOT IN (SELECT id FROM series)"
                ).fetchone()[0]
                assert orphans == 0, table


def test_rm_keeps_fresh_blobs_for_gc(store: Any) -> None:
    """By default rm keeps a blob written minutes ago (its event may be in flight)."""
    notes = _sha(store, "alpha", "notes.txt")
    result = store.cli("rm", "alpha", "--yes")
    assert result.exit_code == 0, result.output
    assert "1 kept for now (newer than 300 s)" in result.output and _blob(store, notes).exists()
    assert f"deleted {notes}" in store.cli("gc", "--min-age", "0").output


def test_rm_refuses_a_running_run_without_force(store: Any) -> None:
    """A run still running is not removed unless --force is given."""
    run = trainwire.init(name="live", db_path=store.db, capture_pip=False, system_metrics=False)
    try:
        run.flush()
        result = store.cli("rm", "live", "--yes")
        assert result.exit_code == 1 and "still running" in result.output
        assert "--force" in result.output
    finally:
        run.finish()
    assert store.cli("rm", "live", "--yes").exit_code == 0


def _orphan(blobs: Path, tmp_path: Path, data: bytes, *, age_s: float = 3600) -> str:
    """A blob committed through the real BlobStore that no run references, ``age_s`` old."""
    source = tmp_path / "orphan.bin"
    source.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    store_blob(blobs, source, sha256=sha, size=len(data))
    past = time.time() - age_s
    os.utime(blobs / "blobs" / sha[:2] / sha[2:], (past, past))
    return sha


def _enqueue_artifact_event(queue_file: Path, sha: str) -> None:
    """Leave an ml.artifact event for blob ``sha`` in a real persistent queue file."""

    async def enqueue() -> None:
        queue = PersistentQueue(queue_file, capacity=10, blocking=True, name="q")
        await queue.open()
        info = ArtifactInfo.create(run_id="r1", name="late.bin", kind="file", mime_type="")
        request = artifact_event(info, sha256=sha, size=12)
        await queue.put("logs", request.SerializeToString(), droppable=False)
        await queue.close()

    asyncio.run(enqueue())


def test_gc_deletes_unreferenced_blobs_only(store: Any, tmp_path: Path) -> None:
    """gc deletes an old blob no run references; referenced, and recent, blobs stay."""
    old = _orphan(store.blobs, tmp_path, b"old orphan")
    new = _orphan(store.blobs, tmp_path, b"new orphan", age_s=0)
    dry = store.cli("gc", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would delete {old}" in dry.output and _blob(store, old).exists()
    result = store.cli("gc")
    assert result.exit_code == 0, result.output
    assert (
        "deleted 1 unreferenced blobs (10 bytes)" in result.output
        and "1 newer than" in result.output
    )
    assert not _blob(store, old).exists() and _blob(store, new).exists()
    with trainwire.Client(store.db) as client:
        assert client.get_artifact("alpha", "notes.txt") == b"hello"
        assert client.get_artifact("alpha", "ckpt/model.bin") == store.model_bytes
    assert f"deleted {new}" in store.cli("gc", "--min-age", "0").output


def test_gc_spares_blobs_whose_artifact_event_is_still_queued(store: Any, tmp_path: Path) -> None:
    """A blob named by an ml.artifact event in a sqlite exporter's queue file is kept."""
    sha = _orphan(store.blobs, tmp_path, b"queued bytes")
    _enqueue_artifact_event(tmp_path / "storage" / "queue-sqlite.db", sha)
    result = store.cli("gc", "--queue", str(tmp_path / "storage"))
    assert result.exit_code == 0, result.output
    assert "1 queued" in result.output and _blob(store, sha).exists()
    assert store.cli("gc").exit_code == 0
    assert not _blob(store, sha).exists()
    bad = store.cli("gc", "--queue", str(store.db))
    assert bad.exit_code == 1 and "cannot read a queue file" in bad.output


def test_gc_reads_the_collector_config(store: Any, tmp_path: Path) -> None:
    """--config finds the collector's artifact directory and its sqlite exporter's queue."""
    blobs = tmp_path / "collector-blobs"
    gone = _orphan(blobs, tmp_path, b"unreferenced")
    queued = _orphan(blobs, tmp_path, b"still queued")
    _enqueue_artifact_event(tmp_path / "data" / "queue-sqlite.db", queued)
    config = tmp_path / "otel-config.yaml"
    config.write_text(
        "receivers:\n  otlp:\n    protocols: {grpc: {endpoint: 127.0.0.1:0}}\n"
        f"    artifacts: {{directory: {blobs}}}\n"
        f"exporters:\n  sqlite:\n    path: {store.db}\n    sending_queue: {{storage: storage}}\n"
        f"extensions:\n  storage: {{directory: {tmp_path / 'data'}}}\n"
        "service:\n  extensions: [storage]\n"
        "  pipelines: {logs: {receivers: [otlp], exporters: [sqlite]}}\n"
    )
    result = store.cli("gc", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert f"deleted {gone}" in result.output and "1 queued" in result.output
    assert (blobs / "blobs" / queued[:2] / queued[2:]).exists()
    missing = store.cli("gc", "--artifacts", str(tmp_path / "none"))
    assert missing.exit_code == 1 and "no artifact store at" in missing.output
