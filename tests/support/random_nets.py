"""Random valid specs for hypothesis: chains and DAGs (named references to earlier tensors, merges of
non-adjacent tensors, several outputs) over every layer type, each layer drawn to fit its input.
The differential test (torch_backend/test_differential.py) and the receptive-field test use them."""
from __future__ import annotations

from hypothesis import strategies as st

from cnncost.errors import CnnCostError
from cnncost.graph import compile
from cnncost.layers import (GELU, LRN, AdaptiveAvgPool, Add, AvgPool, BatchNorm, Concat, Conv, Dropout,
                            Flatten, Gate, GlobalAvgPool, Hardswish, LeakyReLU, Linear, MaxPool, Mul, Node, ReLU,
                            ReLU6, Repeat, Residual, Sequential, Side, Sigmoid, SiLU, SqueezeExcite, Tanh)
from cnncost.layers import (AdaptiveMaxPool, CenterCrop, ChannelShuffle, Chunk, ConvTranspose,
                            GroupNorm, Hardsigmoid, Hardtanh, Identity, InstanceNorm, LayerNorm, LayerScale,
                            Mish, Pad, PixelShuffle, PixelUnshuffle, Softmax, StochasticDepth, Upsample)
from cnncost.net import Net

INPLACE_ACTS = (ReLU, ReLU6, LeakyReLU, SiLU, Hardswish, Hardsigmoid, Hardtanh, Mish)
PLAIN_ACTS = (Sigmoid, Tanh, GELU, Softmax, Identity)



def out_shape(node: Node, x: tuple[int, ...]) -> tuple[int, ...] | None:
    """The engine's output shape, or None when the node does not fit this input."""
    try:
        return compile(Net("probe", input=x, layers=[node])).output_shape
    except CnnCostError:
        return None


def activation(draw) -> Node:
    kind = draw(st.sampled_from(INPLACE_ACTS + PLAIN_ACTS))
    return kind(inplace=draw(st.booleans())) if kind in INPLACE_ACTS else kind()


def small(draw, low: int = 1, high: int = 3) -> int | tuple[int, int]:
    """An int or an (h, w) pair."""
    if draw(st.booleans()):
        return draw(st.integers(low, high))
    return (draw(st.integers(low, high)), draw(st.integers(low, high)))


def sizes(draw, rank: int, low: int, high: int) -> int | tuple[int, ...]:
    """One int for every spatial dim, or one per dim."""
    if draw(st.booleans()):
        return draw(st.integers(low, high))
    return tuple(draw(st.integers(low, high)) for _ in range(rank))


def conv(draw, c: int) -> Conv:
    groups = draw(st.sampled_from([g for g in (1, 2, 3, 4, c) if c % g == 0]))  # c: depthwise
    out = groups * draw(st.integers(1, 3))
    stride = small(draw)
    padding = draw(st.one_of(st.just("valid"), st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.just("same") if stride in (1, (1, 1)) else st.just(0)))
    return Conv(out=out, kernel=small(draw, 1, 5), stride=stride, padding=padding,
                dilation=small(draw, 1, 2), groups=groups, bias=draw(st.booleans()))


