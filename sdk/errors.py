"""Exceptions raised by trainwire.

::

    TrainwireError
    ├── ConfigError              a setting, argument or config file is wrong
    ├── InvalidValueError        a value passed to the SDK cannot be logged (also TypeError)
    ├── RunFinishedError         the run was used after ``finish()``
    ├── RunNotFoundError         no run matches an id, prefix or name (also LookupError)
    ├── ArtifactNotFoundError    a run has no artifact of that name (also LookupError)
    ├── InvalidQueryError        a query (filter, sort, range) is malformed (also ValueError)
    ├── CorruptArtifactError     a stored blob's bytes no longer match its sha256
    └── ExportError              sending data somewhere failed
        ├── PermanentExportError     retrying cannot help (bad request, deleted webhook)
        └── RetryableExportError     try again, after ``retry_after_s`` if given
"""

from __future__ import annotations

import sqlite3

__all__ = [
    "ArtifactNotFoundError",
    "ConfigError",
    "CorruptArtifactError",
    "CorruptStoreError",
    "ExportError",
    "InvalidQueryError",
    "InvalidValueError",
    "PermanentExportError",
    "RetryableExportError",
    "RunFinishedError",
    "RunNotFoundError",
    "TrainwireError",
]


class TrainwireError(Exception):
    """Base class of every error trainwire raises on purpose."""


class ConfigError(TrainwireError, ValueError):
    """A setting, argument or config file is wrong; the message names each problem."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class InvalidValueError(TrainwireError, TypeError):
    """A value passed to the SDK cannot be logged; the message names the key."""


class RunFinishedError(TrainwireError, RuntimeError):
    """The run was used after ``finish()``."""


class RunNotFoundError(TrainwireError, LookupError):
    """No run, or more than one, matches what the user gave."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class ArtifactNotFoundError(TrainwireError, LookupError):
    """The run has no artifact of that name (or its blob is missing from the store)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidQueryError(TrainwireError, ValueError):
    """A query's filter expression, sort key or range is malformed; the message says where."""


class CorruptArtifactError(TrainwireError):
    """A stored artifact's bytes no longer hash to its sha256 (it was set aside)."""


class CorruptStoreError(TrainwireError, sqlite3.DatabaseError):
    """Stored points no longer decode: the store file was damaged."""


class ExportError(TrainwireError):
    """Sending data to a destination failed."""


class PermanentExportError(ExportError):
    """Sending failed in a way retrying cannot fix; the data is dropped and counted."""


class RetryableExportError(ExportError):
    """Sending failed for now; retry, no sooner than ``retry_after_s`` when it is set."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
