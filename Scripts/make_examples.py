#!/usr/bin/env python3
"""Generate the example controllers shipped under Config/.

Run from the repository root (the script also finds the root by itself):

    python3 Scripts/make_examples.py            # every example
    python3 Scripts/make_examples.py double_integrator

One function per example; each trains a small ReLU network with numpy/scipy
only (fixed seeds, deterministic) and writes exactly one ONNX file.
Generated with: Python 3.11, numpy 2.4.6, scipy 1.17.1, onnx 1.23.2.

Examples:
  double_integrator -> Config/double_integrator/controller.onnx
      x' = [[1,1],[0,1]] x + [[0.5],[1]] u, |u| <= 1.  A 2-10-10-1 ReLU
      network imitating the saturated discrete LQR u = clip(-K x, -1, 1)
      (Q = I, R = 1) on states in [-5,5] x [-3,3].  The network output is NOT
      clipped; the system description applies the input bound.
  quadrotor -> Config/quadrotor/controller.onnx
      6 states (x, y, z, vx, vy, vz), 3 inputs (accelerations), dt = 0.1:
      p' = p + dt v + dt^2/2 u,  v' = v + dt u,  |u_i| <= 2.  A 6-32-32-3 ReLU
      network imitating the saturated discrete LQR u = clip(-K x, -2, 2)
      (Q = I, R = I) on states in [-2,2]^6.  Output NOT clipped.
  learned_dynamics -> Config/learned_dynamics/dynamics.onnx
      An autonomous learned one-step model x' = net(x), x = (theta, omega):
      a 2-16-16-2 ReLU network (input "state", output "next_state") fitted to
      one RK4 step (dt = 0.1) of the damped pendulum
      theta'' = -(g/l) sin(theta) - b theta',  g/l = 9.81, b = 0.5,
      on [-2,2] x [-4,4].  The network output is the next state.

BLAS is pinned to one thread (before numpy is imported): multi-threaded
OpenBLAS makes the many tiny L-BFGS iterations several times slower here, and
one thread keeps the float summation order fixed.  (double_integrator's output
is byte-identical either way.)
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import onnx
import scipy.linalg
import scipy.optimize
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------
# shared helpers

def init_params(rng, sizes):
    """He-initialised weights [out,in] and zero-ish biases, float64."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in)))
        params.append(rng.uniform(-0.1, 0.1, size=(n_out,)))
    return params


def pack(params):
    return np.concatenate([p.reshape(-1) for p in params])


def unpack(theta, sizes):
    params, k = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append(theta[k:k + n_in * n_out].reshape(n_out, n_in)); k += n_in * n_out
        params.append(theta[k:k + n_out]); k += n_out
    return params


def forward(params, x):
    """x [N,in] -> [N,out]; ReLU on every layer but the last."""
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        w, b = params[2 * i], params[2 * i + 1]
        h = h @ w.T + b
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
    return h


def mse_and_grad(theta, sizes, x, y):
    params = unpack(theta, sizes)
    n_layers = len(params) // 2
    acts, pre = [x], []
    h = x
    for i in range(n_layers):
        z = h @ params[2 * i].T + params[2 * i + 1]
        pre.append(z)
        h = np.maximum(z, 0.0) if i < n_layers - 1 else z
        acts.append(h)
    err = h - y
    loss = float(np.mean(err ** 2))
    delta = 2.0 * err / err.size
    grads = [None] * len(params)
    for i in reversed(range(n_layers)):
        grads[2 * i] = delta.T @ acts[i]
        grads[2 * i + 1] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ params[2 * i]) * (pre[i - 1] > 0)
    return loss, pack(grads)


def train_lbfgs(sizes, x, y, seed, restarts=1, maxiter=1000):
    """Full-batch L-BFGS from `restarts` seeded starts; returns the best params."""
    best = None
    for r in range(restarts):
        theta0 = pack(init_params(np.random.default_rng(seed + r), sizes))
        res = scipy.optimize.minimize(mse_and_grad, theta0, args=(sizes, x, y), jac=True,
                                      method="L-BFGS-B",
                                      options={"maxiter": maxiter, "maxfun": 2 * maxiter,
                                               "ftol": 0.0, "gtol": 1e-12})
        if best is None or res.fun < best.fun:
            best = res
    return unpack(best.x, sizes)


