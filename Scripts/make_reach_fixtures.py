#!/usr/bin/env python3
"""Exact reference values for ReachGuard's closed-loop reachability.

For every example system under Config/ (read from its system.toml and ONNX
models, exactly as ReachGuard reads them) and 1-2 initial boxes, this computes
with scipy.optimize.milp (HiGHS):

  * exact      per step t = 1..T and state coordinate i, the exact min and max
               of x_t[i] over the initial box (and over all disturbance
               sequences, if the plant has one), for the unrolled closed loop
  * unsafe_max per step, for every row r of every unsafe set (rows of all sets
               concatenated in TOML order), the exact max of H_r x_t
  * unsafe_min same, exact min of H_r x_t  (extra key)
  * unsafe_gap per step and unsafe set {x : H x <= h}, the exact value of
               min over the reachable set of max_r (H_r x_t - h_r)  (extra key).
               > 0 means the step-t reachable set misses the unsafe set, and
               the value is the true safety margin (in units of the rows of H;
               for a one-row set it is  unsafe_min - h).
  * sampled    per step, the min/max per coordinate over simulated
               trajectories from 2000 uniform random initial states plus all
               corners of the box (uniform random disturbances per step for
               the random starts, random vertices of the disturbance box for
               the corners); asserted to lie inside `exact` (1e-7), and the
               sampled unsafe rows/gaps inside the exact ones.

MILP encoding (all float64, network weights are the float32 values of the
ONNX files):
  * the state of every step is a vector of continuous variables tied by linear
    equalities  x_{t+1} = A x_t + B u_t + c + w_t  (w_t: extra bounded
    variables per step) or, for a learned plant, by the network encoding;
  * ReLU a = max(z, 0) with l < 0 < u: big-M with a binary d,
      a >= z, a <= z - l (1 - d), a <= u d, a >= 0;
    stable neurons are encoded linearly;
  * the saturation clip(v, lo, hi) = v - relu(v - hi) + relu(lo - v), each ReLU
    encoded as above;
  * the bounds l, u are sound: interval bound propagation, tightened by LP
    (the triangle relaxation of the whole unrolled loop, binaries relaxed) for
    the neurons IBP leaves unstable, and padded outwards by 1e-5 + 1e-6 |v|;
    the exact state box of step t (padded the same way) is added as variable
    bounds before step t+1 is encoded (implied constraints, they only speed
    the MILPs up).
  * every MILP is solved twice (tight integrality tolerance 1e-9, and HiGHS'
    default as a cross-check, see MILP_OPTIONS); each incumbent is also
    polished (binaries fixed, the linear-region LP re-solved).  The argopt
    initial states (and disturbance sequences) of all these candidates are
    simulated forward in numpy and the best attained value is stored.  The
    stored values are therefore attained (inner) values; their distance to
    HiGHS' proven bound of the tight solve (mip_rel_gap 0, mip_abs_gap 1e-9)
    is asserted <= 1e-8 and reported per case as "max_bound_gap" (<= 1e-9 in
    the shipped fixtures), and they must not beat the default-tolerance bound.

Per case extra keys: "sensed" (state and radius of a sensed-state box),
"unsafe_min", "unsafe_gap", "safe", "milp_check_seconds", "lp_seconds",
"milp_solves", "milp_max_solve_seconds", "binaries" (binaries in the MILP up
to step t), "max_bound_gap", "samples".  "milp_seconds" is the wall time of
the primary (tight) MILP solves of the case.

A MILP that hits the per-solve time limit (20 s) truncates that case's horizon
(the case's "horizon" is then smaller than the TOML one; a warning is
printed).  The ONNX files are also cross-checked against onnxruntime (if
installed) on the samples.

Usage:
    python3 Scripts/make_reach_fixtures.py [--out Tests/Fixtures/reach] [--only NAME ...]

Offline tooling; Swift tests only read the JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
import tomllib
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import onnx
import scipy
import scipy.sparse as sp
from onnx import helper, numpy_helper
from scipy.optimize import Bounds, LinearConstraint, milp

ROOT = Path(__file__).resolve().parent.parent

N_SAMPLES = 2000
SAMPLE_SEED = 20240610
TOL = 1e-7                 # sampled must lie within exact up to this
BOUND_GAP_TOL = 1e-8       # |HiGHS bound - attained value| allowed
DEBUG = bool(os.environ.get("REACH_FIXTURE_DEBUG"))
MILP_TIME_LIMIT = 20.0     # seconds per MILP; beyond -> shrink the horizon


# Passed to HiGHS verbatim (SciPy warns about options it does not know).  The
# absolute gap must be far below the 1e-7 sampled-vs-exact tolerance (HiGHS'
# default 1e-6 is not), and so must the integrality leak of the big-M
# encodings: with the default mip_feasibility_tolerance (1e-6) a binary may sit
# at 1e-6, which let HiGHS "prove" minima ~1e-6 below the true one and return
# incumbents 1.4e-7 worse than a sampled corner (quadrotor).  The primary solve
# therefore uses 1e-9.  make_lp_fixtures.py notes that a tightened
# mip_feasibility_tolerance once gave wrong "optimal" values, so every MILP is
# solved a second time with the default tolerance (CHECK_OPTIONS): its
# incumbents are extra candidates and its (leaky, hence looser) bound must not
# be beaten by the stored attained value.
MILP_OPTIONS = {"mip_rel_gap": 0.0, "mip_abs_gap": 1e-9, "mip_feasibility_tolerance": 1e-9}
CHECK_OPTIONS = {"mip_rel_gap": 0.0, "mip_abs_gap": 1e-9}
CHECK_TOL = 1e-5           # attained value vs the default-tolerance bound
LP_OPTIONS = {"primal_feasibility_tolerance": 1e-9, "dual_feasibility_tolerance": 1e-9}
warnings.filterwarnings("ignore", message="Unrecognized options detected")


@contextmanager
def quiet_stdout():
    """HiGHS (as bundled in SciPy) prints a debug line from C now and then;
    silence file descriptor 1 while it runs."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def pad_lo(v):
    return v - (1e-5 + 1e-6 * np.abs(v))


