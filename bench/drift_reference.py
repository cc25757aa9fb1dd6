"""Reference numbers and timings for bench/drift.ts: scipy and Evidently on the same data as Remedy.

  python drift_reference.py --dataset synthetic --cache DIR      (reads DIR/profile.f64 and DIR/current.f64)
  python drift_reference.py --dataset flights --parquet FILE --cutoff 2001-04-01

Prints one JSON document: per-feature statistics from scipy (the default test Remedy picks) and from
Evidently's DataDriftPreset, with the wall time of each (data loading excluded).
"""
import argparse
import json
import time

import numpy as np
import pandas as pd


def load_synthetic(cache):
    meta = json.load(open(f"{cache}/profile.json"))
    cur_meta = json.load(open(f"{cache}/current.json"))
    ref_all = np.fromfile(f"{cache}/profile.f64", dtype="<f8")
    cur_all = np.fromfile(f"{cache}/current.f64", dtype="<f8")
    ref, cur = {}, {}
    for name, f in meta["features"].items():
        ref[name] = ref_all[f["offset"] : f["offset"] + f["length"]]
    for c in cur_meta["columns"]:
        cur[c["name"]] = cur_all[c["offset"] : c["offset"] + c["length"]]
    return pd.DataFrame(ref), pd.DataFrame(cur), list(ref.keys()), []


def load_flights(parquet, cutoff):
    t = pd.read_parquet(parquet)
    ref = t[t.date < cutoff].drop(columns=["date"]).reset_index(drop=True)
    cur = t[t.date >= cutoff].drop(columns=["date"]).reset_index(drop=True)
    return ref, cur, ["delay", "distance"], ["origin", "destination"]


def scipy_default(ref, cur, numeric, categorical):
    """What Remedy's default rule picks for references over 1000 rows, computed with scipy."""
    from scipy import stats
    from scipy.spatial import distance

    out = {}
    for c in numeric:
        r, k = ref[c].to_numpy(dtype=float), cur[c].to_numpy(dtype=float)
        out[c] = float(stats.wasserstein_distance(r, k) / max(float(np.std(r)), 0.001))
    for c in categorical:
        keys = sorted(set(ref[c].dropna().unique()) | set(cur[c].dropna().unique()))
        rc, kc = ref[c].value_counts(), cur[c].value_counts()
        p = np.array([rc.get(x, 0) for x in keys]) / len(ref[c])
        q = np.array([kc.get(x, 0) for x in keys]) / len(cur[c])
        out[c] = float(distance.jensenshannon(p, q))
    return out


def evidently_report(ref, cur, numeric, categorical):
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    dd = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    t0 = time.perf_counter()
    snap = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=dd), Dataset.from_pandas(ref, data_definition=dd)
    )
    d = snap.dict()
    seconds = time.perf_counter() - t0
    feats = {}
    for m in d["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith(":ValueDrift"):
            feats[cfg["column"]] = {"method": cfg["method"], "value": float(m["value"])}
    return {"version": evidently.__version__, "seconds": seconds, "features": feats}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True, choices=["synthetic", "flights"])
    ap.add_argument("--cache")
    ap.add_argument("--parquet")
    ap.add_argument("--cutoff", default="2001-04-01")
    ap.add_argument("--skip-evidently", action="store_true")
    a = ap.parse_args()
    ref, cur, numeric, categorical = (
        load_synthetic(a.cache) if a.dataset == "synthetic" else load_flights(a.parquet, a.cutoff)
    )
    t0 = time.perf_counter()
    sc = scipy_default(ref, cur, numeric, categorical)
    scipy_seconds = time.perf_counter() - t0
    out = {"rows": {"reference": len(ref), "current": len(cur)}, "scipy": {"seconds": scipy_seconds, "features": sc}}
    if not a.skip_evidently:
        out["evidently"] = evidently_report(ref, cur, numeric, categorical)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
