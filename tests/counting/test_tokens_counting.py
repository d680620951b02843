"""The default convention and every peer tool on token layouts, matmul and attention.

The figures below were measured by running each tool on cnncost's own torch build of these nets
(torch 2.14.1, fvcore 0.1.5.post20221221, ptflops 0.7.5, thop 0.1.1, torchinfo 1.8.0, torchscan
0.2.0 in the side venv; tests/support/tools_live.py, batch 1, eval mode; flopcounter-train:
FlopCounterMode around forward and backward at batch 2, train mode); the live test re-runs them
where the tools are installed."""
from __future__ import annotations

import pytest

import cnncost
from cnncost import Net
from cnncost.counting import ops

L = cnncost.Linear


def vit_like() -> Net:
    return Net("vit-like", input=(6, 16), layers=(
        L(out=16), cnncost.LayerNorm(over="last"), cnncost.MultiheadAttention(heads=4), cnncost.LayerNorm(over="last"),
        L(out=32), cnncost.GELU(), L(out=16), cnncost.LayerNorm(over="last", dims=2), L(out=10)))


def attention_net(v_width: int, rank: int = 2) -> Net:
    shape = (2,) * (rank - 2) + (5, 8)
    return Net(f"attention-{v_width}-{rank}", input=shape, layers=(
        L(name="q", out=8), L(name="k", out=8, inputs=("input",)), L(name="v", out=v_width, inputs=("input",)),
        cnncost.Attention(inputs=("q", "k", "v"))))


def matmul_net() -> Net:
    return Net("matmul", input=(2, 5, 8), layers=(
        cnncost.Flatten(name="f"), L(name="w", out=15), cnncost.Reshape(name="w2", shape=(1, 3, 5)),
        cnncost.Matmul(inputs=("w2", "input"))))


# measured as the module docstring says (batch 1)
VIT_LIKE = {"flopcounter": 29568, "fvcore": 16224, "ptflops": 16284, "ptflops-aten": 15612, "thop": 15936,
            "torchinfo": 2858, "torchscan": 31898, "torchscan-macs": 14784}


def test_the_default_convention_counts_matmul_and_attention() -> None:
    g = cnncost.compile(vit_like())
    macs = sum(n.macs for n in g.nodes)
    attention = 4 * 6 * 6 * (4 + 4)  # heads x L x S x (E + Ev) per head
    linears = sum(n.macs for n in g.nodes if n.type == "linear")
    assert macs == linears + attention == 15936
    report = cnncost.table(vit_like(), batch=1)
    assert report.totals.macs == macs and report.totals.flops == 2 * macs
    assert ops(g, "torchvision").total == macs  # vit_b_16's published GFLOPS include attention


@pytest.mark.parametrize("tool", sorted(VIT_LIKE))
def test_each_tool_on_a_vit_like_net(tool: str) -> None:
    g = cnncost.compile(vit_like())
    assert ops(g, tool, 1).total == VIT_LIKE[tool]


def test_what_each_tool_misses() -> None:
    g = cnncost.compile(vit_like())
    by_type = {}
    for tool in ("flopcounter", "fvcore", "ptflops", "ptflops-aten", "thop", "torchinfo", "torchscan-macs"):
        count = ops(g, tool, 1)
        by_type[tool] = sum(v for v, n in zip(count.per_node, g.nodes) if n.type == "attention")
    # fused CPU sdpa: no FlopCounterMode formula, no aten op ptflops sees; no module hook elsewhere
    assert by_type == dict.fromkeys(by_type, 0)
    # the math path (two head sizes): FlopCounterMode 2 x MACs, ptflops-aten MACs
    g = cnncost.compile(attention_net(6))
    node = g.nodes[-1]
    assert ops(g, "flopcounter", 1).per_node[-1] == 2 * node.macs == 2 * 5 * 5 * (8 + 6)
    assert ops(g, "ptflops-aten", 1).per_node[-1] == node.macs
    assert ops(g, "fvcore", 1).per_node[-1] == 0
    # matmul: fvcore's aten::matmul handle and ptflops' torch.matmul wrapper count prod(a) x n,
    # the broadcast operand once (here 3 x 5 x 8, not the 2 x 3 x 5 x 8 MACs)
    g = cnncost.compile(matmul_net())
    node = g.nodes[-1]
    assert node.macs == 2 * 3 * 5 * 8
    assert ops(g, "fvcore", 1).per_node[-1] == ops(g, "ptflops", 1).per_node[-1] == 3 * 5 * 8
    assert ops(g, "flopcounter", 1).per_node[-1] == 2 * node.macs


def test_training_flops_count_both_operand_gradients() -> None:
    # FlopCounterMode around a training step at batch 2 (torch 2.14.1; the fused attention: 0)
    measured = {"vit-like": 171264, "attention-6-2": 11240, "attention-8-4": 49920}
    for net in (vit_like(), attention_net(6), attention_net(8, 4)):
        assert ops(cnncost.compile(net), "flopcounter-train", 2).total == measured[net.name]


def test_tools_remeasured_on_token_nets_where_installed() -> None:
    import tools_live
    tools_live.require()
    for net in (vit_like(), attention_net(6), attention_net(8, 4), matmul_net()):
        tools_live.assert_tools_count_as_their_conventions(net, every_tool=True)
