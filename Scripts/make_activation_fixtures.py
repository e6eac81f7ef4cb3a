#!/usr/bin/env python3
"""Independent oracles for ReachGuard's operators on tanh, sigmoid, LeakyReLU,
HardTanh (Clip) and Softplus networks.

Each network is a PyTorch-style MLP exported to ONNX (opset 13: Gemm with
transB=1, then the activation node; one HardTanh net uses opset 6's Clip
attributes). Per case (an input box) the JSON holds:
  * sampled     min / max per output over uniform samples and the box corners
  * attacked    min / max after projected-gradient (sign) ascent/descent from
                random starts: values the network attains
  * crown       an independent CROWN (backward linear bounds, layer by layer
                intermediates) with the standard relaxations auto_LiRPA uses:
                convex side tangent at the midpoint and chord, concave side
                mirrored, tangents through the end points across the inflection,
                the adaptive lower slope for (leaky) ReLU-like pieces
  * lp_layers   LP-tight bounds of each activation's input: HiGHS over the
                polygon relaxation of the layers below (built here, with the
                same tangent points as ReachGuard's sets, without its rounding
                margins), intersected with IBP
  * lp          min / max of each output over that polygon relaxation on lp_layers

The Swift side (Tests/OperatorTests/ActivationOracleTests.swift) checks that
certified bounds contain sampled and attacked values, are never tighter than
the LP optimum (less a rounding slack), reach it within 1e-3 when fed
lp_layers, and are never looser than the independent CROWN.

Usage:
    python3 Scripts/make_activation_fixtures.py [--out Tests/Fixtures/activations]

Offline tooling; tests only read its JSON and ONNX output.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
from scipy.optimize import linprog
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20261202
LP_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
N_SAMPLES = 3000
PGD_STARTS, PGD_STEPS = 8, 60


# ---------------------------------------------------------------- functions
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


SMOOTH = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2, "s"),
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1.0 - sigmoid(z)), "s"),
    "softplus": (lambda z: np.logaddexp(0.0, z), sigmoid, "convex"),
}


def act_value(act, z):
    kind = act["kind"]
    if kind in SMOOTH:
        return SMOOTH[kind][0](z)
    if kind == "leaky":
        return np.where(z >= 0, z, act["alpha"] * z)
    if kind == "clip":
        return np.clip(z, act["min"], act["max"])
    raise ValueError(kind)


def act_derivative(act, z):
    kind = act["kind"]
    if kind in SMOOTH:
        return SMOOTH[kind][1](z)
    if kind == "leaky":
        return np.where(z >= 0, 1.0, act["alpha"])
    return np.where((z > act["min"]) & (z < act["max"]), 1.0, 0.0)


# ------------------------------------------------------------ relaxations
def tangent(f, df, d):
    a = float(df(d))
    return (a, float(f(d)) - a * d)


def chord(f, l, u):
    if u <= l:
        return (0.0, float(f(l)))
    a = (float(f(u)) - float(f(l))) / (u - l)
    return (a, float(f(l)) - a * l)


def s_lower(f, df, l, u):
    """Lower lines of an increasing function convex below 0, concave above (l < 0 < u)."""
    def below_u(d):
        return f(d) + df(d) * (u - d) < f(u)
    if not below_u(l):
        c = chord(f, l, u)
        return [c], c
    lo, hi = l, 0.0
    for _ in range(80):
        mid = lo / 2 + hi / 2
        if mid <= lo or mid >= hi:
            break
        if below_u(mid):
            lo = mid
        else:
            hi = mid
    t = tangent(f, df, lo)
    return ([t, tangent(f, df, l)] if lo > l else [t]), t


def smooth_lines(kind, l, u):
    """(lower lines, upper lines, crown lower, crown upper) as ReachGuard builds them."""
    f, df, shape = SMOOTH[kind]
    m = l / 2 + u / 2
    if shape == "convex" or u <= 0:
        lows = [tangent(f, df, d) for d in (l, m, u)]
        c = chord(f, l, u)
        return lows, [c], tangent(f, df, m), c
    if l >= 0:
        ups = [tangent(f, df, d) for d in (l, m, u)]
        c = chord(f, l, u)
        return [c], ups, c, tangent(f, df, m)
    lows, crown_lo = s_lower(f, df, l, u)
    g = lambda z: -f(-z)  # noqa: E731
    dg = lambda z: df(-z)  # noqa: E731
    mir, crown_mir = s_lower(g, dg, -u, -l)
    ups = [(a, -b) for a, b in mir]
    return lows, ups, crown_lo, (crown_mir[0], -crown_mir[1])


def piecewise_lines(act, l, u):
    """The hull of the graph's corner points of a piecewise-linear activation:
    its lower chain's edges bound y below, its upper chain's above; CROWN's
    line is each chain's longest edge (for ReLU-like pieces the adaptive slope)."""
    pts = sorted(set([l] + [c for c in corners(act) if l < c < u] + [u]))
    pts = [(p, float(act_value(act, np.array(p)))) for p in pts]

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def chain(points):
        h = []
        for p in points:
            while len(h) >= 2 and cross(h[-2], h[-1], p) <= 0:
                h.pop()
            h.append(p)
        return h

    lower = chain(pts)
    upper = chain(pts[::-1])[::-1]

    def lines(ch):
        out = []
        for (z0, y0), (z1, y1) in zip(ch[:-1], ch[1:]):
            a = (y1 - y0) / (z1 - z0) if z1 > z0 else 0.0
            out.append(((a, y0 - a * z0), z1 - z0))
        if not out:
            out.append(((0.0, ch[0][1]), 0.0))
        return out

    lo, up = lines(lower), lines(upper)

    def longest(ls):
        best, best_len = ls[0][0], -1.0
        for line, length in ls:
            if length >= best_len:
                best, best_len = line, length
        return best

    return [x[0] for x in lo], [x[0] for x in up], longest(lo), longest(up)


