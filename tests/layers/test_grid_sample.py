"""`grid_sample` (F.grid_sample): shapes, counts, the memory rule against PyTorch 2.13 CPU (fp32
and bf16 autocast) through `check`, and each peer tool's count."""
from __future__ import annotations

import pytest

from cnncost import Conv, Net, Permute, Tanh
from cnncost.errors import CnnCostError
from cnncost.layers import GridSample
from cnncost.layers.imported import Reshape
from cnncost.memory import Precision, trace
from torch_agreement import assert_agrees  # tests/support


def grid_net(folded: bool = False, mode: str = "bilinear") -> Net:
    """A map (4, 6, 6) sampled at a grid made from the input: (5, 6, 2) of 2-D points; folded:
    (2, 2, 6, 6) sampled at (2, 6, 6, 2), the batch folded into the first dim."""
    if folded:
        return Net("grid-folded", input=(3, 6, 6), layers=[
            Conv(name="c", out=4, kernel=1), Reshape(name="fold", shape=(2, 2, 6, 6)),
            Conv(name="g", out=4, kernel=3, padding=1, inputs=("input",)), Reshape(shape=(2, 2, 6, 6)),
            Permute(dims=(0, 2, 3, 1)), Tanh(name="grid"),
            GridSample(name="gs", inputs=("fold", "grid"), align_corners=True, folded=True), Tanh(name="out")])
    return Net("grid", input=(3, 6, 6), layers=[
        Conv(name="c", out=4, kernel=3, padding=1),
        Conv(name="g", out=2, kernel=(2, 1), inputs=("input",)), Permute(dims=(1, 2, 0)), Tanh(name="grid"),
        GridSample(name="gs", inputs=("c", "grid"), mode=mode), Conv(name="out", out=3, kernel=1)])


def test_shapes_and_counts():
    from cnncost import table
    rows = {r.name: r for r in table(grid_net()).rows}
    assert tuple(rows["gs"].output_shape) == (4, 5, 6)  # C of the map, Ho x Wo of the grid
    assert rows["gs"].params == 0 and rows["gs"].macs == 0
    rows = {r.name: r for r in table(grid_net(folded=True)).rows}
    assert tuple(rows["gs"].output_shape) == (2, 2, 6, 6)


@pytest.mark.parametrize("shapes,why", [
    (((4, 6, 6), (5, 6, 3)), "takes a grid of 2-D points"),
    (((4, 6), (5, 2)), "input must be"),
])
def test_bad_shapes_are_named(shapes, why):
    layer = GridSample(name="gs", inputs=("a", "b"))
    with pytest.raises(CnnCostError, match=why):
        layer.merge_shape(shapes)


def test_bad_mode_is_named():
    with pytest.raises(CnnCostError, match="mode must be one of"):
        GridSample(name="gs", inputs=("a", "b"), mode="area")


def test_saved_in_closed_form():
    # the map (4 x 6 x 6 = 144) and the grid (5 x 6 x 2 = 60); fp32: the grid is tanh's output, saved
    # by the tanh first; under bf16 autocast both are bf16, cast to new fp32 copies, which gs saves
    for dtype, expected in (("fp32", 144 * 4), ("bf16", (144 + 60) * 4)):
        t = trace(grid_net(), precision=Precision(dtype, "cpu"))
        assert t.saved_by_path()["gs"].per_sample == expected, dtype


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("folded,mode", [(False, "bilinear"), (False, "nearest"), (False, "bicubic"),
                                         (True, "bilinear")])
def test_agrees_with_pytorch(folded, mode, dtype):
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    net = grid_net(folded=folded) if folded else grid_net(mode=mode)
    assert_agrees(check(net, batch=2, device="cpu", dtype=dtype))


def test_peer_tools():
    """fvcore: aten::grid_sampler's handle, 4 per output element ("assume bilinear"); FlopCounterMode
    and the hook-based tools: 0 (no formula, no hook); allops: 2 per coordinate + 9 per output."""
    from cnncost import compile
    from cnncost.counting import ops
    graph = compile(grid_net())
    index = next(i for i, n in enumerate(graph.nodes) if n.path == "gs")
    out = 4 * 5 * 6
    expected = {"fvcore": 4 * out, "flopcounter": 0, "ptflops": 0, "ptflops-aten": 0, "thop": 0, "torchinfo": 0,
                "torchscan": 0, "torchvision": 0, "allops": 2 * 60 + 9 * out}
    for tool, count in expected.items():
        assert ops(graph, tool, profile="cnncost", batch=1).per_node[index] == count, tool

