"""The fake Discord's Execute Webhook endpoint, its buckets and its record of requests."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .body import parse_body
from .buckets import Bucket, rate_headers, too_many
from .handler import handler
from .limits import FILE, INVALID_FORM, check_message, mentions
from .recorded import Recorded

__all__ = ["FakeDiscord", "Recorded"]

_PATH = re.compile(r"^/api(?:/v\d+)?/webhooks/(\d+)/([A-Za-z0-9_.-]+)$")
_MAX_THREAD_NAME = 100
Answer = tuple[int, dict[str, str], dict[str, Any] | None]


@dataclass
class _Webhook:
    id: str
    token: str
    kind: str
    channel_id: str
    bucket: Bucket
    deleted: bool = False
    told_until: float = 0.0
    """A 429 told this webhook's client to wait until then."""


class FakeDiscord:
    """The server: ``add_webhook()`` gives a webhook's URL; ``requests`` what was received.

    ``shared_bucket``: every webhook draws from one bucket, as webhooks of one IP or
    channel can (REFERENCE.md §2): a client's view of ``Remaining`` goes stale and
    it meets real bucket 429s.
    """

    def __init__(
        self,
        *,
        limit: int = 5,
        window_s: float = 2.0,
        max_upload_bytes: int = 10 * 1024 * 1024,
        shared_bucket: bool = False,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_upload_bytes = max_upload_bytes
        self.requests: list[Recorded] = []
        self.limit_breaks: list[str] = []
        """Requests refused for a message limit, or sent while told to wait by a 429."""
        self.threads: dict[str, str] = {}
        """Thread id → thread name."""
        self.messages: dict[str, list[dict[str, Any]]] = {}
        """Channel or thread id → the Messages posted there, in order."""
        self._shared = Bucket(name="shared") if shared_bucket else None
        self._webhooks: dict[str, _Webhook] = {}
        self._failures: list[tuple[int, dict[str, Any]] | None] = []
        self._global_armed: list[float] = []
        self._next_id = 1_100_000_000_000_000_000
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler(self))
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
            bucket = self._shared or Bucket(name=f"bucket-{webhook_id[-8:]}")
            self._webhooks[webhook_id] = _Webhook(webhook_id, token, kind, channel_id, bucket)
            self.messages[channel_id] = []
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/api/webhooks/{webhook_id}/{token}"

    def channel_of(self, url: str) -> str:
        """The channel id a webhook URL posts to."""
        return self._webhooks[url.rstrip("/").split("/")[-2]].channel_id

    def delete_webhook(self, url: str) -> None:
        """Delete a webhook: from now on it answers 404 Unknown Webhook."""
        self._webhooks[url.rstrip("/").split("/")[-2]].deleted = True

    def fail_next(
        self, status: int, count: int = 1, body: dict[str, Any] | None = None, *, after: int = 0
    ) -> None:
        """Answer ``count`` requests with ``status`` (e.g. 500, 503, 404), ``after`` others."""
        failure = (status, body or {"message": "fake failure", "code": 0})
        with self._lock:
            self._failures += [None] * after + [failure] * count

    def recover(self) -> None:
        """Forget the failures ``fail_next`` has not answered yet."""
        with self._lock:
            self._failures.clear()

    def arm_global_429(self, retry_after_s: float) -> None:
        """Answer the next request with a global 429 (``"global": true``)."""
        with self._lock:
            self._global_armed.append(retry_after_s)

    # --- queries ------------------------------------------------------------------------
    def ok(self, webhook_url: str = "") -> list[Recorded]:
        """The requests that created a message (to one webhook when given)."""
        webhook_id = webhook_url.rstrip("/").split("/")[-2] if webhook_url else ""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.message is not None and (not webhook_id or r.webhook_id == webhook_id)
            ]

    def statuses(self, webhook_url: str = "") -> list[int]:
        """The status of every answer, in order (to one webhook when given)."""
        webhook_id = webhook_url.rstrip("/").split("/")[-2] if webhook_url else ""
        with self._lock:
            return [r.status for r in self.requests if not webhook_id or r.webhook_id == webhook_id]

    # --- the endpoint -------------------------------------------------------------------
    def _snowflake(self) -> str:
        self._next_id += 4_194_304 + 1
        return str(self._next_id)

    def handle(self, path: str, headers: Any, body: bytes) -> Answer:
        """Answer one POST: status, headers, JSON body (None for 204)."""
        split = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        match = _PATH.match(split.path)
        now = time.monotonic()
        with self._lock:
            webhook = self._webhooks.get(match.group(1)) if match else None
            if match is None or webhook is None or webhook.deleted:
                return self._refuse(now, "", query, 404, "Unknown Webhook", 10015)
            if match.group(2) != webhook.token:
                return self._refuse(now, webhook.id, query, 401, "Invalid Webhook Token", 50027)
            return self._execute(webhook, now, query, headers, body)

    def _refuse(
        self, now: float, webhook_id: str, query: dict[str, str], status: int, text: str, code: int
    ) -> Answer:
        self._record(now, webhook_id, query, status, {}, [], text, None)
        return status, {}, {"message": text, "code": code}

    def _execute(
        self, webhook: _Webhook, now: float, query: dict[str, str], headers: Any, body: bytes
    ) -> Answer:
        if now < webhook.told_until - 0.005:
            self.limit_breaks.append(f"request {len(self.requests)} ignored a 429's retry_after")
        if self._global_armed:
            return self._too_many(webhook, now, query, self._global_armed.pop(0), is_global=True)
        bucket = webhook.bucket
        if now >= bucket.window_reset:
            bucket.window_reset, bucket.remaining = now + self.window_s, self.limit
        if bucket.remaining <= 0:
            return self._too_many(webhook, now, query, bucket.window_reset - now, is_global=False)
        bucket.remaining -= 1
        rate = rate_headers(bucket, self.limit, now)
        failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, answer = failure
            self._record(now, webhook.id, query, status, {}, [], answer["message"], None)
            return status, rate, answer
        try:
            payload, files = parse_body(headers, body)
        except ValueError as exc:
            return self._bad(webhook, now, query, rate, {}, [], 50109, str(exc))
        if sum(size for _, _, size, _ in files) > self.max_upload_bytes:
            text = "Request entity too large"
            self._record(now, webhook.id, query, 413, payload, files, text, None)
            return 413, rate, {"message": text, "code": 40005}
        problem = check_message(payload, files) or self._check_thread(webhook, payload, query)
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
    ) -> Answer:
        webhook.told_until = max(webhook.told_until, now + retry_after)
        headers, answer = too_many(
            webhook.bucket, self.limit, now, retry_after, is_global=is_global
        )
        self._record(now, webhook.id, query, 429, {}, [], str(answer["message"]), None)
        return 429, headers, answer

    def _bad(
        self,
        webhook: _Webhook,
        now: float,
        query: dict[str, str],
        rate: dict[str, str],
        payload: dict[str, Any],
        files: list[FILE],
        code: int,
        text: str,
    ) -> Answer:
        self.limit_breaks.append(f"request {len(self.requests)}: {text}")
        self._record(now, webhook.id, query, 400, payload, files, text, None)
        return 400, rate, {"message": "Invalid Form Body", "code": code, "errors": text}

    def _check_thread(
        self, webhook: _Webhook, payload: dict[str, Any], query: dict[str, str]
    ) -> tuple[int, str] | None:
        thread_name, thread_id = payload.get("thread_name"), query.get("thread_id")
        if thread_name and thread_id:
            return INVALID_FORM, "thread_name and thread_id are mutually exclusive"
        if thread_name is not None and webhook.kind != "forum":
            return INVALID_FORM, "thread_name: only for webhooks of forum or media channels"
        if webhook.kind == "forum" and not thread_name and not thread_id:
            return 220001, "Webhooks posted to forum channels must have a thread_name or thread_id"
        if thread_id and thread_id not in self.threads:
            return 10003, "Unknown Channel"
        if thread_name is not None and not 1 <= len(str(thread_name)) <= _MAX_THREAD_NAME:
            return INVALID_FORM, f"thread_name: must be 1 to {_MAX_THREAD_NAME} characters"
        return None

    def _create(
        self, webhook: _Webhook, payload: dict[str, Any], files: list[FILE], query: dict[str, str]
    ) -> dict[str, Any]:
        message_id = self._snowflake()
        channel_id = query.get("thread_id") or webhook.channel_id
        if payload.get("thread_name"):
            channel_id = message_id  # a forum post's starter message id is the thread id
            self.threads[channel_id] = str(payload["thread_name"])
            self.messages[channel_id] = []
        users, roles, everyone = mentions(payload)
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
            "mentions": [{"id": u} for u in users],
            "mention_roles": roles,
            "mention_everyone": everyone,
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
        files: list[FILE],
        error: str,
        message: dict[str, Any] | None,
    ) -> None:
        self.requests.append(
            Recorded(now, webhook_id, query, status, payload, files, error, message)
        )