def export_gemm_mlp(params, path, input_name, output_name, graph_name):
    """PyTorch-style export: Gemm(transB=1) layers, ReLU between, opset 13,
    float32 weights as raw_data, input shape ["batch", n_in]."""
    n_layers = len(params) // 2
    n_in = params[0].shape[1]
    n_out = params[-2].shape[0]
    inits, nodes = [], []
    prev = input_name
    for i in range(n_layers):
        w = numpy_helper.from_array(params[2 * i].astype(np.float32), f"fc{i + 1}.weight")
        b = numpy_helper.from_array(params[2 * i + 1].astype(np.float32), f"fc{i + 1}.bias")
        inits += [w, b]
        out = output_name if i == n_layers - 1 else f"/fc{i + 1}/Gemm_output_0"
        nodes.append(helper.make_node("Gemm", [prev, w.name, b.name], [out], name=f"/fc{i + 1}/Gemm",
                                      alpha=1.0, beta=1.0, transB=1))
        if i < n_layers - 1:
            r = f"/relu{i + 1}/Relu_output_0"
            nodes.append(helper.make_node("Relu", [out], [r], name=f"/relu{i + 1}/Relu"))
            prev = r
    graph = helper.make_graph(
        nodes, graph_name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", n_out])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="reachguard-make_examples", producer_version="1.0")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return model


# --------------------------------------------------------------------------
# examples

def double_integrator():
    A = np.array([[1.0, 1.0], [0.0, 1.0]])
    B = np.array([[0.5], [1.0]])
    Q = np.eye(2)
    R = np.array([[1.0]])
    P = scipy.linalg.solve_discrete_are(A, B, Q, R)
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)   # u = -K x, shape [1,2]
    print(f"double_integrator: LQR gain K = {K.ravel().tolist()}")

    rng = np.random.default_rng(20240601)
    lo, hi = np.array([-5.0, -3.0]), np.array([5.0, 3.0])
    x_rand = rng.uniform(lo, hi, size=(2000, 2))
    g1, g2 = np.meshgrid(np.linspace(-5, 5, 41), np.linspace(-3, 3, 25))
    x_grid = np.stack([g1.ravel(), g2.ravel()], axis=1)
    x = np.concatenate([x_rand, x_grid])
    y = np.clip(-x @ K.T, -1.0, 1.0)

    sizes = [2, 10, 10, 1]
    params = train_lbfgs(sizes, x, y, seed=7)
    params32 = [p.astype(np.float32).astype(np.float64) for p in params]

    x_test = np.random.default_rng(99).uniform(lo, hi, size=(5000, 2))
    y_test = np.clip(-x_test @ K.T, -1.0, 1.0)
    rmse_train = float(np.sqrt(np.mean((forward(params32, x) - y) ** 2)))
    rmse_test = float(np.sqrt(np.mean((forward(params32, x_test) - y_test) ** 2)))
    max_err = float(np.max(np.abs(forward(params32, x_test) - y_test)))
    print(f"double_integrator: training RMSE = {rmse_train:.5f}, held-out RMSE = {rmse_test:.5f}, "
          f"held-out max |error| = {max_err:.4f}")

    path = ROOT / "Config" / "double_integrator" / "controller.onnx"
    export_gemm_mlp(params, path, "state", "action", "double_integrator_controller")
    print(f"double_integrator: wrote {path.relative_to(ROOT)}")


