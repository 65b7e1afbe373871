"""Query API speed and store size: what `trainwire.Client`, the CLI and the HTTP API read.

Prints, from one run on this machine (stores written through the real StoreWriter):
  fetch       one metric series of 1,000,000 points, whole (RunQuery.metrics); and one
              of the 10 metrics of a 1,000,000-point run (100,000 points)
  downsample  the same series to 1,000 points (max_points=1000; first/min/max/last per bucket)
  runs        list runs over 10,000 runs with a param filter (all matches, and a page of 50)
  bytes/pt    store file size per point: the 1M-point single-metric run, and a run
              logging 10 scalars per log() call (1M points)
  noisy       the single-metric run again with jittered times and random float32
              values (what compresses worst): fetch time and bytes/pt

Usage: python benchmarks/query.py [--points 1000000] [--runs 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter
from trainwire.records import EventRecord, MetricRecord, encode_events, encode_metrics

T0 = 1_700_000_000_000_000_000
SCOPE = InstrumentationScope(name=semconv.SCOPE_NAME, version="bench")
CALLS_PER_REQUEST = 1000


def resource(run_id: str) -> Resource:
    return Resource(
        attributes=to_attributes(
            {semconv.ML_RUN_ID: run_id, semconv.ML_EXPERIMENT_NAME: "bench", semconv.ML_RUN_RANK: 0}
        )
    )


def write_points(
    db: Path, run_id: str, points: int, keys: int, spacing_ns: int, noisy: bool = False
) -> None:
    """``points`` points of ``keys`` metrics, one log() call per ``spacing_ns``.

    ``noisy``: times jitter by up to ±20 % of the spacing and values are random float32
    numbers (a loss as ``tensor.item()`` gives it), the hard case for compression;
    otherwise the values repeat every 977 steps and the times are exact.
    """
    conn = connect(db)
    writer = StoreWriter(conn)
    res = resource(run_id)
    calls = points // keys
    rng = random.Random(7)
    jitter = spacing_ns // 5 if noisy else 0

    def value(step: int, k: int) -> float:
        if noisy:
            return struct.unpack("f", struct.pack("f", rng.lognormvariate(0, 1)))[0]
        return (step % 977) * 0.001 + k

    for start in range(0, calls, CALLS_PER_REQUEST):
        records = [
            MetricRecord(
                T0 + step * spacing_ns + rng.randint(-jitter, jitter),
                step,
                {f"m{k}": value(step, k) for k in range(keys)},
            )
            for step in range(start, min(calls, start + CALLS_PER_REQUEST))
        ]
        writer.write_metrics(encode_metrics(res, SCOPE, records))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def write_runs(db: Path, runs: int) -> None:
    """``runs`` runs, each with a start event (config), a summary and one metric."""
    conn = connect(db)
    writer = StoreWriter(conn)
    for i in range(runs):
        run_id = f"run{i:06d}"
        config = {"lr": 10 ** -(1 + i % 4), "batch_size": 32 << (i % 3), "model": {"depth": i % 50}}
        events = [
            EventRecord(T0 + i, semconv.EVENT_RUN_START, {"name": f"r{i}", "config": config},
                        f"{run_id}-start"),
            EventRecord(T0 + i + 1, semconv.EVENT_RUN_SUMMARY, {"val_acc": (i % 100) / 100},
                        f"{run_id}-summary"),
        ]  # fmt: skip
        writer.write_logs(encode_events(resource(run_id), SCOPE, events))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(best, median) seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def size_per_point(db: Path, points: int) -> float:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        one = work / "one.db"
        started = time.perf_counter()
        write_points(one, "big", args.points, 1, 1_000_000)  # 1 kHz for 1,000 s
        print(
            f"wrote {args.points:,} points of one metric in {time.perf_counter() - started:.1f} s"
        )
        with RunQuery(one) as query:
            body = query.metrics("big", key="m0")
            assert body["metrics"][0]["total"] == args.points, body["metrics"][0]["total"]
            fetch = timed(lambda: query.metrics("big", key="m0"), args.repeat)
            small = query.metrics("big", key="m0", max_points=1000)["metrics"][0]
            down = timed(lambda: query.metrics("big", key="m0", max_points=1000), args.repeat)
        print(f"fetch      {args.points:,} points: best {fetch[0]:.3f} s, median {fetch[1]:.3f} s"
              "  (target ≤ 0.3 s)")  # fmt: skip
        print(f"downsample to {len(small['value'])} points: best {down[0] * 1e3:.1f} ms,"
              f" median {down[1] * 1e3:.1f} ms  (target ≤ 50 ms)")  # fmt: skip
        print(f"bytes/pt   one metric per log(): {size_per_point(one, args.points):.1f}"
              "  (target ≤ 40)")  # fmt: skip
        noisy = work / "noisy.db"
        write_points(noisy, "noisy", args.points, 1, 1_000_000, noisy=True)
        with RunQuery(noisy) as query:
            rough = timed(lambda: query.metrics("noisy", key="m0"), args.repeat)
        per_point = size_per_point(noisy, args.points)
        print(f"noisy      jittered times, random float32 values: fetch best {rough[0]:.3f} s,"
              f" median {rough[1]:.3f} s; bytes/pt {per_point:.1f}")  # fmt: skip
        ten = work / "ten.db"
        write_points(ten, "wide", args.points, 10, 1_000_000)
        print(f"bytes/pt   10 metrics per log(): {size_per_point(ten, args.points):.1f}")
        with RunQuery(ten) as query:
            part = len(query.metrics("wide", key="m0")["metrics"][0]["value"])
            tenth = timed(lambda: query.metrics("wide", key="m0"), args.repeat)
            tenth_down = timed(
                lambda: query.metrics("wide", key="m0", max_points=1000), args.repeat
            )
        down_ms = tenth_down[0] * 1e3
        print(f"fetch      one of 10 metrics ({part:,} points): best {tenth[0]:.3f} s,"
              f" median {tenth[1]:.3f} s; to 1,000 points: best {down_ms:.1f} ms")  # fmt: skip
        runs = work / "runs.db"
        started = time.perf_counter()
        write_runs(runs, args.runs)
        print(f"wrote {args.runs:,} runs in {time.perf_counter() - started:.1f} s")
        with RunQuery(runs) as query:
            where = "params.lr < 0.01 and params.batch_size >= 64"
            matches = query.list_runs(where=where)["total"]
            every = timed(lambda: query.list_runs(where=where), args.repeat)
            page = timed(lambda: query.list_runs(where=where, limit=50), args.repeat)
        print(f"runs       where {where!r}: {matches:,} of {args.runs:,} match;"
              f" all: best {every[0] * 1e3:.1f} ms, median {every[1] * 1e3:.1f} ms;"
              f" first 50: best {page[0] * 1e3:.1f} ms, median {page[1] * 1e3:.1f} ms"
              "  (target ≤ 100 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
