"""The run's spool: encoded OTLP requests on disk until the destination acknowledges them.

Append-only segment files of CRC-framed records. A frame is
``b"TW" | length:u32 | crc32:u32 | signal:u8 | payload`` (little endian; the CRC
covers signal and payload), so a tail torn by a crash is detected and skipped,
never misread. What has been acknowledged is a position (segment, offset) kept in
``acked``; segments wholly behind it are deleted. Requests are shipped in spool
order, so acknowledgements always advance that one position.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SIGNAL_LOGS", "SIGNAL_METRICS", "Frame", "Spool", "read_frames"]

logger = logging.getLogger("trainwire")

SIGNAL_METRICS = 1
SIGNAL_LOGS = 2
_MAGIC = b"TW"
_HEADER = struct.Struct("<2sII")  # magic, length of signal+payload, crc32
_MAX_FRAME = 256 * 2**20


@dataclass(frozen=True)
class Frame:
    """One spooled request and where the next frame starts."""

    segment: int
    offset: int
    end: int
    signal: int
    payload: bytes


def read_frames(path: Path, segment: int, start: int = 0) -> Iterator[Frame]:
    """Yield the intact frames of one segment file from ``start``; stop at a torn or bad frame."""
    try:
        with open(path, "rb") as file:
            file.seek(start)
            data = file.read()  # only what follows the acknowledged position
    except FileNotFoundError:
        return
    position = 0
    while position + _HEADER.size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, position)
        body_start = position + _HEADER.size
        body = data[body_start : body_start + length]
        if magic != _MAGIC or length == 0 or length > _MAX_FRAME or len(body) < length:
            break  # a torn tail: the crash came mid-write
        if zlib.crc32(body) != crc:
            logger.warning(
                "trainwire: %s: damaged record at byte %d; it and the rest of the file are skipped",
                path,
                start + position,
            )
            break
        end = body_start + length
        yield Frame(segment, start + position, start + end, body[0], bytes(body[1:]))
        position = end


class Spool:
    """The spool directory of one run (one writer: the run's sender thread)."""

    def __init__(self, directory: Path, *, segment_bytes: int = 8 * 2**20) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._acked = self._read_acked()
        segments = self.segments()
        self._segment = (segments[-1] + 1) if segments else 1  # never append after a torn tail
        self._file = open(self._path(self._segment), "ab")  # noqa: SIM115 - kept open for appends
        self._size = 0

    def segments(self) -> list[int]:
        """Segment numbers present, oldest first."""
        return sorted(int(p.stem) for p in self.directory.glob("*.spool") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:08d}.spool"

    def append(self, signal: int, payload: bytes) -> tuple[int, int]:
        """Write one request (not yet fsynced); return its end position."""
        body = bytes([signal]) + payload
        try:
            self._file.write(_HEADER.pack(_MAGIC, len(body), zlib.crc32(body)) + body)
        except OSError:
            self._start_fresh_segment()
            raise
        self._size += _HEADER.size + len(body)
        position = (self._segment, self._size)
        if self._size >= self.segment_bytes:
            self._roll()
        return position

    def sync(self) -> None:
        """Make every appended request durable (flush and fsync)."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            self._start_fresh_segment()
            raise

    def _start_fresh_segment(self) -> None:
        """After a failed write (disk full), never append behind a torn frame: readers stop."""
        try:
            self._file.close()
        except OSError:
            pass
        self._segment += 1
        self._file = open(self._path(self._segment), "ab")  # noqa: SIM115
        self._size = 0

    def _roll(self) -> None:
        self.sync()
        self._file.close()
        self._segment += 1
        self._file = open(self._path(self._segment), "ab")  # noqa: SIM115
        self._size = 0

    def pending(self, limit: int) -> list[Frame]:
        """Up to ``limit`` unacknowledged requests, oldest first (from disk)."""
        if not self._file.closed:
            self._file.flush()
        frames: list[Frame] = []
        acked_segment, acked_offset = self._acked
        for segment in self.segments():
            if segment < acked_segment:
                continue
            start = acked_offset if segment == acked_segment else 0
            for frame in read_frames(self._path(segment), segment, start):
                frames.append(frame)
                if len(frames) >= limit:
                    return frames
        return frames

    def ack(self, frame: Frame) -> None:
        """Mark everything up to and including ``frame`` delivered; delete finished segments."""
        self._acked = (frame.segment, frame.end)
        tmp = self.directory / "acked.tmp"
        tmp.write_text(f"{frame.segment} {frame.end}\n")
        os.replace(tmp, self.directory / "acked")
        for segment in self.segments():
            if segment < frame.segment:
                self._path(segment).unlink(missing_ok=True)

    def acked_position(self) -> tuple[int, int]:
        """(segment, offset) of the first unacknowledged byte."""
        return self._acked

    def _read_acked(self) -> tuple[int, int]:
        try:
            segment, offset = (self.directory / "acked").read_text().split()
            return int(segment), int(offset)
        except (FileNotFoundError, ValueError):
            return (0, 0)

    def close(self, *, delete_if_done: bool = False) -> bool:
        """Close the file; with ``delete_if_done``, remove the spool when all is acknowledged."""
        self.sync()
        self._file.close()
        done = not self.pending(1)
        if delete_if_done and done:
            for path in self.directory.iterdir():
                path.unlink(missing_ok=True)
            self.directory.rmdir()
        return done
