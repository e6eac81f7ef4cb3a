#!/usr/bin/env python3
"""A discrete-time nonlinear plant written as expressions, for the reach tests.

Writes
  Tests/Fixtures/discrete/pendulum.toml      a pendulum stepped by explicit Euler,
      next = [th + dt*om, om + dt*(-g/l*sin(th) - b*om + u1)], with a PD
      controller u1 = clip(-k1 th - k2 om, -2, 2)
  Tests/Fixtures/discrete/pd_controller.onnx  that PD law as a 2-2-1 ReLU network
      (relu(v) - relu(-v) = v: exact)
  Tests/Fixtures/reach/discrete_pendulum.json per case the box, the horizon and
      the per-step envelope of 20,000 trajectories simulated here with numpy
      ("exact": a tube must contain it)

Usage: python3 Scripts/make_discrete_fixtures.py   (offline tooling)
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DT, G, L, B = 0.05, 9.81, 1.0, 0.1
K = np.array([6.0, 2.0])
U_MAX = 2.0
SEED = 11

TOML = f'''# A pendulum stepped by explicit Euler (dt = {DT}) under a PD law given as a
# ReLU network (Scripts/make_discrete_fixtures.py). Reference values:
# Tests/Fixtures/reach/discrete_pendulum.json (envelope of 20,000 numpy trajectories).

[plant]
type = "discrete"
states = ["th", "om"]
inputs = ["u1"]
next = ["th + dt*om", "om + dt*(-g/l*sin(th) - b*om + u1)"]

[plant.constants]
dt = {DT}
g = {G}
l = {L}
b = {B}

[controller]
model = "pd_controller.onnx"
u_min = [-{U_MAX}]
u_max = [{U_MAX}]

[reach]
horizon = 8
directions = "box"
strategy = "one-shot"
intermediates = "crown"

# Unsafe: swinging past 1.2 rad.
[[safety.unsafe]]
H = [[-1.0, 0.0]]
h = [-1.2]

[sensor]
radius = [0.02, 0.02]
'''


def export_controller(path):
    W1 = np.array([[-K[0], -K[1]], [K[0], K[1]]]); b1 = np.zeros(2)
    W2 = np.array([[1.0, -1.0]]); b2 = np.zeros(1)
    inits = [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(W2, "W2"), numpy_helper.from_array(b2, "b2")]
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["z"], name="fc1", transB=1),
             helper.make_node("Relu", ["z"], ["h"], name="relu"),
             helper.make_node("Gemm", ["h", "W2", "b2"], ["u"], name="fc2", transB=1)]
    graph = helper.make_graph(nodes, "pd", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 2])],
                              [helper.make_tensor_value_info("u", TensorProto.DOUBLE, [1, 1])], inits)
    model = helper.make_model(graph, producer_name="make_discrete_fixtures", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def step(x):
    th, om = x[:, 0], x[:, 1]
    u = np.clip(-K[0] * th - K[1] * om, -U_MAX, U_MAX)
    return np.stack([th + DT * om, om + DT * (-G / L * np.sin(th) - B * om + u)], axis=1)


def main():
    rng = np.random.default_rng(SEED)
    folder = os.path.join(ROOT, "Tests/Fixtures/discrete")
    os.makedirs(folder, exist_ok=True)
    export_controller(os.path.join(folder, "pd_controller.onnx"))
    with open(os.path.join(folder, "pendulum.toml"), "w") as fh:
        fh.write(TOML)
    cases = []
    for label, lo, hi, horizon in [("released", [0.7, -0.1], [0.8, 0.1], 8), ("swinging", [-0.3, 1.0], [-0.2, 1.2], 6)]:
        lo, hi = np.array(lo), np.array(hi)
        x = np.vstack([rng.uniform(lo, hi, (20000, 2)), [[a, b] for a in (lo[0], hi[0]) for b in (lo[1], hi[1])]])
        steps = []
        for t in range(1, horizon + 1):
            x = step(x)
            steps.append({"t": t, "lower": x.min(axis=0).tolist(), "upper": x.max(axis=0).tolist()})
        cases.append({"label": label, "box": {"lower": lo.tolist(), "upper": hi.tolist()}, "horizon": horizon,
                      "exact": steps, "sampled": steps, "unsafe_max": []})
    fixture = {"name": "discrete_pendulum", "system": "Tests/Fixtures/discrete/pendulum.toml", "unsafe": [],
               "generator": "Scripts/make_discrete_fixtures.py (exact = envelope of 20,000 numpy trajectories)",
               "cases": cases}
    with open(os.path.join(ROOT, "Tests/Fixtures/reach/discrete_pendulum.json"), "w") as fh:
        json.dump(fixture, fh, indent=1)


if __name__ == "__main__":
    main()
