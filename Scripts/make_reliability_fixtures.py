#!/usr/bin/env python3
"""Fixtures for the reliability tests: ReLU networks whose last operator is not
affine, exported as PyTorch and MATLAB do, with reference extremes from dense
sampling (an independent oracle: plain numpy forward passes, never our solver).

  relu_output.onnx      Gemm, Relu, Gemm, Relu          (non-negative rates)
  relu_minus_ten.onnx   MatMul, Add, Relu, Sub(10)      (MATLAB: u = relu(W x + b) - 10)
  dead_relu_output.onnx Gemm, Relu, Gemm, Relu with every output pre-activation
                        negative on the box: the exact range is {0}
  brake/                a double integrator whose 2-16-1 controller ends in a Relu
                        (a non-negative brake, u = -relu(...) through B), with the
                        per-step extremes of simulated trajectories from its box

Usage: python3 Scripts/make_reliability_fixtures.py [--out Tests/Fixtures/reliability]
"""
import argparse
import itertools
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SAMPLES = 20000  # uniform samples per box, plus every corner


def f32(a):
    return np.asarray(a, dtype=np.float32)


def save(path, nodes, inits, n_in, n_out, opset):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n_out])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.producer_name = "make_reliability_fixtures"
    onnx.checker.check_model(model)
    onnx.save(model, path)


def relu(v):
    return np.maximum(v, 0)


def extremes(forward, lower, upper, rng):
    lower, upper = np.array(lower), np.array(upper)
    pts = rng.uniform(lower, upper, size=(SAMPLES, lower.size))
    corners = np.array(list(itertools.product(*zip(lower, upper))))
    ys = forward(np.vstack([pts, corners]))
    return ys.min(axis=0).tolist(), ys.max(axis=0).tolist()


BRAKE_TOML = """# Double integrator with a controller whose last operator is a Relu.
# Made by Scripts/make_reliability_fixtures.py; references in ../reference.json.
[plant]
type = "linear"
A = [[1.0, 0.1], [0.0, 1.0]]
B = [[0.0], [-0.1]]

[controller]
model = "controller.onnx"

[reach]
horizon = 5
directions = "box"
strategy = "one-shot"

[[safety.unsafe]]
H = [[-1.0, 0.0]]
h = [-3.0]

[sensor]
radius = [0.05, 0.1]
"""


def brake(folder, rng):
    os.makedirs(folder, exist_ok=True)
    w1, b1 = f32(rng.standard_normal((16, 2))), f32(rng.standard_normal(16) * 0.5)
    w2 = f32(rng.standard_normal((1, 16)) * 0.5)
    # The output's pre-activation straddles 0 over the initial box: the Relu matters.
    probe = rng.uniform([0.5, 0.8], [0.7, 1.2], size=(1000, 2))
    b2 = f32([-np.median(relu(probe @ w1.T.astype(np.float64) + b1) @ w2.T.astype(np.float64))])
    save(os.path.join(folder, "controller.onnx"),
         [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
          helper.make_node("Gemm", ["r", "w2", "b2"], ["o"], transB=1), helper.make_node("Relu", ["o"], ["y"])],
         {"w1": w1, "b1": b1, "w2": w2, "b2": b2}, 2, 1, 13)
    with open(os.path.join(folder, "system.toml"), "w") as fh:
        fh.write(BRAKE_TOML)
    a, b = np.array([[1.0, 0.1], [0.0, 1.0]]), np.array([[0.0], [-0.1]])
    lower, upper = np.array([0.5, 0.8]), np.array([0.7, 1.2])
    x = np.vstack([rng.uniform(lower, upper, size=(SAMPLES, 2)),
                   np.array(list(itertools.product(*zip(lower, upper))))])
    lo, hi = [x.min(axis=0).tolist()], [x.max(axis=0).tolist()]
    for _ in range(5):
        u = relu(relu(x @ w1.T.astype(np.float64) + b1) @ w2.T.astype(np.float64) + b2)
        x = x @ a.T + u @ b.T
        lo.append(x.min(axis=0).tolist())
        hi.append(x.max(axis=0).tolist())
    return {"box": {"lower": lower.tolist(), "upper": upper.tolist()}, "steps_lower": lo, "steps_upper": hi}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/Fixtures/reliability")
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261202)
    cases = {}
    box = {"lower": [-1.0, -0.5, -1.0], "upper": [1.0, 0.5, 0.0]}

    w1, b1 = f32(rng.standard_normal((8, 3))), f32(rng.standard_normal(8))
    w2, b2 = f32(rng.standard_normal((2, 8))), f32(rng.standard_normal(2))
    save(os.path.join(out, "relu_output.onnx"),
         [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
          helper.make_node("Gemm", ["r", "w2", "b2"], ["o"], transB=1), helper.make_node("Relu", ["o"], ["y"])],
         {"w1": w1, "b1": b1, "w2": w2, "b2": b2}, 3, 2, 13)
    fwd = lambda x: relu(relu(x @ w1.T.astype(np.float64) + b1) @ w2.T.astype(np.float64) + b2)
    cases["relu_output"] = {"box": box, "sampled": extremes(fwd, box["lower"], box["upper"], rng)}

    w, b = f32(rng.standard_normal((3, 2))), f32(rng.standard_normal(2))
    ten = f32([10.0])
    save(os.path.join(out, "relu_minus_ten.onnx"),
         [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["h"]),
          helper.make_node("Relu", ["h"], ["r"]), helper.make_node("Sub", ["r", "ten"], ["y"])],
         {"w": w, "b": b, "ten": ten}, 3, 2, 9)
    fwd = lambda x: relu(x @ w.astype(np.float64) + b) - 10.0
    cases["relu_minus_ten"] = {"box": box, "sampled": extremes(fwd, box["lower"], box["upper"], rng)}

    w1d, b1d = f32(np.abs(rng.standard_normal((6, 3)))), f32(np.zeros(6))
    w2d, b2d = f32(-np.abs(rng.standard_normal((2, 6)))), f32([-0.5, -2.0])
    save(os.path.join(out, "dead_relu_output.onnx"),
         [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
          helper.make_node("Gemm", ["r", "w2", "b2"], ["o"], transB=1), helper.make_node("Relu", ["o"], ["y"])],
         {"w1": w1d, "b1": b1d, "w2": w2d, "b2": b2d}, 3, 2, 13)
    fwd = lambda x: relu(relu(x @ w1d.T.astype(np.float64) + b1d) @ w2d.T.astype(np.float64) + b2d)
    cases["dead_relu_output"] = {"box": box, "sampled": extremes(fwd, box["lower"], box["upper"], rng)}

    cases["brake"] = brake(os.path.join(out, "brake"), rng)

    with open(os.path.join(out, "reference.json"), "w") as fh:
        json.dump({"samples": SAMPLES, "cases": cases}, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
