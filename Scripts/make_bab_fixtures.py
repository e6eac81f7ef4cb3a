#!/usr/bin/env python3
"""VNN-LIB instances with independently known truth, for branch and bound.

    python3 Scripts/make_bab_fixtures.py [tests|bench|all]      (default: all)

tests -> Tests/Fixtures/bab/   small seeded random ReLU MLPs (a few dozen
         unstable ReLUs at most), 12 instances for Swift unit tests: unsat
         ones the plain LP relaxation cannot prove, unsat ones it can, and sat
         ones, some of which uniform random sampling misses.
bench -> Benchmarks/bab/       offline figures: ACAS-like 5-input networks
         (3 and 4 hidden layers of 50, fitted to a smooth synthetic 5-D
         advisory function) and fully connected networks on scikit-learn's
         8x8 digits (64-256-256-10 and 64-256x4-10), L-inf robustness at
         eps 0.03 and 0.05.

Each set gets ONNX models (opset 13 Gemm(transB=1)+Relu, input "input",
written by make_lp_fixtures.export_onnx), .vnnlib files, instances.csv (the
VNN-COMP format: onnx,vnnlib,timeout, no header), expected.json and README.txt.

Margin.  A property is a disjunction of disjuncts; disjunct d (rows A_d y <= b_d,
all of which a counterexample must satisfy) has margin
    m_d = min over the box of  max_r (A_d y(x) - b_d)_r ,
and the property's margin is min_d m_d.  margin > 0 <=> unsat (the property
holds); margin < 0 <=> sat.  For single-row disjuncts m_d = min(a.y) - b.

How truth is established (all in float64 from the float32 weights stored in
the ONNX files, as ReachGuard computes):
  * milp_margin: exact, by the big-M MILP (scipy.optimize.milp = HiGHS) on
    LP-tight intermediate bounds, with an epigraph variable for the max over
    rows; the value stored is the network's own value at the MILP's optimal
    input (attained, so no solver-tolerance doubt on the sat side).
  * lp_margin: the same program with the binaries relaxed (the triangle LP on
    the same bounds, which are make_lp_fixtures' lp_layers).
  * sat: the counterexample (from MILP or from this script's PGD attack) is
    re-evaluated with onnxruntime on the float32 model and must violate the
    property by a clear margin.
  * bench unsat: MILP with a time limit; a timed-out MILP whose dual bound is
    already > 0 still proves unsat, otherwise the truth is "unknown".

Deterministic: fixed seeds, BLAS pinned to one thread.  Generated with Python
3.11.7, numpy 2.4.6, scipy 1.17.1 (HiGHS), onnx 1.23.2, onnxruntime 1.32.0,
scikit-learn 1.9.1 (digits data; `pip install scikit-learn` if missing; only
the bench part needs it).
"""

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import json          # noqa: E402
import time          # noqa: E402
from dataclasses import dataclass   # noqa: E402
from types import SimpleNamespace   # noqa: E402

import numpy as np   # noqa: E402
import scipy.sparse as sp   # noqa: E402
from scipy.optimize import Bounds, LinearConstraint, linprog, milp   # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_conv_examples as mce   # noqa: E402
import make_lp_fixtures as lpf     # noqa: E402
import make_vnnlib_fixtures as mvf  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TEST_OUT = os.path.join(ROOT, "Tests", "Fixtures", "bab")
BENCH_OUT = os.path.join(ROOT, "Benchmarks", "bab")
TIMEOUT = 20                  # instances.csv timeout column (seconds)
MARGIN_FRACTION = 0.02        # |milp_margin| >= 2% of the range for test instances
MAX_UNSTABLE = 40             # test instances: unstable ReLUs at the root
RANDOM_POINTS = 256           # the "random sampling finds" check
HIDDEN_CHECK_POINTS = 4096    # a sat instance counts as hidden if even these miss
BENCH_MILP_SECONDS = 120.0
# Bench MILPs stop once the dual bound is within 5% of the incumbent: that
# fixes the margin's sign (unless |margin| is tiny), which is all truth needs.
BENCH_REL_GAP = 0.05


def log(msg):
    print(msg, flush=True)


# --------------------------------------------------------------------------
# properties and margins


@dataclass
class Prop:
    """Input box and disjuncts (A, b): a counterexample satisfies A y <= b."""
    lo: np.ndarray
    hi: np.ndarray
    disjuncts: list


def margins(Y, disjuncts):
    """Property margin min_d max_r (A_d y - b_d)_r of each row of Y."""
    return np.min([np.max(Y @ A.T - b, axis=1) for A, b in disjuncts], axis=0)


def threshold_prop(lo, hi, a, b):
    return Prop(lo, hi, [(np.atleast_2d(np.asarray(a, float)), np.array([float(b)]))])


def robust_prop(lo, hi, label, n_out):
    """Violation: some other class j scores at least as high as `label`."""
    disjuncts = []
    for j in range(n_out):
        if j != label:
            a = np.zeros((1, n_out))
            a[0, label], a[0, j] = 1.0, -1.0
            disjuncts.append((a, np.zeros(1)))
    return Prop(lo, hi, disjuncts)


def sample_min(net, prop, n, seed):
    X = prop.lo + (prop.hi - prop.lo) * np.random.default_rng(seed).random((n, len(prop.lo)))
    return float(margins(net.forward(X), prop.disjuncts).min())


# --------------------------------------------------------------------------
# LP / MILP of one disjunct: min t s.t. t >= (A y - b)_r over the relaxation


