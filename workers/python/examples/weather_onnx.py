"""Bring your own model, on real data: what a team that trains in Python hands Remedy.

Usage (with the Python environment Remedy installs, or any with scikit-learn, skl2onnx and numpy):

    .remedy/python/bin/python workers/python/examples/weather_onnx.py <outdir> [weather.csv]

Reads vega-datasets 1.31.1 data/weather.csv (Seattle and New York, 2012-2015; by default from this
repository's node_modules) and writes to <outdir>:

  definition.json   the model definition: labels, features, policy (for `remedy models register`)
  champion.onnx     a scikit-learn random forest trained on the odd days of 2012, exported with skl2onnx
                    (ZipMap kept, as skl2onnx exports by default: Remedy removes it when it loads the file)
  reference.csv     the even days of 2012, labeled: data the champion did not see, from the same year
                    (record_key, ts, features, label); Remedy measures the champion's baseline on it and
                    compares production with it
  original.csv      the forest's own probabilities on the reference rows (record_key + one column per
                    class), so Remedy can record how far the ONNX file is from the original model
  production.csv    2013-2015 as the production log: features, and the ground truth for a third of the rows
  candidate.onnx    the team's retrained model: gradient boosting on the labeled rows of April 2013 -
                    December 2014, after the source began labelling wet days "fog" or "sun"

Then, with `npm run dev` running in another terminal (its `export …` line pasted here):

    npx remedy models register <outdir>/definition.json --artifact <outdir>/champion.onnx \\
        --reference <outdir>/reference.csv --original-probabilities <outdir>/original.csv
    npx remedy ingest weather-onnx <outdir>/production.csv
    npx remedy models add-version weather-onnx <outdir>/candidate.onnx
    npx remedy start weather-onnx --from 2013-04-01 --to 2015-01-01 --candidate 2
"""

import csv
import json
import math
import os
import sys
from datetime import date

import numpy as np
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

MODEL_ID = "weather-onnx"
LABELS = ["drizzle", "fog", "rain", "snow", "sun"]
NUMERIC = ["precipitation", "temp_max", "temp_min", "wind", "season_sin", "season_cos"]
CATEGORICAL = ["location"]
COLUMNS = NUMERIC + CATEGORICAL
SEED = 7


def default_csv() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "..", "node_modules", "vega-datasets", "data", "weather.csv")


def read_weather(path: str) -> list[dict]:
    """Rows with the features Remedy's weather model uses (the season as a point on a circle)."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            d = date.fromisoformat(r["date"])
            angle = 2 * math.pi * (d.timetuple().tm_yday - 1) / 365.25
            rows.append(
                {
                    "record_key": f"{r['location'].lower().replace(' ', '-')}:{r['date']}",
                    "ts": f"{r['date']}T12:00:00Z",
                    "date": r["date"],
                    "label": r["weather"],
                    "features": {
                        "precipitation": float(r["precipitation"]),
                        "temp_max": float(r["temp_max"]),
                        "temp_min": float(r["temp_min"]),
                        "wind": float(r["wind"]),
                        # rounded half up to 6 places, as Remedy's own weather loader does
                        "season_sin": math.floor(math.sin(angle) * 1e6 + 0.5) / 1e6,
                        "season_cos": math.floor(math.cos(angle) * 1e6 + 0.5) / 1e6,
                        "location": r["location"],
                    },
                }
            )
    return rows


def has_feedback(record_key: str) -> bool:
    """The third of the log whose ground truth has arrived (the same third as Remedy's demo)."""
    h = 0
    for ch in record_key:
        h = (h * 31 + ord(ch)) & 0xFFFFFFFF
    return h % 3 == 0


def matrix(rows: list[dict]) -> np.ndarray:
    return np.array([[r["features"][c] for c in COLUMNS] for r in rows], dtype=object)


def pipeline(classifier) -> Pipeline:
    n = len(NUMERIC)
    return Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [
                        ("numeric", "passthrough", list(range(n))),
                        ("location", OneHotEncoder(handle_unknown="ignore"), [n]),
                    ]
                ),
            ),
            ("classifier", classifier),
        ]
    )


def to_onnx(model: Pipeline, zipmap: bool) -> bytes:
    """One input per feature, named after it: float [N, 1] for numbers, string [N, 1] for categories."""
    types = [(c, FloatTensorType([None, 1])) for c in NUMERIC] + [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    options = None if zipmap else {id(model.steps[-1][1]): {"zipmap": False}}
    onx = convert_sklearn(model, initial_types=types, options=options, target_opset={"": 17, "ai.onnx.ml": 3})
    return onx.SerializeToString()


def write_csv(path: str, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main(outdir: str, weather_csv: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    rows = read_weather(weather_csv)
    year = [r for r in rows if r["date"] < "2013-01-01"]
    trained = [r for r in year if int(r["date"][8:]) % 2 == 1]
    reference = [r for r in year if int(r["date"][8:]) % 2 == 0]
    production = [r for r in rows if r["date"] >= "2013-01-01"]

    champion = pipeline(RandomForestClassifier(n_estimators=60, min_samples_leaf=2, random_state=SEED))
    champion.fit(matrix(trained), [r["label"] for r in trained])
    with open(os.path.join(outdir, "champion.onnx"), "wb") as f:
        f.write(to_onnx(champion, zipmap=True))
    classes = [str(c) for c in champion.classes_]
    probabilities = champion.predict_proba(matrix(reference))
    write_csv(
        os.path.join(outdir, "original.csv"),
        ["record_key", *classes],
        [[r["record_key"], *[f"{p:.17g}" for p in ps]] for r, ps in zip(reference, probabilities)],
    )

    shifted = [r for r in production if "2013-04-01" <= r["date"] < "2015-01-01" and has_feedback(r["record_key"])]
    candidate = pipeline(GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=SEED))
    candidate.fit(matrix(shifted), [r["label"] for r in shifted])
    with open(os.path.join(outdir, "candidate.onnx"), "wb") as f:
        f.write(to_onnx(candidate, zipmap=False))

    feature_cells = lambda r: [r["features"][c] for c in COLUMNS]  # noqa: E731
    write_csv(
        os.path.join(outdir, "reference.csv"),
        ["record_key", "ts", *COLUMNS, "label"],
        [[r["record_key"], r["ts"], *feature_cells(r), r["label"]] for r in reference],
    )
    write_csv(
        os.path.join(outdir, "production.csv"),
        ["record_key", "ts", *COLUMNS, "feedback"],
        [
            [r["record_key"], r["ts"], *feature_cells(r), r["label"] if has_feedback(r["record_key"]) else ""]
            for r in production
        ],
    )
    definition = {
        "modelId": MODEL_ID,
        "labelSet": LABELS,
        "features": {"numeric": NUMERIC, "categorical": CATEGORICAL},
        "policy": {
            "labeling": {"budget": 40, "minLabels": 20, "deadline": "24h"},
            "rollout": {"dwell": "2s", "minSamples": 30, "requireApproval": True},
        },
    }
    with open(os.path.join(outdir, "definition.json"), "w") as f:
        json.dump(definition, f, indent=2)
    print(
        json.dumps(
            {
                "outdir": outdir,
                "reference": len(reference),
                "production": len(production),
                "candidateTrainedOn": len(shifted),
                "classes": classes,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: weather_onnx.py <outdir> [weather.csv]")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else default_csv())