def quadrotor():
    dt = 0.1
    A = np.block([[np.eye(3), dt * np.eye(3)], [np.zeros((3, 3)), np.eye(3)]])
    B = np.vstack([0.005 * np.eye(3), dt * np.eye(3)])      # dt^2/2 = 0.005
    Q = np.eye(6)
    R = np.eye(3)
    P = scipy.linalg.solve_discrete_are(A, B, Q, R)
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)   # u = -K x, shape [3,6]
    print(f"quadrotor: LQR gain per axis (position, velocity) = "
          f"{[float(K[0, 0]), float(K[0, 3])]}")

    rng = np.random.default_rng(20240602)
    lo, hi = -2.0 * np.ones(6), 2.0 * np.ones(6)
    x = rng.uniform(lo, hi, size=(6000, 6))
    y = np.clip(-x @ K.T, -2.0, 2.0)

    sizes = [6, 32, 32, 3]
    params = train_lbfgs(sizes, x, y, seed=11, maxiter=1500)
    params32 = [p.astype(np.float32).astype(np.float64) for p in params]

    x_test = np.random.default_rng(98).uniform(lo, hi, size=(5000, 6))
    y_test = np.clip(-x_test @ K.T, -2.0, 2.0)
    rmse_train = float(np.sqrt(np.mean((forward(params32, x) - y) ** 2)))
    rmse_test = float(np.sqrt(np.mean((forward(params32, x_test) - y_test) ** 2)))
    max_err = float(np.max(np.abs(forward(params32, x_test) - y_test)))
    print(f"quadrotor: training RMSE = {rmse_train:.5f}, held-out RMSE = {rmse_test:.5f}, "
          f"held-out max |error| = {max_err:.4f}")

    path = ROOT / "Config" / "quadrotor" / "controller.onnx"
    export_gemm_mlp(params, path, "state", "action", "quadrotor_controller")
    print(f"quadrotor: wrote {path.relative_to(ROOT)}")


def pendulum_rk4_step(s, dt=0.1, g_over_l=9.81, damping=0.5):
    """One classical RK4 step of the damped pendulum; s [N,2] = (theta, omega)."""
    def f(z):
        return np.stack([z[:, 1], -g_over_l * np.sin(z[:, 0]) - damping * z[:, 1]], axis=1)
    k1 = f(s)
    k2 = f(s + 0.5 * dt * k1)
    k3 = f(s + 0.5 * dt * k2)
    k4 = f(s + dt * k3)
    return s + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def learned_dynamics():
    rng = np.random.default_rng(20240603)
    lo, hi = np.array([-2.0, -4.0]), np.array([2.0, 4.0])
    x_rand = rng.uniform(lo, hi, size=(2000, 2))
    g1, g2 = np.meshgrid(np.linspace(-2, 2, 41), np.linspace(-4, 4, 41))
    x_grid = np.stack([g1.ravel(), g2.ravel()], axis=1)
    x = np.concatenate([x_rand, x_grid])
    y = pendulum_rk4_step(x)

    sizes = [2, 16, 16, 2]
    params = train_lbfgs(sizes, x, y, seed=5, restarts=2, maxiter=3000)
    params32 = [p.astype(np.float32).astype(np.float64) for p in params]

    x_test = np.random.default_rng(97).uniform(lo, hi, size=(5000, 2))
    y_test = pendulum_rk4_step(x_test)
    rmse_train = float(np.sqrt(np.mean((forward(params32, x) - y) ** 2)))
    rmse_test = float(np.sqrt(np.mean((forward(params32, x_test) - y_test) ** 2)))
    max_err = float(np.max(np.abs(forward(params32, x_test) - y_test)))
    print(f"learned_dynamics: training RMSE = {rmse_train:.5f}, held-out RMSE = {rmse_test:.5f}, "
          f"held-out max |error| = {max_err:.4f}")

    path = ROOT / "Config" / "learned_dynamics" / "dynamics.onnx"
    export_gemm_mlp(params, path, "state", "next_state", "learned_dynamics_model")
    print(f"learned_dynamics: wrote {path.relative_to(ROOT)}")


EXAMPLES = {
    "double_integrator": double_integrator,
    "quadrotor": quadrotor,
    "learned_dynamics": learned_dynamics,
}


def main(argv):
    names = argv or list(EXAMPLES)
    for name in names:
        if name not in EXAMPLES:
            sys.exit(f"unknown example '{name}'; known: {', '.join(EXAMPLES)}")
        EXAMPLES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
