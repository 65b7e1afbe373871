"""The SDK authenticates to a collector that requires a bearer token."""

from __future__ import annotations

from pathlib import Path

import pytest

import trainwire
from trainwire import settings
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import DEFAULT_TEST_CONFIG, CollectorProcess

AUTH_CONFIG = DEFAULT_TEST_CONFIG.replace(
    "        endpoint: 127.0.0.1:0\n",
    "        endpoint: 127.0.0.1:0\n    auth:\n      bearer_token: s3cret-token\n",
)


def test_trainwire_token_lets_a_run_into_an_authenticated_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TRAINWIRE_TOKEN set, a run's data is accepted by a collector that requires that token."""
    monkeypatch.setenv("TRAINWIRE_TOKEN", "s3cret-token")
    with CollectorProcess(tmp_path / "c", config=AUTH_CONFIG) as collector:
        with trainwire.init(
            name="authed", endpoint=collector.endpoint, system_metrics=False
        ) as run:
            run.log({"x": 1.0})
        collector.stop()
        with StoreReader(collector.db_path) as store:
            assert store.run(run.id).status == "completed"
            assert len(store.points(run.id, "x")) == 1


def test_without_the_token_the_data_is_refused_and_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a token the collector refuses the run's data; nothing is stored there."""
    with CollectorProcess(tmp_path / "c", config=AUTH_CONFIG) as collector:
        run = trainwire.init(endpoint=collector.endpoint, system_metrics=False)
        run.log({"x": 1.0})
        run.finish(timeout_s=3)
        assert "UNAUTHENTICATED" in caplog.text
        collector.stop()
        assert not collector.db_path.exists() or not StoreReader(collector.db_path).runs()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=abc,X-Team=ml%20infra"},
            {"api-key": "abc", "x-team": "ml infra"},
        ),
        (
            {"OTEL_EXPORTER_OTLP_HEADERS": "a=1", "TRAINWIRE_TOKEN": "t"},
            {"a": "1", "authorization": "Bearer t"},
        ),
    ],
)
def test_headers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, str]
) -> None:
    """OTEL_EXPORTER_OTLP_HEADERS (URL-encoded key=value pairs) and TRAINWIRE_TOKEN become request headers."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert settings.request_headers() == expected


def test_malformed_headers_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A header without '=' raises an error naming OTEL_EXPORTER_OTLP_HEADERS."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "justakey")
    with pytest.raises(trainwire.ConfigError, match="OTEL_EXPORTER_OTLP_HEADERS"):
        settings.request_headers()
