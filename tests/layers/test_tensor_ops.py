"""The tensor ops of issue 18 (views of any rank, constants, learnable parameters, reductions,
tokens, element-wise merges with broadcasting): shapes, params and MACs in closed form and
against PyTorch, the elements a node allocates (a reshape that must copy), clear errors, and a
YAML round trip."""
from __future__ import annotations

import dataclasses

import pytest

import cnncost
from cnncost import (Add, Affine, Arith, Chunk, Concat, Contiguous, Conv, Div, Expand, Flatten, Learnable, Linear,
                     Maximum, Minimum, Mul, Net, Permute, Reduce, Reshape, Select, Slice, Split, Stack, Sub, Tokens,
                     Transpose, Unflatten)
from cnncost.errors import CnnCostError
from cnncost.layers import LAYER_TYPES
from cnncost.spec import dump_spec
from cnncost.layers.strides import contiguous, dense_like, is_contiguous, reshape, view
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)

TYPES = {"permute": Permute, "transpose": Transpose, "unflatten": Unflatten, "slice": Slice, "select": Select,
         "expand": Expand, "contiguous": Contiguous, "split": Split, "sub": Sub, "div": Div, "maximum": Maximum,
         "minimum": Minimum, "stack": Stack, "arith": Arith, "learnable": Learnable, "affine": Affine,
         "reduce": Reduce, "tokens": Tokens}


def test_the_yaml_names() -> None:
    for name, cls in TYPES.items():
        assert LAYER_TYPES[name] is cls
        assert cls.__name__ in cnncost.__all__


def last(layers, input=(8, 6, 4)):
    return cnncost.compile(Net("n", input=input, layers=layers)).nodes[-1]


# (layers, input, output shape, params, elements allocated); the arithmetic in the comment
FORMULAS = [
    ([Permute(dims=(1, 2, 0))], (8, 6, 4), (6, 4, 8), 0, 0),               # a view
    ([Permute(dims=(-1, 0, 1))], (8, 6, 4), (4, 8, 6), 0, 0),              # negative dims count from the end
    ([Transpose(dim0=0, dim1=-1)], (8, 6, 4), (4, 6, 8), 0, 0),
    ([Unflatten(dim=0, sizes=(2, -1))], (8, 6, 4), (2, 4, 6, 4), 0, 0),
    ([Flatten(start_dim=1)], (8, 6, 4), (8, 24), 0, 0),
    ([Flatten(start_dim=0, end_dim=1)], (8, 6, 4), (48, 4), 0, 0),
    ([Reshape(shape=(-1, 4))], (8, 6, 4), (48, 4), 0, 0),
    ([Slice(dim=1, step=2)], (8, 6, 4), (8, 3, 4), 0, 0),                  # x[:, :, ::2]
    ([Slice(dim=2, start=1, step=2)], (8, 6, 5), (8, 6, 2), 0, 0),         # 1, 3
    ([Slice(dim=0, start=-3)], (8, 6, 4), (3, 6, 4), 0, 0),                # the last 3 channels
    ([Slice(dim=0, stop=100)], (8, 6, 4), (8, 6, 4), 0, 0),                # clamped, as Python's
    ([Select(dim=1, index=-1)], (8, 6, 4), (8, 4), 0, 0),
    ([Expand(shape=(-1, 6, 4))], (8, 1, 4), (8, 6, 4), 0, 0),
    ([Chunk(chunks=3, index=2, dim=1)], (8, 7, 4), (8, 1, 4), 0, 0),       # torch.chunk: 3, 3, 1
    ([Split(sizes=(2, 5), index=1, dim=1)], (8, 7, 4), (8, 5, 4), 0, 0),
    ([Split(sizes=3, index=2, dim=1)], (8, 7, 4), (8, 1, 4), 0, 0),        # 3, 3, 1
    ([Contiguous()], (8, 6, 4), (8, 6, 4), 0, 0),                          # contiguous already: itself
    ([Arith(op="div", value=2)], (8, 6, 4), (8, 6, 4), 0, 192),
    ([Learnable(op="mul")], (8, 6, 4), (8, 6, 4), 1, 192),                 # a learnable scalar
    ([Learnable(op="add", shape=(6, 4))], (8, 6, 4), (8, 6, 4), 24, 192),  # a position embedding
    ([Affine()], (8, 6, 4), (8, 6, 4), 2 * 8, 192),                        # weight and bias per channel
    ([Affine(dim=-1, bias=False)], (8, 6, 4), (8, 6, 4), 4, 192),
    ([Reduce(op="mean", dims=(1, 2))], (8, 6, 4), (8,), 0, 8),
    ([Reduce(op="norm", dims=(0,), keepdim=True)], (8, 6, 4), (1, 6, 4), 0, 24),
    ([Reduce(op="amax")], (8, 6, 4), None, 0, 0),                          # all dims without keepdim: refused
    ([Reduce(op="max", dims=(-2,))], (8, 6, 4), (8, 4), 0, 32),            # x.max(-2)[0]
    ([Reduce(op="sum", keepdim=True)], (8, 6, 4), (1, 1, 1), 0, 1),
    ([Tokens(count=2)], (196, 768), (198, 768), 2 * 768, 198 * 768),       # class + one register token
]


