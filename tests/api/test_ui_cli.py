"""`trainwire ui` refuses what it cannot serve, with a message saying how to fix it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from trainwire.testing import clean_environment


def _ui(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainwire", "ui", *args],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_store_is_refused(tmp_path: Path) -> None:
    """No store at --db: exit 1 naming the path."""
    result = _ui("--db", str(tmp_path / "none.db"), cwd=tmp_path)
    assert result.returncode == 1
    assert f"no trainwire store at {tmp_path / 'none.db'}" in result.stderr


def test_port_in_use_is_refused(ui_api: Any, tmp_path: Path) -> None:
    """A port another process holds: exit 1 naming the endpoint."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _ui("--db", str(ui_api.db_path), "--port", str(port), "--host", "127.0.0.1",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_ui_with_a_read_token_requires_it(ui_api: Any, ui_server: Any) -> None:
    """--read-token: requests without it get 401; with it, the runs."""
    with ui_server(ui_api.db_path, "--read-token", "tok-123") as served:
        served.token = None
        assert served.get("/api/runs")[0] == 401
        status, body, _ = served.get("/api/runs", token="tok-123")
        assert status == 200 and body["total"] == 2


def test_ui_is_listed_in_help() -> None:
    """The command is registered (lazily) on the trainwire group."""
    result = subprocess.run(
        [sys.executable, "-m", "trainwire", "--help"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert " ui " in result.stdout
