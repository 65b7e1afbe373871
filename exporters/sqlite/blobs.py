"""Read artifact blobs from the content-addressed store, checking each against its sha256."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from trainwire.errors import CorruptArtifactError, InvalidQueryError

__all__ = ["blob_path", "check_name", "verified_chunks"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_name(name: str) -> str:
    """Refuse an artifact name that is empty, absolute, or climbs out with '..'."""
    if not isinstance(name, str) or not name:
        raise InvalidQueryError("give an artifact name")
    if any(ord(c) < 32 or c == "\x7f" for c in name) or "\\" in name:
        raise InvalidQueryError(f"artifact name {name!r} contains a control character or '\\'")
    if name.startswith("/") or ".." in name.split("/"):
        raise InvalidQueryError(
            f"artifact name {name!r} is absolute or contains '..'; names are relative paths"
        )
    return name


def blob_path(directory: Path, sha256: str) -> Path:
    """Where blob ``sha256`` lives under the store ``directory`` (BlobStore's layout)."""
    if not _SHA256.fullmatch(sha256):
        raise InvalidQueryError(f"{sha256!r} is not a sha256 digest")
    return directory / "blobs" / sha256[:2] / sha256[2:]


def verified_chunks(path: Path, sha256: str, chunk_bytes: int) -> Iterator[bytes]:
    """The file's bytes in chunks; after the last, raise CorruptArtifactError on a mismatch."""
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            hasher.update(chunk)
            yield chunk
    if hasher.hexdigest() != sha256:
        raise CorruptArtifactError(
            f"artifact blob {path} does not match its sha256 {sha256} (the file was changed or"
            " damaged on disk); log the artifact again"
        )
