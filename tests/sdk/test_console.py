"""What a script prints is shown as usual and also stored as ml.console events."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from trainwire.testing import clean_environment


def test_printed_lines_reach_the_terminal_and_the_store(tmp_path: Path) -> None:
    """stdout and stderr lines are still printed and are stored in order with their stream."""
    script = tmp_path / "train.py"
    script.write_text(
        "import sys, trainwire\n"
        "run = trainwire.init()\n"
        "print('epoch 1 done')\n"
        "print('warning: lr high', file=sys.stderr)\n"
        "sys.stdout.write('no newline at the end')\n"
        "run.finish()\n"
        "print('after finish')\n"
    )
    env = clean_environment()
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "epoch 1 done\nno newline at the endafter finish\n"
    assert "warning: lr high" in result.stderr
    with sqlite3.connect(tmp_path / "trainwire.db") as conn:
        rows = conn.execute(
            "SELECT body, attributes FROM events WHERE name = 'ml.console' ORDER BY time"
        ).fetchall()
    lines = [(json.loads(body), json.loads(attrs)["log.iostream"]) for body, attrs in rows]
    assert lines == [
        ("epoch 1 done", "stdout"),
        ("warning: lr high", "stderr"),
        ("no newline at the end", "stdout"),
    ]


def test_console_capture_can_be_turned_off(tmp_path: Path) -> None:
    """capture_console=False stores no console events."""
    script = tmp_path / "train.py"
    script.write_text(
        "import trainwire\nrun = trainwire.init(capture_console=False)\nprint('x')\nrun.finish()\n"
    )
    env = clean_environment()
    subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    with sqlite3.connect(tmp_path / "trainwire.db") as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE name = 'ml.console'").fetchone() == (
            0,
        )
