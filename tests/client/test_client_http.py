"""The Client over HTTP only: the read token, an unreachable server, a store file that is missing."""

from __future__ import annotations

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


def test_missing_store_file_is_a_clear_error(tmp_path: Path) -> None:
    """A path with no store raises FileNotFoundError and creates nothing."""
    with pytest.raises(FileNotFoundError, match="no trainwire store at"):
        trainwire.Client(tmp_path / "none.db")
    assert not (tmp_path / "none.db").exists()
