"""ONNX files that contradict themselves are refused before any number is given (issue 21, item 3):
one line naming the node and what is wrong. Each broken file is built with onnx.helper from a
valid one, which imports."""
from __future__ import annotations

import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.onnx_graph import from_onnx  # noqa: E402


def weight(name, dims, data=True):
    size = 1
    for d in dims:
        size *= d
    return helper.make_tensor(name, TensorProto.FLOAT, dims, [0.0] * size if data else [])


def conv_model(*, w_dims=(8, 3, 3, 3), bias=8, attrs=None, x_dims=(1, 3, 16, 16), extra_nodes=(),
               outputs=None, inputs_extra=(), initializers=()):
    attrs = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], **(attrs or {})}
    inits = [weight("w", w_dims)] + ([weight("b", (bias,))] if bias else []) + list(initializers)
    conv = helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["y"], name="stem_conv", **attrs)
    relu = helper.make_node("Relu", ["y"], ["z"], name="stem_relu")
    graph = helper.make_graph(
        [conv, relu, *extra_nodes], "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_dims)), *inputs_extra],
        outputs or [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, w_dims[0], 16, 16])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def imported(tmp_path, model):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return from_onnx(path)


def refused(tmp_path, model) -> str:
    with pytest.raises(CnnCostError) as info:
        imported(tmp_path, model)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "model.onnx") + ": ")
    return message


def test_the_valid_model_imports(tmp_path):
    net = imported(tmp_path, conv_model())
    assert net.input == (3, 16, 16)


def test_weight_contradicting_the_kernel_shape(tmp_path):  # the campaign's 38,000,010-params conv
    message = refused(tmp_path, conv_model(w_dims=(8, 3, 7, 7)))
    assert "stem_conv" in message and "kernel_shape" in message


def test_weight_contradicting_the_input_channels(tmp_path):
    message = refused(tmp_path, conv_model(w_dims=(8, 5, 3, 3)))
    assert "stem_conv" in message and "channels" in message


def test_bias_contradicting_the_output_channels(tmp_path):
    message = refused(tmp_path, conv_model(bias=10))
    assert "stem_conv" in message and "bias" in message


def test_a_2d_conv_with_six_strides(tmp_path):
    message = refused(tmp_path, conv_model(attrs={"strides": [1, 1, 1, 1, 1, 1]}))
    assert "stem_conv" in message and "strides" in message


def test_groups_that_do_not_divide(tmp_path):
    message = refused(tmp_path, conv_model(w_dims=(8, 1, 3, 3), attrs={"group": 3}))
    assert "stem_conv" in message


def test_a_graph_with_no_nodes_and_an_output_nobody_makes(tmp_path):
    graph = helper.make_graph([], "empty", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("ghost", TensorProto.FLOAT, [1, 3, 8, 8])])
    message = refused(tmp_path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert "ghost" in message


def test_an_initializer_contradicting_its_declared_graph_input(tmp_path):
    model = conv_model(inputs_extra=[helper.make_tensor_value_info("w", TensorProto.FLOAT, [8, 3, 5, 5])])
    message = refused(tmp_path, model)
    assert "'w'" in message


def test_a_pool_whose_kernel_does_not_fit_the_rank(tmp_path):
    pool = helper.make_node("MaxPool", ["z"], ["p"], name="pool1", kernel_shape=[2, 2, 2])
    model = conv_model(extra_nodes=[pool], outputs=[helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 8, 8, 8])])
    message = refused(tmp_path, model)
    assert "pool1" in message and "kernel_shape" in message


def test_a_gemm_whose_matrices_disagree(tmp_path):
    flat = helper.make_node("Flatten", ["z"], ["f"], name="flat")
    gemm = helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["o"], name="fc", transB=1)
    model = conv_model(extra_nodes=[flat, gemm], outputs=[helper.make_tensor_value_info("o", TensorProto.FLOAT, [1, 10])],
                       initializers=[weight("fc_w", (10, 100)), weight("fc_b", (10,))])
    message = refused(tmp_path, model)
    assert "fc" in message and "2048" in message


def test_a_batch_norm_whose_statistics_do_not_fit(tmp_path):
    bn = helper.make_node("BatchNormalization", ["z", "s", "bb", "m", "v"], ["n"], name="bn1")
    model = conv_model(extra_nodes=[bn], outputs=[helper.make_tensor_value_info("n", TensorProto.FLOAT, [1, 8, 16, 16])],
                       initializers=[weight("s", (8,)), weight("bb", (8,)), weight("m", (6,)), weight("v", (8,))])
    message = refused(tmp_path, model)
    assert "bn1" in message
