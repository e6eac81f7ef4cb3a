#!/usr/bin/env python3
"""Independent oracle for ReachGuard's solver on DAG-shaped ReLU networks.

A sibling of make_lp_fixtures.py (whose tolerances, HiGHS options and ONNX
conventions it reuses) for the shapes the structure fuzzer builds: skip
connections from any earlier node (an affine node with several terms),
residual Adds of two branches, 1-wide layers, layers that are dead or active
over the whole box, weight scales from 1e-2 to 1e2 within one network, fixed
input coordinates, and networks whose output is a ReLU.

Each network is exported as PyTorch would export it (opset 13): a Linear
layer is Gemm(transB=1) with its bias, a bias-free Linear is MatMul by the
transposed weight, a branch sum or residual is Add, then Relu. The importer
fuses every block back into one affine node with several terms.

Per case (an input box) the JSON holds:
  * relus      the ONNX names of the Relu nodes, in topological order
  * lp_layers  LP-tight bounds of each Relu's input, computed node by node:
               the triangle LP over the relaxation of its ancestors, on the
               LP-tight bounds found before it, intersected with IBP
  * lp         the output's min and max over the triangle relaxation built on
               lp_layers (the tightest triangle relaxation)
  * sampled    min / max over 200 uniform random forward passes

The Swift side (Tests/SplittingTests/DAGOracleTests.swift) is fed lp_layers
as its intermediate bounds, so both sides optimise over the same polytope and
the comparison is exact up to solver tolerances; it also runs its own LP
intermediates and must land within 1e-3 of the same optimum.

Usage:
    python3 Scripts/make_dag_fixtures.py [--out Tests/Fixtures/dag]

This script is offline tooling; Swift tests only read its JSON/ONNX output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.optimize import linprog

import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_lp_fixtures import LP_OPTIONS, N_SAMPLES, bounds_json, check_within  # noqa: E402

BASE_SEED = 20250611
NETWORK_COUNT = 30
SCALES = [1e-2, 1e-1, 1.0, 10.0, 1e2]


# --------------------------------------------------------------------------
# network: nodes in topological order, as the importer will rebuild them
# --------------------------------------------------------------------------

@dataclass
class Term:
    source: int
    W32: np.ndarray | None      # float32 [out, in]; None: identity (a residual Add)


@dataclass
class Node:
    kind: str                   # "input", "affine" or "relu"
    size: int
    name: str
    terms: list[Term] = field(default_factory=list)
    b32: np.ndarray | None = None
    source: int = -1            # relu only


@dataclass
class DAG:
    nodes: list[Node]

    @property
    def output(self) -> int:
        return len(self.nodes) - 1

    def weight(self, t: Term, rows: int) -> np.ndarray:
        return np.eye(rows) if t.W32 is None else t.W32.astype(np.float64)

    def forward_all(self, X: np.ndarray) -> list[np.ndarray]:
        """Float64 values of every node, X of shape [batch, n0]."""
        vals = []
        for nd in self.nodes:
            if nd.kind == "input":
                vals.append(np.asarray(X, dtype=np.float64))
            elif nd.kind == "relu":
                vals.append(np.maximum(vals[nd.source], 0.0))
            else:
                z = np.tile(nd.b32.astype(np.float64), (len(X), 1))
                for t in nd.terms:
                    z = z + vals[t.source] @ self.weight(t, nd.size).T
                vals.append(z)
        return vals

    def pre_activations(self) -> list[int]:
        return [nd.source for nd in self.nodes if nd.kind == "relu"]


def random_dag(rng: np.random.Generator, index: int) -> DAG:
    """Blocks of (affine, relu); each affine reads the newest activation and,
    often, a skip source: an earlier activation or pre-activation through a
    Linear, or the same-width activation of the block before as a residual."""
    n0 = int(rng.integers(1, 5))
    nodes = [Node("input", n0, "input")]
    blocks = int(rng.integers(2, 5))
    relu_output = index % 3 == 0
    activations = [0]
    gain = 1.0
    for k in range(blocks):
        last = k == blocks - 1
        width = int(rng.integers(1, 3)) if last else int(rng.choice([1, 2, 3, 4, 6, 8]))
        newest = activations[-1]
        sources = [newest]
        residual = None
        if rng.random() < 0.6 and len(nodes) > 1:
            skip = int(rng.integers(0, len(nodes)))
            if skip != newest:
                sources.append(skip)
        if not last and newest != 0 and rng.random() < 0.35:
            width = nodes[newest].size
            residual = newest
        scale = float(rng.choice(SCALES))
        # Mixed, but the network's gain stays within 1e±3 so that HiGHS's tolerances hold.
        if not 1e-3 <= gain * scale <= 1e3:
            scale = 1.0 / scale
        gain *= scale
        terms = []
        for s in sources:
            fan_in = nodes[s].size
            W = rng.normal(0.0, scale * np.sqrt(2.0 / fan_in), size=(width, fan_in))
            W[rng.random(W.shape) < 0.1] = 0.0
            terms.append(Term(s, W.astype(np.float32)))
        if residual is not None:
            terms.append(Term(residual, None))
        bias = rng.normal(0.0, 0.1 * scale, size=width).astype(np.float32)
        nodes.append(Node("affine", width, f"/block{k + 1}/Add" if len(terms) > 1 else f"/fc{k + 1}/Gemm",
                          terms=terms, b32=bias))
        if not last or relu_output:
            nodes.append(Node("relu", width, f"/relu{k + 1}/Relu", source=len(nodes) - 1))
            activations.append(len(nodes) - 1)
    return DAG(nodes)


def ibp(dag: DAG, lo, hi):
    out = []
    for nd in dag.nodes:
        if nd.kind == "input":
            out.append((lo.copy(), hi.copy()))
        elif nd.kind == "relu":
            l, u = out[nd.source]
            out.append((np.maximum(l, 0.0), np.maximum(u, 0.0)))
        else:
            l = nd.b32.astype(np.float64).copy()
            u = l.copy()
            for t in nd.terms:
                W = dag.weight(t, nd.size)
                sl, su = out[t.source]
                l = l + np.maximum(W, 0) @ sl + np.minimum(W, 0) @ su
                u = u + np.maximum(W, 0) @ su + np.minimum(W, 0) @ sl
            out.append((l, u))
    return out


def set_bias_modes(dag: DAG, rng: np.random.Generator, lo, hi, index: int) -> None:
    """Makes one hidden block dead (every neuron off over the box) or active
    (every neuron on) in some networks: the relaxation's stable cases."""
    hidden = [i for i, nd in enumerate(dag.nodes) if nd.kind == "affine" and i in dag.pre_activations()]
    if index % 5 not in (1, 2) or len(hidden) < 2:
        return
    w = hidden[int(rng.integers(0, len(hidden) - 1))]
    nd = dag.nodes[w]
    nd.b32 = np.zeros(nd.size, dtype=np.float32)
    l, u = ibp(dag, lo, hi)[w]
    margin = 0.1 * (u - l) + 1e-3
    nd.b32 = (-u - margin if index % 5 == 1 else -l + margin).astype(np.float32)


