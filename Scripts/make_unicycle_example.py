#!/usr/bin/env python3
"""A unicycle (kinematic car) that must reach a goal box while passing an obstacle.

Writes
  Config/unicycle/controller.onnx   a 3-16-16-1 ReLU network (numpy, Adam) imitating a
      steering law: head for the aim point G, bent away from the obstacle's centre O,
      w = clip(K (psi - th), -W_MAX, W_MAX) with psi the heading of
      (G - p)/|G - p| + A exp(-(|p - O|/S)^2) (p - O)/|p - O|
  Config/unicycle/system.toml       px' = v cos th, py' = v sin th, th' = w, period 0.1 s,
      an obstacle box (unsafe over every period) and the goal box's faces (unsafe at step 10)
  Tests/Fixtures/ode/unicycle.json  per case the initial box, the horizon, and the envelope
      of 2,000 trajectories and the corners (scipy DOP853, rtol 1e-10, atol 1e-12,
      zero-order hold) at the samples and over 20 grid points inside each period

Usage: python3 Scripts/make_unicycle_example.py   (offline tooling: numpy, scipy, onnx)
"""

import json
import os
import sys

import numpy as np

# The pendulum's script holds the Adam trainer, the ONNX writer and the scipy envelope.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_ode_examples import GRID, ROOT, TRAJECTORIES, adam_fit, envelope, export, forward, init_params  # noqa: E402

V, W_MAX = 1.0, 2.0                 # m/s (constant), rad/s (saturation of the network)
K, A, S = 4.0, 1.5, 0.4             # heading gain, repulsion strength and reach (m)
AIM = np.array([1.5, 0.0])          # G: beyond the 1 s reach, so the law stays smooth on the way
CENTRE = np.array([0.5, 0.12])      # O: the obstacle's centre
OBSTACLE = (0.4, 0.6, 0.04, 0.2)    # px in [0.4, 0.6], py in [0.04, 0.2]: 4 cm beside the straight path
GOAL = (0.8, 1.0, -0.5, -0.25)      # px, py at step 10 (1 s): past the obstacle, below it
PERIOD, HORIZON = 0.1, 10
# Training region: every state the cases and the daemon's simulator reach, with room.
DOMAIN_LO, DOMAIN_HI = [-0.2, -0.6, -1.0], [1.2, 0.35, 1.0]
SEED = 29

TOML = f'''# Unicycle (kinematic car) steered by a 3-16-16-1 ReLU controller (trained by
# Scripts/make_unicycle_example.py to imitate "head for the goal, bent away from the obstacle").
#   px' = v cos th,  py' = v sin th,  th' = w,  w = clip(net(px, py, th), -{W_MAX}, {W_MAX}) held over each 0.1 s
# In 1 s the car passes an obstacle box 4 cm beside its straight path and ends in the goal box.
# Reference values: Tests/Fixtures/ode/unicycle.json (2,000 trajectories, scipy DOP853).

[plant]
type = "ode"
states = ["px", "py", "th"]
inputs = ["w"]
dynamics = ["v*cos(th)", "v*sin(th)", "w"]
period = {PERIOD}

[plant.constants]
v = {V}

[controller]
model = "controller.onnx"
u_min = [-{W_MAX}]
u_max = [{W_MAX}]

[reach]
horizon = {HORIZON}               # 1 s look-ahead
directions = "box"
strategy = "one-shot"
intermediates = "crown"

# Unsafe: the obstacle {{0.4 <= px <= 0.6, 0.04 <= py <= 0.2}}, at any time (when = "interval").
[[safety.unsafe]]
H = [[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 1.0, 0.0]]
h = [{-OBSTACLE[0]}, {OBSTACLE[1]}, {-OBSTACLE[2]}, {OBSTACLE[3]}]
when = "interval"

# Goal {GOAL[0]} < px < {GOAL[1]}, {GOAL[2]} < py < {GOAL[3]} at step {HORIZON}: one unsafe face each.
[[safety.unsafe]]
H = [[1.0, 0.0, 0.0]]
h = [{GOAL[0]}]
steps = [{HORIZON}, {HORIZON}]
when = "sample"

[[safety.unsafe]]
H = [[-1.0, 0.0, 0.0]]
h = [{-GOAL[1]}]
steps = [{HORIZON}, {HORIZON}]
when = "sample"

[[safety.unsafe]]
H = [[0.0, 1.0, 0.0]]
h = [{GOAL[2]}]
steps = [{HORIZON}, {HORIZON}]
when = "sample"

[[safety.unsafe]]
H = [[0.0, -1.0, 0.0]]
h = [{-GOAL[3]}]
steps = [{HORIZON}, {HORIZON}]
when = "sample"

[sensor]
radius = [0.01, 0.01, 0.02]

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
initial_lower = [-0.02, -0.02, -0.05]
initial_upper = [0.02, 0.02, 0.05]
'''

# The daemon's file leaves the goal out: "in the goal at step N of the look-ahead" holds for one
# start time only, while the monitor re-asks it at every message. It keeps the obstacle.
MONITOR_HEADER = """# The unicycle of system.toml for reachguardd: the obstacle only, over a 1 s look-ahead
# from every sensed state (the goal at the horizon is for `reachguard reach` from the start).
"""


