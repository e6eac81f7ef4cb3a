#!/usr/bin/env python3
"""Generate the convolutional examples and conv reference fixtures.

Run from anywhere (the script finds the repository root by itself):

    python3 Scripts/make_conv_examples.py                 # everything
    python3 Scripts/make_conv_examples.py digits lp       # a subset

Everything is trained with numpy/scipy only (no deep-learning framework):
convolutions are im2col gathers (a fixed sparse 0/1 matrix per layer), the
parameters are flattened and fitted with full-batch L-BFGS.  Seeds are fixed
and BLAS is pinned to one thread, so reruns are deterministic.
Generated with: Python 3.11, numpy 2.4.6, scipy 1.17.1, onnx 1.23.2,
onnxruntime 1.32.0, scikit-learn 1.9.1 (digits data), gymnasium 1.4.0 (CartPole-v1).

Parts:
  digits   -> Config/digits/{digits_cnn.onnx, digits_test.json, README.txt}
              Tests/Fixtures/conv/digits_reference.json
  cartpole -> Config/cartpole/{policy.onnx, observations.json, README.txt}
  vision   -> Config/vision/{controller.onnx, image_box.json, README.txt}
  fixtures -> Tests/Fixtures/conv/{conv_stride_dilation,conv_residual_bn,
              conv_pool_norm}.onnx + conv_forward.json
  lp       -> Tests/Fixtures/conv/{lp_small.onnx, lp_small.json}

ONNX conventions (the subset ReachGuard's importer supports): opset 13,
ir_version 8, input "input" of shape ["batch", C, H, W] (["batch", 4] for the
cart-pole MLP), output "output"; Conv (group 1, explicit kernel_shape,
strides, pads, dilations, bias), Relu, Gemm (transB=1), Flatten, Reshape with
a constant shape, Add of two tensors, Sub/Mul/Div by constants,
BatchNormalization (inference), AveragePool (pads 0, count_include_pad 0),
GlobalAveragePool.  Float32 initialisers stored as raw_data.  Every model is
checked with onnx.checker (full_check) and onnxruntime is compared with an
independent float64 numpy interpreter of the graph (max |diff| < 1e-5).

All reference values that are bounds (sampled margins, IBP, LP, MILP) are
computed in float64 from the float32-rounded weights stored in the ONNX file,
i.e. for exactly the network a float64 consumer of the file sees.
"""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import onnx
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp
from onnx import TensorProto, helper, numpy_helper
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "Tests" / "Fixtures" / "conv"


def log(msg):
    print(msg, flush=True)


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n")


def f32(a):
    """Round to float32 and back to float64."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# --------------------------------------------------------------------------
# ONNX building

class Builder:
    """Sequential-friendly ONNX graph builder (PyTorch-like node names)."""

    def __init__(self, name):
        self.name = name
        self.nodes, self.inits = [], []

    def init(self, name, arr, dtype=np.float32):
        t = numpy_helper.from_array(np.asarray(arr, dtype=dtype), name)
        assert t.HasField("raw_data")
        self.inits.append(t)
        return name

    def node(self, op, inputs, name, **attrs):
        out = f"/{name}/{op}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"/{name}/{op}", **attrs))
        return out

    def conv(self, x, name, w, b, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1)):
        w = np.asarray(w)
        wn = self.init(f"{name}.weight", w)
        bn = self.init(f"{name}.bias", b)
        return self.node("Conv", [x, wn, bn], name, group=1, kernel_shape=list(w.shape[2:]),
                         strides=list(strides), pads=list(pads), dilations=list(dilations))

    def gemm(self, x, name, w, b):
        wn = self.init(f"{name}.weight", w)
        bn = self.init(f"{name}.bias", b)
        return self.node("Gemm", [x, wn, bn], name, alpha=1.0, beta=1.0, transB=1)

    def relu(self, x, name):
        return self.node("Relu", [x], name)

    def avgpool(self, x, name, k, s):
        return self.node("AveragePool", [x], name, kernel_shape=[k, k], strides=[s, s],
                         pads=[0, 0, 0, 0], count_include_pad=0, ceil_mode=0)

    def gap(self, x, name):
        return self.node("GlobalAveragePool", [x], name)

    def flatten(self, x, name):
        return self.node("Flatten", [x], name, axis=1)

    def batchnorm(self, x, name, scale, bias, mean, var, eps=1e-5):
        ins = [x] + [self.init(f"{name}.{k}", v) for k, v in
                     (("weight", scale), ("bias", bias), ("running_mean", mean), ("running_var", var))]
        return self.node("BatchNormalization", ins, name, epsilon=eps, momentum=0.9)

    def finish(self, out, in_shape, out_shape, path):
        # Rename the last node's output to "output".
        last = self.nodes[-1]
        assert last.output[0] == out
        last.output[0] = "output"
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *in_shape])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", *out_shape])],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                  producer_name="reachguard-make_conv_examples", producer_version="1.0")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(model.SerializeToString())
        return model


# --------------------------------------------------------------------------
# independent float64 numpy interpreter of the supported ONNX subset

def conv_out_size(n, k, s, p0, p1, d):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def np_conv(x, w, b, strides, pads, dil):
    """Direct convolution: one einsum per kernel offset.  x [N,C,H,W]."""
    n, c, h, wd = x.shape
    m, cw, kh, kw = w.shape
    assert cw == c
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = conv_out_size(h, kh, strides[0], pads[0], pads[2], dil[0])
    ow = conv_out_size(wd, kw, strides[1], pads[1], pads[3], dil[1])
    out = np.zeros((n, m, oh, ow))
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dil[0], kx * dil[1]
            patch = xp[:, :, y0:y0 + strides[0] * (oh - 1) + 1:strides[0],
                       x0:x0 + strides[1] * (ow - 1) + 1:strides[1]]
            out += np.einsum("nchw,mc->nmhw", patch, w[:, :, ky, kx])
    if b is not None:
        out += b[None, :, None, None]
    return out


def np_avgpool(x, k, strides, pads):
    """AveragePool with count_include_pad = 0."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    ones = np.pad(np.ones((h, w)), ((pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - k[0]) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - k[1]) // strides[1] + 1
    s = np.zeros((n, c, oh, ow))
    cnt = np.zeros((oh, ow))
    for ky in range(k[0]):
        for kx in range(k[1]):
            sl = (slice(ky, ky + strides[0] * (oh - 1) + 1, strides[0]),
                  slice(kx, kx + strides[1] * (ow - 1) + 1, strides[1]))
            s += xp[(slice(None), slice(None)) + sl]
            cnt += ones[sl]
    return s / cnt


