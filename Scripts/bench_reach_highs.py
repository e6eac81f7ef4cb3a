#!/usr/bin/env python3
"""HiGHS baseline for ReachGuard's reach tubes (triangle LP, LP intermediates).

    python3 Scripts/bench_reach_highs.py [--system Config/double_integrator/system.toml]
                                         [--lower 2.5 -0.25 --upper 3.0 0.25] [--horizon 6]
                                         [--compare Tests/Fixtures/reach/NAME.json [--case LABEL]]

System and networks are loaded with make_reach_fixtures.py (load_system), so
the weights are the float32 values of the ONNX files, as ReachGuard reads them.

Relaxation of the unrolled closed loop x_{t+1} = A x_t + B clip(net(x_t)) + c + w_t
(or the plant network), built step by step in topological order:
  * x_0 and the disturbances w_t are bounded variables (the initial box and
    the TOML disturbance box); every later state, pre-activation and
    controller output is a free variable tied by linear equalities (exact);
  * each ReLU a = max(z, 0) with pre-activation bounds [l, u]:
    u <= 0 -> a = 0, l >= 0 -> a = z, otherwise the triangle
    a >= 0, a >= z, a <= u (z - l) / (u - l);
  * the saturation clip(v, lo, hi) = v - relu(v - hi) + relu(lo - v), both
    ReLUs relaxed the same way (bounds of v - hi and lo - v come from those
    of v).

Intermediate bounds (phase "intermediates"): start from interval bound
propagation; for every ReLU layer in topological order (controller hidden
layers, the saturation of every step, and the hidden layers of a network
plant) the IBP-unstable neurons get LP-tight bounds: min and max of the
pre-activation over the relaxation built so far (for the saturation: of the
controller output v, whenever v - hi or lo - v is IBP-unstable).  Bounds are
intersected with IBP; no outward padding (LPs solved with feasibility
tolerances 1e-9, as make_reach_fixtures.py's LP_OPTIONS).

Tube (phase "tube"): min and max of every x_t[i], t = 1..T, over the final
relaxation.

Every LP is scipy.optimize.linprog(method="highs") (HiGHS' default, dual
simplex).  Phase times are wall times (time.perf_counter) of the whole phase,
i.e. the linprog calls plus the (small) cost of building the sparse matrices
and SciPy's per-call overhead; loading the ONNX files is excluded.

Prints one JSON object:
    {"system", "horizon", "box": {"lower", "upper"},
     "highs_seconds": {"intermediates", "tube", "total"}, "lp_solves",
     "steps": [{"t", "lower", "upper"}],
     "compare": {...}   (only with --compare)}

--compare EXACT.json reads a reach fixture (Tests/Fixtures/reach/*.json);
the case is --case, else the one whose box equals the run's box, else
"reach_lp_setting", else the first.  Without --lower/--upper the case's box
is used.  It asserts that every LP range contains the exact range (1e-7) and
adds per-step width ratios LP/exact (per coordinate, plus their max and the
ratio of box volumes) to the JSON; a readable table goes to stderr.

--horizon defaults to the TOML's [reach] horizon (6 for the double
integrator), capped at the compared case's horizon.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reach_fixtures as rf  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

CONTAIN_TOL = 1e-7
DEFAULT_SYSTEM = "Config/double_integrator/system.toml"
DEFAULT_BOX = ([2.5, -0.25], [3.0, 0.25])


class Relaxation:
    """Triangle LP of the unrolled loop, stored in make_reach_fixtures.Builder
    (range rows, variable bounds).  ilo/ihi: the interval bounds known for
    every variable (used by IBP and by the triangles; not LP bounds)."""

    def __init__(self):
        self.bld = rf.Builder()
        self.ilo: list[float] = []
        self.ihi: list[float] = []
        self.lp_solves = 0
        self.lp_seconds = 0.0
        self._lp_cache = None

    # ---- variables and rows
    def var(self, ilo, ihi, bounded=False):
        ilo, ihi = np.atleast_1d(np.asarray(ilo, float)), np.atleast_1d(np.asarray(ihi, float))
        if bounded:
            idx = self.bld.add_vars(ilo, ihi)
        else:
            idx = self.bld.add_vars(np.full(len(ilo), -np.inf), np.full(len(ilo), np.inf))
        self.ilo += ilo.tolist()
        self.ihi += ihi.tolist()
        return idx

    def interval(self, idx):
        idx = np.asarray(idx)
        return np.array(self.ilo)[idx], np.array(self.ihi)[idx]

    def set_interval(self, k, lo, hi):
        self.ilo[k], self.ihi[k] = lo, hi

    def affine(self, W, b, a):
        """z = W a + b (equalities), z's interval by IBP."""
        alo, ahi = self.interval(a)
        l, u = rf.ibp_affine(W, b, alo, ahi)
        z = self.var(l, u)
        for j in range(len(z)):
            nz = np.nonzero(W[j])[0]
            self.bld.add_eq([z[j]] + a[nz].tolist(), [1.0] + (-W[j, nz]).tolist(), b[j])
        return z

    def relu(self, z):
        """a = relu(z): exact if stable, else the triangle on z's interval."""
        a = np.empty(len(z), dtype=int)
        for j, zj in enumerate(z):
            l, u = self.ilo[zj], self.ihi[zj]
            if u <= 0.0:
                a[j] = self.var(0.0, 0.0, bounded=True)[0]
            elif l >= 0.0:
                a[j] = zj
            else:
                aj = self.var(0.0, u)[0]
                self.bld.lb[aj] = 0.0                                        # a >= 0
                self.bld.add_row([aj, zj], [1.0, -1.0], 0.0, np.inf)        # a >= z
                s = u / (u - l)
                self.bld.add_row([aj, zj], [1.0, -s], -np.inf, -s * l)      # a <= s (z - l)
                a[j] = aj
        return a

    # ---- LPs
    def _lp(self):
        key = self.bld._version
        if self._lp_cache is None or self._lp_cache[0] != key:
            M = self.bld.matrix().tocsr()
            rlo, rhi = np.array(self.bld.rlo), np.array(self.bld.rhi)
            eq = rlo == rhi
            up = ~eq & np.isfinite(rhi)
            dn = ~eq & np.isfinite(rlo)
            A_eq, b_eq = M[np.nonzero(eq)[0]], rlo[eq]
            A_ub = sp.vstack([M[np.nonzero(up)[0]], -M[np.nonzero(dn)[0]]]).tocsr()
            b_ub = np.concatenate([rhi[up], -rlo[dn]])
            bounds = np.column_stack([self.bld.lb, self.bld.ub])
            self._lp_cache = (key, A_ub, b_ub, A_eq, b_eq, bounds)
        return self._lp_cache[1:]

    def minimise(self, var, sense=1.0):
        A_ub, b_ub, A_eq, b_eq, bounds = self._lp()
        c = np.zeros(self.bld.nv)
        c[var] = sense
        t0 = time.perf_counter()
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds,
                      method="highs", options=dict(rf.LP_OPTIONS))
        self.lp_seconds += time.perf_counter() - t0
        self.lp_solves += 1
        assert res.status == 0, (var, sense, res.message)
        return sense * res.fun

    def lp_range(self, var):
        return self.minimise(var, 1.0), self.minimise(var, -1.0)

    def tighten(self, z, mask):
        """LP-tight interval for the variables z[mask] (intersected with IBP)."""
        for j in np.nonzero(mask)[0]:
            lo, hi = self.lp_range(z[j])
            self.set_interval(z[j], max(self.ilo[z[j]], lo), min(self.ihi[z[j]], hi))


