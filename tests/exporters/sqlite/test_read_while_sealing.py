"""Reading a series while a writer in another process seals it: every read is whole.

A read takes the sealed chunks and the loose points in one snapshot; taken apart, a seal
committing between them made about one read in five miss 1,024 points.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from trainwire.exporters.sqlite.query import RunQuery
from trainwire.exporters.sqlite.schema import connect

STEPS = 60_000

WRITER = """
import sys
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from trainwire import semconv
from trainwire.anyvalue import to_attributes
from trainwire.exporters.sqlite.schema import connect
from trainwire.exporters.sqlite.writer import StoreWriter
from trainwire.records import MetricRecord, encode_metrics

conn = connect(sys.argv[1])
writer = StoreWriter(conn)
resource = Resource(attributes=to_attributes({semconv.ML_RUN_ID: "live"}))
scope = InstrumentationScope(name=semconv.SCOPE_NAME)
for start in range(0, int(sys.argv[2]), 20):  # small requests: a seal every ~50 commits
    records = [MetricRecord(10**18 + s * 1000, s, {"loss": s * 0.5}) for s in range(start, start + 20)]
    writer.write_metrics(encode_metrics(resource, scope, records))
"""


def test_every_read_during_sealing_sees_each_point_once(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    connect(db).close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(STEPS)])
    torn: list[str] = []
    reads = 0
    try:
        with RunQuery(db) as query:
            while writer.poll() is None or reads == 0:
                try:
                    (series,) = query.metrics("live", key="loss")["metrics"]
                except LookupError:  # the run is not there yet
                    continue
                reads += 1
                steps = series["step"]
                if steps != list(range(len(steps))) or series["total"] != len(steps):
                    torn.append(f"read {reads}: {len(steps)} points, last step {steps[-1]}")
    finally:
        writer.kill()
    assert writer.wait() == 0 or writer.returncode == -9
    assert reads > 20, "the writer finished before the reads could overlap it"
    assert torn == []
    with RunQuery(db) as query:
        (series,) = query.metrics("live", key="loss")["metrics"]
    assert series["step"] == list(range(STEPS))
