"""Staged training through the real activity (ActivityEnvironment) against a real Postgres."""

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from temporalio.exceptions import CancelledError

from remedy_worker.blobs import get_blob
from remedy_worker.dataset import parse_input, parse_training_set

from .support import FEATURE_SPEC, Run, make_rows, store_rows, training_input


def media_type(conn, sha256: str) -> str:
    return conn.execute("SELECT media_type FROM model_blobs WHERE sha256 = %s", (sha256,)).fetchone()[0]


def onnx_probabilities(conn, result: dict, rows: list[dict]) -> np.ndarray:
    session = onnxruntime.InferenceSession(get_blob(conn, result["artifactSha256"]))
    feeds = {}
    for spec in result["inputs"]:
        column = [r["features"][spec["feature"]] for r in rows]
        dtype = np.float32 if spec["type"] == "float" else str
        feeds[spec["name"]] = np.array(column, dtype=dtype).reshape(-1, 1)
    return session.run([result["outputs"]["probabilities"]], feeds)[0]


def test_trains_in_stages_and_stores_a_verified_onnx_file(conn, activities):
    rows = make_rows()
    run = Run()
    result = run.train(activities, training_input(store_rows(conn, rows)))

    assert result["trainer"] == "python"
    assert result["resumedFrom"] == 0
    assert result["classes"] == ["churn", "stay", "upgrade"]
    assert result["inputs"] == [
        {"name": "income", "feature": "income", "type": "float"},
        {"name": "tenure_months", "feature": "tenure months", "type": "float"},
        {"name": "region", "feature": "region", "type": "string"},
    ]
    assert result["outputs"] == {"label": "label", "probabilities": "probabilities"}
    details = result["details"]
    assert details["estimator"] == "GradientBoostingClassifier"
    assert details["estimators"] == 24
    assert details["trainRows"] == len(rows)
    assert 0.8 < details["trainAccuracy"] <= 1.0
    assert 0 <= details["converterGap"] < 1e-4
    assert details["fitSeconds"] > 0
    assert {"sklearnVersion", "skl2onnxVersion", "onnxruntimeVersion", "pythonVersion"} <= details.keys()
    # A heartbeat and a checkpoint after each stage of 8 estimators.
    assert [h["estimators"] for h in run.heartbeats] == [8, 16, 24]
    assert len({h["configHash"] for h in run.heartbeats}) == 1
    for h in run.heartbeats:
        assert media_type(conn, h["checkpointSha256"]) == "application/x-python-pickle"
    assert media_type(conn, result["artifactSha256"]) == "application/onnx"
    probabilities = onnx_probabilities(conn, result, rows)
    assert probabilities.shape == (len(rows), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_a_resumed_fit_equals_an_uninterrupted_one(conn, activities):
    rows = make_rows()
    inp = training_input(store_rows(conn, rows), estimators=30, stageSize=10)
    whole = Run().train(activities, inp)

    crashed = Run()
    crashed.cancel_after = 2  # the attempt dies after its second checkpoint
    with pytest.raises(CancelledError):
        crashed.train(activities, inp)
    assert [h["estimators"] for h in crashed.heartbeats] == [10, 20]

    retry = Run(resume=crashed.heartbeats[-1], attempt=2)
    resumed = retry.train(activities, inp)
    assert resumed["resumedFrom"] == 20
    assert [h["estimators"] for h in retry.heartbeats] == [30]
    assert resumed["artifactSha256"] == whole["artifactSha256"]
    np.testing.assert_array_equal(onnx_probabilities(conn, resumed, rows), onnx_probabilities(conn, whole, rows))
    # Fitting in stages gives the model one fit of all estimators gives.
    single = Run().train(activities, training_input(inp["trainingSet"], estimators=30, stageSize=30))
    assert single["artifactSha256"] == whole["artifactSha256"]


def test_a_checkpoint_of_another_config_is_not_resumed(conn, activities):
    training_set = store_rows(conn, make_rows())
    first = Run()
    first.train(activities, training_input(training_set))
    retry = Run(resume=first.heartbeats[-1], attempt=2)
    result = retry.train(activities, training_input(training_set, learningRate=0.1))
    assert result["resumedFrom"] == 0
    assert [h["estimators"] for h in retry.heartbeats] == [8, 16, 24]
    assert retry.heartbeats[0]["configHash"] != first.heartbeats[0]["configHash"]


def test_a_finished_fit_resumes_straight_to_the_export(conn, activities):
    inp = training_input(store_rows(conn, make_rows()))
    first = Run()
    whole = first.train(activities, inp)
    retry = Run(resume=first.heartbeats[-1], attempt=2)
    again = retry.train(activities, inp)
    assert again["resumedFrom"] == 24 and retry.heartbeats == []
    assert again["artifactSha256"] == whole["artifactSha256"]


def test_cancellation_stops_between_stages(conn, activities):
    inp = training_input(store_rows(conn, make_rows()), estimators=40, stageSize=5)
    run = Run()
    run.cancel_after = 1
    with pytest.raises(CancelledError, match="after 5 of 40 estimators"):
        run.train(activities, inp)
    assert [h["estimators"] for h in run.heartbeats] == [5]


def test_cancelled_before_the_first_stage_fits_nothing(conn, activities):
    inp = training_input(store_rows(conn, make_rows()))
    run = Run()
    run.env.cancel()
    with pytest.raises(CancelledError, match="after 0 of 24"):
        run.train(activities, inp)
    assert run.heartbeats == []


def test_a_classifier_without_warm_start_is_fitted_in_one_go(conn, activities, monkeypatch):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import remedy_worker.model as remedy_model

    def logistic(feature_spec, config, seed):
        n = len(feature_spec["numeric"])
        columns = [("num", StandardScaler(), list(range(n))), ("cat", OneHotEncoder(handle_unknown="ignore"), [n])]
        return Pipeline([("features", ColumnTransformer(columns)), ("lr", LogisticRegression(random_state=seed))])

    monkeypatch.setattr(remedy_model, "build_model", logistic)
    rows = make_rows()
    run = Run()
    result = run.train(activities, training_input(store_rows(conn, rows)))
    assert result["details"]["estimator"] == "LogisticRegression"
    assert len(run.heartbeats) == 1
    assert result["details"]["converterGap"] < 1e-5


def test_parsed_rows_keep_the_feature_order_numeric_first(conn):
    inp = parse_input(training_input({"sha256": "0" * 64, "rows": 1}))
    row = '{"features": {"region": "north", "tenure months": 3, "income": 40.5}, "label": "stay", "weight": 1}\n'
    data = parse_training_set(
        (row + row.replace("stay", "churn")).encode(), parse_input(training_input({"sha256": "0" * 64, "rows": 2}))
    )
    assert inp.features == FEATURE_SPEC["numeric"] + FEATURE_SPEC["categorical"]
    assert list(data.X[0]) == [40.5, 3.0, "north"]
    assert list(data.y) == ["stay", "churn"]


TRAIN_IN_ANOTHER_PROCESS = """
import json, os, sys
import psycopg
from remedy_worker.activities import TrainingActivities
from tests.support import Run
url = os.environ["DATABASE_URL"]
print(Run().train(TrainingActivities(url), json.loads(sys.argv[1]))["artifactSha256"])
"""


def test_the_same_model_gives_the_same_onnx_bytes_in_any_process(conn, activities, database_url):
    inp = training_input(store_rows(conn, make_rows()))
    here = Run().train(activities, inp)["artifactSha256"]
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", TRAIN_IN_ANOTHER_PROCESS, json.dumps(inp)],
        cwd=Path(__file__).parent.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert there == here


def test_a_model_module_named_in_the_environment_replaces_build_model_and_a_bad_name_says_what_to_fix(monkeypatch):
    from remedy_worker.model import DEFAULT_MODEL, build_model, model_builder

    monkeypatch.delenv("REMEDY_PYTHON_MODEL", raising=False)
    assert model_builder() == (build_model, DEFAULT_MODEL)
    monkeypatch.setenv("REMEDY_PYTHON_MODEL", "remedy_worker.model:build_model")
    assert model_builder()[0] is build_model
    for spec, said in [
        ("no_colon", 'must be "module:function"'),
        ("no_such_module_anywhere:build", "No module named 'no_such_module_anywhere'"),
        ("remedy_worker.model:missing", "has no attribute 'missing'"),
        ("remedy_worker.model:DEFAULT_MODEL", "is not a function"),
    ]:
        monkeypatch.setenv("REMEDY_PYTHON_MODEL", spec)
        with pytest.raises(ValueError, match=re.escape(said)):
            model_builder()
