"""Nothing logged is lost: the spool on disk, torn tails, and `trainwire sync` after a crash."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

import trainwire
from trainwire.cli import main
from trainwire.exporters.sqlite import StoreReader
from trainwire.spool import SIGNAL_LOGS, SIGNAL_METRICS, Spool
from trainwire.testing import CollectorProcess, clean_environment


def test_spool_keeps_unacknowledged_requests_across_reopen(tmp_path: Path) -> None:
    """Appended requests come back in order until acknowledged, also after reopening the spool."""
    spool = Spool(tmp_path / "spool")
    for i in range(5):
        spool.append(SIGNAL_METRICS, f"r{i}".encode())
    spool.sync()
    frames = spool.pending(10)
    spool.ack(frames[1])
    spool.close()
    reopened = Spool(tmp_path / "spool")
    assert [f.payload for f in reopened.pending(10)] == [b"r2", b"r3", b"r4"]
    reopened.close()


def test_torn_last_record_is_skipped_never_misread(tmp_path: Path) -> None:
    """A record cut short by a crash, or with a flipped byte, is dropped; the intact ones before it are read."""
    spool = Spool(tmp_path / "spool", segment_bytes=10**9)
    for i in range(3):
        spool.append(SIGNAL_LOGS, f"record-{i}".encode() * 10)
    spool.close()
    (segment,) = sorted((tmp_path / "spool").glob("*.spool"))
    data = segment.read_bytes()
    segment.write_bytes(data[:-7])  # torn in the middle of the last record
    assert [f.payload[:8] for f in Spool(tmp_path / "spool").pending(10)] == [
        b"record-0",
        b"record-1",
    ]
    damaged = bytearray(data)
    damaged[len(data) - 20] ^= 0xFF  # a flipped bit inside the last record
    segment.write_bytes(bytes(damaged))
    assert len(Spool(tmp_path / "spool").pending(10)) == 2


def test_full_segments_are_deleted_once_acknowledged(tmp_path: Path) -> None:
    """Segments behind the acknowledged position are removed, so the spool does not grow forever."""
    spool = Spool(tmp_path / "spool", segment_bytes=100)
    for _ in range(10):
        spool.append(SIGNAL_METRICS, b"x" * 60)
    spool.sync()
    assert len(spool.segments()) >= 5
    frames = spool.pending(100)
    spool.ack(frames[-1])
    assert len(spool.segments()) <= 2
    assert spool.pending(100) == []
    spool.close(delete_if_done=True)
    assert not (tmp_path / "spool").exists()


def test_killed_script_then_sync_stores_everything_and_ends_crashed(
    tmp_path: Path, collector: CollectorProcess
) -> None:
    """A script SIGKILLed while the collector is unreachable leaves a spool; `trainwire sync --to` ships it and the run ends crashed."""
    script = tmp_path / "train.py"
    script.write_text(
        "import sys, time, trainwire\n"
        "run = trainwire.init(name='doomed', endpoint=sys.argv[1])\n"
        "print(run.id, flush=True)\n"
        "for step in range(300):\n"
        "    run.log({'loss': float(step)}, step=step)\n"
        "print('logged', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = clean_environment()
    proc = subprocess.Popen(
        [sys.executable, str(script), "127.0.0.1:1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "logged"
    time.sleep(0.5)  # more than the spool interval
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = tmp_path / "trainwire-runs" / run_id
    assert json.loads((run_dir / "meta.json").read_text())["endpoint"] == "127.0.0.1:1"

    result = CliRunner().invoke(
        main, ["sync", str(tmp_path / "trainwire-runs"), "--to", collector.endpoint]
    )
    assert result.exit_code == 0, result.output
    assert f"{run_id}: shipped" in result.output and "ended crashed" in result.output
    assert not (run_dir / "spool").exists()
    collector.stop()
    with StoreReader(collector.db_path) as store:
        run = store.run(run_id)
        assert (run.name, run.status) == ("doomed", "crashed")
        assert [p[0] for p in store.points(run_id, "loss")] == list(range(300))


def test_sync_refuses_a_run_that_is_still_alive(tmp_path: Path) -> None:
    """Syncing a run whose process is alive on this host is refused unless forced."""
    run = trainwire.init(endpoint="127.0.0.1:1")
    run.log({"x": 1.0})
    time.sleep(0.3)
    result = CliRunner().invoke(main, ["sync", str(run.run_dir)])
    assert result.exit_code == 1 and "still running" in result.output
    run.finish(timeout_s=0.5)


def test_finish_timeout_leaves_the_spool_for_sync(
    tmp_path: Path, collector: CollectorProcess
) -> None:
    """finish() that gives up keeps the data in the spool, and sync later ships it with the run completed."""
    run = trainwire.init(name="patient", endpoint="127.0.0.1:1")
    for step in range(50):
        run.log({"acc": step / 50}, step=step)
    run.finish(timeout_s=0.5)
    assert (run.run_dir / "spool").exists()
    result = CliRunner().invoke(main, ["sync", str(run.run_dir), "--to", collector.endpoint])
    assert result.exit_code == 0, result.output
    assert "ended crashed" not in result.output
    collector.stop()
    with StoreReader(collector.db_path) as store:
        assert store.run(run.id).status == "completed"
        assert len(store.points(run.id, "acc")) == 50