def disjunct_program(net, lo, hi, bounds, A, b, binary):
    rel = lpf.Relaxation(net, lo, hi, bounds, binary=binary)
    n = rel.nvar + 1                      # the epigraph variable t is last
    rows = np.zeros((len(b), n))
    rows[:, rel.y[-1]] = A @ net.W[-1]
    rows[:, -1] = -1.0
    tcol = sp.csr_array((rel.A_eq.shape[0], 1))
    a_eq = sp.hstack([rel.A_eq, tcol], format="csr")
    a_ub = sp.csr_array(rows)
    b_ub = b - A @ net.b[-1]
    if rel.A_ub is not None:
        a_ub = sp.vstack([sp.hstack([rel.A_ub, sp.csr_array((rel.A_ub.shape[0], 1))]), a_ub], format="csr")
        b_ub = np.concatenate([rel.b_ub, b_ub])
    c = np.zeros(n)
    c[-1] = 1.0
    return SimpleNamespace(rel=rel, c=c, A_eq=a_eq, b_eq=rel.b_eq, A_ub=a_ub, b_ub=b_ub,
                           lb=np.append(rel.lb, -np.inf), ub=np.append(rel.ub, np.inf),
                           integrality=np.append(rel.integrality, 0))


def lp_disjunct(net, lo, hi, bounds, A, b):
    """Triangle-LP lower bound of the disjunct margin, and the LP solution
    (inf, None for a branch and bound domain whose splits leave it empty)."""
    p = disjunct_program(net, lo, hi, bounds, A, b, binary=False)
    res = linprog(p.c, A_ub=p.A_ub, b_ub=p.b_ub, A_eq=p.A_eq, b_eq=p.b_eq,
                  bounds=np.column_stack([p.lb, p.ub]), method="highs-ds", options=lpf.LP_OPTIONS)
    if res.status == 2:
        return np.inf, None, p.rel
    assert res.status == 0, res.message
    return res.fun, res.x, p.rel


def milp_disjunct(net, lo, hi, bounds, A, b, time_limit=None, rel_gap=0.0):
    """Disjunct margin by MILP: (lower, upper, x, seconds).

    lower is HiGHS's dual bound (-inf if none); upper the network's own value
    at the incumbent (inf if none); both equal the optimum when solved with
    rel_gap 0."""
    p = disjunct_program(net, lo, hi, bounds, A, b, binary=True)
    opts = dict(lpf.MILP_OPTIONS, mip_rel_gap=rel_gap)
    if time_limit is not None:
        opts["time_limit"] = max(time_limit, 1.0)
    t0 = time.perf_counter()
    res = milp(p.c, integrality=p.integrality, bounds=Bounds(p.lb, p.ub), options=opts,
               constraints=[LinearConstraint(p.A_eq, p.b_eq, p.b_eq),
                            LinearConstraint(p.A_ub, -np.inf, p.b_ub)])
    seconds = time.perf_counter() - t0
    assert res.status in (0, 1), res.message           # optimal, or time limit
    lower = getattr(res, "mip_dual_bound", None)
    if lower is None or not np.isfinite(lower):      # HiGHS reports none when presolve solves it
        lower = res.fun if res.status == 0 else -np.inf
    if res.x is None:
        return lower, np.inf, None, seconds
    x = np.clip(res.x[p.rel.x], lo, hi)
    upper = float(margins(net.forward(x[None]), [(A, b)])[0])
    if res.status == 0:
        assert abs(upper - res.fun) <= 1e-5 * max(1.0, abs(upper)), ("MILP incumbent", upper, res.fun)
        lower = min(lower, upper)
    return lower, upper, x, seconds


def lp_margin(net, prop, bounds):
    return min(lp_disjunct(net, prop.lo, prop.hi, bounds, A, b)[0] for A, b in prop.disjuncts)


def exact_margin(net, prop, bounds):
    """Exact property margin and an input attaining it (test set: no time limit)."""
    best = (np.inf, None)
    for A, b in prop.disjuncts:
        lower, upper, x, _ = milp_disjunct(net, prop.lo, prop.hi, bounds, A, b)
        assert upper - lower <= 1e-5 * max(1.0, abs(upper)), ("MILP not closed", lower, upper)
        best = min(best, (upper, x), key=lambda v: v[0])
    return best


def output_range(net, prop, bounds):
    """max over all rows r of (max - min of a_r.y over the box), by MILP."""
    spans = []
    for A, _ in prop.disjuncts:
        for a in A:
            lo_v = exact_margin(net, threshold_prop(prop.lo, prop.hi, a, 0.0), bounds)[0]
            hi_v = -exact_margin(net, threshold_prop(prop.lo, prop.hi, -a, 0.0), bounds)[0]
            spans.append(hi_v - lo_v)
    return max(spans)


def unstable_count(bounds):
    return int(sum(np.sum((l < 0) & (u > 0)) for l, u in bounds))


def test_bounds(net, lo, hi):
    """make_lp_fixtures' lp_layers: LP-tight hidden bounds, layer by layer."""
    ibp, _ = lpf.ibp_bounds(net, lo, hi)
    return lpf.lp_layer_bounds(net, lo, hi, ibp)[0]


