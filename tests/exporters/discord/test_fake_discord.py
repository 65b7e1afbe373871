"""The fake Discord rejects what Discord rejects (REFERENCE.md §2), so passing it means something."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from fake_discord import FakeDiscord


def _post(url: str, payload: dict[str, Any], **params: str) -> requests.Response:
    return requests.post(url, params={"wait": "true", **params}, json=payload, timeout=10)


def _embed(**fields: Any) -> dict[str, Any]:
    return {"title": "t", **fields}


BAD_MESSAGES = [
    ("content over 2000", {"content": "x" * 2001}),
    ("11 embeds", {"embeds": [_embed() for _ in range(11)]}),
    ("title over 256", {"embeds": [_embed(title="x" * 257)]}),
    ("description over 4096", {"embeds": [_embed(description="x" * 4097)]}),
    ("26 fields", {"embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 26)]}),
    ("field name over 256", {"embeds": [_embed(fields=[{"name": "n" * 257, "value": "v"}])]}),
    ("field value over 1024", {"embeds": [_embed(fields=[{"name": "n", "value": "v" * 1025}])]}),
    ("footer over 2048", {"embeds": [_embed(footer={"text": "x" * 2049})]}),
    ("author over 256", {"embeds": [_embed(author={"name": "x" * 257})]}),
    (
        "total over 6000",
        {"embeds": [_embed(description="x" * 4000), _embed(description="y" * 2000)]},
    ),
    ("empty message", {"username": "bot"}),
    ("username with clyde", {"content": "hi", "username": "Clyde bot"}),
    ("username with discord", {"content": "hi", "username": "my Discord"}),
    ("username over 80", {"content": "hi", "username": "u" * 81}),
    ("empty username", {"content": "hi", "username": ""}),
    (
        "parse users and a users list",
        {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
    ),
    ("unknown parse value", {"content": "hi", "allowed_mentions": {"parse": ["channels"]}}),
    ("101 roles", {"content": "hi", "allowed_mentions": {"roles": [str(i) for i in range(101)]}}),
    ("flag webhooks cannot set", {"content": "hi", "flags": 1 << 6}),
]


@pytest.mark.parametrize("case,payload", BAD_MESSAGES, ids=[c for c, _ in BAD_MESSAGES])
def test_message_limits_are_refused_with_400(fake: FakeDiscord, case: str, payload: Any) -> None:
    """A message over any of Discord's limits is refused with 400, and counted as a broken limit."""
    url = fake.add_webhook()
    answer = _post(url, payload)
    assert answer.status_code == 400, case
    assert answer.json()["code"] in (50035, 50006)
    assert len(fake.limit_breaks) == 1


def test_a_message_at_every_limit_is_accepted(fake: FakeDiscord) -> None:
    """Exactly at the limits (2000 content, 10 embeds, 6000 characters in all) is fine."""
    url = fake.add_webhook()
    embeds = [_embed(title="t" * 256, description="d" * 344) for _ in range(10)]
    answer = _post(url, {"content": "c" * 2000, "embeds": embeds, "username": "u" * 80})
    assert answer.status_code == 200, answer.text
    message = answer.json()
    assert message["id"] and message["channel_id"] == fake.channel_of(url)


def test_without_wait_the_answer_is_204(fake: FakeDiscord) -> None:
    """Without wait=true Discord answers 204 No Content."""
    url = fake.add_webhook()
    answer = requests.post(url, json={"content": "hi"}, timeout=10)
    assert answer.status_code == 204 and answer.content == b""


def test_forum_threads(fake: FakeDiscord) -> None:
    """A forum webhook needs thread_name (creates a thread whose id is the message's channel_id) or thread_id, never both."""
    url = fake.add_webhook("forum")
    assert _post(url, {"content": "hi"}).json()["code"] == 220001
    created = _post(url, {"content": "first", "thread_name": "run-1"}).json()
    thread_id = created["channel_id"]
    assert thread_id == created["id"] and fake.threads[thread_id] == "run-1"
    again = _post(url, {"content": "second"}, thread_id=thread_id).json()
    assert again["channel_id"] == thread_id
    both = _post(url, {"content": "x", "thread_name": "y"}, thread_id=thread_id)
    assert both.status_code == 400
    unknown = _post(url, {"content": "x"}, thread_id="42")
    assert unknown.status_code == 404 and unknown.json()["code"] == 10003
    assert [m["content"] for m in fake.messages[thread_id]] == ["first", "second"]