def unstable(z, rel: Relaxation):
    l, u = rel.interval(z)
    return (l < 0.0) & (u > 0.0)


def encode_net(rel: Relaxation, net: rf.Net, a):
    """Hidden layers: affine, LP-tighten the IBP-unstable neurons, ReLU.  The
    output layer is returned as affine variables with IBP intervals."""
    a = np.asarray(a)
    for k, (W, b) in enumerate(zip(net.Ws, net.bs)):
        z = rel.affine(W, b, a)
        if k == len(net.Ws) - 1:
            return z
        rel.tighten(z, unstable(z, rel))
        a = rel.relu(z)


def encode_clip(rel: Relaxation, v, lo, hi):
    """u = clip(v, lo, hi) = v - relu(v - hi) + relu(lo - v)."""
    lv, uv = rel.interval(v)
    need = (np.isfinite(hi) & (lv < hi) & (uv > hi)) | (np.isfinite(lo) & (lv < lo) & (uv > lo))
    rel.tighten(v, need)                       # bounds of v - hi and lo - v
    out = []
    for j, vj in enumerate(v):
        l, u = rel.ilo[vj], rel.ihi[vj]
        cols, vals = [vj], [1.0]
        if np.isfinite(hi[j]) and u > hi[j]:
            e = rel.var(l - hi[j], u - hi[j])
            rel.bld.add_eq([e[0], vj], [1.0, -1.0], -hi[j])
            cols.append(rel.relu(e)[0]); vals.append(-1.0)
        if np.isfinite(lo[j]) and l < lo[j]:
            e = rel.var(lo[j] - u, lo[j] - l)
            rel.bld.add_eq([e[0], vj], [1.0, 1.0], lo[j])
            cols.append(rel.relu(e)[0]); vals.append(1.0)
        ul = min(max(l, lo[j]), hi[j])
        uu = max(min(u, hi[j]), lo[j])
        uj = rel.var(ul, uu)[0]
        rel.bld.add_eq([uj] + cols, [1.0] + [-x for x in vals], 0.0)
        out.append(uj)
    return np.array(out, dtype=int)


