"""Acceptance (issue 7): 20 concurrent runs at 100 steps/s for 60 s against a 5 requests / 2 s bucket.

The bucket is shared with a neighbour webhook that posts on its own (webhooks of one
IP or channel can share a bucket, REFERENCE.md §2), so the exporter's view of
``X-RateLimit-Remaining`` goes stale and it meets real bucket 429s; Discord's global
limit answers one 429 too. Every 429 must be honoured, and nothing else refused.
"""

from __future__ import annotations

import collections
import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_discord import FakeDiscord

import trainwire
from trainwire.exporters.sqlite import StoreReader
from trainwire.testing import CollectorProcess, wait_for

RUNS = 20
STEPS_PER_S = 100
SECONDS = 60
STEPS = STEPS_PER_S * SECONDS
INTERVAL_S = 5
_PROGRESS = re.compile(r"📈 load / (run-\d+) · step (\d+)")


def _train(run: Any, index: int, errors: list[BaseException]) -> None:
    try:
        start = time.monotonic()
        for step in range(STEPS):
            loss = math.nan if index == 0 and step == 1000 else 1.0 / (step + 1)
            run.log({"loss": loss, "acc": step / STEPS}, step=step)
            if step == STEPS // 2:
                run.alert(f"halfway {index}", "half of the steps are done", level="info")
            ahead = start + (step + 1) / STEPS_PER_S - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # pacing the simulated training, not a wait for a result
        run.finish()
    except BaseException as exc:  # surfaced by the test
        errors.append(exc)


def _neighbour(url: str, stop: threading.Event) -> None:
    """Another webhook on the same bucket, greedy but polite: every few seconds it waits
    for the bucket's reset and takes all of it, honouring every 429 it gets."""

    def post() -> requests.Response:
        return requests.post(url, params={"wait": "true"}, json={"content": "hi"}, timeout=10)

    while not stop.is_set():
        answer = post()
        if answer.status_code == 429:
            reset = float(answer.json()["retry_after"])
        else:
            reset = float(answer.headers["X-RateLimit-Reset-After"])
        if stop.wait(reset + 0.005):  # the bucket's own reset, not a wait for a result
            return
        for _ in range(5):
            answer = post()
            if answer.status_code == 429:
                stop.wait(float(answer.json()["retry_after"]))
                break
        stop.wait(6.0)  # leave the bucket alone for a while


def _embeds(fake: FakeDiscord, url: str) -> list[dict[str, Any]]:
    return [e for r in fake.ok(url) for e in r.payload.get("embeds", [])]


def _titles(fake: FakeDiscord, url: str) -> collections.Counter[str]:
    return collections.Counter(e["title"] for e in _embeds(fake, url))


def test_twenty_runs_within_discords_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_for: Any
) -> None:
    """No request breaks a limit (429s only, each honoured); every start, end and alert is delivered once; progress is coalesced; the store keeps every point."""
    with FakeDiscord(limit=5, window_s=2.0, shared_bucket=True) as fake:
        url, neighbour_url = fake.add_webhook(), fake.add_webhook()
        monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
        rules = [{"type": "nan", "metric": "loss"}]
        config = config_for(update_interval_s=INTERVAL_S, rules=rules)
        stop = threading.Event()
        neighbour = threading.Thread(target=_neighbour, args=(neighbour_url, stop))
        with CollectorProcess(tmp_path / "c", config=config) as collector:
            neighbour.start()  # from the start: the burst of start cards meets its posts
            runs = [
                trainwire.init(
                    name=f"run-{i}",
                    experiment="load",
                    endpoint=collector.endpoint,
                    capture_pip=False,
                    capture_console=False,
                    system_metrics=False,
                )
                for i in range(RUNS)
            ]
            errors: list[BaseException] = []
            threads = [
                threading.Thread(target=_train, args=(run, i, errors)) for i, run in enumerate(runs)
            ]
            for thread in threads:
                thread.start()
            threads[0].join(SECONDS / 2)
            fake.arm_global_429(1.0)  # Discord's global limit, once, in the middle of it all
            for thread in threads:
                thread.join()
            assert errors == []
            done = [f"✅ run-{i} completed" for i in range(RUNS)]
            assert wait_for(lambda: all(_titles(fake, url)[t] for t in done), 60)
            stop.set()
            neighbour.join()
            with StoreReader(collector.db_path) as store:
                for run in runs:
                    assert len(store.points(run.id, "loss")) == STEPS
                    assert store.run(run.id).status == "completed"
        statuses = fake.statuses(url)
        assert fake.limit_breaks == []
        assert set(statuses) == {200, 429}
        assert statuses.count(429) >= 2, "the shared bucket and the global limit each answered 429"
        titles = _titles(fake, url)
        for i in range(RUNS):
            assert titles[f"▶️ run-{i} started"] == 1
            assert titles[f"✅ run-{i} completed"] == 1
            assert titles[f"ℹ️ halfway {i}"] == 1
        assert titles["⚠️ loss is not finite"] == 1
        ends = [e for e in _embeds(fake, url) if e["title"].startswith("✅")]
        assert all(f"**Last step** {STEPS - 1}" in e["description"] for e in ends)
        # Progress: per run at most one embed per update interval, its step only moving on.
        steps: dict[str, list[int]] = collections.defaultdict(list)
        for embed in _embeds(fake, url):
            if match := _PROGRESS.fullmatch(embed["title"]):
                steps[match.group(1)].append(int(match.group(2)))
        assert sorted(steps) == sorted(f"run-{i}" for i in range(RUNS))
        for shown in steps.values():
            assert 1 <= len(shown) <= SECONDS // INTERVAL_S + 2
            assert shown == sorted(set(shown))