def attrs_of(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def op_eval(node, ins, linear_only=False):
    """Evaluate one node in float64.  linear_only drops additive constants
    (biases), which gives the homogeneous part of an affine node."""
    a = attrs_of(node)
    op = node.op_type
    x = ins[0]
    if op == "Conv":
        assert a.get("group", 1) == 1
        b = None if (linear_only or len(ins) < 3) else ins[2]
        return np_conv(x, ins[1], b, a["strides"], a["pads"], a["dilations"])
    if op == "Relu":
        return np.maximum(x, 0.0)
    if op == "Gemm":
        assert a.get("transB", 0) == 1 and a.get("transA", 0) == 0
        assert a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0
        y = x @ ins[1].T
        return y if linear_only else y + ins[2]
    if op == "Flatten":
        return x.reshape(x.shape[0], -1)
    if op == "Reshape":
        shape = [int(s) for s in ins[1]]
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return x.reshape(shape)
    if op == "AveragePool":
        assert a.get("count_include_pad", 0) == 0 and a.get("ceil_mode", 0) == 0
        return np_avgpool(x, a["kernel_shape"], a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]))
    if op == "GlobalAveragePool":
        return x.mean(axis=(2, 3), keepdims=True)
    assert not linear_only, f"{op} is not supported in a dense chain"
    if op == "Add":
        return ins[0] + ins[1]
    if op == "Sub":
        return ins[0] - ins[1]
    if op == "Mul":
        return ins[0] * ins[1]
    if op == "Div":
        return ins[0] / ins[1]
    if op == "BatchNormalization":
        scale, bias, mean, var = (t[None, :, None, None] for t in ins[1:5])
        return (x - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * scale + bias
    raise ValueError(f"unsupported op {op}")


def initializers(model):
    return {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}


def np_eval(model, x):
    vals = initializers(model)
    vals["input"] = np.asarray(x, dtype=np.float64)
    for node in model.graph.node:
        vals[node.output[0]] = op_eval(node, [vals[i] for i in node.input])
    return vals["output"]


def dense_chain(model, in_shape):
    """A sequential model as [("affine", W, b) | ("relu",)] in float64: every
    maximal run of linear nodes becomes one dense affine map (built by
    applying the nodes to unit vectors, biases dropped, plus the zero input
    with biases)."""
    inits = initializers(model)
    chain, seg = [], []
    shape = tuple(in_shape)
    prev = "input"

    def run(nodes, x, linear_only):
        for nd in nodes:
            x = op_eval(nd, [x] + [inits[i] for i in nd.input[1:]], linear_only)
        return x

    def flush():
        nonlocal shape, seg
        if not seg:
            return
        n = int(np.prod(shape))
        e = np.eye(n).reshape((n,) + shape)
        out = run(seg, e, True)
        b = run(seg, np.zeros((1,) + shape), False)
        chain.append(("affine", out.reshape(n, -1).T.copy(), b.reshape(-1)))
        shape = tuple(out.shape[1:])
        seg = []

    for node in model.graph.node:
        assert node.input[0] == prev, "dense_chain needs a sequential model"
        prev = node.output[0]
        if node.op_type == "Relu":
            flush()
            chain.append(("relu",))
        else:
            seg.append(node)
    flush()
    return chain


def chain_forward(chain, x):
    """x [N, n_in] -> output [N, n_out] and the ReLU masks."""
    masks = []
    for L in chain:
        if L[0] == "affine":
            x = x @ L[1].T + L[2]
        else:
            m = x > 0
            masks.append(m)
            x = x * m
    return x, masks


def chain_input_grad(chain, masks, cot):
    """Vector-Jacobian product: cot [N, n_out] -> d(cot . out)/dx [N, n_in]."""
    k = len(masks)
    for L in reversed(chain):
        if L[0] == "affine":
            cot = cot @ L[1]
        else:
            k -= 1
            cot = cot * masks[k]
    return cot


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_run(path, x):
    return ort_session(path).run(["output"], {"input": np.asarray(x, dtype=np.float32)})[0].astype(np.float64)


def validate(model, path, x, what):
    """onnx.checker + onnxruntime vs the numpy interpreter."""
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    ref = np_eval(model, f32(x))
    got = ort_run(path, x)
    diff = float(np.max(np.abs(ref - got)))
    assert diff < 1e-5, f"{what}: onnxruntime differs from numpy by {diff}"
    log(f"{what}: onnx.checker ok, max |onnxruntime - numpy| = {diff:.2e} on {len(x)} inputs, "
        f"{path.stat().st_size} bytes")
    return got


# --------------------------------------------------------------------------
# training: a small layer-list network on flattened parameters

def im2col_matrix(in_shape, k, stride, pads, dil):
    """Sparse 0/1 gather G with cols = G @ x: row ((p*C + c)*kh + ky)*kw + kx,
    p = oy*ow + ox; out-of-range (padding) taps are absent (zero)."""
    c, h, w = in_shape
    kh, kw = k
    oh = conv_out_size(h, kh, stride[0], pads[0], pads[2], dil[0])
    ow = conv_out_size(w, kw, stride[1], pads[1], pads[3], dil[1])
    rows, cols = [], []
    for oy in range(oh):
        for ox in range(ow):
            p = oy * ow + ox
            for ch in range(c):
                for ky in range(kh):
                    iy = oy * stride[0] - pads[0] + ky * dil[0]
                    if not 0 <= iy < h:
                        continue
                    for kx in range(kw):
                        ix = ox * stride[1] - pads[1] + kx * dil[1]
                        if 0 <= ix < w:
                            rows.append(((p * c + ch) * kh + ky) * kw + kx)
                            cols.append((ch * h + iy) * w + ix)
    g = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(oh * ow * c * kh * kw, c * h * w))
    return g, (oh, ow)


