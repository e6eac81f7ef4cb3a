#!/usr/bin/env python3
"""Generate the ONNX importer test fixtures in Tests/Fixtures/onnx/.

Run from the repository root (the script also finds the root by itself):

    python3 Scripts/make_onnx_fixtures.py

It rewrites every fixture file and Tests/Fixtures/onnx/reference.json.  The
output is deterministic: every model and every input set uses its own fixed
numpy seed, so re-running it gives byte-identical files (as long as the same
onnx / numpy / onnxruntime versions are used; the versions are recorded in
reference.json under "generator").

Generated with: Python 3.11, onnx 1.23.2, numpy 2.4.6, onnxruntime 1.32.0
(`pip install onnx numpy onnxruntime`).  onnxruntime is optional: without it
the reference outputs come from the numpy implementation of each model (which
is always computed and cross-checked against onnxruntime when it is present).

Models are built with onnx.helper directly (no PyTorch, MATLAB or Keras).

reference.json layout:

    {"generator": {"script": ..., "python": ..., "onnx": ..., "numpy": ...,
                   "onnxruntime": ... or null, "reference": "onnxruntime"|"numpy"},
     "models": [{"file": "mlp_gemm.onnx", "input_size": 4, "output_size": 2,
                 "layers_like": "mlp_a", "tolerance": 1e-05,
                 "inputs": [[4 floats] x 5], "outputs": [[2 floats] x 5]}, ...],
     "errors": [{"file": "softmax.onnx", "expect": ["Softmax", "act1"],
                 "description": "..."}, ...]}

"inputs" are float32-representable numbers (stored as float64); "outputs"
are the onnxruntime outputs (float32 models evaluated in float32, the
float64 model in float64) stored as float64.  "tolerance" is an absolute
tolerance that a float64 evaluation of the imported network will meet.
Models with the same "layers_like" tag encode the same network with the same
weights, so they must import to identical layers.
"""

import json
import platform
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

try:
    import onnxruntime as ort
except ImportError:  # pragma: no cover - optional
    ort = None

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "onnx"
ROWS = 5

FLOAT = TensorProto.FLOAT
DOUBLE = TensorProto.DOUBLE
INT64 = TensorProto.INT64


# --------------------------------------------------------------------------
# helpers

def rng_for(seed):
    return np.random.default_rng(seed)


def dense(rng, n_in, n_out):
    """Weights [out, in] (PyTorch layout) and bias [out], float32."""
    w = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in)).astype(np.float32)
    b = rng.uniform(-0.3, 0.3, size=(n_out,)).astype(np.float32)
    return w, b


def init(name, array, dtype=np.float32):
    """Initializer stored as raw_data (numpy_helper always uses raw_data)."""
    t = numpy_helper.from_array(np.asarray(array, dtype=dtype), name)
    assert t.HasField("raw_data")
    return t


def vi(name, shape, elem=FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def make_model(graph, opset, ir_version=None, producer="reachguard-fixtures",
               producer_version="1.0"):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name=producer, producer_version=producer_version)
    m.ir_version = ir_version if ir_version is not None else \
        helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    return m


def initializers_as_inputs(graph):
    """MATLAB / keras2onnx / IR<4 style: every initializer is also a graph input."""
    for t in graph.initializer:
        graph.input.append(vi(t.name, list(t.dims), t.data_type))


def relu(x):
    return np.maximum(x, 0.0)


def lin(x, w, b):
    """x [in] with PyTorch-layout w [out,in]; float64 arithmetic."""
    return w.astype(np.float64) @ x + b.astype(np.float64)


# --------------------------------------------------------------------------
# valid models.  Each builder returns (model, numpy_forward(x[in]) -> [out],
# meta dict).  numpy_forward is the independent reference in float64.

def mlp_a_weights():
    rng = rng_for(101)
    return [dense(rng, 4, 16), dense(rng, 16, 16), dense(rng, 16, 2)]


def mlp_a_forward(x):
    (w1, b1), (w2, b2), (w3, b3) = mlp_a_weights()
    return lin(relu(lin(relu(lin(x, w1, b1)), w2, b2)), w3, b3)


