"""OpenTelemetry names and units become Prometheus names as the compatibility spec says."""

from __future__ import annotations

import pytest

import trainwire.exporters.prometheus as package
from trainwire.exporters.prometheus import label_name, metric_name, unit_words


def test_package_exports_what_it_declares() -> None:
    """Every name in ``__all__`` exists in the package."""
    assert all(hasattr(package, name) for name in package.__all__)


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("loss", "", "gauge", "loss"),
        ("http.server.duration", "s", "histogram", "http_server_duration_seconds"),
        ("hw.gpu.memory.usage", "By", "gauge", "hw_gpu_memory_usage_bytes"),
        ("hw.gpu.memory.usage", "By", "updown", "hw_gpu_memory_usage_bytes"),
        ("hw.gpu.utilization", "1", "gauge", "hw_gpu_utilization_ratio"),
        ("system.cpu.utilization", "1", "gauge", "system_cpu_utilization_ratio"),
        # `_ratio` only for gauges, as the Collector's translator does.
        ("queue.fill", "1", "updown", "queue_fill"),
        ("hw.temperature", "Cel", "gauge", "hw_temperature_celsius"),
        ("hw.power", "W", "gauge", "hw_power_watts"),
        ("throughput", "By/s", "gauge", "throughput_bytes_per_second"),
        ("rate", "{packet}/s", "gauge", "rate_per_second"),
        ("tokens", "{token}", "counter", "tokens"),
        ("system.network.io", "By", "counter", "system_network_io_bytes"),
        # the unit already in the name is not repeated
        ("process.runtime.memory.bytes", "By", "gauge", "process_runtime_memory_bytes"),
        ("latency_seconds", "s", "gauge", "latency_seconds"),
        # `total` moves after the unit (prometheus-client then adds `_total`)
        ("requests_total", "s", "counter", "requests_seconds"),
        ("samples", "", "counter", "samples"),
        # invalid characters become `_`, repeats collapse, a leading digit is escaped
        ("my-metric..name/x", "", "gauge", "my_metric_name_x"),
        ("2xx.responses", "", "gauge", "_2xx_responses"),
        ("train/loss", "", "gauge", "train_loss"),
        ("épochs", "", "gauge", "_pochs"),
        ("gpu.memory", "MiBy", "gauge", "gpu_memory_mebibytes"),
        ("weird", "m/s", "gauge", "weird_meters_per_second"),
        ("custom", "tokens", "gauge", "custom_tokens"),
    ],
)
def test_metric_names(name: str, unit: str, kind: str, expected: str) -> None:
    """Name, unit and kind give the family name (counters get `_total` when written)."""
    got = metric_name(name, unit, gauge=kind == "gauge", counter=kind == "counter")
    assert got == expected


def test_suffixes_off_only_sanitizes_and_namespace_prefixes() -> None:
    """With add_metric_suffixes off the unit is not appended; a namespace comes first."""
    assert metric_name("hw.power", "W", gauge=True, counter=False, suffixes=False) == "hw_power"
    assert (
        metric_name("loss", "", gauge=True, counter=False, namespace="trainwire")
        == "trainwire_loss"
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("k8s.pod.uid", "k8s_pod_uid"),
        ("hw.id", "hw_id"),
        ("http-method", "http_method"),
        ("0day", "key_0day"),
        ("__meta", "key__meta"),
        ("", "key_"),
    ],
)
def test_label_names(key: str, expected: str) -> None:
    """Attribute keys become valid label names; reserved and digit-led keys are escaped."""
    assert label_name(key) == expected


def test_unit_words_for_unit_one_depend_on_gauge() -> None:
    """Unit ``1`` reads `ratio` on gauges and nothing elsewhere."""
    assert (unit_words("1", gauge=True), unit_words("1", gauge=False)) == ("ratio", "")