def corners(act):
    if act["kind"] == "leaky":
        return [0.0]
    if act["kind"] == "clip":
        return [act["min"], act["max"]]
    return []


def relaxation(act, l, u):
    if act["kind"] in SMOOTH:
        return smooth_lines(act["kind"], l, u)
    return piecewise_lines(act, l, u)


def act_interval(act, l, u):
    return act_value(act, l), act_value(act, u)   # all activations here are monotone


# ----------------------------------------------------------------- networks
def make_net(rng, sizes, act, scale=1.0):
    Ws, bs = [], []
    for i in range(len(sizes) - 1):
        Ws.append(rng.normal(0, scale / np.sqrt(sizes[i]), (sizes[i + 1], sizes[i])))
        bs.append(rng.normal(0, 0.3, sizes[i + 1]))
    return {"W": Ws, "b": bs, "act": act}


def forward(net, x):
    """x: (N, n0) -> list of (z_k, y_k) and the output."""
    y = x
    layers = []
    for k, (W, b) in enumerate(zip(net["W"], net["b"])):
        z = y @ W.T + b
        if k == len(net["W"]) - 1:
            return layers, z
        y = act_value(net["act"], z)
        layers.append((z, y))


def gradient(net, x, out_index):
    layers, out = forward(net, x)
    g = np.zeros_like(out)
    g[:, out_index] = 1.0
    g = g @ net["W"][-1]
    for k in range(len(layers) - 1, -1, -1):
        z, _ = layers[k]
        g = (g * act_derivative(net["act"], z)) @ net["W"][k]
    return g


def attack(net, lo, hi, rng):
    n_out = net["W"][-1].shape[0]
    best_lo, best_hi = np.full(n_out, np.inf), np.full(n_out, -np.inf)
    step = (hi - lo) / 20
    for j in range(n_out):
        for sign in (1.0, -1.0):
            x = rng.uniform(lo, hi, (PGD_STARTS, lo.size))
            for _ in range(PGD_STEPS):
                x = np.clip(x + sign * step * np.sign(gradient(net, x, j)), lo, hi)
            v = forward(net, x)[1][:, j]
            best_lo[j] = min(best_lo[j], v.min())
            best_hi[j] = max(best_hi[j], v.max())
    return best_lo, best_hi


def sample(net, lo, hi, rng):
    x = rng.uniform(lo, hi, (N_SAMPLES, lo.size))
    n = lo.size
    if n <= 8:
        idx = np.array(np.meshgrid(*[[0, 1]] * n)).reshape(n, -1).T
        x = np.vstack([x, lo + idx * (hi - lo)])
    out = forward(net, x)[1]
    return out.min(axis=0), out.max(axis=0)


