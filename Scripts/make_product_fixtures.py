#!/usr/bin/env python3
"""Independent oracles for the product of two tensors (ONNX Mul and Div of
two input-dependent tensors), in the activation fixtures' format.

Networks (PyTorch-style export, opset 13):
  product_4_16_8_2   x -> tanh(W1 x + b1) -> a = Wa h + ba, c = Wc h + bc
                     -> Mul(a, c) -> Wo p + bo
  divide_4_16_8_2    the same with Div(a, 1 + sigmoid(c)) in place of Mul

For the product net each case holds, as make_activation_fixtures.py does:
sampled and attacked extremes, an independent CROWN (tanh lines as there,
McCormick planes for the product: the under-estimator through (la, lc) for a
positive coefficient, the over-estimator through (la, uc) for a negative
one), LP-tight bounds of each nonlinear node's input (HiGHS over the tanh
polygons and the four McCormick inequalities) and the LP optimum on them.
The divide net's relaxation holds a reciprocal whose polygon this script
does not rebuild, so its JSON has sampled and attacked extremes only. Both
hold onnxruntime's outputs on random inputs for the forward-pass check.

Usage:
    python3 Scripts/make_product_fixtures.py [--out Tests/Fixtures/activations]
It adds its networks to the folder's index.json (run it after
make_activation_fixtures.py, which rewrites the index). Offline tooling.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from scipy.optimize import linprog
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_activation_fixtures import LP_OPTIONS, N_SAMPLES, pair, relaxation, sigmoid  # noqa: E402

SEED = 20261203
TANH = {"kind": "tanh"}
PGD_STARTS, PGD_STEPS = 16, 80


def make_net(rng, n0, h, m, n_out):
    def layer(rows, cols, scale=1.5):
        return rng.normal(0, scale / np.sqrt(cols), (rows, cols)), rng.normal(0, 0.3, rows)
    (W1, b1), (Wa, ba), (Wc, bc), (Wo, bo) = layer(h, n0), layer(m, h), layer(m, h), layer(n_out, m)
    return {"W1": W1, "b1": b1, "Wa": Wa, "ba": ba, "Wc": Wc, "bc": bc, "Wo": Wo, "bo": bo}


def forward(net, x, divide):
    h = np.tanh(x @ net["W1"].T + net["b1"])
    a = h @ net["Wa"].T + net["ba"]
    c = h @ net["Wc"].T + net["bc"]
    p = a / (1.0 + sigmoid(c)) if divide else a * c
    return p @ net["Wo"].T + net["bo"]


def sample(net, lo, hi, rng, divide):
    x = rng.uniform(lo, hi, (N_SAMPLES * 4, lo.size))
    idx = np.array(np.meshgrid(*[[0, 1]] * lo.size)).reshape(lo.size, -1).T
    out = forward(net, np.vstack([x, lo + idx * (hi - lo)]), divide)
    return out.min(axis=0), out.max(axis=0)


def attack(net, lo, hi, rng, divide):
    """Sign-gradient ascent and descent from random starts (central differences)."""
    n_out = net["Wo"].shape[0]
    best_lo, best_hi = np.full(n_out, np.inf), np.full(n_out, -np.inf)
    step, eps = (hi - lo) / 20, 1e-6
    for j in range(n_out):
        for sign in (1.0, -1.0):
            x = rng.uniform(lo, hi, (PGD_STARTS, lo.size))
            for _ in range(PGD_STEPS):
                g = np.zeros_like(x)
                for i in range(lo.size):
                    e = np.zeros(lo.size)
                    e[i] = eps
                    g[:, i] = forward(net, x + e, divide)[:, j] - forward(net, x - e, divide)[:, j]
                x = np.clip(x + sign * step * np.sign(g), lo, hi)
            v = forward(net, x, divide)[:, j]
            best_lo[j], best_hi[j] = min(best_lo[j], v.min()), max(best_hi[j], v.max())
    return best_lo, best_hi


# --------------------------------------------------------------------- CROWN
def tanh_back(lam, const, l, u):
    """Replaces y = tanh(z) under coefficients lam (rows: objectives) by CROWN's lines."""
    lines = [relaxation(TANH, float(l[i]), float(u[i])) for i in range(l.size)]
    lo_s = np.array([ln[2][0] for ln in lines]); lo_c = np.array([ln[2][1] for ln in lines])
    hi_s = np.array([ln[3][0] for ln in lines]); hi_c = np.array([ln[3][1] for ln in lines])
    pos = lam >= 0
    const = const + np.where(pos, lam * lo_c, lam * hi_c).sum(axis=1)
    return np.where(pos, lam * lo_s, lam * hi_s), const


