"""Where a run came from (host, git), in show, compare and export, and artifacts in exports.

The runs are logged from inside a real git repository, so the git record is real.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import trainwire
from trainwire.cli import main
from trainwire.exporters.sqlite.blobs import blob_path
from trainwire.testing import clean_environment


class Store:
    """A store file and its runs' ids; ``cli`` runs ``trainwire ARGS --db <store>``."""

    def __init__(self, db: Path, ids: dict[str, str]) -> None:
        self.db, self.ids = db, ids
        self.blobs = db.parent / "trainwire-artifacts"

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, [*args, "--db", str(self.db)], terminal_width=250)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def git_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, str]:
    """Two runs logged in a git checkout: ``left`` (labelled, tagged), ``right`` (not)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(
        repo,
        "-c",
        "user.email=a@b.c",
        "-c",
        "user.name=a",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "start",
    )
    monkeypatch.chdir(repo)
    db = tmp_path / "runs.db"
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\x00\x01" * 3000)
    options: dict[str, Any] = {"db_path": db, "capture_pip": False, "system_metrics": False}
    ids = {}
    with trainwire.init(name="left", tags=["baseline"], config={"lr": 0.1}, **options) as run:
        run.set_tag("owner", "ana")
        run.log({"loss": 1.0}, step=0)
        run.log_text("hello", "notes.txt")
        run.log_artifact(weights, "ckpt/model.bin")
        run.alert("loss plateaued", "no progress for 5 epochs", level="warn")
        ids["left"] = run.id
    with trainwire.init(name="right", config={"lr": 0.2}, **options) as run:
        run.log({"loss": 2.0}, step=0)
        ids["right"] = run.id
    return Store(db, ids), _git(repo, "rev-parse", "HEAD")


def test_show_names_host_world_size_and_git_commit(git_store: tuple[Store, str]) -> None:
    """show: host, world size, the branch@commit the run was made from, and its alerts."""
    store, commit = git_store
    result = store.cli("show", "left")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("host "))
    assert f"host {socket.gethostname()}" in header and "world size 1" in header
    assert f"git main@{commit[:12]}" in header
    alerts = result.output[result.output.index("alerts") :]
    assert "warn" in alerts and "loss plateaued" in alerts and "no progress for 5" in alerts
    assert "alerts" not in store.cli("show", "right").output


def test_compare_marks_differing_labels_and_tags(git_store: tuple[Store, str]) -> None:
    """compare's run table has host, git, labels and tags; differing rows are marked '*'."""
    store, commit = git_store
    result = store.cli("compare", "left", "right")
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[2].strip(): line
        for line in result.output.splitlines()
        if line.count("│") >= 4
    }
    assert "*" in rows["labels"].split("│")[1] and "baseline" in rows["labels"]
    assert "*" in rows["tags.owner"].split("│")[1] and "ana" in rows["tags.owner"]
    assert "*" not in rows["git"].split("│")[1] and commit[:12] in rows["git"]
    assert "*" not in rows["host"].split("│")[1]


def test_export_whirr_has_git_info_host_and_artifacts(
    git_store: tuple[Store, str], tmp_path: Path
) -> None:
    """--with-artifacts copies each artifact to artifacts/NAME; meta.json carries git_info."""
    store, commit = git_store
    out = tmp_path / "out"
    result = store.cli("export", "left", "-f", "whirr", "-o", str(out), "--with-artifacts")
    assert result.exit_code == 0, result.output
    assert "artifacts/ (2)" in result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["git_info"]["commit"] == commit and meta["git_info"]["branch"] == "main"
    assert meta["host"] == socket.gethostname()
    assert (out / "artifacts" / "notes.txt").read_bytes() == b"hello"
    assert (out / "artifacts" / "ckpt" / "model.bin").read_bytes() == b"\x00\x01" * 3000
    plain = store.cli("export", "right", "-o", str(tmp_path / "plain"))
    assert plain.exit_code == 0 and not (tmp_path / "plain" / "artifacts").exists()
    document = json.loads((tmp_path / "plain" / "run.json").read_text())
    assert document["git"]["commit"] == commit and document["host"] == socket.gethostname()


def test_export_names_the_artifacts_it_could_not_copy(
    git_store: tuple[Store, str], tmp_path: Path
) -> None:
    """A missing blob: the others are copied, exit 1 names the missing one and --artifacts."""
    store, _ = git_store
    with trainwire.Client(store.db) as client:
        notes = next(a for a in client.artifacts("left") if a["name"] == "notes.txt")
    blob_path(store.blobs, notes["sha256"]).unlink()
    out = tmp_path / "out"
    result = store.cli("export", "left", "-o", str(out), "--artifacts", str(store.blobs))
    assert result.exit_code == 1
    assert "1 of 2 artifacts could not be copied (the others were)" in result.output
    assert "notes.txt" in result.output and "--artifacts DIR" in result.output
    assert (out / "artifacts" / "ckpt" / "model.bin").exists()
    assert not (out / "artifacts" / "notes.txt").exists()


RANK_SCRIPT = """
import trainwire
with trainwire.init(name="ddp", db_path={db!r}, system_metrics=False, capture_pip=False) as run:
    run.log({{"loss": 1.0}}, step=0)
"""


def test_show_lists_each_rank_of_a_distributed_run(tmp_path: Path) -> None:
    """Two ranks of one job (separate processes): show has a row per rank with its pid."""
    db = tmp_path / "ddp.db"
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT.format(db=str(db)))
    ranks = [
        subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env={
                **clean_environment(),
                "TRAINWIRE_DIR": str(tmp_path / "runs"),
                "TRAINWIRE_RUN_ID": "job42",
                "TRAINWIRE_RANK": str(rank),
                "TRAINWIRE_WORLD_SIZE": "2",
            },
        )
        for rank in (0, 1)
    ]
    assert [p.wait(timeout=120) for p in ranks] == [0, 0]
    result = Store(db, {}).cli("show", "job42")
    assert result.exit_code == 0, result.output
    assert "world size 2" in result.output
    rows = [line for line in result.output.splitlines() if "completed" in line and "│" in line]
    assert sorted(row.split("│")[1].strip() for row in rows) == ["0", "1"]
    assert {row.split("│")[4].strip() for row in rows} == {str(p.pid) for p in ranks}
