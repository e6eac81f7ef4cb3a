#!/usr/bin/env python3
"""Independent oracle for ReachGuard's LP (triangle) relaxation solver.

Builds small fully connected ReLU networks, exports them as ONNX (PyTorch
style: opset 13, Gemm(transB=1) + Relu), and computes reference values with
HiGHS through SciPy:

  * ibp        interval bound propagation of the hidden pre-activations
  * lp_layers  LP-tight hidden pre-activation bounds, layer by layer
  * lp         output bounds of the triangle LP built on the lp_layers bounds
  * lp_ibp     output bounds of the triangle LP built on the ibp bounds
  * milp       exact output bounds (big-M MILP on the lp_layers bounds)
  * sampled    min/max over 200 uniform random forward passes

Notes on the stored values:
  * lp_layers[0] equals ibp[0] (layer 1 is exact); deeper lp_layers are the
    HiGHS optima intersected with ibp (only removes solver noise < 1e-7).
  * milp values are attained: the MILP incumbent's activation pattern is fixed
    and the linear-region LP is re-solved (polished); for the test set a
    second HiGHS run with presolve off must agree to 1e-6.
  * extra keys beyond the spec: top-level "radius", per case "unstable_ibp",
    highs_seconds "lp_ipm" (outputs with highs-ipm) and "milp" (primary MILP
    solves; present when MILP was attempted).
  * highs_seconds are wall times of the linprog/milp calls only (including
    SciPy's per-call overhead), excluding matrix assembly.

All computations are done in float64 from the float32-rounded weights that are
written to the ONNX file, so a consumer that reads the float32 file and
computes in float64 sees exactly the same network.

Usage:
    python3 Scripts/make_lp_fixtures.py [--out Tests/Fixtures/lp] [--only NAME ...]
                                         [--skip-bench] [--no-milp-bench]

This script is offline tooling; Swift tests only read its JSON/ONNX output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

import onnx
from onnx import TensorProto, helper, numpy_helper

# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------

BASE_SEED = 20250101

TEST_SET = [
    ("t_2_8_8_2", [2, 8, 8, 2]),
    ("t_3_10_10_10_2", [3, 10, 10, 10, 2]),
    ("t_4_50_50_3", [4, 50, 50, 3]),
    ("t_5_20_20_1", [5, 20, 20, 1]),
    ("t_6_30_30_30_4", [6, 30, 30, 30, 4]),
]
BENCH_SET = [
    ("b_10_50_50_5", [10, 50, 50, 5]),
    ("b_10_100_100_100_5", [10, 100, 100, 100, 5]),
    ("b_20_200_200_10", [20, 200, 200, 10]),
    ("b_10_100_100_100_100_10", [10, 100, 100, 100, 100, 10]),
]

N_SAMPLES = 200
TOL = 1e-7            # absolute validation tolerance (spec)
RTOL = 1e-9           # tiny relative slack added for values of large magnitude
LP_OPTIONS = {
    "primal_feasibility_tolerance": 1e-10,
    "dual_feasibility_tolerance": 1e-10,
}
# NB: do not tighten mip_feasibility_tolerance (e.g. 1e-10): with HiGHS 1.x as
# bundled in SciPy 1.17 that produced wrong "optimal" MILP values on
# t_4_50_50_3 (caught by the argopt/sample checks). Exactness of the primal side
# is instead obtained by polishing: the incumbent's activation pattern is fixed
# and the resulting (exact, linear-region) LP is re-solved with tight tolerances.
MILP_OPTIONS = {
    "mip_rel_gap": 0.0,
    "mip_abs_gap": 1e-9,
}
BENCH_MILP_TIME_LIMIT = 10.0      # seconds per MILP solve on the bench set
BENCH_MILP_CASE_BUDGET = 90.0     # seconds of MILP per bench case, else null

# target fraction of unstable first-layer neurons, and allowed radii
UNSTABLE_TARGET = 0.40
RADIUS_GRID = np.round(np.arange(0.05, 1.0001, 0.01), 2)

warnings.filterwarnings("ignore", message="Unrecognized options detected")


def tol_for(v: np.ndarray | float) -> np.ndarray | float:
    return TOL + RTOL * np.abs(v)


# --------------------------------------------------------------------------
# network
# --------------------------------------------------------------------------

@dataclass
class Network:
    sizes: list[int]
    W32: list[np.ndarray]  # float32 [out, in]
    b32: list[np.ndarray]  # float32 [out]

    @property
    def W(self) -> list[np.ndarray]:
        return [w.astype(np.float64) for w in self.W32]

    @property
    def b(self) -> list[np.ndarray]:
        return [v.astype(np.float64) for v in self.b32]

    @property
    def n_hidden(self) -> int:
        return len(self.sizes) - 2

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Float64 forward pass, X of shape [batch, n0]."""
        Ws, bs = self.W, self.b
        Y = np.asarray(X, dtype=np.float64)
        for k in range(len(Ws)):
            Z = Y @ Ws[k].T + bs[k]
            Y = np.maximum(Z, 0.0) if k < len(Ws) - 1 else Z
        return Y