def test_multipart_files_up_to_the_limit_then_413() -> None:
    """payload_json + files[n] is accepted up to the upload limit; above it the answer is 413 (40005)."""
    with FakeDiscord(max_upload_bytes=1000) as fake:
        url = fake.add_webhook()
        data = {"payload_json": json.dumps({"content": "file"})}
        ok = requests.post(
            url,
            params={"wait": "true"},
            data=data,
            timeout=10,
            files={"files[0]": ("a.png", b"x" * 1000, "image/png")},
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["attachments"] == [{"id": "0", "filename": "a.png", "size": 1000}]
        big = requests.post(
            url,
            params={"wait": "true"},
            data=data,
            timeout=10,
            files={"files[0]": ("a.png", b"x" * 1001, "image/png")},
        )
        assert big.status_code == 413 and big.json()["code"] == 40005


def test_bucket_headers_and_429() -> None:
    """Each answer carries X-RateLimit-*; an empty bucket answers 429 with retry_after and Retry-After, and a request inside retry_after counts as a broken limit."""
    with FakeDiscord(limit=2, window_s=1.0) as fake:
        url = fake.add_webhook()
        first = _post(url, {"content": "1"})
        assert first.headers["X-RateLimit-Limit"] == "2"
        assert first.headers["X-RateLimit-Remaining"] == "1"
        assert 0 < float(first.headers["X-RateLimit-Reset-After"]) <= 1.0
        assert first.headers["X-RateLimit-Bucket"]
        assert float(first.headers["X-RateLimit-Reset"]) > time.time() - 1
        assert _post(url, {"content": "2"}).headers["X-RateLimit-Remaining"] == "0"
        limited = _post(url, {"content": "3"})
        assert limited.status_code == 429
        body = limited.json()
        assert set(body) == {"message", "retry_after", "global"} and body["global"] is False
        assert 0 < body["retry_after"] <= 1.0 and int(limited.headers["Retry-After"]) >= 1
        assert fake.limit_breaks == []
        _post(url, {"content": "4"})  # inside retry_after: breaks the limit
        assert len(fake.limit_breaks) == 1
        time.sleep(
            float(body["retry_after"]) + 0.05
        )  # the fake's own window, not a timing assertion
        assert _post(url, {"content": "5"}).status_code == 200


def test_global_429_and_failures(fake: FakeDiscord) -> None:
    """A global 429 says so; injected failures and a deleted webhook answer as told."""
    url = fake.add_webhook()
    fake.arm_global_429(0.2)
    limited = _post(url, {"content": "x"})
    assert limited.status_code == 429 and limited.json()["global"] is True
    assert limited.headers["X-RateLimit-Global"] == "true"
    time.sleep(0.25)
    fake.fail_next(503)
    assert _post(url, {"content": "x"}).status_code == 503
    fake.delete_webhook(url)
    gone = _post(url, {"content": "x"})
    assert gone.status_code == 404 and gone.json()["code"] == 10015
    wrong_token = url.rsplit("/", 1)[0] + "/not-the-token"
    fake2 = _post(wrong_token, {"content": "x"})
    assert fake2.status_code == 404


def test_everyone_pings_are_detected(fake: FakeDiscord) -> None:
    """@everyone in content pings unless allowed_mentions.parse leaves 'everyone' out."""
    url = fake.add_webhook()
    assert _post(url, {"content": "@everyone hi"}).json()["mention_everyone"] is True
    quiet = _post(url, {"content": "@everyone hi", "allowed_mentions": {"parse": []}})
    assert quiet.json()["mention_everyone"] is False


def test_a_wrong_token_is_401_and_a_thread_name_needs_a_forum(fake: FakeDiscord) -> None:
    """A known webhook id with the wrong token answers 401 (50027); thread_name on a channel webhook is refused."""
    url = fake.add_webhook()
    wrong_token = url.rsplit("/", 1)[0] + "/not-the-token"
    answer = _post(wrong_token, {"content": "x"})
    assert answer.status_code == 401 and answer.json()["code"] == 50027
    assert _post(url, {"content": "x", "thread_name": "t"}).status_code == 400
    assert fake.threads == {}


def test_mentions_follow_allowed_mentions(fake: FakeDiscord) -> None:
    """Only the content pings, and only whom allowed_mentions lists; embeds never ping."""
    url = fake.add_webhook()
    content = "<@11> <@!12> <@&21> <@&22> @here"
    listed = {"parse": [], "users": ["11"], "roles": ["22"]}
    message = _post(url, {"content": content, "allowed_mentions": listed}).json()
    assert message["mentions"] == [{"id": "11"}] and message["mention_roles"] == ["22"]
    assert message["mention_everyone"] is False
    default = _post(url, {"content": content}).json()
    assert [u["id"] for u in default["mentions"]] == ["11", "12"]
    assert default["mention_roles"] == ["21", "22"] and default["mention_everyone"] is True
    embed_only = _post(url, {"embeds": [{"title": "<@11> @everyone"}]}).json()
    assert embed_only["mentions"] == [] and embed_only["mention_everyone"] is False


def test_a_shared_bucket_rate_limits_every_webhook_of_it() -> None:
    """With shared_bucket, a second webhook drains the first one's bucket: its next post gets a 429 its headers did not foresee."""
    with FakeDiscord(limit=2, window_s=1.0, shared_bucket=True) as fake:
        ours, neighbour = fake.add_webhook(), fake.add_webhook()
        first = _post(ours, {"content": "1"})
        assert first.headers["X-RateLimit-Remaining"] == "1"
        assert _post(neighbour, {"content": "n"}).status_code == 200
        limited = _post(ours, {"content": "2"})
        assert limited.status_code == 429 and limited.json()["global"] is False
        assert fake.limit_breaks == []
