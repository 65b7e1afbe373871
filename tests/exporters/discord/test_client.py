"""The webhook client against the fake Discord: buckets, 429s (global too), classified errors."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from fake_discord import FakeDiscord

from trainwire.errors import PermanentExportError, RetryableExportError
from trainwire.exporters.discord.client import (
    Attachment,
    DiscordClient,
    RequestsTransport,
    TooLargeError,
    UnknownThreadError,
    WebhookGoneError,
    redact,
)
from trainwire.exporters.discord.ratelimit import RateLimiter, retry_after_of


def _client(url: str) -> DiscordClient:
    return DiscordClient(
        url, bucket=url.split("/")[-2], transport=RequestsTransport(), timeout_s=10
    )


def test_bursts_stay_within_the_bucket() -> None:
    """Twelve posts against a 3 / 0.5 s bucket all succeed, without one 429: the headers are obeyed."""
    with FakeDiscord(limit=3, window_s=0.5) as fake:
        client = _client(fake.add_webhook())

        async def burst() -> None:
            for i in range(12):
                await client.execute({"content": f"m{i}"})

        asyncio.run(burst())
        assert fake.statuses() == [200] * 12
        assert fake.limit_breaks == []


def test_429_is_honoured_including_global() -> None:
    """A global 429 and an unexpected bucket 429 are each waited out, then the post succeeds."""
    with FakeDiscord(limit=50, window_s=1.0) as fake:
        client = _client(fake.add_webhook())
        fake.arm_global_429(0.3)
        message = asyncio.run(client.execute({"content": "after global"}))
        assert message["content"] == "after global"
        assert fake.statuses() == [429, 200]
        assert fake.limit_breaks == []
        assert client.rate_limited == 1


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, {"message": "Unknown Webhook", "code": 10015}, WebhookGoneError),
        (404, {"message": "Unknown Channel", "code": 10003}, UnknownThreadError),
        (401, {"message": "Invalid Webhook Token", "code": 50027}, WebhookGoneError),
        (413, {"message": "Request entity too large", "code": 40005}, TooLargeError),
        (500, {"message": "oops", "code": 0}, RetryableExportError),
        (502, {"message": "bad gateway", "code": 0}, RetryableExportError),
        (400, {"message": "Invalid Form Body", "code": 50035}, PermanentExportError),
    ],
)
def test_answers_are_classified(status: int, body: dict[str, object], error: type) -> None:
    """404, 401, 413, 5xx and other 4xx answers raise the error the exporter acts on, without the token."""
    with FakeDiscord() as fake:
        url = fake.add_webhook()
        fake.fail_next(status, body=body)
        with pytest.raises(error) as info:
            asyncio.run(_client(url).execute({"content": "x"}))
        assert url.rsplit("/", 1)[1] not in str(info.value)


def test_attachments_go_as_multipart() -> None:
    """Files are sent as files[n] with payload_json, and come back as the message's attachments."""
    with FakeDiscord() as fake:
        client = _client(fake.add_webhook())
        files = [
            Attachment("a.png", b"\x89PNG" + b"0" * 100, "image/png"),
            Attachment("b.txt", b"hi"),
        ]
        message = asyncio.run(client.execute({"content": "files"}, files=files))
        assert [a["filename"] for a in message["attachments"]] == ["a.png", "b.txt"]
        assert fake.requests[0].files[0] == ("files[0]", "a.png", 104, "image/png")


def test_rate_limiter_reads_headers_and_429_bodies() -> None:
    """An empty bucket delays its requests until the reset; a global 429 delays every bucket."""
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limiter.update("a", 200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "1.5"}, b"")
    assert limiter.delay("a") == pytest.approx(1.55) and limiter.delay("b") == 0
    assert not limiter.has_room("a")
    now[0] += 2
    assert limiter.delay("a") == 0 and limiter.has_room("a")
    body = b'{"message": "You are being rate limited.", "retry_after": 0.75, "global": true}'
    assert limiter.update("a", 429, {}, body) == 0.75
    assert limiter.delay("b") == pytest.approx(0.8)
    assert retry_after_of({"retry-after": "3"}, b"not json") == (3.0, False)


def test_redact_hides_every_token() -> None:
    """Tokens are replaced in URLs wherever they appear in a text."""
    text = "url: https://discord.com/api/webhooks/123/abc-DEF_ghi?wait=true failed"
    assert redact(text) == "url: https://discord.com/api/webhooks/123/***?wait=true failed"


def test_no_log_line_shows_the_token_even_in_a_traceback() -> None:
    """Once a client exists, a line logged anywhere — message, arguments, traceback — shows *** instead of the token."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        _client("http://127.0.0.1:9/api/webhooks/77/tOkEn_SeCrEt-1")
        log = logging.getLogger("somewhere.else")
        url = "https://discord.com/api/webhooks/77/tOkEn_SeCrEt-1"
        log.warning("posting to %s", url)
        try:
            raise ValueError(f"bad {url}")
        except ValueError:
            log.exception("failed")
        logging.getLogger("urllib3.connectionpool").warning('"POST %s HTTP/1.1" 200', url)
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "tOkEn_SeCrEt" not in text
    assert text.count("webhooks/77/***") == 3
