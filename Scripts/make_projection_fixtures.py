#!/usr/bin/env python3
"""Independent checks of the relaxed sets' two closed-form routines.

For each activation and interval the polygon is the one
make_activation_fixtures.py builds as ReachGuard does (its lines y >= a z + c
and y <= a z + c, and l <= z <= u). For random points and weights the script
records the weighted projection onto it, solved as a generic QP by scipy's
SLSQP, and for random directions the minimum of g_z z + g_y y over it, solved
by HiGHS (scipy's linprog). Tests/NetworkTests/PolygonOracleTests.swift
compares ReachGuard's projection and vertex minimum against them.

Usage: python3 Scripts/make_projection_fixtures.py [--out Tests/Fixtures/activations/polygons.json]
Offline tooling.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from scipy.optimize import LinearConstraint, linprog, minimize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_activation_fixtures import LP_OPTIONS, relaxation  # noqa: E402

SEED = 20261204
ACTIVATIONS = [{"kind": "relu_like", "alpha": 0.0}, {"kind": "leaky", "alpha": 0.1}, {"kind": "leaky", "alpha": 2.5},
               {"kind": "clip", "min": -1.0, "max": 1.0}, {"kind": "tanh"}, {"kind": "sigmoid"},
               {"kind": "softplus"}]
INTERVALS = [(-1.0, 1.0), (-3.0, 0.5), (-0.5, 3.0), (0.2, 1.5), (-2.0, -0.3), (-4.0, 4.0), (-0.01, 0.02),
             (-1.5, -0.5), (0.5, 2.5)]


def constraints(act, l, u):
    """A x <= b over x = (z, y)."""
    lows, ups, _, _ = relaxation(act, l, u)
    rows, rhs = [], []
    for a, c in lows:   # a z + c - y <= 0
        rows.append([a, -1.0]); rhs.append(-c)
    for a, c in ups:    # y - a z - c <= 0
        rows.append([-a, 1.0]); rhs.append(c)
    rows += [[-1.0, 0.0], [1.0, 0.0]]
    rhs += [-l, u]
    return np.array(rows), np.array(rhs)


def project(A, b, p, w, start):
    """The weighted projection as a generic QP: SLSQP, and trust-constr where SLSQP stops early."""
    fun = lambda x: w[0] * (x[0] - p[0]) ** 2 + w[1] * (x[1] - p[1]) ** 2  # noqa: E731
    jac = lambda x: np.array([2 * w[0] * (x[0] - p[0]), 2 * w[1] * (x[1] - p[1])])  # noqa: E731
    hess = lambda x: np.diag([2 * w[0], 2 * w[1]])  # noqa: E731
    cons = {"type": "ineq", "fun": lambda x: b - A @ x, "jac": lambda x: -A}
    r = minimize(fun, start, jac=jac, constraints=[cons], method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000})
    if not r.success:
        r = minimize(fun, start, jac=jac, hess=hess, method="trust-constr",
                     constraints=[LinearConstraint(A, -np.inf, b)], options={"gtol": 1e-13, "xtol": 1e-15,
                                                                              "maxiter": 20000})
    assert np.all(A @ r.x <= b + 1e-9), r.message
    return polish(A, b, p, w, r.x)


def polish(A, b, p, w, x):
    """The QP's exact solution on the constraints the generic solver left (nearly)
    active: solve its KKT system there and keep it if it is feasible with
    non-negative multipliers (the interior-point fallback stops ~1e-5 short of a vertex)."""
    W = np.diag(w)
    near = [i for i in np.argsort(b - A @ x) if b[i] - A[i] @ x <= 1e-4 * max(1.0, np.abs(b[i]))]
    for count in (0, 1, 2):
        for act in ([[]] if count == 0 else [[i] for i in near] if count == 1
                    else [[i, j] for i in near for j in near if i < j]):
            Aa = A[act] if act else np.zeros((0, 2))
            K = np.block([[2 * W, Aa.T], [Aa, np.zeros((len(act), len(act)))]])
            rhs = np.concatenate([2 * W @ p, b[act]])
            try:
                sol = np.linalg.solve(K, rhs)
            except np.linalg.LinAlgError:
                continue
            y, lam = sol[:2], sol[2:]
            if np.all(A @ y <= b + 1e-12 * np.maximum(1, np.abs(b))) and np.all(lam >= -1e-12):
                return y
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/Fixtures/activations/polygons.json")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    records = []
    for act in ACTIVATIONS:
        kind = dict(act)
        if kind["kind"] == "relu_like":   # ReLU is LeakyReLU(0) in the script's piecewise hull
            kind = {"kind": "leaky", "alpha": 0.0}
        for l, u in INTERVALS:
            A, b = constraints(kind, l, u)
            # A feasible start: the centre of the vertical range at the midpoint.
            m = l / 2 + u / 2
            lo = max((-bb - aa[0] * m) / aa[1] for aa, bb in zip(A, b) if aa[1] < 0) if np.any(A[:, 1] < 0) else 0
            hi = min((bb - aa[0] * m) / aa[1] for aa, bb in zip(A, b) if aa[1] > 0)
            start = np.array([m, (lo + hi) / 2])
            points = []
            for _ in range(8):
                p = np.array([rng.uniform(l - (u - l), u + (u - l)), rng.uniform(-3, 3)])
                w = np.array([float(rng.integers(1, 4)), float(rng.integers(1, 4))])
                points.append({"point": p.tolist(), "weights": w.tolist(), "projection": project(A, b, p, w, start).tolist()})
            minima = []
            for _ in range(8):
                g = rng.normal(size=2)
                r = linprog(g, A_ub=A, b_ub=b, bounds=[(None, None)] * 2, method="highs", options=LP_OPTIONS)
                assert r.status == 0, r.message
                minima.append({"direction": g.tolist(), "minimum": float(r.fun)})
            records.append({"activation": act, "lower": l, "upper": u, "projections": points, "minima": minima})
    with open(args.out, "w") as fh:
        json.dump({"records": records}, fh, indent=1)
    print(f"{len(records)} polygons written to {args.out}")


if __name__ == "__main__":
    main()
