"""Collector ingest: sustained points/s into SQLite through the persistent queue.

Prints, from one run on this machine:
  floor      parse + walk + insert-or-ignore in one process, no pipeline (the ceiling)
  collector  N concurrent sender processes (pre-encoded, SDK-shaped batches) → a real
             collector process (OTLP/gRPC → persistent queue → sqlite), until all stored
  latency    p50/p99 from log() in an SDK process to queryable in the store, at half load
  rss        the collector's peak resident memory, its writer process included

Usage: python benchmarks/collector_ingest.py [--senders 4] [--points 400000] [--seconds 10]
                                             [--writer process|thread]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.series_read import read_points
from trainwire.exporters.sqlite.writer import StoreWriter
from trainwire.records import MetricRecord, encode_metrics
from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess

KEYS = 10  # scalars per log() call, as in the SDK benchmark
CALLS_PER_REQUEST = 200  # log() calls per request: what the SDK sender batches in 0.1 s


def sdk_shaped_requests(sender: int, points: int) -> list[bytes]:
    """Pre-encoded requests like the SDK's: one run, KEYS gauges + ml.step per call."""
    resource = Resource(
        attributes=to_attributes(
            {
                semconv.ML_RUN_ID: f"bench-{sender}",
                semconv.ML_RUN_RANK: 0,
                semconv.SERVICE_INSTANCE_ID: f"bench-{sender}/0",
            }
        )
    )
    scope = InstrumentationScope(name=semconv.SCOPE_NAME, version="bench")
    calls = points // KEYS
    requests = []
    for start in range(0, calls, CALLS_PER_REQUEST):
        records = [
            MetricRecord(1_000_000 + step, step, {f"m{k}": float(step * k) for k in range(KEYS)})
            for step in range(start, min(calls, start + CALLS_PER_REQUEST))
        ]
        requests.append(encode_metrics(resource, scope, records).SerializeToString())
    return requests


def floor(points: int, workdir: Path) -> float:
    """Points/s for parse + walk + insert in one process, no pipeline."""
    requests = sdk_shaped_requests(0, points)
    writer = StoreWriter(connect(workdir / "floor.db"))
    started = time.perf_counter()
    for raw in requests:
        writer.write_metrics(ExportMetricsServiceRequest.FromString(raw))
    return points / (time.perf_counter() - started)


def _send(endpoint: str, requests: list[bytes], barrier: mp.Barrier) -> None:  # type: ignore[type-arg]
    import grpc

    channel = grpc.insecure_channel(endpoint)
    call = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
    barrier.wait()
    for raw in requests:
        while True:
            try:
                call(raw, timeout=30)
                break
            except grpc.RpcError as exc:
                if exc.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                ):
                    raise
                time.sleep(0.02)


def stored_points(db: Path) -> int:
    """Points in the store (0 if it is not there yet)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            # Loose points and those sealed into chunks (exporters/sqlite/chunks.py).
            return int(
                conn.execute(
                    "SELECT (SELECT count(*) FROM points)"
                    " + (SELECT coalesce(sum(count), 0) FROM point_chunks)"
                ).fetchone()[0]
            )
        except sqlite3.OperationalError:
            return 0


def last_points_stored(db: Path, last_time: int, senders: int) -> bool:
    """Whether every sender's final point is in the store: a cheap primary-key lookup per
    sender, where counting every point would itself eat a core as the table grows."""
    if not db.exists():
        return False
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            found = conn.execute(
                "SELECT count(*) FROM points p JOIN series s ON s.id = p.series_id"
                f" WHERE s.name = 'm{KEYS - 1}' AND p.time = ?",
                (last_time,),
            ).fetchone()[0]
        except sqlite3.OperationalError:
            return False
    return int(found) >= senders


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process and its children (the store writer), in MB."""
    import psutil

    total = 0.0
    children = [child.pid for child in psutil.Process(pid).children(recursive=True)]
    for each in [pid, *children]:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def collector_config(writer: str) -> str:
    """The test config, with the sqlite exporter writing in a process (default) or a thread."""
    if writer == "process":
        return DEFAULT_TEST_CONFIG
    return DEFAULT_TEST_CONFIG.replace(
        "    path: {db_path}\n", "    path: {db_path}\n    writer_process: false\n"
    )


