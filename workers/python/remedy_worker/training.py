"""Staged, checkpointed fitting and the whole training run: data in, ONNX file and its details out.

The pipeline is fitted `stageSize` estimators at a time (warm start). After each stage the pipeline is
pickled into model_blobs and its sha256 heartbeated with the config hash and the estimators done; an
attempt whose last heartbeat carries the same config hash loads that checkpoint and goes on from there,
so a crashed worker loses at most one stage, and the result is the one an uninterrupted fit gives.
"""

import hashlib
import json
import logging
import pickle
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import onnxruntime
import skl2onnx
import sklearn
from sklearn.pipeline import Pipeline
from temporalio.exceptions import CancelledError

from . import __version__
from .dataset import TrainingInput, TrainingSet, parse_training_set
from .errors import conversion_error, training_data_error
from .export import export_onnx
from .model import model_builder

CHECKPOINT_MEDIA = "application/x-python-pickle"
ONNX_MEDIA = "application/onnx"
# The sources whose change makes an old checkpoint unusable (with the library versions).
CODE_FILES = ("model.py", "training.py", "dataset.py", "export.py")

logger = logging.getLogger(__name__)


class BlobStore(Protocol):
    def get(self, sha256: str) -> bytes | None: ...
    def put(self, data: bytes, media_type: str) -> str: ...


@dataclass
class Progress:
    """How the fit talks to Temporal: heartbeat after each stage, stop when cancelled."""

    heartbeat: Callable[[dict[str, Any]], None]
    is_cancelled: Callable[[], bool]


def code_version() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in CODE_FILES:
        digest.update((here / name).read_bytes())
    return f"{__version__}+sklearn-{sklearn.__version__}+skl2onnx-{skl2onnx.__version__}+{digest.hexdigest()[:16]}"