# --------------------------------------------------------------------- CROWN
def crown_bounds(net, lo, hi, upto, pre):
    """Bounds of z_upto (or the output when upto == len(W)-1) from the pre-activation bounds `pre`."""
    W, b = net["W"], net["b"]
    n = W[upto].shape[0]
    result = []
    for sign in (1.0, -1.0):
        lam = sign * np.eye(n) @ W[upto]
        const = sign * b[upto].copy()
        for k in range(upto - 1, -1, -1):
            l, u = pre[k]
            slope_lo, icpt_lo, slope_hi, icpt_hi = [], [], [], []
            for i in range(l.size):
                _, _, cl, cu = relaxation(net["act"], float(l[i]), float(u[i]))
                slope_lo.append(cl[0]); icpt_lo.append(cl[1])
                slope_hi.append(cu[0]); icpt_hi.append(cu[1])
            slope_lo, icpt_lo = np.array(slope_lo), np.array(icpt_lo)
            slope_hi, icpt_hi = np.array(slope_hi), np.array(icpt_hi)
            pos = lam >= 0
            const = const + np.where(pos, lam * icpt_lo, lam * icpt_hi).sum(axis=1)
            lam = np.where(pos, lam * slope_lo, lam * slope_hi)
            const = const + lam @ b[k]
            lam = lam @ W[k]
        value = const + np.where(lam >= 0, lam * lo, lam * hi).sum(axis=1)
        result.append(sign * value)
    return result[0], result[1]


def crown_all(net, lo, hi):
    pre = []
    for k in range(len(net["W"]) - 1):
        l, u = crown_bounds(net, lo, hi, k, pre)
        pre.append((l, u))
    return pre, crown_bounds(net, lo, hi, len(net["W"]) - 1, pre)


# ------------------------------------------------------------------------ LP
def lp_bounds(net, lo, hi, upto, pre):
    """min/max of each neuron of z_upto over the polygon relaxation on `pre`."""
    W, b = net["W"], net["b"]
    sizes = [lo.size] + [w.shape[0] for w in W[:upto]]
    # Variables: x, then (z_k, y_k) for k < upto.
    offs, total = [0], lo.size
    for k in range(upto):
        offs.append(total)
        total += 2 * sizes[k + 1]
    A_eq, b_eq, A_ub, b_ub = [], [], [], []
    bounds = [(float(lo[i]), float(hi[i])) for i in range(lo.size)]
    for k in range(upto):
        n = sizes[k + 1]
        zo, yo = offs[k + 1], offs[k + 1] + n
        prev = 0 if k == 0 else offs[k] + sizes[k]
        l, u = pre[k]
        for i in range(n):
            row = np.zeros(total)
            row[zo + i] = -1.0
            row[prev:prev + sizes[k]] = W[k][i]
            A_eq.append(row); b_eq.append(-b[k][i])
            lows, ups, _, _ = relaxation(net["act"], float(l[i]), float(u[i]))
            for a, c in lows:     # y >= a z + c
                row = np.zeros(total); row[zo + i] = a; row[yo + i] = -1.0
                A_ub.append(row); b_ub.append(-c)
            for a, c in ups:      # y <= a z + c
                row = np.zeros(total); row[zo + i] = -a; row[yo + i] = 1.0
                A_ub.append(row); b_ub.append(c)
        bounds += [(float(l[i]), float(u[i])) for i in range(n)] + [(None, None)] * n
    last = 0 if upto == 0 else offs[upto] + sizes[upto]
    n_out = W[upto].shape[0]
    out_lo, out_hi = np.zeros(n_out), np.zeros(n_out)
    for j in range(n_out):
        for sign in (1.0, -1.0):
            cvec = np.zeros(total)
            cvec[last:last + sizes[upto]] = sign * W[upto][j]
            r = linprog(cvec, A_ub=np.array(A_ub) if A_ub else None, b_ub=b_ub or None,
                        A_eq=np.array(A_eq) if A_eq else None, b_eq=b_eq or None,
                        bounds=bounds, method="highs", options=LP_OPTIONS)
            assert r.status == 0, r.message
            v = sign * r.fun + b[upto][j]
            if sign > 0:
                out_lo[j] = v
            else:
                out_hi[j] = v
    return out_lo, out_hi


def lp_all(net, lo, hi, crown_pre):
    pre = []
    for k in range(len(net["W"]) - 1):
        l, u = lp_bounds(net, lo, hi, k, pre)
        cl, cu = crown_pre[k]
        pre.append((np.maximum(l, cl), np.minimum(u, cu)))
    return pre, lp_bounds(net, lo, hi, len(net["W"]) - 1, pre)