# --------------------------------------------------------------------------
# ONNX export (PyTorch style) and read-back
# --------------------------------------------------------------------------

def export_onnx(dag: DAG, path: str) -> None:
    names = {0: "input"}
    nodes, inits = [], []
    for v, nd in enumerate(dag.nodes):
        if nd.kind == "input":
            continue
        last = v == dag.output
        out = "output" if last else f"t{v}"
        if nd.kind == "relu":
            nodes.append(helper.make_node("Relu", [names[nd.source]], [out], name=nd.name))
            names[v] = out
            continue
        parts = []
        for j, t in enumerate(nd.terms):
            src = names[t.source]
            if t.W32 is None:
                parts.append(src)
            elif j == 0:
                wn, bn = f"n{v}.fc{j}.weight", f"n{v}.fc{j}.bias"
                inits += [numpy_helper.from_array(t.W32, wn), numpy_helper.from_array(nd.b32, bn)]
                nodes.append(helper.make_node("Gemm", [src, wn, bn], [f"t{v}_{j}"], name=f"/n{v}/fc{j}/Gemm",
                                              alpha=1.0, beta=1.0, transB=1))
                parts.append(f"t{v}_{j}")
            else:
                wn = f"n{v}.fc{j}.weight"
                inits.append(numpy_helper.from_array(np.ascontiguousarray(t.W32.T), wn))
                nodes.append(helper.make_node("MatMul", [src, wn], [f"t{v}_{j}"], name=f"/n{v}/fc{j}/MatMul"))
                parts.append(f"t{v}_{j}")
        acc = parts[0]
        for j, p in enumerate(parts[1:], start=1):
            last_add = j == len(parts) - 1
            dst = out if last_add else f"t{v}_sum{j}"
            nodes.append(helper.make_node("Add", [acc, p], [dst], name=nd.name if last_add else f"/n{v}/Add{j}"))
            acc = dst
        if len(parts) == 1:
            # A single Gemm: its output is the node's.
            nodes[-1].output[0] = out
        names[v] = out
    graph = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", dag.nodes[0].size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", dag.nodes[-1].size])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="reachguard-make_dag_fixtures", producer_version="1")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


