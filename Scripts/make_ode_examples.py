#!/usr/bin/env python3
"""Continuous-time (ODE) examples and their reference envelopes.

Writes
  Config/pendulum/controller.onnx   a 2-16-16-1 ReLU network trained here (numpy,
      Adam) to imitate u = m l^2 (-(g/l) sin th - k1 th - k2 om), which holds the
      inverted pendulum th'' = (g/l) sin th - b om + u/(m l^2) upright
  Config/pendulum/system.toml       the plant as expressions, period 0.05 s
  Config/tanh_policy/ode.toml       the tanh policy of system.toml on a double
      integrator with cubic drag, v' = u - c v^3 (continuous time, period 0.2 s)
  Tests/Fixtures/ode/*.json         per case the initial box, the horizon, and
      the envelope of 2,000 trajectories integrated by scipy's DOP853
      (rtol 1e-10, atol 1e-12; zero-order hold) at the samples ("samples")
      and over a grid of 20 points inside each period ("periods")

Usage: python3 Scripts/make_ode_examples.py   (offline tooling: numpy, scipy, onnx)
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from scipy.integrate import solve_ivp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
G, L, M, B = 9.81, 0.5, 0.5, 0.1
K1, K2, U_MAX = 16.0, 8.0, 2.0
DRAG = 0.1
TRAJECTORIES, GRID = 2000, 20
SEED = 13

PENDULUM_TOML = f'''# Inverted pendulum held upright by a 2-16-16-1 ReLU controller (trained by
# Scripts/make_ode_examples.py to imitate a feedback-linearising law).
#   th'' = (g/l) sin th - b om + u/(m l^2),  u = clip(net(th, om), -2, 2) held over each 0.05 s
# Reference values: Tests/Fixtures/ode/pendulum.json (2,000 trajectories, scipy DOP853).

[plant]
type = "ode"
states = ["th", "om"]
inputs = ["u"]
dynamics = ["om", "g/l*sin(th) - b*om + u/(m*l^2)"]
period = 0.05

[plant.constants]
g = {G}
l = {L}
m = {M}
b = {B}

[controller]
model = "controller.onnx"
u_min = [-{U_MAX}]
u_max = [{U_MAX}]

[reach]
horizon = 10               # 0.5 s look-ahead
directions = "box"
strategy = "one-shot"
intermediates = "crown"

# Unsafe: falling past 0.6 rad either way, at any time (when = "interval", the default for ODE plants).
[[safety.unsafe]]
H = [[-1.0, 0.0]]
h = [-0.6]

[[safety.unsafe]]
H = [[1.0, 0.0]]
h = [-0.6]

[sensor]
radius = [0.01, 0.02]

# --- reachguardd (ignored by `reachguard reach`) ---
[monitor]
deadline_ms = 50
heartbeat_ms = 500
warm_start = true
intermediates = "crown"

[zmq]
sensor_endpoint = "tcp://127.0.0.1:5556"
sensor_bind = false
sensor_topic = "state"
alert_endpoint = "tcp://127.0.0.1:5557"

[simulate]
initial_lower = [-0.3, -0.5]
initial_upper = [0.3, 0.5]
'''

TANH_ODE_TOML = f'''# The tanh policy of system.toml (2-64-64-1, Scripts/make_tanh_policy.py) on a
# nonlinear plant: a double integrator with cubic drag in continuous time,
#   x' = v,  v' = u - c v^3,  u = clip(net(x, v), -1, 1) held over each 0.2 s.
# Reference values: Tests/Fixtures/ode/tanh_policy_ode.json (scipy DOP853).

[plant]
type = "ode"
states = ["x", "v"]
inputs = ["u"]
dynamics = ["v", "u - c*v^3"]
period = 0.2

[plant.constants]
c = {DRAG}

[controller]
model = "controller.onnx"
u_min = [-1.0]
u_max = [1.0]

[reach]
horizon = 5                # one second
directions = "box"
strategy = "one-shot"
intermediates = "crown"

# Unsafe: position >= 1.0 at any time.
[[safety.unsafe]]
H = [[-1.0, 0.0]]
h = [-1.0]

[sensor]
radius = [0.05, 0.05]

[monitor]
deadline_ms = 50
heartbeat_ms = 500
warm_start = true
intermediates = "crown"

[zmq]
sensor_endpoint = "tcp://127.0.0.1:5556"
sensor_bind = false
sensor_topic = "state"
alert_endpoint = "tcp://127.0.0.1:5557"

[simulate]
initial_lower = [-2.0, -0.5]
initial_upper = [2.0, 0.5]
'''


def target_law(x):
    th, om = x[:, 0], x[:, 1]
    return M * L * L * (-(G / L) * np.sin(th) - K1 * th - K2 * om)


def init_params(rng, sizes):
    """He-initialised ReLU layers [W0, b0, W1, b1, ...]."""
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0, np.sqrt(2.0 / a), (b, a)), np.zeros(b)]
    return params


def adam_fit(params, data, target, iterations=4000, lr=3e-3):
    """Full-batch Adam on the mean squared error to target (in place; returns params)."""
    layers = len(params) // 2
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    b1, b2 = 0.9, 0.999
    for it in range(1, iterations + 1):
        acts = [data]
        for k in range(layers):
            z = acts[-1] @ params[2 * k].T + params[2 * k + 1]
            acts.append(np.maximum(z, 0) if k < layers - 1 else z)
        grad = 2 * (acts[-1] - target) / len(data)
        grads = [None] * len(params)
        for k in reversed(range(layers)):
            grads[2 * k] = grad.T @ acts[k]
            grads[2 * k + 1] = grad.sum(axis=0)
            if k > 0:
                grad = (grad @ params[2 * k]) * (acts[k] > 0)
        for i, g in enumerate(grads):
            m, v = moments[i]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            moments[i] = (m, v)
            params[i] -= lr * (m / (1 - b1 ** it)) / (np.sqrt(v / (1 - b2 ** it)) + 1e-8)
    return params


def train_pendulum_controller(rng):
    """2-16-16-1 ReLU by Adam on the squared error to the target law."""
    params = init_params(rng, [2, 16, 16, 1])
    data = rng.uniform([-0.7, -2.0], [0.7, 2.0], (4000, 2))
    return adam_fit(params, data, target_law(data)[:, None])


def forward(params, x):
    h = x
    for k in range(len(params) // 2):
        h = h @ params[2 * k].T + params[2 * k + 1]
        if k < len(params) // 2 - 1:
            h = np.maximum(h, 0)
    return h


def export(params, path, name="pendulum_controller"):
    """Gemm/Relu, opset 13, double; sizes read from the weights (the unicycle reuses it)."""
    inits, nodes, last = [], [], "x"
    layers = len(params) // 2
    for k in range(layers):
        inits += [numpy_helper.from_array(params[2 * k], f"W{k}"), numpy_helper.from_array(params[2 * k + 1], f"b{k}")]
        out = "u" if k == layers - 1 else f"z{k}"
        nodes.append(helper.make_node("Gemm", [last, f"W{k}", f"b{k}"], [out], name=f"fc{k}", transB=1))
        last = out
        if k < layers - 1:
            nodes.append(helper.make_node("Relu", [out], [f"h{k}"], name=f"relu{k}"))
            last = f"h{k}"
    inputs, outputs = params[0].shape[1], params[-2].shape[0]
    graph = helper.make_graph(nodes, name,
                              [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, inputs])],
                              [helper.make_tensor_value_info("u", TensorProto.DOUBLE, [1, outputs])], inits)
    model = helper.make_model(graph, producer_name="make_ode_examples", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def tanh_controller():
    """The committed tanh policy, read back through onnxruntime-free numpy (Gemm/Tanh only)."""
    model = onnx.load(os.path.join(ROOT, "Config/tanh_policy/controller.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def run(x):
        values = {model.graph.input[0].name: x}
        for node in model.graph.node:
            if node.op_type == "Gemm":
                a, w = values[node.input[0]], inits[node.input[1]]
                trans = any(at.name == "transB" and at.i == 1 for at in node.attribute)
                y = a @ (w.T if trans else w)
                if len(node.input) > 2:
                    y = y + inits[node.input[2]]
                values[node.output[0]] = y
            elif node.op_type == "Tanh":
                values[node.output[0]] = np.tanh(values[node.input[0]])
            else:
                raise SystemExit(f"tanh_controller: unexpected {node.op_type}")
        return values[model.graph.output[0].name]
    return run


def envelope(field, control, lo, hi, period, horizon, rng):
    """Samples and per-period dense envelopes of TRAJECTORIES closed-loop runs (plus the corners)."""
    n = len(lo)
    corners = np.array(np.meshgrid(*[[lo[i], hi[i]] for i in range(n)])).reshape(n, -1).T
    x = np.vstack([rng.uniform(lo, hi, (TRAJECTORIES, n)), corners])
    samples, periods = [], []
    grid = np.linspace(0, period, GRID + 1)
    for t in range(1, horizon + 1):
        u = control(x)
        count = len(x)

        def rhs(_, y):
            return field(y.reshape(count, n), u).reshape(-1)
        sol = solve_ivp(rhs, (0, period), x.reshape(-1), method="DOP853", rtol=1e-10, atol=1e-12, t_eval=grid)
        path = sol.y.reshape(count, n, -1)
        x = path[:, :, -1]
        samples.append({"t": t, "lower": x.min(axis=0).tolist(), "upper": x.max(axis=0).tolist()})
        periods.append({"t": t, "lower": path.min(axis=(0, 2)).tolist(), "upper": path.max(axis=(0, 2)).tolist()})
    return samples, periods


def main():
    rng = np.random.default_rng(SEED)
    folder = os.path.join(ROOT, "Config/pendulum")
    os.makedirs(folder, exist_ok=True)
    params = train_pendulum_controller(rng)
    export(params, os.path.join(folder, "controller.onnx"))
    with open(os.path.join(folder, "system.toml"), "w") as fh:
        fh.write(PENDULUM_TOML)
    with open(os.path.join(ROOT, "Config/tanh_policy/ode.toml"), "w") as fh:
        fh.write(TANH_ODE_TOML)
    probe = rng.uniform([-0.5, -1.5], [0.5, 1.5], (1000, 2))
    print("pendulum controller fit: rms error %.4f" % np.sqrt(np.mean((forward(params, probe)[:, 0]
                                                                       - target_law(probe)) ** 2)))

    def pendulum(y, u):
        return np.stack([y[:, 1], G / L * np.sin(y[:, 0]) - B * y[:, 1] + u[:, 0] / (M * L * L)], axis=1)

    def pendulum_control(x):
        return np.clip(forward(params, x), -U_MAX, U_MAX)

    policy = tanh_controller()

    def drag(y, u):
        return np.stack([y[:, 1], u[:, 0] - DRAG * y[:, 1] ** 3], axis=1)

    examples = [
        ("pendulum", "Config/pendulum/system.toml", pendulum, pendulum_control, 0.05,
         [("tilted", [0.19, -0.02], [0.21, 0.02], 10), ("falling", [-0.11, 0.28], [-0.09, 0.32], 10)]),
        ("tanh_policy_ode", "Config/tanh_policy/ode.toml", drag, lambda x: np.clip(policy(x), -1, 1), 0.2,
         [("approach", [-0.55, 0.25], [-0.45, 0.35], 5)]),
    ]
    out = os.path.join(ROOT, "Tests/Fixtures/ode")
    os.makedirs(out, exist_ok=True)
    for name, system, field, control, period, cases in examples:
        rows = []
        for label, lo, hi, horizon in cases:
            samples, periods = envelope(field, control, np.array(lo), np.array(hi), period, horizon, rng)
            rows.append({"label": label, "box": {"lower": lo, "upper": hi}, "horizon": horizon,
                         "samples": samples, "periods": periods})
        fixture = {"name": name, "system": system, "cases": rows,
                   "generator": "Scripts/make_ode_examples.py (scipy DOP853, rtol 1e-10, atol 1e-12, "
                                f"{TRAJECTORIES} trajectories and the corners, {GRID} grid points per period)"}
        with open(os.path.join(out, f"{name}.json"), "w") as fh:
            json.dump(fixture, fh, indent=1)


if __name__ == "__main__":
    main()
