"""The container image's entrypoint runs the collector, with only what the image installs.

There is no Docker engine here, so the image's command is run the way the image would
run it: the wheel built from exactly what the Dockerfile copies, installed into a fresh
venv, started with the Dockerfile's ENTRYPOINT + CMD, ENV and config, probed with its
HEALTHCHECK command, and stopped with its STOPSIGNAL. The venv's third-party packages are
those the image's `pip install wheel[extras]` would bring, and nothing else: the
requirement closure of the wheel's metadata with the Dockerfile's extras, linked in from
this venv (there is no network in CI). An import the extras do not cover fails here.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import psutil
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import trainwire
from trainwire.testing import clean_environment, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
Stage = Any  # conftest.Stage (conftest is not importable under --import-mode=importlib)


def _image_extras(build: Stage) -> set[str]:
    """The extras the build stage installs the wheel with: pip install ".../trainwire-*.whl[...]"."""
    found = re.findall(r"trainwire-\*\.whl\)?\[([a-z,\s-]+)\]", " ".join(build.all("RUN")))
    assert len(found) == 1, "the build stage should install the trainwire wheel with extras once"
    return {extra.strip() for extra in found[0].split(",")}


def _requirement_closure(
    wheel: Path, extras: set[str]
) -> dict[str, importlib.metadata.Distribution]:
    """The distributions `pip install wheel[extras]` installs, as found in this venv."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    own = metadata.get_all("Requires-Dist") or []
    pending = [(Requirement(line), extras) for line in own]
    seen: set[tuple[str, str]] = set()
    found: dict[str, importlib.metadata.Distribution] = {}
    while pending:
        requirement, active = pending.pop()
        marker = requirement.marker
        if marker and not any(marker.evaluate({"extra": extra}) for extra in active | {""}):
            continue
        key = canonicalize_name(requirement.name)
        if key == "trainwire":  # a self-reference such as trainwire[otel,...]
            pending.extend((Requirement(line), set(requirement.extras)) for line in own)
            continue
        if (key, ",".join(sorted(requirement.extras))) in seen:
            continue
        seen.add((key, ",".join(sorted(requirement.extras))))
        dist = importlib.metadata.distribution(requirement.name)
        assert requirement.specifier.contains(dist.version, prereleases=True), (
            f"{requirement} is required but this venv has {dist.version}"
        )
        found[key] = dist
        pending.extend((Requirement(line), set(requirement.extras)) for line in dist.requires or [])
    return found


def _link_distributions(dists: dict[str, importlib.metadata.Distribution], target: Path) -> None:
    """Symlink each distribution's files (its site-packages part) into target."""
    for dist in dists.values():
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            source = Path(str(dist.locate_file(file)))
            link = target / file
            if source.is_file() and not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(source)


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory, stages: list[Stage]) -> Path:
    """A fresh venv holding the wheel built from what the Dockerfile's build stage copies,
    and only the third-party packages its install with the image's extras brings."""
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    context.mkdir()
    for args in stages[0].all("COPY"):
        *sources, _ = args.split()
        for source in sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(
                    path, context / source, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(path, context / source)
    wheels = root / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(context)],
        check=True,
    )
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    (wheel,) = wheels.glob("trainwire-*.whl")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    dependencies = root / "dependencies"
    _link_distributions(_requirement_closure(wheel, _image_extras(stages[0])), dependencies)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(f"{dependencies}\n")
    return venv


