"""The Client over HTTP only: the read token, an unreachable server, a store file that is missing."""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

import trainwire
from trainwire.client import ClientError
from trainwire.testing import free_port

TOKEN = "s3cret-read-token"  # the guarded fixture's (conftest.py)


def test_the_read_token_is_required_and_sent(guarded: Any) -> None:
    """Without the token: a 401 error saying to pass it; with it: the runs."""
    with pytest.raises(ClientError, match="token=") as refused:
        trainwire.Client(guarded.url).runs()
    assert refused.value.status == 401
    with pytest.raises(ClientError, match="wrong") as wrong:
        trainwire.Client(guarded.url, token="not-it").runs()
    assert wrong.value.status == 401
    client = trainwire.Client(guarded.url, token=TOKEN)
    assert {r["name"] for r in client.runs()} == {"alpha", "beta", "gamma"}
    assert client.get_artifact("alpha", "notes.txt") == b"hello"


def test_the_token_never_shows_in_repr_or_errors(guarded: Any) -> None:
    """The client's repr and its error messages do not carry the token."""
    client = trainwire.Client(guarded.url, token=TOKEN)
    assert TOKEN not in repr(client) and TOKEN not in repr(client._backend)
    with pytest.raises(trainwire.RunNotFoundError) as missing:
        client.run("nope")
    assert TOKEN not in str(missing.value)


def test_unreachable_server_is_a_clear_error() -> None:
    """Nothing listening: ClientError names the URL and what should be running there."""
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ClientError, match=f"cannot reach the trainwire query API at {url}"):
        trainwire.Client(url).runs()


def test_a_server_that_is_not_the_api_is_a_clear_error(tmp_path: Path) -> None:
    """A web server answering HTML (not JSON) gives ClientError saying so."""
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "runs").write_text("<html>hello</html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(ClientError, match="did not answer JSON") as failed:
            trainwire.Client(url).runs()
        assert failed.value.status == 200 and not failed.value.transient
        server.shutdown()


def test_a_dropped_connection_is_a_transient_client_error() -> None:
    """A server that closes the connection without answering gives a transient ClientError."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(ClientError, match="dropped the connection") as failed:
            trainwire.Client(url).runs()
        thread.join(10)
        assert failed.value.transient


def test_missing_store_file_is_a_clear_error(tmp_path: Path) -> None:
    """A path with no store raises FileNotFoundError and creates nothing."""
    with pytest.raises(FileNotFoundError, match="no trainwire store at"):
        trainwire.Client(tmp_path / "none.db")
    assert not (tmp_path / "none.db").exists()
