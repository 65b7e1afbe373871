"""What the fake Discord records of each request it received."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .limits import FILE

__all__ = ["Recorded"]


@dataclass
class Recorded:
    """One request the server received, and its answer."""

    at: float
    webhook_id: str
    query: dict[str, str]
    status: int
    payload: dict[str, Any]
    files: list[FILE] = field(default_factory=list)
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
