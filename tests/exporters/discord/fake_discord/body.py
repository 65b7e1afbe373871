"""Reading an Execute Webhook body: JSON, or ``multipart/form-data`` with ``payload_json``
and ``files[n]`` parts (REFERENCE.md §2, Attachments)."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from typing import Any

from .limits import FILE

__all__ = ["parse_body"]

_FILE_PART = re.compile(r"files\[\d+\]")


def parse_body(headers: Any, body: bytes) -> tuple[dict[str, Any], list[FILE]]:
    """``(payload, files)``; ValueError for a body Discord could not read."""
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
    payload = {}
    files: list[FILE] = []
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if name == "payload_json":
            payload = json.loads(data)
        elif isinstance(name, str) and _FILE_PART.fullmatch(name):
            filename = part.get_filename() or ""
            files.append((name, filename, len(data), part.get_content_type()))
        else:
            raise ValueError(f"unexpected form field {name!r}")
    return payload, files
