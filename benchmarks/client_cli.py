"""Client and CLI costs on a store file: points as dicts, exports, and `trainwire runs` start-up.

Prints, from one run on this machine (the store written through the real StoreWriter):
  metrics     Client.metrics(run, key) for one series of --points/10 points, and for all
              ten series (--points points) as one dict a point
  export      `export_run` of the --points-point run: jsonl, csv and whirr
  runs        wall time of the `trainwire runs --db ...` process over --runs runs

Usage: python benchmarks/client_cli.py [--points 1000000] [--runs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

import trainwire
from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.exporters.sqlite import StoreReader
from trainwire.exporters.sqlite.export import export_run
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter
from trainwire.records import EventRecord, MetricRecord, encode_events, encode_metrics

T0 = 1_700_000_000_000_000_000
SCOPE = InstrumentationScope(name=semconv.SCOPE_NAME, version="bench")
KEYS = 10


def _resource(run_id: str) -> Resource:
    attributes = {semconv.ML_RUN_ID: run_id, semconv.ML_EXPERIMENT_NAME: "bench"}
    return Resource(attributes=to_attributes(attributes))


def write_store(db: Path, points: int, runs: int) -> None:
    """One run of ``points`` points (10 keys), and ``runs`` small runs beside it."""
    conn = connect(db)
    writer = StoreWriter(conn)
    start = EventRecord(T0, semconv.EVENT_RUN_START, {"name": "big", "config": {"lr": 0.1}}, "s")
    writer.write_logs(encode_events(_resource("big"), SCOPE, [start]))
    steps = points // KEYS
    for first in range(0, steps, 1000):
        records = [
            MetricRecord(T0 + step * 1000, step, {f"m{k}": step * 0.001 + k for k in range(KEYS)})
            for step in range(first, min(steps, first + 1000))
        ]
        writer.write_metrics(encode_metrics(_resource("big"), SCOPE, records))
    for i in range(runs):
        body = {"name": f"r{i}", "config": {"lr": 10 ** -(1 + i % 4)}}
        event = EventRecord(T0 + i, semconv.EVENT_RUN_START, body, f"r{i}-start")
        writer.write_logs(encode_events(_resource(f"r{i:05d}"), SCOPE, [event]))
        metric = MetricRecord(T0 + i, 0, {"loss": 1.0 / (i + 1)})
        writer.write_metrics(encode_metrics(_resource(f"r{i:05d}"), SCOPE, [metric]))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def median_s(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        write_store(db, args.points, args.runs)
        with trainwire.Client(db) as client:
            one = median_s(lambda: client.metrics("big", "m0"), args.repeat)
            every = median_s(lambda: client.metrics("big"), args.repeat)
        print(f"metrics     one series ({args.points // KEYS:,} points): {one:.3f} s")
        print(f"metrics     all series ({args.points:,} points):  {every:.3f} s")
        conn = connect(db)
        with StoreReader(db) as reader:
            for fmt in ("jsonl", "csv", "whirr"):
                out = Path(tmp) / fmt
                took = median_s(
                    lambda out=out, fmt=fmt: export_run(reader, conn, "big", out, format=fmt), 1
                )
                size = sum(f.stat().st_size for f in out.iterdir()) / 1e6
                print(f"export      {fmt:5} ({args.points:,} points): {took:.2f} s, {size:.0f} MB")
        conn.close()
        command = [sys.executable, "-m", "trainwire", "runs", "--db", str(db)]
        started = median_s(
            lambda: subprocess.run(command, check=True, capture_output=True), args.repeat
        )
        print(f"runs        `trainwire runs` process over {args.runs + 1:,} runs: {started:.3f} s")


if __name__ == "__main__":
    main()