class TrainNet:
    """Layers: conv (square kernel, symmetric pad), relu, avgpool (pads 0),
    flatten, gemm.  Activations are flat [N, C*H*W] in C order."""

    def __init__(self, in_shape, spec):
        self.in_shape = tuple(in_shape)
        shape = self.in_shape
        self.layers, self.pshapes = [], []
        for s in spec:
            L = dict(s)
            op = s["op"]
            if op == "conv":
                k, st, pd, dl = s["k"], s.get("stride", 1), s.get("pad", 0), s.get("dil", 1)
                g, (oh, ow) = im2col_matrix(shape, (k, k), (st, st), (pd,) * 4, (dl, dl))
                L.update(G=g, GT=g.T.tocsr(), P=oh * ow, K=shape[0] * k * k, M=s["out"],
                         pidx=len(self.pshapes), cin=shape[0])
                self.pshapes += [(s["out"], shape[0], k, k), (s["out"],)]
                shape = (s["out"], oh, ow)
            elif op == "avgpool":
                n = int(np.prod(shape))
                e = np.eye(n).reshape((n,) + shape)
                out = np_avgpool(e, (s["k"], s["k"]), (s["stride"],) * 2, (0,) * 4)
                L["A"] = out.reshape(n, -1).T.copy()
                shape = tuple(out.shape[1:])
            elif op == "flatten":
                shape = (int(np.prod(shape)),)
            elif op == "gemm":
                assert len(shape) == 1
                L["pidx"] = len(self.pshapes)
                self.pshapes += [(s["out"], shape[0]), (s["out"],)]
                shape = (s["out"],)
            else:
                assert op == "relu"
            self.layers.append(L)
        self.out_shape = shape
        self.sizes = [int(np.prod(p)) for p in self.pshapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.n_params = int(self.offsets[-1])

    def unpack(self, theta):
        return [theta[self.offsets[i]:self.offsets[i + 1]].reshape(s) for i, s in enumerate(self.pshapes)]

    def init(self, rng):
        ps = []
        for s in self.pshapes:
            if len(s) == 1:
                ps.append(rng.uniform(-0.05, 0.05, size=s))
            else:
                ps.append(rng.normal(0.0, np.sqrt(2.0 / np.prod(s[1:])), size=s))
        return np.concatenate([p.ravel() for p in ps])

    def forward(self, theta, x):
        ps = self.unpack(theta)
        caches = []
        h = x
        n = x.shape[0]
        for L in self.layers:
            op = L["op"]
            if op == "conv":
                w, b = ps[L["pidx"]].reshape(L["M"], -1), ps[L["pidx"] + 1]
                cols = np.asarray(L["G"] @ h.T).T.reshape(n, L["P"], L["K"])
                out = cols @ w.T + b
                caches.append(cols)
                h = out.transpose(0, 2, 1).reshape(n, -1)
            elif op == "relu":
                m = h > 0
                caches.append(m)
                h = h * m
            elif op == "avgpool":
                caches.append(None)
                h = h @ L["A"].T
            elif op == "flatten":
                caches.append(None)
            else:
                caches.append(h)
                h = h @ ps[L["pidx"]].T + ps[L["pidx"] + 1]
        return h, caches

    def backward(self, theta, caches, dout):
        ps = self.unpack(theta)
        grads = [None] * len(ps)
        d = dout
        n = dout.shape[0]
        for L, c in zip(reversed(self.layers), reversed(caches)):
            op = L["op"]
            if op == "conv":
                w = ps[L["pidx"]].reshape(L["M"], -1)
                dt = d.reshape(n, L["M"], L["P"]).transpose(0, 2, 1)       # N,P,M
                grads[L["pidx"]] = np.tensordot(dt, c, axes=([0, 1], [0, 1])).reshape(ps[L["pidx"]].shape)
                grads[L["pidx"] + 1] = dt.sum(axis=(0, 1))
                dcols = (dt @ w).reshape(n, -1)
                d = np.asarray(L["GT"] @ dcols.T).T
            elif op == "relu":
                d = d * c
            elif op == "avgpool":
                d = d @ L["A"]
            elif op == "gemm":
                grads[L["pidx"]] = d.T @ c
                grads[L["pidx"] + 1] = d.sum(axis=0)
                d = d @ ps[L["pidx"]]
        return np.concatenate([g.ravel() for g in grads]), d

    def export(self, theta, path, graph_name):
        ps = [p.astype(np.float32) for p in self.unpack(theta)]
        bld = Builder(graph_name)
        x = "input"
        nconv = ngemm = nrelu = 0
        for L in self.layers:
            op = L["op"]
            if op == "conv":
                nconv += 1
                pd, st, dl = L.get("pad", 0), L.get("stride", 1), L.get("dil", 1)
                x = bld.conv(x, f"conv{nconv}", ps[L["pidx"]], ps[L["pidx"] + 1],
                             strides=(st, st), pads=(pd,) * 4, dilations=(dl, dl))
            elif op == "relu":
                nrelu += 1
                x = bld.relu(x, f"relu{nrelu}")
            elif op == "avgpool":
                x = bld.avgpool(x, "pool", L["k"], L["stride"])
            elif op == "flatten":
                x = bld.flatten(x, "flatten")
            else:
                ngemm += 1
                x = bld.gemm(x, f"fc{ngemm}", ps[L["pidx"]], ps[L["pidx"] + 1])
        return bld.finish(x, self.in_shape, self.out_shape, path)


def lbfgs(fun, theta0, maxiter):
    res = scipy.optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B",
                                  options={"maxiter": maxiter, "maxfun": 2 * maxiter,
                                           "ftol": 0.0, "gtol": 1e-10})
    return res.x, res


def softmax_ce(net, theta, x, y, wd):
    out, caches = net.forward(theta, x)
    z = out - out.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.mean(np.log(p[np.arange(n), y] + 1e-300)) + wd * theta @ theta
    p[np.arange(n), y] -= 1.0
    g, _ = net.backward(theta, caches, p / n)
    return loss, g + 2.0 * wd * theta


def mse(net, theta, x, y, wd):
    out, caches = net.forward(theta, x)
    err = out - y
    loss = np.mean(err ** 2) + wd * theta @ theta
    g, _ = net.backward(theta, caches, 2.0 * err / err.size)
    return loss, g + 2.0 * wd * theta


def check_train_vs_onnx(net, theta, model, x, what):
    a, _ = net.forward(f32(theta), f32(x))
    b = np_eval(model, f32(x).reshape((-1,) + net.in_shape))
    diff = float(np.max(np.abs(a - b)))
    assert diff < 1e-9, f"{what}: im2col training forward differs from the ONNX interpretation by {diff}"


# --------------------------------------------------------------------------
# 1. digits

DIGITS_SPEC = [
    {"op": "conv", "out": 8, "k": 3, "pad": 1},
    {"op": "relu"},
    {"op": "conv", "out": 8, "k": 3, "stride": 2, "pad": 1},
    {"op": "relu"},
    {"op": "avgpool", "k": 2, "stride": 2},
    {"op": "flatten"},
    {"op": "gemm", "out": 32},
    {"op": "relu"},
    {"op": "gemm", "out": 10},
]


