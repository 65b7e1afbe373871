"""The nvml receiver: NVIDIA GPU metrics through NVML (``pip install 'trainwire[nvml]'``)."""

from __future__ import annotations

from trainwire.collector.receivers.nvml.config import NvmlReceiverConfig
from trainwire.collector.receivers.nvml.factory import factory
from trainwire.collector.receivers.nvml.nvml import NvmlReceiver

__all__ = ["NvmlReceiver", "NvmlReceiverConfig", "factory"]