def random_network(sizes: list[int], rng: np.random.Generator) -> Network:
    W32, b32 = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
        b = rng.normal(0.0, 0.1, size=fan_out)
        W32.append(W.astype(np.float32))
        b32.append(b.astype(np.float32))
    return Network(list(sizes), W32, b32)


def export_onnx(net: Network, path: str) -> None:
    """PyTorch-style export: opset 13, Gemm(transB=1)+Relu, dynamic batch."""
    nodes, inits = [], []
    cur = "input"
    n_lin = len(net.W32)
    for k in range(n_lin):
        wname, bname = f"fc{k + 1}.weight", f"fc{k + 1}.bias"
        inits.append(numpy_helper.from_array(net.W32[k], wname))
        inits.append(numpy_helper.from_array(net.b32[k], bname))
        last = k == n_lin - 1
        gout = "output" if last else f"/fc{k + 1}/Gemm_output_0"
        nodes.append(helper.make_node(
            "Gemm", [cur, wname, bname], [gout], name=f"/fc{k + 1}/Gemm",
            alpha=1.0, beta=1.0, transB=1))
        cur = gout
        if not last:
            rout = f"/relu{k + 1}/Relu_output_0"
            nodes.append(helper.make_node("Relu", [cur], [rout], name=f"/relu{k + 1}/Relu"))
            cur = rout
    graph = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", net.sizes[0]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", net.sizes[-1]])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="reachguard-make_lp_fixtures",
                              producer_version="1")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


def load_onnx(path: str) -> Network:
    """Read back a network written by export_onnx (Gemm/Relu chain)."""
    model = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    W32, b32 = [], []
    for node in model.graph.node:
        if node.op_type == "Gemm":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            assert attrs.get("transB", 0) == 1 and attrs.get("transA", 0) == 0
            assert attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
            W32.append(np.asarray(inits[node.input[1]], dtype=np.float32))
            b32.append(np.asarray(inits[node.input[2]], dtype=np.float32))
        else:
            assert node.op_type == "Relu", node.op_type
    sizes = [W32[0].shape[1]] + [w.shape[0] for w in W32]
    return Network(sizes, W32, b32)


# --------------------------------------------------------------------------
# bounds
# --------------------------------------------------------------------------

def ibp_bounds(net: Network, lo: np.ndarray, hi: np.ndarray):
    """Pre-activation bounds of every hidden layer, and of the output."""
    Ws, bs = net.W, net.b
    l, u = lo.astype(np.float64), hi.astype(np.float64)
    hidden = []
    for k in range(len(Ws)):
        Wp, Wn = np.maximum(Ws[k], 0.0), np.minimum(Ws[k], 0.0)
        zl = Wp @ l + Wn @ u + bs[k]
        zu = Wp @ u + Wn @ l + bs[k]
        if k == len(Ws) - 1:
            return hidden, (zl, zu)
        hidden.append((zl, zu))
        l, u = np.maximum(zl, 0.0), np.maximum(zu, 0.0)
    raise AssertionError