def crown_bounds(net, lo, hi, bounds, k):
    """Bounds of the layer-k pre-activations by back-substitution (CROWN with
    DeepPoly's lower slopes) through the relaxation of layers < k."""
    out = []
    for sign in (1.0, -1.0):
        L, const = sign * net.W[k], sign * net.b[k]     # coefficients on y_{k-1}
        for j in range(k - 1, -1, -1):
            l, u = bounds[j]
            uns = (l < 0) & (u > 0)
            s_up = np.where(uns, u / np.where(uns, u - l, 1.0), (l >= 0) * 1.0)
            s_lo = np.where(uns, (u > -l) * 1.0, (l >= 0) * 1.0)
            Lp, Ln = np.maximum(L, 0.0), np.minimum(L, 0.0)
            const = const + Ln @ np.where(uns, -s_up * l, 0.0)
            L = Lp * s_lo + Ln * s_up                    # now on z_j
            const = const + L @ net.b[j]
            L = L @ net.W[j]                             # now on y_{j-1}, or x for j = 0
        out.append(sign * (const + np.maximum(L, 0.0) @ lo + np.minimum(L, 0.0) @ hi))
    return out[0], out[1]


def fast_bounds(net, lo, hi):
    """The same relaxation as test_bounds, with far fewer LPs.

    Only neurons that CROWN leaves unstable are LP-tightened.  CROWN relaxes
    within the triangle relaxation on the same earlier bounds, so a neuron it
    finds stable is stable under LP too, and for a stable neuron the LP-tight
    bound is implied by the earlier layers' constraints: the relaxation's
    feasible set, and every LP value on it, is unchanged."""
    ibp, _ = lpf.ibp_bounds(net, lo, hi)
    bounds = [ibp[0]]
    for k in range(1, net.n_hidden):
        zl, zu = crown_bounds(net, lo, hi, bounds, k)
        uns = np.flatnonzero((zl < 0) & (zu > 0))
        l, u, *_ = lpf.Relaxation(net, lo, hi, bounds).lp_bounds(net.W[k][uns], net.b[k][uns])
        zl[uns], zu[uns] = np.maximum(zl[uns], l), np.minimum(zu[uns], u)
        bounds.append((zl, zu))
    return bounds


# --------------------------------------------------------------------------
# attack and plain LP branch and bound


def forward_masks(net, X):
    masks = []
    for W, b in zip(net.W[:-1], net.b[:-1]):
        Z = X @ W.T + b
        masks.append(Z > 0)
        X = Z * masks[-1]
    return X @ net.W[-1].T + net.b[-1], masks


def input_gradient(net, masks, cot):
    g = cot @ net.W[-1]
    for W, m in zip(reversed(net.W[:-1]), reversed(masks)):
        g = (g * m) @ W
    return g


def pgd(net, prop, seed, starts=32, steps=80):
    """Projected sign-gradient descent on each disjunct's margin, from the box
    centre and uniform random starts; step sizes decay geometrically from a
    quarter to 1/400 of the box width.  Returns (best margin, its input)."""
    rng = np.random.default_rng(seed)
    width = prop.hi - prop.lo
    best = (np.inf, None)
    alphas = 0.25 * (0.01 ** (np.arange(steps) / (steps - 1)))
    for A, b in prop.disjuncts:
        X = prop.lo + width * rng.random((starts, len(prop.lo)))
        X[0] = (prop.lo + prop.hi) / 2
        for alpha in list(alphas) + [0.0]:
            Y, masks = forward_masks(net, X)
            V = Y @ A.T - b
            g = V.max(axis=1)
            i = int(np.argmin(g))
            if g[i] < best[0]:
                best = (float(g[i]), X[i].copy())
            cot = A[np.argmax(V, axis=1)]
            X = np.clip(X - alpha * width * np.sign(input_gradient(net, masks, cot)), prop.lo, prop.hi)
    return best


def split(bounds, layer, neuron, active):
    out = [(l.copy(), u.copy()) for l, u in bounds]
    if active:
        out[layer][0][neuron] = 0.0
    else:
        out[layer][1][neuron] = 0.0
    return out


def lp_bab_domains(net, prop, bounds, limit=20000):
    """LP subproblems a plain branch and bound needs to prove the property:
    triangle LP per domain, no re-tightening of intermediate bounds, split on
    the unstable ReLU with the largest relaxation error y - relu(z) at the LP
    optimum, depth first.  None if over `limit`."""
    count = 0
    for A, b in prop.disjuncts:
        stack = [bounds]
        while stack:
            dom = stack.pop()
            count += 1
            if count > limit:
                return None
            val, sol, rel = lp_disjunct(net, prop.lo, prop.hi, dom, A, b)
            if val > 0:
                continue
            errs = [np.where((l < 0) & (u > 0), sol[y] - np.maximum(sol[z], 0.0), -1.0)
                    for (l, u), z, y in zip(dom, rel.z, rel.y)]
            layer = int(np.argmax([e.max() for e in errs]))
            neuron = int(np.argmax(errs[layer]))
            assert errs[layer][neuron] > 1e-9, "LP exact at a violating point: the property is sat"
            stack += [split(dom, layer, neuron, True), split(dom, layer, neuron, False)]
    return count


# --------------------------------------------------------------------------
# files


def write_network(net, path, seed):
    """ONNX via make_lp_fixtures, checked by onnxruntime against numpy."""
    lpf.export_onnx(net, path)
    X = np.random.default_rng(seed).uniform(-1, 1, size=(64, net.sizes[0]))
    diff = np.max(np.abs(mce.ort_run(path, X) - net.forward(mce.f32(X))))
    assert diff <= 1e-5 * max(1.0, np.max(np.abs(net.forward(X)))), (path, diff)


def ort_margin(path, prop, x):
    return float(margins(mce.ort_run(path, x[None]), prop.disjuncts)[0])


def atom(a, b):
    """VNN-LIB text of a.y <= b for the row shapes this script makes."""
    nz = np.flatnonzero(a)
    if len(nz) == 1 and abs(a[nz[0]]) == 1.0:
        i = nz[0]
        return f"(<= Y_{i} {b!r})" if a[i] > 0 else f"(>= Y_{i} {-b!r})"
    assert len(nz) == 2 and sorted(a[nz]) == [-1.0, 1.0], a
    i, j = nz if a[nz[0]] > 0 else nz[::-1]
    return f"(>= Y_{j} Y_{i})" if b == 0 else f"(<= (- Y_{i} Y_{j}) {b!r})"


