"""A forked child (a DataLoader worker) never double-sends and never hangs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import trainwire
from trainwire.exporters.sqlite import StoreReader


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_logging_is_ignored_and_the_parent_run_is_intact(tmp_path: Path) -> None:
    """log() in a forked child returns at once and sends nothing; the parent's data arrives once."""
    db = tmp_path / "s.db"
    run = trainwire.init(db_path=db)
    run.log({"x": 1.0}, step=0)
    pid = os.fork()
    if pid == 0:  # the child: must neither raise, nor block, nor send
        code = 0
        try:
            for step in range(100):
                run.log({"x": 99.0}, step=step)
            run.finish()
        except BaseException:
            code = 1
        os._exit(code)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        assert time.monotonic() < deadline, "the forked child hung"
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
    run.log({"x": 2.0}, step=1)
    run.finish()
    with StoreReader(db) as store:
        assert [(p[0], p[2]) for p in store.points(run.id, "x")] == [(0, 1.0), (1, 2.0)]
        assert store.run(run.id).status == "completed"