class Relaxation:
    """Triangle relaxation (optionally big-M MILP) of the first m hidden layers.

    Variables: x (n0), then per hidden layer j < m: z_j (n_j), y_j (n_j),
    then (MILP only) one binary a per unstable neuron.
    """

    def __init__(self, net: Network, lo, hi, bounds, binary: bool = False):
        Ws, bs = net.W, net.b
        m = len(bounds)
        sizes = net.sizes
        n0 = sizes[0]
        self.x = slice(0, n0)
        pos = n0
        self.z, self.y = [], []
        for j in range(m):
            nj = sizes[j + 1]
            self.z.append(slice(pos, pos + nj)); pos += nj
            self.y.append(slice(pos, pos + nj)); pos += nj
        unstable = [np.flatnonzero((l < 0) & (u > 0)) for (l, u) in bounds]
        self.a = []
        if binary:
            for j in range(m):
                k = len(unstable[j])
                self.a.append(slice(pos, pos + k)); pos += k
        nvar = pos
        self.nvar = nvar
        lb = np.zeros(nvar); ub = np.zeros(nvar)
        lb[self.x], ub[self.x] = lo, hi
        integrality = np.zeros(nvar, dtype=np.int8)

        eq_r, eq_c, eq_v, eq_b = [], [], [], []
        ub_r, ub_c, ub_v, ub_b = [], [], [], []
        neq = 0
        nub = 0

        for j in range(m):
            l, u = bounds[j]
            nj = sizes[j + 1]
            zs, ys = self.z[j], self.y[j]
            prev = self.x if j == 0 else self.y[j - 1]
            # z_j - W_j y_{j-1} = b_j
            W = Ws[j]
            rows = neq + np.arange(nj)
            eq_r.append(rows); eq_c.append(np.arange(zs.start, zs.stop)); eq_v.append(np.ones(nj))
            rr, cc = np.nonzero(W)
            eq_r.append(neq + rr); eq_c.append(prev.start + cc); eq_v.append(-W[rr, cc])
            eq_b.append(bs[j])
            neq += nj
            lb[zs], ub[zs] = l, u
            zidx = np.arange(zs.start, zs.stop)
            yidx = np.arange(ys.start, ys.stop)
            act = np.flatnonzero(l >= 0)
            ina = np.flatnonzero(u <= 0)
            uns = unstable[j]
            # active: y = z
            if len(act):
                rows = neq + np.arange(len(act))
                eq_r += [rows, rows]; eq_c += [yidx[act], zidx[act]]
                eq_v += [np.ones(len(act)), -np.ones(len(act))]
                eq_b.append(np.zeros(len(act)))
                neq += len(act)
                lb[yidx[act]], ub[yidx[act]] = l[act], u[act]
            # inactive: y = 0
            if len(ina):
                lb[yidx[ina]], ub[yidx[ina]] = 0.0, 0.0
            # unstable: y >= 0, y >= z, y <= u (z - l) / (u - l)
            if len(uns):
                k = len(uns)
                lu, uu = l[uns], u[uns]
                s = uu / (uu - lu)
                lb[yidx[uns]], ub[yidx[uns]] = 0.0, uu
                rows = nub + np.arange(k)            # z - y <= 0
                ub_r += [rows, rows]; ub_c += [zidx[uns], yidx[uns]]
                ub_v += [np.ones(k), -np.ones(k)]; ub_b.append(np.zeros(k))
                nub += k
                rows = nub + np.arange(k)            # y - s z <= -s l
                ub_r += [rows, rows]; ub_c += [yidx[uns], zidx[uns]]
                ub_v += [np.ones(k), -s]; ub_b.append(-s * lu)
                nub += k
                if binary:
                    aidx = np.arange(self.a[j].start, self.a[j].stop)
                    lb[aidx], ub[aidx] = 0.0, 1.0
                    integrality[aidx] = 1
                    rows = nub + np.arange(k)        # y - z - l a <= -l
                    ub_r += [rows, rows, rows]; ub_c += [yidx[uns], zidx[uns], aidx]
                    ub_v += [np.ones(k), -np.ones(k), -lu]; ub_b.append(-lu)
                    nub += k
                    rows = nub + np.arange(k)        # y - u a <= 0
                    ub_r += [rows, rows]; ub_c += [yidx[uns], aidx]
                    ub_v += [np.ones(k), -uu]; ub_b.append(np.zeros(k))
                    nub += k

        def mat(r, c, v, nrows):
            if nrows == 0:
                return None
            return sp.csr_array((np.concatenate(v), (np.concatenate(r), np.concatenate(c))),
                                shape=(nrows, nvar))

        self.A_eq = mat(eq_r, eq_c, eq_v, neq)
        self.b_eq = np.concatenate(eq_b) if neq else None
        self.A_ub = mat(ub_r, ub_c, ub_v, nub)
        self.b_ub = np.concatenate(ub_b) if nub else None
        self.lb, self.ub = lb, ub
        self.bounds = np.column_stack([lb, ub])
        self.integrality = integrality
        self.m = m
        self.binary = binary
        self.n_unstable = [len(v) for v in unstable]

    def objective(self, w: np.ndarray) -> np.ndarray:
        """Cost vector for w . y_{m-1} (w . x if m == 0)."""
        c = np.zeros(self.nvar)
        last = self.x if self.m == 0 else self.y[self.m - 1]
        c[last] = w
        return c

    # -- LP --------------------------------------------------------------
    def lp_solve(self, c: np.ndarray, method: str = "highs-ds"):
        res = linprog(c, A_ub=self.A_ub, b_ub=self.b_ub, A_eq=self.A_eq, b_eq=self.b_eq,
                      bounds=self.bounds, method=method, options=LP_OPTIONS)
        if res.status != 0:
            raise RuntimeError(f"HiGHS LP not optimal: status={res.status} {res.message}")
        return res.fun, res.x

    def lp_bounds(self, Wt: np.ndarray, bt: np.ndarray, method: str = "highs-ds"):
        """min / max of Wt y_{m-1} + bt for every row. Returns (lo, hi, argmin_x, argmax_x, seconds)."""
        n = Wt.shape[0]
        lo, hi = np.empty(n), np.empty(n)
        xmin, xmax = [], []
        elapsed = 0.0
        for i in range(n):
            c = self.objective(Wt[i])
            t0 = time.perf_counter()
            fmin, solmin = self.lp_solve(c, method)
            fmax, solmax = self.lp_solve(-c, method)
            elapsed += time.perf_counter() - t0
            lo[i] = fmin + bt[i]
            hi[i] = -fmax + bt[i]
            xmin.append(solmin[self.x]); xmax.append(solmax[self.x])
        return lo, hi, np.array(xmin), np.array(xmax), elapsed

    # -- MILP ------------------------------------------------------------
    def milp_solve(self, c: np.ndarray, time_limit: float | None = None, extra=None):
        cons = []
        if self.A_eq is not None:
            cons.append(LinearConstraint(self.A_eq, self.b_eq, self.b_eq))
        if self.A_ub is not None:
            cons.append(LinearConstraint(self.A_ub, -np.inf, self.b_ub))
        opts = dict(MILP_OPTIONS)
        if time_limit is not None:
            opts["time_limit"] = time_limit
        if extra:
            opts.update(extra)
        res = milp(c, integrality=self.integrality, bounds=Bounds(self.lb, self.ub),
                   constraints=cons, options=opts)
        return res


