#!/usr/bin/env python3
"""A linearised cart-pole held upright by a learned (imitation-of-LQR) controller, for the monitor.

Writes
  Config/cartpole_monitor/controller.onnx   a 4-16-16-1 ReLU network (numpy, full-batch Adam, fixed seed)
      imitating the saturated discrete LQR u = clip(-K x, -10, 10) N on |pos| <= 1, |vel| <= 1,
      |angle| <= 0.2, |ang vel| <= 1; input "x" float32 [1,4], output "u" [1,1] (NOT clipped:
      the system description applies the input bound)
  Config/cartpole_monitor/system.toml       x' = A x + B u, x = (pos, vel, angle, ang vel), unsafe
      |angle| >= 0.25 rad, with the daemon's [monitor], [zmq] and [simulate] sections

The plant is gymnasium's CartPole-v1 (gravity 9.8, cart 1.0 kg, pole 0.1 kg, half-length 0.5 m,
force in newtons) linearised about the upright equilibrium and discretised like gymnasium's own
"euler" integrator (forward Euler, dt = 0.02 s).  The script prints the LQR gain, the fit error and
a numpy simulation of the closed loop (200 steps from the [simulate] box's corners and random states).

Usage: python3 Scripts/make_cartpole_monitor.py   (offline tooling: numpy, scipy, onnx)
"""

import os
from pathlib import Path

# One BLAS thread keeps the float summation order, hence the trained weights, reproducible.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import scipy.linalg  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Config" / "cartpole_monitor"

GRAVITY, M_CART, M_POLE, HALF_LEN, DT = 9.8, 1.0, 0.1, 0.5, 0.02
U_MAX = 10.0
ANGLE_LIMIT = 0.25                                  # rad, about 14 degrees (gymnasium ends at 12)
TRAIN_BOX = np.array([1.0, 1.0, 0.2, 1.0])          # half-widths of the imitation domain
SIM_BOX = np.array([0.5, 0.5, 0.15, 0.5])           # half-widths of the [simulate] restarts
SENSOR_RADIUS = 0.01
HORIZON = 5
SEED = 20240611


def linearised_plant():
    """Continuous (Ac, Bc) of gymnasium's cart-pole at angle 0, then forward Euler at DT."""
    total = M_CART + M_POLE
    # gymnasium: th'' = (g sin th - cos th * temp) / (l (4/3 - m cos^2 th / M)), temp = (F + m l om^2 sin th) / M,
    # x'' = temp - m l th'' cos th / M.  At th = om = 0: temp = F / M and sin th ~ th.
    denom = HALF_LEN * (4.0 / 3.0 - M_POLE / total)
    th_th, th_f = GRAVITY / denom, -1.0 / (total * denom)
    x_th, x_f = -M_POLE * HALF_LEN * th_th / total, 1.0 / total - M_POLE * HALF_LEN * th_f / total
    ac = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, x_th, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, th_th, 0.0]])
    bc = np.array([[0.0], [x_f], [0.0], [th_f]])
    return np.eye(4) + DT * ac, DT * bc


def gymnasium_step(s, force):
    """One step of the nonlinear gymnasium dynamics (euler), s [N,4]: a check beyond the linear model."""
    total, ml = M_CART + M_POLE, M_POLE * HALF_LEN
    x, v, th, om = s.T
    temp = (force + ml * om ** 2 * np.sin(th)) / total
    th_acc = (GRAVITY * np.sin(th) - np.cos(th) * temp) / (HALF_LEN * (4.0 / 3.0 - M_POLE * np.cos(th) ** 2 / total))
    x_acc = temp - ml * th_acc * np.cos(th) / total
    return np.stack([x + DT * v, v + DT * x_acc, th + DT * om, om + DT * th_acc], axis=1)


def forward(params, x):
    """x [N,4] -> [N,1]; ReLU after every layer but the last."""
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i].T + params[i + 1]
        if i + 2 < len(params):
            h = np.maximum(h, 0.0)
    return h


