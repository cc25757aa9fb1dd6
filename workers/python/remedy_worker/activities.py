"""The Temporal activity `trainPythonCandidate`: the Node workflows call it on the Python task queue."""

from typing import Any

import psycopg
from temporalio import activity

from .blobs import get_blob, put_blob
from .dataset import parse_input
from .training import Progress, train

ACTIVITY_NAME = "trainPythonCandidate"


class PostgresBlobs:
    """model_blobs through one connection (autocommit: each checkpoint is durable once written)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def get(self, sha256: str) -> bytes | None:
        return get_blob(self.conn, sha256)

    def put(self, data: bytes, media_type: str) -> str:
        return put_blob(self.conn, data, media_type)


class TrainingActivities:
    """Holds the database URL; register `train_python_candidate` with a thread-pool activity executor."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    # Cancellation is checked between stages (activity.is_cancelled), never raised mid-fit or
    # mid-checkpoint, so a stored checkpoint is always whole.
    @activity.defn(name=ACTIVITY_NAME, no_thread_cancel_exception=True)
    def train_python_candidate(self, raw: dict[str, Any]) -> dict[str, Any]:
        inp = parse_input(raw)
        details = activity.info().heartbeat_details
        resume = details[0] if details else None
        progress = Progress(heartbeat=activity.heartbeat, is_cancelled=activity.is_cancelled)
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return train(inp, PostgresBlobs(conn), progress, resume)