def lp_layer_bounds(net: Network, lo, hi, ibp):
    """LP-tight hidden bounds, layer by layer. Layer 1 is exact (= IBP)."""
    Ws, bs = net.W, net.b
    bounds = [(ibp[0][0].copy(), ibp[0][1].copy())]
    elapsed = 0.0
    for k in range(1, net.n_hidden):
        rel = Relaxation(net, lo, hi, bounds)
        l, u, _, _, t = rel.lp_bounds(Ws[k], bs[k])
        elapsed += t
        il, iu = ibp[k]
        # LP bounds must be inside the IBP bounds (up to tolerance) ...
        assert np.all(l >= il - tol_for(il)), ("lp_layers lower below ibp", k, np.min(l - il))
        assert np.all(u <= iu + tol_for(iu)), ("lp_layers upper above ibp", k, np.max(u - iu))
        assert np.all(l <= u + tol_for(u)), ("lp_layers lower > upper", k)
        # ... and are intersected with them (removes solver noise only).
        bounds.append((np.maximum(l, il), np.minimum(u, iu)))
    return bounds, elapsed


# --------------------------------------------------------------------------
# fixture generation
# --------------------------------------------------------------------------

def choose_radius(net: Network, c: np.ndarray) -> float:
    """Radius giving ~UNSTABLE_TARGET unstable first-layer neurons.

    Prefers radii in [0.1, 0.5] if one of them gives 20-60% unstable neurons,
    otherwise searches the whole RADIUS_GRID.
    """
    W, b = net.W[0], net.b[0]
    centre = W @ c + b
    spread = np.abs(W).sum(axis=1)

    def best_of(grid):
        best, best_err, best_frac = None, None, None
        for r in grid:
            frac = np.mean(np.abs(centre) < r * spread)
            err = abs(frac - UNSTABLE_TARGET)
            if best is None or err < best_err - 1e-12:
                best, best_err, best_frac = float(r), err, frac
        return best, best_frac

    r, frac = best_of(RADIUS_GRID[(RADIUS_GRID >= 0.1) & (RADIUS_GRID <= 0.5)])
    if 0.2 <= frac <= 0.6:
        return r
    return best_of(RADIUS_GRID)[0]


