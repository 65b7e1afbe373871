"""The SDK against a collector SIGKILLed mid-run: every point is stored exactly once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess, clean_environment, free_port

STEPS = 10_000  # × 5 metrics = 50,000 points

SCRIPT = f"""
import sys, time, trainwire
run = trainwire.init(name="survivor", endpoint=sys.argv[1], system_metrics=False)
print(run.id, flush=True)
for step in range({STEPS}):
    run.log({{f"m{{k}}": float(step * 5 + k) for k in range(5)}}, step=step)
    if step % 500 == 0:
        time.sleep(0.05)
run.finish(timeout_s=120)
"""


def test_collector_killed_while_a_script_logs_50k_points(tmp_path: Path) -> None:
    """A collector SIGKILLed while the SDK logs 50,000 points, then restarted, ends with each point stored once and the run completed."""
    port = free_port()
    config = DEFAULT_TEST_CONFIG.replace("127.0.0.1:0", f"127.0.0.1:{port}")
    collector = CollectorProcess(tmp_path / "c", config=config).start()
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = clean_environment()
    proc = subprocess.Popen(
        [sys.executable, str(script), f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        time.sleep(0.4)
        assert proc.poll() is None, "the script finished before the kill"
        collector.kill()
        time.sleep(1.0)  # the SDK keeps spooling meanwhile
        collector.start()
        assert proc.wait(timeout=180) == 0
    finally:
        proc.kill()
    assert collector.stop() == 0
    with StoreReader(collector.db_path) as store:
        assert store.run(run_id).status == "completed"
        for k in range(5):
            points = store.points(run_id, f"m{k}")
            assert [p[0] for p in points] == list(range(STEPS))
            assert [p[2] for p in points] == [float(s * 5 + k) for s in range(STEPS)]