def pad_hi(v):
    return v + (1e-5 + 1e-6 * np.abs(v))


# --------------------------------------------------------------------------
# cases: (label, lower, upper).  Boxes around a sensed state use the TOML
# sensor radius.

def sensed(center, radius):
    """Box [s - r, s + r] (float64 arithmetic) plus a record of s and r."""
    c, r = np.asarray(center, float), np.asarray(radius, float)
    return (c - r).tolist(), (c + r).tolist(), {"state": c.tolist(), "radius": r.tolist()}


CASES = {
    "double_integrator": lambda radius: [
        ("reach_lp_setting", [2.5, -0.25], [3.0, 0.25]),
        ("sensed_state", *sensed([1.2, -0.4], radius)),
    ],
    "quadrotor": lambda radius: [
        ("descending", [0.4, -0.6, -0.5, -0.1, -0.1, -1.0], [0.6, -0.4, -0.3, 0.1, 0.1, -0.8]),
        ("sensed_state", *sensed([0.5, -0.5, -0.4, 0.0, 0.0, -0.9], radius)),
    ],
    "learned_dynamics": lambda radius: [
        ("released", [0.8, -0.2], [1.0, 0.2]),
        ("sensed_state", *sensed([-0.1, 1.7], radius)),
    ],
}


# --------------------------------------------------------------------------
# system

@dataclass
class Net:
    Ws: list[np.ndarray]      # float64 copies of the float32 weights [out, in]
    bs: list[np.ndarray]
    path: Path

    @property
    def n_in(self):
        return self.Ws[0].shape[1]

    @property
    def n_out(self):
        return self.Ws[-1].shape[0]

    def forward(self, X):
        Y = np.asarray(X, dtype=np.float64)
        for k, (W, b) in enumerate(zip(self.Ws, self.bs)):
            Y = Y @ W.T + b
            if k < len(self.Ws) - 1:
                Y = np.maximum(Y, 0.0)
        return Y


def load_net(path: Path) -> Net:
    """A Gemm(transB=1)/Relu chain as written by make_examples.py."""
    model = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    Ws, bs = [], []
    for node in model.graph.node:
        if node.op_type == "Gemm":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            assert attrs.get("transB", 0) == 1 and attrs.get("transA", 0) == 0
            assert attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
            Ws.append(np.asarray(inits[node.input[1]], np.float32).astype(np.float64))
            bs.append(np.asarray(inits[node.input[2]], np.float32).astype(np.float64))
        else:
            assert node.op_type == "Relu", node.op_type
    return Net(Ws, bs, path)


