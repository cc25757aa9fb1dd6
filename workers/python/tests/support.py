"""A small labelled data set made here, stored as the NDJSON blob the Node side writes, and one attempt
of the activity run in Temporal's ActivityEnvironment."""

import dataclasses
import json
from typing import Any

import numpy as np
import psycopg
from temporalio.testing import ActivityEnvironment

from remedy_worker.activities import TrainingActivities
from remedy_worker.blobs import put_blob

FEATURE_SPEC = {"numeric": ["income", "tenure months"], "categorical": ["region"]}
LABELS = ["churn", "stay", "upgrade"]


def make_rows(n: int = 240, seed: int = 7) -> list[dict[str, Any]]:
    """Three classes that depend on both numeric features and the region, with some noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        income = float(np.round(rng.normal(50, 15), 2))
        tenure = int(rng.integers(0, 60))
        region = str(rng.choice(["north", "south", "east"]))
        score = (income - 50) / 15 + (0.8 if region == "north" else 0) - tenure / 40 + rng.normal(0, 0.4)
        label = "upgrade" if score > 0.7 else "churn" if score < -0.6 else "stay"
        weight = 2.0 if region == "east" else 1.0
        rows.append(
            {
                "features": {"income": income, "tenure months": tenure, "region": region},
                "label": label,
                "weight": weight,
            }
        )
    return rows


def store_rows(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> dict[str, Any]:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    return {"sha256": put_blob(conn, data, "application/x-ndjson"), "rows": len(rows)}


def training_input(training_set: dict[str, Any], **config: Any) -> dict[str, Any]:
    return {
        "cycleId": "cycle-test",
        "modelId": "churn",
        "trainingSet": training_set,
        "featureSpec": FEATURE_SPEC,
        "labelSet": LABELS,
        "seed": 11,
        "config": {"estimators": 24, "learningRate": 0.2, "maxDepth": 2, "stageSize": 8, **config},
    }


class Run:
    """One attempt of the activity in an ActivityEnvironment, recording its heartbeats."""

    def __init__(self, resume: dict[str, Any] | None = None, attempt: int = 1) -> None:
        self.env = ActivityEnvironment()
        self.env.info = dataclasses.replace(
            self.env.info,
            activity_type="trainPythonCandidate",
            attempt=attempt,
            heartbeat_details=[resume] if resume else [],
        )
        self.heartbeats: list[dict[str, Any]] = []
        self.cancel_after: int | None = None
        self.env.on_heartbeat = self._beat

    def _beat(self, *details: Any) -> None:
        self.heartbeats.append(details[0])
        if self.cancel_after is not None and len(self.heartbeats) >= self.cancel_after:
            self.env.cancel()

    def train(self, activities: TrainingActivities, inp: dict[str, Any]) -> dict[str, Any]:
        return self.env.run(activities.train_python_candidate, inp)


def make_numeric_rows(n: int = 200, seed: int = 5) -> list[dict[str, Any]]:
    """A regression set: a value that falls with income and rises with tenure and the north, with noise;
    labels as Remedy stores numeric labels (decimal text)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        income = float(np.round(rng.normal(50, 15), 2))
        tenure = int(rng.integers(0, 60))
        region = str(rng.choice(["north", "south", "east"]))
        value = 40 - income / 5 + tenure / 6 + (4 if region == "north" else 0) + rng.normal(0, 1)
        rows.append(
            {
                "features": {"income": income, "tenure months": tenure, "region": region},
                "label": f"{value:.2f}",
                "weight": 1.0,
            }
        )
    return rows


def regression_input(training_set: dict[str, Any], **config: Any) -> dict[str, Any]:
    """The input the cycle sends for a regression model: "task": "regression" and an empty labelSet."""
    return {**training_input(training_set, **config), "task": "regression", "labelSet": []}
