"""What autograd saves for the tensor ops of issue 18, against PyTorch 2.13 CPU (every storage
saved for backward, `cnncost.torch_backend.measure`), fp32 and bf16 autocast, batch 2; and the
rules in closed form (what each op saves, the copies a reshape or `contiguous` makes)."""
from __future__ import annotations

import pytest

from cnncost import (GELU, Add, Affine, Arith, Chunk, Concat, Contiguous, Conv, Div, Expand, Flatten,
                     GlobalAvgPool, Learnable, Linear, Maximum, Minimum, Mul, Net, Permute, Reduce, Reshape, Select,
                     Sigmoid, Slice, Split, Stack, Sub, Tokens, Transpose, Unflatten)
from cnncost.memory import Precision, trace


def conv(**fields):
    return Conv(kernel=1, **fields)


NETS = {
    # views that flatten as views (H, W nest after the permute) and that copy
    "permute, flatten H W, linear": [conv(out=6), Permute(dims=(1, 2, 0)), Flatten(start_dim=0, end_dim=1),
                                     Flatten(), Linear(out=3)],
    # an element-wise op on a permuted view writes in the view's order: the reshape after it views
    "permute, gelu, reshape": [conv(out=6), Permute(dims=(1, 2, 0)), GELU(), Reshape(shape=(15, 6)), Flatten(),
                               Linear(out=3)],
    "permute, contiguous": [conv(out=6), Permute(dims=(2, 0, 1)), Contiguous(), Flatten(), Linear(out=3)],
    "transpose, sigmoid, contiguous": [conv(out=6), Transpose(dim0=0, dim1=2), Sigmoid(), Contiguous(), Flatten(),
                                       Linear(out=3)],
    "strided slices": [conv(out=6), Slice(dim=1, step=2), Slice(dim=2, step=2, start=1), Flatten(), Linear(out=3)],
    "select": [conv(out=6), Select(dim=1, index=-1), Flatten(), Linear(out=3)],
    "expand": [conv(out=6), GlobalAvgPool(), Expand(shape=(-1, 3, 5)), Sigmoid()],
    "unflatten": [conv(out=6), Unflatten(dim=0, sizes=(2, 3)), Sigmoid()],
    "split": [conv(out=6), Split(sizes=(1, 2), index=1, dim=1), Sigmoid(), Flatten(), Linear(out=2)],
    "chunk along W": [conv(out=6), Chunk(chunks=3, index=1, dim=2), Flatten(), Linear(out=2)],
    "constants": [conv(out=6), Arith(op="add", value=0), Arith(op="div", value=2), Arith(op="pow", value=2),
                  Arith(op="sub", value=1, reverse=True), Arith(op="div", value=1, reverse=True),
                  Arith(op="pow", value=2, reverse=True), Arith(op="mul", value=3)],
    "learnable": [conv(out=6), Learnable(op="mul"), Sigmoid(), Learnable(op="add", shape=(6, 1, 1)),
                  Learnable(op="add", shape=(3, 5)), Learnable(op="mul", shape=(1,))],
    "affine": [conv(out=6), Affine(), Affine(dim=-1, bias=False)],
    "reductions": [conv(name="c", out=6), Reduce(op="sum", dims=(1, 2)),
                   Reduce(name="m", op="mean", dims=(0,), keepdim=True, inputs=("c",)),
                   Reduce(name="x", op="amax", dims=(-1,), inputs=("c",)),
                   Reduce(name="n", op="amin", dims=(1,), inputs=("c",)),
                   Reduce(name="no", op="norm", dims=(0,), inputs=("c",)),
                   Reduce(name="p3", op="norm", p=3.0, dims=(1, 2), keepdim=True, inputs=("c",))],
    "tokens": [conv(out=6), Flatten(start_dim=1), Transpose(dim0=0, dim1=1), Tokens(count=2),
               Learnable(op="add", shape=(17, 6))],
    "binary": [conv(name="a", out=6), conv(name="b", out=6, inputs=("input",)), Sub(name="s", inputs=("a", "b")),
               Div(name="d", inputs=("a", "b")), Maximum(name="mx", inputs=("a", "b")),
               Minimum(name="mn", inputs=("a", "b")), Add(name="e", inputs=("mx", "mn")),
               Stack(name="st", inputs=("s", "d", "e"), dim=1)],
    "broadcasting": [conv(name="a", out=6), GlobalAvgPool(name="g"), Add(name="s", inputs=("a", "g")),
                     Mul(name="m", inputs=("g", "s")), Div(name="d", inputs=("m", "g"))],
    "on the input batch": [Div(name="d", inputs=("input", "input")), Permute(dims=(2, 1, 0)), Contiguous(),
                           conv(out=2)],
    "concat along H": [conv(name="a", out=6), conv(name="b", out=6, inputs=("input",)),
                       Concat(name="c", inputs=("a", "b"), dim=1), Slice(dim=1, step=3), Flatten(), Linear(out=2)],
}


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("name", list(NETS))
def test_saved_bytes_match_pytorch(name: str, dtype: str) -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    result = check(Net(name.replace(" ", "-").replace(",", ""), input=(4, 3, 5), layers=NETS[name]), batch=2,
                   device="cpu", dtype=dtype)
    assert result.ok, result.mismatches
    wrong = [(r.path, r.ours, r.torch) for r in result.rows if r.quantity == "saved_bytes" and r.ours != r.torch]
    assert wrong == []