# --------------------------------------------------------------------------
# the triangle relaxation of a DAG
# --------------------------------------------------------------------------

class DAGRelaxation:
    """Variables: one block per live node (x, each affine z, each relu y).
    z = Σ W y_src + b; each ReLU's (z, y) in its triangle (or y = z / y = 0
    when stable), with l ≤ z ≤ u for every pre-activation node."""

    def __init__(self, dag: DAG, lo, hi, pre_bounds: dict[int, tuple], target: int):
        live = ancestors(dag, target)
        self.slice, pos = {}, 0
        for v in sorted(live):
            self.slice[v] = slice(pos, pos + dag.nodes[v].size)
            pos += dag.nodes[v].size
        self.nvar = pos
        lb, ub = np.full(pos, -np.inf), np.full(pos, np.inf)
        lb[self.slice[0]], ub[self.slice[0]] = lo, hi
        eq, eq_b, ineq, ineq_b = [], [], [], []
        for v in sorted(live):
            nd = dag.nodes[v]
            if nd.kind == "affine":
                self._affine(dag, v, eq, eq_b)
                if v in pre_bounds:
                    lb[self.slice[v]], ub[self.slice[v]] = pre_bounds[v]
            elif nd.kind == "relu":
                self._relu(nd, v, pre_bounds[nd.source], lb, ub, eq, eq_b, ineq, ineq_b)
        self.A_eq = sp.vstack(eq).tocsr() if eq else None
        self.b_eq = np.concatenate(eq_b) if eq else None
        self.A_ub = sp.vstack(ineq).tocsr() if ineq else None
        self.b_ub = np.concatenate(ineq_b) if ineq else None
        self.bounds = np.column_stack([lb, ub])

    def _rows(self, n, entries):
        """n rows from (variable slice, n×m coefficient block) pairs; a source
        read by two terms (a residual beside a Linear) gets their sum."""
        A = np.zeros((n, self.nvar))
        for s, M in entries:
            A[:, s] += M
        return sp.csr_array(A)

    def _affine(self, dag, v, eq, eq_b):
        nd = dag.nodes[v]
        entries = [(self.slice[v], np.eye(nd.size))]
        entries += [(self.slice[t.source], -dag.weight(t, nd.size)) for t in nd.terms]
        eq.append(self._rows(nd.size, entries))
        eq_b.append(nd.b32.astype(np.float64))

    def _relu(self, nd, v, bounds, lb, ub, eq, eq_b, ineq, ineq_b):
        l, u = bounds
        n = nd.size
        zs, ys = self.slice[nd.source], self.slice[v]
        act, ina = l >= 0, u <= 0
        uns = ~act & ~ina
        lb[ys] = np.where(act, l, 0.0)
        ub[ys] = np.where(ina, 0.0, u)
        I = np.eye(n)
        if act.any():                                  # y = z
            eq.append(self._rows(int(act.sum()), [(ys, I[act]), (zs, -I[act])]))
            eq_b.append(np.zeros(int(act.sum())))
        if uns.any():
            k = int(uns.sum())
            s = np.zeros(n)
            s[uns] = u[uns] / (u[uns] - l[uns])
            ineq.append(self._rows(k, [(zs, I[uns]), (ys, -I[uns])]))              # z − y ≤ 0
            ineq_b.append(np.zeros(k))
            ineq.append(self._rows(k, [(ys, I[uns]), (zs, -np.diag(s)[uns])]))     # y − s z ≤ −s l
            ineq_b.append(-(s * l)[uns])

    def minimise(self, target_slice, c):
        cost = np.zeros(self.nvar)
        cost[target_slice] = c
        res = linprog(cost, A_ub=self.A_ub, b_ub=self.b_ub, A_eq=self.A_eq, b_eq=self.b_eq,
                      bounds=self.bounds, method="highs-ds", options=LP_OPTIONS)
        if res.status != 0:
            raise RuntimeError(f"HiGHS LP not optimal: status={res.status} {res.message}")
        return res.fun, res.x

    def range_of(self, v, size):
        lo, hi, xs = np.empty(size), np.empty(size), []
        for i in range(size):
            e = np.zeros(size)
            e[i] = 1.0
            fmin, xmin = self.minimise(self.slice[v], e)
            fmax, xmax = self.minimise(self.slice[v], -e)
            lo[i], hi[i] = fmin, -fmax
            xs += [xmin[self.slice[0]], xmax[self.slice[0]]]
        return lo, hi, xs