def build_mlp_gemm():
    (w1, b1), (w2, b2), (w3, b3) = mlp_a_weights()
    inits = [init("fc1.weight", w1), init("fc1.bias", b1),
             init("fc2.weight", w2), init("fc2.bias", b2),
             init("fc3.weight", w3), init("fc3.bias", b3)]
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["/fc1/Gemm_output_0"],
                         name="/fc1/Gemm", alpha=1.0, beta=1.0, transB=1),
        helper.make_node("Relu", ["/fc1/Gemm_output_0"], ["/relu1/Relu_output_0"], name="/relu1/Relu"),
        helper.make_node("Gemm", ["/relu1/Relu_output_0", "fc2.weight", "fc2.bias"],
                         ["/fc2/Gemm_output_0"], name="/fc2/Gemm", alpha=1.0, beta=1.0, transB=1),
        helper.make_node("Relu", ["/fc2/Gemm_output_0"], ["/relu2/Relu_output_0"], name="/relu2/Relu"),
        helper.make_node("Gemm", ["/relu2/Relu_output_0", "fc3.weight", "fc3.bias"], ["output"],
                         name="/fc3/Gemm", alpha=1.0, beta=1.0, transB=1),
    ]
    g = helper.make_graph(nodes, "main_graph", [vi("input", ["batch", 4])],
                          [vi("output", ["batch", 2])], inits)
    m = make_model(g, 13, ir_version=8, producer="pytorch", producer_version="2.1.0")
    return m, mlp_a_forward, dict(input_size=4, output_size=2, layers_like="mlp_a")


def build_mlp_matmul_add():
    (w1, b1), (w2, b2), (w3, b3) = mlp_a_weights()
    inits = [init("W1", w1.T), init("B1", b1), init("W2", w2.T), init("B2", b2),
             init("W3", w3.T), init("B3", b3)]
    nodes = []
    prev = "input"
    for i in (1, 2, 3):
        nodes.append(helper.make_node("MatMul", [prev, f"W{i}"], [f"mm{i}"], name=f"matmul{i}"))
        out = "output" if i == 3 else f"add{i}"
        nodes.append(helper.make_node("Add", [f"mm{i}", f"B{i}"], [out], name=f"add{i}"))
        if i < 3:
            nodes.append(helper.make_node("Relu", [out], [f"relu{i}"], name=f"relu{i}"))
            prev = f"relu{i}"
    g = helper.make_graph(nodes, "mlp_matmul_add", [vi("input", ["batch", 4])],
                          [vi("output", ["batch", 2])], inits)
    return make_model(g, 13), mlp_a_forward, dict(input_size=4, output_size=2, layers_like="mlp_a")


def build_gemm_attrs():
    rng = rng_for(102)
    b1 = rng.normal(0, 0.8, size=(3, 5)).astype(np.float32)   # [in, out], transB=0
    c1 = rng.uniform(-0.3, 0.3, size=(5,)).astype(np.float32)
    b2 = rng.normal(0, 0.8, size=(5, 2)).astype(np.float32)
    c2 = rng.uniform(-0.3, 0.3, size=(1, 2)).astype(np.float32)
    alpha, beta = 0.5, 2.0
    inits = [init("B1", b1), init("C1", c1), init("B2", b2), init("C2", c2)]
    nodes = [
        helper.make_node("Gemm", ["x", "B1", "C1"], ["g1"], name="gemm1",
                         alpha=alpha, beta=beta, transA=0, transB=0),
        helper.make_node("Relu", ["g1"], ["r1"], name="relu1"),
        helper.make_node("Gemm", ["r1", "B2", "C2"], ["y"], name="gemm2",
                         alpha=alpha, beta=beta, transA=0, transB=0),
    ]
    g = helper.make_graph(nodes, "gemm_attrs", [vi("x", ["batch", 3])], [vi("y", ["batch", 2])], inits)

    def fwd(x):
        h = relu(alpha * (x @ b1.astype(np.float64)) + beta * c1.astype(np.float64))
        return alpha * (h @ b2.astype(np.float64)) + beta * c2.astype(np.float64).reshape(-1)

    return make_model(g, 13), fwd, dict(input_size=3, output_size=2, layers_like="gemm_attrs")


