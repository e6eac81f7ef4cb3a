#!/usr/bin/env python3
"""A tanh policy for the bundled examples: a 2-64-64-1 tanh network trained
by behaviour cloning of an LQR controller on a double integrator with a
0.2 s step (position, velocity; u = acceleration, saturated to [-1, 1]).

Writes
  Config/tanh_policy/controller.onnx   the policy (PyTorch-style Gemm + Tanh, opset 13)
  Tests/Fixtures/reach/tanh_policy.json
      per case: the box, the horizon, and the per-step envelope of 20,000
      trajectories simulated here with numpy ("exact" holds this sampled
      envelope: a tube must contain it; there is no MILP for tanh).
  Config/tanh_policy/plant_network.onnx   the same plant as a learned one-step
      model x' = net(x, u) (one Gemm [A B]), for Config/tanh_policy/network_plant.toml
  Tests/Fixtures/reach/tanh_policy_network_plant.json   the same cases and envelopes

Usage: python3 Scripts/make_tanh_policy.py [--plant-only]
  --plant-only writes only the plant network and its fixture (from tanh_policy.json).
Offline tooling; the product and tests read only its outputs.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from scipy.linalg import solve_discrete_are

SEED = 7
DT = 0.2
A = np.array([[1.0, DT], [0.0, 1.0]])
B = np.array([[0.5 * DT * DT], [DT]])
HIDDEN = 64
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lqr_gain():
    Q, R = np.diag([1.0, 0.5]), np.array([[1.0]])
    P = solve_discrete_are(A, B, Q, R)
    return np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)


def init(rng):
    sizes = [2, HIDDEN, HIDDEN, 1]
    return [(rng.normal(0, 1 / np.sqrt(a), (b, a)), np.zeros(b)) for a, b in zip(sizes[:-1], sizes[1:])]


def forward(params, x):
    acts = [x]
    h = x
    for k, (W, b) in enumerate(params):
        z = h @ W.T + b
        h = z if k == len(params) - 1 else np.tanh(z)
        acts.append(h)
    return acts


def train(rng, steps=4000, lr=3e-3):
    K = lqr_gain()
    params = init(rng)
    m = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    v = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    for t in range(1, steps + 1):
        x = rng.uniform([-3, -2], [3, 2], (512, 2))
        target = np.clip(-(x @ K.T), -1, 1)
        acts = forward(params, x)
        g = 2 * (acts[-1] - target) / len(x)
        grads = []
        for k in range(len(params) - 1, -1, -1):
            W, _ = params[k]
            grads.append((g.T @ acts[k], g.sum(axis=0)))
            g = g @ W
            if k > 0:
                g = g * (1 - acts[k] ** 2)
        grads.reverse()
        for k in range(len(params)):
            new = []
            for j in range(2):
                m[k][j][...] = 0.9 * m[k][j] + 0.1 * grads[k][j]
                v[k][j][...] = 0.999 * v[k][j] + 0.001 * grads[k][j] ** 2
                step = lr * (m[k][j] / (1 - 0.9 ** t)) / (np.sqrt(v[k][j] / (1 - 0.999 ** t)) + 1e-8)
                new.append(params[k][j] - step)
            params[k] = (new[0], new[1])
    x = rng.uniform([-3, -2], [3, 2], (4096, 2))
    err = np.abs(forward(params, x)[-1] - np.clip(-(x @ K.T), -1, 1)).max()
    print(f"max imitation error on the training region: {err:.4f}")
    return params


def export(params, path):
    nodes, inits, prev = [], [], "state"
    for k, (W, b) in enumerate(params):
        inits += [numpy_helper.from_array(W.astype(np.float32), f"W{k}"),
                  numpy_helper.from_array(b.astype(np.float32), f"b{k}")]
        out = "action" if k == len(params) - 1 else f"z{k}"
        nodes.append(helper.make_node("Gemm", [prev, f"W{k}", f"b{k}"], [out], name=f"fc{k}", transB=1))
        if k < len(params) - 1:
            nodes.append(helper.make_node("Tanh", [out], [f"h{k}"], name=f"tanh{k}"))
            prev = f"h{k}"
    graph = helper.make_graph(nodes, "tanh_policy",
                              [helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("action", TensorProto.FLOAT, [1, 1])], inits)
    model = helper.make_model(graph, producer_name="make_tanh_policy", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def simulate(params32, x0, horizon):
    xs = [x0]
    x = x0
    for _ in range(horizon):
        u = np.clip(forward(params32, x)[-1], -1, 1)
        x = x @ A.T + u @ B.T
        xs.append(x)
    return xs


def export_plant_network():
    """x' = [A B] [x; u] as an ONNX Gemm: the closed loop through a network plant."""
    W = np.hstack([A, B])
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(np.zeros(2), "b")]
    nodes = [helper.make_node("Gemm", ["xu", "W", "b"], ["next"], name="step", transB=1)]
    graph = helper.make_graph(nodes, "double_integrator_step",
                              [helper.make_tensor_value_info("xu", TensorProto.DOUBLE, [1, 3])],
                              [helper.make_tensor_value_info("next", TensorProto.DOUBLE, [1, 2])], inits)
    model = helper.make_model(graph, producer_name="make_tanh_policy", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, os.path.join(ROOT, "Config/tanh_policy/plant_network.onnx"))
    with open(os.path.join(ROOT, "Tests/Fixtures/reach/tanh_policy.json")) as fh:
        fixture = json.load(fh)
    fixture.update({"name": "tanh_policy_network_plant", "system": "Config/tanh_policy/network_plant.toml"})
    with open(os.path.join(ROOT, "Tests/Fixtures/reach/tanh_policy_network_plant.json"), "w") as fh:
        json.dump(fixture, fh, indent=1)


def main():
    if "--plant-only" in sys.argv[1:]:
        export_plant_network()
        return
    rng = np.random.default_rng(SEED)
    params = train(rng)
    os.makedirs(os.path.join(ROOT, "Config/tanh_policy"), exist_ok=True)
    export(params, os.path.join(ROOT, "Config/tanh_policy/controller.onnx"))
    # The ONNX file holds float32 weights; simulate with exactly those values.
    params32 = [(W.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)) for W, b in params]
    cases = []
    for label, lo, hi, horizon in [("near_origin", [0.4, -0.2], [0.6, 0.0], 3),
                                   ("approach", [-2.1, 0.4], [-1.9, 0.6], 4)]:
        lo, hi = np.array(lo), np.array(hi)
        x0 = rng.uniform(lo, hi, (20000, 2))
        corners = np.array([[a, b] for a in (lo[0], hi[0]) for b in (lo[1], hi[1])])
        xs = simulate(params32, np.vstack([x0, corners]), horizon)
        steps = [{"t": t, "lower": xs[t].min(axis=0).tolist(), "upper": xs[t].max(axis=0).tolist()}
                 for t in range(1, horizon + 1)]
        cases.append({"label": label, "box": {"lower": lo.tolist(), "upper": hi.tolist()}, "horizon": horizon,
                      "exact": steps, "sampled": steps, "unsafe_max": []})
    fixture = {"name": "tanh_policy", "system": "Config/tanh_policy/system.toml", "unsafe": [],
               "generator": "Scripts/make_tanh_policy.py (exact = envelope of 20,000 numpy trajectories)",
               "cases": cases}
    with open(os.path.join(ROOT, "Tests/Fixtures/reach/tanh_policy.json"), "w") as fh:
        json.dump(fixture, fh, indent=1)
    export_plant_network()


if __name__ == "__main__":
    main()