def write_vnnlib(prop, n_out, path, comment):
    lines = mvf.header(len(prop.lo), n_out, prop.lo, prop.hi, comment)
    conj = [[atom(a, float(bb)) for a, bb in zip(A, b)] for A, b in prop.disjuncts]
    if len(conj) == 1:
        lines += [f"(assert {t})" for t in conj[0]]
    else:
        lines.append("(assert (or " + " ".join("(and " + " ".join(c) + ")" for c in conj) + "))")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_index(outdir, records):
    with open(os.path.join(outdir, "instances.csv"), "w") as f:
        f.writelines(f"{r['onnx']},{r['vnnlib']},{TIMEOUT}\n" for r in records)
    with open(os.path.join(outdir, "expected.json"), "w") as f:
        json.dump(records, f, indent=1)
        f.write("\n")


def rounded(v, digits=9):
    return None if v is None or not np.isfinite(v) else round(float(v), digits)


# --------------------------------------------------------------------------
# A. test fixtures

TEST_NETS = [   # name, layer sizes, (property kind, role) per instance
    ("t_5_16_16_3", [5, 16, 16, 3],
     [("threshold", "lp_hard"), ("robust", "lp_hard"), ("threshold", "sat_hidden")]),
    ("t_6_24_24_4", [6, 24, 24, 4],
     [("robust", "lp_hard"), ("threshold", "lp_proves"), ("robust", "sat_hidden")]),
    ("t_8_20_20_20_3", [8, 20, 20, 20, 3],
     [("threshold", "lp_hard_tight"), ("robust", "lp_proves"), ("threshold", "sat_easy")]),
    ("t_4_12x4_3", [4, 12, 12, 12, 12, 3],
     [("robust", "lp_hard"), ("threshold", "lp_hard_tight"), ("robust", "sat_easy")]),
]
TEST_SEED = 20250601
TRIES = 12      # candidate boxes per instance

# What each role asks of the stats (margins in the property's own units).
ROLE_OK = {
    "lp_hard": lambda s: s.milp >= MARGIN_FRACTION * s.range and s.lp <= -0.01 * s.range,
    "lp_hard_tight": lambda s: s.milp >= MARGIN_FRACTION * s.range and s.lp <= -0.01 * s.range,
    "lp_proves": lambda s: s.lp >= MARGIN_FRACTION * s.range,
    "sat_hidden": lambda s: s.milp <= -MARGIN_FRACTION * s.range and s.s_hidden > 0,
    "sat_easy": lambda s: s.milp <= -MARGIN_FRACTION * s.range and s.s_random < 0,
}
# Threshold b for a single-row property a.y <= b, from the stats at b = 0.
THRESHOLD_B = {
    "lp_hard": lambda s: s.milp - 0.4 * (s.milp - s.lp),        # between LP and exact
    "lp_hard_tight": lambda s: s.milp - max(0.025 * s.range, 0.1 * (s.milp - s.lp)),   # near exact
    "lp_proves": lambda s: s.lp - 0.05 * s.range,
    "sat_hidden": lambda s: (s.milp + s.s_hidden) / 2,          # below every sample
    "sat_easy": lambda s: s.milp + 0.25 * s.range,
}


# Necessary conditions that need no MILP, to skip hopeless robustness candidates.
ROLE_PRE = {
    "lp_hard": lambda s: s.lp < 0 and s.s_hidden > 0,
    "lp_hard_tight": lambda s: s.lp < 0 and s.s_hidden > 0,
    "lp_proves": lambda s: s.lp > 0,
    "sat_hidden": lambda s: s.lp < 0 and s.s_hidden > 0,
    "sat_easy": lambda s: s.s_random < 0,
}


def cheap_stats(net, prop, bounds):
    return SimpleNamespace(lp=lp_margin(net, prop, bounds),
                           s_random=sample_min(net, prop, RANDOM_POINTS, 1),
                           s_hidden=sample_min(net, prop, HIDDEN_CHECK_POINTS, 2))


def stats(net, prop, bounds, s=None):
    """LP, exact and sampled margins, and the output range, of prop."""
    s = s or cheap_stats(net, prop, bounds)
    s.milp, s.x = exact_margin(net, prop, bounds)
    s.range = output_range(net, prop, bounds)
    return s


def shifted(s, b):
    """Stats of a single-row property after moving its bound from 0 to b."""
    return SimpleNamespace(lp=s.lp - b, milp=s.milp - b, x=s.x, range=s.range,
                           s_random=s.s_random - b, s_hidden=s.s_hidden - b)


def threshold_candidates(net, rng):
    """Boxes sized as in make_lp_fixtures (about 40% of the first layer
    unstable) and rows +-Y_i, Y_i - Y_j, each with the b its role asks for."""
    n_in, n_out = net.sizes[0], net.sizes[-1]
    eye = np.eye(n_out)
    rows = [s * eye[i] for i in range(n_out) for s in (1, -1)]
    rows += [eye[i] - eye[j] for i in range(n_out) for j in range(n_out) if i != j]
    for _ in range(TRIES):
        c = rng.uniform(-1, 1, n_in)
        r = lpf.choose_radius(net, c)
        bounds = test_bounds(net, c - r, c + r)
        if unstable_count(bounds) <= MAX_UNSTABLE:
            for k in rng.permutation(len(rows)):
                yield threshold_prop(c - r, c + r, rows[k], 0.0), bounds


