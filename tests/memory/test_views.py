"""Views PyTorch makes without copying, and the in-place ops it refuses on them: the engine
follows both (found by the long differential run of issue 9)."""
from __future__ import annotations

import pytest

from cnncost.errors import CnnCostError, SpecError
from cnncost.graph import compile
from cnncost.layers import CenterCrop, Chunk, Conv, Flatten, Linear, ReLU, Sigmoid
from cnncost.net import Net

torch = pytest.importorskip("torch")
from cnncost.torch_backend import check  # noqa: E402


def saved_mismatches(net: Net) -> list[tuple[str, int, int]]:
    result = check(net, batch=2, device="cpu")
    assert result.ok
    return [(r.path, r.ours, r.torch) for r in result.rows if r.quantity == "saved_bytes" and r.ours != r.torch]


# Every crop of small maps, flattened: PyTorch's flatten is a view exactly when the crop's
# dimensions of size > 1 still nest (then a linear saves the whole uncropped storage).
@pytest.mark.parametrize("c, h, w", [(1, 3, 3), (2, 3, 3), (1, 4, 5)])
def test_flatten_of_a_crop_is_a_view_where_pytorch_makes_one(c: int, h: int, w: int) -> None:
    for ch in range(1, h + 1):
        for cw in range(1, w + 1):
            for head in ((), (Sigmoid(),)):
                net = Net("crop", input=(c, h, w),
                          layers=(Conv(out=c, kernel=1), CenterCrop(size=(ch, cw)), *head, Flatten(), Linear(out=2)))
                assert saved_mismatches(net) == [], (ch, cw, head)


def test_one_pixel_crop_of_one_channel_flattens_as_a_view() -> None:
    # The case the long run found: torch keeps the 3x3 storage (72 B at batch 2), not a copy (8 B).
    net = Net("crop1", input=(1, 3, 3), layers=(CenterCrop(size=(1, 1)), Flatten(), Linear(out=2)))
    result = check(net, batch=2, device="cpu")
    linear = next(r for r in result.rows if r.quantity == "saved_bytes" and r.path == "linear2")
    assert linear.ours == linear.torch == 2 * 9 * 4


def _torch_refuses(net: Net) -> bool:
    """Run the rule PyTorch applies: the same layers written out by hand on a tensor needing grad."""
    x = torch.randn(2, *net.input, requires_grad=True)
    conv = torch.nn.Conv2d(net.input[0], 4, 1)
    try:
        base = conv(x)
        outputs, read = {"c0": base}, set()
        for layer in net.layers[1:]:
            name = layer.inputs[0] if layer.inputs else list(outputs)[-1]
            src = outputs[name]
            read.add(name)
            if isinstance(layer, Chunk):
                y = src.chunk(layer.chunks, 1)[layer.index]
            elif isinstance(layer, ReLU):
                y = torch.relu_(src) if layer.inplace else torch.relu(src)
            elif isinstance(layer, Flatten):
                y = src.flatten(1)
            else:
                y = src * 2
            outputs[layer.name] = y
        sum(t.sum() for name, t in outputs.items() if name not in read).backward()  # the net's outputs
    except RuntimeError as error:
        assert "modified inplace" in str(error) or "is being modified inplace" in str(error)
        return True
    return False


CHUNK_CASES = {
    "relu on a chunk": [Chunk(name="ch", chunks=2), ReLU(name="r")],
    "relu on a flattened chunk": [Chunk(name="ch", chunks=2), Flatten(name="f"), ReLU(name="r")],
    "relu on one chunk of one": [Chunk(name="ch", chunks=1), ReLU(name="r")],
    "relu on the base, chunk read later": [Chunk(name="ch", chunks=2), ReLU(name="r", inputs=("c0",)),
                                           Sigmoid(name="s", inputs=("ch",))],
    "relu on the base, chunk not read later": [Chunk(name="ch", chunks=2), Sigmoid(name="s"),
                                               ReLU(name="r", inputs=("c0",))],
    "relu on the base, chunk an output": [Chunk(name="ch", chunks=2), ReLU(name="r", inputs=("c0",))],
    "out-of-place relu on a chunk": [Chunk(name="ch", chunks=2), ReLU(name="r", inplace=False)],
    "in-place relu after a copy of a chunk": [Chunk(name="ch", chunks=2), Sigmoid(name="s"), ReLU(name="r")],
}


