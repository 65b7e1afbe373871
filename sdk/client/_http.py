"""The Client's HTTP backend: the query API of a collector or ``trainwire ui``, over urllib.

Stdlib only, so a plain ``pip install trainwire`` can query a server. Every method
returns the JSON body the server sent, the same dicts the local backend builds.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from trainwire.errors import (
    ArtifactNotFoundError,
    CorruptArtifactError,
    InvalidQueryError,
    RunNotFoundError,
    TrainwireError,
)

__all__ = ["ClientError", "HttpBackend"]

_CHUNK = 1024 * 1024


class ClientError(TrainwireError):
    """The query API refused or failed a request; the message has its status and reason."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status; None when the server could not be reached at all."""

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (unreachable, 5xx)."""
        return self.status is None or self.status >= 500


class HttpBackend:
    """Calls ``GET /api/...`` on ``base_url``, with an optional bearer token."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout_s = timeout_s

    def __repr__(self) -> str:  # never the token
        return f"HttpBackend({self.base_url!r})"

    def close(self) -> None:
        """Nothing to release: each request opens its own connection."""

    def list_runs(self, **query: Any) -> dict[str, Any]:
        """``GET /api/runs`` with the filters that are set."""
        return self._json("/api/runs", query)

    def get_run(self, ref: str) -> dict[str, Any]:
        """``GET /api/runs/{ref}``."""
        return self._json(f"/api/runs/{_part(ref)}")

    def metrics(self, ref: str, **query: Any) -> dict[str, Any]:
        """``GET /api/runs/{ref}/metrics``."""
        return self._json(f"/api/runs/{_part(ref)}/metrics", query)

    def artifacts(self, ref: str) -> dict[str, Any]:
        """``GET /api/runs/{ref}/artifacts``."""
        return self._json(f"/api/runs/{_part(ref)}/artifacts")

    def histograms(self, ref: str, **query: Any) -> dict[str, Any]:
        """``GET /api/runs/{ref}/histograms``."""
        return self._json(f"/api/runs/{_part(ref)}/histograms", query)

    def events(self, ref: str, **query: Any) -> dict[str, Any]:
        """``GET /api/runs/{ref}/events``."""
        return self._json(f"/api/runs/{_part(ref)}/events", query)

    def open_artifact(self, ref: str, name: str) -> tuple[str | None, int | None, Iterator[bytes]]:
        """Stream ``GET /api/runs/{ref}/artifacts/{name}``: the sha256 the bytes must hash
        to (the server's ``X-Trainwire-Sha256``), their size and the chunks."""
        path = f"/api/runs/{_part(ref)}/artifacts/{urllib.parse.quote(name, safe='/')}"
        response = self._open(path, {}, artifact=(ref, name))
        expected = response.headers.get("X-Trainwire-Sha256")
        length = response.headers.get("Content-Length")
        size = int(length) if length else None

        def chunks() -> Iterator[bytes]:
            done = 0
            with response:
                try:
                    while data := response.read(_CHUNK):
                        done += len(data)
                        yield data
                except (OSError, http.client.HTTPException) as exc:
                    raise ClientError(
                        f"the download of {name!r} stopped after {done} bytes ({exc});"
                        " the server may have found the blob corrupt: try again"
                    ) from None
            if size is not None and done != size:
                raise ClientError(
                    f"the download of {name!r} stopped after {done} of {size} bytes; try again"
                )

        return expected, size, chunks()

    def _json(self, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        with self._open(path, query or {}) as response:
            try:
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise self._dropped(exc) from None
        try:
            body: dict[str, Any] = json.loads(raw)
        except ValueError:
            raise ClientError(
                f"{self.base_url}{path} did not answer JSON; is it a trainwire query API?",
                status=response.status,
            ) from None
        return body

    def _open(
        self, path: str, query: dict[str, Any], *, artifact: tuple[str, str] | None = None
    ) -> Any:
        params = {k: _param(v) for k, v in query.items() if v is not None}
        url = self.base_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            return urllib.request.urlopen(request, timeout=self._timeout_s)  # noqa: S310
        except urllib.error.HTTPError as exc:
            raise self._error(exc, artifact) from None
        except urllib.error.URLError as exc:
            raise ClientError(
                f"cannot reach the trainwire query API at {self.base_url}: {exc.reason};"
                " is the collector (with exporters::sqlite::api) or `trainwire ui` running?"
            ) from None
        except (OSError, http.client.HTTPException) as exc:  # dropped before it answered
            raise self._dropped(exc) from None

    def _dropped(self, exc: BaseException) -> ClientError:
        return ClientError(
            f"the trainwire query API at {self.base_url} dropped the connection"
            f" ({type(exc).__name__}: {exc}); is it restarting?"
        )

    def _error(
        self, exc: urllib.error.HTTPError, artifact: tuple[str, str] | None
    ) -> TrainwireError:
        message = _message(exc)
        if exc.code == 404 and artifact is not None:
            try:
                self.get_run(artifact[0])
            except RunNotFoundError as missing_run:
                return missing_run
            return ArtifactNotFoundError(message)
        if exc.code == 500 and artifact is not None and "sha256" in message:
            return CorruptArtifactError(message)
        if exc.code == 404 and "/api/runs/" in (exc.url or ""):
            return RunNotFoundError(message)
        if exc.code == 400:
            return InvalidQueryError(message)
        if exc.code == 401:
            return ClientError(
                f"{message} (HTTP 401): pass the API's read token, Client(url, token=...)",
                status=401,
            )
        return ClientError(f"{self.base_url}: HTTP {exc.code}: {message}", status=exc.code)


def _message(exc: urllib.error.HTTPError) -> str:
    raw = exc.read()[:4096]
    try:
        body = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip() or str(exc.reason)
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])
    return str(exc.reason)


def _part(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
