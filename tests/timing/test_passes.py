"""Bytes moved and work per op, per pass, against figures derived by hand (fp32: 4 bytes an element,
parameters read in fp32; per sample unless said 'fixed', i.e. once per step whatever the batch)."""
from __future__ import annotations

import cnncost
from cnncost import Net
from cnncost.api import _compile
from cnncost.memory import Precision, trace
from cnncost.timing import Amount, node_costs
from cnncost.timing.ops import INPUT_GRADIENT, WEIGHT_GRADIENT


def costs(net: Net, dtype: str = "fp32") -> dict:
    graph = _compile(net, None, None)
    traced = trace(graph, precision=Precision(dtype, "cpu"))
    return {n.path: n for n in node_costs(graph, traced, traced.precision.matmul_dtype)}


def passes(node) -> list[tuple]:
    """(op class, work, read, written, kernels) of forward, input gradient and weight gradient."""
    return [(p.op_class, p.work, p.read, p.written, p.kernels) for p in (node.forward, node.input_grad, node.weight_grad)]


CNN = Net("n", input=(3, 8, 8), layers=[
    cnncost.Conv(name="c1", out=4, kernel=3, padding=1, bias=False), cnncost.ReLU(name="r"),
    cnncost.BatchNorm(name="bn"), cnncost.Conv(name="dw", out=4, kernel=3, padding=1, groups=4, bias=False),
    cnncost.Conv(name="c2", out=8, kernel=3, padding=1), cnncost.MaxPool(name="p", kernel=2)])


def test_conv_forward_input_and_weight_gradients():
    c2 = costs(CNN)["c2"]  # 4 -> 8 channels, 3x3, bias, on 8x8: 296 params, 8*64 outputs x 36 MACs = 18,432 MACs
    assert passes(c2) == [
        # forward: reads the input (4*64 floats) and the weights (296 floats, fixed), writes 8*64 floats
        ("conv", Amount(2 * 18432), Amount(4 * 64 * 4, 296 * 4), Amount(8 * 64 * 4), 1),
        # input gradient (a transposed conv): reads the output's gradient and the weights, writes the input's
        ("conv", Amount(2 * 18432), Amount(8 * 64 * 4, 296 * 4), Amount(4 * 64 * 4), 1),
        # weight gradient: reads the output's gradient and the saved input, writes 296 gradients
        ("conv", Amount(2 * 18432), Amount(8 * 64 * 4 + 4 * 64 * 4), Amount(0, 296 * 4), 1)]
    # reduction lengths: C_in x 3x3 forward, C_out x 3x3 for the input gradient, the forward's for the weight
    # gradient; each pass marked with which it is
    assert (c2.forward.reduction, c2.input_grad.reduction, c2.weight_grad.reduction) == (36, 72, 36)
    assert (c2.forward.gradient, c2.input_grad.gradient, c2.weight_grad.gradient) == (0, INPUT_GRADIENT, WEIGHT_GRADIENT)
    assert c2.forward.unit == "matrix" and c2.forward.intensity(2) == 2 * 2 * 18432 / (2 * (1024 + 2048) + 1184)


def test_the_first_conv_computes_no_input_gradient():
    c1 = costs(CNN)["c1"]  # its input is the image: no gradient; 3 -> 4, 3x3: 108 params, 4*64 x 27 MACs
    assert c1.input_grad.kernels == 0 and not c1.input_grad.read and not c1.input_grad.work
    assert passes(c1)[2] == ("conv", Amount(2 * 6912), Amount(4 * 64 * 4 + 3 * 64 * 4), Amount(0, 108 * 4), 1)


def test_depthwise_conv_runs_on_the_vector_units():
    dw = costs(CNN)["dw"]  # 4 groups of 1 channel, 3x3: 36 params, 4*64 outputs x 9 MACs
    assert dw.forward.op_class == "depthwise" and dw.forward.unit == "vector"
    assert passes(dw) == [
        ("depthwise", Amount(2 * 2304), Amount(1024, 36 * 4), Amount(1024), 1),
        ("depthwise", Amount(2 * 2304), Amount(1024, 36 * 4), Amount(1024), 1),
        ("depthwise", Amount(2 * 2304), Amount(1024 + 1024), Amount(0, 36 * 4), 1)]


def test_relu_batch_norm_and_pool():
    c = costs(CNN)
    # in-place ReLU over 4*64 floats: reads and writes them once, 1 op each; backward reads the output's
    # gradient and the saved output, writes the input's gradient, 2 ops each
    assert passes(c["r"])[:2] == [("vector", Amount(256), Amount(1024), Amount(1024), 1),
                                  ("vector", Amount(512), Amount(2048), Amount(1024), 1)]
    # batch norm, training: reads x and gamma, beta (8 floats), writes y and the saved mean and inverse std
    # (2 x 4 floats, fixed), 4 ops per element; backward (both gradients in one kernel): reads dy, the saved
    # x and statistics, writes dx and the 8 parameter gradients
    assert passes(c["bn"])[:2] == [("norm", Amount(4 * 256), Amount(1024, 32), Amount(1024, 32), 1),
                                   ("norm", Amount(8 * 256), Amount(2048, 32), Amount(1024, 32), 1)]
    assert c["bn"].weight_grad.kernels == 0
    # 2x2 max pool of 8x8x8: 128 outputs x a 4-element window; writes the output and its int64 indices;
    # backward (a scatter through the indices: a vector op, not a window) reads dy, the saved input and
    # indices, writes dx
    assert passes(c["p"])[:2] == [("pool", Amount(128 * 4), Amount(512 * 4), Amount(128 * 4 + 128 * 8), 1),
                                  ("vector", Amount(2 * 128 * 4), Amount(128 * 4 + 512 * 4 + 128 * 8), Amount(512 * 4), 1)]


def test_linear_and_matmul():
    net = Net("m", input=(4, 6), layers=[cnncost.Linear(name="a", out=4), cnncost.Linear(name="b", out=4, inputs=("a",)),
                                         cnncost.Matmul(name="mm", inputs=("a", "b"))])
    c = costs(net)
    # b: 4 tokens x (4 -> 4) with bias: 20 params, 16 x 4 = 64 MACs
    assert passes(c["b"]) == [("matmul", Amount(128), Amount(64, 80), Amount(64), 1),
                              ("matmul", Amount(128), Amount(64, 80), Amount(64), 1),
                              ("matmul", Amount(128), Amount(64 + 64), Amount(0, 80), 1)]
    # a @ b, (4, 4) @ (4, 4): 64 MACs; backward: both operands' gradients (2 x the forward), reading the
    # output's gradient and both saved operands
    assert passes(c["mm"])[:2] == [("matmul", Amount(128), Amount(128), Amount(64), 1),
                                   ("matmul", Amount(256), Amount(64 + 128), Amount(128), 1)]
    # a feeds b and mm: its output's two gradients are summed once (read two, write one); its input is the
    # net's, so it computes no input gradient
    assert passes(c["a"])[1] == ("matmul", Amount(16), Amount(3 * 64), Amount(), 1)


def test_bf16_autocast_products_read_the_low_precision_weight_copy():
    c2 = costs(CNN, "bf16")["c2"]
    # autocast casts the fp32 weights once per forward (read 4 B, write 2 B each), the conv reads the bf16
    # copy; activations are bf16 after the first conv
    assert c2.forward.dtype == "bf16"
    assert (c2.forward.read, c2.forward.written) == (Amount(4 * 64 * 2, 296 * 4 + 296 * 2), Amount(8 * 64 * 2, 296 * 2))
