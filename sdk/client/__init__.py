"""Read runs from Python: ``trainwire.Client(url_or_db_path)``.

::

    import trainwire

    client = trainwire.Client("trainwire.db")  # or "http://collector:4320"
    run = client.wait_for_run("baseline", timeout=3600)
    points = client.metrics(run["run_id"], "loss")
"""

from __future__ import annotations

from trainwire.client._client import Client
from trainwire.client._http import ClientError
from trainwire.client._watch import ArtifactStatus, ArtifactWatch

__all__ = ["ArtifactStatus", "ArtifactWatch", "Client", "ClientError"]
