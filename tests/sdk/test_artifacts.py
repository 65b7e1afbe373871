"""Artifacts in the embedded default: names, kinds, the local store, text and figures."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner

import trainwire
from trainwire.artifacts import normalize_name
from trainwire.cli import main

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


class PngFigure:
    """A stand-in for a matplotlib Figure: ``savefig(file, format="png")`` writes PNG bytes."""

    def __init__(self) -> None:
        self.formats: list[str] = []

    def savefig(self, fname: IO[bytes], format: str | None = None) -> None:
        self.formats.append(str(format))
        fname.write(PNG + b"fake figure")


def _artifact_rows(db: Path) -> list[tuple[str, str, str, str, int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT run_id, name, kind, sha256, size, mime_type FROM artifacts ORDER BY name"
        ).fetchall()


def _blob(store: Path, sha256: str) -> Path:
    return store / "blobs" / sha256[:2] / sha256[2:]


def test_embedded_artifact_lands_in_the_local_store_and_the_artifacts_table(
    tmp_path: Path,
) -> None:
    """Without an endpoint, a logged file is committed to trainwire-artifacts/ beside the db and recorded in its artifacts table."""
    db = tmp_path / "store.db"
    data = os.urandom(3 * 1024 * 1024 + 17)
    sha = hashlib.sha256(data).hexdigest()
    (tmp_path / "model.pt").write_bytes(data)
    with trainwire.init(db_path=db) as run:
        assert run.log_artifact(tmp_path / "model.pt", kind="model") == "model.pt"
    assert _blob(tmp_path / "trainwire-artifacts", sha).read_bytes() == data
    assert _artifact_rows(db) == [
        (run.id, "model.pt", "model", sha, len(data), "application/octet-stream")
    ]
    assert not (run.run_dir / "artifacts").exists()  # delivered: the snapshot is gone


def test_save_artifact_log_text_and_log_figure_are_stored_with_their_kinds(
    tmp_path: Path,
) -> None:
    """whirr's save_artifact, log_text and log_figure store a file, a text and a PNG under their names and kinds."""
    db = tmp_path / "store.db"
    (tmp_path / "results.csv").write_text("epoch,loss\n1,0.5\n")
    figure = PngFigure()
    with trainwire.init(db_path=db) as run:
        run.save_artifact(tmp_path / "results.csv", "tables/results.csv")
        run.log_text("epoch,loss\n1,1.0", filename="metrics.csv")
        run.log_text("some notes", "notes")
        run.log_figure(figure, title="Loss Curve")
        run.log_figure(figure)
    rows = {name: (kind, size, mime) for _, name, kind, _, size, mime in _artifact_rows(db)}
    assert rows == {
        "tables/results.csv": ("file", 17, "text/csv"),
        "metrics.csv": ("text", 16, "text/csv"),
        "notes": ("text", 10, "text/plain"),
        "Loss Curve.png": ("figure", len(PNG) + 11, "image/png"),
        "figure-1.png": ("figure", len(PNG) + 11, "image/png"),
    }
    assert figure.formats == ["png", "png"]
    (sha,) = {s for _, name, _, s, _, _ in _artifact_rows(db) if name == "Loss Curve.png"}
    assert _blob(tmp_path / "trainwire-artifacts", sha).read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../../x", "leaves the run's namespace"),
        ("a/../b", "leaves the run's namespace"),
        ("..", "leaves the run's namespace"),
        ("/etc/passwd", "is absolute"),
        ("a\\..\\b", "backslash"),
        ("nul\x00byte", "NUL or a control character"),
        ("", "non-empty string"),
        ("./", "names no file"),
    ],
)
def test_names_that_leave_the_run_are_refused(tmp_path: Path, name: str, message: str) -> None:
    """Absolute names, '..', backslashes, NUL and empty names are refused with a message saying why, and nothing is written."""
    (tmp_path / "f.bin").write_bytes(b"x")
    run = trainwire.init(db_path=tmp_path / "store.db")
    with pytest.raises(trainwire.InvalidValueError, match=message):
        run.log_artifact(tmp_path / "f.bin", name=name)
    with pytest.raises(trainwire.InvalidValueError, match=message):
        run.log_text("x", name)
    run.finish()
    assert not (tmp_path / "trainwire-artifacts").exists()
    assert not (tmp_path / "x").exists()


def test_harmless_name_spellings_are_normalised() -> None:
    """'./a//b/' reads as 'a/b': a clean relative POSIX path."""
    assert normalize_name("./a//b/") == "a/b"
    assert normalize_name("checkpoints/best.pt") == "checkpoints/best.pt"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r, p: r.log_artifact(p, kind="weights"), "kind must be one of file, model"),
        (lambda r, p: r.log_artifact(p.parent / "missing.pt"), "does not exist"),
        (lambda r, p: r.log_artifact(p.parent), "is not a file"),
        (lambda r, p: r.log_text(b"bytes", "a.txt"), "log_text needs a str"),
        (lambda r, p: r.log_figure(object()), "needs a matplotlib figure"),
    ],
)
def test_bad_artifact_arguments_are_refused_by_name(
    tmp_path: Path, call: object, message: str
) -> None:
    """A wrong kind, a missing file, a folder, non-text and a non-figure are refused with a message naming the problem."""
    (tmp_path / "f.bin").write_bytes(b"x")
    run = trainwire.init(db_path=tmp_path / "store.db")
    with pytest.raises(trainwire.InvalidValueError, match=message):
        call(run, tmp_path / "f.bin")  # type: ignore[operator]
    run.finish()


def test_artifact_left_by_a_killed_process_is_stored_by_sync(tmp_path: Path) -> None:
    """A process killed right after log_artifact leaves the snapshot, and `trainwire sync` stores blob and event."""
    data = os.urandom(8 * 1024 * 1024)
    (tmp_path / "ckpt.pt").write_bytes(data)
    script = tmp_path / "train.py"
    script.write_text(
        "import os, trainwire\n"
        "run = trainwire.init(db_path='store.db')\n"
        "run.log_artifact('ckpt.pt', kind='model')\n"
        "print(run.id, flush=True)\n"
        "os._exit(1)\n"  # no finish(), no atexit: a crash
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    run_id = result.stdout.strip()
    assert run_id, result.stderr
    sync = CliRunner().invoke(main, ["sync", os.environ["TRAINWIRE_DIR"]])
    assert sync.exit_code == 0, sync.output
    sha = hashlib.sha256(data).hexdigest()
    assert _artifact_rows(tmp_path / "store.db") == [
        (run_id, "ckpt.pt", "model", sha, len(data), "application/octet-stream")
    ]
    assert _blob(tmp_path / "trainwire-artifacts", sha).read_bytes() == data
    assert not (Path(os.environ["TRAINWIRE_DIR"]) / run_id / "artifacts").exists()
