"""Config of the artifact store: the ``artifacts`` block of the OTLP receiver."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ArtifactsConfig"]


@dataclass(frozen=True)
class ArtifactsConfig:
    """Where artifact blobs live and how large one may be.

    Blobs are content-addressed by SHA-256, so artifact names never become paths:
    nothing is written outside ``directory`` whatever a client calls its artifact.
    """

    enabled: bool = True
    """Serve the ArtifactService (gRPC) and its HTTP twin next to OTLP."""
    directory: str = "./trainwire-data/artifacts"
    """Created if missing; holds ``blobs/``, ``partial/`` (resumable uploads) and ``corrupt/``."""
    max_blob_size_mib: int = 4096
    """Largest blob accepted, in MiB; larger uploads are refused before any byte is stored."""

    def validate(self) -> list[str]:
        """Return one line per problem."""
        problems = []
        if self.enabled and not self.directory.strip():
            problems.append("directory: required; e.g. ./trainwire-data/artifacts")
        if self.max_blob_size_mib < 1:
            problems.append("max_blob_size_mib: must be at least 1")
        return problems

    @property
    def max_blob_bytes(self) -> int:
        """``max_blob_size_mib`` in bytes."""
        return self.max_blob_size_mib * 1024 * 1024
