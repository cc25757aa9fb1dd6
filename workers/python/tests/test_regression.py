"""A regression model's training (`"task": "regression"`): gradient boosting on numeric labels, staged and
resumable as the classifier is, exported as an ONNX regressor with one float output, and labels that are
not finite numbers refused with the row named."""

import numpy as np
import onnxruntime
import pytest
from temporalio.exceptions import ApplicationError, CancelledError

from remedy_worker.blobs import get_blob

from .support import FEATURE_SPEC, Run, make_numeric_rows, regression_input, store_rows


def onnx_values(conn, result: dict, rows: list[dict]) -> np.ndarray:
    session = onnxruntime.InferenceSession(get_blob(conn, result["artifactSha256"]))
    feeds = {}
    for spec in result["inputs"]:
        column = [r["features"][spec["feature"]] for r in rows]
        dtype = np.float32 if spec["type"] == "float" else str
        feeds[spec["name"]] = np.array(column, dtype=dtype).reshape(-1, 1)
    return session.run([result["outputs"]["value"]], feeds)[0]


def refused(activities, inp) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        Run().train(activities, inp)
    assert caught.value.non_retryable
    return caught.value


def test_a_regressor_trains_in_stages_and_its_onnx_file_gives_one_value_per_row(conn, activities):
    rows = make_numeric_rows()
    run = Run()
    result = run.train(activities, regression_input(store_rows(conn, rows)))

    assert result["task"] == "regression"
    assert result["classes"] == []
    assert result["outputs"] == {"value": "variable"}
    assert [i["feature"] for i in result["inputs"]] == FEATURE_SPEC["numeric"] + FEATURE_SPEC["categorical"]
    details = result["details"]
    assert details["estimator"] == "GradientBoostingRegressor"
    assert details["estimators"] == 24
    assert details["trainRows"] == len(rows)
    assert "trainAccuracy" not in details
    assert [h["estimators"] for h in run.heartbeats] == [8, 16, 24]
    session = onnxruntime.InferenceSession(get_blob(conn, result["artifactSha256"]))
    assert [(o.name, o.type) for o in session.get_outputs()] == [("variable", "tensor(float)")]
    values = onnx_values(conn, result, rows)
    assert values.shape == (len(rows), 1)
    truth = np.array([float(r["label"]) for r in rows])
    # The errors the worker reports are the file's own, on its training rows.
    assert details["trainMae"] == pytest.approx(float(np.mean(np.abs(values[:, 0] - truth))), rel=1e-9)
    assert details["trainMae"] < 2.5 and details["trainR2"] > 0.8
    # float32 inside the graph against scikit-learn's float64.
    assert 0 <= details["converterGap"] < 1e-4


def test_a_resumed_regressor_equals_an_uninterrupted_one(conn, activities):
    inp = regression_input(store_rows(conn, make_numeric_rows()), estimators=30, stageSize=10)
    whole = Run().train(activities, inp)
    crashed = Run()
    crashed.cancel_after = 2
    with pytest.raises(CancelledError):
        crashed.train(activities, inp)
    retry = Run(resume=crashed.heartbeats[-1], attempt=2)
    resumed = retry.train(activities, inp)
    assert resumed["resumedFrom"] == 20
    assert [h["estimators"] for h in retry.heartbeats] == [30]
    assert resumed["artifactSha256"] == whole["artifactSha256"]


@pytest.mark.parametrize(
    ("label", "shown"),
    [("NaN", '"NaN"'), ("inf", '"inf"'), ("1e999", '"1e999"'), ("18,5", '"18,5"'), (None, "null"), (True, "true")],
)
def test_a_label_that_is_not_a_finite_number_is_refused_naming_the_row(conn, activities, label, shown):
    rows = make_numeric_rows(30)
    rows[6] = dict(rows[6], label=label)
    err = refused(activities, regression_input(store_rows(conn, rows)))
    assert err.type == "TrainingDataError"
    assert f"training set row 7 has label {shown}, which is not a finite number" in err.message
    assert "correct the row's label" in err.message


def test_labels_as_json_numbers_are_taken_and_the_label_set_may_be_left_out(conn, activities):
    rows = [dict(r, label=float(r["label"])) for r in make_numeric_rows(60)]
    inp = regression_input(store_rows(conn, rows), estimators=5, stageSize=5)
    del inp["labelSet"]
    result = Run().train(activities, inp)
    assert result["details"]["trainRows"] == 60


def test_a_target_that_never_varies_is_refused(conn, activities):
    rows = [dict(r, label="21.5") for r in make_numeric_rows(30)]
    err = refused(activities, regression_input(store_rows(conn, rows)))
    assert err.type == "TrainingDataError"
    assert "every row of the training set has the value 21.5: a regressor needs targets that vary" in err.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labelSet": ["low", "high"]}, 'but "task" is "regression": a regressor predicts a number and has no classes'),
        ({"task": "ranking"}, '"task" is "ranking"; it must be "classification" (the default) or "regression"'),
    ],
)
def test_a_malformed_regression_input(activities, change, message):
    err = refused(activities, {**regression_input({"sha256": "ab" * 32, "rows": 1}), **change})
    assert err.type == "TrainingDataError"
    assert message in err.message


def test_a_regressor_skl2onnx_cannot_convert(conn, activities, monkeypatch):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    import remedy_worker.model as remedy_model

    def histogram_boosting(feature_spec, config, seed):
        n = len(feature_spec["numeric"])
        columns = [("num", "passthrough", list(range(n))), ("cat", OneHotEncoder(handle_unknown="ignore"), [n])]
        model = HistGradientBoostingRegressor(max_iter=5, random_state=seed)
        return Pipeline([("features", ColumnTransformer(columns)), ("hgb", model)])

    monkeypatch.setattr(remedy_model, "build_regressor", histogram_boosting)
    err = refused(activities, regression_input(store_rows(conn, make_numeric_rows(60))))
    assert err.type == "ConversionError"
    assert "skl2onnx could not convert the pipeline (HistGradientBoostingRegressor)" in err.message
    assert "model.build_regressor" in err.message


def test_the_regressor_builder_can_be_named_in_the_environment(monkeypatch):
    from remedy_worker.model import DEFAULT_REGRESSOR, build_regressor, model_builder

    monkeypatch.delenv("REMEDY_PYTHON_REGRESSOR", raising=False)
    monkeypatch.setenv("REMEDY_PYTHON_MODEL", "no_such_module_anywhere:build")
    assert model_builder("regression") == (build_regressor, DEFAULT_REGRESSOR)
    monkeypatch.setenv("REMEDY_PYTHON_REGRESSOR", "remedy_worker.model:missing")
    with pytest.raises(ValueError, match='REMEDY_PYTHON_REGRESSOR="remedy_worker.model:missing"'):
        model_builder("regression")
