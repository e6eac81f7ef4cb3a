#!/usr/bin/env python3
"""Time HiGHS on the triangle LP of an LP fixture, for side-by-side benchmarks.

    python3 Scripts/bench_highs.py Tests/Fixtures/lp/b_20_200_200_10.json [--case box]
                                   [--method highs-ds|highs-ipm|highs] [--repeat N]

Rebuilds the LP relaxation from the fixture's ONNX file and the case's
`lp_layers` intermediate bounds, solves min and max of every output with
scipy.optimize.linprog (HiGHS), and prints one JSON object:

    {"name", "case", "method", "outputs", "highs_seconds", "lp": {"lower", "upper"},
     "max_abs_diff_vs_fixture", ...}

`highs_seconds` is the wall time (time.perf_counter) of the 2 * outputs
linprog calls only (best of --repeat runs); building the constraint matrix is
excluded. It includes SciPy's per-call Python overhead around HiGHS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_lp_fixtures import Relaxation, load_onnx  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fixture", help="path to NAME.json")
    ap.add_argument("--case", default="box", help="case label (box or shifted)")
    ap.add_argument("--method", default="highs-ds", choices=["highs-ds", "highs-ipm", "highs"])
    ap.add_argument("--repeat", type=int, default=1, help="repeat the timing, report the best")
    args = ap.parse_args(argv)

    with open(args.fixture) as f:
        doc = json.load(f)
    cases = {c["label"]: c for c in doc["cases"]}
    if args.case not in cases:
        ap.error(f"unknown case {args.case!r}; have {sorted(cases)}")
    case = cases[args.case]

    net = load_onnx(os.path.join(os.path.dirname(os.path.abspath(args.fixture)), doc["model"]))
    assert net.sizes == doc["layer_sizes"], (net.sizes, doc["layer_sizes"])
    lo = np.array(case["box"]["lower"], dtype=np.float64)
    hi = np.array(case["box"]["upper"], dtype=np.float64)
    bounds = [(np.array(b["lower"], dtype=np.float64), np.array(b["upper"], dtype=np.float64))
              for b in case["lp_layers"]]

    t0 = time.perf_counter()
    rel = Relaxation(net, lo, hi, bounds)
    build_seconds = time.perf_counter() - t0

    W, b = net.W[-1], net.b[-1]
    best = None
    for _ in range(max(1, args.repeat)):
        lower, upper, _, _, secs = rel.lp_bounds(W, b, args.method)
        if best is None or secs < best:
            best = secs

    ref_lo = np.array(case["lp"]["lower"])
    ref_hi = np.array(case["lp"]["upper"])
    diff = float(max(np.max(np.abs(lower - ref_lo)), np.max(np.abs(upper - ref_hi))))

    out = {
        "name": doc["name"],
        "case": args.case,
        "method": args.method,
        "outputs": int(W.shape[0]),
        "lp_solves": int(2 * W.shape[0]),
        "variables": int(rel.nvar),
        "rows": int((rel.A_eq.shape[0] if rel.A_eq is not None else 0)
                    + (rel.A_ub.shape[0] if rel.A_ub is not None else 0)),
        "unstable": rel.n_unstable,
        "highs_seconds": round(best, 6),
        "build_seconds": round(build_seconds, 6),
        "lp": {"lower": [float(v) for v in lower], "upper": [float(v) for v in upper]},
        "max_abs_diff_vs_fixture": diff,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
