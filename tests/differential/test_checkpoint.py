"""Differential test for activation checkpointing: random chains of blocks (each a named sequential
starting with a conv, then random map layers: residuals, concats, gates, SE, side heads, dropout,
pools, norms, in-place activations...), some of them checkpointed (a random subset, or a policy:
all, every:K, sqrt; a third of them selectively, keeping the convs' outputs), built in PyTorch with the blocks under non-reentrant torch.utils.checkpoint
(cnncost.torch_backend.checkpointing) and measured on CPU (torch 2.13): saved bytes, the bytes held
after the forward pass and the most each recompute holds, all exact (`agreement`).

CNNCOST_CHECKPOINT_EXAMPLES sets the number of examples (default 6; CNNCOST_LONG=1: 2,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every spec in PyTorch")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.graph import compile  # noqa: E402
from cnncost.layers import ConvTranspose, Sequential  # noqa: E402
from cnncost.shapes import spatial  # noqa: E402
from cnncost.memory.checkpoint_policy import resolve  # noqa: E402
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend.checkpointing import agreement  # noqa: E402
from random_nets import conv, describe, map_layer  # noqa: E402  (tests/support)

LONG = os.environ.get("CNNCOST_LONG") == "1"
EXAMPLES = int(os.environ.get("CNNCOST_CHECKPOINT_EXAMPLES", "2000" if LONG else "6"))


@st.composite
def chains(draw):
    """(a net of 2-5 blocks, the --checkpoint specs)."""
    x = (draw(st.integers(1, 6)), draw(st.integers(6, 14)), draw(st.integers(6, 14)))
    start, blocks = x, []
    for i in range(draw(st.integers(2, 5))):
        layers = [conv(draw, x[0])]
        for _ in range(draw(st.integers(0, 4))):
            layers.append(map_layer(draw, x))
            try:
                compile(Net("probe", input=start, layers=(*blocks, Sequential(name=f"b{i}", layers=tuple(layers)))))
            except CnnCostError:
                layers.pop()  # a layer that does not fit is skipped, not rejected
        block = Sequential(name=f"b{i}", layers=tuple(layers))
        try:
            x = compile(Net("probe", input=start, layers=(*blocks, block))).output_shape
        except CnnCostError:
            continue
        blocks.append(block)
        if len(x) != 3:
            break
    names = [b.name for b in blocks]
    assume(names)  # every block failed to compile: nothing to checkpoint
    policy = draw(st.sampled_from(("subset", "all", "every", "sqrt")))
    if policy == "subset":
        specs = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    elif policy == "every":
        specs = [f"every:{draw(st.integers(1, 3))}"]
    else:
        specs = [policy]
    return Net("checkpointed", input=start, layers=tuple(blocks)), specs


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=not LONG)
@given(chains(), st.sampled_from((1, 2, 3)), st.sampled_from(("fp32", "fp32", "fp32", "bf16")),
       st.sampled_from(((), (), ("conv",))))
def test_checkpointed_random_chains_agree_with_pytorch(case, batch, dtype, save):
    net, specs = case
    graph = compile(net)
    names = resolve(graph, specs)
    if not names:  # sqrt of one block: nothing to checkpoint
        return
    # a transposed conv of a 1x1 kernel: on CPU its output storage may be larger than its map, as
    # PyTorch's mkldnn path and thread count decide (docs/memory.md, "Not modelled"): not compared
    assume(not any(type(node.layer) is ConvTranspose and all(k == 1 for k in spatial(node.layer.kernel, 2))
                   for node in graph.nodes[1:]))
    try:
        result = agreement(graph, batch, names, dtype=dtype, save=save)
    except ValueError as error:  # PyTorch refuses a train-mode norm of one value per channel
        assume("Expected more than 1" not in str(error))
        raise
    except RuntimeError as error:  # and a kept output that an in-place op modifies (documented), and any
        # saved output an in-place op modifies (a sigmoid then an in-place ReLU: plain autograd refuses it too)
        assume("has been mutated" not in str(error) and "modified by an inplace operation" not in str(error))
        raise
    # bf16: `measure.saved_tensors` files the output of a bias-free conv whose input needs no gradient
    # (here the first one, on the image) as a weight cast (issue 19's fourth finding, fixed elsewhere)
    misfiled = dtype == "bf16" and not net.layers[0].layers[0].bias
    allowed = {"saved", "saved_change"} if misfiled else set()
    assert set(result.mismatches()) <= allowed, f"{specs} {result.mismatches()}\n{describe(net)}"