@dataclass
class System:
    name: str
    toml_path: Path
    n: int
    plant_type: str
    A: np.ndarray | None = None
    B: np.ndarray | None = None
    c: np.ndarray | None = None
    plant_net: Net | None = None
    ctrl: Net | None = None
    u_lo: np.ndarray | None = None
    u_hi: np.ndarray | None = None
    w_lo: np.ndarray | None = None
    w_hi: np.ndarray | None = None
    horizon: int = 1
    unsafe: list = field(default_factory=list)      # [(H, h)]
    sensor_radius: np.ndarray | None = None

    @property
    def m(self):
        return 0 if self.ctrl is None else self.ctrl.n_out

    @property
    def has_w(self):
        return self.w_lo is not None

    def control(self, X):
        V = self.ctrl.forward(X)
        return np.clip(V, self.u_lo, self.u_hi)

    def step(self, X, W=None):
        U = self.control(X) if self.ctrl is not None else None
        if self.plant_type == "linear":
            Xn = X @ self.A.T + self.c
            if U is not None:
                Xn = Xn + U @ self.B.T
        else:
            inp = X if U is None else np.concatenate([X, U], axis=1)
            Xn = self.plant_net.forward(inp)
        if W is not None:
            Xn = Xn + W
        return Xn

    def simulate(self, X0, Ws=None, steps=None):
        """X0 [N,n], Ws [T,N,n] or None -> [T+1,N,n] (T = steps or horizon)."""
        T = steps if steps is not None else (self.horizon if Ws is None else Ws.shape[0])
        out = [np.asarray(X0, float)]
        for t in range(T):
            out.append(self.step(out[-1], None if Ws is None else Ws[t]))
        return np.stack(out)


def load_system(name: str) -> System:
    path = ROOT / "Config" / name / "system.toml"
    cfg = tomllib.loads(path.read_text())
    plant, base = cfg["plant"], path.parent
    ctrl = load_net(base / cfg["controller"]["model"]) if "controller" in cfg else None
    if plant["type"] == "linear":
        A = np.array(plant["A"], float)
        n = A.shape[0]
        B = np.array(plant["B"], float).reshape(n, -1) if "B" in plant else np.zeros((n, 0))
        c = np.array(plant.get("c", [0.0] * n), float)
        sysm = System(name, path, n, "linear", A=A, B=B, c=c)
        if ctrl is not None:
            assert B.shape[1] == ctrl.n_out and ctrl.n_in == n
    else:
        assert plant["type"] == "network"
        pn = load_net(base / plant["model"])
        n = pn.n_out
        sysm = System(name, path, n, "network", plant_net=pn)
        assert pn.n_in == n + (ctrl.n_out if ctrl is not None else 0)
    if "disturbance_lower" in plant:
        sysm.w_lo = np.array(plant["disturbance_lower"], float)
        sysm.w_hi = np.array(plant["disturbance_upper"], float)
    if ctrl is not None:
        sysm.ctrl = ctrl
        cc = cfg["controller"]
        sysm.u_lo = np.array(cc.get("u_min", [-np.inf] * ctrl.n_out), float)
        sysm.u_hi = np.array(cc.get("u_max", [np.inf] * ctrl.n_out), float)
    sysm.horizon = int(cfg["reach"]["horizon"])
    for s in cfg.get("safety", {}).get("unsafe", []):
        sysm.unsafe.append((np.array(s["H"], float).reshape(-1, n), np.array(s["h"], float)))
    if "sensor" in cfg:
        sysm.sensor_radius = np.array(cfg["sensor"]["radius"], float)
    return sysm


# --------------------------------------------------------------------------
# MILP model builder (incremental, with rollback)

