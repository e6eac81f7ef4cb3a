#!/usr/bin/env python3
"""The open-loop pendulum flow for ValidatedIntegrationTests: scipy DOP853 at rtol 1e-12 from a grid of
starts in a box, with the input held, at the end of each period and at 20 points inside it.
Writes Tests/Fixtures/flow/pendulum.json."""
import json
import os

import numpy as np
from scipy.integrate import solve_ivp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
G, L, M, B, U = 9.81, 0.5, 0.5, 0.1, 0.3
FIELD = ["om", "g/l*sin(th) - b*om + u/(m*l^2)"]
BOX = [[0.1, 0.2], [-0.1, 0.1]]
PERIOD, PERIODS, GRID, POINTS = 0.1, 5, 20, 7


def rhs(_, y):
    return [y[1], G / L * np.sin(y[0]) - B * y[1] + U / (M * L * L)]


def main():
    times = np.linspace(0, PERIOD * PERIODS, PERIODS * GRID + 1)
    starts = [[a, b] for a in np.linspace(*BOX[0], POINTS) for b in np.linspace(*BOX[1], POINTS)]
    paths = []
    for x0 in starts:
        sol = solve_ivp(rhs, (0, times[-1]), x0, method="DOP853", rtol=1e-12, atol=1e-14, t_eval=times)
        paths.append({"start": [float(v) for v in x0], "states": sol.y.T.tolist()})
    out = {"states": ["th", "om"], "field": FIELD, "constants": {"g": G, "l": L, "m": M, "b": B, "u": U},
           "box": BOX, "period": PERIOD, "periods": PERIODS, "grid": GRID, "times": times.tolist(), "paths": paths,
           "generator": "Scripts/make_flow_fixture.py (scipy DOP853, rtol 1e-12, atol 1e-14)"}
    folder = os.path.join(ROOT, "Tests/Fixtures/flow")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "pendulum.json"), "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