def robust_candidates(net, rng):
    """L-inf boxes of growing radius around random points (their own class)."""
    n_in, n_out = net.sizes[0], net.sizes[-1]
    for _ in range(TRIES):
        x0 = rng.uniform(-1, 1, n_in)
        label = int(np.argmax(net.forward(x0[None])[0]))
        eps = 0.02
        while True:
            bounds = test_bounds(net, x0 - eps, x0 + eps)
            if unstable_count(bounds) > MAX_UNSTABLE:
                break
            yield robust_prop(x0 - eps, x0 + eps, label, n_out), bounds
            eps *= 1.3


def find_instance(net, kind, role, rng):
    """First candidate meeting the role: (prop, bounds, stats)."""
    gen = threshold_candidates if kind == "threshold" else robust_candidates
    for prop, bounds in gen(net, rng):
        s = cheap_stats(net, prop, bounds)
        if kind == "robust" and not ROLE_PRE[role](s):
            continue
        s = stats(net, prop, bounds, s)
        if kind == "threshold":
            b = THRESHOLD_B[role](s)
            prop = threshold_prop(prop.lo, prop.hi, prop.disjuncts[0][0][0], b)
            s = shifted(s, b)
        if ROLE_OK[role](s):
            return prop, bounds, s
    raise RuntimeError(f"no {kind} {role} instance found")


def test_record(net, onnx_path, vnn_name, prop, bounds, role):
    """Re-derive every stat of the final property and check it."""
    s = stats(net, prop, bounds)
    assert ROLE_OK[role](s), (vnn_name, s)
    tol = 1e-6 * max(1.0, s.range)
    assert s.lp <= s.milp + tol and s.milp <= min(s.s_random, s.s_hidden) + tol
    # the bench's shortcut bounds give the same relaxation
    fast = fast_bounds(net, prop.lo, prop.hi)
    assert unstable_count(fast) == unstable_count(bounds)
    assert abs(lp_margin(net, prop, fast) - s.lp) <= tol
    attack, _ = pgd(net, prop, seed=3)
    assert attack >= s.milp - tol
    sat = s.milp < 0
    if sat:
        got = ort_margin(onnx_path, prop, s.x)
        assert got <= -0.5 * MARGIN_FRACTION * s.range, (vnn_name, got)
    domains = None if sat else lp_bab_domains(net, prop, bounds)
    assert sat or domains is not None
    return {
        "onnx": os.path.basename(onnx_path), "vnnlib": vnn_name,
        "truth": "sat" if sat else "unsat", "lp_proves": bool(s.lp > 0),
        "milp_margin": rounded(s.milp), "lp_margin": rounded(s.lp),
        "unstable_root": unstable_count(bounds),
        "counterexample": [float(v) for v in s.x] if sat else None,
        "random_sampling_finds": bool(s.s_random < 0),
        "role": role, "range": rounded(s.range), "attack_margin": rounded(attack),
        "attack_finds": bool(attack < 0), "lp_bab_domains": domains,
    }


def make_tests():
    os.makedirs(TEST_OUT, exist_ok=True)
    records = []
    for n, (name, sizes, plan) in enumerate(TEST_NETS):
        rng = np.random.default_rng(TEST_SEED + n)
        net = lpf.random_network(sizes, rng)
        onnx_path = os.path.join(TEST_OUT, f"{name}.onnx")
        write_network(net, onnx_path, TEST_SEED + n)
        for kind, role in plan:
            t0 = time.perf_counter()
            prop, bounds, s = find_instance(net, kind, role, rng)
            vnn = f"{name}_{kind}_{role}.vnnlib"
            write_vnnlib(prop, sizes[-1], os.path.join(TEST_OUT, vnn),
                         f"{kind} / {role}: exact margin {s.milp:.6g}, LP margin {s.lp:.6g}, "
                         f"output range {s.range:.6g} (Scripts/make_bab_fixtures.py)")
            records.append(test_record(net, onnx_path, vnn, prop, bounds, role))
            r = records[-1]
            log(f"{vnn}: {r['truth']} lp_proves={r['lp_proves']} milp {r['milp_margin']:.4g} "
                f"lp {r['lp_margin']:.4g} range {r['range']:.4g} unstable {r['unstable_root']} "
                f"bab {r['lp_bab_domains']} random {r['random_sampling_finds']} "
                f"attack {r['attack_finds']} ({time.perf_counter() - t0:.1f}s)")
    write_index(TEST_OUT, records)
    return records


# --------------------------------------------------------------------------
# B. benchmark set

ACAS_NETS = [("acas_like_3x50", [5, 50, 50, 50, 5]), ("acas_like_4x50", [5, 50, 50, 50, 50, 5])]
DIGITS_NETS = [("digits_2x256", [64, 256, 256, 10]), ("digits_4x256", [64, 256, 256, 256, 256, 10])]
DIGITS_EPSILONS = (0.03, 0.05)
DIGITS_QUANTILES = (0.03, 0.08, 0.15, 0.25, 0.4)   # of the clean margin, one image each
BENCH_SEED = 20250701
CLEAR_VIOLATION = 1e-4        # a counterexample must violate by this much (float64 and onnxruntime)


def to_network(tn, theta):
    ps = [p.astype(np.float32) for p in tn.unpack(theta)]
    return lpf.Network([tn.in_shape[0]] + [w.shape[0] for w in ps[0::2]], ps[0::2], ps[1::2])