def build_normalized():
    rng = rng_for(103)
    mean = rng.uniform(-0.5, 0.5, size=(3,)).astype(np.float32)
    std = rng.uniform(0.5, 2.0, size=(1, 3)).astype(np.float32)
    scale = np.array(1.5, dtype=np.float32)
    w1, b1 = dense(rng, 3, 8)                     # Gemm transB=1
    w2, b2 = dense(rng, 8, 6)                     # MatMul [8,6] + Add (Constant)
    w3, b3 = dense(rng, 6, 2)                     # Gemm transB=1
    inits = [init("mean", mean), init("std", std), init("fc1.weight", w1), init("fc1.bias", b1),
             init("W2", w2.T), init("fc3.weight", w3), init("fc3.bias", b3)]
    nodes = [
        helper.make_node("Sub", ["input", "mean"], ["centered"], name="sub_mean"),
        helper.make_node("Div", ["centered", "std"], ["scaled"], name="div_std"),
        helper.make_node("Constant", [], ["scale_const"], name="scale_constant",
                         value=numpy_helper.from_array(scale, "scale_value")),
        helper.make_node("Mul", ["scaled", "scale_const"], ["mul_out"], name="mul_scale"),
        helper.make_node("Gemm", ["mul_out", "fc1.weight", "fc1.bias"], ["fc1_out"], name="fc1",
                         transB=1),
        helper.make_node("Relu", ["fc1_out"], ["relu1_out"], name="relu1"),
        helper.make_node("Identity", ["relu1_out"], ["ident_out"], name="identity"),
        helper.make_node("Constant", [], ["shape_const"], name="shape_constant",
                         value=numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape_value")),
        helper.make_node("Reshape", ["ident_out", "shape_const"], ["reshaped"], name="reshape"),
        helper.make_node("MatMul", ["reshaped", "W2"], ["mm2"], name="matmul2"),
        helper.make_node("Constant", [], ["bias2_const"], name="bias2_constant",
                         value=numpy_helper.from_array(b2, "bias2_value")),
        helper.make_node("Add", ["mm2", "bias2_const"], ["add2"], name="add2"),
        helper.make_node("Relu", ["add2"], ["relu2_out"], name="relu2"),
        helper.make_node("Flatten", ["relu2_out"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc3.weight", "fc3.bias"], ["output"], name="fc3", transB=1),
    ]
    g = helper.make_graph(nodes, "normalized", [vi("input", [1, 3])], [vi("output", [1, 2])], inits)

    def fwd(x):
        z = (x - mean.astype(np.float64)) / std.astype(np.float64).reshape(-1) * float(scale)
        h = relu(lin(z, w1, b1))
        h = relu(lin(h, w2, b2))
        return lin(h, w3, b3)

    return make_model(g, 11), fwd, dict(input_size=3, output_size=2, layers_like="normalized")


def build_matlab_style():
    rng = rng_for(104)
    mean = rng.uniform(-0.5, 0.5, size=(1, 1, 1, 5)).astype(np.float32)
    w1, b1 = dense(rng, 5, 8)
    w2, b2 = dense(rng, 8, 6)
    w3, _ = dense(rng, 6, 2)
    k1 = w1.reshape(8, 1, 1, 5)
    k2 = w2.reshape(6, 8, 1, 1)
    k3 = w3.reshape(2, 6, 1, 1)
    inits = [init("input_Mean", mean), init("conv_1_W", k1), init("conv_1_B", b1),
             init("conv_2_W", k2), init("conv_2_B", b2), init("conv_3_W", k3)]

    def conv(name, ins, out, kshape):
        return helper.make_node("Conv", ins, [out], name=name, kernel_shape=kshape,
                                strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1], group=1)

    nodes = [
        helper.make_node("Sub", ["input", "input_Mean"], ["input_Sub"], name="input_Sub"),
        conv("conv_1", ["input_Sub", "conv_1_W", "conv_1_B"], "conv_1", [1, 5]),
        helper.make_node("Relu", ["conv_1"], ["relu_1"], name="relu_1"),
        conv("conv_2", ["relu_1", "conv_2_W", "conv_2_B"], "conv_2", [1, 1]),
        helper.make_node("Relu", ["conv_2"], ["relu_2"], name="relu_2"),
        conv("conv_3", ["relu_2", "conv_3_W"], "conv_3", [1, 1]),
        helper.make_node("Flatten", ["conv_3"], ["output"], name="flatten", axis=1),
    ]
    g = helper.make_graph(nodes, "matlab_style", [vi("input", [1, 1, 1, 5])],
                          [vi("output", [1, 2])], inits)
    initializers_as_inputs(g)
    m = make_model(g, 8, ir_version=3,
                   producer="MATLAB Deep Learning Toolbox Converter for ONNX Model Format",
                   producer_version="23.2.0")

    def fwd(x):
        z = x - mean.astype(np.float64).reshape(-1)
        h = relu(lin(z, w1, b1))
        h = relu(lin(h, w2, b2))
        return w3.astype(np.float64) @ h

    return m, fwd, dict(input_size=5, output_size=2, layers_like="matlab")


def matlab_gemm4d_weights():
    rng = rng_for(105)
    return [dense(rng, 4, 10), dense(rng, 10, 3)]


def _matlab_gemm4d(flatten):
    (w1, b1), (w2, b2) = matlab_gemm4d_weights()
    inits = [init("fc_1_W", w1), init("fc_1_B", b1), init("fc_2_W", w2), init("fc_2_B", b2)]
    nodes = []
    first = "input"
    if flatten:
        nodes.append(helper.make_node("Flatten", ["input"], ["input_flat"], name="flatten", axis=1))
        first = "input_flat"
    nodes += [
        helper.make_node("Gemm", [first, "fc_1_W", "fc_1_B"], ["fc_1"], name="fc_1",
                         alpha=1.0, beta=1.0, transA=0, transB=1),
        helper.make_node("Relu", ["fc_1"], ["relu_1"], name="relu_1"),
        helper.make_node("Gemm", ["relu_1", "fc_2_W", "fc_2_B"], ["fc_2"], name="fc_2",
                         alpha=1.0, beta=1.0, transA=0, transB=1),
    ]
    name = "matlab_gemm4d" if flatten else "matlab_gemm4d_noflatten"
    g = helper.make_graph(nodes, name, [vi("input", [1, 4, 1, 1])], [vi("fc_2", [1, 3])], inits)
    initializers_as_inputs(g)
    m = make_model(g, 7, ir_version=3,
                   producer="MATLAB Deep Learning Toolbox Converter for ONNX Model Format",
                   producer_version="23.2.0")

    def fwd(x):
        return lin(relu(lin(x, w1, b1)), w2, b2)

    return m, fwd, dict(input_size=4, output_size=3, layers_like="matlab_gemm4d")


def build_matlab_gemm4d():
    return _matlab_gemm4d(True)


def build_matlab_gemm4d_noflatten():
    return _matlab_gemm4d(False)


def build_keras_style():
    rng = rng_for(106)
    w1, b1 = dense(rng, 4, 8)
    w2, b2 = dense(rng, 8, 3)
    inits = [init("dense_1/kernel:0", w1.T), init("dense_1/bias:0", b1),
             init("dense_2/kernel:0", w2.T), init("dense_2/bias:0", b2)]
    nodes = [
        helper.make_node("MatMul", ["dense_1_input", "dense_1/kernel:0"], ["dense_1/MatMul:0"],
                         name="dense_1/MatMul"),
        helper.make_node("Add", ["dense_1/MatMul:0", "dense_1/bias:0"], ["dense_1/BiasAdd:0"],
                         name="dense_1/BiasAdd"),
        helper.make_node("Relu", ["dense_1/BiasAdd:0"], ["dense_1/Relu:0"], name="dense_1/Relu"),
        helper.make_node("MatMul", ["dense_1/Relu:0", "dense_2/kernel:0"], ["dense_2/MatMul:0"],
                         name="dense_2/MatMul"),
        helper.make_node("Add", ["dense_2/MatMul:0", "dense_2/bias:0"], ["dense_2"],
                         name="dense_2/BiasAdd"),
    ]
    g = helper.make_graph(nodes, "sequential_1", [vi("dense_1_input", ["N", 4])],
                          [vi("dense_2", ["N", 3])], inits)
    initializers_as_inputs(g)
    m = make_model(g, 9, ir_version=4, producer="keras2onnx", producer_version="1.7.0")

    def fwd(x):
        return lin(relu(lin(x, w1, b1)), w2, b2)

    return m, fwd, dict(input_size=4, output_size=3, layers_like="keras_style")


def typed_fields_parts():
    rng = rng_for(107)
    w1 = rng.normal(0, 0.8, size=(4, 3))           # float64
    b1 = rng.uniform(-0.3, 0.3, size=(4,))
    w2 = rng.normal(0, 0.7, size=(2, 4))
    b2 = rng.uniform(-0.3, 0.3, size=(2,)).astype(np.float32)  # the float32 one
    return w1, b1, w2, b2


def build_typed_fields(with_cast=False):
    """float64 network; weights in double_data, one float32 bias in float_data.

    The float32 initializer "fc2.bias" feeds a DOUBLE Gemm directly, which is
    what an importer that reads every tensor into Double should accept; strict
    ONNX type checking (onnxruntime, onnx full_check) rejects that mix, so for
    the onnxruntime cross-check `with_cast=True` builds an in-memory twin with
    a Cast node in between (never written to disk).
    """
    w1, b1, w2, b2 = typed_fields_parts()

    def dtensor(name, a):
        t = helper.make_tensor(name, DOUBLE, list(a.shape), a.reshape(-1).tolist(), raw=False)
        assert len(t.double_data) == a.size and not t.raw_data
        return t

    fb2 = helper.make_tensor("fc2.bias", FLOAT, [2], b2.tolist(), raw=False)
    assert len(fb2.float_data) == 2 and not fb2.raw_data
    inits = [dtensor("fc1.weight", w1), dtensor("fc1.bias", b1), dtensor("fc2.weight", w2), fb2]
    bias2 = "fc2.bias"
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h1"], name="fc1", transB=1),
        helper.make_node("Relu", ["h1"], ["r1"], name="relu1"),
    ]
    if with_cast:
        nodes.append(helper.make_node("Cast", ["fc2.bias"], ["fc2.bias_d"], name="cast", to=DOUBLE))
        bias2 = "fc2.bias_d"
    nodes.append(helper.make_node("Gemm", ["r1", "fc2.weight", bias2], ["y"], name="fc2", transB=1))
    g = helper.make_graph(nodes, "typed_fields", [vi("x", ["batch", 3], DOUBLE)],
                          [vi("y", ["batch", 2], DOUBLE)], inits)

    def fwd(x):
        return w2 @ relu(w1 @ x + b1) + b2.astype(np.float64)

    return make_model(g, 13), fwd, dict(input_size=3, output_size=2, layers_like="typed_fields",
                                        dtype="float64")


def build_skip_connection():
    rng = rng_for(108)
    w1, b1 = dense(rng, 3, 6)
    w2, b2 = dense(rng, 6, 3)
    ws, bs = dense(rng, 3, 3)
    w3, b3 = dense(rng, 3, 2)
    inits = [init("fc1.weight", w1), init("fc1.bias", b1), init("fc2.weight", w2), init("fc2.bias", b2),
             init("skip.weight", ws), init("skip.bias", bs), init("fc3.weight", w3), init("fc3.bias", b3)]
    nodes = [
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["a1"], name="fc1", transB=1),
        helper.make_node("Relu", ["a1"], ["r1"], name="relu1"),
        helper.make_node("Gemm", ["r1", "fc2.weight", "fc2.bias"], ["h"], name="fc2", transB=1),
        helper.make_node("Gemm", ["x", "skip.weight", "skip.bias"], ["s"], name="skip", transB=1),
        helper.make_node("Add", ["h", "s"], ["sum"], name="residual_add"),
        helper.make_node("Relu", ["sum"], ["r2"], name="relu2"),
        helper.make_node("Gemm", ["r2", "fc3.weight", "fc3.bias"], ["y"], name="fc3", transB=1),
    ]
    g = helper.make_graph(nodes, "skip_connection", [vi("x", ["batch", 3])], [vi("y", ["batch", 2])], inits)

    def fwd(x):
        h = lin(relu(lin(x, w1, b1)), w2, b2)
        return lin(relu(h + lin(x, ws, bs)), w3, b3)

    return make_model(g, 13), fwd, dict(input_size=3, output_size=2, layers_like="skip_connection")