@pytest.mark.parametrize("case", sorted(CHUNK_CASES))
def test_inplace_on_a_chunk_is_refused_exactly_where_pytorch_refuses(case: str) -> None:
    net = Net("chunky", input=(4, 3, 3), layers=(Conv(name="c0", out=4, kernel=1), *CHUNK_CASES[case]))
    refuses = _torch_refuses(net)
    try:
        compile(net)
    except SpecError as error:
        assert refuses, f"{case}: the engine refuses what PyTorch runs: {error}"
        assert "layer 'r'" in str(error) and "inplace: false" in str(error)
        return
    assert not refuses, f"{case}: PyTorch refuses, the engine accepts"
    assert saved_mismatches(net) == []


def runs(net: Net) -> bool:
    """The net compiles and PyTorch trains it (instance norm refuses one position per channel)."""
    try:
        graph = compile(net)
    except CnnCostError:
        return False
    return not any(n.type == "instance_norm" and n.input_shape[1:] == (1, 1) for n in graph.nodes)


# Channels last: LayerNorm2d's permutes leave an N, H, W, C layout that most ops keep, so a later
# flatten or .contiguous() copies (found by the long differential run of issue 9).
from cnncost import layers as L  # noqa: E402

AFTER_LAYER_NORM = {
    "none": [], "conv": [L.Conv(out=4, kernel=3, padding=1)], "bn": [L.BatchNorm()], "relu": [L.ReLU()],
    "sigmoid": [L.Sigmoid()], "softmax": [L.Softmax()], "dropout": [L.Dropout(p=0.3)], "maxpool": [L.MaxPool(kernel=2)],
    "gap": [L.GlobalAvgPool()], "ln_chw": [L.LayerNorm(over="chw")], "gn": [L.GroupNorm(groups=2)],
    "in": [L.InstanceNorm()], "shuffle": [L.ChannelShuffle(groups=2)], "scale": [L.LayerScale()],
    "up": [L.Upsample(scale_factor=2)], "convt": [L.ConvTranspose(out=4, kernel=2, stride=2)],
    "pixel": [L.PixelShuffle(factor=2)], "unpixel": [L.PixelUnshuffle(factor=2)], "pad": [L.Pad(padding=1)],
    "crop": [L.CenterCrop(size=2)], "crop1": [L.CenterCrop(size=1)], "chunk": [L.Chunk(chunks=2)],
    "chunk4": [L.Chunk(chunks=4)], "amax": [L.AdaptiveMaxPool(output=2)],
}
READERS = {"flatten-linear": [L.Flatten(), L.Linear(out=2)], "instance_norm": [L.InstanceNorm()],
           "group_norm": [L.GroupNorm(groups=1)], "shuffle-conv": [L.ChannelShuffle(groups=1), L.Conv(out=2, kernel=1)]}


@pytest.mark.parametrize("middle", sorted(AFTER_LAYER_NORM))
def test_channels_last_maps_are_copied_where_pytorch_copies_them(middle: str) -> None:
    for reader, side in ((r, s) for r in sorted(READERS) for s in (4, 1)):  # side 1: both layouts at once
        net = Net("cl", input=(4, side, side), layers=(Conv(out=4, kernel=1), L.LayerNorm(over="channels"),
                                                       *AFTER_LAYER_NORM[middle], *READERS[reader]))
        if runs(net):
            assert saved_mismatches(net) == [], (reader, side)


@pytest.mark.parametrize("view", ["chunk", "crop1", "crop2", "none"])
def test_shuffle_with_one_group_copies_a_view(view: str) -> None:
    # x.view(...).transpose(1, 2).contiguous() with one group: the input itself only if contiguous.
    views = {"chunk": [Chunk(chunks=2)], "crop1": [CenterCrop(size=1)], "crop2": [CenterCrop(size=2)], "none": []}
    for side in (3, 1):
        net = Net("s", input=(4, side, side), layers=(Conv(out=4, kernel=1), *views[view], L.ChannelShuffle(groups=1),
                                                      Conv(out=2, kernel=1)))
        if runs(net):
            assert saved_mismatches(net) == [], side


@pytest.mark.parametrize("c, h, w", [(2, 3, 3), (1, 4, 5)])
def test_a_crop_of_a_crop_flattens_with_the_first_storage_strides(c: int, h: int, w: int) -> None:
    # (2, 3, 3) -> crop 1x2 (cannot be viewed flat) -> crop 1x1: now one dimension, a view of the
    # 3x3 storage (found by the long differential run).
    for first in ((1, 2), (2, 2), (h, 1), (1, w)):
        for second in ((1, 1), (1, first[1]), (first[0], 1)):
            net = Net("crops", input=(c, h, w), layers=(Conv(out=c, kernel=1), CenterCrop(size=first),
                                                       CenterCrop(size=second), Flatten(), Linear(out=2)))
            if runs(net):
                assert saved_mismatches(net) == [], (first, second)
