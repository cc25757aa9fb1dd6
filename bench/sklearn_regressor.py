"""Reference regressor for the efficacy benchmark's regression datasets: scikit-learn on the same stream.

Reads the reference rows and the stream's windows (encoded numbers, each row with its target and
whether its feedback arrives), and replays them prequentially: before each window, a
RandomForestRegressor(n_estimators=100, random_state=0) is fitted on the reference plus every row of
the earlier windows whose feedback arrived; it predicts the window, whose absolute errors are summed.

    python sklearn_regressor.py --input stream.json --output result.json
"""

import argparse
import json
import time

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestRegressor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="JSON with reference {x, y} and windows [{x, y, feedback}]")
    parser.add_argument("--output", required=True, help="where to write each window's absolute error")
    args = parser.parse_args()

    with open(args.input, encoding="utf-8") as f:
        data = json.load(f)
    x_known = [list(r) for r in data["reference"]["x"]]
    y_known = list(data["reference"]["y"])
    windows = []
    start = time.perf_counter()
    for w in data["windows"]:
        if not w["x"]:
            windows.append({"rows": 0, "absError": 0.0})
            continue
        model = RandomForestRegressor(n_estimators=100, random_state=0)
        model.fit(np.asarray(x_known, dtype=np.float64), np.asarray(y_known, dtype=np.float64))
        predicted = model.predict(np.asarray(w["x"], dtype=np.float64))
        errors = np.abs(predicted - np.asarray(w["y"], dtype=np.float64))
        windows.append({"rows": len(w["x"]), "absError": float(np.sum(errors))})
        for x, y, known in zip(w["x"], w["y"], w["feedback"]):
            if known:
                x_known.append(x)
                y_known.append(y)
    seconds = time.perf_counter() - start

    with open(args.output, "w", encoding="utf-8") as f:
        json.dump({"windows": windows, "seconds": seconds, "sklearnVersion": sklearn.__version__}, f)


if __name__ == "__main__":
    main()