# --------------------------------------------------------------------- ONNX
def export(net, path, opset=13):
    act = net["act"]
    nodes, inits = [], []
    prev = "input"
    for k, (W, b) in enumerate(zip(net["W"], net["b"])):
        inits += [numpy_helper.from_array(W.astype(np.float64), f"W{k}"),
                  numpy_helper.from_array(b.astype(np.float64), f"b{k}")]
        out = "output" if k == len(net["W"]) - 1 else f"z{k}"
        nodes.append(helper.make_node("Gemm", [prev, f"W{k}", f"b{k}"], [out], name=f"fc{k}", transB=1))
        if k == len(net["W"]) - 1:
            break
        y = f"y{k}"
        kind = act["kind"]
        if kind == "tanh":
            nodes.append(helper.make_node("Tanh", [out], [y], name=f"act{k}"))
        elif kind == "sigmoid":
            nodes.append(helper.make_node("Sigmoid", [out], [y], name=f"act{k}"))
        elif kind == "softplus":
            nodes.append(helper.make_node("Softplus", [out], [y], name=f"act{k}"))
        elif kind == "leaky":
            nodes.append(helper.make_node("LeakyRelu", [out], [y], name=f"act{k}", alpha=act["alpha"]))
        elif kind == "clip" and opset < 11:
            nodes.append(helper.make_node("Clip", [out], [y], name=f"act{k}", min=act["min"], max=act["max"]))
        else:
            inits += [numpy_helper.from_array(np.array(act["min"]), f"cmin{k}"),
                      numpy_helper.from_array(np.array(act["max"]), f"cmax{k}")]
            nodes.append(helper.make_node("Clip", [out, f"cmin{k}", f"cmax{k}"], [y], name=f"act{k}"))
        prev = y
    n_in, n_out = net["W"][0].shape[1], net["W"][-1].shape[0]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [1, n_in])],
                              [helper.make_tensor_value_info("output", TensorProto.DOUBLE, [1, n_out])], inits)
    model = helper.make_model(graph, producer_name="make_activation_fixtures",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset >= 13 else 3
    onnx.save(model, path)


NETWORKS = [
    ("tanh_4_64_64_2", [4, 64, 64, 2], {"kind": "tanh"}, 13, [0.05, 0.3]),
    ("sigmoid_6_64_64_64_3", [6, 64, 64, 64, 3], {"kind": "sigmoid"}, 13, [0.05, 0.3]),
    ("leaky_5_32_32_2", [5, 32, 32, 2], {"kind": "leaky", "alpha": 0.1}, 13, [0.1, 0.5]),
    ("leaky_steep_4_16_16_2", [4, 16, 16, 2], {"kind": "leaky", "alpha": 2.5}, 13, [0.1, 0.5]),
    ("hardtanh_4_32_32_2", [4, 32, 32, 2], {"kind": "clip", "min": -1.0, "max": 1.0}, 13, [0.1, 0.5]),
    ("relu6_opset6_4_16_16_2", [4, 16, 16, 2], {"kind": "clip", "min": 0.0, "max": 6.0}, 6, [0.2, 1.0]),
    ("softplus_4_32_32_2", [4, 32, 32, 2], {"kind": "softplus"}, 13, [0.1, 0.5]),
]


def pair(l, u):
    return {"lower": [float(v) for v in l], "upper": [float(v) for v in u]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/Fixtures/activations")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    index = []
    for name, sizes, act, opset, radii in NETWORKS:
        net = make_net(rng, sizes, act, scale=1.5)
        export(net, os.path.join(args.out, name + ".onnx"), opset)
        cases = []
        for radius in radii:
            centre = rng.uniform(-1, 1, sizes[0])
            lo, hi = centre - radius, centre + radius
            s_lo, s_hi = sample(net, lo, hi, rng)
            a_lo, a_hi = attack(net, lo, hi, rng)
            crown_pre, (c_lo, c_hi) = crown_all(net, lo, hi)
            lp_pre, (l_lo, l_hi) = lp_all(net, lo, hi, crown_pre)
            seen_lo, seen_hi = np.minimum(s_lo, a_lo), np.maximum(s_hi, a_hi)
            assert np.all(l_lo <= seen_lo + 1e-7) and np.all(l_hi >= seen_hi - 1e-7), name
            assert np.all(c_lo <= l_lo + 1e-7) and np.all(c_hi >= l_hi - 1e-7), name
            cases.append({"box": pair(lo, hi), "sampled": pair(s_lo, s_hi), "attacked": pair(a_lo, a_hi),
                          "crown": pair(c_lo, c_hi), "lp": pair(l_lo, l_hi),
                          "lp_layers": [pair(l, u) for l, u in lp_pre]})
            print(f"{name} r={radius}: crown width {np.mean(c_hi - c_lo):.4f}, lp width {np.mean(l_hi - l_lo):.4f}, "
                  f"seen width {np.mean(seen_hi - seen_lo):.4f}")
        with open(os.path.join(args.out, name + ".json"), "w") as fh:
            json.dump({"name": name, "activation": act, "opset": opset, "cases": cases}, fh, indent=1)
        index.append(name)
    with open(os.path.join(args.out, "index.json"), "w") as fh:
        json.dump({"networks": index}, fh, indent=1)


if __name__ == "__main__":
    main()
