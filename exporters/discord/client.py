"""Execute Webhook over HTTP: one request at a time, within the rate limits, classified.

The HTTP transport is injected (:class:`Transport`); the default uses ``requests``
in a worker thread. Answers are classified: 2xx → the created Message; 429 → wait
``retry_after`` and send again; 404 or 401 → :class:`WebhookGoneError` (or
:class:`UnknownThreadError` for a deleted thread); 413 → :class:`TooLargeError`;
5xx and network errors → ``RetryableExportError``; any other 4xx →
``PermanentExportError``. The token is redacted from every message.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.exporters.discord.ratelimit import RateLimiter

__all__ = [
    "Attachment",
    "DiscordClient",
    "DryRunTransport",
    "RequestsTransport",
    "Response",
    "TooLargeError",
    "Transport",
    "UnknownThreadError",
    "WebhookGoneError",
    "redact",
]

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"(webhooks/\d+/)[A-Za-z0-9_.\-]+")
_MAX_429_IN_A_ROW = 50


def redact(text: str) -> str:
    """``text`` with every webhook token replaced by ``***``."""
    return _TOKEN.sub(r"\1***", text)


class _RedactFilter(logging.Filter):
    """Redacts webhook tokens from a record: its message, arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        if record.exc_info and not record.exc_text:
            # The formatter reuses exc_text: format the traceback here, redacted.
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = _RedactFilter()
_FORMATTER = logging.Formatter()


def install_redaction() -> None:
    """Attach the redacting filter to the HTTP stack's loggers (urllib3 debug lines print
    the request path) and to the root logger's handlers, so that no line any logger
    writes (an exception's text or traceback included) shows a token. Idempotent."""
    targets: list[logging.Filterer] = [
        logging.getLogger(name) for name in ("urllib3.connectionpool", "urllib3.util.retry")
    ]
    targets.append(logging.getLogger("requests"))
    targets.extend(logging.getLogger().handlers)
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


class WebhookGoneError(PermanentExportError):
    """404 Unknown Webhook (deleted) or 401 Invalid Webhook Token: retrying cannot help,
    and every refused request counts toward Discord's invalid-request ban."""


class UnknownThreadError(PermanentExportError):
    """404 Unknown Channel for ``thread_id``: the run's thread was deleted."""


class TooLargeError(PermanentExportError):
    """413: the attachments are over the server's upload limit."""


@dataclass(frozen=True)
class Attachment:
    """One file of a message."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Response:
    """An HTTP answer; header names lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """Sends one POST (blocking; called from a worker thread)."""

    def post(
        self,
        url: str,
        *,
        params: Mapping[str, str],
        payload: Mapping[str, Any],
        files: Sequence[Attachment],
        timeout_s: float,
    ) -> Response:
        """JSON without files, ``multipart/form-data`` (payload_json + files[n]) with."""


class RequestsTransport:
    """The default transport: a ``requests`` session."""

    def __init__(self) -> None:
        import requests  # the `discord` extra

        self._session = requests.Session()

    def post(
        self,
        url: str,
        *,
        params: Mapping[str, str],
        payload: Mapping[str, Any],
        files: Sequence[Attachment],
        timeout_s: float,
    ) -> Response:
        """Send; network failures raise ``RetryableExportError`` without the token."""
        import requests

        try:
            if files:
                form = {
                    f"files[{i}]": (a.filename, a.data, a.content_type) for i, a in enumerate(files)
                }
                data = {"payload_json": json.dumps(payload)}
                answer = self._session.post(
                    url, params=params, data=data, files=form, timeout=timeout_s
                )
            else:
                answer = self._session.post(url, params=params, json=payload, timeout=timeout_s)
        except requests.RequestException as exc:
            raise RetryableExportError(f"Discord unreachable: {redact(str(exc))}") from None
        except Exception as exc:  # whatever else: its text may quote the URL
            text = f"{type(exc).__name__}: {redact(str(exc))}"
            raise RetryableExportError(f"sending to Discord failed: {text}") from None
        headers = {k.lower(): v for k, v in answer.headers.items()}
        return Response(answer.status_code, headers, answer.content)

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()


class DryRunTransport:
    """``dry_run``: logs each payload and answers as Discord would, sending nothing."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def post(
        self,
        url: str,
        *,
        params: Mapping[str, str],
        payload: Mapping[str, Any],
        files: Sequence[Attachment],
        timeout_s: float,
    ) -> Response:
        """Log and pretend."""
        shown = json.dumps(payload, ensure_ascii=False)
        names = ", ".join(f"{a.filename} ({len(a.data)} bytes)" for a in files)
        logger.info("discord dry run: %s%s", shown, f" + files: {names}" if names else "")
        message_id = str(next(self._ids))
        channel = message_id if payload.get("thread_name") else params.get("thread_id", "0")
        body = json.dumps({"id": message_id, "channel_id": channel}).encode()
        return Response(200, {}, body)

    def close(self) -> None:
        """Nothing to close."""


class DiscordClient:
    """Posts messages to one webhook, one request at a time, within its rate limits."""

    def __init__(
        self,
        url: str,
        *,
        bucket: str,
        transport: Transport,
        timeout_s: float,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._url = url
        self.bucket = bucket
        self._transport = transport
        self._timeout_s = timeout_s
        self.limiter = limiter or RateLimiter()
        self._lock = asyncio.Lock()
        self.sent = 0
        self.rate_limited = 0
        install_redaction()

    def has_room(self, keep: int = 1) -> bool:
        """Whether an optional post (progress) may go now without delaying others."""
        return not self._lock.locked() and self.limiter.has_room(self.bucket, keep)

    async def execute(
        self,
        payload: Mapping[str, Any],
        *,
        thread_id: str | None = None,
        files: Sequence[Attachment] = (),
    ) -> dict[str, Any]:
        """Post one message with ``wait=true``; return the created Message."""
        params = {"wait": "true"}
        if thread_id:
            params["thread_id"] = thread_id
        async with self._lock:
            for _ in range(_MAX_429_IN_A_ROW):
                await self.limiter.wait(self.bucket)
                answer = await asyncio.to_thread(
                    self._transport.post,
                    self._url,
                    params=params,
                    payload=payload,
                    files=files,
                    timeout_s=self._timeout_s,
                )
                retry_after = self.limiter.update(
                    self.bucket, answer.status, answer.headers, answer.body
                )
                if answer.status == 429:
                    self.rate_limited += 1
                    logger.debug("discord: rate limited, retrying in %.2fs", retry_after)
                    continue
                self.sent += 1
                return _classify(answer)
        raise RetryableExportError("Discord kept answering 429; trying again later")


def _classify(answer: Response) -> dict[str, Any]:
    try:
        data = json.loads(answer.body) if answer.body else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if 200 <= answer.status < 300:
        return data
    text = redact(str(data.get("message") or answer.body[:200].decode(errors="replace")))
    code = data.get("code")
    detail = f"HTTP {answer.status}: {text}" + (f" (code {code})" if code else "")
    if answer.status == 404:
        if code == 10003:
            raise UnknownThreadError(detail)
        raise WebhookGoneError(detail)
    if answer.status == 401:  # Invalid Webhook Token: as final as a deleted webhook
        raise WebhookGoneError(detail)
    if answer.status == 413:
        raise TooLargeError(detail)
    if answer.status >= 500 or answer.status == 408:
        raise RetryableExportError(f"Discord answered {detail}")
    errors = redact(json.dumps(data.get("errors"))) if data.get("errors") else ""
    raise PermanentExportError(f"Discord refused the message: {detail} {errors}".strip())
