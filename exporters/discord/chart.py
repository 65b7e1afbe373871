"""A small PNG line chart of a run's main metrics, drawn without matplotlib (zlib + struct).

One panel per metric, stacked, each scaled to its own range, with a light grid.
The message that carries the chart names each panel's metric and range (the
picture has no text: no font is needed, and it stays a few kilobytes).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence

__all__ = ["COLORS", "render_chart"]

COLORS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("blue", (59, 130, 246)),
    ("orange", (249, 115, 22)),
    ("green", (34, 197, 94)),
    ("purple", (168, 85, 247)),
    ("red", (239, 68, 68)),
    ("teal", (20, 184, 166)),
)
_BACKGROUND = (255, 255, 255)
_GRID = (229, 231, 235)
_FRAME = (156, 163, 175)


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(_BACKGROUND) * (width * height))

    def dot(self, x: int, y: int, color: tuple[int, int, int]) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = 3 * (y * self.width + x)
            self.pixels[i : i + 3] = bytes(color)

    def hline(self, x0: int, x1: int, y: int, color: tuple[int, int, int]) -> None:
        for x in range(x0, x1 + 1):
            self.dot(x, y, color)

    def vline(self, x: int, y0: int, y1: int, color: tuple[int, int, int]) -> None:
        for y in range(y0, y1 + 1):
            self.dot(x, y, color)

    def line(self, a: tuple[int, int], b: tuple[int, int], color: tuple[int, int, int]) -> None:
        (x0, y0), (x1, y1) = a, b
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            x = round(x0 + (x1 - x0) * i / steps)
            y = round(y0 + (y1 - y0) * i / steps)
            self.dot(x, y, color)
            self.dot(x, y + 1, color)  # two pixels thick: readable on a phone

    def png(self) -> bytes:
        rows = b"".join(
            b"\x00" + bytes(self.pixels[3 * y * self.width : 3 * (y + 1) * self.width])
            for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows, 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def render_chart(
    series: Sequence[Sequence[tuple[float, float]]], *, width: int = 480, panel_height: int = 100
) -> bytes:
    """A PNG with one panel per series of (x, y) points (non-finite values skipped)."""
    pad = 6
    height = max(1, len(series)) * (panel_height + pad) + pad
    canvas = _Canvas(width, height)
    for index, points in enumerate(series):
        top = pad + index * (panel_height + pad)
        left, right, bottom = pad, width - pad - 1, top + panel_height - 1
        for k in range(1, 4):
            canvas.hline(left, right, top + k * (bottom - top) // 4, _GRID)
        canvas.hline(left, right, top, _FRAME)
        canvas.hline(left, right, bottom, _FRAME)
        canvas.vline(left, top, bottom, _FRAME)
        canvas.vline(right, top, bottom, _FRAME)
        finite = [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
        if not finite:
            continue
        xs, ys = [p[0] for p in finite], [p[1] for p in finite]
        x_lo, x_hi = min(xs), max(xs)
        y_lo, y_hi = min(ys), max(ys)
        x_span = (x_hi - x_lo) or 1.0
        y_span = (y_hi - y_lo) or 1.0
        inner = 3
        color = COLORS[index % len(COLORS)][1]
        previous: tuple[int, int] | None = None
        for x, y in finite:
            px = left + inner + round((x - x_lo) / x_span * (right - left - 2 * inner))
            py = bottom - inner - round((y - y_lo) / y_span * (bottom - top - 2 * inner))
            if previous is not None:
                canvas.line(previous, (px, py), color)
            else:
                canvas.dot(px, py, color)
            previous = (px, py)
    return canvas.png()