class Builder:
    def __init__(self):
        self.lb, self.ub, self.integer = [], [], []
        self.r_rows, self.r_cols, self.r_vals = [], [], []
        self.rlo, self.rhi = [], []
        self._cache = None
        self._version = 0
        self.lp_seconds = 0.0
        self.lp_count = 0

    @property
    def nv(self):
        return len(self.lb)

    def add_vars(self, lo, hi, integer=False):
        lo, hi = np.atleast_1d(np.asarray(lo, float)), np.atleast_1d(np.asarray(hi, float))
        start = self.nv
        self._version += 1
        self.lb += lo.tolist()
        self.ub += hi.tolist()
        self.integer += [1 if integer else 0] * len(lo)
        return np.arange(start, self.nv)

    def add_row(self, cols, vals, lo, hi):
        r = len(self.rlo)
        self._version += 1
        self.r_rows += [r] * len(cols)
        self.r_cols += list(cols)
        self.r_vals += list(vals)
        self.rlo.append(lo)
        self.rhi.append(hi)

    def add_eq(self, cols, vals, rhs):
        self.add_row(cols, vals, rhs, rhs)

    def snapshot(self):
        return (self.nv, len(self.rlo), len(self.r_rows))

    def rollback(self, snap):
        nv, nr, nnz = snap
        self._version += 1
        del self.lb[nv:], self.ub[nv:], self.integer[nv:]
        del self.rlo[nr:], self.rhi[nr:]
        del self.r_rows[nnz:], self.r_cols[nnz:], self.r_vals[nnz:]

    def matrix(self):
        key = self._version
        if self._cache is None or self._cache[0] != key:
            M = sp.csr_matrix((self.r_vals, (self.r_rows, self.r_cols)),
                              shape=(len(self.rlo), self.nv))
            self._cache = (key, M)
        return self._cache[1]

    def solve(self, obj, integer, fixed=None, time_limit=None, options=None):
        """Minimise obj . v.  integer=False relaxes all binaries.  fixed:
        {var: value} extra bound fixings.  Returns scipy's result."""
        c = np.zeros(self.nv)
        for k, v in obj.items():
            c[k] += v
        lb, ub = np.array(self.lb), np.array(self.ub)
        if fixed:
            for k, v in fixed.items():
                lb[k] = ub[k] = v
        cons = LinearConstraint(self.matrix(), np.array(self.rlo), np.array(self.rhi))
        opts = dict(options if options is not None else (MILP_OPTIONS if integer else LP_OPTIONS))
        if time_limit is not None:
            opts["time_limit"] = time_limit
        integ = np.array(self.integer) if integer else np.zeros(self.nv)
        t0 = time.perf_counter()
        with quiet_stdout():
            res = milp(c, integrality=integ, bounds=Bounds(lb, ub), constraints=cons, options=opts)
        dt = time.perf_counter() - t0
        if not integer:
            self.lp_seconds += dt
            self.lp_count += 1
        res.seconds = dt
        return res

    def lp_range(self, var):
        lo = self.solve({var: 1.0}, integer=False)
        hi = self.solve({var: -1.0}, integer=False)
        assert lo.status == 0 and hi.status == 0, (lo.message, hi.message)
        return lo.fun, -hi.fun


def relu(bld: Builder, z, l, u):
    """Encode a = relu(z) for variables z with bounds [l, u]; returns a."""
    a = np.empty(len(z), dtype=int)
    for j in range(len(z)):
        if u[j] <= 0.0:
            a[j] = bld.add_vars(0.0, 0.0)[0]
        elif l[j] >= 0.0:
            a[j] = z[j]
        else:
            aj = bld.add_vars(0.0, u[j])[0]
            d = bld.add_vars(0.0, 1.0, integer=True)[0]
            bld.add_row([aj, z[j]], [1.0, -1.0], 0.0, np.inf)                 # a >= z
            bld.add_row([aj, z[j], d], [1.0, -1.0, -l[j]], -np.inf, -l[j])    # a <= z - l(1-d)
            bld.add_row([aj, d], [1.0, -u[j]], -np.inf, 0.0)                  # a <= u d
            a[j] = aj
    return a


def ibp_affine(W, b, lo, hi):
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    return Wp @ lo + Wn @ hi + b, Wp @ hi + Wn @ lo + b


def encode_net(bld: Builder, net: Net, inp, tighten_output=None):
    """Encode net on input variables inp; hidden pre-activation bounds are IBP,
    LP-tightened for IBP-unstable neurons.  tighten_output(l, u) -> bool mask
    of output neurons to LP-tighten.  Returns (output vars, l, u)."""
    a = np.asarray(inp)
    L = len(net.Ws)
    for k in range(L):
        W, b = net.Ws[k], net.bs[k]
        alo, ahi = np.array(bld.lb)[a], np.array(bld.ub)[a]
        l, u = ibp_affine(W, b, alo, ahi)
        l, u = pad_lo(l), pad_hi(u)
        z = bld.add_vars(l, u)
        for j in range(len(z)):
            nz = np.nonzero(W[j])[0]
            bld.add_eq([z[j]] + a[nz].tolist(), [1.0] + (-W[j, nz]).tolist(), b[j])
        if k < L - 1:
            mask = (l < 0.0) & (u > 0.0)
        else:
            mask = tighten_output(l, u) if tighten_output is not None else np.zeros(len(z), bool)
        for j in np.nonzero(mask)[0]:
            lo_lp, hi_lp = bld.lp_range(z[j])
            l[j] = max(l[j], pad_lo(lo_lp))
            u[j] = min(u[j], pad_hi(hi_lp))
            bld.lb[z[j]], bld.ub[z[j]] = l[j], u[j]
        if k < L - 1:
            a = relu(bld, z, l, u)
        else:
            return z, l, u


