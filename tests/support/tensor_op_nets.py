"""Small nets that use every tensor op of issue 18 (views that view and that copy, constants,
learnable parameters, reductions, tokens, element-wise merges with broadcasting, stack and concat
on any dim), on a 4x3x5 input: the memory test and the live peer-tool test run them."""
from __future__ import annotations

from cnncost import (GELU, Add, Affine, Arith, Chunk, Concat, Contiguous, Conv, Div, Expand, Flatten,
                     GlobalAvgPool, LayerNorm, Learnable, Linear, Maximum, Minimum, Mul, Net, Permute, Reduce, Reshape, Select,
                     Sigmoid, Slice, Split, Stack, Sub, Tokens, Transpose, Unflatten)

INPUT = (4, 3, 5)


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
                   Reduce(name="p3", op="norm", p=3.0, dims=(1, 2), keepdim=True, inputs=("c",)),
                   Reduce(name="mx", op="max", dims=(1,), inputs=("c",)),  # x.max(dim)[0]: saves int64 indices
                   Reduce(name="mk", op="max", dims=(-1,), keepdim=True, inputs=("c",))],
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
    # views of a channels-last map (ConvNeXt's LayerNorm2d output): permuted to H, W, C it is contiguous
    "channels last, permute, conv": [conv(out=6), LayerNorm(over="channels"), Permute(dims=(1, 2, 0)), conv(out=2),
                                     Sigmoid(), Flatten(), Linear(out=2)],
    "channels last, slice, contiguous": [conv(out=6), LayerNorm(over="channels"), Slice(dim=1, step=2), GELU(),
                                         Contiguous(), Flatten(start_dim=1), Sigmoid()],
    "channels last, transpose, reshape": [conv(out=6), LayerNorm(over="channels"), Transpose(dim0=0, dim1=2),
                                          GELU(), Reshape(shape=(-1,)), Linear(out=2)],
    # reductions, `contiguous` and the tokens' cat write NCHW even from a channels-last map
    "channels last, reduce, contiguous": [conv(out=6), LayerNorm(over="channels"),
                                          Reduce(op="sum", dims=(0,), keepdim=True), Contiguous(), Flatten(),
                                          Linear(out=2)],
    "channels last, contiguous, tokens": [conv(out=6), LayerNorm(over="channels"), Contiguous(), Tokens(),
                                          Contiguous(), Flatten(), Linear(out=2)],
    # found by the long differential run: a broadcasting add of a contiguous and a permuted tensor
    # writes in the permuted one's order (TensorIterator), so `contiguous` copies it; stack and cat
    # of permuted views write in the memory format their strides suggest (channels last here)
    "broadcast add, permuted": [conv(name="a", out=2), Reduce(name="r", op="sum", dims=(2,), keepdim=True),
                                Unflatten(name="u", dim=0, sizes=(1, 2)),
                                Add(name="s", inputs=("u", "u")), Permute(name="p", dims=(0, 3, 2, 1)),
                                Add(name="b", inputs=("u", "p")), Contiguous(name="c"), Mul(inputs=("b", "c"))],
    "stack and cat of permuted views": [conv(name="a", out=2), Reduce(name="r", op="sum", dims=(1, 2), keepdim=True),
                                        Permute(name="p", dims=(1, 0, 2)), Stack(name="st", inputs=("p", "p")),
                                        Add(name="s", inputs=("st", "st")), Concat(name="c", inputs=("s", "st")),
                                        Contiguous(name="k"), Mul(inputs=("c", "k"))],
    # a linear on a transposed token map whose base another layer saved: torch.matmul folds the
    # batch into the rows with reshape, which copies here, and saves the copy (found on timm's CaiT)
    "linear on a transpose": [conv(out=6), Sigmoid(name="s"), Flatten(start_dim=1), Transpose(dim0=0, dim1=1),
                              Linear(name="l", out=3)],
}


def nets() -> list[Net]:
    return [Net(name.replace(" ", "-").replace(",", ""), input=INPUT, layers=layers) for name, layers in NETS.items()]
