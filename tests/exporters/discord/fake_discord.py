"""A local Discord-compatible webhook server for tests, written from REFERENCE.md §2.

It implements Execute Webhook (``POST /api[/vN]/webhooks/{id}/{token}``) as Discord
documents it, independently of the exporter:

- JSON or ``multipart/form-data`` (``payload_json`` + ``files[n]``, ≤ 10 files); the
  files together above ``max_upload_bytes`` (10 MiB by default) → 413, code 40005.
- Message limits: ``content`` ≤ 2000, ≤ 10 embeds; per embed title 256, description
  4096, ≤ 25 fields, field name 256 / value 1024, footer 2048, author 256; the sum of
  those texts across all embeds ≤ 6000; at least one of content/embeds/components/
  files/poll. ``username`` 1–80 characters without "clyde" or "discord". Broken → 400
  with code 50035 (50006 for an empty message).
- Forum webhooks need ``thread_name`` (creates a thread) or ``?thread_id``, never both;
  an unknown ``thread_id`` → 404 code 10003 (Unknown Channel).
- ``?wait=true`` returns the Message (``id``, ``channel_id`` = the thread's id for a
  thread; a forum post's starter message id equals the thread id); otherwise 204.
- A per-webhook bucket (``limit`` requests per ``window_s``) with the ``X-RateLimit-*``
  headers; an empty bucket answers 429 with ``{"message", "retry_after", "global"}``
  and ``Retry-After``. A global 429 can be armed. Unknown webhook → 404 code 10015.
- Failure injection (``fail_next``) and deletion (``delete_webhook``).

Every request is recorded (:class:`Recorded`); ``limit_breaks`` lists the requests that
broke a limit (a 400 for a message limit, or a request sent while a 429's
``retry_after`` was still running).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FakeDiscord", "Recorded"]

_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(\d+)/([A-Za-z0-9_.-]+)$")
_EMBED_LIMITS = {"title": 256, "description": 4096}
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_FIELDS = 25
MAX_TOTAL_EMBED_CHARS = 6000
MAX_FILES = 10


@dataclass
class Recorded:
    """One request the server received, and its answer."""

    at: float
    webhook_id: str
    query: dict[str, str]
    status: int
    payload: dict[str, Any]
    files: list[tuple[str, str, int, str]] = field(default_factory=list)
    """(form name, filename, size, content type) of each file part."""
    error: str = ""
    message: dict[str, Any] | None = None
    """The Message the request created, if any."""

    @property
    def text(self) -> str:
        """Content, embed titles, descriptions, fields and footers, as one string."""
        parts = [str(self.payload.get("content") or "")]
        for embed in self.payload.get("embeds") or []:
            parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
            for f in embed.get("fields") or []:
                parts += [str(f.get("name")), str(f.get("value"))]
            parts.append(str((embed.get("footer") or {}).get("text") or ""))
        return "\n".join(parts)


@dataclass
class _Webhook:
    id: str
    token: str
    kind: str
    channel_id: str
    deleted: bool = False
    window_reset: float = 0.0
    remaining: int = 0
    penalty_until: float = 0.0


class FakeDiscord:
    """The server: ``url(name)`` gives a webhook's URL; ``requests`` what was received."""

    def __init__(
        self,
        *,
        limit: int = 5,
        window_s: float = 2.0,
        max_upload_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_upload_bytes = max_upload_bytes
        self.requests: list[Recorded] = []
        self.limit_breaks: list[str] = []
        self.threads: dict[str, str] = {}
        """Thread id → thread name."""
        self.messages: dict[str, list[dict[str, Any]]] = {}
        """Channel or thread id → the Messages posted there, in order."""
        self._webhooks: dict[str, _Webhook] = {}
        self._failures: list[tuple[int, dict[str, Any]]] = []
        self._global_until = 0.0
        self._global_armed: list[float] = []
        self._next_id = 1_100_000_000_000_000_000
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- set-up -------------------------------------------------------------------------
    def start(self) -> FakeDiscord:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_webhook(self, kind: str = "channel", token: str = "") -> str:
        """Create a webhook in a ``channel`` or ``forum`` channel; return its URL."""
        with self._lock:
            webhook_id, channel_id = self._snowflake(), self._snowflake()
            token = token or f"tok-{webhook_id[-6:]}-SeCrEt_{len(self._webhooks)}"
            self._webhooks[webhook_id] = _Webhook(webhook_id, token, kind, channel_id)
            self.messages[channel_id] = []
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/api/webhooks/{webhook_id}/{token}"

    def channel_of(self, url: str) -> str:
        """The channel id a webhook URL posts to."""
        return self._webhooks[url.rstrip("/").split("/")[-2]].channel_id

    def delete_webhook(self, url: str) -> None:
        """Delete a webhook: from now on it answers 404 Unknown Webhook."""
        self._webhooks[url.rstrip("/").split("/")[-2]].deleted = True

    def fail_next(self, status: int, count: int = 1, body: dict[str, Any] | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (e.g. 500, 503, 404)."""
        with self._lock:
            self._failures += [(status, body or {"message": "fake failure", "code": 0})] * count

    def arm_global_429(self, retry_after_s: float) -> None:
        """Answer the next request with a global 429 (``"global": true``)."""
        with self._lock:
            self._global_armed.append(retry_after_s)

    # --- queries ------------------------------------------------------------------------
    def ok(self) -> list[Recorded]:
        """The requests that created a message."""
        with self._lock:
            return [r for r in self.requests if r.message is not None]

    def statuses(self) -> list[int]:
        """The status of every answer, in order."""
        with self._lock:
            return [r.status for r in self.requests]

    # --- the endpoint -------------------------------------------------------------------
    def _snowflake(self) -> str:
        self._next_id += 4_194_304 + 1
        return str(self._next_id)

    def handle(
        self, path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        """Answer one POST: status, headers, JSON body (None for 204)."""
        split = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        match = _PATH.match(split.path)
        now = time.monotonic()
        with self._lock:
            webhook = self._webhooks.get(match.group(1)) if match else None
            if (
                webhook is None
                or webhook.deleted
                or match is None
                or match.group(2) != webhook.token
            ):
                answer = {"message": "Unknown Webhook", "code": 10015}
                self._record(now, "", query, 404, {}, [], answer["message"], None)
                return 404, {}, answer
            return self._execute(webhook, now, query, headers, body)

    def _execute(
        self, webhook: _Webhook, now: float, query: dict[str, str], headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        if now < webhook.penalty_until - 0.005 or now < self._global_until - 0.005:
            self.limit_breaks.append(f"request {len(self.requests)} ignored a 429's retry_after")
        if self._global_armed:
            retry_after = self._global_armed.pop(0)
            self._global_until = now + retry_after
            return self._too_many(webhook, now, query, retry_after, is_global=True)
        if now >= webhook.window_reset:
            webhook.window_reset, webhook.remaining = now + self.window_s, self.limit
        if webhook.remaining <= 0:
            return self._too_many(webhook, now, query, webhook.window_reset - now, is_global=False)
        webhook.remaining -= 1
        rate = self._rate_headers(webhook, now)
        if self._failures:
            status, answer = self._failures.pop(0)
            self._record(now, webhook.id, query, status, {}, [], answer["message"], None)
            return status, rate, answer
        try:
            payload, files = _parse_body(headers, body)
        except ValueError as exc:
            return self._bad(webhook, now, query, rate, {}, [], 50109, str(exc))
        total = sum(size for _, _, size, _ in files)
        if total > self.max_upload_bytes:
            answer = {"message": "Request entity too large", "code": 40005}
            self._record(now, webhook.id, query, 413, payload, files, answer["message"], None)
            return 413, rate, answer
        problem = _check_message(payload, files) or self._check_thread(webhook, payload, query)
        if problem:
            code, text = problem
            if code == 10003:
                self._record(now, webhook.id, query, 404, payload, files, text, None)
                return 404, rate, {"message": text, "code": code}
            return self._bad(webhook, now, query, rate, payload, files, code, text)
        message = self._create(webhook, payload, files, query)
        self._record(now, webhook.id, query, 200, payload, files, "", message)
        if query.get("wait", "false").lower() == "true":
            return 200, rate, message
        return 204, rate, None

    def _too_many(
        self,
        webhook: _Webhook,
        now: float,
        query: dict[str, str],
        retry_after: float,
        *,
        is_global: bool,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        webhook.penalty_until = max(webhook.penalty_until, now + retry_after)
        headers = self._rate_headers(webhook, now)
        headers["Retry-After"] = str(math.ceil(retry_after))
        headers["X-RateLimit-Scope"] = "global" if is_global else "user"
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        answer = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        self._record(now, webhook.id, query, 429, {}, [], answer["message"], None)
        return 429, headers, answer

    def _rate_headers(self, webhook: _Webhook, now: float) -> dict[str, str]:
        reset_after = max(0.0, webhook.window_reset - now)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, webhook.remaining)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"bucket-{webhook.id[-8:]}",
        }

    def _bad(
        self,
        webhook: _Webhook,
        now: float,
        query: dict[str, str],
        rate: dict[str, str],
        payload: dict[str, Any],
        files: list[tuple[str, str, int, str]],
        code: int,
        text: str,
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        self.limit_breaks.append(f"request {len(self.requests)}: {text}")
        self._record(now, webhook.id, query, 400, payload, files, text, None)
        return 400, rate, {"message": "Invalid Form Body", "code": code, "errors": text}

    def _check_thread(
        self, webhook: _Webhook, payload: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, str] | None:
        thread_name, thread_id = payload.get("thread_name"), query.get("thread_id")
        if thread_name and thread_id:
            return 50035, "thread_name and thread_id are mutually exclusive"
        if webhook.kind == "forum" and not thread_name and not thread_id:
            return 220001, "Webhooks posted to forum channels must have a thread_name or thread_id"
        if thread_id and thread_id not in self.threads:
            return 10003, "Unknown Channel"
        if thread_name is not None and not 1 <= len(str(thread_name)) <= 100:
            return 50035, "thread_name: must be 1 to 100 characters"
        return None

    def _create(
        self,
        webhook: _Webhook,
        payload: dict[str, Any],
        files: list[tuple[str, str, int, str]],
        query: dict[str, str],
    ) -> dict[str, Any]:
        message_id = self._snowflake()
        channel_id = query.get("thread_id") or webhook.channel_id
        if payload.get("thread_name"):
            channel_id = message_id  # a forum post's starter message id is the thread id
            self.threads[channel_id] = str(payload["thread_name"])
            self.messages[channel_id] = []
        message = {
            "id": message_id,
            "channel_id": channel_id,
            "webhook_id": webhook.id,
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "attachments": [
                {"id": str(i), "filename": fn, "size": size}
                for i, (_, fn, size, _) in enumerate(files)
            ],
            "author": {"username": payload.get("username") or "webhook", "bot": True},
            "mention_everyone": _pings_everyone(payload),
        }
        self.messages[channel_id].append(message)
        return message

    def _record(
        self,
        now: float,
        webhook_id: str,
        query: dict[str, str],
        status: int,
        payload: dict[str, Any],
        files: list[tuple[str, str, int, str]],
        error: str,
        message: dict[str, Any] | None,
    ) -> None:
        self.requests.append(
            Recorded(now, webhook_id, query, status, payload, files, error, message)
        )


def _parse_body(
    headers: Any, body: bytes
) -> tuple[dict[str, Any], list[tuple[str, str, int, str]]]:
    content_type = headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        payload = json.loads(body or b"{}")
        if not isinstance(payload, dict):
            raise ValueError("the JSON body must be an object")
        return payload, []
    if not content_type.startswith("multipart/form-data"):
        raise ValueError(f"unsupported Content-Type {content_type!r}")
    raw = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    payload: dict[str, Any] = {}
    files: list[tuple[str, str, int, str]] = []
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if name == "payload_json":
            payload = json.loads(data)
        elif isinstance(name, str) and re.fullmatch(r"files\[\d+\]", name):
            filename = part.get_filename() or ""
            files.append((name, filename, len(data), part.get_content_type()))
        else:
            raise ValueError(f"unexpected form field {name!r}")
    return payload, files


def _check_message(
    payload: dict[str, Any], files: list[tuple[str, str, int, str]]
) -> tuple[int, str] | None:
    content = payload.get("content")
    embeds = payload.get("embeds") or []
    if not (content or embeds or payload.get("components") or files or payload.get("poll")):
        return 50006, "Cannot send an empty message"
    if content is not None and len(str(content)) > MAX_CONTENT:
        return 50035, f"content: must be {MAX_CONTENT} or fewer in length"
    if len(embeds) > MAX_EMBEDS:
        return 50035, f"embeds: must be {MAX_EMBEDS} or fewer in length"
    if len(files) > MAX_FILES:
        return 50035, f"files: at most {MAX_FILES}"
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in _EMBED_LIMITS.items():
            text = str(embed.get(key) or "")
            total += len(text)
            if len(text) > limit:
                return 50035, f"embeds[{i}].{key}: must be {limit} or fewer in length"
        fields = embed.get("fields") or []
        if len(fields) > MAX_FIELDS:
            return 50035, f"embeds[{i}].fields: must be {MAX_FIELDS} or fewer in length"
        for j, f in enumerate(fields):
            name, value = str(f.get("name") or ""), str(f.get("value") or "")
            if not name or not value:
                return 50035, f"embeds[{i}].fields[{j}]: name and value are required"
            if len(name) > 256 or len(value) > 1024:
                return 50035, f"embeds[{i}].fields[{j}]: name ≤ 256 and value ≤ 1024"
            total += len(name) + len(value)
        footer = str((embed.get("footer") or {}).get("text") or "")
        author = str((embed.get("author") or {}).get("name") or "")
        if len(footer) > 2048:
            return 50035, f"embeds[{i}].footer.text: must be 2048 or fewer in length"
        if len(author) > 256:
            return 50035, f"embeds[{i}].author.name: must be 256 or fewer in length"
        total += len(footer) + len(author)
    if total > MAX_TOTAL_EMBED_CHARS:
        return 50035, f"embeds: total size exceeds {MAX_TOTAL_EMBED_CHARS} ({total})"
    username = payload.get("username")
    if username is not None:
        name = str(username)
        if not 1 <= len(name) <= 80:
            return 50035, "username: must be between 1 and 80 in length"
        if "clyde" in name.lower() or "discord" in name.lower():
            return 50035, "username: must not contain 'clyde' or 'discord'"
    return None


def _pings_everyone(payload: dict[str, Any]) -> bool:
    """Whether Discord would ping @everyone/@here: the text says it and parse allows it."""
    content = str(payload.get("content") or "")
    if "@everyone" not in content and "@here" not in content:
        return False
    allowed = payload.get("allowed_mentions")
    if allowed is None:
        return True
    return "everyone" in (allowed.get("parse") or [])


def _handler(fake: FakeDiscord) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, headers, answer = fake.handle(self.path, self.headers, body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if answer is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
