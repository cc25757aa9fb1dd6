"""The model a team trains: replace build_model (classifiers) or build_regressor (regression models) with
your own (the rest of the worker stays as it is).

What the worker hands your pipeline:
  X: a 2-D numpy array of dtype object, one row per training example, its columns the numeric features
     (Python floats) in feature_spec["numeric"] order, then the categorical ones (str) in
     feature_spec["categorical"] order. Column i of X is feature i of that combined list.
  y: a 1-D array of str labels, all from the cycle's label set (a regression model's: float values).
  sample_weight: passed to the last step's fit as `<last step name>__sample_weight`.

What the worker does with it: fits it (in stages, see build_model), exports it with skl2onnx (one ONNX
input per feature: float [N,1] for numeric, string [N,1] for categorical; outputs `label` and
`probabilities`, no ZipMap; a regressor's one float `variable` [N,1]) and checks the ONNX file gives
the pipeline's own probabilities (a regressor's: its own predictions).
"""

import importlib
import os
from typing import Any, Callable

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def build_model(feature_spec: dict[str, list[str]], config: dict[str, Any], seed: int) -> Pipeline:
    """Returns the unfitted scikit-learn Pipeline to train. THE function a team replaces with its own.

    Args:
      feature_spec: {"numeric": [names], "categorical": [names]}: the columns of X, numeric first.
      config: the policy's training config: {"estimators", "learningRate", "maxDepth", "stageSize"}.
      seed: the cycle's seed: pass it to every random_state, so a retry trains the same model.

    Must return a Pipeline whose last step is a classifier with `predict_proba` and `classes_` that
    skl2onnx can convert (with skl2onnx 1.20.0, GradientBoostingClassifier and RandomForestClassifier
    convert; HistGradientBoostingClassifier does not). Staged fitting (a checkpoint every
    config["stageSize"] estimators, resumed after a crash) needs a last step with `warm_start` and
    `n_estimators` parameters (gradient boosting, random forest, extra trees), sized by
    config["estimators"]; any other classifier is fitted in one go (also when stageSize is 0).

    The default: numeric features as they are, categorical ones one-hot encoded (categories unseen in
    training encode as all zeros), then gradient boosting.
    """
    return Pipeline(
        [
            ("features", _columns(feature_spec)),
            (
                "classifier",
                GradientBoostingClassifier(
                    n_estimators=config["estimators"],
                    learning_rate=config["learningRate"],
                    max_depth=config["maxDepth"],
                    random_state=seed,
                ),
            ),
        ]
    )


def build_regressor(feature_spec: dict[str, list[str]], config: dict[str, Any], seed: int) -> Pipeline:
    """Returns the unfitted Pipeline a regression model (`"task": "regression"`) trains: build_model's
    arguments and contract, except that the last step is a regressor whose `predict` gives one number per
    row (skl2onnx exports it as one float output). The default: the same columns, then gradient boosting
    on the squared error, staged by config["stageSize"] as the classifier is.
    """
    return Pipeline(
        [
            ("features", _columns(feature_spec)),
            (
                "regressor",
                GradientBoostingRegressor(
                    n_estimators=config["estimators"],
                    learning_rate=config["learningRate"],
                    max_depth=config["maxDepth"],
                    random_state=seed,
                ),
            ),
        ]
    )


def _columns(feature_spec: dict[str, list[str]]) -> ColumnTransformer:
    """Numeric features as they are, categorical ones one-hot encoded (unseen categories: all zeros)."""
    n_numeric = len(feature_spec["numeric"])
    n_categorical = len(feature_spec["categorical"])
    columns = []
    if n_numeric:
        columns.append(("numeric", "passthrough", list(range(n_numeric))))
    if n_categorical:
        columns.append(
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore"),
                list(range(n_numeric, n_numeric + n_categorical)),
            )
        )
    return ColumnTransformer(columns)


DEFAULT_MODEL = "remedy_worker.model:build_model"
DEFAULT_REGRESSOR = "remedy_worker.model:build_regressor"


def model_builder(task: str = "classification") -> tuple[Callable[..., Any], str]:
    """The function that builds the model: build_model above, or the one REMEDY_PYTHON_MODEL names; for a
    regression model build_regressor, or the one REMEDY_PYTHON_REGRESSOR names.

    REMEDY_PYTHON_MODEL="my_package.models:build" lets a team keep its own model in its own module (on
    PYTHONPATH) instead of editing this file; it has build_model's signature and contract
    (REMEDY_PYTHON_REGRESSOR: build_regressor's).
    """
    regression = task == "regression"
    variable = "REMEDY_PYTHON_REGRESSOR" if regression else "REMEDY_PYTHON_MODEL"
    default = DEFAULT_REGRESSOR if regression else DEFAULT_MODEL
    spec = os.environ.get(variable, "").strip() or default
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f'{variable}="{spec}" must be "module:function", e.g. "my_models:build_model"')
    try:
        fn = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f'{variable}="{spec}": {err} (is its folder on PYTHONPATH?)') from None
    if not callable(fn):
        raise ValueError(f'{variable}="{spec}" is not a function')
    return fn, spec