def saved(layers, input=(4, 3, 5), dtype="fp32") -> dict[str, int]:
    """Elements each step saves first, per sample."""
    t = trace(Net("n", input=input, layers=layers), precision=Precision(dtype, "cpu"))
    return {p: b.per_sample // (4 if dtype == "fp32" else 2) for p, b in t.saved_by_path().items()}


def test_rules_in_closed_form() -> None:
    # x ** 2 saves x (60 elements); 1 / x its reciprocal; 2 ** x x and its output; + - * / a constant nothing
    got = saved([conv(name="c", out=4), Arith(name="p", op="pow", value=2), Arith(name="r", op="div", value=1,
                 reverse=True), Arith(name="e", op="pow", value=2, reverse=True), Arith(name="a", op="add", value=1)])
    assert (got["p"], got["r"], got["e"], got["a"]) == (60, 60, 60 + 60, 0)
    # the norm over C saves x and the 15 norms; a mean nothing
    got = saved([conv(name="c", out=4), Reduce(name="n", op="norm", dims=(0,)),
                 Reduce(name="m", op="mean", inputs=("c",), dims=(1, 2))])
    assert (got["n"], got["m"]) == (60 + 15, 0)
    # a learnable product saves its input: under bf16 autocast the conv's bf16 output. With a parameter
    # of some dims the product is fp32 (type promotion); with a 0-dim one it stays bf16 (torch 2.13:
    # (bf16 x * fp32 scalar parameter).dtype is bfloat16), which the sigmoid's saved output shows
    for shape, size in (((), 2), ((4, 1, 1), 4)):
        t = trace(Net("n", (4, 3, 5), [conv(out=4), Learnable(name="s", op="mul", shape=shape), Sigmoid(name="sig")]),
                  precision=Precision("bf16", "cpu"))
        assert t.saved_by_path()["s"].per_sample == 60 * 2 and t.saved_by_path()["sig"].per_sample == 60 * size
    # a flatten of a permuted map copies: the linear saves the copy, 60 elements beside the conv's output
    got = saved([conv(name="c", out=4), Sigmoid(name="s"), Permute(dims=(1, 2, 0)), Flatten(), Linear(name="l", out=2)])
    assert got["l"] == 60
    got = saved([conv(name="c", out=4), Sigmoid(name="s"), Slice(dim=0, stop=2), Flatten(), Linear(name="l", out=2)])
    assert got["l"] == 0  # a channel slice flattens as a view: the linear keeps the sigmoid's storage, saved already