def test_image_dependencies_are_complete(image_venv: Path) -> None:
    """pip check finds every requirement met in the image's venv, and every collector and
    exporter module imports there, from the wheel, with only the image's extras installed."""
    python = str(image_venv / "bin" / "python")
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    script = """
import ast, importlib, importlib.util, pathlib, pkgutil, sys
import trainwire.collector, trainwire.exporters
from trainwire.collector.receivers.nvml.config import NvmlReceiverConfig
wanted = {NvmlReceiverConfig().library}
for package in (trainwire.collector, trainwire.exporters):
    assert package.__file__.startswith(sys.prefix), package.__file__
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
    # Imports made only when a component starts (psutil, requests, ...): found here too.
    for source in pathlib.Path(package.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                wanted.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                wanted.add(node.module)
missing = sorted(n for n in wanted if importlib.util.find_spec(n) is None)
assert not missing, f"not installed with the image's extras: {missing}"
"""
    result = subprocess.run([python, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


# The chart's pods: the root filesystem read-only, /tmp (an emptyDir) and the data volume
# writable. Here: a private mount namespace whose / is read-only but for /tmp (which holds
# tmp_path, and so the data directory).
_READ_ONLY_ROOT = [
    "unshare",
    "--mount",
    "sh",
    "-c",
    'mount --make-rprivate / && mount --bind /tmp /tmp && mount -o remount,bind,ro / && exec "$@"',
    "sh",
]


def _can_make_read_only_root() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = [*_READ_ONLY_ROOT, "sh", "-c", "! touch /.trainwire-ro-probe 2>/dev/null"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.mark.parametrize("root", ["writable-root", "read-only-root"])
def test_entrypoint_stores_a_run_and_exits_0_on_sigterm(
    image_venv: Path, stages: list[Stage], tmp_path: Path, root: str
) -> None:
    """The image's command line, with its ENV and shipped config, starts a collector whose
    HEALTHCHECK passes; a run sent to its OTLP port is written to the store (by the store's
    writer process, started from the image's venv) and served by its API; the stop signal
    drains it and it exits 0. Also on a read-only root with only /tmp writable, as the
    chart runs it (readOnlyRootFilesystem)."""
    prefix: list[str] = []
    if root == "read-only-root":
        if not _can_make_read_only_root():
            pytest.skip("no private mount namespace here (unshare --mount needs CAP_SYS_ADMIN)")
        prefix = _READ_ONLY_ROOT
    runtime = stages[-1]
    python = image_venv / "bin" / "python"
    in_image, source = runtime.shipped_config()
    command = [*runtime.exec_form("ENTRYPOINT"), *runtime.exec_form("CMD")]
    command[command.index(in_image)] = str(source)
    data = tmp_path / "data"
    data.mkdir()
    env = {**clean_environment(), **runtime.env()}
    # What `docker run -e ...` would change: the listen addresses (free loopback ports, as
    # tests never bind fixed ones) and the data volume's place.
    endpoints = [name for name in runtime.env() if name.endswith("_ENDPOINT")]
    for name in endpoints:
        assert env[name].startswith("0.0.0.0:"), f"{name} listens only inside the container"
        env[name] = f"127.0.0.1:{free_port()}"
    env["TRAINWIRE_DATA_DIR"] = str(data)
    env["PATH"] = f"{image_venv / 'bin'}{os.pathsep}{os.environ['PATH']}"

    healthcheck = runtime.exec_form("HEALTHCHECK")
    assert healthcheck[0] == "python"
    healthcheck[0] = str(python)

    def healthy() -> bool:
        return subprocess.run(healthcheck, env=env, capture_output=True).returncode == 0

    assert not healthy(), "the health check passes with no collector running"
    process = subprocess.Popen(
        [*prefix, *command],
        env=env,
        cwd=data,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(
            lambda: healthy() or process.poll() is not None, timeout_s=60, interval_s=0.3
        )
        assert process.poll() is None, process.communicate()[0]
        with trainwire.init(
            name="in-the-image",
            endpoint=f"http://{env['TRAINWIRE_OTLP_GRPC_ENDPOINT']}",
            system_metrics=False,
        ) as run:
            run.log({"loss": 0.5}, step=1)
        api = f"http://{env['TRAINWIRE_API_ENDPOINT']}/api/runs/{run.id}"
        assert wait_for(lambda: _status(api) == "completed", timeout_s=30), _status(api)
        writers = [
            child.cmdline()[0]
            for child in psutil.Process(process.pid).children()
            if "spawn_main" in " ".join(child.cmdline())
        ]
        assert writers and all(exe.startswith(str(image_venv)) for exe in writers), writers
        stop = getattr(signal, runtime.all("STOPSIGNAL")[-1])
        process.send_signal(stop)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert (data / "trainwire.db").exists()


def _status(url: str) -> str | None:
    """The run's status from the query API, or None while it is not there."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status: str = json.loads(response.read())["status"]
            return status
    except OSError:
        return None
