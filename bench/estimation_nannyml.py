"""NannyML's own CBPE on its shipped ACS employment split, for bench:estimation.

Usage: python estimation_nannyml.py --data <dir with employment_MA_*.pq> --chunk 5000
Prints one JSON document: per analysis chunk the start/end row, NannyML's estimate, sampling error and
band for accuracy and F1, and the realized value from the analysis targets.
"""
import argparse
import json
import os
import time

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import nannyml as nml  # noqa: E402
import pandas as pd  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--chunk", type=int, default=5000)
args = parser.parse_args()

path = lambda name: os.path.join(args.data, f"employment_MA_{name}.pq")  # noqa: E731
reference = pd.read_parquet(path("reference"))
analysis = pd.read_parquet(path("analysis"))
targets = pd.read_parquet(path("analysis_target"))
if not (analysis["id"].to_numpy() == targets["id"].to_numpy()).all():
    raise SystemExit("analysis and analysis_target rows are not in the same order")
analysis = analysis.assign(employed=targets["employed"].to_numpy())

started = time.perf_counter()
estimator = nml.CBPE(
    y_pred_proba="predicted_probability",
    y_pred="prediction",
    y_true="employed",
    problem_type="classification_binary",
    metrics=["accuracy", "f1"],
    chunk_size=args.chunk,
)
estimator.fit(reference)
result = estimator.estimate(analysis).filter(period="analysis").to_df()
seconds = time.perf_counter() - started

chunks = []
for _, row in result.iterrows():
    chunk = {"start": int(row[("chunk", "start_index")]), "end": int(row[("chunk", "end_index")]) + 1}
    for metric in ["accuracy", "f1"]:
        chunk[metric] = {
            "estimate": float(row[(metric, "value")]),
            "samplingError": float(row[(metric, "sampling_error")]),
            "band": [float(row[(metric, "lower_confidence_boundary")]), float(row[(metric, "upper_confidence_boundary")])],
            "realized": float(row[(metric, "realized")]),
        }
    chunks.append(chunk)

print(
    json.dumps(
        {
            "version": nml.__version__,
            "calibrated": bool(estimator.needs_calibration),
            "seconds": seconds,
            "rows": {"reference": len(reference), "analysis": len(analysis)},
            "chunks": chunks,
        }
    )
)