def ancestors(dag: DAG, target: int) -> set[int]:
    seen, stack = {target}, [target]
    while stack:
        nd = dag.nodes[stack.pop()]
        srcs = [t.source for t in nd.terms] if nd.kind == "affine" else ([nd.source] if nd.kind == "relu" else [])
        for s in srcs:
            if s not in seen:
                seen.add(s)
                stack.append(s)
    return seen


def lp_tight_bounds(dag: DAG, lo, hi):
    """Each pre-activation node's range over its ancestors' relaxation, in
    topological order, intersected with IBP (removes solver noise only)."""
    box_ibp = ibp(dag, lo, hi)
    bounds = {}
    for w in dag.pre_activations():
        rel = DAGRelaxation(dag, lo, hi, bounds, w)
        l, u, _ = rel.range_of(w, dag.nodes[w].size)
        il, iu = box_ibp[w]
        check_within(l, u, il, iu, f"lp bounds of node {w} within ibp")
        bounds[w] = (np.maximum(l, il), np.minimum(u, iu))
    return bounds


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

def random_box(rng, n0):
    """A box of radius 0.2–1.5 around a centre in [-0.5, 0.5] (wide enough for unstable
    neurons at every depth); one coordinate fixed in some networks."""
    c = rng.uniform(-0.5, 0.5, size=n0)
    r = rng.uniform(0.2, 1.5, size=n0)
    if n0 > 1 and rng.random() < 0.3:
        r[int(rng.integers(0, n0))] = 0.0
    return c - r, c + r