def bounds_json(l, u):
    return {"lower": [float(v) for v in l], "upper": [float(v) for v in u]}


def check_within(inner_lo, inner_hi, outer_lo, outer_hi, what):
    inner_lo, inner_hi = np.asarray(inner_lo), np.asarray(inner_hi)
    outer_lo, outer_hi = np.asarray(outer_lo), np.asarray(outer_hi)
    bad_lo = inner_lo < outer_lo - tol_for(outer_lo)
    bad_hi = inner_hi > outer_hi + tol_for(outer_hi)
    if np.any(bad_lo) or np.any(bad_hi):
        raise AssertionError(
            f"{what}: violated; max lower gap {np.max(outer_lo - inner_lo):.3e}, "
            f"max upper gap {np.max(inner_hi - outer_hi):.3e}")


def polish(net: Network, lo, hi, lpl, pattern, w, b0, sense):
    """Optimise w.y_last + b0 (min if sense>0) over one fixed activation pattern.

    pattern[k] holds 0/1 for the unstable neurons of hidden layer k (in the
    order of np.flatnonzero(l < 0 < u)). On a fixed pattern the network is
    linear, so the relaxation is exact and the optimum is attained by x.
    """
    fixed = []
    for (l, u), a in zip(lpl, pattern):
        l, u = l.copy(), u.copy()
        uns = np.flatnonzero((l < 0) & (u > 0))
        on = uns[a > 0.5]
        off = uns[a <= 0.5]
        l[on] = 0.0      # active: y = z, z >= 0
        u[off] = 0.0     # inactive: y = 0, z <= 0
        fixed.append((l, u))
    rel = Relaxation(net, lo, hi, fixed)
    fun, sol = rel.lp_solve(sense * rel.objective(w))
    return sense * fun + b0, sol[rel.x]