def digits_split():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = d.data.astype(np.float64) / 16.0          # k/16: exact in float32
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(20250301).permutation(len(y))
    n_train = int(round(0.8 * len(y)))
    tr, te = perm[:n_train], perm[n_train:]
    return x[tr], y[tr], x[te], y[te]


def sampled_min_margins(chain, x0, label, eps, rng, n_random=200, pgd_steps=20):
    """Smallest observed margin logit[label] - logit[j] (j != label) over
    random points of the clipped L-inf ball, the centre, and projected
    sign-gradient descent on each margin.  An upper bound on the true minimum."""
    lo, hi = np.clip(x0 - eps, 0.0, 1.0), np.clip(x0 + eps, 0.0, 1.0)
    others = [j for j in range(10) if j != label]

    def margins(x):
        out, _ = chain_forward(chain, x)
        return out[:, [label]] - out[:, others]          # [N, 9]

    pts = np.vstack([x0[None], rng.uniform(lo, hi, size=(n_random, len(x0)))])
    best = margins(pts).min(axis=0)
    # PGD per margin j, from the centre and from the best random point for j.
    rand_m = margins(pts)
    for start in ("centre", "best"):
        if start == "centre":
            x = np.repeat(x0[None], len(others), axis=0)
        else:
            x = pts[np.argmin(rand_m, axis=0)].copy()
        step = eps / 4.0
        for it in range(pgd_steps + 1):
            out, masks = chain_forward(chain, x)
            m = out[:, label] - out[np.arange(len(others)), others]
            best = np.minimum(best, m)
            if it == pgd_steps:
                break
            cot = np.zeros_like(out)
            cot[:, label] = 1.0
            cot[np.arange(len(others)), others] = -1.0
            g = chain_input_grad(chain, masks, cot)
            x = np.clip(x - step * np.sign(g), lo, hi)
            if it == 9:
                step = eps / 10.0
    return others, best


def digits():
    t0 = time.time()
    xtr, ytr, xte, yte = digits_split()
    net = TrainNet((1, 8, 8), DIGITS_SPEC)
    log(f"digits: {len(ytr)} train / {len(yte)} test images, {net.n_params} parameters")
    theta0 = net.init(np.random.default_rng(7))
    theta, res = lbfgs(lambda th: softmax_ce(net, th, xtr, ytr, 1e-3), theta0, maxiter=600)
    theta = f32(theta)
    pred_tr = net.forward(theta, xtr)[0].argmax(axis=1)
    pred_te = net.forward(theta, xte)[0].argmax(axis=1)
    log(f"digits: L-BFGS {res.nit} iterations, loss {res.fun:.4f}; train accuracy "
        f"{np.mean(pred_tr == ytr):.4f}, test accuracy {np.mean(pred_te == yte):.4f} "
        f"({time.time() - t0:.1f}s)")

    out_dir = ROOT / "Config" / "digits"
    path = out_dir / "digits_cnn.onnx"
    model = net.export(theta, path, "digits_cnn")
    check_train_vs_onnx(net, theta, model, xte, "digits")
    logits_te = validate(model, path, xte.reshape(-1, 1, 8, 8), "digits")
    acc_ort = float(np.mean(logits_te.argmax(axis=1) == yte))
    log(f"digits: onnxruntime test accuracy {acc_ort:.4f}")

    n_json = 100
    write_json(out_dir / "digits_test.json", {
        "images": xte[:n_json].tolist(),
        "labels": yte[:n_json].tolist(),
        "lower": 0.0, "upper": 1.0, "shape": [1, 8, 8],
    })
    (out_dir / "README.txt").write_text(
        "digits_cnn.onnx - small CNN for scikit-learn's 8x8 handwritten digits\n"
        "(load_digits, pixel values 0..16 divided by 16, so inputs are in [0,1]).\n"
        "Input \"input\" [batch,1,8,8], output \"output\" [batch,10] = logits (no softmax).\n"
        "Conv(1->8,3x3,pad 1) Relu Conv(8->8,3x3,stride 2,pad 1) Relu AveragePool(2x2,stride 2)\n"
        "Flatten Gemm(32->32) Relu Gemm(32->10).  Trained with numpy/L-BFGS on a seeded 80% split\n"
        f"({len(ytr)} images); test accuracy {acc_ort:.4f} on the other {len(yte)}.\n"
        "digits_test.json - the first 100 test images (row-major 1x8x8, 64 floats each), their\n"
        "labels, the valid pixel range [lower, upper] = [0, 1] and the input shape.\n"
        "Regenerate: python3 Scripts/make_conv_examples.py digits\n")

    # Reference fixture: logits and sampled worst-case margins.
    chain = dense_chain(model, (1, 8, 8))
    n_ref = 20
    xr, yr = xte[:n_ref], yte[:n_ref]
    lg, _ = chain_forward(chain, f32(xr))
    assert np.max(np.abs(lg - logits_te[:n_ref])) < 1e-5
    rng = np.random.default_rng(20250302)
    eps_list = [0.01, 0.03]
    margins, classes = {}, []
    for eps in eps_list:
        rows = []
        for i in range(n_ref):
            others, best = sampled_min_margins(chain, xr[i], int(yr[i]), eps, rng)
            rows.append(best.tolist())
            if eps == eps_list[0]:
                classes.append(others)
        margins[str(eps)] = rows
    m1, m3 = np.array(margins["0.01"]), np.array(margins["0.03"])
    log(f"digits: sampled min margin over the 20 reference images: eps 0.01 -> {m1.min(axis=1).min():.3f} "
        f"(robust-looking {int(np.sum(m1.min(axis=1) > 0))}/20), eps 0.03 -> {m3.min(axis=1).min():.3f} "
        f"(robust-looking {int(np.sum(m3.min(axis=1) > 0))}/20)")
    write_json(FIX / "digits_reference.json", {
        "model": "Config/digits/digits_cnn.onnx",
        "model_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "shape": [1, 8, 8], "lower": 0.0, "upper": 1.0,
        "eps": eps_list,
        "images": xr.tolist(),
        "labels": yr.tolist(),
        "logits": logits_te[:n_ref].tolist(),
        "classes": classes,
        "sampled_min_margin": margins,
    })
    log(f"digits: wrote Config/digits/* and Tests/Fixtures/conv/digits_reference.json "
        f"({time.time() - t0:.1f}s)")


