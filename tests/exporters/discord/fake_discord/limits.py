"""What Discord refuses in an Execute Webhook body, from REFERENCE.md §2 (not from the exporter).

Message: ``content`` ≤ 2000; ≤ 10 embeds; per embed title 256, description 4096,
≤ 25 fields, field name 256 / value 1024 (both required), footer text 2048, author
name 256; those texts summed over all embeds ≤ 6000; ≤ 10 files; at least one of
content/embeds/components/files/poll. ``username`` 1–80 characters without "clyde"
or "discord". ``allowed_mentions``: ``parse`` of roles/users/everyone, not both
``parse: [users]`` and a ``users`` list (same for roles), ≤ 100 ids each. ``flags``:
only SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS and IS_COMPONENTS_V2.

Each check returns ``(Discord error code, text)`` or None.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FILE", "check_message", "mentions"]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_FIELDS = 25
MAX_TOTAL = 6000
MAX_FILES = 10
MAX_USERNAME = 80
EMBED_TEXT = {"title": 256, "description": 4096}
FIELD_NAME, FIELD_VALUE, FOOTER, AUTHOR = 256, 1024, 2048, 256
ALLOWED_FLAGS = (1 << 2) | (1 << 12) | (1 << 15)
"""SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2."""
INVALID_FORM, EMPTY_MESSAGE = 50035, 50006

FILE = tuple[str, str, int, str]
"""(form name, filename, size, content type) of one file part."""

_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)")


def check_message(payload: dict[str, Any], files: list[FILE]) -> tuple[int, str] | None:
    """The first reason Discord would refuse this message, or None."""
    content = payload.get("content")
    embeds = payload.get("embeds") or []
    if not (content or embeds or payload.get("components") or files or payload.get("poll")):
        return EMPTY_MESSAGE, "Cannot send an empty message"
    if content is not None and len(str(content)) > MAX_CONTENT:
        return INVALID_FORM, f"content: must be {MAX_CONTENT} or fewer in length"
    if len(embeds) > MAX_EMBEDS:
        return INVALID_FORM, f"embeds: must be {MAX_EMBEDS} or fewer in length"
    if len(files) > MAX_FILES:
        return INVALID_FORM, f"files: at most {MAX_FILES}"
    total = 0
    for i, embed in enumerate(embeds):
        problem, size = _check_embed(i, embed)
        if problem:
            return INVALID_FORM, problem
        total += size
    if total > MAX_TOTAL:
        return INVALID_FORM, f"embeds: total size exceeds {MAX_TOTAL} ({total})"
    problem = _check_username(payload) or _check_mentions(payload) or _check_flags(payload)
    return (INVALID_FORM, problem) if problem else None


def _check_embed(i: int, embed: dict[str, Any]) -> tuple[str, int]:
    total = 0
    for key, limit in EMBED_TEXT.items():
        text = str(embed.get(key) or "")
        total += len(text)
        if len(text) > limit:
            return f"embeds[{i}].{key}: must be {limit} or fewer in length", 0
    fields = embed.get("fields") or []
    if len(fields) > MAX_FIELDS:
        return f"embeds[{i}].fields: must be {MAX_FIELDS} or fewer in length", 0
    for j, f in enumerate(fields):
        name, value = str(f.get("name") or ""), str(f.get("value") or "")
        if not name or not value:
            return f"embeds[{i}].fields[{j}]: name and value are required", 0
        if len(name) > FIELD_NAME or len(value) > FIELD_VALUE:
            return f"embeds[{i}].fields[{j}]: name ≤ {FIELD_NAME} and value ≤ {FIELD_VALUE}", 0
        total += len(name) + len(value)
    footer = str((embed.get("footer") or {}).get("text") or "")
    author = str((embed.get("author") or {}).get("name") or "")
    if len(footer) > FOOTER:
        return f"embeds[{i}].footer.text: must be {FOOTER} or fewer in length", 0
    if len(author) > AUTHOR:
        return f"embeds[{i}].author.name: must be {AUTHOR} or fewer in length", 0
    return "", total + len(footer) + len(author)


def _check_username(payload: dict[str, Any]) -> str:
    if "username" not in payload:
        return ""
    name = str(payload["username"])
    if not 1 <= len(name) <= MAX_USERNAME:
        return f"username: must be between 1 and {MAX_USERNAME} in length"
    if "clyde" in name.lower() or "discord" in name.lower():
        return "username: must not contain 'clyde' or 'discord'"
    return ""


def _check_mentions(payload: dict[str, Any]) -> str:
    allowed = payload.get("allowed_mentions")
    if allowed is None:
        return ""
    parse = allowed.get("parse") or []
    if any(p not in ("roles", "users", "everyone") for p in parse):
        return f"allowed_mentions.parse: unknown value in {parse}"
    for kind in ("users", "roles"):
        ids = allowed.get(kind) or []
        if ids and kind in parse:
            return f"allowed_mentions: parse:[{kind}] and {kind} are mutually exclusive"
        if len(ids) > 100:
            return f"allowed_mentions.{kind}: at most 100"
    return ""


def _check_flags(payload: dict[str, Any]) -> str:
    flags = int(payload.get("flags") or 0)
    return "" if flags & ~ALLOWED_FLAGS == 0 else f"flags: {flags} has flags webhooks cannot set"


def mentions(payload: dict[str, Any]) -> tuple[list[str], list[str], bool]:
    """Who the message pings: (user ids, role ids, everyone) — from ``content`` only
    (embeds never ping), as ``allowed_mentions`` permits (absent: everything in it)."""
    content = str(payload.get("content") or "")
    allowed = payload.get("allowed_mentions")
    parse = ["users", "roles", "everyone"] if allowed is None else allowed.get("parse") or []
    listed = {} if allowed is None else allowed
    users = [
        u for u in _USER.findall(content) if "users" in parse or u in (listed.get("users") or [])
    ]
    roles = [
        r for r in _ROLE.findall(content) if "roles" in parse or r in (listed.get("roles") or [])
    ]
    everyone = bool(_EVERYONE.search(content)) and "everyone" in parse
    return users, roles, everyone