def compute_milp(net: Network, lo, hi, lpl, is_bench: bool, log):
    """Exact output bounds, or None (bench set only) if too slow."""
    Ws, bs = net.W, net.b
    rel = Relaxation(net, lo, hi, lpl, binary=True)
    n_out = net.sizes[-1]
    lower, upper = np.empty(n_out), np.empty(n_out)
    argx = []
    total = 0.0
    for j in range(n_out):
        for sense in (+1, -1):
            c = sense * rel.objective(Ws[-1][j])
            limit = BENCH_MILP_TIME_LIMIT if is_bench else None
            if is_bench:
                remaining = BENCH_MILP_CASE_BUDGET - total
                if remaining <= 0:
                    log(f"    milp: case budget exhausted -> null")
                    return None, total
                limit = min(limit, remaining)
            t0 = time.perf_counter()
            res = rel.milp_solve(c, time_limit=limit)
            dt = time.perf_counter() - t0
            total += dt
            if res.status != 0:
                if is_bench:
                    log(f"    milp: output {j} sense {sense} not solved in {dt:.1f}s "
                        f"(status {res.status}: {res.message}) -> null")
                    return None, total
                raise RuntimeError(f"MILP not optimal: {res.status} {res.message}")
            gap = abs(res.fun - res.mip_dual_bound)
            assert gap <= tol_for(res.fun), ("MILP gap too large", gap)
            val_milp = sense * res.fun + bs[-1][j]
            # exactness check: the incumbent's input attains (almost) the value
            fx = net.forward(res.x[rel.x][None, :])[0, j]
            assert abs(fx - val_milp) <= 1e-6 * max(1.0, abs(val_milp)), \
                ("MILP incumbent mismatch", fx, val_milp)
            # polish: fix the incumbent's activation pattern and re-solve the
            # (exact) LP over that linear region with tight tolerances
            pattern = [np.round(res.x[a]) for a in rel.a]
            val, x = polish(net, lo, hi, lpl, pattern, Ws[-1][j], bs[-1][j], sense)
            fx = net.forward(x[None, :])[0, j]
            assert abs(fx - val) <= 1e-9 * max(1.0, abs(val)), ("polished point mismatch", fx, val)
            # the polished value may not beat the MILP optimum by more than
            # the MILP feasibility slack, nor lose against the incumbent
            assert sense * (val - val_milp) <= 1e-6 * max(1.0, abs(val)), ("polish beats MILP", val, val_milp)
            assert sense * (val_milp - val) <= 1e-6 * max(1.0, abs(val)), ("polish worse than MILP", val, val_milp)
            if not is_bench:
                # cross-check with a second HiGHS configuration (presolve off)
                res2 = rel.milp_solve(c, extra={"presolve": False})
                assert res2.status == 0, ("cross-check MILP not optimal", res2.message)
                pattern2 = [np.round(res2.x[a]) for a in rel.a]
                val2, x2 = polish(net, lo, hi, lpl, pattern2, Ws[-1][j], bs[-1][j], sense)
                assert abs(val2 - val) <= 1e-6 * max(1.0, abs(val)), ("MILP configs disagree", j, sense, val, val2)
                if sense * (val2 - val) < 0:   # keep the more extreme attained value
                    val, x = val2, x2
            argx.append(x)
            if sense > 0:
                lower[j] = val
            else:
                upper[j] = val
    return (lower, upper, np.array(argx)), total