def train_adam(x, y, sizes, seed, iters=30000, lr=3e-3):
    """Full-batch Adam on the mean squared error, learning rate decayed 100x (cosine) for a fine finish."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0.0, np.sqrt(2.0 / n_in), (n_out, n_in)), np.zeros(n_out)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, iters + 1):
        acts, h = [x], x
        for i in range(0, len(params), 2):
            h = h @ params[i].T + params[i + 1]
            if i + 2 < len(params):
                h = np.maximum(h, 0.0)
            acts.append(h)
        delta = 2.0 * (h - y) / y.size
        grads = [None] * len(params)
        for i in range(len(params) - 2, -1, -2):
            grads[i], grads[i + 1] = delta.T @ acts[i // 2], delta.sum(axis=0)
            if i > 0:
                delta = (delta @ params[i]) * (acts[i // 2] > 0)   # acts[i//2] is the previous ReLU output
        step = lr * (0.01 + 0.99 * 0.5 * (1.0 + np.cos(np.pi * t / iters)))
        for j, g in enumerate(grads):
            m[j] = b1 * m[j] + (1 - b1) * g
            v[j] = b2 * v[j] + (1 - b2) * g * g
            params[j] -= step * (m[j] / (1 - b1 ** t)) / (np.sqrt(v[j] / (1 - b2 ** t)) + eps)
    return params


def export_onnx(params, path):
    """Gemm(transB=1)/Relu chain, opset 13, float32 initialisers, the layout of Scripts/make_examples.py."""
    inits, nodes, prev = [], [], "x"
    n_layers = len(params) // 2
    for k in range(n_layers):
        w = numpy_helper.from_array(params[2 * k].astype(np.float32), f"fc{k + 1}.weight")
        b = numpy_helper.from_array(params[2 * k + 1].astype(np.float32), f"fc{k + 1}.bias")
        inits += [w, b]
        out = "u" if k == n_layers - 1 else f"fc{k + 1}_out"
        nodes.append(helper.make_node("Gemm", [prev, w.name, b.name], [out], name=f"fc{k + 1}", transB=1))
        if k < n_layers - 1:
            prev = f"relu{k + 1}_out"
            nodes.append(helper.make_node("Relu", [out], [prev], name=f"relu{k + 1}"))
    graph = helper.make_graph(nodes, "cartpole_controller",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("u", TensorProto.FLOAT, [1, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="reachguard-make_cartpole_monitor", producer_version="1.0")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path.write_bytes(model.SerializeToString())


def fmt_vec(v):
    return "[" + ", ".join(repr(float(e)) for e in v) + "]"


def fmt_mat(a, indent):
    return "[" + (",\n" + " " * indent).join(fmt_vec(r) for r in a) + "]"


def system_toml(a, b, k, rmse, max_err):
    r = [SENSOR_RADIUS] * 4
    return f'''# Cart-pole (gymnasium CartPole-v1 parameters) linearised about upright, forward Euler at
# dt = 0.02 s, held up by a learned (imitation-of-LQR) controller.
#   x = (cart position m, cart velocity m/s, pole angle rad, pole angular velocity rad/s),
#   x' = A x + B u,  u = clip(net(x), -10, 10) N
# controller.onnx: 4-16-16-1 ReLU network (Scripts/make_cartpole_monitor.py) imitating
# u = clip(-K x, -10, 10), K = {fmt_vec(np.round(k.ravel(), 4))} (Q = diag(1, 1, 10, 1), R = 0.1),
# on |pos|, |vel|, |ang vel| <= 1, |angle| <= 0.2: held-out RMSE {rmse:.4f} N, max |error| {max_err:.4f} N.

[plant]
type = "linear"
A = {fmt_mat(a, 5)}
B = {fmt_mat(b, 5)}

[controller]
model = "controller.onnx"
u_min = [{-U_MAX}]
u_max = [{U_MAX}]

[reach]
horizon = {HORIZON}                # 0.1 s look-ahead
directions = "box"
strategy = "one-shot"

# Unsafe: the pole past {ANGLE_LIMIT} rad either way; one polytope {{x : H x <= h}} per side.
[[safety.unsafe]]
H = [[0.0, 0.0, -1.0, 0.0]]    # angle >= {ANGLE_LIMIT}
h = [{-ANGLE_LIMIT}]

[[safety.unsafe]]
H = [[0.0, 0.0, 1.0, 0.0]]     # angle <= -{ANGLE_LIMIT}
h = [{-ANGLE_LIMIT}]

[sensor]
radius = {fmt_vec(r)}

# --- reachguardd (ignored by `reachguard reach`) ---
[monitor]
deadline_ms = 10
heartbeat_ms = 500
warm_start = true
intermediates = "crown"

[zmq]
sensor_endpoint = "tcp://127.0.0.1:5556"
sensor_bind = false
sensor_topic = "state"
alert_endpoint = "tcp://127.0.0.1:5557"

# `reachguard simulate` and `reachguardd --demo` restart episodes from here.
[simulate]
initial_lower = {fmt_vec(-SIM_BOX)}
initial_upper = {fmt_vec(SIM_BOX)}
'''


def main():
    a, b = linearised_plant()
    q, r = np.diag([1.0, 1.0, 10.0, 1.0]), np.array([[0.1]])   # weight the angle: it is what the monitor guards
    p = scipy.linalg.solve_discrete_are(a, b, q, r)
    k = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)             # u = -K x, shape [1,4]
    rho = max(abs(np.linalg.eigvals(a - b @ k)))
    print(f"cartpole: LQR gain K = {k.ravel().tolist()}, closed-loop spectral radius {rho:.5f}")

    def lqr(s):
        return np.clip(-s @ k.T, -U_MAX, U_MAX)

    rng = np.random.default_rng(SEED)
    corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * 4)).reshape(4, -1).T * TRAIN_BOX
    x_train = np.concatenate([rng.uniform(-TRAIN_BOX, TRAIN_BOX, (6000, 4)), corners])
    params = train_adam(x_train, lqr(x_train), [4, 16, 16, 1], seed=SEED)
    params32 = [w.astype(np.float32).astype(np.float64) for w in params]   # what the ONNX file holds

    x_test = np.random.default_rng(SEED + 1).uniform(-TRAIN_BOX, TRAIN_BOX, (20000, 4))
    err = forward(params32, x_test) - lqr(x_test)
    rmse_train = float(np.sqrt(np.mean((forward(params32, x_train) - lqr(x_train)) ** 2)))
    rmse, max_err = float(np.sqrt(np.mean(err ** 2))), float(np.max(np.abs(err)))
    print(f"cartpole: training RMSE = {rmse_train:.5f} N, held-out RMSE = {rmse:.5f} N, "
          f"held-out max |error| = {max_err:.4f} N (u in [-10, 10])")

    # Sanity check: 200 steps of the saturated loop from the [simulate] box's corners and random states.
    sim_corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * 4)).reshape(4, -1).T * SIM_BOX
    starts = np.concatenate([sim_corners, np.random.default_rng(SEED + 2).uniform(-SIM_BOX, SIM_BOX, (200, 4))])
    for name, step in [("linear model", lambda s, u: s @ a.T + u @ b.T),
                       ("nonlinear gymnasium", lambda s, u: gymnasium_step(s, u[:, 0]))]:
        s, worst = starts.copy(), 0.0
        for _ in range(200):
            s = step(s, np.clip(forward(params32, s), -U_MAX, U_MAX))
            worst = max(worst, float(np.max(np.abs(s[:, 2]))))
        print(f"cartpole: closed loop ({name}), {len(starts)} starts x 200 steps: max |angle| = {worst:.4f} rad "
              f"({'within' if worst < ANGLE_LIMIT else 'BEYOND'} {ANGLE_LIMIT}), final max |x| = "
              f"{float(np.max(np.abs(s))):.2e}")
        assert worst < ANGLE_LIMIT, "the learned controller lets the pole fall past the unsafe threshold"

    OUT.mkdir(parents=True, exist_ok=True)
    export_onnx(params, OUT / "controller.onnx")
    (OUT / "system.toml").write_text(system_toml(a, b, k, rmse, max_err))
    print(f"cartpole: wrote {(OUT / 'controller.onnx').relative_to(ROOT)}, {(OUT / 'system.toml').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
