"""Tests of ``trainwire collector validate`` and of the collector refusing a bad config."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

TESTDATA = Path(__file__).parent / "testdata"
TIMEOUT_S = 60.0
GRPC = "receivers::otlp::protocols::grpc"


def _trainwire(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainwire", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_validate_valid_file_prints_valid_and_exits_0(tmp_path: Path) -> None:
    """validate on valid.yaml prints '<file>: valid (pipelines: ...)' and exits 0."""
    config = TESTDATA / "valid.yaml"

    result = _trainwire("collector", "validate", "--config", str(config), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{config}: valid (pipelines: logs, metrics)\n"
    assert list(tmp_path.iterdir()) == []


def test_validate_typo_file_names_path_and_suggestion(tmp_path: Path) -> None:
    """validate on typo.yaml exits 2 and prints the misspelt key's path and the right key."""
    config = TESTDATA / "typo.yaml"

    result = _trainwire("collector", "validate", "--config", str(config), cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"trainwire collector: invalid config {config}:\n"
        "  receivers::otlp::protocols::grpc::endpont: unknown key; did you mean 'endpoint'?"
        " (valid keys: endpoint, max_recv_msg_size_mib, tls)\n"
    )


def test_validate_invalid_file_prints_every_problem(tmp_path: Path) -> None:
    """validate on invalid.yaml exits 2 and prints one indented line per problem."""
    config = TESTDATA / "invalid.yaml"

    result = _trainwire("collector", "validate", "--config", str(config), cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"trainwire collector: invalid config {config}:",
        f"  {GRPC}::max_recv_msg_size_mib: expected an integer, got str '4'",
        f"  {GRPC}::endpoint: 'localhost' is not host:port, e.g. localhost:4317",
        "  receivers::jaeger: unknown receiver type 'jaeger' (known types: hostmetrics, nvml, otlp)",
        "  service::pipelines::metrics::exporters: references exporter 'discord' which is not"
        " configured; add it under exporters: or fix the name (configured: sqlite)",
        "  service::pipelines::profiles: unknown signal 'profiles' (valid: metrics, logs, traces)",
    ]


def test_validate_missing_file_names_it(tmp_path: Path) -> None:
    """validate on a file that does not exist exits 2 and names the file."""
    config = tmp_path / "absent.yaml"

    result = _trainwire("collector", "validate", "--config", str(config), cwd=tmp_path)

    assert result.returncode == 2
    assert f"cannot read config file '{config}': No such file or directory" in result.stderr


def test_collector_with_invalid_config_exits_2_before_starting(tmp_path: Path) -> None:
    """The collector given invalid.yaml exits 2 promptly, having started and created nothing."""
    config = TESTDATA / "invalid.yaml"

    started = time.monotonic()
    result = _trainwire("collector", "--config", str(config), cwd=tmp_path)
    elapsed_s = time.monotonic() - started

    assert result.returncode == 2
    assert elapsed_s < TIMEOUT_S / 2
    assert result.stderr.startswith(f"trainwire collector: invalid config {config}:\n")
    assert "collector started" not in result.stderr
    assert "listening" not in result.stderr
    assert list(tmp_path.iterdir()) == []
