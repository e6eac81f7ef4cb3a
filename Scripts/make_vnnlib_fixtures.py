#!/usr/bin/env python3
"""VNN-LIB properties with known answers for `reachguard verify` tests.

Answers come from exact MILP (HiGHS, via the Relaxation builder of
make_lp_fixtures.py) on the LP fixture networks, with a margin δ of 5% of
the output range, so each expected answer holds with room to spare.
Run: python3 Scripts/make_vnnlib_fixtures.py  (writes Tests/Fixtures/vnnlib/)
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import make_lp_fixtures as lpf  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "vnnlib")


def exact(net, lo, hi, lpl, d):
    """Exact min and max of d·y over the box (MILP, then polished on the pattern)."""
    Ws, bs = net.W, net.b
    rel = lpf.Relaxation(net, lo, hi, lpl, binary=True)
    w = Ws[-1].T @ d
    b0 = float(d @ bs[-1])
    out = []
    for sense in (+1, -1):
        res = rel.milp_solve(sense * rel.objective(w))
        assert res.status == 0, res.message
        pattern = [np.round(res.x[a]) for a in rel.a]
        val, x = lpf.polish(net, lo, hi, lpl, pattern, w, b0, sense)
        out.append(float(val))
    return out[0], out[1]


def header(n_in, n_out, lo, hi, comment):
    lo = [float(v) for v in lo]
    hi = [float(v) for v in hi]
    lines = [f"; {comment}"]
    lines += [f"(declare-const X_{i} Real)" for i in range(n_in)]
    lines += [f"(declare-const Y_{j} Real)" for j in range(n_out)]
    for i in range(n_in):
        lines.append(f"(assert (<= X_{i} {hi[i]!r}))")
        lines.append(f"(assert (>= X_{i} {lo[i]!r}))")
    return lines


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name in ["t_3_10_10_10_2", "t_4_50_50_3"]:
        fx = json.load(open(os.path.join(ROOT, "Tests", "Fixtures", "lp", name + ".json")))
        net = lpf.load_onnx(os.path.join(ROOT, "Tests", "Fixtures", "lp", fx["model"]))
        case = fx["cases"][0]
        lo = np.array(case["box"]["lower"], dtype=float)
        hi = np.array(case["box"]["upper"], dtype=float)
        lpl = [(np.array(l["lower"]), np.array(l["upper"])) for l in case["lp_layers"]]
        n_in, n_out = len(lo), net.sizes[-1]
        e0 = np.zeros(n_out); e0[0] = 1
        e1 = np.zeros(n_out); e1[1] = 1
        min0, max0 = exact(net, lo, hi, lpl, e0)
        mid_f = None
        min1, max1 = exact(net, lo, hi, lpl, e1)
        d0 = float(0.05 * (max0 - min0))
        d1 = float(0.05 * (max1 - min1))
        model = os.path.relpath(os.path.join(ROOT, "Tests", "Fixtures", "lp", fx["model"]), OUT)

        def write(label, body, answer, note):
            fname = f"{name}_{label}.vnnlib"
            lines = header(n_in, n_out, lo, hi, note) + body
            with open(os.path.join(OUT, fname), "w") as f:
                f.write("\n".join(lines) + "\n")
            cases.append({"property": fname, "model": "../lp/" + fx["model"], "expected": answer})

        write("unsat_low", [f"(assert (<= Y_0 {min0 - d0!r}))"], "unsat",
              f"exact min Y_0 = {min0!r}; asks Y_0 below it by 5% of the range")
        write("sat_low", [f"(assert (<= Y_0 {min0 + d0!r}))"], "sat",
              f"exact min Y_0 = {min0!r}; a counterexample exists")
        write("unsat_or", [f"(assert (or (and (<= Y_0 {min0 - d0!r})) (and (>= Y_1 {max1 + d1!r}))))"], "unsat",
              "either output out of its exact range: impossible")
        # Comparison between outputs.
        dmin, dmax = exact(net, lo, hi, lpl, e1 - e0)     # Y_1 - Y_0
        if dmin > 0:
            write("unsat_cmp", ["(assert (<= Y_1 Y_0))"], "unsat", f"min(Y_1 - Y_0) = {dmin!r} > 0")
        elif dmax < 0:
            write("unsat_cmp", ["(assert (>= Y_1 Y_0))"], "unsat", f"max(Y_1 - Y_0) = {dmax!r} < 0")
        else:
            write("sat_cmp", ["(assert (<= Y_1 Y_0))"] if dmin < 0 else ["(assert (>= Y_1 Y_0))"], "sat",
                  f"Y_1 - Y_0 ranges over [{dmin!r}, {dmax!r}]")
        # A zero-width input coordinate and an `or` of two input boxes.
        mid = (lo + hi) / 2
        lines = [f"; X_0 held fixed at {float(mid[0])!r}; two input boxes in an or"]
        lines += [f"(declare-const X_{i} Real)" for i in range(n_in)]
        lines += [f"(declare-const Y_{j} Real)" for j in range(n_out)]
        def box_and(a, b):
            a = [float(v) for v in a]
            b = [float(v) for v in b]
            parts = []
            for i in range(n_in):
                parts.append(f"(<= X_{i} {b[i]!r}) (>= X_{i} {a[i]!r})")
            return "(and " + " ".join(parts) + ")"
        a_lo, a_hi = lo.copy(), mid.copy(); a_lo[0] = a_hi[0] = mid[0]
        b_lo, b_hi = mid.copy(), hi.copy(); b_lo[0] = b_hi[0] = mid[0]
        lines.append(f"(assert (or {box_and(a_lo, a_hi)} {box_and(b_lo, b_hi)}))")
        lines.append(f"(assert (>= Y_0 {max0 + d0!r}))")
        fname = f"{name}_unsat_fixed_or.vnnlib"
        with open(os.path.join(OUT, fname), "w") as f:
            f.write("\n".join(lines) + "\n")
        cases.append({"property": fname, "model": "../lp/" + fx["model"], "expected": "unsat"})
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)
    for c in cases:
        print(c)


if __name__ == "__main__":
    main()
