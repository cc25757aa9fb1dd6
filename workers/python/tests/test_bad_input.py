"""Each kind of bad input is refused with a non-retryable error that says what was wrong and what to do."""

import json

import pytest
from temporalio.exceptions import ApplicationError

from remedy_worker.blobs import put_blob

from .support import Run, make_rows, store_rows, training_input


def refused(activities, inp) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        Run().train(activities, inp)
    assert caught.value.non_retryable
    return caught.value


def ndjson(conn, rows: list, count: int | None = None) -> dict:
    data = "".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows).encode()
    return {"sha256": put_blob(conn, data, "application/x-ndjson"), "rows": len(rows) if count is None else count}


def test_a_training_set_that_is_not_stored(activities):
    err = refused(activities, training_input({"sha256": "ab" * 32, "rows": 10}))
    assert err.type == "TrainingDataError"
    assert "is not in model_blobs" in err.message and "putBlob" in err.message


def test_an_empty_training_set(conn, activities):
    err = refused(activities, training_input(ndjson(conn, [])))
    assert err.type == "TrainingDataError"
    assert "is empty: collect labeled rows" in err.message


def test_a_training_set_of_one_class(conn, activities):
    rows = [dict(r, label="stay") for r in make_rows(30)]
    err = refused(activities, training_input(store_rows(conn, rows)))
    assert err.type == "TrainingDataError"
    assert 'every row of the training set has the label "stay"' in err.message
    assert "at least two classes" in err.message


def test_a_label_outside_the_label_set(conn, activities):
    rows = make_rows(30)
    rows[4] = dict(rows[4], label="downgrade")
    err = refused(activities, training_input(store_rows(conn, rows)))
    assert err.type == "TrainingDataError"
    assert 'row 5 has label "downgrade", which is not in the label set' in err.message
    assert "add the label to the model's label set" in err.message


def test_a_row_missing_a_feature(conn, activities):
    rows = make_rows(30)
    del rows[2]["features"]["region"]
    err = refused(activities, training_input(store_rows(conn, rows)))
    assert err.type == "TrainingDataError"
    assert 'row 3 has no feature "region": every row needs every feature in featureSpec' in err.message


def test_a_numeric_feature_that_is_text(conn, activities):
    rows = make_rows(30)
    rows[0]["features"]["income"] = "high"
    err = refused(activities, training_input(store_rows(conn, rows)))
    assert 'row 1: numeric feature "income" is "high"; it must be a finite number' in err.message


def test_a_line_that_is_not_json(conn, activities):
    rows = [*make_rows(5), "{not json\n"]
    err = refused(activities, training_input(ndjson(conn, rows)))
    assert "row 6 is not JSON" in err.message


def test_a_row_count_that_does_not_match_the_blob(conn, activities):
    err = refused(activities, training_input(ndjson(conn, make_rows(20), count=25)))
    assert "has 20 rows but trainingSet.rows says 25" in err.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"config": {"estimators": 0, "learningRate": 0.1, "maxDepth": 2, "stageSize": 5}}, "config.estimators is 0"),
        ({"labelSet": ["stay"]}, "fewer than two labels"),
        ({"featureSpec": {"numeric": [], "categorical": []}}, "featureSpec has no features"),
        ({"seed": "eleven"}, '"seed" is "eleven"; it must be an integer'),
        ({"trainingSet": {"sha256": "nope", "rows": 1}}, "is not a lowercase hex sha256"),
    ],
)
def test_a_malformed_input(activities, change, message):
    err = refused(activities, {**training_input({"sha256": "ab" * 32, "rows": 1}), **change})
    assert err.type == "TrainingDataError"
    assert message in err.message


def test_a_model_skl2onnx_cannot_convert(conn, activities, monkeypatch):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    import remedy_worker.model as remedy_model

    def histogram_boosting(feature_spec, config, seed):
        n = len(feature_spec["numeric"])
        columns = [("num", "passthrough", list(range(n))), ("cat", OneHotEncoder(handle_unknown="ignore"), [n])]
        model = HistGradientBoostingClassifier(max_iter=5, random_state=seed)
        return Pipeline([("features", ColumnTransformer(columns)), ("hgb", model)])

    monkeypatch.setattr(remedy_model, "build_model", histogram_boosting)
    err = refused(activities, training_input(store_rows(conn, make_rows(60))))
    assert err.type == "ConversionError"
    assert "skl2onnx could not convert the pipeline (HistGradientBoostingClassifier)" in err.message
