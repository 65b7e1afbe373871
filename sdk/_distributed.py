"""Which rank of which job this process is: one run per job, one stream per rank.

Rank and world size come from ``TRAINWIRE_RANK``/``TRAINWIRE_WORLD_SIZE``, torchrun's
``RANK``/``WORLD_SIZE``, or SLURM's ``SLURM_PROCID``/``SLURM_NTASKS``. Every rank of a
job must agree on the run id: ``TRAINWIRE_RUN_ID``, else torchrun's
``TORCHELASTIC_RUN_ID`` (unless it is torchrun's default ``none``), else SLURM's job
(and step) id. Unrelated jobs are never merged: a rank > 0 with no shared id is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from trainwire.errors import ConfigError

__all__ = ["Placement", "placement"]

_RANK_VARS = ("TRAINWIRE_RANK", "RANK", "SLURM_PROCID")
_WORLD_VARS = ("TRAINWIRE_WORLD_SIZE", "WORLD_SIZE", "SLURM_NTASKS")


@dataclass(frozen=True)
class Placement:
    """Rank, world size, and the run id all ranks share (None: make a new one)."""

    rank: int
    world_size: int
    shared_run_id: str | None


def _first_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(
                    f"environment variable {name}={raw!r} is not a whole number"
                ) from None
            if value < 0:
                raise ConfigError(f"environment variable {name}={raw!r} must be 0 or more")
            return value
    return default


def placement() -> Placement:
    """Read this process's rank, world size and shared run id from the environment."""
    rank = _first_int(_RANK_VARS, 0)
    world_size = max(1, _first_int(_WORLD_VARS, 1))
    if rank >= world_size:
        raise ConfigError(
            f"rank {rank} is not below world size {world_size}; check RANK/WORLD_SIZE"
        )
    shared = os.environ.get("TRAINWIRE_RUN_ID", "").strip() or None
    if shared is None:
        elastic = os.environ.get("TORCHELASTIC_RUN_ID", "").strip()
        slurm_job = os.environ.get("SLURM_JOB_ID", "").strip()
        if elastic and elastic != "none":
            shared = f"torchrun-{elastic}"
        elif slurm_job:
            step = os.environ.get("SLURM_STEP_ID", "").strip()
            shared = f"slurm-{slurm_job}" + (f"-{step}" if step else "")
        elif world_size > 1:
            hint = (
                "torchrun's default rendezvous id is 'none': pass --rdzv-id (or set"
                " TRAINWIRE_RUN_ID)"
                if elastic == "none"
                else "set TRAINWIRE_RUN_ID to the same value on every rank (e.g. the job id)"
            )
            raise ConfigError(
                f"this is rank {rank} of {world_size} but nothing names the job they share, so"
                f" their data cannot be joined into one run; {hint}"
            )
    return Placement(rank, world_size, shared)
