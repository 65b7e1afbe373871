"""A run's resource takes OTEL_RESOURCE_ATTRIBUTES and its Kubernetes pod from the environment."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import trainwire
from trainwire._resource_env import environment_attributes, pod_uid_from_cgroup

UID = "1f2e3d4c-5b6a-4789-8abc-def012345678"


def _stored_resource(db: Path, run_id: str) -> dict[str, object]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT attributes FROM resources WHERE run_id = ? LIMIT 1", (run_id,)
        ).fetchone()
    attributes: dict[str, object] = json.loads(row[0])
    return attributes


@pytest.mark.parametrize(
    "cgroup",
    [
        f"12:memory:/kubepods/burstable/pod{UID}/0123abcd\n",
        "0::/kubepods.slice/kubepods-burstable.slice/"
        f"kubepods-burstable-pod{UID.replace('-', '_')}.slice/cri-containerd-0a.scope\n",
    ],
    ids=["cgroupfs", "systemd"],
)
def test_pod_uid_is_read_from_both_cgroup_layouts(cgroup: str) -> None:
    assert pod_uid_from_cgroup(cgroup) == UID


def test_no_pod_outside_kubernetes(tmp_path: Path) -> None:
    (tmp_path / "cgroup").write_text("0::/user.slice/user-0.slice/session-1.scope\n")
    assert environment_attributes(tmp_path / "cgroup") == {}
    assert environment_attributes(tmp_path / "missing") == {}


def test_otel_resource_attributes_are_percent_decoded_and_win_over_cgroup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cgroup").write_text(f"1:cpu:/kubepods/pod{UID}/c\n")
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES", "team=vision%20lab, k8s.pod.uid=from-downward-api,bad"
    )
    assert environment_attributes(tmp_path / "cgroup") == {
        "team": "vision lab",
        "k8s.pod.uid": "from-downward-api",
    }


def test_run_resource_carries_environment_attributes_but_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES", f"k8s.pod.uid={UID},ml.run.id=spoofed,deployment=a"
    )
    db = tmp_path / "runs.db"
    run = trainwire.init(db_path=db, name="pod-run")
    run.log({"loss": 1.0})
    run.finish()
    resource = _stored_resource(db, run.id)
    assert resource["k8s.pod.uid"] == UID
    assert resource["deployment"] == "a"
    assert resource["ml.run.id"] == run.id
