"""SDK behaviours a review found broken: SIGTERM mid-log, full disks, bad event values, flush."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trainwire
from trainwire.exporters.sqlite import StoreReader
from trainwire.spool import SIGNAL_METRICS, Spool
from trainwire.testing import clean_environment

LOOP = "import trainwire\nrun = trainwire.init()\nprint(run.id, flush=True)\nwhile True:\n    run.log({'x': 1.0})\n"


def test_sigterm_in_the_middle_of_log_calls_never_hangs(tmp_path: Path) -> None:
    """A script in a tight log() loop, sent SIGTERM, always exits promptly with the run killed."""
    env = clean_environment()
    for attempt in range(5):
        workdir = tmp_path / str(attempt)
        workdir.mkdir()
        proc = subprocess.Popen(
            [sys.executable, "-c", LOOP], cwd=workdir, env=env, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the process hung after SIGTERM during log()")
        with StoreReader(workdir / "trainwire.db") as store:
            assert store.run(run_id).status == "killed"


SPOOL_ON_FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from trainwire.spool import Spool, SIGNAL_METRICS
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))   # the disk is full after 600 bytes
spool = Spool(Path(sys.argv[1]))
failed = 0
for i in range(6):
    try:
        spool.append(SIGNAL_METRICS, bytes([65 + i]) * 250)
        spool.sync()
    except OSError:
        failed += 1
print(failed)
"""


def test_a_failed_spool_write_does_not_hide_the_records_after_it(tmp_path: Path) -> None:
    """After a write fails (disk full), later records go to a new segment and are still read back."""
    out = subprocess.run(
        [sys.executable, "-c", SPOOL_ON_FULL_DISK, str(tmp_path / "spool")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert int(out) == 2  # C and F found each segment full
    payloads = [f.payload[:1] for f in Spool(tmp_path / "spool").pending(100)]
    assert payloads == [b"A", b"B", b"D", b"E"]  # D and E, written after a failure, are read


def test_an_event_that_cannot_be_encoded_is_refused_and_the_others_are_kept(tmp_path: Path) -> None:
    """A parameter nested too deeply raises at the call; the tags, params and summary around it are stored."""
    deep: dict[str, object] = {}
    node = deep
    for _ in range(40):
        node["d"] = {}
        node = node["d"]  # type: ignore[assignment]
    db = tmp_path / "s.db"
    with trainwire.init(db_path=db) as run:
        run.set_tag("owner", "ana")
        run.log_params({"batch": 32})
        with pytest.raises(trainwire.InvalidValueError, match="cannot be recorded"):
            run.log_params({"deep": deep})
        run.summary({"best": 0.9})
    with StoreReader(db) as store:
        assert store.tags(run.id) == {"owner": "ana"}
        assert store.params(run.id) == {"batch": 32}
        assert store.summary(run.id) == {"best": 0.9}


def test_flush_after_a_finish_that_gave_up_says_so(tmp_path: Path) -> None:
    """flush() after finish() left data undelivered returns False at once, and a waiting flush is released."""
    run = trainwire.init(endpoint="127.0.0.1:1")
    run.log({"x": 1.0})
    run.finish(timeout_s=0.5)
    started = time.monotonic()
    assert run.flush(timeout_s=10) is False
    assert time.monotonic() - started < 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_flush_in_a_forked_child_returns_at_once(tmp_path: Path) -> None:
    """flush() without a timeout in a forked child returns instead of waiting forever."""
    run = trainwire.init(db_path=tmp_path / "s.db")
    pid = os.fork()
    if pid == 0:
        os._exit(0 if run.flush() is False else 1)
    deadline = time.monotonic() + 20
    while not os.waitpid(pid, os.WNOHANG)[0]:
        assert time.monotonic() < deadline, "flush() hung in the child"
        time.sleep(0.05)
    run.finish()


def test_spool_signal_constant_round_trips(tmp_path: Path) -> None:
    """A spooled request comes back with its signal and bytes intact."""
    spool = Spool(tmp_path / "s")
    spool.append(SIGNAL_METRICS, b"payload")
    spool.sync()
    (frame,) = spool.pending(10)
    assert (frame.signal, frame.payload) == (SIGNAL_METRICS, b"payload")