def fit(sizes, X, Y, loss, seed, maxiter, weight_decay):
    """Full-batch L-BFGS (make_conv_examples' trainer) of a Gemm+Relu MLP."""
    spec = [layer for n in sizes[1:-1] for layer in ({"op": "gemm", "out": n}, {"op": "relu"})]
    tn = mce.TrainNet((sizes[0],), spec + [{"op": "gemm", "out": sizes[-1]}])
    theta, _ = mce.lbfgs(lambda th: loss(tn, th, X, Y, weight_decay),
                         tn.init(np.random.default_rng(seed)), maxiter)
    return to_network(tn, theta)


def acas_costs(X):
    """Smooth synthetic advisory costs on ACAS-like normalised inputs in
    [-0.5, 0.5]^5 (distance, bearing, heading, own and intruder speed); the
    advisory is the argmin: 0 clear of conflict, 1/2 weak left/right, 3/4
    strong left/right.  Only the shape matters: threat falls off with distance,
    the side to turn to follows bearing and heading."""
    threat = (np.exp(-3.0 * (X[:, 0] + 0.5)) * (0.6 + 0.4 * np.cos(np.pi * X[:, 1]))
              * (1.0 + 0.3 * X[:, 3] - 0.2 * X[:, 4]))
    side = np.tanh(3.0 * (X[:, 1] + 0.5 * X[:, 2]))
    return np.column_stack([1.5 * threat,
                            0.2 + 0.8 * threat * (1 - 0.5 * side), 0.2 + 0.8 * threat * (1 + 0.5 * side),
                            0.4 + 0.5 * threat * (1 - side), 0.4 + 0.5 * threat * (1 + side)])


def box(**ranges):
    """ACAS-like input box: full [-0.5, 0.5] except the named inputs x0..x4."""
    lo, hi = np.full(5, -0.5), np.full(5, 0.5)
    for k, (a, b) in ranges.items():
        lo[int(k[1])], hi[int(k[1])] = a, b
    return lo, hi


def conj(n_out, pairs):
    """One disjunct: Y_i <= Y_j for every (i, j) in pairs."""
    A = np.zeros((len(pairs), n_out))
    for r, (i, j) in enumerate(pairs):
        A[r, i], A[r, j] = 1.0, -1.0
    return (A, np.zeros(len(pairs)))


def acas_props(net):
    """Properties in the style of ACAS Xu's phi_1..phi_4 (name, Prop, extra).

    The boxes are narrow in distance and bearing (full or half range in the
    other inputs) so that MILP still settles them within its time limit.
    The phi1-like thresholds on the COC score take b from a design MILP on
    their box: one between the exact maximum and the LP bound (unsat, the LP
    fails), one just under the exact maximum (sat)."""
    e0 = -np.eye(5)[0]                           # violation -Y_0 <= -b, i.e. Y_0 >= b
    lo, hi = box(x0=(0.3, 0.5), x1=(-0.1, 0.1), x3=(0.3, 0.5), x4=(-0.5, -0.3))
    bounds = fast_bounds(net, lo, hi)
    lp0 = lp_disjunct(net, lo, hi, bounds, e0[None], np.zeros(1))[0]
    lower, upper, _, _ = milp_disjunct(net, lo, hi, bounds, e0[None], np.zeros(1), BENCH_MILP_SECONDS)
    assert lp0 < lower <= upper < np.inf, ("phi1 design MILP unfinished", lp0, lower, upper)
    gap = lower - lp0
    far = box(x0=(0.3, 0.5), x1=(-0.2, 0.2), x2=(-0.25, 0.25))
    close = box(x0=(-0.5, -0.35), x1=(-0.1, 0.1), x2=(-0.25, 0.25))
    left = box(x0=(-0.5, -0.35), x1=(0.3, 0.5), x2=(0.2, 0.5))
    return [
        ("phi1_coc_high_unsat", threshold_prop(lo, hi, e0, lower - 0.3 * gap)),
        ("phi1_coc_high_sat", threshold_prop(lo, hi, e0, upper + 0.1 * gap)),
        ("phi2_coc_maximal", Prop(*far, [conj(5, [(j, 0) for j in range(1, 5)])])),
        ("phi3_coc_minimal", Prop(*close, [conj(5, [(0, j) for j in range(1, 5)])])),
        ("phi4_strong_left_kept", Prop(*left, [conj(5, [(j, 3)]) for j in (0, 1, 2, 4)])),
    ]


def digits_props(net, x_test, y_test):
    """L-inf robustness around correctly classified test images, chosen at
    fixed quantiles of the clean logit margin (the first images are robust
    far beyond eps 0.05 and would all be LP-easy): (name, Prop, extra)."""
    Y = net.forward(x_test)
    margin = np.array([Y[i, c] - np.max(np.delete(Y[i], c)) for i, c in enumerate(y_test)])
    ok = np.flatnonzero(margin > 0)
    ranked = ok[np.argsort(margin[ok], kind="stable")]
    picks = ranked[(np.array(DIGITS_QUANTILES) * len(ranked)).astype(int)]
    out = []
    for i in picks:
        for eps in DIGITS_EPSILONS:
            lo, hi = np.clip(x_test[i] - eps, 0, 1), np.clip(x_test[i] + eps, 0, 1)
            out.append((f"img{i}_eps{eps}", robust_prop(lo, hi, int(y_test[i]), 10),
                        {"image": int(i), "label": int(y_test[i]), "epsilon": eps,
                         "clean_margin": rounded(margin[i])}))
    return out