@pytest.mark.parametrize("layers, input, shape, params, made", FORMULAS, ids=[repr(f[0][0]) for f in FORMULAS])
def test_formulas(layers, input, shape, params, made) -> None:
    if shape is None:
        with pytest.raises(CnnCostError, match="keepdim"):
            last(layers, input)
        return
    node = last(layers, input)
    assert (node.output_shape, node.params, node.macs, node.activations) == (shape, params, 0, made)


def test_a_reshape_copies_where_the_strides_allow_no_view() -> None:
    # (8, 6, 4) permuted to (6, 4, 8): H and W still nest, so they flatten as a view; C with H does not
    base = [Conv(out=8, kernel=1), Permute(dims=(1, 2, 0))]
    assert last(base + [Flatten(start_dim=0, end_dim=1)]).activations == 0
    assert last(base + [Flatten()]).activations == 6 * 4 * 8
    assert last(base + [Reshape(shape=(-1,))]).activations == 6 * 4 * 8
    assert last(base + [Contiguous()]).activations == 6 * 4 * 8
    assert last(base + [Permute(dims=(2, 0, 1)), Flatten()]).activations == 0  # permuted back: contiguous
    # a strided slice flattens only by copying; a channel slice (each sample contiguous) views
    assert last([Slice(dim=1, step=2), Flatten()]).activations == 8 * 3 * 4
    assert last([Slice(dim=0, stop=4), Flatten()]).activations == 0
    assert last([Slice(dim=0, stop=4), Contiguous()]).activations == 4 * 6 * 4  # the batch stride is the base's


def test_strides_follow_atens_compute_stride() -> None:
    """Reference: torch 2.13, x = torch.empty(2, 8, 6, 4).permute(0, 2, 3, 1): x.view(2, 24, 8) works,
    x.view(2, 192) raises, x.stride() == (192, 4, 1, 24)."""
    layout = (192, 4, 1, 24)
    assert view((6, 4, 8), layout, (24, 8)) == (192, 1, 24)
    assert view((6, 4, 8), layout, (192,)) is None
    assert reshape((8, 6, 4), contiguous((8, 6, 4)), (48, 4)) == (192, 4, 1)
    assert not is_contiguous((6, 4, 8), layout)
    assert is_contiguous((1, 6, 4), (24, 7, 4, 1))  # a size-1 dim's stride does not matter
    assert dense_like((6, 4, 8), layout) == (192, 4, 1, 24)  # torch.sigmoid(x).stride()


