"""ONNX export of the fitted pipeline, checked against the pipeline itself with onnxruntime."""

import re
from dataclasses import dataclass

import numpy as np
import onnxruntime
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from .errors import conversion_error

TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
# Rows of probabilities must sum to 1 within this (float32 outputs).
SUM_TOLERANCE = 1e-4
GRAPH_NAME = "remedy_candidate"
# The one output of a regressor's file, as skl2onnx names it (Remedy reads "variable" as the value).
REGRESSOR_OUTPUT = "variable"


@dataclass(frozen=True)
class Exported:
    onnx: bytes
    inputs: list[dict[str, str]]  # {"name": ONNX input, "feature": feature name, "type": "float" | "string"}
    converter_gap: float  # max |p_sklearn - p_onnx| (a regressor: |y_sklearn - y_onnx|) over the training rows
    # A regressor's ONNX predictions on the training rows (None for a classifier).
    values: np.ndarray | None = None


def input_names(features: list[str]) -> list[str]:
    """ONNX input names: the feature name when it is a plain identifier, else a cleaned, unique one."""
    names: list[str] = []
    for feature in features:
        base = re.sub(r"[^A-Za-z0-9_]", "_", feature)
        if not re.match(r"^[A-Za-z_]", base):
            base = f"f_{base}"
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def _feeds(X: np.ndarray, inputs: list[dict[str, str]]) -> dict[str, np.ndarray]:
    feeds = {}
    for i, spec in enumerate(inputs):
        column = X[:, i].reshape(-1, 1)
        feeds[spec["name"]] = column.astype(np.float32) if spec["type"] == "float" else column.astype(str)
    return feeds


def export_onnx(
    pipeline: Pipeline, feature_spec: dict[str, list[str]], X: np.ndarray, regression: bool = False
) -> Exported:
    """Converts (zipmap off, per-column inputs), runs the ONNX file on X and compares probabilities (a
    regressor's file: its values, with the pipeline's predictions)."""
    features = feature_spec["numeric"] + feature_spec["categorical"]
    kinds = ["float"] * len(feature_spec["numeric"]) + ["string"] * len(feature_spec["categorical"])
    inputs = [{"name": n, "feature": f, "type": k} for n, f, k in zip(input_names(features), features, kinds)]
    initial_types = [
        (s["name"], FloatTensorType([None, 1]) if s["type"] == "float" else StringTensorType([None, 1])) for s in inputs
    ]
    classifier = pipeline.steps[-1][1]
    try:
        model = convert_sklearn(
            pipeline,
            name=GRAPH_NAME,  # a fixed name (skl2onnx picks a random one), so the same model gives the same file
            initial_types=initial_types,
            # A regressor has no ZipMap to turn off (and skl2onnx refuses the option for it).
            options=None if regression else {id(classifier): {"zipmap": False}},
            target_opset=TARGET_OPSET,
        )
    except Exception as err:  # skl2onnx raises many kinds: all mean "this pipeline does not convert"
        hint = (
            "GradientBoostingRegressor does; HistGradientBoostingRegressor does not with skl2onnx 1.20.0) in"
            " model.build_regressor"
            if regression
            else "GradientBoostingClassifier does; HistGradientBoostingClassifier does not with skl2onnx 1.20.0)"
            " in model.build_model"
        )
        raise conversion_error(
            f"skl2onnx could not convert the pipeline ({type(classifier).__name__}): {err}. Use estimators"
            f" skl2onnx supports ({hint}"
        ) from None
    # skl2onnx lists the opsets in set order (it varies with PYTHONHASHSEED): sort them, so the same
    # model always gives the same bytes and the same sha256.
    opsets = sorted(model.opset_import, key=lambda o: o.domain)
    del model.opset_import[:]
    model.opset_import.extend(opsets)
    onnx_bytes = model.SerializeToString()
    if regression:
        gap, values = check_onnx_regressor(onnx_bytes, pipeline, inputs, X)
        return Exported(onnx=onnx_bytes, inputs=inputs, converter_gap=gap, values=values)
    return Exported(onnx=onnx_bytes, inputs=inputs, converter_gap=check_onnx(onnx_bytes, pipeline, inputs, X))