VALID = [
    ("mlp_gemm.onnx", build_mlp_gemm),
    ("mlp_matmul_add.onnx", build_mlp_matmul_add),
    ("gemm_attrs.onnx", build_gemm_attrs),
    ("normalized.onnx", build_normalized),
    ("matlab_style.onnx", build_matlab_style),
    ("matlab_gemm4d.onnx", build_matlab_gemm4d),
    ("matlab_gemm4d_noflatten.onnx", build_matlab_gemm4d_noflatten),
    ("keras_style.onnx", build_keras_style),
    ("typed_fields.onnx", build_typed_fields),
    ("skip_connection.onnx", build_skip_connection),
]
# Valid for the importer but not for onnx.checker / onnxruntime: Gemm on a 4-D
# tensor (MATLAB does this) and the float/double mix of typed_fields.
NO_CHECKER = {"matlab_gemm4d_noflatten.onnx"}
NO_ORT = {"matlab_gemm4d_noflatten.onnx", "typed_fields.onnx"}


# --------------------------------------------------------------------------
# error models.  Each returns (model or bytes, expect list, description,
# passes_checker)

def small_mlp(act_op=None, act_name=None, w1=None, b2=None):
    """4 -> 16 -> act -> 2 with PyTorch-like names fc1.*, fc2.*."""
    rng = rng_for(201)
    (ww1, bb1), (ww2, bb2) = dense(rng, 4, 16), dense(rng, 16, 2)
    w1 = ww1 if w1 is None else w1
    b2 = bb2 if b2 is None else b2
    inits = [init("fc1.weight", w1), init("fc1.bias", bb1), init("fc2.weight", ww2), init("fc2.bias", b2)]
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h"], name="fc1", transB=1),
        helper.make_node(act_op or "Relu", ["h"], ["a"], name=act_name or "relu1"),
        helper.make_node("Gemm", ["a", "fc2.weight", "fc2.bias"], ["output"], name="fc2", transB=1),
    ]
    g = helper.make_graph(nodes, "small_mlp", [vi("input", ["batch", 4])], [vi("output", ["batch", 2])], inits)
    return make_model(g, 13)