def crown_from_h(net, lo, hi, lam_h, const, z1b):
    """min of lam_h·h + const over the box, h = tanh(W1 x + b1) relaxed by CROWN's lines."""
    lam_z, const = tanh_back(lam_h, const, *z1b)
    const = const + lam_z @ net["b1"]
    lam_x = lam_z @ net["W1"]
    return const + np.where(lam_x >= 0, lam_x * lo, lam_x * hi).sum(axis=1)


def crown_all(net, lo, hi):
    W1, b1 = net["W1"], net["b1"]
    mid, rad = (lo + hi) / 2, (hi - lo) / 2
    z1 = (W1 @ mid + b1 - np.abs(W1) @ rad, W1 @ mid + b1 + np.abs(W1) @ rad)   # exact for one affine layer
    Wac = np.vstack([net["Wa"], net["Wc"]]); bac = np.concatenate([net["ba"], net["bc"]])
    n = Wac.shape[0]
    lower = crown_from_h(net, lo, hi, Wac, bac.copy(), z1)
    upper = -crown_from_h(net, lo, hi, -Wac, -bac.copy(), z1)
    ac = (lower, upper)
    m = n // 2
    la, ua, lc, uc = lower[:m], upper[:m], lower[m:], upper[m:]
    out = []
    for sign in (1.0, -1.0):
        lam = sign * net["Wo"]
        const = sign * net["bo"].copy()
        pos = lam >= 0
        # McCormick: p >= lc a + la c - la lc ; p <= uc a + la c - la uc
        coef_a = np.where(pos, lam * lc, lam * uc)
        coef_c = lam * la
        const = const + np.where(pos, -lam * la * lc, -lam * la * uc).sum(axis=1)
        lam_h = coef_a @ net["Wa"] + coef_c @ net["Wc"]
        const = const + coef_a @ net["ba"] + coef_c @ net["bc"]
        out.append(sign * crown_from_h(net, lo, hi, lam_h, const, z1))
    return [z1, ac], (out[0], out[1])


