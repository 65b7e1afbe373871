"""The hostmetrics receiver: the host's system metrics through psutil (``trainwire[host]``)."""

from __future__ import annotations

from trainwire.collector.receivers.hostmetrics.config import SCRAPERS, HostmetricsReceiverConfig
from trainwire.collector.receivers.hostmetrics.factory import factory
from trainwire.collector.receivers.hostmetrics.hostmetrics import HostmetricsReceiver

__all__ = ["SCRAPERS", "HostmetricsReceiver", "HostmetricsReceiverConfig", "factory"]