def encode_clip(bld: Builder, v, lv, uv, lo, hi):
    """u = clip(v, lo, hi) = v - relu(v - hi) + relu(lo - v)."""
    out = []
    for j in range(len(v)):
        cols, vals, const = [v[j]], [1.0], 0.0
        if np.isfinite(hi[j]) and uv[j] > hi[j]:
            e = bld.add_vars(lv[j] - hi[j], uv[j] - hi[j])[0]
            bld.add_eq([e, v[j]], [1.0, -1.0], -hi[j])
            p = relu(bld, [e], [lv[j] - hi[j]], [uv[j] - hi[j]])[0]
            cols.append(p); vals.append(-1.0)
        if np.isfinite(lo[j]) and lv[j] < lo[j]:
            e = bld.add_vars(lo[j] - uv[j], lo[j] - lv[j])[0]
            bld.add_eq([e, v[j]], [1.0, 1.0], lo[j])
            q = relu(bld, [e], [lo[j] - uv[j]], [lo[j] - lv[j]])[0]
            cols.append(q); vals.append(1.0)
        ul = max(lv[j], lo[j]) if np.isfinite(lo[j]) else lv[j]
        uu = min(uv[j], hi[j]) if np.isfinite(hi[j]) else uv[j]
        ul, uu = min(ul, hi[j]), max(uu, lo[j])
        uj = bld.add_vars(ul, uu)[0]
        bld.add_eq([uj] + cols, [1.0] + [-x for x in vals], const)
        out.append(uj)
    return np.array(out), np.array([bld.lb[k] for k in out]), np.array([bld.ub[k] for k in out])


# --------------------------------------------------------------------------
# exact reach of one case

class Horizon(Exception):
    pass


