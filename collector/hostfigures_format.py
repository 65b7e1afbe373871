"""One line of a host's latest figures, as the Discord exporter prints it beside a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trainwire.collector.hostfigures import HostFigures

__all__ = ["format_figures"]

_GIB = 1024**3


def _gib(n: int) -> str:
    text = f"{n / _GIB:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def format_figures(figures: HostFigures) -> str:
    """One line, e.g. ``CPU 42% · RAM 12.3/64 GiB · GPU0 98% 71°C 38/80 GiB 301 W``.

    Values not reported are left out; a host with none at all gives ``""``.
    """
    parts = []
    if figures.cpu_utilization is not None:
        parts.append(f"CPU {_percent(figures.cpu_utilization)}")
    used, total = figures.memory_used_bytes, figures.memory_total_bytes
    if used is not None and total:
        parts.append(f"RAM {_gib(used)}/{_gib(total)} GiB")
    elif figures.memory_utilization is not None:
        parts.append(f"RAM {_percent(figures.memory_utilization)}")
    for index, gpu in enumerate(figures.gpus):
        words = [f"GPU{index}"]
        if gpu.utilization is not None:
            words.append(_percent(gpu.utilization))
        if gpu.temperature_c is not None:
            words.append(f"{gpu.temperature_c:.0f}°C")
        if gpu.memory_used_bytes is not None and gpu.memory_limit_bytes:
            words.append(f"{_gib(gpu.memory_used_bytes)}/{_gib(gpu.memory_limit_bytes)} GiB")
        if gpu.power_w is not None:
            words.append(f"{gpu.power_w:.0f} W")
        if len(words) > 1:
            parts.append(" ".join(words))
    return " · ".join(parts)