def decide(net, onnx_path, prop, seed):
    """Truth of a bench property: attack, then MILP on the disjuncts the LP
    leaves open, most at risk first, within BENCH_MILP_SECONDS in all."""
    t0 = time.perf_counter()
    bounds = fast_bounds(net, prop.lo, prop.hi)
    lps = [lp_disjunct(net, prop.lo, prop.hi, bounds, A, b)[0] for A, b in prop.disjuncts]
    t1 = time.perf_counter()
    attack, x = pgd(net, prop, seed, starts=64, steps=100)
    t2 = time.perf_counter()
    rec = {"lp_margin": rounded(min(lps)), "lp_proves": bool(min(lps) > 0),
           "unstable_root": unstable_count(bounds), "attack_margin": rounded(attack),
           "random_sampling_finds": bool(sample_min(net, prop, RANDOM_POINTS, seed) < 0),
           "bounds_seconds": round(t1 - t0, 2), "attack_seconds": round(t2 - t1, 2)}
    lower, upper, spent, best = list(lps), [np.inf] * len(lps), 0.0, attack
    if not (attack <= -CLEAR_VIOLATION and ort_margin(onnx_path, prop, x) <= -CLEAR_VIOLATION):
        for d in np.argsort(lps):
            if lps[d] > 0 or spent >= BENCH_MILP_SECONDS:
                break
            A, b = prop.disjuncts[d]
            lower[d], upper[d], xd, sec = milp_disjunct(net, prop.lo, prop.hi, bounds, A, b,
                                                        BENCH_MILP_SECONDS - spent, BENCH_REL_GAP)
            spent += sec
            if upper[d] <= -CLEAR_VIOLATION and ort_margin(onnx_path, prop, xd) <= -CLEAR_VIOLATION:
                best, x = upper[d], xd
                break
        rec["milp_seconds"] = round(spent, 2)
    else:
        rec["milp_seconds"] = None
    lo_all, up_all = min(lower), min(min(upper), best)
    sat = up_all <= -CLEAR_VIOLATION
    rec.update({"truth": "sat" if sat else "unsat" if lo_all > 0 else "unknown",
                "milp_bounds": [rounded(lo_all), rounded(up_all)],
                "milp_margin": rounded(up_all) if up_all - lo_all <= 1e-6 * max(1.0, abs(up_all)) else None,
                "counterexample": [float(v) for v in x] if sat else None})
    return rec


def bench_instances():
    """(network name, Network, [(instance name, Prop, extra)]), and notes for the README."""
    rng = np.random.default_rng(BENCH_SEED)
    X = rng.uniform(-0.5, 0.5, (20000, 5))
    X_val = rng.uniform(-0.5, 0.5, (5000, 5))
    out, notes = [], []
    for k, (name, sizes) in enumerate(ACAS_NETS):
        net = fit(sizes, X, acas_costs(X), mce.mse, BENCH_SEED + k, 400, 1e-6)
        Yv, Tv = net.forward(X_val), acas_costs(X_val)
        rmse = float(np.sqrt(np.mean((Yv - Tv) ** 2)))
        agree = float(np.mean(Yv.argmin(1) == Tv.argmin(1)))
        notes.append(f"{name}: {'-'.join(map(str, sizes))}, fitted by MSE to acas_costs on 20000 uniform "
                     f"points; held-out RMSE {rmse:.4f}, advisory (argmin) agreement {agree:.3f}")
        out.append((name, net, [(n, p, {}) for n, p in acas_props(net)]))
    try:
        xtr, ytr, xte, yte = mce.digits_split()
    except ImportError:
        log("scikit-learn is not installed: the digits networks are skipped (pip install scikit-learn)")
        return out, notes
    for k, (name, sizes) in enumerate(DIGITS_NETS):
        net = fit(sizes, xtr, ytr, mce.softmax_ce, BENCH_SEED + 10 + k, 150, 1e-4)
        acc = float(np.mean(net.forward(xte).argmax(1) == yte))
        notes.append(f"{name}: {'-'.join(map(str, sizes))}, softmax cross-entropy on {len(ytr)} training "
                     f"images; test accuracy {acc:.4f} on {len(yte)}")
        out.append((name, net, digits_props(net, xte, yte)))
    return out, notes


def make_bench():
    for sub in ("onnx", "vnnlib"):
        os.makedirs(os.path.join(BENCH_OUT, sub), exist_ok=True)
    t_start = time.perf_counter()
    nets, notes = bench_instances()
    log("\n".join(notes) + f"\n(trained and properties designed in {time.perf_counter() - t_start:.0f}s)")
    records = []
    for k, (name, net, props) in enumerate(nets):
        onnx_path = os.path.join(BENCH_OUT, "onnx", f"{name}.onnx")
        write_network(net, onnx_path, BENCH_SEED + k)
        for inst, prop, extra in props:
            vnn = f"vnnlib/{name}_{inst}.vnnlib"
            write_vnnlib(prop, net.sizes[-1], os.path.join(BENCH_OUT, vnn),
                         f"{name} {inst} (Scripts/make_bab_fixtures.py)")
            rec = {"onnx": f"onnx/{name}.onnx", "vnnlib": vnn}
            rec.update(decide(net, onnx_path, prop, BENCH_SEED + len(records)), **extra)
            records.append(rec)
            log(f"{vnn}: {rec['truth']} lp {rec['lp_margin']} attack {rec['attack_margin']} "
                f"milp {rec['milp_bounds']} unstable {rec['unstable_root']} "
                f"(bounds {rec['bounds_seconds']}s attack {rec['attack_seconds']}s milp {rec['milp_seconds']}s)")
    write_index(BENCH_OUT, records)
    write_bench_readme(records, notes, time.perf_counter() - t_start)
    return records


# --------------------------------------------------------------------------
# READMEs and command line

