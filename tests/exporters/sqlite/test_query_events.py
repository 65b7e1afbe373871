"""RunQuery.events pages: every event once, even when several share a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter

T0 = 1_700_000_000_000_000_000


def test_paging_with_next_after_returns_each_event_once(tmp_path: Path, wire: Any) -> None:
    """Times 1, 2, 2, 2, 3 paged two at a time: no event lost or repeated."""
    path = tmp_path / "s.db"
    conn = connect(path)
    resource = wire.resource("r1")
    offsets = [1, 2, 2, 2, 3]
    StoreWriter(conn).write_logs(
        wire.events(
            resource, *[(T0 + o, "ml.alert", {"title": f"a{i}"}) for i, o in enumerate(offsets)]
        )
    )
    conn.close()
    seen: list[str] = []
    after = None
    with RunQuery(path) as query:
        for _ in range(10):
            page = query.events("r1", name="ml.alert", after=after, limit=2)
            seen += [e["body"]["title"] for e in page["events"]]
            after = page["next_after"]
            if after is None:
                break
    assert sorted(seen) == [f"a{i}" for i in range(5)]