def compute_case(sysm: System, label, lower, upper, log):
    lower, upper = np.array(lower, float), np.array(upper, float)
    n, T = sysm.n, sysm.horizon
    bld = Builder()
    xs = [bld.add_vars(lower, upper)]
    ws = []
    stats = {"milp_seconds": 0.0, "check_seconds": 0.0, "max_solve_seconds": 0.0, "milp_count": 0, "max_bound_gap": 0.0, "binaries": []}

    def attained(res, fun):
        """Simulate the argopt and return fun(x_1..x_t trajectory)."""
        x0 = res.x[xs[0]][None, :]
        x0 = np.clip(x0, lower, upper)
        W = None
        if ws:
            W = np.stack([np.clip(res.x[w], sysm.w_lo, sysm.w_hi)[None, :] for w in ws])
        traj = sysm.simulate(x0, W, steps=len(xs) - 1)
        return fun(traj[-1][0])

    def optimise(obj, sense, fun, what):
        """sense=+1 min, -1 max of an objective; returns the attained value."""
        o = {k: sense * v for k, v in obj.items()}
        vals, bounds = [], []
        for key, opts in (("milp_seconds", MILP_OPTIONS), ("check_seconds", CHECK_OPTIONS)):
            res = bld.solve(o, integer=True, time_limit=MILP_TIME_LIMIT, options=opts)
            stats[key] += res.seconds
            stats["max_solve_seconds"] = max(stats["max_solve_seconds"], res.seconds)
            stats["milp_count"] += 1
            if res.status == 1:
                raise Horizon(f"{what}: MILP time limit ({res.seconds:.1f} s)")
            assert res.status == 0, (what, res.message)
            # HiGHS' proven bound on the optimum (mip_rel_gap = 0)
            dual = getattr(res, "mip_dual_bound", None)
            bounds.append(sense * (res.fun if dual is None or not np.isfinite(dual) else dual))
            # candidates: the incumbent itself, and the incumbent's linear
            # region re-solved as an LP (binaries fixed)
            vals.append(attained(res, fun))
            fixed = {k: round(res.x[k]) for k in range(bld.nv) if bld.integer[k]}
            pol = bld.solve(o, integer=False, fixed=fixed)
            if pol.status == 0:
                vals.append(attained(pol, fun))
        val = min(vals) if sense > 0 else max(vals)
        bound, bound_check = bounds
        if DEBUG:
            print(f"      {what}: bounds {bounds} candidates {vals}", flush=True)
        gap = abs(val - bound)
        stats["max_bound_gap"] = max(stats["max_bound_gap"], gap)
        assert gap <= BOUND_GAP_TOL * (1 + abs(val)), (what, val, bound)
        # an attained value can never beat a proven bound (beyond tolerance)
        assert sense * (val - bound) >= -BOUND_GAP_TOL * (1 + abs(val)), (what, val, bound)
        assert sense * (val - bound_check) >= -CHECK_TOL, (what, val, bound_check)
        return val

    exact, unsafe_max, unsafe_min, unsafe_gap = [], [], [], []
    horizon = T
    try:
        for t in range(T):
            x = xs[t]
            inp = x
            if sysm.ctrl is not None:
                def want(l, u):
                    return (u > sysm.u_hi) | (l < sysm.u_lo)
                v, lv, uv = encode_net(bld, sysm.ctrl, x, want)
                u_vars, ul, uu = encode_clip(bld, v, lv, uv, sysm.u_lo, sysm.u_hi)
            if sysm.plant_type == "linear":
                xl, xh = np.array(bld.lb)[x], np.array(bld.ub)[x]
                lo_n, hi_n = ibp_affine(sysm.A, sysm.c, xl, xh)
                if sysm.ctrl is not None:
                    bl, bh = ibp_affine(sysm.B, np.zeros(n), ul, uu)
                    lo_n, hi_n = lo_n + bl, hi_n + bh
                if sysm.has_w:
                    w = bld.add_vars(sysm.w_lo, sysm.w_hi)
                    ws.append(w)
                    lo_n, hi_n = lo_n + sysm.w_lo, hi_n + sysm.w_hi
                xn = bld.add_vars(pad_lo(lo_n), pad_hi(hi_n))
                for i in range(n):
                    cols, vals = [xn[i]], [1.0]
                    for j in np.nonzero(sysm.A[i])[0]:
                        cols.append(x[j]); vals.append(-sysm.A[i, j])
                    if sysm.ctrl is not None:
                        for j in np.nonzero(sysm.B[i])[0]:
                            cols.append(u_vars[j]); vals.append(-sysm.B[i, j])
                    if sysm.has_w:
                        cols.append(w[i]); vals.append(-1.0)
                    bld.add_eq(cols, vals, sysm.c[i])
            else:
                if sysm.ctrl is not None:
                    inp = np.concatenate([x, u_vars])
                out, lo_n, hi_n = encode_net(bld, sysm.plant_net, inp)
                if sysm.has_w:
                    w = bld.add_vars(sysm.w_lo, sysm.w_hi)
                    ws.append(w)
                    xn = bld.add_vars(pad_lo(lo_n + sysm.w_lo), pad_hi(hi_n + sysm.w_hi))
                    for i in range(n):
                        bld.add_eq([xn[i], out[i], w[i]], [1.0, -1.0, -1.0], 0.0)
                else:
                    xn = out
            xs.append(xn)
            step = t + 1
            stats["binaries"].append(int(sum(bld.integer)))

            lo_t, hi_t = np.zeros(n), np.zeros(n)
            for i in range(n):
                fi = (lambda i: lambda s: s[i])(i)
                lo_t[i] = optimise({xn[i]: 1.0}, +1, fi, f"t={step} min x[{i}]")
                hi_t[i] = optimise({xn[i]: 1.0}, -1, fi, f"t={step} max x[{i}]")
            # implied, padded: tightens later relaxations
            for i in range(n):
                bld.lb[xn[i]] = max(bld.lb[xn[i]], pad_lo(lo_t[i]))
                bld.ub[xn[i]] = min(bld.ub[xn[i]], pad_hi(hi_t[i]))

            row_max, row_min, gaps = [], [], []
            for si, (H, h) in enumerate(sysm.unsafe):
                for r in range(H.shape[0]):
                    obj = {xn[i]: H[r, i] for i in np.nonzero(H[r])[0]}
                    fr = (lambda r: lambda s: float(H[r] @ s))(r)
                    row_max.append(optimise(obj, -1, fr, f"t={step} max H{si}[{r}] x"))
                    row_min.append(optimise(obj, +1, fr, f"t={step} min H{si}[{r}] x"))
                if H.shape[0] == 1:
                    gaps.append(row_min[-1] - float(h[0]))
                else:
                    snap = bld.snapshot()
                    s_var = bld.add_vars(-np.inf, np.inf)[0]
                    for r in range(H.shape[0]):
                        nz = np.nonzero(H[r])[0]
                        bld.add_row([s_var] + xn[nz].tolist(), [1.0] + (-H[r, nz]).tolist(),
                                    -float(h[r]), np.inf)
                    fg = lambda s, H=H, h=h: float(np.max(H @ s - h))
                    gaps.append(optimise({s_var: 1.0}, +1, fg, f"t={step} gap unsafe[{si}]"))
                    bld.rollback(snap)
            exact.append({"t": step, "lower": lo_t.tolist(), "upper": hi_t.tolist()})
            unsafe_max.append(row_max)
            unsafe_min.append(row_min)
            unsafe_gap.append(gaps)
            log(f"    t={step}: binaries {stats['binaries'][-1]}, "
                f"box {np.round(lo_t, 4).tolist()} .. {np.round(hi_t, 4).tolist()}, "
                f"gap {np.round(gaps, 4).tolist()}, MILP so far {stats['milp_seconds']:.1f} s")
    except Horizon as e:
        horizon = len(exact)
        log(f"  WARNING {sysm.name}/{label}: {e}; horizon shrunk to {horizon}")
    stats["lp_seconds"] = bld.lp_seconds
    stats["lp_count"] = bld.lp_count
    return horizon, exact, unsafe_max, unsafe_min, unsafe_gap, stats