MARGIN_TEXT = """\
Margin (all margins in expected.json).  A property is a disjunction of
disjuncts; a counterexample to disjunct d is an input in its box with
A_d y <= b_d row by row.  Its margin is
    m_d = min over the box of max_r (A_d y(x) - b_d)_r,
and the property's margin is min_d m_d: > 0 means unsat (the property holds),
< 0 means sat.  For one-row disjuncts (every instance except the ACAS-like
phi2/phi3 conjunctions) m_d = min(a.y) - b, so for the robustness form
(or (and (>= Y_j Y_c)) ...) the margin is min_j min_box (Y_c - Y_j).
  milp_margin  exact margin (MILP; the network's value at the optimal input)
  lp_margin    the same with the binaries relaxed: the triangle LP on LP-tight
               layer-by-layer bounds (make_lp_fixtures' lp_layers); lp_proves
               = lp_margin > 0
  unstable_root  hidden ReLUs whose LP-tight bounds straddle 0 (sum over layers)
  counterexample an input violating the property by a clear margin, checked
               with onnxruntime on the float32 model
  random_sampling_finds  256 uniform points in the box contain a violation
  attack_margin  best margin of the script's PGD attack (attack_finds: < 0)
"""


def write_test_readme(records):
    lines = ["Branch-and-bound fixtures, made by Scripts/make_bab_fixtures.py tests.", "",
             "Networks t_*.onnx: seeded random ReLU MLPs (make_lp_fixtures.random_network),",
             "opset 13 Gemm(transB=1)+Relu, input \"input\".  Boxes: threshold properties use",
             "make_lp_fixtures' radius rule (about 40% of the first layer unstable);",
             "robustness properties grow an L-inf box around a random point of its class.",
             f"Every instance has at most {MAX_UNSTABLE} unstable ReLUs and |milp_margin| >= 2% of",
             "range = max over rows r of (max - min of a_r.y over the box), both by MILP.", "",
             MARGIN_TEXT,
             "Extra fields: role (lp_hard: unsat, LP fails; lp_hard_tight: the same with",
             "the bound close to the exact optimum; lp_proves; sat_hidden: sat, and even",
             f"{HIDDEN_CHECK_POINTS} uniform samples miss it; sat_easy), range, attack_margin, attack_finds,",
             "lp_bab_domains: LP subproblems (summed over disjuncts) a plain depth-first",
             "LP branch and bound needs to prove an unsat instance (no intermediate-bound",
             "re-tightening, split on the largest triangle error at the LP optimum).", "",
             "instances.csv: VNN-COMP format onnx,vnnlib,timeout (no header).", "", "Instances:"]
    lines += [f"  {r['vnnlib']}: {r['truth']}, lp_proves {r['lp_proves']}, milp_margin {r['milp_margin']}, "
              f"random sampling finds {r['random_sampling_finds']}" for r in records]
    with open(os.path.join(TEST_OUT, "README.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def write_bench_readme(records, notes, seconds):
    counts = {t: sum(r["truth"] == t for r in records) for t in ("sat", "unsat", "unknown")}
    lines = ["Branch-and-bound benchmark, made by Scripts/make_bab_fixtures.py bench",
             f"({seconds / 60:.0f} min on one core).", "", "Networks (onnx/, float32, Gemm(transB=1)+Relu, input \"input\"):"]
    lines += [f"  {n}" for n in notes]
    lines += ["", acas_costs.__doc__.replace("\n    ", "\n"), "",
              "ACAS-like properties (vnnlib/acas_like_*): phi1 thresholds on the COC score",
              "(b from a design MILP: unsat between the exact max and the LP bound, sat just",
              "below the exact max), phi2 'COC is not maximal' and phi3 'COC is not minimal'",
              "(one disjunct of 4 rows each), phi4 'strong left stays minimal' (disjunction).",
              "Digits properties (vnnlib/digits_*): L-inf balls of eps 0.03 and 0.05, clipped to",
              "[0,1], around test images at quantiles " + ", ".join(map(str, DIGITS_QUANTILES)) +
              " of the clean logit margin among correctly classified ones; the VNN-COMP",
              "robustness form (or (and (>= Y_j Y_label)) ...).", "",
              "Truth: PGD attack (64 starts x 100 steps per disjunct; sat if the counterexample",
              f"violates by >= {CLEAR_VIOLATION} in float64 and in onnxruntime), else MILP (HiGHS) on",
              f"the disjuncts the LP does not prove, {BENCH_MILP_SECONDS:.0f} s per instance in all: unsat",
              "if every disjunct's bound is > 0, sat on a checked MILP counterexample,",
              "otherwise unknown.  milp_bounds = [lower, upper] on the margin; milp_margin",
              "is set when they meet (an LP-proved disjunct only contributes its LP bound).",
              "milp_seconds, attack_seconds, bounds_seconds: wall times of each step.", "",
              MARGIN_TEXT, f"Truth counts: {counts['sat']} sat, {counts['unsat']} unsat, {counts['unknown']} unknown.", ""]
    lines += [f"  {r['vnnlib']}: {r['truth']} (lp_proves {r['lp_proves']}, milp {r['milp_seconds']} s)"
              for r in records]
    with open(os.path.join(BENCH_OUT, "README.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv):
    part = argv[0] if argv else "all"
    if part not in ("tests", "bench", "all"):
        sys.exit("usage: make_bab_fixtures.py [tests|bench|all]")
    t0 = time.perf_counter()
    if part in ("tests", "all"):
        write_test_readme(make_tests())
        log(f"tests: {time.perf_counter() - t0:.0f}s")
    if part in ("bench", "all"):
        make_bench()
    log(f"total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