def build(sysm: rf.System, lower, upper, T):
    """The relaxation with LP-tight intermediates; returns (rel, state vars)."""
    n = sysm.n
    rel = Relaxation()
    xs = [rel.var(lower, upper, bounded=True)]
    for _ in range(T):
        x = xs[-1]
        u = None
        if sysm.ctrl is not None:
            v = encode_net(rel, sysm.ctrl, x)
            u = encode_clip(rel, v, sysm.u_lo, sysm.u_hi)
        if sysm.plant_type == "linear":
            cols = [x] + ([u] if u is not None else [])
            Ms = [sysm.A] + ([sysm.B] if u is not None else [])
            if sysm.has_w:
                cols.append(rel.var(sysm.w_lo, sysm.w_hi, bounded=True))
                Ms.append(np.eye(n))
            a = np.concatenate(cols)
            xn = rel.affine(np.hstack(Ms), sysm.c, a)
        else:
            inp = x if u is None else np.concatenate([x, u])
            out = encode_net(rel, sysm.plant_net, inp)
            if sysm.has_w:
                w = rel.var(sysm.w_lo, sysm.w_hi, bounded=True)
                xn = rel.affine(np.hstack([np.eye(n), np.eye(n)]), np.zeros(n),
                                np.concatenate([out, w]))
            else:
                xn = out
        xs.append(xn)
    return rel, xs


def pick_case(doc, label, lower, upper):
    cases = doc["cases"]
    if label is not None:
        for c in cases:
            if c["label"] == label:
                return c
        raise SystemExit(f"no case {label!r} in fixture (have {[c['label'] for c in cases]})")
    if lower is not None:
        for c in cases:
            if np.allclose(c["box"]["lower"], lower, rtol=0, atol=1e-12) and \
               np.allclose(c["box"]["upper"], upper, rtol=0, atol=1e-12):
                return c
    for c in cases:
        if c["label"] == "reach_lp_setting":
            return c
    return cases[0]