def pool(draw) -> Node:
    kernel = small(draw, 1, 3)
    k = kernel if isinstance(kernel, int) else min(kernel)
    kind = draw(st.sampled_from((MaxPool, AvgPool)))
    extra = {"count_include_pad": draw(st.booleans())} if kind is AvgPool else {}
    return kind(kernel=kernel, stride=draw(st.one_of(st.none(), st.integers(1, 3))),
                padding=draw(st.integers(0, k // 2)), ceil_mode=draw(st.booleans()), **extra)


def keep_size(draw, c: int, out: int) -> list[Node]:
    """Layers from c to `out` channels that keep H and W (for branches and residuals)."""
    k = draw(st.sampled_from((1, 2, 3, 4)))
    first = Conv(out=out, kernel=k, padding="same", dilation=draw(st.integers(1, 2)),
                 groups=draw(st.sampled_from([g for g in (1, out) if c % g == 0 and out % g == 0])))
    return [first, BatchNorm(), activation(draw)][:draw(st.integers(1, 3))]


def map_layer(draw, x: tuple[int, ...]) -> Node:
    c = x[0]
    kind = draw(st.sampled_from(("conv", "conv", "conv", "conv", "pool", "pool", "bn", "act", "lrn", "adaptive", "concat",
                                 "residual", "projection", "gate", "se", "repeat", "side", "dropout", "newer", "newer",
                                 "newer", "newer")))
    if kind == "newer":
        return newer_layer(draw, x)
    if kind == "conv":
        return conv(draw, c)
    if kind == "pool":
        return pool(draw)
    if kind == "bn":
        return BatchNorm(affine=draw(st.booleans()))
    if kind == "act":
        return activation(draw)
    if kind == "lrn":
        return LRN(size=draw(st.integers(1, 5)))
    if kind == "adaptive":
        return draw(st.sampled_from((AdaptiveAvgPool(output=small(draw)), GlobalAvgPool())))
    if kind == "dropout":
        return Dropout(p=0.3)
    if kind == "concat":
        n = draw(st.integers(1, 3))
        return Concat(branches=tuple(tuple(keep_size(draw, c, draw(st.integers(1, 4)))) for _ in range(n)))
    if kind == "residual":
        return Residual(layers=tuple(keep_size(draw, c, c)), scale=draw(st.sampled_from((1.0, 0.2))))
    if kind == "projection":
        out, stride = draw(st.integers(1, 6)), draw(st.integers(1, 2))
        return Residual(layers=(Conv(out=out, kernel=3, stride=stride, padding=1, bias=False), BatchNorm()),
                        shortcut=(Conv(out=out, kernel=1, stride=stride, bias=False), BatchNorm()))
    if kind == "gate":
        return Gate(layers=(GlobalAvgPool(), Conv(out=draw(st.integers(1, 4)), kernel=1), ReLU(),
                            Conv(out=c, kernel=1), Sigmoid()))
    if kind == "se":
        return SqueezeExcite(reduction=draw(st.integers(1, 4)), activation=draw(st.sampled_from(("relu", "silu"))))
    if kind == "repeat":
        return Repeat(times=draw(st.integers(1, 3)), layers=tuple(keep_size(draw, c, c)))
    return Side(layers=(GlobalAvgPool(), Flatten(), Linear(out=draw(st.integers(1, 5)))))


def newer_layer(draw, x: tuple[int, ...]) -> Node:
    """The layer types modern CNNs use (ConvNeXt, ShuffleNet, U-Net, segmentation heads)."""
    c, h, w = x
    kind = draw(st.sampled_from(("ln", "gn", "in", "chunk", "shuffle", "scale", "drop", "up", "convt", "pixel",
                                 "unpixel", "pad", "crop", "amax", "se_hard")))
    divisors = [g for g in range(1, c + 1) if c % g == 0]
    if kind == "ln":
        return LayerNorm(over=draw(st.sampled_from(("channels", "chw"))), elementwise_affine=draw(st.booleans()))
    if kind == "gn":
        return GroupNorm(groups=draw(st.sampled_from(divisors)), affine=draw(st.booleans()))
    if kind == "in":
        if h * w == 1:  # PyTorch refuses to train instance norm on a single spatial element
            return LayerScale()
        return InstanceNorm(affine=draw(st.booleans()), track_running_stats=draw(st.booleans()))
    if kind == "chunk":
        chunks = draw(st.sampled_from(divisors))
        return Chunk(chunks=chunks, index=draw(st.integers(0, chunks - 1)))
    if kind == "shuffle":
        return ChannelShuffle(groups=draw(st.sampled_from(divisors)))
    if kind == "scale":
        return LayerScale()
    if kind == "drop":
        return StochasticDepth(p=draw(st.sampled_from((0.0, 0.2))), mode=draw(st.sampled_from(("row", "batch"))))
    if kind == "up":
        if draw(st.booleans()):
            return Upsample(scale_factor=draw(st.sampled_from((2.0, 1.5))), mode=draw(st.sampled_from(("nearest", "bilinear"))))
        return Upsample(size=(draw(st.integers(1, 20)), draw(st.integers(1, 20))), mode="bilinear",
                        align_corners=draw(st.booleans()))
    if kind == "convt":
        stride = draw(st.integers(1, 3))
        groups = draw(st.sampled_from([g for g in (1, 2, c) if c % g == 0]))
        return ConvTranspose(out=groups * draw(st.integers(1, 3)), kernel=draw(st.integers(1, 4)), stride=stride,
                             padding=draw(st.integers(0, 1)), output_padding=draw(st.integers(0, stride - 1)),
                             groups=groups, bias=draw(st.booleans()))
    if kind == "pixel":
        return PixelShuffle(factor=draw(st.sampled_from([r for r in (1, 2) if c % (r * r) == 0])))
    if kind == "unpixel":
        return PixelUnshuffle(factor=draw(st.sampled_from([r for r in (1, 2) if h % r == 0 and w % r == 0])))
    if kind == "pad":
        mode = draw(st.sampled_from(("zeros", "reflect")))
        limit = min(h, w) - 1 if mode == "reflect" else 2
        return Pad(padding=draw(st.integers(0, max(0, min(limit, 2)))), mode=mode)
    if kind == "crop":
        return CenterCrop(size=(draw(st.integers(1, h)), draw(st.integers(1, w))))
    if kind == "amax":
        return AdaptiveMaxPool(output=small(draw))
    return SqueezeExcite(squeeze=draw(st.integers(1, 4)), activation=draw(st.sampled_from(("relu", "hardswish"))),
                         gate="hardsigmoid")


def vector_layer(draw, x: tuple[int, ...]) -> Node:
    kind = draw(st.sampled_from(("linear", "linear", "bn", "act", "dropout")))
    if kind == "linear":
        return Linear(out=draw(st.integers(1, 12)), bias=draw(st.booleans()))
    if kind == "bn":
        return BatchNorm()
    if kind == "dropout":
        return Dropout(p=0.2, inplace=draw(st.booleans()))
    return activation(draw)


def dag_node(draw, tensors: list[tuple[str, tuple[int, ...]]], x: tuple[int, ...]) -> Node | None:
    """A node that reads earlier named tensors: a merge of the current tensor with a non-adjacent
    one, or a layer on an earlier tensor (which leaves the current chain as an extra output)."""
    kind = draw(st.sampled_from(("add", "concat", "mul", "branch")))
    last = tensors[-1][0]
    if kind == "add":
        same = [name for name, shape in tensors[:-1] if shape == x]
        return Add(inputs=(last, draw(st.sampled_from(same)))) if same else None
    if kind == "concat" and len(x) == 3:
        fits = [name for name, shape in tensors[:-1] if len(shape) == 3 and shape[1:] == x[1:]]
        if fits:
            others = draw(st.lists(st.sampled_from(fits), min_size=1, max_size=3))
            return Concat(inputs=(last, *others))
        return None
    if kind == "mul" and len(x) == 3:
        gates = [name for name, shape in tensors[:-1] if shape in ((x[0], 1, 1), x)]
        return Mul(inputs=(last, draw(st.sampled_from(gates)))) if gates else None
    name, shape = draw(st.sampled_from(tensors[:-1] or tensors))
    node = map_layer(draw, shape) if len(shape) == 3 else vector_layer(draw, shape)
    return type(node)(**{**node.__dict__, "inputs": (name,)})


@st.composite
def specs(draw, dag: bool = True) -> Net:
    x = (draw(st.integers(1, 8)), draw(st.integers(3, 16)), draw(st.integers(3, 16)))
    start, layers = x, []
    tensors = [("input", x)]  # (name, shape) of every top-level tensor so far
    for i in range(draw(st.integers(1, 8))):
        if dag and len(tensors) > 1 and draw(st.integers(0, 3)) == 0:
            candidate: Node | None = dag_node(draw, tensors, x)
        elif len(x) == 3 and draw(st.integers(0, 9)) == 0:
            candidate = Flatten()
        else:
            candidate = map_layer(draw, x) if len(x) == 3 else vector_layer(draw, x)
        if candidate is None:
            continue
        candidate = type(candidate)(**{**candidate.__dict__, "name": f"n{i}"})
        try:  # a layer that does not fit is skipped, not rejected: no filtering
            _ = compile(Net("probe", input=start, layers=(*layers, candidate))).nodes
        except CnnCostError:
            continue
        layers.append(candidate)
        x = compile(Net("probe", input=start, layers=tuple(layers))).output_shape
        tensors.append((f"n{i}", x))
    if not layers:
        layers.append(Sequential(layers=(ReLU(),)))
    return Net("random", input=start, layers=tuple(layers))


def describe(net: Net) -> str:
    from cnncost import dump_spec
    return dump_spec(net)