def config_hash(inp: TrainingInput) -> str:
    """sha256 of the canonical JSON of what decides the model: data, features, labels, seed, config, code."""
    decides: dict[str, Any] = {
        "trainingSet": inp.training_set_sha256,
        "featureSpec": inp.feature_spec,
        "labelSet": inp.label_set,
        "seed": inp.seed,
        "config": inp.config,
        "codeVersion": code_version(),
        "model": model_builder(inp.task)[1],
    }
    if inp.is_regression:  # a classifier's hash stays what it was
        decides["task"] = inp.task
    canonical = json.dumps(
        decides,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_staged(pipeline: Pipeline, config: dict[str, Any]) -> bool:
    params = pipeline.steps[-1][1].get_params(deep=False)
    return config["stageSize"] > 0 and "warm_start" in params and "n_estimators" in params


def fitted_estimators(pipeline: Pipeline) -> int:
    return len(getattr(pipeline.steps[-1][1], "estimators_", []))


@dataclass
class FitResult:
    pipeline: Pipeline
    resumed_from: int
    estimators: int
    fit_seconds: float


def _resume(pipeline: Pipeline, resume: dict[str, Any] | None, hash_: str, store: BlobStore) -> tuple[Pipeline, int]:
    """The checkpoint an earlier attempt heartbeated, when it trained this same config; else a fresh start."""
    if not isinstance(resume, dict) or resume.get("configHash") != hash_:
        return pipeline, 0
    sha = resume.get("checkpointSha256")
    blob = store.get(sha) if isinstance(sha, str) else None
    if blob is None:
        logger.warning("checkpoint %s from the last attempt is not stored; training from the start", sha)
        return pipeline, 0
    try:
        restored = pickle.loads(blob)
    except Exception as err:  # a checkpoint from other library versions: start again rather than fail
        logger.warning("checkpoint %s does not load (%s); training from the start", sha, err)
        return pipeline, 0
    done = int(resume.get("estimators", 0))
    logger.info("resuming from checkpoint %s at %d estimators", sha, done)
    return restored, done


def staged_fit(
    pipeline: Pipeline,
    data: TrainingSet,
    config: dict[str, Any],
    store: BlobStore,
    progress: Progress,
    hash_: str,
    resume: dict[str, Any] | None = None,
) -> FitResult:
    """Fits `stageSize` estimators at a time up to `estimators` (or in one go when not staged)."""
    staged = is_staged(pipeline, config)
    pipeline, done = _resume(pipeline, resume, hash_, store)
    if staged and done:
        done = fitted_estimators(pipeline)
    resumed_from = done
    total = config["estimators"]
    last = pipeline.steps[-1][0]
    fit_params = {f"{last}__sample_weight": data.weight}
    fit_seconds = 0.0
    while done < total:
        if progress.is_cancelled():
            raise CancelledError(f"training cancelled after {done} of {total} estimators")
        target = min(done + config["stageSize"], total) if staged else total
        if staged:
            pipeline.set_params(**{f"{last}__warm_start": True, f"{last}__n_estimators": target})
        started = time.perf_counter()
        pipeline.fit(data.X, data.y, **fit_params)
        fit_seconds += time.perf_counter() - started
        done = fitted_estimators(pipeline) if staged else total
        checkpoint = store.put(pickle.dumps(pipeline, protocol=pickle.HIGHEST_PROTOCOL), CHECKPOINT_MEDIA)
        progress.heartbeat({"configHash": hash_, "estimators": done, "checkpointSha256": checkpoint})
    return FitResult(pipeline=pipeline, resumed_from=resumed_from, estimators=done, fit_seconds=fit_seconds)


def train(inp: TrainingInput, store: BlobStore, progress: Progress, resume: dict[str, Any] | None) -> dict[str, Any]:
    """The whole run: load and check the data, fit (resuming), export and verify the ONNX file, store it."""
    raw = store.get(inp.training_set_sha256)
    if raw is None:
        raise training_data_error(
            f"the training set {inp.training_set_sha256} is not in model_blobs: store it (db/blobs.ts putBlob)"
            " before starting the training activity"
        )
    data = parse_training_set(raw, inp)
    build, builder = model_builder(inp.task)
    pipeline = build(inp.feature_spec, inp.config, inp.seed)
    if not isinstance(pipeline, Pipeline):
        raise conversion_error(f"{builder} returned a {type(pipeline).__name__}; it must return a Pipeline")
    fit = staged_fit(pipeline, data, inp.config, store, progress, config_hash(inp), resume)
    exported = export_onnx(fit.pipeline, inp.feature_spec, data.X, regression=inp.is_regression)
    artifact = store.put(exported.onnx, ONNX_MEDIA)
    estimator = fit.pipeline.steps[-1][1]
    details = {
        "estimator": type(estimator).__name__,
        "estimators": fit.estimators,
        "sklearnVersion": sklearn.__version__,
        "skl2onnxVersion": skl2onnx.__version__,
        "onnxruntimeVersion": onnxruntime.__version__,
        "pythonVersion": platform.python_version(),
        "fitSeconds": round(fit.fit_seconds, 3),
    }
    if inp.is_regression:
        return {
            "artifactSha256": artifact,
            "task": "regression",
            "classes": [],
            "inputs": exported.inputs,
            "outputs": {"value": "variable"},
            "trainer": "python",
            "resumedFrom": fit.resumed_from,
            "details": {
                **details,
                "task": "regression",
                **training_errors(data.y, exported.values),
                "converterGap": exported.converter_gap,
                "trainRows": int(data.X.shape[0]),
            },
        }
    accuracy = float(np.mean(fit.pipeline.predict(data.X) == data.y))
    return {
        "artifactSha256": artifact,
        "classes": [str(c) for c in estimator.classes_],
        "inputs": exported.inputs,
        "outputs": {"label": "label", "probabilities": "probabilities"},
        "trainer": "python",
        "resumedFrom": fit.resumed_from,
        "details": {
            **details,
            "trainAccuracy": accuracy,
            "converterGap": exported.converter_gap,
            "trainRows": int(data.X.shape[0]),
        },
    }


def training_errors(y: np.ndarray, predicted: np.ndarray | None) -> dict[str, float]:
    """The ONNX file's errors on its own training rows (unweighted, as Remedy measures them)."""
    assert predicted is not None
    errors = predicted - y
    total = float(np.sum((y - np.mean(y)) ** 2))
    return {
        "trainMae": float(np.mean(np.abs(errors))),
        "trainRmse": float(np.sqrt(np.mean(errors**2))),
        "trainR2": 1.0 - float(np.sum(errors**2)) / total if total > 0 else 0.0,
    }