def compare(steps, case, box):
    lower, upper = box
    if not (np.allclose(case["box"]["lower"], lower, rtol=0, atol=1e-12)
            and np.allclose(case["box"]["upper"], upper, rtol=0, atol=1e-12)):
        raise SystemExit(f"case {case['label']!r} has box {case['box']}, the run uses "
                         f"{lower} .. {upper}: not comparable")
    rows = []
    for st, ex in zip(steps, case["exact"]):
        assert st["t"] == ex["t"]
        ll, lu = np.array(st["lower"]), np.array(st["upper"])
        el, eu = np.array(ex["lower"]), np.array(ex["upper"])
        bad = (ll > el + CONTAIN_TOL) | (lu < eu - CONTAIN_TOL)
        assert not bad.any(), (f"LP range does not contain the exact range at t={st['t']}",
                               ll.tolist(), el.tolist(), eu.tolist(), lu.tolist())
        lw, ew = lu - ll, eu - el
        ratio = [float(a / b) if b > 0 else None for a, b in zip(lw, ew)]
        finite = [r for r in ratio if r is not None]
        rows.append({"t": st["t"], "width_ratio": ratio,
                     "max_ratio": max(finite) if finite else None,
                     "volume_ratio": float(np.prod(lw) / np.prod(ew)) if np.all(ew > 0) else None})
    return {"case": case["label"], "contains_exact": True, "tol": CONTAIN_TOL,
            "exact_milp_seconds": case.get("milp_seconds"), "steps": rows}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--system", default=DEFAULT_SYSTEM, help="Config/NAME/system.toml")
    ap.add_argument("--lower", type=float, nargs="+", help="initial box, lower corner")
    ap.add_argument("--upper", type=float, nargs="+", help="initial box, upper corner")
    ap.add_argument("--horizon", type=int, help="steps (default: the TOML's [reach] horizon)")
    ap.add_argument("--compare", metavar="EXACT.json", help="reach fixture with exact ranges")
    ap.add_argument("--case", help="case label in --compare (default: see above)")
    args = ap.parse_args(argv)

    toml = Path(args.system)
    if not toml.is_absolute():
        toml = (Path.cwd() / toml) if (Path.cwd() / toml).exists() else rf.ROOT / toml
    toml = toml.resolve()
    name = toml.parent.name
    if (rf.ROOT / "Config" / name / "system.toml").resolve() != toml:
        raise SystemExit(f"{args.system}: expected Config/NAME/system.toml under {rf.ROOT}")
    sysm = rf.load_system(name)

    if (args.lower is None) != (args.upper is None):
        raise SystemExit("give both --lower and --upper")
    case = None
    if args.compare:
        doc = json.loads(Path(args.compare).read_text())
        case = pick_case(doc, args.case, args.lower, args.upper)
        if doc.get("system") and Path(doc["system"]) != toml.relative_to(rf.ROOT):
            print(f"warning: fixture is for {doc['system']}", file=sys.stderr)
    if args.lower is not None:
        lower, upper = args.lower, args.upper
    elif case is not None:
        lower, upper = case["box"]["lower"], case["box"]["upper"]
    else:
        lower, upper = DEFAULT_BOX
    lower, upper = np.array(lower, float), np.array(upper, float)
    if len(lower) != sysm.n or len(upper) != sysm.n or np.any(lower > upper):
        raise SystemExit(f"box must be {sysm.n}-dimensional with lower <= upper")
    T = args.horizon if args.horizon is not None else sysm.horizon
    if case is not None and T > case["horizon"]:
        print(f"note: horizon capped at the fixture's {case['horizon']}", file=sys.stderr)
        T = case["horizon"]

    t0 = time.perf_counter()
    rel, xs = build(sysm, lower, upper, T)
    t1 = time.perf_counter()
    steps = []
    for t in range(1, T + 1):
        lo, hi = zip(*(rel.lp_range(k) for k in xs[t]))
        steps.append({"t": t, "lower": list(lo), "upper": list(hi)})
    t2 = time.perf_counter()

    out = {
        "system": str(toml.relative_to(rf.ROOT)),
        "horizon": T,
        "box": {"lower": lower.tolist(), "upper": upper.tolist()},
        "highs_seconds": {"intermediates": t1 - t0, "tube": t2 - t1, "total": t2 - t0},
        "lp_solves": rel.lp_solves,
        "steps": steps,
    }
    if case is not None:
        out["compare"] = cmp = compare(steps, case, (lower, upper))
        print(f"{out['system']} / {cmp['case']}: HiGHS intermediates {t1 - t0:.3f} s, "
              f"tube {t2 - t1:.3f} s, total {t2 - t0:.3f} s, {rel.lp_solves} LPs; "
              f"exact MILP {cmp['exact_milp_seconds']} s", file=sys.stderr)
        print("  t  width ratio LP/exact per coordinate            max    volume", file=sys.stderr)
        for r in cmp["steps"]:
            ws = " ".join("   -  " if x is None else f"{x:6.3f}" for x in r["width_ratio"])
            vr = "-" if r["volume_ratio"] is None else f"{r['volume_ratio']:.3f}"
            print(f"  {r['t']}  {ws}  max {r['max_ratio']:.3f}  vol {vr}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
