"""Artifacts too large to hash before sending: streamed, and cut off if they do not match."""

from __future__ import annotations

import asyncio
import http.client
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from trainwire.exporters.sqlite.api import make_app
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.testing import clean_environment, free_port

SCRIPT = """
import trainwire
run = trainwire.init(name="big", system_metrics=False, capture_console=False)
run.log_text("0123456789abcdef" * 200_000, "ckpt/weights.bin")
run.finish()
"""


@pytest.fixture
def streaming_server(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """The API app with every blob streamed (no hashing first), on a real loopback port."""
    (tmp_path / "big.py").write_text(SCRIPT)
    db = tmp_path / "trainwire.db"
    env = {**clean_environment(), "TRAINWIRE_DB": str(db), "TRAINWIRE_DIR": str(tmp_path / "r")}
    subprocess.run([sys.executable, "big.py"], cwd=tmp_path, env=env, check=True, timeout=60)
    query = RunQuery(db)
    run_id = query.resolve("big")
    _, blob = query.artifact(run_id, "ckpt/weights.bin")
    loop = asyncio.new_event_loop()
    port = free_port()
    runner = web.AppRunner(make_app(query, verify_first_bytes=0))

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield f"127.0.0.1:{port}", blob, run_id
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


def _get(address: str, path: str) -> Any:
    conn = http.client.HTTPConnection(address, timeout=30)
    conn.request("GET", path)
    return conn, conn.getresponse()


def test_intact_blob_streams_whole(streaming_server: tuple[str, Path, str]) -> None:
    """Every byte arrives, with the declared length."""
    address, _, run_id = streaming_server
    conn, response = _get(address, f"/api/runs/{run_id}/artifacts/ckpt/weights.bin")
    data = response.read()
    conn.close()
    assert response.status == 200 and data == b"0123456789abcdef" * 200_000


def test_corrupted_blob_stream_is_cut_off(streaming_server: tuple[str, Path, str]) -> None:
    """A blob changed on disk: the client sees a broken transfer, never a clean wrong file."""
    address, blob, run_id = streaming_server
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    conn, response = _get(address, f"/api/runs/{run_id}/artifacts/ckpt/weights.bin")
    assert response.status == 200  # the headers went out before the last byte was read
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()