# ------------------------------------------------------------------------ LP
def lp(net, lo, hi, z1b, acb, objective):
    """Minimises each row of `objective` (on [a; c], or on the output when acb is given) over the relaxation."""
    n0, h = lo.size, net["W1"].shape[0]
    m = net["Wa"].shape[0]
    # variables: x, z1, y1, a, c, p
    ox, oz, oy, oa, oc, op = 0, n0, n0 + h, n0 + 2 * h, n0 + 2 * h + m, n0 + 2 * h + 2 * m
    total = op + m
    A_eq, b_eq, A_ub, b_ub = [], [], [], []
    for i in range(h):
        row = np.zeros(total); row[oz + i] = -1; row[ox:ox + n0] = net["W1"][i]
        A_eq.append(row); b_eq.append(-net["b1"][i])
        lows, ups, _, _ = relaxation(TANH, float(z1b[0][i]), float(z1b[1][i]))
        for s, c in lows:
            row = np.zeros(total); row[oz + i] = s; row[oy + i] = -1; A_ub.append(row); b_ub.append(-c)
        for s, c in ups:
            row = np.zeros(total); row[oz + i] = -s; row[oy + i] = 1; A_ub.append(row); b_ub.append(c)
    for (W, b, o) in ((net["Wa"], net["ba"], oa), (net["Wc"], net["bc"], oc)):
        for i in range(m):
            row = np.zeros(total); row[o + i] = -1; row[oy:oy + h] = W[i]
            A_eq.append(row); b_eq.append(-b[i])
    bounds = [(float(lo[i]), float(hi[i])) for i in range(n0)]
    bounds += [(float(z1b[0][i]), float(z1b[1][i])) for i in range(h)] + [(None, None)] * h
    if acb is None:
        bounds += [(None, None)] * (3 * m)
    else:
        la, ua = acb[0][:m], acb[1][:m]
        lc, uc = acb[0][m:], acb[1][m:]
        bounds += [(float(la[i]), float(ua[i])) for i in range(m)] + [(float(lc[i]), float(uc[i])) for i in range(m)]
        bounds += [(None, None)] * m
        for i in range(m):
            # p >= lc a + la c - la lc ; p >= uc a + ua c - ua uc
            for (ca, cc, k) in ((lc[i], la[i], la[i] * lc[i]), (uc[i], ua[i], ua[i] * uc[i])):
                row = np.zeros(total); row[oa + i] = ca; row[oc + i] = cc; row[op + i] = -1
                A_ub.append(row); b_ub.append(k)
            # p <= uc a + la c - la uc ; p <= lc a + ua c - ua lc
            for (ca, cc, k) in ((uc[i], la[i], la[i] * uc[i]), (lc[i], ua[i], ua[i] * lc[i])):
                row = np.zeros(total); row[oa + i] = -ca; row[oc + i] = -cc; row[op + i] = 1
                A_ub.append(row); b_ub.append(-k)
    values = []
    for obj, const in objective:
        cvec = np.zeros(total)
        if acb is None:
            cvec[oa:oa + 2 * m] = obj
        else:
            cvec[op:op + m] = obj
        r = linprog(cvec, A_ub=np.array(A_ub), b_ub=b_ub, A_eq=np.array(A_eq), b_eq=b_eq,
                    bounds=bounds, method="highs", options=LP_OPTIONS)
        assert r.status == 0, r.message
        values.append(r.fun + const)
    return np.array(values)


def lp_all(net, lo, hi, crown_pre):
    z1b, acb_crown = crown_pre
    n = 2 * net["Wa"].shape[0]
    eye = np.eye(n)
    lower = lp(net, lo, hi, z1b, None, [(eye[i], 0.0) for i in range(n)])
    upper = -lp(net, lo, hi, z1b, None, [(-eye[i], 0.0) for i in range(n)])
    acb = (np.maximum(lower, acb_crown[0]), np.minimum(upper, acb_crown[1]))
    Wo, bo = net["Wo"], net["bo"]
    out_lo = lp(net, lo, hi, z1b, acb, [(Wo[j], bo[j]) for j in range(Wo.shape[0])])
    out_hi = -lp(net, lo, hi, z1b, acb, [(-Wo[j], -bo[j]) for j in range(Wo.shape[0])])
    return [z1b, acb], (out_lo, out_hi)


