"""The assertions for the tests that compare the engine with PyTorch through
`cnncost.torch_backend`: `check`'s rows (every mismatching row, saved bytes included, named in the
failure) and a training step's FLOPs against FlopCounterMode's."""
from __future__ import annotations

from typing import Any


def disagreements(result: Any) -> list[str]:
    """The rows where cnncost and PyTorch differ: check's mismatches, and any saved-bytes row that
    differs (information only where check does not gate saved bytes)."""
    rows = list(result.mismatches)
    rows += [r for r in result.rows if r.quantity == "saved_bytes" and r.ours != r.torch and r not in rows]
    return [f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in rows]


def assert_agrees(result: Any, context: str = "") -> None:
    """Fails naming every disagreeing row, after `context` (the spec that was checked)."""
    wrong = disagreements(result)
    assert result.ok and not wrong, context + "\n" + "\n".join(wrong)


def spelled(net: Any) -> str:
    """A failure's context: the net's input and layers."""
    return f"input {net.input}: " + ", ".join(repr(n) for n in net.layers) + "\n"


def assert_check_agrees(net: Any, dtype: str = "fp32", *, row_per_node: bool = False, **options: Any) -> Any:
    """`check` of `net` at batch 2 on CPU, in `dtype` (fp32, or bf16 autocast), agrees with PyTorch
    on every row: shape, params, MACs, FLOPs and saved bytes (`assert_agrees`); `row_per_node`: the
    rows are those of every node of the compiled net (and the totals), no other. `options` go to
    check (init=False: no weight initialisation). Returns check's result."""
    from cnncost.graph import compile
    from cnncost.torch_backend import check
    result = check(net, batch=2, device="cpu", dtype=dtype, **options)
    assert_agrees(result, spelled(net))
    if row_per_node:
        assert {r.path for r in result.rows} == {n.path for n in compile(net).nodes[1:]} | {"total"}, spelled(net)
    return result


def train_step_flops(net: Any) -> int:
    """FlopCounterMode's FLOPs of a training step (forward and backward) of cnncost's torch build of
    `net` at batch 2, CPU fp32 (in-place modules made out of place)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from cnncost.torch_backend import build
    model = build(net, init=False).train()
    for module in model.modules():  # in place after a layer that saves its output is an autograd error, not a count
        if getattr(module, "inplace", False):
            module.inplace = False
    counter = FlopCounterMode(display=False)
    with counter:
        outs = [o for o in model.forward_all(torch.randn(2, *net.input)) if o.requires_grad]
        if outs:  # a net without parameters has no backward
            sum(o.float().sum() for o in outs).backward()
    return counter.get_total_flops()


def assert_training_flops_equal_flopcountermode(net: Any) -> None:
    """The engine's training-step FLOPs at batch 2 (the flopcounter convention) equal FlopCounterMode's."""
    from cnncost.counting.training import training
    from cnncost.graph import compile
    assert training(compile(net), 2, [], convention="flopcounter").total == train_step_flops(net), spelled(net)
