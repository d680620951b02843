"""Differential test for the ONNX importer on tensors of any rank: random small nets (1-D, 2-D and
3-D maps: conv, batch norm, activations, pools, upsampling, a residual; tokens: linear, layer norm,
GELU, softmax on any dim, permute, multi-head attention) are built in PyTorch by the torch backend,
exported by the TorchScript exporter in training mode, imported with `from_onnx`, and the import's
params, MACs and saved bytes (batch 2, autograd model, CPU fp32) equal the spec's.

CNNCOST_ONNX_EXAMPLES sets the number of examples (default 6: each is an export; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os
import warnings

import pytest

torch = pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
pytest.importorskip("onnx")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncost  # noqa: E402
from cnncost.importers.onnx_graph import from_onnx  # noqa: E402
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend import build  # noqa: E402

EXAMPLES = int(os.environ.get("CNNCOST_ONNX_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "6"))


@st.composite
def map_net(draw) -> Net:
    rank = draw(st.sampled_from([1, 2, 3]))
    size = 16 if rank == 1 else 8
    c = draw(st.sampled_from([2, 4]))
    layers: list = [cnncost.Conv(out=4, kernel=3, padding=1, bias=draw(st.booleans()))]
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(("conv", "bn", "act", "maxpool", "avgpool", "up", "residual")))
        if kind == "conv":
            layers.append(cnncost.Conv(out=draw(st.sampled_from([4, 6])), kernel=draw(st.sampled_from([1, 3])),
                                       padding="same", groups=draw(st.sampled_from([1, 2]))))
        elif kind == "bn":
            layers.append(cnncost.BatchNorm())
        elif kind == "act" and not isinstance(layers[-1], cnncost.ReLU):
            # ONNX does not record in place: an activation is in place where it is the only reader of a
            # tensor a layer made (docs/import.md), so a ReLU after an in-place ReLU is not, unlike PyTorch's
            layers.append(draw(st.sampled_from([cnncost.ReLU(inplace=True), cnncost.Sigmoid(), cnncost.GELU()])))
        elif kind in ("maxpool", "avgpool") and size >= 4:
            layers.append((cnncost.MaxPool if kind == "maxpool" else cnncost.AvgPool)(kernel=2, stride=2))
            size //= 2
        elif kind == "up" and size <= 8:
            layers.append(cnncost.Upsample(scale_factor=2, mode="nearest"))
            size *= 2
        elif kind == "residual":
            layers.append(cnncost.Residual(layers=(cnncost.Conv(out=layers_out(layers), kernel=3, padding=1),
                                                   cnncost.ReLU())))
    layers += [cnncost.GlobalAvgPool() if rank == 2 else cnncost.AdaptiveAvgPool(output=1), cnncost.Flatten(),
               cnncost.Linear(out=3)]
    return Net(f"map{rank}", input=(c, *(size,) * rank), layers=tuple(layers))


def layers_out(layers: list) -> int:
    return next(layer.out for layer in reversed(layers) if isinstance(layer, cnncost.Conv))


@st.composite
def token_net(draw) -> Net:
    length, width = draw(st.integers(2, 6)), draw(st.sampled_from([8, 12]))
    layers: list = [cnncost.Linear(out=width)]
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(("linear", "norm", "gelu", "softmax", "permute", "mha")))
        if kind == "linear":
            layers.append(cnncost.Linear(out=width, bias=draw(st.booleans())))
        elif kind == "norm":
            layers.append(cnncost.LayerNorm(over="last", dims=1))
        elif kind == "gelu":
            layers.append(cnncost.GELU())
        elif kind == "softmax":
            layers.append(cnncost.Softmax(dim=draw(st.sampled_from([0, 1, -1]))))
        elif kind == "permute" and length != width:
            layers += [cnncost.Permute(dims=(1, 0)), cnncost.Linear(out=length), cnncost.Permute(dims=(1, 0))]
        elif kind == "mha":
            layers.append(cnncost.MultiheadAttention(heads=draw(st.sampled_from([1, 2, 4])), bias=draw(st.booleans())))
    return Net("tokens", input=(length, width), layers=tuple(layers))


def _figures(net: Net) -> tuple:
    t = cnncost.table(net, batch=2, memory="autograd", device="cpu").totals
    return t.params, t.macs, t.saved_bytes


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(net=st.one_of(map_net(), token_net()))
def test_onnx_exports_of_random_nets_import_with_the_specs_figures(tmp_path_factory, net: Net) -> None:
    try:
        expected = _figures(net)
    except cnncost.CnnCostError:  # a pool past the map's size
        assume(False)
    model = build(net, init=False).train()
    path = str(tmp_path_factory.mktemp("onnx") / "net.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, *net.input),), path, dynamo=False,
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    assert _figures(from_onnx(path)) == expected, repr(net.layers)