def err_softmax():
    return small_mlp("Softmax", "act1"), ["Softmax", "act1"], "unsupported activation Softmax in node act1", True


def err_elu():
    return small_mlp("Elu", "squash"), ["Elu", "squash"], "unsupported activation Elu in node squash", True


def err_maxpool():
    rng = rng_for(202)
    w, b = dense(rng, 4, 2)
    nodes = [
        helper.make_node("MaxPool", ["input"], ["pooled"], name="pool0", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["output"], name="fc", transB=1),
    ]
    g = helper.make_graph(nodes, "maxpool", [vi("input", [1, 1, 4, 4])], [vi("output", [1, 2])],
                          [init("fc.weight", w), init("fc.bias", b)])
    return make_model(g, 13), ["MaxPool", "pool0"], "unsupported MaxPool node pool0 on a 1x1x4x4 input", True


def err_external_data():
    rng = rng_for(203)
    (_, b0), (w1, b1) = dense(rng, 4, 16), dense(rng, 16, 2)
    w0 = TensorProto()
    w0.name = "W0"
    w0.data_type = FLOAT
    w0.dims.extend([16, 4])
    w0.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "weights.bin"), ("offset", "0"), ("length", str(16 * 4 * 4))):
        e = w0.external_data.add()
        e.key, e.value = k, v
    nodes = [
        helper.make_node("Gemm", ["input", "W0", "B0"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["a"], name="relu1"),
        helper.make_node("Gemm", ["a", "W1", "B1"], ["output"], name="fc2", transB=1),
    ]
    g = helper.make_graph(nodes, "external_data", [vi("input", ["batch", 4])], [vi("output", ["batch", 2])],
                          [w0, init("B0", b0), init("W1", w1), init("B1", b1)])
    return (make_model(g, 13), ["W0", "external"],
            "initializer W0 has data_location EXTERNAL (weights.bin, not shipped) and no data", False)


def err_dynamic_shape():
    nodes = [helper.make_node("Relu", ["input"], ["output"], name="relu")]
    g = helper.make_graph(nodes, "dynamic_shape", [vi("input", ["batch", "features"])],
                          [vi("output", ["batch", "features"])])
    return (make_model(g, 13), ["dynamic"],
            "input feature dimension is the symbolic 'features' and no weight fixes it", True)


def err_cycle():
    nodes = [helper.make_node("Relu", ["t2"], ["t1"], name="a"),
             helper.make_node("Relu", ["t1"], ["t2"], name="b")]
    g = helper.make_graph(nodes, "cycle", [vi("x", [1, 2])], [vi("t2", [1, 2])])
    return make_model(g, 13), ["cycle"], "nodes a (Relu t2->t1) and b (Relu t1->t2) form a cycle", False


def err_nan_weight():
    rng = rng_for(201)
    w1, _ = dense(rng, 4, 16)
    w1.reshape(-1)[3] = np.nan
    return (small_mlp(w1=w1), ["fc1.weight", "non-finite"],
            "initializer fc1.weight holds NaN at flat index 3", True)


def err_inf_bias():
    rng = rng_for(201)
    dense(rng, 4, 16)
    _, b2 = dense(rng, 16, 2)
    b2[1] = np.inf
    return (small_mlp(b2=b2), ["fc2.bias", "non-finite"],
            "initializer fc2.bias holds +Inf at index 1", True)


def err_truncated(mlp_gemm_bytes):
    n = int(len(mlp_gemm_bytes) * 0.6)
    return (mlp_gemm_bytes[:n], ["truncated.onnx"],
            f"first 60% ({n} of {len(mlp_gemm_bytes)} bytes) of mlp_gemm.onnx", False)


def err_garbage():
    data = rng_for(204).integers(0, 256, size=1000, dtype=np.uint8).tobytes()
    return data, ["garbage.onnx"], "1000 random bytes (seed 204)", False


def err_empty():
    return b"", ["empty.onnx"], "0 bytes (parses as an empty ModelProto)", False


def err_two_inputs():
    rng = rng_for(205)
    w, b = dense(rng, 3, 2)
    nodes = [
        helper.make_node("Add", ["x", "y"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r"], name="relu"),
        helper.make_node("Gemm", ["r", "fc.weight", "fc.bias"], ["output"], name="fc", transB=1),
    ]
    g = helper.make_graph(nodes, "two_inputs", [vi("x", [1, 3]), vi("y", [1, 3])], [vi("output", [1, 2])],
                          [init("fc.weight", w), init("fc.bias", b)])
    return make_model(g, 13), ["x", "y"], "two real graph inputs x and y, added together", True


def err_raw_size_mismatch():
    rng = rng_for(206)
    w = TensorProto()
    w.name = "W"
    w.data_type = FLOAT
    w.dims.extend([4, 16])
    w.raw_data = rng.normal(size=10).astype("<f4").tobytes()
    b = rng.uniform(-0.3, 0.3, size=16).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["input", "W", "B"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["output"], name="relu1")]
    g = helper.make_graph(nodes, "raw_size_mismatch", [vi("input", [1, 4])], [vi("output", [1, 16])],
                          [w, init("B", b)])
    return (make_model(g, 13), ["W"],
            "initializer W declares dims [4,16] (64 floats) but raw_data holds 10 floats (40 bytes)", False)


def err_missing_input():
    rng = rng_for(207)
    w, b = dense(rng, 3, 2)
    nodes = [
        helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"], name="fc", transB=1),
        helper.make_node("Add", ["h", "ghost"], ["s"], name="n"),
        helper.make_node("Relu", ["s"], ["output"], name="relu"),
    ]
    g = helper.make_graph(nodes, "missing_input", [vi("x", [1, 3])], [vi("output", [1, 2])],
                          [init("fc.weight", w), init("fc.bias", b)])
    return (make_model(g, 13), ["ghost"],
            "node n reads tensor 'ghost' that is no input, initializer or node output", False)


# --------------------------------------------------------------------------

def to_bytes(m):
    return m if isinstance(m, bytes) else m.SerializeToString()


def run_ort(model_bytes, rows, input_shape, dtype):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3   # keras_style: silence "initializer appears in graph inputs"
    sess = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    (inp,) = [i for i in sess.get_inputs()]
    outs = []
    for r in rows:
        x = r.astype(dtype).reshape(input_shape)
        (y,) = sess.run(None, {inp.name: x})
        outs.append(np.asarray(y, dtype=np.float64).reshape(-1))
    return np.array(outs)


def concrete_input_shape(model, n):
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else 1 for d in dims] if dims else [1, n]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    generator = {
        "script": "Scripts/make_onnx_fixtures.py",
        "python": platform.python_version(),
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "onnxruntime": ort.__version__ if ort else None,
        "reference": "onnxruntime" if ort else "numpy",
    }
    models = []
    ort_cache = {}
    for idx, (fname, build) in enumerate(VALID):
        model, fwd, meta = build()
        if fname not in NO_CHECKER:
            onnx.checker.check_model(model)
        data = model.SerializeToString()
        (OUT / fname).write_bytes(data)

        n_in, n_out = meta["input_size"], meta["output_size"]
        dtype = np.float64 if meta.get("dtype") == "float64" else np.float32
        rows = rng_for(1000 + idx).uniform(-1.0, 1.0, size=(ROWS, n_in))
        rows = rows.astype(np.float32).astype(np.float64)   # exactly representable in float32
        ref64 = np.array([fwd(r) for r in rows])
        assert ref64.shape == (ROWS, n_out)

        if ort:
            shape = concrete_input_shape(model, n_in)
            if fname == "typed_fields.onnx":
                twin, _, _ = build_typed_fields(with_cast=True)
                onnx.checker.check_model(twin, full_check=True)
                outs = run_ort(twin.SerializeToString(), rows, shape, dtype)
            elif fname == "matlab_gemm4d_noflatten.onnx":
                # onnxruntime rejects Gemm on a 4-D tensor: evaluate these rows with
                # the Flatten twin (same network, same weights) instead.
                outs = run_ort(ort_cache["matlab_gemm4d.onnx"], rows, shape, dtype)
            else:
                outs = run_ort(data, rows, shape, dtype)
            ort_cache[fname] = data
        else:
            outs = ref64
        diff = float(np.max(np.abs(outs - ref64)))
        limit = 1e-12 if dtype == np.float64 else 1e-5
        if diff > limit:
            sys.exit(f"{fname}: onnxruntime and numpy references differ by {diff}")
        tol = 1e-9 if dtype == np.float64 else 1e-5
        print(f"{fname:32s} ok  max|ort-numpy64| = {diff:.2e}")
        models.append({
            "file": fname, "input_size": n_in, "output_size": n_out,
            "layers_like": meta["layers_like"], "tolerance": tol,
            "inputs": rows.tolist(), "outputs": outs.tolist(),
        })

    errors = []
    mlp_bytes = (OUT / "mlp_gemm.onnx").read_bytes()
    error_builders = [
        ("softmax.onnx", err_softmax), ("elu.onnx", err_elu), ("maxpool.onnx", err_maxpool),
        ("external_data.onnx", err_external_data), ("dynamic_shape.onnx", err_dynamic_shape),
        ("cycle.onnx", err_cycle), ("nan_weight.onnx", err_nan_weight), ("inf_bias.onnx", err_inf_bias),
        ("truncated.onnx", lambda: err_truncated(mlp_bytes)), ("garbage.onnx", err_garbage),
        ("empty.onnx", err_empty), ("two_inputs.onnx", err_two_inputs),
        ("raw_size_mismatch.onnx", err_raw_size_mismatch), ("missing_input.onnx", err_missing_input),
    ]
    for fname, build in error_builders:
        model, expect, description, checker_ok = build()
        if checker_ok:
            onnx.checker.check_model(model)
        (OUT / fname).write_bytes(to_bytes(model))
        errors.append({"file": fname, "expect": expect, "description": description})
        print(f"{fname:32s} written (error fixture)")

    ref = {"generator": generator, "models": models, "errors": errors}
    (OUT / "reference.json").write_text(json.dumps(ref, indent=1) + "\n")
    print(f"wrote {len(models)} valid and {len(errors)} error fixtures to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