def sample_case(sysm: System, lower, upper, horizon, seed):
    lower, upper = np.array(lower, float), np.array(upper, float)
    rng = np.random.default_rng(seed)
    X0 = rng.uniform(lower, upper, size=(N_SAMPLES, sysm.n))
    corners = np.array(list(itertools.product(*zip(lower, upper))))
    X0 = np.concatenate([X0, corners])
    W = None
    if sysm.has_w:
        # uniform disturbances for the random starts, random vertices of the
        # disturbance box for the corners
        W = rng.uniform(sysm.w_lo, sysm.w_hi, size=(horizon, len(X0), sysm.n))
        vert = rng.integers(0, 2, size=(horizon, len(corners), sysm.n)).astype(bool)
        W[:, N_SAMPLES:] = np.where(vert, sysm.w_hi, sysm.w_lo)
    traj = sysm.simulate(X0, W, steps=horizon)
    return X0, traj


def check_onnxruntime(net: Net, X):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    sess = ort.InferenceSession(str(net.path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    y = sess.run(None, {name: X.astype(np.float32)})[0]
    err = float(np.max(np.abs(y - net.forward(X))))
    assert err < 1e-4, (net.path, err)
    return err


# --------------------------------------------------------------------------

def dump_json(doc):
    """Indented JSON with every list of numbers kept on one line."""
    def enc(o, ind):
        pad, pad1 = " " * ind, " " * (ind + 1)
        if isinstance(o, dict):
            items = [f"{pad1}{json.dumps(k)}: {enc(v, ind + 1)}" for k, v in o.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}" if items else "{}"
        if isinstance(o, list):
            if all(isinstance(v, (int, float, bool, str)) or v is None for v in o):
                return "[" + ", ".join(json.dumps(v) for v in o) + "]"
            if all(isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) for v in o):
                return "[" + ", ".join(enc(v, 0) for v in o) + "]"
            items = [pad1 + enc(v, ind + 1) for v in o]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        return json.dumps(o)
    text = enc(doc, 0) + "\n"
    assert json.loads(text) == json.loads(json.dumps(doc))
    return text


def make_fixture(name, out_dir: Path, log):
    sysm = load_system(name)
    log(f"{name}: n={sysm.n}, m={sysm.m}, plant={sysm.plant_type}, horizon={sysm.horizon}, "
        f"disturbance={'yes' if sysm.has_w else 'no'}, unsafe sets={len(sysm.unsafe)}")
    cases = []
    for ci, (label, lower, upper, *extra) in enumerate(CASES[name](sysm.sensor_radius)):
        log(f"  case {label}: box {lower} .. {upper}")
        t0 = time.perf_counter()
        horizon, exact, umax, umin, ugap, stats = compute_case(sysm, label, lower, upper, log)
        wall = time.perf_counter() - t0
        X0, traj = sample_case(sysm, lower, upper, horizon, SAMPLE_SEED + ci)
        for net in [sysm.ctrl, sysm.plant_net]:
            if net is not None:
                check_onnxruntime(net, traj[:-1].reshape(-1, sysm.n) if net.n_in == sysm.n
                                  else X0)
        sampled = []
        for t in range(1, horizon + 1):
            slo, shi = traj[t].min(axis=0), traj[t].max(axis=0)
            elo, ehi = np.array(exact[t - 1]["lower"]), np.array(exact[t - 1]["upper"])
            assert np.all(elo <= slo + TOL) and np.all(shi <= ehi + TOL), \
                (name, label, t, elo, slo, shi, ehi)
            sampled.append({"t": t, "lower": slo.tolist(), "upper": shi.tolist()})
            # unsafe rows on the samples, too
            k = 0
            for H, h in sysm.unsafe:
                hv = traj[t] @ H.T
                for r in range(H.shape[0]):
                    assert hv[:, r].max() <= umax[t - 1][k] + TOL
                    assert hv[:, r].min() >= umin[t - 1][k] - TOL
                    k += 1
            for si, (H, h) in enumerate(sysm.unsafe):
                assert np.min(np.max(traj[t] @ H.T - h, axis=1)) >= ugap[t - 1][si] - TOL
        safe = all(g > 0 for step in ugap for g in step)
        log(f"  case {label}: horizon {horizon}, MILP {stats['milp_seconds']:.2f} s "
            f"+ check {stats['check_seconds']:.2f} s ({stats['milp_count']} solves), LP {stats['lp_seconds']:.2f} s "
            f"({stats['lp_count']} solves), wall {wall:.1f} s, max bound gap "
            f"{stats['max_bound_gap']:.2e}, safe={safe}, min gap "
            f"{min(g for step in ugap for g in step) if ugap and ugap[0] else None}")
        if name == "double_integrator" and label == "reach_lp_setting":
            s_last, e_last = sampled[-1], exact[-1]
            area_s = float(np.prod(np.subtract(s_last["upper"], s_last["lower"])))
            area_e = float(np.prod(np.subtract(e_last["upper"], e_last["lower"])))
            log(f"  double_integrator/{label}: true box area at t={horizon}: "
                f"samples {area_s:.6e}, MILP (exact) {area_e:.6e}")
        cases.append({
            "label": label,
            "box": {"lower": list(map(float, lower)), "upper": list(map(float, upper))},
            **({"sensed": extra[0]} if extra else {}),
            "horizon": horizon,
            "exact": exact,
            "sampled": sampled,
            "unsafe_max": umax,
            "unsafe_min": umin,
            "unsafe_gap": ugap,
            "safe": safe,
            "milp_seconds": round(stats["milp_seconds"], 3),
            "milp_check_seconds": round(stats["check_seconds"], 3),
            "lp_seconds": round(stats["lp_seconds"], 3),
            "milp_solves": stats["milp_count"],
            "milp_max_solve_seconds": round(stats["max_solve_seconds"], 3),
            "binaries": stats["binaries"][:horizon],
            "max_bound_gap": stats["max_bound_gap"],
            "samples": int(len(X0)),
        })
    doc = {
        "name": name,
        "system": str(sysm.toml_path.relative_to(ROOT)),
        "unsafe": [{"H": H.tolist(), "h": h.tolist()} for H, h in sysm.unsafe],
        "cases": cases,
        "generator": {
            "script": "Scripts/make_reach_fixtures.py",
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "onnx": onnx.__version__,
            "solver": f"scipy.optimize.milp (HiGHS), options {MILP_OPTIONS}, time limit "
                      f"{MILP_TIME_LIMIT:g} s per solve",
            "samples": f"{N_SAMPLES} uniform + 2^n corners, seed {SAMPLE_SEED}+case index",
            "notes": "exact/unsafe values are attained values (argopt simulated "
                     "forward); |value - MILP bound| <= max_bound_gap. unsafe_max/"
                     "unsafe_min rows: all rows of all unsafe sets, in TOML order. "
                     "unsafe_gap[t][s] = min over reach_t of max_r(H_r x - h_r); "
                     "> 0 means safe at that step.",
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(dump_json(doc))
    log(f"{name}: wrote {path.relative_to(ROOT)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "Tests" / "Fixtures" / "reach"))
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    names = args.only or list(CASES)
    t0 = time.perf_counter()
    for name in names:
        make_fixture(name, Path(args.out), lambda s: print(s, flush=True))
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