# --------------------------------------------------------------------------
# 2. cart-pole

def cartpole_lqr_gain():
    """Discrete LQR on the linearised CartPole-v1 dynamics (Euler, tau 0.02)."""
    g, mc, mp, l, dt = 9.8, 1.0, 0.1, 0.5, 0.02
    mt = mc + mp
    den = l * (4.0 / 3.0 - mp / mt)
    a = np.zeros((4, 4))
    b = np.zeros((4, 1))
    a[0, 1] = a[2, 3] = 1.0
    a[3, 2] = g / den
    b[3, 0] = -1.0 / (mt * den)
    a[1, 2] = -mp * l * (g / den) / mt
    b[1, 0] = 1.0 / mt + mp * l / (mt * mt * den)
    ad, bd = np.eye(4) + dt * a, dt * b
    q, r = np.diag([1.0, 1.0, 10.0, 1.0]), np.array([[1.0]])
    p = scipy.linalg.solve_discrete_are(ad, bd, q, r)
    return np.linalg.solve(r + bd.T @ p @ bd, bd.T @ p @ ad).ravel()     # force = -K x


def cartpole_score(policy, seeds):
    import gymnasium as gym
    env = gym.make("CartPole-v1")
    scores = []
    for s in seeds:
        obs, _ = env.reset(seed=int(s))
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(int(policy(obs)))
            total += r
            done = term or trunc
        scores.append(total)
    env.close()
    return np.array(scores)


def cartpole():
    import gymnasium as gym
    t0 = time.time()
    k = cartpole_lqr_gain()

    def expert(o):
        return (o @ -k > 0).astype(np.int64)          # 1 = push right

    log(f"cartpole: expert LQR gain K = {np.round(k, 4).tolist()}, expert score "
        f"{cartpole_score(expert, range(20)).mean():.1f}")
    # Behaviour cloning data: expert rollouts with 25% random actions
    # (visits off-nominal states) + uniform states near the upright.
    rng = np.random.default_rng(20250303)
    env = gym.make("CartPole-v1")
    states = []
    for ep in range(40):
        obs, _ = env.reset(seed=1000 + ep)
        done = False
        while not done:
            states.append(obs.astype(np.float64))
            a = int(expert(obs)) if rng.uniform() > 0.25 else int(rng.integers(2))
            obs, _, term, trunc, _ = env.step(a)
            done = term or trunc
    env.close()
    box = np.array([2.4, 2.0, 0.21, 2.0])
    states = np.vstack([np.array(states), rng.uniform(-box, box, size=(4000, 4))])
    labels = expert(states)
    sizes = [{"op": "gemm", "out": 32}, {"op": "relu"}, {"op": "gemm", "out": 32}, {"op": "relu"},
             {"op": "gemm", "out": 2}]
    net = TrainNet((4,), sizes)
    theta, res = lbfgs(lambda th: softmax_ce(net, th, states, labels, 1e-3),
                       net.init(np.random.default_rng(3)), maxiter=800)
    theta = f32(theta)
    acc = float(np.mean(net.forward(theta, states)[0].argmax(axis=1) == labels))

    def policy(o):
        return int(net.forward(theta, f32(o)[None])[0].argmax())

    scores = cartpole_score(policy, range(20))
    log(f"cartpole: {len(states)} states, imitation accuracy {acc:.4f}; policy score over 20 episodes "
        f"(seeds 0..19): mean {scores.mean():.1f}, min {scores.min():.0f} ({time.time() - t0:.1f}s)")
    assert scores.mean() >= 195.0

    out_dir = ROOT / "Config" / "cartpole"
    path = out_dir / "policy.onnx"
    model = net.export(theta, path, "cartpole_policy")
    check_train_vs_onnx(net, theta, model, states[:500], "cartpole")
    lg = validate(model, path, states[:500], "cartpole")
    log(f"cartpole: max abs logit on 500 states {np.max(np.abs(lg)):.2f}")
    lower, upper = [-0.05] * 4, [0.05] * 4
    write_json(out_dir / "observations.json", {
        "lower": lower, "upper": upper,
        "names": ["cart_position", "cart_velocity", "pole_angle", "pole_angular_velocity"],
    })
    (out_dir / "README.txt").write_text(
        "policy.onnx - ReLU MLP policy for gymnasium CartPole-v1.\n"
        "Input \"input\" [batch,4] = observation (x, x_dot, theta, theta_dot); output \"output\"\n"
        "[batch,2] = logits; action = argmax (0 push left, 1 push right).  4-32-32-2, Gemm+Relu.\n"
        "Behaviour cloning (numpy, L-BFGS cross-entropy) of the bang-bang LQR controller\n"
        f"action = [-K x > 0], K = {np.round(k, 4).tolist()} (LQR on the linearised dynamics).\n"
        f"Score: mean {scores.mean():.1f} over 20 episodes (reset seeds 0..19; 500 is the maximum).\n"
        "observations.json - box of observations around the upright state: [-0.05, 0.05]^4,\n"
        "the CartPole-v1 reset distribution.  Property of interest: logit[1]-logit[0] sign.\n"
        "Regenerate: python3 Scripts/make_conv_examples.py cartpole\n")
    log(f"cartpole: wrote Config/cartpole/* ({time.time() - t0:.1f}s)")


# --------------------------------------------------------------------------
# 3. vision-style controller

def line_images(rng, n):
    """8x8 images of a vertical bright line (Gaussian column profile) whose
    column encodes the lateral offset p in [-1, 1]; target steering = -p."""
    p = rng.uniform(-1.0, 1.0, n)
    amp = rng.uniform(0.7, 1.0, n)
    width = rng.uniform(0.6, 1.0, n)
    centre = 3.5 + 3.0 * p
    cols = np.arange(8.0)
    prof = amp[:, None] * np.exp(-(cols[None, :] - centre[:, None]) ** 2 / (2.0 * width[:, None] ** 2))
    img = np.repeat(prof[:, None, :], 8, axis=1)
    img = np.clip(img + rng.normal(0.0, 0.03, size=img.shape), 0.0, 1.0)
    return img.reshape(n, 64), -p[:, None]


def nominal_line_image(p):
    cols = np.arange(8.0)
    prof = 0.9 * np.exp(-(cols - (3.5 + 3.0 * p)) ** 2 / (2.0 * 0.8 ** 2))
    return np.repeat(prof[None, :], 8, axis=0).reshape(64)


