"""Views PyTorch makes without copying, and the in-place ops it refuses on them: the engine
follows both (found by the long differential run of issue 9)."""
from __future__ import annotations

import pytest

from cnncost.errors import SpecError
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
