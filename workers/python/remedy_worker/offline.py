"""The worker's training without Temporal or Postgres: the same code on files, for trying a model
before wiring it in and for benchmarks.

    python -m remedy_worker.offline <request.json> <training.ndjson> <out.onnx>

request.json holds the activity's input without the training set ({"featureSpec", "labelSet", "seed",
"config"}); training.ndjson one {"features", "label", "weight"} per line. Writes the ONNX file and prints
the activity's result (with "onnxPath") as one JSON line.
"""

import hashlib
import json
import sys
from typing import Any

from .dataset import parse_input
from .training import Progress, train


class MemoryStore:
    """Content-addressed blobs in memory, standing in for model_blobs."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def get(self, sha256: str) -> bytes | None:
        return self.blobs.get(sha256)

    def put(self, data: bytes, media_type: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return sha


def run(request: dict[str, Any], training_set: bytes) -> tuple[dict[str, Any], bytes]:
    store = MemoryStore()
    sha = store.put(training_set, "application/x-ndjson")
    rows = sum(1 for line in training_set.decode("utf-8").splitlines() if line.strip())
    inp = parse_input(
        {**request, "cycleId": "offline", "modelId": "offline", "trainingSet": {"sha256": sha, "rows": rows}}
    )
    result = train(inp, store, Progress(heartbeat=lambda _details: None, is_cancelled=lambda: False), None)
    return result, store.blobs[result["artifactSha256"]]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        sys.stderr.write(__doc__ or "")
        return 2
    with open(argv[0]) as f:
        request = json.load(f)
    with open(argv[1], "rb") as f:
        training_set = f.read()
    result, onnx = run(request, training_set)
    with open(argv[2], "wb") as f:
        f.write(onnx)
    print(json.dumps({**result, "onnxPath": argv[2]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
