"""Discord's message and embed limits, and fitting what we post within them.

Limits from https://discord.com/developers/docs/resources/message#embed-object-embed-limits
(REFERENCE.md §2): too-long text is cut with an ellipsis, too many fields are spread
over several embeds, and too many embeds (or characters) over several messages.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "MAX_CONTENT",
    "MAX_EMBEDS",
    "MAX_FIELDS",
    "MAX_FILES",
    "MAX_TOTAL",
    "embed_size",
    "fit_embed",
    "neutralize",
    "pack_embeds",
    "truncate",
]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_FIELDS = 25
MAX_FILES = 10
MAX_TOTAL = 6000
"""Title, description, field names and values, footer and author of all embeds together."""
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
ELLIPSIS = "…"
_MASS_MENTION = re.compile(r"@(everyone|here)")
_MENTION = re.compile(r"<(@[!&]?\d+>)")
"""A user (``<@id>``, ``<@!id>``) or role (``<@&id>``) mention."""


def neutralize(text: str) -> str:
    """``text`` with ``@everyone``/``@here`` and user/role mentions broken by a zero-width
    space, so a user string (run name, param, tag, metric, exception) pings nobody."""
    return _MENTION.sub("<\u200b\\1", _MASS_MENTION.sub("@\u200b\\1", text))


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS


def embed_size(embed: dict[str, Any]) -> int:
    """The characters of ``embed`` that count against the 6000 total."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    for f in embed.get("fields", []):
        size += len(f["name"]) + len(f["value"])
    size += len(embed.get("footer", {}).get("text", ""))
    size += len(embed.get("author", {}).get("name", ""))
    return size


def fit_embed(embed: dict[str, Any]) -> list[dict[str, Any]]:
    """``embed`` with every text within its limit; more than 25 fields → several embeds.

    The continuation embeds keep the colour and repeat the title with "(cont.)".
    """
    embed = dict(embed)
    title = truncate(neutralize(embed.get("title", "")), MAX_TITLE)
    if title:
        embed["title"] = title
    if "description" in embed:
        embed["description"] = truncate(neutralize(embed["description"]), MAX_DESCRIPTION)
    for key, inner, limit in (("footer", "text", MAX_FOOTER), ("author", "name", MAX_AUTHOR)):
        if key in embed:
            embed[key] = {**embed[key], inner: truncate(neutralize(embed[key][inner]), limit)}
    fields: list[dict[str, Any]] = [
        {
            "name": truncate(neutralize(str(f["name"])), MAX_FIELD_NAME) or "\u200b",
            "value": truncate(neutralize(str(f["value"])), MAX_FIELD_VALUE) or "\u200b",
            "inline": bool(f.get("inline", False)),
        }
        for f in embed.get("fields", [])
    ]
    # Each embed also keeps under the total on its own, so any one fits a message.
    budget = MAX_TOTAL - embed_size({**embed, "fields": []}) - 20
    if budget < 400 and "description" in embed:
        embed["description"] = truncate(embed["description"], max(100, budget // 2))
        budget = MAX_TOTAL - embed_size({**embed, "fields": []}) - 20
    chunks: list[list[dict[str, Any]]] = [[]]
    used = 0
    for f in fields:
        size = len(f["name"]) + len(f["value"])
        if len(chunks[-1]) >= MAX_FIELDS or (chunks[-1] and used + size > budget):
            chunks.append([])
            used = 0
        chunks[-1].append(f)
        used += size
    result = []
    for i, chunk in enumerate(chunks):
        if i == 0:
            part = {k: v for k, v in embed.items() if k != "fields"}
            if chunk:
                part["fields"] = chunk
        else:
            cont = " (cont.)"
            part = {"title": truncate(title, MAX_TITLE - len(cont)) + cont, "fields": chunk}
            if "color" in embed:
                part["color"] = embed["color"]
        result.append(part)
    return result


def pack_embeds(embeds: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Fit each embed, then group them into messages of ≤ 10 embeds and ≤ 6000 characters."""
    fitted = [part for embed in embeds for part in fit_embed(embed)]
    messages: list[list[dict[str, Any]]] = []
    total = 0
    for embed in fitted:
        size = embed_size(embed)
        if not messages or len(messages[-1]) >= MAX_EMBEDS or total + size > MAX_TOTAL:
            messages.append([])
            total = 0
        messages[-1].append(embed)
        total += size
    return messages