def test_broadcasting_merges() -> None:
    gate = [Conv(name="x", out=8, kernel=1), Reduce(name="g", op="mean", dims=(1, 2), keepdim=True)]
    assert last(gate + [Add(inputs=("x", "g"))]).output_shape == (8, 6, 4)   # a per-channel bias
    assert last(gate + [Sub(inputs=("g", "x"))]).output_shape == (8, 6, 4)
    assert last(gate + [Div(inputs=("x", "g"))]).output_shape == (8, 6, 4)
    assert last(gate + [Maximum(inputs=("x", "g"))]).output_shape == (8, 6, 4)
    assert last(gate + [Mul(inputs=("g", "x"))]).output_shape == (8, 6, 4)
    both = [Conv(name="a", out=8, kernel=1), Conv(name="b", out=8, kernel=1, inputs=("input",))]
    assert last(both + [Stack(inputs=("a", "b"), dim=1)]).output_shape == (8, 2, 6, 4)
    assert last(both + [Stack(inputs=("a", "b"), dim=-1)]).output_shape == (8, 6, 4, 2)
    assert last(both + [Concat(inputs=("a", "b"), dim=2)]).output_shape == (8, 6, 8)
    assert last(both + [Concat(inputs=("a", "b"), dim=-2)]).output_shape == (8, 12, 4)


ERRORS = [
    ([Permute(dims=(0, 1))], r"layer 'p' \(permute\): dims \[0, 1\] must name all 3 per-sample dims of 8x6x4"),
    ([Permute(dims=(0, 1, 1))], r"dims \[0, 1, 1\] name a dim twice"),
    ([Transpose(dim0=0, dim1=3)], r"dim 3 is out of range for the 3-D per-sample shape 8x6x4 \(dims count after the "
                                  r"batch: -3\.\.2\)"),
    ([Slice(dim=1, start=6)], r"slice 6::1 of a dim of 6 is empty"),
    ([Select(dim=2, index=4)], r"index 4 is out of range for dim 2 of size 4"),
    ([Expand(shape=(8, 6, 5))], r"cannot expand dim 2 of size 4 to 5"),
    ([Unflatten(dim=1, sizes=(4, -1))], r"cannot view 6 elements as 4x-1"),
    ([Reshape(shape=(5, -1))], r"cannot view 192 elements as 5x-1"),
    ([Split(sizes=(2, 2), dim=1)], r"split sizes \[2, 2\] add up to 4, not to the dim's 6"),
    ([Chunk(chunks=4, index=3, dim=1)], r"6 positions along dim 1 make only 3 chunks of 2 \(torch.chunk\)"),
    ([Learnable(op="add", shape=(5,))], r"the parameter's shape \[5\] does not broadcast against 8x6x4"),
    ([Reduce(op="sum", dims=(0, -3))], r"dims \[0, -3\] name a dim twice"),
    ([Tokens()], r"prepends tokens to a sequence \(L, D\); got the 1-D 192"),
    ([Flatten(start_dim=2, end_dim=1)], r"start_dim 2 comes after end_dim 1"),
]


@pytest.mark.parametrize("layers, message", ERRORS, ids=[e[1][:30] for e in ERRORS])
def test_bad_input_is_one_clear_line(layers, message) -> None:
    layers = [dataclasses.replace(layers[0], name="p")]
    input = (192,) if isinstance(layers[0], Tokens) else (8, 6, 4)
    with pytest.raises(CnnCostError, match=message) as error:
        last(layers, input)
    assert "\n" not in str(error.value)


def test_max_reduces_one_dim() -> None:
    for dims in ((0, 1), None):
        with pytest.raises(CnnCostError, match=r"op max \(x.max\(dim\)\) reduces exactly one dim: name it in dims"):
            Reduce(name="m", op="max", dims=dims)


