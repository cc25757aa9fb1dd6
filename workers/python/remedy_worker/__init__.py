"""Remedy's Python training worker: trains a candidate model on its own Temporal task queue.

The activity `trainPythonCandidate` (activities.py) reads a training set from Postgres' model_blobs,
fits the pipeline that model.build_model returns in stages (checkpointed, resumable), exports it to
ONNX and stores the file back in model_blobs. worker.py runs it: `python -m remedy_worker.worker`.
"""

__version__ = "0.1.0"
