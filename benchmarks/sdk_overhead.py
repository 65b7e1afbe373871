"""SDK overhead: what logging costs a training process, trainwire against its peers.

Each tracker runs in a fresh interpreter with its own temporary directory, offline
(nothing is sent anywhere but loopback), one after the other, and logs the same
pre-built dicts of 10 scalars, one per step. For each it prints:
  log()          median and p99 of one call on the calling thread (perf_counter_ns around it)
  CPU/step       the whole process's CPU from the init call until the data is durable,
                 background threads and helper processes (W&B's wandb-core) included
  finish         seconds from finish() (or the tracker's end call) until the data is durable:
                 for trainwire, committed to the store or acknowledged by the collector's
                 persistent queue (the time until it is queryable there is noted too); for
                 a peer, its end call has returned
trainwire runs embedded (./trainwire.db) and to a real collector process on loopback,
whose own CPU is reported apart. Peers: W&B offline, MLflow (sqlite store, sync and
async), tensorboardX (add_scalars, and add_scalar ×10) and Aim; a peer that is not
installed or fails is skipped with the reason. Slow peers run fewer steps (see the
table) unless --full.

Usage: python benchmarks/sdk_overhead.py [--steps 20000] [--only NAME ...] [--full]
Peers: pip install -e '.[benchmark]'
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEYS = [f"m{k}" for k in range(10)]  # 10 scalars per step
WORKER_TIMEOUT_S = 300
OFFLINE_ENV = {  # offline modes, and no telemetry or crash reports from any peer
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "AIM_UI_TELEMETRY_ENABLED": "0",
    "NO_PROXY": "127.0.0.1,localhost",
}


class Skip(Exception):
    """The tracker cannot run here; the message says why."""


@dataclass
class Session:
    """A started tracker: how to log one step, how to end, and what to check afterwards."""

    log: Callable[[dict[str, float], int], object]
    finish: Callable[[], object]
    after: Callable[[float], dict[str, Any]] = field(default=lambda finish_started: {})


Start = Callable[[], Session]


@dataclass(frozen=True)
class Options:
    """What a worker needs to know besides the tracker."""

    workdir: Path
    steps: int
    endpoint: str | None = None
    collector_db: Path | None = None


def _count(db: Path, sql: str, *params: object) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


_OF_RUN = (
    " JOIN resources r ON r.id = s.resource_id WHERE r.run_id = ? AND s.name IN ("
    + ",".join("?" * len(KEYS))
    + ")"
)
_STORED = (  # loose points and those sealed into chunks (exporters/sqlite/chunks.py)
    "SELECT (SELECT count(*) FROM points p JOIN series s ON s.id = p.series_id"
    + _OF_RUN
    + ") + (SELECT coalesce(sum(c.count), 0) FROM point_chunks c"
    " JOIN series s ON s.id = c.series_id" + _OF_RUN + ")"
)


def _trainwire(opts: Options) -> Start:
    import trainwire

    db = opts.collector_db or opts.workdir / "trainwire.db"
    expected = opts.steps * len(KEYS)

    def after(run_id: str, finish_started: float) -> dict[str, Any]:
        if opts.endpoint is None:
            stored = _count(db, _STORED, run_id, *KEYS, run_id, *KEYS)
            return {"stored": stored, "expected": expected}
        stored, deadline = 0, time.monotonic() + 60
        while stored < expected and time.monotonic() < deadline:
            try:
                stored = _count(db, _STORED, run_id, *KEYS, run_id, *KEYS)
            except sqlite3.OperationalError:  # the store is being created
                stored = 0
            time.sleep(0.01)
        queryable = time.perf_counter() - finish_started
        return {"stored": stored, "expected": expected, "queryable_s": queryable}

    def start() -> Session:
        if opts.endpoint:
            run = trainwire.init(name="sdk-overhead", endpoint=opts.endpoint)
        else:
            run = trainwire.init(name="sdk-overhead", db_path=db)
        return Session(run.log, run.finish, lambda t: after(run.id, t))

    return start


def _wandb(opts: Options) -> Start:
    import wandb

    def start() -> Session:
        run = wandb.init(project="sdk-overhead", dir=str(opts.workdir), mode="offline")
        return Session(lambda metrics, step: run.log(metrics, step=step), run.finish)

    return start


def _mlflow(synchronous: bool) -> Callable[[Options], Start]:
    def prepare(opts: Options) -> Start:
        import inspect

        import mlflow

        if (
            not synchronous
            and "synchronous" not in inspect.signature(mlflow.log_metrics).parameters
        ):
            raise Skip(f"mlflow {mlflow.__version__} has no asynchronous logging")
        db = opts.workdir / "mlflow.db"

        def finish() -> None:
            mlflow.end_run()
            flush = getattr(mlflow, "flush_async_logging", None)
            if flush is not None:
                flush()  # end_run drains the async queue already; this makes sure

        def start() -> Session:
            mlflow.set_tracking_uri(f"sqlite:///{db}")
            mlflow.start_run()

            def log(metrics: dict[str, float], step: int) -> None:
                mlflow.log_metrics(metrics, step=step, synchronous=synchronous)

            stored = "SELECT count(*) FROM metrics"
            return Session(log, finish, lambda t: {"stored": _count(db, stored)})

        return start

    return prepare


def _tensorboardx(per_key: bool) -> Callable[[Options], Start]:
    def prepare(opts: Options) -> Start:
        from tensorboardX import SummaryWriter

        def start() -> Session:
            writer = SummaryWriter(logdir=str(opts.workdir / "tb"))
            if not per_key:
                return Session(
                    lambda metrics, step: writer.add_scalars("train", metrics, step), writer.close
                )

            def log(metrics: dict[str, float], step: int) -> None:
                for key, value in metrics.items():
                    writer.add_scalar(key, value, step)

            return Session(log, writer.close)

        return start

    return prepare


def _aim(opts: Options) -> Start:
    import aim

    def start() -> Session:
        run = aim.Run(repo=str(opts.workdir), experiment="sdk-overhead")
        return Session(lambda metrics, step: run.track(metrics, step=step), run.close)

    return start


@dataclass(frozen=True)
class Tracker:
    label: str
    prepare: Callable[[Options], Start]
    max_steps: int | None = None
    """Steps for a peer too slow for the full count within a few minutes (see --full)."""


TRACKERS = {
    "trainwire": Tracker("trainwire, embedded", _trainwire),
    "trainwire-collector": Tracker("trainwire → collector", _trainwire),
    "wandb": Tracker("W&B offline", _wandb),
    "mlflow": Tracker("MLflow sqlite, sync", _mlflow(True), max_steps=2_000),
    "mlflow-async": Tracker("MLflow sqlite, async", _mlflow(False), max_steps=5_000),
    "tensorboardx": Tracker("tensorboardX add_scalars", _tensorboardx(False)),
    "tensorboardx-scalar": Tracker("tensorboardX add_scalar ×10", _tensorboardx(True)),
    "aim": Tracker("Aim track", _aim),
}


def _cpu_s() -> tuple[float, float]:
    """CPU seconds of this process (all threads) and of its helper processes, living or reaped."""
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    helpers = reaped.ru_utime + reaped.ru_stime
    try:
        import psutil
    except ImportError:
        return time.process_time(), helpers
    for child in psutil.Process().children(recursive=True):
        try:
            cpu = child.cpu_times()
        except psutil.Error:
            continue  # it ended meanwhile
        helpers += cpu.user + cpu.system + cpu.children_user + cpu.children_system
    return time.process_time(), helpers


def measure(start: Start, steps: int) -> dict[str, Any]:
    """Init, log ``steps`` steps, finish; the per-call latencies, CPU and finish time."""
    batches = [{key: (step + 1) * 1e-3 + k for k, key in enumerate(KEYS)} for step in range(steps)]
    latencies = [0] * steps
    ns = time.perf_counter_ns
    own0, helpers0 = _cpu_s()
    started = time.perf_counter()
    session = start()
    init_s = time.perf_counter() - started
    init_cpu = sum(_cpu_s()) - own0 - helpers0
    log = session.log
    for step, metrics in enumerate(batches):
        t0 = ns()
        log(metrics, step)
        latencies[step] = ns() - t0
    finish_started = time.perf_counter()
    session.finish()
    finish_s = time.perf_counter() - finish_started
    own1, helpers1 = _cpu_s()
    extra = session.after(finish_started)
    latencies.sort()
    return {
        "steps": steps,
        "median_us": latencies[steps // 2] / 1e3,
        "p99_us": latencies[min(steps - 1, int(steps * 0.99))] / 1e3,
        "cpu_us_per_step": (own1 - own0 + helpers1 - helpers0) / steps * 1e6,
        "helpers_us_per_step": (helpers1 - helpers0) / steps * 1e6,
        "init_s": init_s,
        "init_cpu_s": init_cpu,
        "finish_s": finish_s,
        **extra,
    }


def worker(name: str, opts: Options, result: Path) -> None:
    """Run one tracker in this (fresh) interpreter and write its numbers as JSON."""
    os.chdir(opts.workdir)
    try:
        start = TRACKERS[name].prepare(opts)
        out = measure(start, opts.steps)
    except ImportError as exc:
        out = {"skipped": f"not installed ({exc.name or exc}); pip install -e '.[benchmark]'"}
    except Skip as exc:
        out = {"skipped": str(exc)}
    result.write_text(json.dumps(out))


def run_worker(name: str, steps: int, root: Path, collector: Any | None) -> dict[str, Any]:
    """Run ``name`` in a child interpreter (own session, own directory); its result or a skip."""
    workdir = root / name
    workdir.mkdir()
    result = workdir / "result.json"
    command = [sys.executable, __file__, "--worker", name, "--steps", str(steps)]
    command += ["--result", str(result), "--workdir", str(workdir)]
    if collector is not None:
        command += ["--endpoint", collector.endpoint, "--collector-db", str(collector.db_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINWIRE_", "OTEL_"))}
    env |= OFFLINE_ENV | {"TRAINWIRE_DIR": str(workdir / "trainwire-runs")}
    env |= {f"WANDB_{d}_DIR": str(workdir / "wandb-home") for d in ("CONFIG", "CACHE", "DATA")}
    log_path = workdir / "output.log"
    with log_path.open("w") as output:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            proc.wait(WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        finally:  # the worker's session: it and any helper it left behind
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    if result.exists():
        return dict(json.loads(result.read_text()))
    lines = log_path.read_text().strip().splitlines() or ["no output"]
    why = f"timed out after {WORKER_TIMEOUT_S}s" if proc.returncode == -9 else lines[-1]
    return {"skipped": f"failed: {why[:160]}"}


def _collector_cpu_s(collector: Any) -> float:
    try:
        import psutil

        cpu = psutil.Process(collector.process.pid).cpu_times()
        return float(cpu.user + cpu.system)
    except Exception:  # psutil missing, or the process gone: the note is left out
        return float("nan")


def run_all(names: list[str], steps: int, full: bool) -> dict[str, dict[str, Any]]:
    """Every selected tracker, one after the other; results by name."""
    from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="sdk-overhead-") as tmp:
        root = Path(tmp)
        for name in names:
            tracker = TRACKERS[name]
            n = steps if full or tracker.max_steps is None else min(steps, tracker.max_steps)
            print(f"  {tracker.label} ({n:,} steps) ...", flush=True)
            if name != "trainwire-collector":
                results[name] = run_worker(name, n, root, None)
                continue
            try:
                with CollectorProcess(root / "collector", config=DEFAULT_TEST_CONFIG) as collector:
                    before = _collector_cpu_s(collector)
                    results[name] = run_worker(name, n, root, collector)
                    collector_cpu = _collector_cpu_s(collector) - before
            except RuntimeError as exc:  # it did not start, or did not stop
                results.setdefault(name, {"skipped": str(exc).splitlines()[0]})
                continue
            if "skipped" not in results[name]:
                results[name]["collector_us_per_step"] = collector_cpu / n * 1e6
    return results


PEERS = [n for n in TRACKERS if not n.startswith("trainwire")]


def _row(name: str, r: dict[str, Any], base: float | None) -> str:
    label = TRACKERS[name].label
    if "skipped" in r:
        return f"{label:<28}  skipped: {r['skipped']}"
    ratio = f"{r['median_us'] / base:,.0f}×" if base and not name.startswith("trainwire") else "—"
    return (
        f"{label:<28}{r['steps']:>7,}{r['median_us']:>10.1f}{r['p99_us']:>10.1f}{ratio:>9}"
        f"{r['cpu_us_per_step']:>10.1f}{r['init_cpu_s']:>9.2f}{r['finish_s']:>10.3f}"
    )


def _notes(name: str, r: dict[str, Any]) -> list[str]:
    label, notes = TRACKERS[name].label, list[str]()
    if "skipped" in r:
        return notes
    if r["helpers_us_per_step"] >= 0.5:
        notes.append(f"CPU includes helper processes: {r['helpers_us_per_step']:.1f} µs/step")
    if "expected" in r:
        notes.append(f"stored {r['stored']:,} of {r['expected']:,} points")
    elif "stored" in r:
        notes.append(f"stored {r['stored']:,} rows")
    if "queryable_s" in r:
        notes.append(f"finish() → queryable in the collector's store {r['queryable_s']:.3f} s")
    if "collector_us_per_step" in r:
        notes.append(f"collector process (not counted) {r['collector_us_per_step']:.1f} µs/step")
    return [f"{label}: " + "; ".join(notes)] if notes else []


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _targets(results: dict[str, dict[str, Any]]) -> list[str]:
    """The SDK issue's targets, each with the measured value and whether it is met."""
    lines = []
    peers = [
        (r["median_us"], TRACKERS[n].label)
        for n, r in results.items()
        if n in PEERS and "skipped" not in r
    ]
    fastest = min(peers) if peers else None
    for name, where, cpu_target in (
        ("trainwire", "embedded", 60.0),
        ("trainwire-collector", "to a collector", 25.0),
    ):
        r = results.get(name)
        if r is None or "skipped" in r:
            continue
        med, cpu, fin = r["median_us"], r["cpu_us_per_step"], r["finish_s"]
        lines.append(f"{where}: median log() {med:.2f} µs ≤ 2 µs: {_verdict(med <= 2.0)}")
        if fastest is not None:
            ratio = fastest[0] / med
            lines.append(
                f"{where}: {ratio:.0f}× below the fastest peer ({fastest[1]},"
                f" {fastest[0]:.1f} µs), target ≥ 50×: {_verdict(ratio >= 50)}"
            )
        steady = cpu - r["init_cpu_s"] / r["steps"] * 1e6
        lines.append(
            f"{where}: CPU {cpu:.1f} µs/step ≤ {cpu_target:.0f}: {_verdict(cpu <= cpu_target)}"
            f" ({steady:.1f} µs/step without init)"
        )
        lines.append(f"{where}: finish() → durable {fin:.3f} s ≤ 1 s: {_verdict(fin <= 1.0)}")
    return lines


