"""Differential test of the tensor ops (issue 18): random DAGs of permutes, transposes, reshapes
and flattens that view and that copy, slices with steps, selects, expands, splits and chunks on
any dim, contiguous copies (also of channels-last maps: LayerNorm2d), reductions, constants, learnable scalars, tensors and affines,
element-wise merges with broadcasting, stack and concat on any dim, on 3-D maps and whatever
rank the views leave. Each net is checked layer by layer against the torch backend: shapes,
params, MACs, FLOPs and saved bytes (batch 2, CPU), in fp32 or bf16 autocast.

CNNCOST_DIFF_EXAMPLES sets the number of examples (default 100; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import dataclasses
import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.graph import compile  # noqa: E402
from cnncost.layers import (GELU, Add, Affine, Arith, Chunk, ConcatMerge, Contiguous, Conv, Div, Expand,  # noqa: E402
                            Flatten, LayerNorm, Learnable, Maximum, Minimum, Mul, Permute, Reduce, Reshape, Select, Sigmoid,
                            Slice, Split, Stack, Sub, Tanh, Tokens, Transpose, Unflatten)
from cnncost.memory import Precision, trace  # noqa: E402
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_DIFF_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "100"))
MAX_ELEMENTS = 400  # per sample: keeps every example fast


def dim(draw, rank: int) -> int:
    """A dim of a rank-`rank` shape, sometimes negative."""
    d = draw(st.integers(0, rank - 1))
    return d - rank if draw(st.booleans()) else d


def factor_pairs(n: int) -> list[tuple[int, int]]:
    return [(a, n // a) for a in range(1, n + 1) if n % a == 0]


def unary(draw, x: tuple[int, ...]):
    """One op that reads a tensor of shape x."""
    rank = len(x)
    kinds = ["permute", "transpose", "flatten", "unflatten", "reshape", "slice", "chunk", "split", "contiguous",
             "reduce", "arith", "learnable", "affine", "act"]
    if rank >= 2:
        kinds += ["select", "tokens"]
    if 1 in x:
        kinds.append("expand")
    if rank == 3:
        kinds += ["conv", "layer_norm2d"]
    kind = draw(st.sampled_from(kinds))
    if kind == "permute":
        return Permute(dims=tuple(draw(st.permutations(range(rank)))))
    if kind == "transpose":
        return Transpose(dim0=dim(draw, rank), dim1=dim(draw, rank))
    if kind == "flatten":
        a, b = sorted((draw(st.integers(0, rank - 1)), draw(st.integers(0, rank - 1))))
        return Flatten(start_dim=a, end_dim=b - rank if draw(st.booleans()) else b)
    if kind == "unflatten":
        d = dim(draw, rank)
        a, b = draw(st.sampled_from(factor_pairs(x[d])))
        return Unflatten(dim=d, sizes=(a, -1) if draw(st.booleans()) else (a, b))
    if kind == "reshape":
        total = 1
        for s in x:
            total *= s
        a, b = draw(st.sampled_from(factor_pairs(total)))
        return Reshape(shape=draw(st.sampled_from([(a, b), (-1, b), (total,), (a, -1, 1)])))
    if kind == "slice":
        d = dim(draw, rank)
        start = draw(st.integers(-x[d], x[d] - 1))
        stop = draw(st.one_of(st.none(), st.integers(-x[d], x[d] + 2)))
        return Slice(dim=d, start=start, stop=stop, step=draw(st.integers(1, 3)))
    if kind == "select":
        d = dim(draw, rank)
        return Select(dim=d, index=draw(st.integers(-x[d], x[d] - 1)))
    if kind == "chunk":
        d = dim(draw, rank)
        chunks = draw(st.integers(1, 3))
        return Chunk(chunks=chunks, index=draw(st.integers(0, chunks - 1)), dim=d)
    if kind == "split":
        d = dim(draw, rank)
        if x[d] >= 2 and draw(st.booleans()):
            first = draw(st.integers(1, x[d] - 1))
            return Split(sizes=(first, x[d] - first), index=draw(st.integers(0, 1)), dim=d)
        return Split(sizes=draw(st.integers(1, 3)), index=draw(st.integers(0, 1)), dim=d)
    if kind == "expand":
        return Expand(shape=tuple(draw(st.integers(2, 3)) if s == 1 else draw(st.sampled_from([s, -1])) for s in x))
    if kind == "contiguous":
        return Contiguous()
    if kind == "reduce":
        op = draw(st.sampled_from(["sum", "mean", "amax", "amin", "norm", "max"]))
        dims = draw(st.one_of(st.none(), st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True)))
        if op == "max":  # x.max(dim): one dim
            dims = [draw(st.integers(0, rank - 1))]
        return Reduce(op=op, dims=None if dims is None else tuple(dims), keepdim=draw(st.booleans()),
                      p=draw(st.sampled_from([2.0, 3.0])) if op == "norm" else 2.0)
    if kind == "arith":
        return Arith(op=draw(st.sampled_from(["add", "sub", "mul", "div", "pow"])),
                     value=draw(st.sampled_from([0.0, 0.5, 2.0])), reverse=draw(st.booleans()))
    if kind == "learnable":
        k = draw(st.integers(0, rank))
        tail = x[rank - k:]
        return Learnable(op=draw(st.sampled_from(["add", "mul"])),
                         shape=tuple(s if draw(st.booleans()) else 1 for s in tail), init=0.5)
    if kind == "affine":
        return Affine(dim=dim(draw, rank), bias=draw(st.booleans()))
    if kind == "tokens":
        return Tokens(count=draw(st.integers(1, 2)))
    if kind == "conv":
        return Conv(out=draw(st.integers(1, 4)), kernel=draw(st.integers(1, 2)), stride=draw(st.integers(1, 2)))
    if kind == "layer_norm2d":  # ConvNeXt's LayerNorm2d: its output is channels last
        return LayerNorm(over="channels")
    return draw(st.sampled_from([Sigmoid, GELU, Tanh]))()


def merge(draw, shapes: dict[str, tuple[int, ...]], names: list[str]):
    """A merge of the last tensor and an earlier one that fits it, or None."""
    last = names[-1]
    x = shapes[last]
    kind = draw(st.sampled_from(["binary", "stack", "concat"]))
    if kind == "binary":
        fits = [n for n in names if _broadcasts(x, shapes[n])]
        other = draw(st.sampled_from(fits))
        cls = draw(st.sampled_from([Add, Sub, Mul, Div, Maximum, Minimum]))
        pair = (last, other) if draw(st.booleans()) else (other, last)
        return cls(inputs=pair)
    same = [n for n in names if shapes[n] == x]
    others = tuple(draw(st.lists(st.sampled_from(same), min_size=1, max_size=2)))
    if kind == "stack":
        return Stack(inputs=(last, *others), dim=draw(st.integers(-len(x) - 1, len(x))))
    return ConcatMerge(inputs=(last, *others), dim=dim(draw, len(x)))


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return len(a) == len(b) and all(p == q or p == 1 or q == 1 for p, q in zip(a, b))


@st.composite
def nets(draw) -> Net:
    x = (draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    layers: list = [Conv(name="n0", out=draw(st.integers(1, 4)), kernel=1)]
    probe = compile(Net("probe", input=x, layers=layers))
    shapes = {"input": x, "n0": probe.output_shape}
    names = ["n0"]
    for i in range(1, draw(st.integers(2, 9))):
        name = f"n{i}"
        if len(names) >= 2 and draw(st.integers(0, 3)) == 0:
            node = dataclasses.replace(merge(draw, shapes, names), name=name)
        else:
            node = dataclasses.replace(unary(draw, shapes[names[-1]]), name=name, inputs=(names[-1],))
        try:
            shape = compile(Net("probe", input=x, layers=[*layers, node])).output_shape
        except CnnCostError:
            continue
        if len(shape) == 0 or _numel(shape) > MAX_ELEMENTS:
            continue
        layers.append(node)
        shapes[name] = shape
        names.append(name)
    return Net("random-tensor-ops", input=x, layers=layers)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=nets(), dtype=st.sampled_from(["fp32", "bf16"]))
def test_engine_and_torch_agree_on_random_tensor_ops(net: Net, dtype: str) -> None:
    result = check(net, batch=2, device="cpu", dtype=dtype)
    text = "\n".join(repr(layer) for layer in net.layers)
    assert_agrees(result, text)
    # the graph's elements allocated agree with the memory model: a view that copies is a new tensor
    # (the graph does not follow channels-last layouts, which only the memory model knows: LayerNorm2d's)
    if any(isinstance(layer, LayerNorm) for layer in net.layers):
        return
    graph = compile(net)
    steps = trace(graph, precision=Precision(dtype, "cpu")).steps
    for node, step in zip(graph.nodes[1:], steps):
        if not node.layer.creates_tensor():
            copied = all(step.output.id != r.id for r in step.reads)
            assert (node.activations > 0) == copied, text + f"\n{node.path}: graph {node.activations}, copied {copied}"
