"""The fake NVML library stays faithful to nvidia-ml-py's ``pynvml``: names, codes, arities."""

from __future__ import annotations

import inspect

import pytest

from trainwire.collector.receivers.nvml import fake

pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed (trainwire[nvml])")

OFFERED = [name for name in dir(fake) if name.startswith(("NVML_", "nvml"))]


@pytest.mark.parametrize("name", OFFERED)
def test_every_name_the_fake_offers_is_pynvmls_with_its_value_or_arity(name: str) -> None:
    """Constants have pynvml's values; functions its names and number of parameters."""
    assert hasattr(pynvml, name), f"pynvml has no {name}"
    ours, theirs = getattr(fake, name), getattr(pynvml, name)
    if callable(ours):
        assert len(inspect.signature(ours).parameters) == len(inspect.signature(theirs).parameters)
    else:
        assert ours == theirs


def test_errors_read_as_pynvmls() -> None:
    """An error's text and ``.value`` are what pynvml gives for the same return code."""
    for code in (fake.NVML_ERROR_NOT_SUPPORTED, fake.NVML_ERROR_DRIVER_NOT_LOADED):
        assert str(fake.NVMLError(code)) == str(pynvml.NVMLError(code))
        assert fake.NVMLError(code).value == pynvml.NVMLError(code).value


def test_the_receiver_uses_only_what_the_fake_offers() -> None:
    """Every ``nvml*`` function the receiver calls exists in the fake (and so in pynvml)."""
    import re
    from pathlib import Path

    import trainwire.collector.receivers.nvml as package

    source = "".join(
        p.read_text() for p in Path(package.__file__).parent.glob("*.py") if p.name != "fake.py"
    )
    called = set(re.findall(r"\b(nvml[A-Z]\w+)(?![\w{*])", source))
    assert called and called <= set(OFFERED), sorted(called - set(OFFERED))