def write_tomls(folder):
    """system.toml (goal and obstacle, for reach) and monitor.toml (obstacle and daemon sections)."""
    body = TOML[TOML.index("[plant]"):]
    common, rest = body.split("# Goal ", 1)
    goal, tail = rest.split("[sensor]", 1)
    sensor, daemon = ("[sensor]" + tail).split("# --- reachguardd", 1)
    with open(os.path.join(folder, "system.toml"), "w") as fh:
        fh.write(TOML[:TOML.index("[plant]")] + common + "# Goal " + goal + sensor.rstrip() + "\n")
    with open(os.path.join(folder, "monitor.toml"), "w") as fh:
        fh.write(MONITOR_HEADER + "\n" + common + sensor + "# --- reachguardd" + daemon)


# (label, lower, upper): straight at the start, and displaced up and turned toward the obstacle.
CASES = [
    ("start", [-0.01, -0.01, -0.02], [0.01, 0.01, 0.02]),
    ("toward_obstacle", [-0.01, 0.01, 0.03], [0.01, 0.03, 0.07]),
]


def inside_obstacle(x, margin=0.0):
    return ((x[:, 0] > OBSTACLE[0] - margin) & (x[:, 0] < OBSTACLE[1] + margin)
            & (x[:, 1] > OBSTACLE[2] - margin) & (x[:, 1] < OBSTACLE[3] + margin))


def target_law(x):
    p, th = x[:, :2], x[:, 2]
    goal = AIM - p
    goal /= np.linalg.norm(goal, axis=1, keepdims=True)
    away = p - CENTRE
    d = np.linalg.norm(away, axis=1, keepdims=True)
    f = goal + A * np.exp(-(d / S) ** 2) * away / d
    # psi - th stays inside (-pi, pi) on the domain (the aim is ahead), so no wrapping is needed.
    return np.clip(K * (np.arctan2(f[:, 1], f[:, 0]) - th), -W_MAX, W_MAX)


def euler_period(x, w):
    """One period as 10 Euler steps: enough to place training points and to compare loops."""
    for _ in range(10):
        x = x + 0.01 * field(x, w[:, None])
    return x


def law_states(rng, count):
    """States along closed-loop runs of the law from around the start, jittered."""
    x = rng.uniform([-0.05, -0.05, -0.2], [0.05, 0.07, 0.2], (count, 3))
    states = [x]
    for _ in range(HORIZON):
        x = euler_period(x, target_law(x))
        states.append(x)
    states = np.vstack(states)
    return states + rng.normal(0, [0.03, 0.03, 0.1], states.shape)


def train(rng):
    """3-16-16-1 ReLU; the saturated target is learnt too (clipping again is exact).

    Half the points lie near the law's own runs, where 16-16 neurons fit it closely; the
    other half cover the domain so that the daemon's other states get a sensible steer.
    """
    params = init_params(rng, [3, 16, 16, 1])
    data = rng.uniform(DOMAIN_LO, DOMAIN_HI, (3000, 3))
    # Inside the obstacle the law's direction flips around O; no run goes there, so fit elsewhere.
    data = np.vstack([law_states(rng, 300), data[~inside_obstacle(data, margin=0.02)]])
    return adam_fit(params, data, target_law(data)[:, None])


def rollout(control, x):
    for _ in range(HORIZON):
        x = euler_period(x, control(x))
    return x


def field(y, u):
    return np.stack([V * np.cos(y[:, 2]), V * np.sin(y[:, 2]), u[:, 0]], axis=1)


def main():
    rng = np.random.default_rng(SEED)
    folder = os.path.join(ROOT, "Config/unicycle")
    os.makedirs(folder, exist_ok=True)
    params = train(rng)
    export(params, os.path.join(folder, "controller.onnx"), name="unicycle_controller")
    write_tomls(folder)
    near, domain = law_states(rng, 300), rng.uniform(DOMAIN_LO, DOMAIN_HI, (4000, 3))
    domain = domain[~inside_obstacle(domain, margin=0.02)]
    for name, probe in (("near the law's runs", near), ("over the domain", domain)):
        err = forward(params, probe)[:, 0] - target_law(probe)
        print(f"unicycle controller fit {name}: rms error {np.sqrt(np.mean(err ** 2)):.4f} rad/s, "
              f"max {abs(err).max():.4f}")

    def control(x):
        return np.clip(forward(params, x), -W_MAX, W_MAX)

    # What imitation is for: the closed loops of the law and of the network end close together.
    starts = rng.uniform([-0.02, -0.02, -0.05], [0.02, 0.02, 0.05], (500, 3))
    gap = abs(rollout(lambda x: control(x)[:, 0], starts) - rollout(target_law, starts)).max(axis=0)
    print("unicycle closed loop, network against law after 1 s: max gap", np.round(gap, 4).tolist())
    rows = []
    for label, lo, hi in CASES:
        samples, periods = envelope(field, control, np.array(lo), np.array(hi), PERIOD, HORIZON, rng)
        rows.append({"label": label, "box": {"lower": lo, "upper": hi}, "horizon": HORIZON,
                     "samples": samples, "periods": periods})
    fixture = {"name": "unicycle", "system": "Config/unicycle/system.toml", "cases": rows,
               "generator": "Scripts/make_unicycle_example.py (scipy DOP853, rtol 1e-10, atol 1e-12, "
                            f"{TRAJECTORIES} trajectories and the corners, {GRID} grid points per period)"}
    with open(os.path.join(ROOT, "Tests/Fixtures/ode/unicycle.json"), "w") as fh:
        json.dump(fixture, fh, indent=1)


if __name__ == "__main__":
    main()