def compute_case(dag: DAG, label, lo, hi, rng):
    pre = lp_tight_bounds(dag, lo, hi)
    out = dag.output
    # A ReLU output's bounds are those of its relaxed y; otherwise of the affine output.
    rel = DAGRelaxation(dag, lo, hi, pre, out)
    lp_lo, lp_hi, xs = rel.range_of(out, dag.nodes[out].size)
    X = lo + (hi - lo) * rng.random((N_SAMPLES, len(lo)))
    vals = dag.forward_all(X)
    s_lo, s_hi = vals[out].min(axis=0), vals[out].max(axis=0)
    check_within(s_lo, s_hi, lp_lo, lp_hi, f"{label}: sampled within lp")
    at_opt = dag.forward_all(np.clip(np.array(xs), lo, hi))[out]
    check_within(at_opt.min(axis=0), at_opt.max(axis=0), lp_lo, lp_hi, f"{label}: lp argopt within lp")
    for w, (l, u) in pre.items():
        check_within(vals[w].min(axis=0), vals[w].max(axis=0), l, u, f"{label}: samples within lp bounds of {w}")
    relus = [v for v, nd in enumerate(dag.nodes) if nd.kind == "relu"]
    return {
        "label": label,
        "box": bounds_json(lo, hi),
        "relus": [dag.nodes[r].name for r in relus],
        "lp_layers": [bounds_json(*pre[dag.nodes[r].source]) for r in relus],
        "lp": bounds_json(lp_lo, lp_hi),
        "sampled": bounds_json(s_lo, s_hi),
        "unstable": [int(np.sum((pre[dag.nodes[r].source][0] < 0) & (pre[dag.nodes[r].source][1] > 0)))
                     for r in relus],
    }


def check_export(dag: DAG, path: str, rng) -> None:
    """The ONNX reference runtime agrees with the float64 forward pass."""
    Xt = rng.uniform(-1, 1, size=(16, dag.nodes[0].size)).astype(np.float32)
    (Yref,) = ReferenceEvaluator(onnx.load(path)).run(None, {"input": Xt})
    Y = dag.forward_all(Xt.astype(np.float64))[dag.output]
    assert np.allclose(Yref, Y, atol=1e-3, rtol=1e-4), ("onnx reference mismatch", np.max(np.abs(Yref - Y)))


def shape_of(dag: DAG) -> str:
    parts = []
    for nd in dag.nodes[1:]:
        if nd.kind == "relu":
            parts.append("relu")
        else:
            srcs = ",".join("I" if t.W32 is None else str(t.source) for t in nd.terms)
            parts.append(f"{nd.size}<-[{srcs}]")
    return " ".join(parts)


def make_network(index: int, outdir: str):
    seed = BASE_SEED + index
    rng = np.random.default_rng(seed)
    dag = random_dag(rng, index)
    lo, hi = random_box(rng, dag.nodes[0].size)
    set_bias_modes(dag, rng, lo, hi, index)
    name = f"dag_{index:02d}"
    path = os.path.join(outdir, f"{name}.onnx")
    export_onnx(dag, path)
    check_export(dag, path, rng)
    centre, radius = (lo + hi) / 2, (hi - lo) / 2
    cases = [compute_case(dag, "box", lo, hi, rng),
             compute_case(dag, "half", centre - radius / 2, centre + radius / 2, rng)]
    doc = {
        "name": name,
        "model": f"{name}.onnx",
        "shape": shape_of(dag),
        "relu_output": dag.nodes[-1].kind == "relu",
        "cases": cases,
        "generator": {"script": "Scripts/make_dag_fixtures.py", "seed": seed, "numpy": np.__version__,
                      "scipy": scipy.__version__, "onnx": onnx.__version__, "samples": N_SAMPLES,
                      "lp_method": "highs-ds", "lp_options": LP_OPTIONS},
    }
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{name}: {doc['shape']}  unstable {[c['unstable'] for c in cases]}", flush=True)
    return name


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "Fixtures", "dag"))
    args = ap.parse_args(argv)
    outdir = os.path.abspath(args.out)
    os.makedirs(outdir, exist_ok=True)
    names = [make_network(i, outdir) for i in range(NETWORK_COUNT)]
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump({"networks": names}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
