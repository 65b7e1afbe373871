"""SDK → OTLP/gRPC → a real collector process → SQLite → CLI."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import CollectorProcess

STEPS = 1000


def _script(body: str) -> str:
    return textwrap.dedent(body)


def _run_script(source: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = cwd / "train.py"
    script.write_text(source)
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


TRAINING = _script(f"""
    import math
    import trainwire

    run = trainwire.init(name="e2e", experiment="exp-a", config={{"lr": 0.01, "opt": {{"name": "adam"}}}},
                         tags=["baseline"])
    run.log_params({{"batch_size": 32}})
    run.set_tag("dataset", "mnist")
    for step in range({STEPS}):
        run.log({{"loss": 1.0 / (step + 1), "acc": step / {STEPS}, "lr": 0.01 * 0.99 ** step}}, step=step)
    run.summary({{"best_acc": 0.999}})
    run.finish()
    print(run.id)
""")

FAILING = _script("""
    import trainwire

    with trainwire.init(name="boom", experiment="exp-a") as run:
        print(run.id, flush=True)
        run.log({"loss": 1.0})
        raise ValueError("loss exploded at step 1")
""")


def test_thousand_steps_arrive_exactly_once_with_steps(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """1,000 steps × 3 metrics, params, tags and a summary land in the store exactly, run completed."""
    result = _run_script(TRAINING, tmp_path, {"TRAINWIRE_ENDPOINT": collector.endpoint})
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    assert collector.stop() == 0
    with StoreReader(collector.db_path) as store:
        run = store.run(run_id)
        assert (run.name, run.experiment, run.status) == ("e2e", "exp-a", "completed")
        assert store.params(run_id) == {"lr": 0.01, "opt.name": "adam", "batch_size": 32}
        assert store.tags(run_id) == {"dataset": "mnist"}
        assert store.labels(run_id) == ["baseline"]
        assert store.summary(run_id) == {"best_acc": 0.999}
        total = 0
        for key, expected in (
            ("loss", lambda s: 1.0 / (s + 1)),
            ("acc", lambda s: s / STEPS),
            ("lr", lambda s: 0.01 * 0.99**s),
        ):
            points = store.points(run_id, key)
            total += len(points)
            assert [p[0] for p in points] == list(range(STEPS))
            assert all(math.isclose(v, expected(s)) for s, _, v in points)
        assert total == 3 * STEPS
        assert store.latest_metrics(run_id)["loss"].step == STEPS - 1


def test_exception_inside_with_marks_run_failed(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """An exception inside `with trainwire.init()` ends the run failed, with the exception stored."""
    result = _run_script(FAILING, tmp_path, {"TRAINWIRE_ENDPOINT": collector.endpoint})
    assert result.returncode != 0 and "loss exploded" in result.stderr
    run_id = result.stdout.split()[0]
    collector.stop()
    with StoreReader(collector.db_path) as store:
        run = store.run(run_id)
        assert run.status == "failed"
        assert run.exception_type == "ValueError"
        assert run.exception_message == "loss exploded at step 1"
        assert run.exception_stacktrace is not None and "Traceback" in run.exception_stacktrace


def test_otel_endpoint_variable_is_used_when_trainwire_endpoint_is_unset(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT (http://host:port form) reaches the collector too."""
    source = "import trainwire\nr = trainwire.init(name='otel-env')\nr.log({'x': 1})\nr.finish()\n"
    result = _run_script(
        source, tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{collector.endpoint}"}
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "trainwire.db").exists()
    collector.stop()
    with StoreReader(collector.db_path) as store:
        assert [r.name for r in store.runs()] == ["otel-env"]


def test_cli_reads_what_the_collector_stored(collector: CollectorProcess, tmp_path: Path) -> None:
    """`trainwire runs` and `trainwire show` print the run, its params and its latest metrics."""
    result = _run_script(TRAINING, tmp_path, {"TRAINWIRE_ENDPOINT": collector.endpoint})
    run_id = result.stdout.strip()
    collector.stop()
    cli = [sys.executable, "-m", "trainwire"]
    env = {**os.environ, "COLUMNS": "200"}
    listing = subprocess.run(
        [*cli, "runs", "--db", str(collector.db_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert run_id in listing and "e2e" in listing and "completed" in listing
    assert "loss=0.001" in listing
    shown = subprocess.run(
        [*cli, "show", run_id[:6], "--db", str(collector.db_path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "opt.name" in shown and "adam" in shown and "best_acc" in shown
    assert "999" in shown  # the latest step
