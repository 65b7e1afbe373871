"""Packaging: public names, the wheel's contents, and a light SDK import."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import trainwire

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = {
    "trainwire": "sdk",
    "trainwire.collector": "collector",
    "trainwire.exporters": "exporters",
    "trainwire.proto": "proto",
}


def _source_packages() -> list[str]:
    """Every package in the source tree, by import name."""
    names = []
    for prefix, folder in SOURCE_DIRS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT / folder)
            names.append(".".join([prefix, *relative.parts]))
    return sorted(set(names))


@pytest.mark.parametrize("name", _source_packages())
def test_every_package_declares_all_and_its_names_exist(name: str) -> None:
    """Each package declares __all__, and every name in it can be imported from it."""
    module = importlib.import_module(name)
    assert isinstance(module.__all__, list), f"{name} has no __all__ list"
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ names missing {public!r}"


def test_wheel_contains_every_subpackage(tmp_path: Path) -> None:
    """The built wheel holds every package of the source tree, the proto and py.typed."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("trainwire-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in _source_packages():
        assert f"{package.replace('.', '/')}/__init__.py" in names, f"{package} missing from wheel"
    assert "trainwire/py.typed" in names
    assert "trainwire/proto/artifact.proto" in names
    assert "trainwire/proto/artifact_pb2_grpc.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "trainwire = trainwire.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_importing_the_sdk_does_not_import_the_collector_or_exporters() -> None:
    """`import trainwire` stays light: no collector, exporter or grpc-server code is loaded."""
    code = (
        "import sys, trainwire\n"
        "heavy = [m for m in sys.modules if m.startswith(('trainwire.collector',"
        " 'trainwire.exporters'))]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert out.stdout.strip() == "[]"


def test_version_matches_distribution_metadata() -> None:
    """trainwire.__version__ is the installed distribution's version."""
    from importlib.metadata import version

    assert trainwire.__version__ == version("trainwire")


def test_source_folders_are_not_importable_as_top_level_packages() -> None:
    """The source folders import only as trainwire.* (never as a top-level `collector`)."""
    stray = {"collector", "exporters", "proto", "sdk"}
    assert {m.name for m in pkgutil.iter_modules() if m.name in stray} == set()