def test_merge_errors() -> None:
    both = [Conv(name="a", out=8, kernel=1), Conv(name="b", out=3, kernel=1, inputs=("input",))]
    with pytest.raises(CnnCostError, match=r"layer 'd' \(div\): cannot broadcast 8x6x4 and 3x6x4"):
        last(both + [Div(name="d", inputs=("a", "b"))])
    with pytest.raises(CnnCostError, match=r"stack needs tensors of one shape: 8x6x4, 3x6x4"):
        last(both + [Stack(name="s", inputs=("a", "b"))])
    with pytest.raises(CnnCostError, match=r"cannot concat along dim 1 tensors that differ in another dim"):
        last(both + [Concat(name="c", inputs=("a", "b"), dim=1)])
    with pytest.raises(CnnCostError, match=r"subtracts two tensors, got 3"):
        last(both + [Sub(name="s", inputs=("a", "b", "b"))])


YAML = """
name: ops
input: [8, 6, 4]
layers:
  - {name: c, type: conv, out: 8, kernel: 1}
  - {name: half, type: slice, dim: 1, step: 2}
  - {name: t, type: permute, dims: [1, 2, 0]}
  - {name: s, type: learnable, op: mul, shape: []}
  - {name: z, type: arith, op: add, value: 0}
  - {name: f, type: flatten, start_dim: 0, end_dim: 1}
  - {name: tok, type: tokens, count: 1}
  - {name: m, type: reduce, op: mean, dims: [0]}
  - {name: both, type: stack, from: [m, m], dim: 0}
  - {name: avg, type: arith, op: div, value: 2}
"""


def test_yaml_round_trip() -> None:
    net = cnncost.parse_spec(YAML, "ops.yaml")
    graph = cnncost.compile(net)
    assert graph.output_shape == (2, 8)
    again = cnncost.parse_spec(dump_spec(net), "again.yaml")
    assert again.layers == net.layers
    assert sum(n.params for n in graph.nodes) == 8 * 8 + 8 + 1 + 8  # conv, scalar, one token of D = 8


def test_against_torch() -> None:
    """Every exact figure (shapes, params, MACs, FLOPs) and the saved bytes of every layer."""
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    net = cnncost.parse_spec(YAML, "ops.yaml")
    for dtype in ("fp32", "bf16"):
        result = check(net, batch=2, device="cpu", dtype=dtype)
        assert_agrees(result, dtype)


def test_a_sweep_counts_the_copies_the_table_counts() -> None:
    pytest.importorskip("numpy")
    from cnncost.sweeps import sweep
    net = Net("copies", (4, 8, 8), [Conv(out=4, kernel=1), Permute(dims=(1, 2, 0)), Flatten(), Linear(out=2)])
    frame = sweep(net, input=[8, 16], batch=1)
    for size, swept in zip((8, 16), frame["activations"]):
        table = cnncost.table(net, input=(4, size, size), batch=1)
        assert swept == sum(row.figures["activations"] for row in table.rows) == 4 * size * size * 3 + 2


def test_receptive_fields_through_views() -> None:
    # a 3x3 conv, then x[:, :, ::2, 1::2]: the field stays 3, the stride is 2 on each axis, and the first
    # position's centre moves to column 1 (conv centres: pixel i at position i with padding 1)
    net = Net("rf", (2, 8, 8), [Conv(name="c", out=2, kernel=3, padding=1), Slice(name="rows", dim=1, step=2),
                                Slice(name="cols", dim=-1, start=1, step=2), Arith(name="a", op="mul", value=2),
                                Chunk(name="half", chunks=2), Permute(name="p", dims=(1, 2, 0))])
    rows = {r.name: r for r in cnncost.receptive_field(net)}
    cols = rows["cols"]
    assert (cols.size, cols.stride, cols.offset, cols.whole_input) == ((3, 3), (2, 2), (0, 1), False)
    assert rows["a"].size == rows["half"].size == (3, 3)
    assert rows["p"].whole_input and "leaves the channels-first map" in rows["p"].note