VISION_SPEC = [
    {"op": "conv", "out": 4, "k": 3, "pad": 1},
    {"op": "relu"},
    {"op": "conv", "out": 4, "k": 3, "stride": 2, "pad": 1},
    {"op": "relu"},
    {"op": "flatten"},
    {"op": "gemm", "out": 16},
    {"op": "relu"},
    {"op": "gemm", "out": 1},
]


def vision():
    t0 = time.time()
    x, y = line_images(np.random.default_rng(20250304), 4000)
    xt, yt = line_images(np.random.default_rng(20250305), 2000)
    net = TrainNet((1, 8, 8), VISION_SPEC)
    theta, res = lbfgs(lambda th: mse(net, th, x, y, 1e-6), net.init(np.random.default_rng(5)), maxiter=800)
    theta = f32(theta)
    rmse_tr = float(np.sqrt(np.mean((net.forward(theta, x)[0] - y) ** 2)))
    rmse_te = float(np.sqrt(np.mean((net.forward(theta, xt)[0] - yt) ** 2)))
    log(f"vision: {net.n_params} parameters, L-BFGS {res.nit} iterations; steering RMSE train "
        f"{rmse_tr:.4f}, held-out {rmse_te:.4f} (targets in [-1,1]) ({time.time() - t0:.1f}s)")

    out_dir = ROOT / "Config" / "vision"
    path = out_dir / "controller.onnx"
    model = net.export(theta, path, "vision_controller")
    check_train_vs_onnx(net, theta, model, xt[:500], "vision")
    validate(model, path, xt[:500].reshape(-1, 1, 8, 8), "vision")
    offset = 0.25
    nominal = nominal_line_image(offset)
    lower, upper = np.clip(nominal - 0.05, 0.0, 1.0), np.clip(nominal + 0.05, 0.0, 1.0)
    steer = float(ort_run(path, nominal.reshape(1, 1, 8, 8))[0, 0])
    chain = dense_chain(model, (1, 8, 8))
    samples = np.random.default_rng(20250306).uniform(lower, upper, size=(2000, 64))
    s_out = chain_forward(chain, samples)[0][:, 0]
    log(f"vision: nominal offset {offset} -> steering {steer:.4f} (ideal {-offset}); sampled over the "
        f"image box: [{s_out.min():.4f}, {s_out.max():.4f}]")
    write_json(out_dir / "image_box.json", {
        "lower": lower.tolist(), "upper": upper.tolist(),
        "shape": [1, 8, 8], "nominal": nominal.tolist(),
        "nominal_offset": offset, "nominal_steering": steer,
        "sampled_steering": [float(s_out.min()), float(s_out.max())],
    })
    (out_dir / "README.txt").write_text(
        "controller.onnx - vision-style steering controller on synthetic 8x8 camera images.\n"
        "Image: a vertical bright line, column profile a*exp(-(col-c)^2/(2 w^2)), c = 3.5 + 3p,\n"
        "for lateral offset p in [-1,1] (a in [0.7,1], w in [0.6,1], N(0,0.03) noise, clipped to [0,1]).\n"
        "Output: steering command -p.  Input \"input\" [batch,1,8,8], output \"output\" [batch,1].\n"
        "Conv(1->4,3x3,pad 1) Relu Conv(4->4,3x3,stride 2,pad 1) Relu Flatten Gemm(64->16) Relu\n"
        f"Gemm(16->1), trained by MSE regression (numpy, L-BFGS); held-out RMSE {rmse_te:.4f}.\n"
        f"image_box.json - nominal noise-free image (p = {offset}, a = 0.9, w = 0.8) +/- 0.05, clipped\n"
        f"to [0,1] (64 values, row-major 1x8x8); nominal steering {steer:.4f}; \"sampled_steering\" is\n"
        "the min/max over 2000 uniform samples of the box (any sound bound must contain it).\n"
        "Regenerate: python3 Scripts/make_conv_examples.py vision\n")
    log(f"vision: wrote Config/vision/* ({time.time() - t0:.1f}s)")


# --------------------------------------------------------------------------
# 4. conv forward fixtures

def he(rng, *shape):
    return rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[1:])), size=shape)


def random_bn(rng, c):
    return (rng.uniform(0.5, 1.5, c), rng.uniform(-0.3, 0.3, c),
            rng.uniform(-0.3, 0.3, c), rng.uniform(0.5, 2.0, c))


