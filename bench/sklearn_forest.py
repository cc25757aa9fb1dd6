"""Reference trainer for bench/trainer-compare.ts: scikit-learn's random forest on the same matrices.

Reads the encoded train/test matrices the TypeScript side wrote, fits
RandomForestClassifier(n_estimators=100, random_state=0) and writes its accuracy and fit time.

    python sklearn_forest.py --input matrices.json --output result.json
"""

import argparse
import json
import time

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="JSON with xTrain, yTrain, xTest, yTest")
    parser.add_argument("--output", required=True, help="where to write accuracy and trainSeconds")
    args = parser.parse_args()

    with open(args.input, encoding="utf-8") as f:
        data = json.load(f)
    x_train = np.asarray(data["xTrain"], dtype=np.float64)
    y_train = np.asarray(data["yTrain"], dtype=np.int64)
    x_test = np.asarray(data["xTest"], dtype=np.float64)
    y_test = np.asarray(data["yTest"], dtype=np.int64)

    model = RandomForestClassifier(n_estimators=100, random_state=0)
    start = time.perf_counter()
    model.fit(x_train, y_train)
    train_seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(x_test) == y_test))

    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(
            {
                "accuracy": accuracy,
                "trainSeconds": train_seconds,
                "sklearnVersion": sklearn.__version__,
                "numpyVersion": np.__version__,
            },
            f,
        )


if __name__ == "__main__":
    main()