def compute_case(net: Network, label: str, lo, hi, rng, is_bench: bool, do_milp: bool, log):
    Ws, bs = net.W, net.b
    ibp_hidden, ibp_out = ibp_bounds(net, lo, hi)

    lpl, t_layers = lp_layer_bounds(net, lo, hi, ibp_hidden)

    rel = Relaxation(net, lo, hi, lpl)
    lp_lo, lp_hi, xmin, xmax, t_lp = rel.lp_bounds(Ws[-1], bs[-1], "highs-ds")
    lp_lo_ipm, lp_hi_ipm, _, _, t_lp_ipm = rel.lp_bounds(Ws[-1], bs[-1], "highs-ipm")
    assert np.allclose(lp_lo_ipm, lp_lo, atol=1e-6, rtol=1e-7), "ipm/ds lp lower mismatch"
    assert np.allclose(lp_hi_ipm, lp_hi, atol=1e-6, rtol=1e-7), "ipm/ds lp upper mismatch"

    rel_ibp = Relaxation(net, lo, hi, ibp_hidden)
    li_lo, li_hi, _, _, t_lp_ibp = rel_ibp.lp_bounds(Ws[-1], bs[-1], "highs-ds")

    # samples
    X = lo + (hi - lo) * rng.random((N_SAMPLES, len(lo)))
    Y = net.forward(X)
    s_lo, s_hi = Y.min(axis=0), Y.max(axis=0)

    # extra attainable points for validation only (not stored): the LP
    # optimisers' inputs and the box corners (all of them, or 1024 random ones)
    n0 = len(lo)
    if n0 <= 10:
        bits = (np.arange(2 ** n0)[:, None] >> np.arange(n0)[None, :]) & 1
    else:
        bits = rng.integers(0, 2, size=(1024, n0))
    corners = np.where(bits == 1, hi, lo)
    Yopt = net.forward(np.vstack([xmin, xmax, corners]))

    # validation
    for k in range(net.n_hidden):
        check_within(lpl[k][0], lpl[k][1], ibp_hidden[k][0], ibp_hidden[k][1], f"{label}: lp_layers[{k}] within ibp")
    check_within(lp_lo, lp_hi, li_lo, li_hi, f"{label}: lp within lp_ibp")
    check_within(li_lo, li_hi, ibp_out[0], ibp_out[1], f"{label}: lp_ibp within ibp(output)")
    check_within(s_lo, s_hi, lp_lo, lp_hi, f"{label}: sampled within lp")
    check_within(Yopt.min(axis=0), Yopt.max(axis=0), lp_lo, lp_hi, f"{label}: lp argopt/corners within lp")
    # samples must respect hidden bounds too
    Z = X
    for k in range(net.n_hidden):
        Z = Z @ Ws[k].T + bs[k]
        check_within(Z.min(axis=0), Z.max(axis=0), lpl[k][0], lpl[k][1], f"{label}: samples within lp_layers[{k}]")
        Z = np.maximum(Z, 0.0)

    milp_json, t_milp = None, None
    if do_milp:
        out, t_milp = compute_milp(net, lo, hi, lpl, is_bench, log)
        if out is not None:
            m_lo, m_hi, mx = out
            check_within(m_lo, m_hi, lp_lo, lp_hi, f"{label}: milp within lp")
            check_within(s_lo, s_hi, m_lo, m_hi, f"{label}: sampled within milp")
            check_within(Yopt.min(axis=0), Yopt.max(axis=0), m_lo, m_hi, f"{label}: lp argopt/corners within milp")
            milp_json = bounds_json(m_lo, m_hi)
    elif not is_bench:
        raise AssertionError("MILP is required for the test set")

    unstable_lp = [int(np.sum((l < 0) & (u > 0))) for (l, u) in lpl]
    unstable_ibp = [int(np.sum((l < 0) & (u > 0))) for (l, u) in ibp_hidden]

    secs = {"lp": t_lp, "lp_layers": t_layers, "lp_ibp": t_lp_ibp, "lp_ipm": t_lp_ipm}
    if t_milp is not None:
        secs["milp"] = t_milp
    case = {
        "label": label,
        "box": bounds_json(lo, hi),
        "ibp": [bounds_json(l, u) for (l, u) in ibp_hidden],
        "lp_layers": [bounds_json(l, u) for (l, u) in lpl],
        "lp": bounds_json(lp_lo, lp_hi),
        "lp_ibp": bounds_json(li_lo, li_hi),
        "milp": milp_json,
        "sampled": bounds_json(s_lo, s_hi),
        "unstable": unstable_lp,
        "unstable_ibp": unstable_ibp,
        "highs_seconds": {k: round(float(v), 6) for k, v in secs.items()},
    }
    log(f"  [{label}] unstable lp_layers={unstable_lp} ibp={unstable_ibp} "
        f"| lp {t_lp:.3f}s lp_ipm {t_lp_ipm:.3f}s lp_layers {t_layers:.3f}s lp_ibp {t_lp_ibp:.3f}s"
        + (f" milp {t_milp:.2f}s" if t_milp is not None else "")
        + (" (milp null)" if do_milp and milp_json is None else ""))
    if milp_json is not None:
        gap_lp = float(np.max(np.r_[np.asarray(lp_hi) - np.asarray(milp_json['upper']),
                                    np.asarray(milp_json['lower']) - np.asarray(lp_lo)]))
        log(f"      max(lp - milp) gap {gap_lp:.4g}; max(lp_ibp - lp) gap "
            f"{float(np.max(np.r_[li_hi - lp_hi, lp_lo - li_lo])):.4g}")
    return case