def report(results: dict[str, dict[str, Any]]) -> None:
    """Print the table, the notes and the targets."""
    base = results.get("trainwire", {}).get("median_us")
    print(
        f"\nmachine: {os.cpu_count()} cores, python {sys.version.split()[0]};"
        f" {len(KEYS)} scalars per step; timer floor {_timer_floor_ns()} ns per call"
    )
    print(
        f"{'tracker':<28}{'steps':>7}{'log p50':>10}{'log p99':>10}{'vs tw':>9}"
        f"{'CPU/step':>10}{'init CPU':>9}{'finish':>10}"
    )
    print(f"{'':<28}{'':>7}{'µs':>10}{'µs':>10}{'':>9}{'µs':>10}{'s':>9}{'→durable s':>10}")
    for name, r in results.items():
        print(_row(name, r, base))
    print("vs tw: the tracker's median log() over trainwire embedded's")
    notes = [line for name, r in results.items() for line in _notes(name, r)]
    if notes:
        print("\n" + "\n".join(notes))
    targets = _targets(results)
    if targets:
        print("\ntargets (SDK issue):\n  " + "\n  ".join(targets))


def _timer_floor_ns() -> int:
    ns = time.perf_counter_ns
    samples = []
    for _ in range(10_000):
        t0 = ns()
        samples.append(ns() - t0)
    samples.sort()
    return samples[len(samples) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument(
        "--only",
        action="append",
        choices=list(TRACKERS),
        metavar="NAME",
        help=f"run only this tracker (repeatable): {', '.join(TRACKERS)}",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="run every tracker at --steps (MLflow sync alone takes minutes)",
    )
    for hidden in ("--worker", "--result", "--workdir", "--endpoint", "--collector-db"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        collector_db = Path(args.collector_db) if args.collector_db else None
        opts = Options(Path(args.workdir), args.steps, args.endpoint, collector_db)
        worker(args.worker, opts, Path(args.result))
        return
    report(run_all(args.only or list(TRACKERS), args.steps, args.full))


if __name__ == "__main__":
    main()