def collector_throughput(
    senders: int, points: int, workdir: Path, config: str = DEFAULT_TEST_CONFIG
) -> tuple[float, float]:
    """Points/s from first send until every point is stored, and the collector's peak RSS."""
    per_sender = points // senders
    payloads = [sdk_shaped_requests(k, per_sender) for k in range(senders)]
    with CollectorProcess(workdir / "collector", config=config) as collector:
        barrier = mp.Barrier(senders + 1)
        procs = [mp.Process(target=_send, args=(collector.endpoint, p, barrier)) for p in payloads]
        for proc in procs:
            proc.start()
        barrier.wait()
        started = time.perf_counter()
        total = per_sender * senders
        # Every request carries the same times for each sender: the last is the last call's.
        last_time = 1_000_000 + per_sender // KEYS - 1
        while True:
            while not last_points_stored(collector.db_path, last_time, senders):
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            if stored_points(collector.db_path) >= total:
                break
        for proc in procs:
            proc.join()
        assert collector.process is not None
        rss = peak_rss_mb(collector.process.pid)
    return total / elapsed, rss


LATENCY_SCRIPT = """
import sys, time, trainwire
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
run = trainwire.init(name="latency", endpoint=sys.argv[1])
interval = 1.0 / rate
start = time.perf_counter()
n = 0
while time.perf_counter() - start < seconds:
    run.log({f"m{k}": float(n) for k in range(10)})
    n += 1
    next_at = start + n * interval
    delay = next_at - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
run.finish()
"""


def latency(calls_per_s: float, seconds: float, workdir: Path) -> tuple[float, float]:
    """p50 and p99 seconds from log() to queryable, at ``calls_per_s`` log() calls per second."""
    with CollectorProcess(workdir / "latency", config=DEFAULT_TEST_CONFIG) as collector:
        script = workdir / "latency.py"
        script.write_text(LATENCY_SCRIPT)
        proc = subprocess.Popen(
            [sys.executable, str(script), collector.endpoint, str(calls_per_s), str(seconds)]
        )
        delays: list[float] = []
        seen = 0
        while not collector.db_path.exists():
            time.sleep(0.01)
        conn = sqlite3.connect(collector.db_path, timeout=30)
        while proc.poll() is None or seen == 0:
            try:
                # Through the store's reader: at this rate a series' points are sealed
                # into chunks within a fraction of a second.
                times = [
                    t
                    for (sid,) in conn.execute("SELECT id FROM series WHERE name = 'm0'")
                    for t in read_points(conn, sid, from_time=seen + 1).times
                ]
            except sqlite3.OperationalError:
                times = []
            now = time.time_ns()
            for t in times:
                delays.append((now - t) / 1e9)
            if times:
                seen = max(times)
            time.sleep(0.005)
        conn.close()
    delays.sort()
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--points", type=int, default=400_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--writer",
        choices=["process", "thread"],
        default="process",
        help="the sqlite exporter's writer_process setting (process: the default)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base = floor(args.points, workdir)
        rate, rss = collector_throughput(
            args.senders, args.points, workdir, collector_config(args.writer)
        )
        half_calls = rate / 2 / KEYS
        p50, p99 = latency(half_calls, args.seconds, workdir)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"{'measure':<44}{'value':>14}")
    print(f"{'floor: parse+walk+insert, 1 process (pts/s)':<44}{base:>14,.0f}")
    print(f"{f'collector, {args.senders} senders (pts/s)':<44}{rate:>14,.0f}")
    print(f"{'collector / floor':<44}{rate / base:>14.2f}")
    print(f"{f'log() to queryable p50 at {half_calls:,.0f} calls/s (s)':<44}{p50:>14.3f}")
    print(f"{'log() to queryable p99 (s)':<44}{p99:>14.3f}")
    print(f"{'collector peak RSS (MB)':<44}{rss:>14.1f}")


if __name__ == "__main__":
    main()