def fixture_models(rng):
    """Three small random conv nets (name, builder-made model, input shape)."""
    models = []

    # A: stride 2 + padding 1, dilation 2, asymmetric pads, Reshape [0,-1].
    b = Builder("conv_stride_dilation")
    x = b.conv("input", "conv1", he(rng, 3, 2, 3, 3), rng.uniform(-0.2, 0.2, 3), strides=(2, 2), pads=(1, 1, 1, 1))
    x = b.relu(x, "relu1")                                                   # 3x4x4
    x = b.conv(x, "conv2", he(rng, 4, 3, 3, 3), rng.uniform(-0.2, 0.2, 4), pads=(2, 2, 2, 2), dilations=(2, 2))
    x = b.relu(x, "relu2")                                                   # 4x4x4
    x = b.conv(x, "conv3", he(rng, 2, 4, 2, 3), rng.uniform(-0.2, 0.2, 2), pads=(0, 1, 1, 0))
    x = b.relu(x, "relu3")                                                   # 2x4x3
    shape = b.init("reshape.shape", [0, -1], dtype=np.int64)
    x = b.node("Reshape", [x, shape], "reshape")
    x = b.gemm(x, "fc1", he(rng, 3, 24), rng.uniform(-0.2, 0.2, 3))
    models.append(("conv_stride_dilation", b, x, (2, 7, 7), (3,)))

    # B: Sub/Div normalisation, BatchNormalization, residual Add of two conv
    #    branches, AveragePool 2x2 stride 2.
    b = Builder("conv_residual_bn")
    mean = b.init("norm.mean", np.full((1, 1, 1, 1), 0.4))
    std = b.init("norm.std", np.full((1, 1, 1, 1), 0.25))
    x = b.node("Sub", ["input", mean], "sub")
    x = b.node("Div", [x, std], "div")
    x = b.conv(x, "conv1", he(rng, 4, 1, 3, 3), rng.uniform(-0.2, 0.2, 4), pads=(1, 1, 1, 1))
    x = b.batchnorm(x, "bn1", *random_bn(rng, 4))
    h = b.relu(x, "relu1")                                                   # 4x6x6
    left = b.conv(h, "branch_a.conv", he(rng, 4, 4, 3, 3), rng.uniform(-0.2, 0.2, 4), pads=(1, 1, 1, 1))
    left = b.batchnorm(left, "branch_a.bn", *random_bn(rng, 4))
    right = b.conv(h, "branch_b.conv", he(rng, 4, 4, 1, 1), rng.uniform(-0.2, 0.2, 4))
    x = b.node("Add", [left, right], "add")
    x = b.relu(x, "relu2")
    x = b.avgpool(x, "pool", 2, 2)                                           # 4x3x3
    x = b.flatten(x, "flatten")
    x = b.gemm(x, "fc1", he(rng, 3, 36), rng.uniform(-0.2, 0.2, 3))
    models.append(("conv_residual_bn", b, x, (1, 6, 6), (3,)))

    # C: per-channel Mul, AveragePool 2x2 stride 1, GlobalAveragePool.
    b = Builder("conv_pool_norm")
    scale = b.init("norm.scale", rng.uniform(0.5, 2.0, (1, 3, 1, 1)))
    x = b.node("Mul", ["input", scale], "mul")
    x = b.conv(x, "conv1", he(rng, 6, 3, 3, 3), rng.uniform(-0.2, 0.2, 6), pads=(1, 1, 1, 1))
    x = b.relu(x, "relu1")                                                   # 6x5x5
    x = b.avgpool(x, "pool", 2, 1)                                           # 6x4x4
    x = b.conv(x, "conv2", he(rng, 5, 6, 3, 3), rng.uniform(-0.2, 0.2, 5), strides=(2, 2), pads=(1, 1, 1, 1))
    x = b.batchnorm(x, "bn2", *random_bn(rng, 5))
    x = b.relu(x, "relu2")                                                   # 5x2x2
    x = b.gap(x, "gap")                                                      # 5x1x1
    x = b.flatten(x, "flatten")
    x = b.gemm(x, "fc1", he(rng, 4, 5), rng.uniform(-0.2, 0.2, 4))
    x = b.relu(x, "relu3")
    x = b.gemm(x, "fc2", he(rng, 2, 4), rng.uniform(-0.2, 0.2, 2))
    models.append(("conv_pool_norm", b, x, (3, 5, 5), (2,)))
    return models


def fixtures():
    t0 = time.time()
    rng = np.random.default_rng(20250307)
    entries = []
    for name, bld, out, in_shape, out_shape in fixture_models(rng):
        path = FIX / f"{name}.onnx"
        model = bld.finish(out, in_shape, out_shape, path)
        xs = f32(rng.uniform(-1.0, 1.0, size=(5,) + in_shape))
        ys = validate(model, path, xs, f"fixture {name}")
        entries.append({
            "file": f"{name}.onnx",
            "input_size": int(np.prod(in_shape)),
            "input_shape": list(in_shape),
            "output_size": int(np.prod(out_shape)),
            "inputs": xs.reshape(5, -1).tolist(),
            "outputs": ys.reshape(5, -1).tolist(),
        })
    write_json(FIX / "conv_forward.json", {"models": entries})
    log(f"fixtures: wrote Tests/Fixtures/conv/conv_forward.json + 3 models ({time.time() - t0:.1f}s)")


# --------------------------------------------------------------------------
# 5. LP / MILP oracle on a tiny conv net

def ibp(chain, lo, hi):
    """Pre-activation bounds before every ReLU, and the output bounds."""
    layers = []
    l, u = lo, hi
    for L in chain:
        if L[0] == "affine":
            c, r = (l + u) / 2.0, (u - l) / 2.0
            c = L[1] @ c + L[2]
            r = np.abs(L[1]) @ r
            l, u = c - r, c + r
        else:
            layers.append((l, u))
            l, u = np.maximum(l, 0.0), np.maximum(u, 0.0)
    return layers, (l, u)


def relaxation(chain, lo, hi, pre, binary):
    """Triangle LP (binary=False) or big-M MILP (binary=True) for an
    affine/relu/.../affine chain.  Variables: x, then per ReLU layer z (pre,
    bounded by its [l,u]) and y (post), then the binaries.  Returns the
    objective builder for the last affine layer."""
    affs = [L for L in chain if L[0] == "affine"]
    assert len(affs) == len(pre) + 1
    n0 = len(lo)
    lb, ub = [lo], [hi]
    pos = n0
    zs, ys = [], []
    for l, u in pre:
        n = len(l)
        zs.append(pos); pos += n
        ys.append(pos); pos += n
        lb += [l, np.where(u <= 0, 0.0, np.maximum(l, 0.0))]
        ub += [u, np.maximum(u, 0.0)]
    nvar_cont = pos
    n_uns = [int(np.sum((l < 0) & (u > 0))) for l, u in pre]
    nbin = sum(n_uns) if binary else 0
    lb.append(np.zeros(nbin)); ub.append(np.ones(nbin))
    nvar = nvar_cont + nbin
    lb, ub = np.concatenate(lb), np.concatenate(ub)
    A_eq, b_eq, A_ub, b_ub = [], [], [], []
    prev = np.arange(n0)
    bpos = nvar_cont
    for k, (l, u) in enumerate(pre):
        W, b = affs[k][1], affs[k][2]
        n = len(l)
        zi, yi = zs[k] + np.arange(n), ys[k] + np.arange(n)
        # z - W prev = b
        for i in range(n):
            row = np.zeros(nvar)
            row[zi[i]] = 1.0
            row[prev] -= W[i]
            A_eq.append(row); b_eq.append(b[i])
            if l[i] >= 0:                                       # active: y = z
                row = np.zeros(nvar); row[yi[i]] = 1.0; row[zi[i]] = -1.0
                A_eq.append(row); b_eq.append(0.0)
            elif u[i] <= 0:                                     # inactive: y = 0 (bounds)
                pass
            else:                                               # unstable
                row = np.zeros(nvar); row[zi[i]] = 1.0; row[yi[i]] = -1.0
                A_ub.append(row); b_ub.append(0.0)                  # z - y <= 0
                if binary:
                    a = bpos; bpos += 1
                    row = np.zeros(nvar); row[yi[i]] = 1.0; row[zi[i]] = -1.0; row[a] = -l[i]
                    A_ub.append(row); b_ub.append(-l[i])            # y <= z - l (1 - a)
                    row = np.zeros(nvar); row[yi[i]] = 1.0; row[a] = -u[i]
                    A_ub.append(row); b_ub.append(0.0)              # y <= u a
                else:
                    s = u[i] / (u[i] - l[i])
                    row = np.zeros(nvar); row[yi[i]] = 1.0; row[zi[i]] = -s
                    A_ub.append(row); b_ub.append(-s * l[i])        # y <= s (z - l)
        prev = yi
    return dict(A_eq=np.array(A_eq), b_eq=np.array(b_eq), A_ub=np.array(A_ub), b_ub=np.array(b_ub),
                lb=lb, ub=ub, nvar=nvar, n0=n0, last=prev, out=affs[-1], binary=binary,
                integrality=np.concatenate([np.zeros(nvar_cont), np.ones(nbin)]))


