"""The activity's input and its training set, checked: every refusal says what was wrong and what to do."""

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import training_data_error

SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A regression label as decimal text, as Remedy stores numeric labels ("27.2", "-3", "1e3").
DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class TrainingInput:
    cycle_id: str
    model_id: str
    training_set_sha256: str
    training_set_rows: int
    feature_spec: dict[str, list[str]]
    label_set: list[str]
    seed: int
    config: dict[str, Any]
    # "regression": the labels are numbers and the model a regressor (label_set is then empty).
    task: str = "classification"

    @property
    def features(self) -> list[str]:
        return self.feature_spec["numeric"] + self.feature_spec["categorical"]

    @property
    def is_regression(self) -> bool:
        return self.task == "regression"


@dataclass(frozen=True)
class TrainingSet:
    X: np.ndarray  # object array: numeric columns (float), then categorical ones (str)
    y: np.ndarray  # str labels (a classifier) or float64 values (a regressor)
    weight: np.ndarray  # float64


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    is_bool = isinstance(value, bool)
    if value is None or is_bool and kind is not bool or not isinstance(value, kind):
        shown = "missing" if value is None else f"{json.dumps(value)}"
        raise training_data_error(
            f'{where}"{key}" is {shown}; it must be {_kind_name(kind)}: fix the input the workflow sends'
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", dict: "an object", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _names(obj: dict[str, Any], key: str, where: str) -> list[str]:
    items = _field(obj, key, list, where)
    if not all(isinstance(s, str) and s != "" for s in items):
        raise training_data_error(f'{where}"{key}" must be a list of non-empty strings, got {json.dumps(items)}')
    if len(set(items)) != len(items):
        raise training_data_error(f'{where}"{key}" names a value twice: {json.dumps(items)}')
    return list(items)


def parse_input(raw: Any) -> TrainingInput:
    """Checks the activity's JSON input (camelCase keys) and returns it typed."""
    if not isinstance(raw, dict):
        raise training_data_error(
            "the training input must be one JSON object (cycleId, modelId, trainingSet, featureSpec, labelSet, seed, config)"
        )
    training_set = _field(raw, "trainingSet", dict, "")
    sha = _field(training_set, "sha256", str, "trainingSet.")
    if not SHA256.match(sha):
        raise training_data_error(f'trainingSet.sha256 "{sha}" is not a lowercase hex sha256 of the blob')
    rows = _field(training_set, "rows", int, "trainingSet.")
    spec_raw = _field(raw, "featureSpec", dict, "")
    spec = {
        "numeric": _names(spec_raw, "numeric", "featureSpec."),
        "categorical": _names(spec_raw, "categorical", "featureSpec."),
    }
    both = set(spec["numeric"]) & set(spec["categorical"])
    if both:
        raise training_data_error(f"featureSpec lists {sorted(both)} as both numeric and categorical: pick one")
    if not spec["numeric"] and not spec["categorical"]:
        raise training_data_error("featureSpec has no features: list at least one numeric or categorical feature")
    task = _task(raw)
    label_set = _label_set(raw, task)
    config_raw = _field(raw, "config", dict, "")
    config = {
        "estimators": _field(config_raw, "estimators", int, "config."),
        "learningRate": float(_field(config_raw, "learningRate", (int, float), "config.")),
        "maxDepth": _field(config_raw, "maxDepth", int, "config."),
        "stageSize": _field(config_raw, "stageSize", int, "config."),
    }
    for key, low in (("estimators", 1), ("maxDepth", 1), ("stageSize", 0)):
        if config[key] < low:
            raise training_data_error(f"config.{key} is {config[key]}; it must be at least {low}")
    if not (0 < config["learningRate"] <= 1):
        raise training_data_error(f"config.learningRate is {config['learningRate']}; it must be in (0, 1]")
    return TrainingInput(
        cycle_id=_field(raw, "cycleId", str, ""),
        model_id=_field(raw, "modelId", str, ""),
        training_set_sha256=sha,
        training_set_rows=rows,
        feature_spec=spec,
        label_set=label_set,
        seed=_field(raw, "seed", int, ""),
        config=config,
        task=task,
    )


def _task(raw: dict[str, Any]) -> str:
    task = raw.get("task", "classification")
    if task not in TASKS:
        raise training_data_error(
            f'"task" is {json.dumps(task)}; it must be "classification" (the default) or "regression"'
        )
    return str(task)


def _label_set(raw: dict[str, Any], task: str) -> list[str]:
    if task == "regression":
        # The cycle sends a regression model's labelSet as it holds it: empty.
        if raw.get("labelSet") not in (None, []):
            raise training_data_error(
                f'"labelSet" is {json.dumps(raw["labelSet"])} but "task" is "regression": a regressor predicts'
                " a number and has no classes; leave labelSet out"
            )
        return []
    label_set = _names(raw, "labelSet", "")
    if len(label_set) < 2:
        raise training_data_error(f"labelSet {json.dumps(label_set)} has fewer than two labels: a classifier needs two")
    return label_set


def _class_label(label: Any, where: str, inp: TrainingInput) -> str:
    if not isinstance(label, str) or label not in inp.label_set:
        raise training_data_error(
            f"{where} has label {json.dumps(label)}, which is not in the label set {json.dumps(inp.label_set)}:"
            " relabel the row or add the label to the model's label set"
        )
    return label


def _numeric_label(label: Any, where: str) -> float:
    """A regression label: a finite JSON number, or decimal text ("27.2") that reads as one."""
    value: float | None = None
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        value = float(label)
    elif isinstance(label, str) and DECIMAL.match(label.strip()):
        value = float(label.strip())
    if value is None or not math.isfinite(value):
        shown = json.dumps(label) if not isinstance(label, float) else repr(label)
        raise training_data_error(
            f"{where} has label {shown}, which is not a finite number: a regression model learns from numbers;"
            " correct the row's label (e.g. 23.5) and run the cycle again"
        )
    return value


def _row_values(row: Any, n: int, inp: TrainingInput) -> tuple[list[Any], str | float, float]:
    where = f"training set row {n}"
    if not isinstance(row, dict) or not isinstance(row.get("features"), dict):
        raise training_data_error(f'{where} is not an object with "features", "label" and "weight"')
    features = row["features"]
    values: list[Any] = []
    for name in inp.feature_spec["numeric"]:
        v = features.get(name)
        if name not in features:
            raise training_data_error(f'{where} has no feature "{name}": every row needs every feature in featureSpec')
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise training_data_error(
                f'{where}: numeric feature "{name}" is {json.dumps(v)}; it must be a finite number'
            )
        values.append(float(v))
    for name in inp.feature_spec["categorical"]:
        v = features.get(name)
        if name not in features:
            raise training_data_error(f'{where} has no feature "{name}": every row needs every feature in featureSpec')
        if not isinstance(v, str):
            raise training_data_error(f'{where}: categorical feature "{name}" is {json.dumps(v)}; it must be a string')
        values.append(v)
    raw_label = row.get("label")
    label = _numeric_label(raw_label, where) if inp.is_regression else _class_label(raw_label, where, inp)
    weight = row.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise training_data_error(f"{where} has weight {json.dumps(weight)}; it must be a number >= 0")
    return values, label, float(weight)


def parse_training_set(data: bytes, inp: TrainingInput) -> TrainingSet:
    """Parses the NDJSON blob ({"features": {...}, "label": str, "weight": number} per line) into arrays.

    A regression set's labels are numbers (JSON numbers or decimal text); a classifier's are its classes.
    """
    try:
        lines = [line for line in data.decode("utf-8").splitlines() if line.strip() != ""]
    except UnicodeDecodeError as err:
        raise training_data_error(f"the training set {inp.training_set_sha256} is not UTF-8 text ({err})") from None
    if not lines:
        raise training_data_error(
            f"the training set {inp.training_set_sha256} is empty: collect labeled rows before training"
        )
    rows: list[list[Any]] = []
    labels: list[Any] = []
    weights: list[float] = []
    for n, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise training_data_error(
                f"training set row {n} is not JSON ({err.msg}): write one JSON object per line"
            ) from None
        values, label, weight = _row_values(row, n, inp)
        rows.append(values)
        labels.append(label)
        weights.append(weight)
    if len(rows) != inp.training_set_rows:
        raise training_data_error(
            f"the training set blob has {len(rows)} rows but trainingSet.rows says {inp.training_set_rows}:"
            " the input and the stored blob do not describe the same data; store the set again"
        )
    if len(set(labels)) < 2:
        raise training_data_error(
            f"every row of the training set has the value {labels[0]:g}: a regressor needs targets that vary;"
            " label more rows of the window first"
            if inp.is_regression
            else f"every row of the training set has the label {json.dumps(labels[0])}: a classifier needs at least"
            " two classes; collect or label rows of another class first"
        )
    if sum(weights) <= 0:
        raise training_data_error("every row of the training set has weight 0: give some rows a positive weight")
    X = np.empty((len(rows), len(inp.features)), dtype=object)
    for i, values in enumerate(rows):
        X[i, :] = values
    y = np.array(labels, dtype=np.float64 if inp.is_regression else object)
    return TrainingSet(X=X, y=y, weight=np.array(weights, dtype=np.float64))