def _session(onnx_bytes: bytes, inputs: list[dict[str, str]]) -> onnxruntime.InferenceSession:
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    have_in = [i.name for i in session.get_inputs()]
    want_in = [s["name"] for s in inputs]
    if have_in != want_in:
        raise conversion_error(f"the ONNX file's inputs are {have_in}, not the expected {want_in}")
    return session


def check_onnx_regressor(
    onnx_bytes: bytes, pipeline: Pipeline, inputs: list[dict[str, str]], X: np.ndarray
) -> tuple[float, np.ndarray]:
    """Runs a regressor's ONNX file on X: one finite value per row from its one output `variable`, which
    Remedy reads as the prediction. Returns max |y_sklearn - y_onnx| and the file's values."""
    session = _session(onnx_bytes, inputs)
    outputs = [(o.name, o.type) for o in session.get_outputs()]
    if [name for name, _ in outputs] != [REGRESSOR_OUTPUT] or outputs[0][1] != "tensor(float)":
        raise conversion_error(
            f"the ONNX file's outputs are {outputs}; a regressor's file must have one float output"
            f" '{REGRESSOR_OUTPUT}' (the last step must be a regressor whose predict gives one number per row)"
        )
    values = np.asarray(session.run([REGRESSOR_OUTPUT], _feeds(X, inputs))[0], dtype=np.float64)
    if values.shape not in ((X.shape[0], 1), (X.shape[0],)):
        raise conversion_error(
            f"the ONNX file gives values of shape {list(values.shape)} for {X.shape[0]} rows; a regressor gives"
            " one value per row"
        )
    values = values.reshape(-1)
    if not np.all(np.isfinite(values)):
        row = int(np.flatnonzero(~np.isfinite(values))[0]) + 1
        raise conversion_error(f"the ONNX file predicts {values[row - 1]} for training row {row}: NaN or infinite")
    expected = np.asarray(pipeline.predict(X), dtype=np.float64).reshape(-1)
    return float(np.max(np.abs(values - expected))), values


def check_onnx(onnx_bytes: bytes, pipeline: Pipeline, inputs: list[dict[str, str]], X: np.ndarray) -> float:
    """Runs the ONNX file on X; returns max |p_sklearn - p_onnx|. Refuses NaN or rows not summing to 1."""
    session = _session(onnx_bytes, inputs)
    have_out = {o.name for o in session.get_outputs()}
    if not {"label", "probabilities"} <= have_out:
        raise conversion_error(
            f"the ONNX file's outputs are {sorted(have_out)}; it needs 'label' and 'probabilities'"
            " (the last step must be a classifier with predict_proba)"
        )
    probabilities = np.asarray(session.run(["probabilities"], _feeds(X, inputs))[0], dtype=np.float64)
    expected = pipeline.predict_proba(X)
    if probabilities.shape != expected.shape:
        raise conversion_error(
            f"the ONNX file gives probabilities of shape {list(probabilities.shape)}; the pipeline gives"
            f" {list(expected.shape)} (rows x classes)"
        )
    if not np.all(np.isfinite(probabilities)):
        raise conversion_error("the ONNX file gives NaN or infinite probabilities on the training rows")
    worst_sum = float(np.max(np.abs(probabilities.sum(axis=1) - 1.0)))
    if worst_sum > SUM_TOLERANCE:
        raise conversion_error(
            f"the ONNX file's probabilities do not sum to 1 on every row (off by up to {worst_sum:.3g}):"
            " export a classifier's probabilities, not scores"
        )
    return float(np.max(np.abs(probabilities - expected)))
