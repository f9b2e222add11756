"""The RQ worker, shared by `flask worker` and the Procfile.

A SimpleWorker runs jobs in this process (no fork per job), inside the app this process already
built; scale out by running more worker processes.
"""

from __future__ import annotations

from collections.abc import Sequence

from rq import SimpleWorker

from helpdesk.core.jobs import QUEUES, get_queue
from helpdesk.extensions import redis_store


def run_worker(queues: Sequence[str] | None = None, *, burst: bool = False) -> bool:
    """Serve `queues` (default all, in priority order); with burst, return when they are empty."""
    connection = redis_store.client
    worker = SimpleWorker(
        [get_queue(name, connection) for name in (queues or QUEUES)], connection=connection
    )
    return worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