def optimise_outputs(rel):
    """min and max of every output; returns lower, upper and the optimal x."""
    W, b = rel["out"][1], rel["out"][2]
    lower, upper, xs = [], [], []
    for j in range(len(b)):
        vals = []
        for sense in (1.0, -1.0):
            c = np.zeros(rel["nvar"])
            c[rel["last"]] = sense * W[j]
            if rel["binary"]:
                cons = [LinearConstraint(rel["A_eq"], rel["b_eq"], rel["b_eq"])]
                if len(rel["A_ub"]):
                    cons.append(LinearConstraint(rel["A_ub"], -np.inf, rel["b_ub"]))
                res = milp(c, integrality=rel["integrality"], bounds=Bounds(rel["lb"], rel["ub"]),
                           constraints=cons, options={"mip_rel_gap": 0.0, "presolve": True})
            else:
                res = linprog(c, A_ub=rel["A_ub"] if len(rel["A_ub"]) else None,
                              b_ub=rel["b_ub"] if len(rel["A_ub"]) else None,
                              A_eq=rel["A_eq"], b_eq=rel["b_eq"],
                              bounds=np.column_stack([rel["lb"], rel["ub"]]), method="highs")
            assert res.status == 0, res.message
            vals.append(sense * res.fun + b[j])
            xs.append(res.x[:rel["n0"]])
        lower.append(vals[0]); upper.append(vals[1])
    return np.array(lower), np.array(upper), xs


def lp_small():
    t0 = time.time()
    rng = np.random.default_rng(20250308)
    b = Builder("lp_small")
    x = b.conv("input", "conv1", he(rng, 2, 1, 3, 3), rng.uniform(-0.2, 0.2, 2), pads=(1, 1, 1, 1))
    x = b.relu(x, "relu1")                                                   # 2x4x4 = 32
    x = b.conv(x, "conv2", he(rng, 2, 2, 3, 3), rng.uniform(-0.2, 0.2, 2), strides=(2, 2), pads=(1, 1, 1, 1))
    x = b.relu(x, "relu2")                                                   # 2x2x2 = 8
    x = b.flatten(x, "flatten")
    x = b.gemm(x, "fc1", he(rng, 3, 8), rng.uniform(-0.2, 0.2, 3))
    path = FIX / "lp_small.onnx"
    model = b.finish(x, (1, 4, 4), (3,), path)
    centre = rng.uniform(0.0, 1.0, 16)
    radius = 0.25
    lo, hi = centre - radius, centre + radius
    samples = rng.uniform(lo, hi, size=(20000, 16))
    validate(model, path, samples[:50].reshape(-1, 1, 4, 4), "lp_small")
    chain = dense_chain(model, (1, 4, 4))
    assert [L[1].shape for L in chain if L[0] == "affine"] == [(32, 16), (8, 32), (3, 8)]
    pre, (ol, ou) = ibp(chain, lo, hi)
    n_uns = [int(np.sum((l < 0) & (u > 0))) for l, u in pre]
    lp_lo, lp_hi, _ = optimise_outputs(relaxation(chain, lo, hi, pre, binary=False))
    mi_lo, mi_hi, mx = optimise_outputs(relaxation(chain, lo, hi, pre, binary=True))
    # The MILP optima are attained: re-evaluate the network at the optimal inputs.
    for j in range(3):
        for s, val in ((0, mi_lo[j]), (1, mi_hi[j])):
            xj = np.clip(mx[2 * j + s], lo, hi)
            fj = chain_forward(chain, xj[None])[0][0, j]
            assert abs(fj - val) <= 1e-6 * max(1.0, abs(val)), ("MILP not attained", j, s, fj, val)
    sout = chain_forward(chain, samples)[0]
    s_lo, s_hi = sout.min(axis=0), sout.max(axis=0)
    tol = 1e-7
    assert np.all(ol <= lp_lo + tol) and np.all(lp_hi <= ou + tol)
    assert np.all(lp_lo <= mi_lo + tol) and np.all(mi_hi <= lp_hi + tol)
    assert np.all(mi_lo <= s_lo + tol) and np.all(s_hi <= mi_hi + tol)
    log(f"lp: unstable ReLUs under IBP {n_uns}; output 0: IBP [{ol[0]:.4f}, {ou[0]:.4f}], LP "
        f"[{lp_lo[0]:.4f}, {lp_hi[0]:.4f}], MILP [{mi_lo[0]:.4f}, {mi_hi[0]:.4f}], sampled "
        f"[{s_lo[0]:.4f}, {s_hi[0]:.4f}]")
    log(f"lp: max LP-MILP gap {max(np.max(mi_lo - lp_lo), np.max(lp_hi - mi_hi)):.4f}")

    def bj(l, u):
        return {"lower": np.asarray(l).tolist(), "upper": np.asarray(u).tolist()}

    write_json(FIX / "lp_small.json", {
        "model": "lp_small.onnx",
        "input_shape": [1, 4, 4],
        "box": bj(lo, hi),
        "ibp_layers": [bj(l, u) for l, u in pre],
        "ibp_output": bj(ol, ou),
        "unstable_ibp": n_uns,
        "lp_on_ibp": bj(lp_lo, lp_hi),
        "milp": bj(mi_lo, mi_hi),
        "sampled": bj(s_lo, s_hi),
    })
    log(f"lp: wrote Tests/Fixtures/conv/lp_small.{{onnx,json}} ({time.time() - t0:.1f}s)")


# --------------------------------------------------------------------------

PARTS = {"digits": digits, "cartpole": cartpole, "vision": vision, "fixtures": fixtures, "lp": lp_small}


def main(argv):
    names = argv or list(PARTS)
    for n in names:
        if n not in PARTS:
            sys.exit(f"unknown part '{n}'; known: {', '.join(PARTS)}")
    t0 = time.time()
    for n in names:
        PARTS[n]()
    log(f"done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
