"""What autograd saves for the tensor ops of issue 18, against PyTorch 2.13 CPU (every storage
saved for backward, `cnncost.torch_backend.measure`), fp32 and bf16 autocast, batch 2; and the
rules in closed form (what each op saves, the copies a reshape or `contiguous` makes)."""
from __future__ import annotations

import pytest

from tensor_op_nets import NETS, conv, nets  # tests/support

from cnncost import Arith, Flatten, Learnable, Linear, Net, Permute, Reduce, Sigmoid, Slice
from cnncost.memory import Precision, trace
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("index", range(len(NETS)), ids=list(NETS))
def test_saved_bytes_match_pytorch(index: int, dtype: str) -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    result = check(nets()[index], batch=2, device="cpu", dtype=dtype)
    assert_agrees(result)


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
    # x.max(dim)[0] saves only its indices, int64 in fp32 and bf16 alike (torch 2.13 CPU: x.max(1) of
    # (2, 197, 384) saved one int64 (2, 384) tensor, 6144 bytes, under bf16 autocast too); amax x and the output
    for dtype in ("fp32", "bf16"):
        t = trace(Net("n", (4, 3, 5), [conv(name="c", out=4), Reduce(name="mx", op="max", dims=(1,)),
                                      Reduce(name="am", op="amax", dims=(1,), inputs=("c",))]),
                  precision=Precision(dtype, "cpu"))
        size = 4 if dtype == "fp32" else 2
        assert t.saved_by_path()["mx"].per_sample == 20 * 8 and t.saved_by_path()["am"].per_sample == (60 + 20) * size
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