def make_network(name, sizes, seed, outdir, is_bench, do_milp, log):
    rng = np.random.default_rng(seed)
    net = random_network(sizes, rng)
    onnx_path = os.path.join(outdir, f"{name}.onnx")
    export_onnx(net, onnx_path)
    # round-trip: the file holds exactly our float32 weights ...
    back = load_onnx(onnx_path)
    assert back.sizes == net.sizes
    for a, b in zip(back.W32 + back.b32, net.W32 + net.b32):
        assert a.dtype == np.float32 and np.array_equal(a, b)
    # ... and the ONNX reference runtime agrees with our float64 forward pass
    try:
        from onnx.reference import ReferenceEvaluator
        Xt = rng.uniform(-1, 1, size=(16, sizes[0])).astype(np.float32)
        (Yref,) = ReferenceEvaluator(onnx.load(onnx_path)).run(None, {"input": Xt})
        assert np.allclose(Yref, net.forward(Xt.astype(np.float64)), atol=1e-4, rtol=1e-4)
    except ImportError:  # pragma: no cover
        pass

    c = rng.uniform(-1.0, 1.0, size=sizes[0])
    r = choose_radius(net, c)
    sign = rng.choice([-1.0, 1.0], size=sizes[0])
    c_shift = c + sign * 0.01 * (2.0 * r)
    log(f"{name}: sizes={sizes} seed={seed} radius={r}")

    cases = []
    for label, cc in (("box", c), ("shifted", c_shift)):
        lo, hi = cc - r, cc + r
        cases.append(compute_case(net, label, lo, hi, rng, is_bench, do_milp, log))

    doc = {
        "name": name,
        "model": f"{name}.onnx",
        "layer_sizes": list(sizes),
        "radius": r,
        "cases": cases,
        "generator": {
            "script": "Scripts/make_lp_fixtures.py",
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "onnx": onnx.__version__,
            "python": sys.version.split()[0],
            "seed": seed,
            "samples": N_SAMPLES,
            "lp_method": "highs-ds",
            "lp_options": LP_OPTIONS,
            "milp_options": MILP_OPTIONS,
        },
    }
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return doc


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "Fixtures", "lp"))
    ap.add_argument("--only", nargs="*", help="only these network names")
    ap.add_argument("--skip-bench", action="store_true")
    ap.add_argument("--no-milp-bench", action="store_true", help="write milp=null for the bench set")
    args = ap.parse_args(argv)
    outdir = os.path.abspath(args.out)
    os.makedirs(outdir, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    t_start = time.perf_counter()
    nets = [(n, s, False) for n, s in TEST_SET] + [(n, s, True) for n, s in BENCH_SET]
    for idx, (name, sizes, is_bench) in enumerate(nets):
        if args.only and name not in args.only:
            continue
        if is_bench and args.skip_bench:
            continue
        t0 = time.perf_counter()
        make_network(name, sizes, BASE_SEED + idx, outdir, is_bench,
                     do_milp=not (is_bench and args.no_milp_bench), log=log)
        log(f"  done in {time.perf_counter() - t0:.1f}s")

    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump({"test": [n for n, _ in TEST_SET], "bench": [n for n, _ in BENCH_SET]}, f, indent=1)
        f.write("\n")
    log(f"total {time.perf_counter() - t_start:.1f}s")


if __name__ == "__main__":
    main()