# --------------------------------------------------------------------- ONNX
def export(net, path, divide):
    inits = [numpy_helper.from_array(net[k].astype(np.float64), k) for k in ("W1", "b1", "Wa", "ba", "Wc", "bc",
                                                                            "Wo", "bo")]
    nodes = [helper.make_node("Gemm", ["input", "W1", "b1"], ["z1"], name="fc1", transB=1),
             helper.make_node("Tanh", ["z1"], ["h"], name="tanh1"),
             helper.make_node("Gemm", ["h", "Wa", "ba"], ["a"], name="fc_a", transB=1),
             helper.make_node("Gemm", ["h", "Wc", "bc"], ["c"], name="fc_c", transB=1)]
    if divide:
        inits.append(numpy_helper.from_array(np.array([1.0]), "one"))
        nodes += [helper.make_node("Sigmoid", ["c"], ["s"], name="sig"),
                  helper.make_node("Add", ["s", "one"], ["den"], name="plus_one"),
                  helper.make_node("Div", ["a", "den"], ["p"], name="divide")]
    else:
        nodes.append(helper.make_node("Mul", ["a", "c"], ["p"], name="product"))
    nodes.append(helper.make_node("Gemm", ["p", "Wo", "bo"], ["output"], name="fc_out", transB=1))
    n0, n_out = net["W1"].shape[1], net["Wo"].shape[0]
    graph = helper.make_graph(nodes, "two_branch",
                              [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [1, n0])],
                              [helper.make_tensor_value_info("output", TensorProto.DOUBLE, [1, n_out])], inits)
    model = helper.make_model(graph, producer_name="make_product_fixtures", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def reference_outputs(path, net, rng, divide, count=8):
    """onnxruntime's outputs (checked against numpy) on random inputs."""
    import onnxruntime as ort
    sess = ort.InferenceSession(path)
    xs = rng.uniform(-1, 1, (count, net["W1"].shape[1]))
    ys = [sess.run(None, {"input": x[None, :]})[0][0] for x in xs]
    assert np.allclose(np.array(ys), forward(net, xs, divide), atol=1e-12)
    return {"inputs": xs.tolist(), "outputs": [list(map(float, y)) for y in ys]}


def export_reciprocal(path):
    """x -> 1 / (W x + b) -> sum: over a box where W x + b crosses 0 no bound exists (the CLI must say which node)."""
    W = np.array([[1.0, 0.5], [0.2, -1.0], [1.0, 1.0]]); b = np.array([2.0, 3.0, 0.0])
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.ones((1, 3)), "S"), numpy_helper.from_array(np.zeros(1), "z")]
    nodes = [helper.make_node("Gemm", ["input", "W", "b"], ["d"], name="fc", transB=1),
             helper.make_node("Reciprocal", ["d"], ["r"], name="inverse"),
             helper.make_node("Gemm", ["r", "S", "z"], ["output"], name="sum", transB=1)]
    graph = helper.make_graph(nodes, "reciprocal", [helper.make_tensor_value_info("input", TensorProto.DOUBLE, [1, 2])],
                              [helper.make_tensor_value_info("output", TensorProto.DOUBLE, [1, 1])], inits)
    model = helper.make_model(graph, producer_name="make_product_fixtures", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/Fixtures/activations")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    names = []
    for name, divide in (("product_4_16_8_2", False), ("divide_4_16_8_2", True)):
        net = make_net(rng, 4, 16, 8, 2)
        path = os.path.join(args.out, name + ".onnx")
        export(net, path, divide)
        cases = []
        for radius in (0.1, 0.4):
            centre = rng.uniform(-1, 1, 4)
            lo, hi = centre - radius, centre + radius
            s_lo, s_hi = sample(net, lo, hi, rng, divide)
            a_lo, a_hi = attack(net, lo, hi, rng, divide)
            case = {"box": pair(lo, hi), "sampled": pair(s_lo, s_hi), "attacked": pair(a_lo, a_hi)}
            seen_lo, seen_hi = np.minimum(s_lo, a_lo), np.maximum(s_hi, a_hi)
            if not divide:
                crown_pre, (c_lo, c_hi) = crown_all(net, lo, hi)
                lp_pre, (l_lo, l_hi) = lp_all(net, lo, hi, crown_pre)
                assert np.all(l_lo <= seen_lo + 1e-7) and np.all(l_hi >= seen_hi - 1e-7), name
                assert np.all(c_lo <= l_lo + 1e-7) and np.all(c_hi >= l_hi - 1e-7), name
                case.update({"crown": pair(c_lo, c_hi), "lp": pair(l_lo, l_hi),
                             "lp_layers": [pair(l, u) for l, u in lp_pre]})
                print(f"{name} r={radius}: crown width {np.mean(c_hi - c_lo):.4f}, "
                      f"lp width {np.mean(l_hi - l_lo):.4f}, seen width {np.mean(seen_hi - seen_lo):.4f}")
            cases.append(case)
        fixture = {"name": name, "opset": 13, "cases": cases,
                   "forward": reference_outputs(path, net, rng, divide)}
        file = name + (".json" if not divide else ".soundness.json")
        with open(os.path.join(args.out, file), "w") as fh:
            json.dump(fixture, fh, indent=1)
        if not divide:
            names.append(name)
    export_reciprocal(os.path.join(args.out, "reciprocal_2_3_1.onnx"))
    index_path = os.path.join(args.out, "index.json")
    with open(index_path) as fh:
        index = json.load(fh)
    index["networks"] = [n for n in index["networks"] if n not in names] + names
    with open(index_path, "w") as fh:
        json.dump(index, fh, indent=1)


if __name__ == "__main__":
    main()
