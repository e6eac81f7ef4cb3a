#!/usr/bin/env python3
"""Generate the CIFAR-sized scaling benchmark network (random weights).

    python3 Scripts/make_cifar_benchmark.py     # writes Benchmarks/cifar_resnet.onnx

A ResNet-style classifier on a 3x32x32 image, exported the way PyTorch does
(opset 13, NCHW, Conv + BatchNormalization + Relu + Add + Flatten + Gemm):

    Sub/Div (per-channel CIFAR normalisation)
    conv1 3->16, 3x3, stride 2, pad 1, BN, ReLU        -> 16x16x16
    conv2 16->32, 3x3, stride 2, pad 1, BN, ReLU       -> 32x8x8
    residual block: conv3 32->32 3x3 pad 1, BN, ReLU,
                    conv4 32->32 3x3 pad 1, BN, + skip, ReLU -> 32x8x8
    Flatten, Gemm 2048->64, ReLU, Gemm 64->10

Weights are He-initialised with a fixed seed; BatchNormalization statistics are
random but fixed.  Float32 initialisers.  The file is checked with
onnx.checker and its output compared with onnxruntime on one input.
Generated with Python 3.11, numpy 2.4, onnx 1.23, onnxruntime 1.32.
"""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(2026)
inits, nodes = [], []


def const(name, array):
    inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
    return name


def conv(name, x, cin, cout, stride):
    w = rng.normal(0, np.sqrt(2.0 / (cin * 9)), size=(cout, cin, 3, 3))
    b = rng.normal(0, 0.05, size=cout)
    nodes.append(helper.make_node("Conv", [x, const(name + ".weight", w), const(name + ".bias", b)], [name],
                                  name=name, kernel_shape=[3, 3], strides=[stride, stride], pads=[1, 1, 1, 1]))
    gamma = rng.uniform(0.8, 1.2, cout)
    beta = rng.normal(0, 0.05, cout)
    mean = rng.normal(0, 0.1, cout)
    var = rng.uniform(0.5, 1.5, cout)
    bn = name + "_bn"
    nodes.append(helper.make_node("BatchNormalization",
                                  [name, const(bn + ".scale", gamma), const(bn + ".bias", beta),
                                   const(bn + ".mean", mean), const(bn + ".var", var)], [bn], name=bn, epsilon=1e-5))
    return bn


def relu(x):
    nodes.append(helper.make_node("Relu", [x], [x + "_relu"], name=x + "_relu"))
    return x + "_relu"


mean = np.array([0.4914, 0.4822, 0.4465]).reshape(1, 3, 1, 1)
std = np.array([0.2470, 0.2435, 0.2616]).reshape(1, 3, 1, 1)
nodes.append(helper.make_node("Sub", ["input", const("mean", mean)], ["centred"], name="normalize_sub"))
nodes.append(helper.make_node("Div", ["centred", const("std", std)], ["normalized"], name="normalize_div"))
h1 = relu(conv("conv1", "normalized", 3, 16, 2))
h2 = relu(conv("conv2", h1, 16, 32, 2))
h3 = relu(conv("conv3", h2, 32, 32, 1))
h4 = conv("conv4", h3, 32, 32, 1)
nodes.append(helper.make_node("Add", [h4, h2], ["residual"], name="residual_add"))
r = relu("residual")
nodes.append(helper.make_node("Flatten", [r], ["flat"], name="flatten", axis=1))
w5 = rng.normal(0, np.sqrt(2.0 / 2048), size=(64, 2048))
nodes.append(helper.make_node("Gemm", ["flat", const("fc1.weight", w5), const("fc1.bias", rng.normal(0, 0.05, 64))],
                              ["fc1"], name="fc1", transB=1))
f = relu("fc1")
w6 = rng.normal(0, np.sqrt(1.0 / 64), size=(10, 64))
nodes.append(helper.make_node("Gemm", [f, const("fc2.weight", w6), const("fc2.bias", np.zeros(10))],
                              ["output"], name="fc2", transB=1))

graph = helper.make_graph(nodes, "cifar_resnet",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])], inits)
model = helper.make_model(graph, producer_name="reachguard make_cifar_benchmark.py",
                          opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model, full_check=True)
os.makedirs(os.path.join(ROOT, "Benchmarks"), exist_ok=True)
path = os.path.join(ROOT, "Benchmarks", "cifar_resnet.onnx")
onnx.save(model, path)
try:
    import onnxruntime as ort
    x = np.random.default_rng(1).uniform(0, 1, size=(1, 3, 32, 32)).astype(np.float32)
    y = ort.InferenceSession(path).run(None, {"input": x})[0]
    print("onnxruntime output on a random image:", np.round(y[0], 4).tolist())
except ImportError:
    pass
print("wrote", path, os.path.getsize(path), "bytes")
