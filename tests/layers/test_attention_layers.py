"""matmul, attention, multihead_attention, linear and layer_norm on tokens, softmax on any dim and
the rest of torch.nn's activations: shapes, params and MACs against PyTorch (torch.matmul,
F.scaled_dot_product_attention, nn.MultiheadAttention) and FlopCounterMode's formulas."""
from __future__ import annotations

import pytest

import cnncost
from cnncost import Net, compile
from cnncost.conventions import FLOP_CONVENTION
from cnncost.counting import training
from cnncost.errors import ShapeError, SpecError
from cnncost.layers import Attention, Linear, Matmul, MultiheadAttention

torch = pytest.importorskip("torch", reason="compared with PyTorch")
F = torch.nn.functional
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count  # noqa: E402


def merged(layer, *shapes):
    """(output shape, MACs) of a multi-input layer on these per-sample shapes."""
    return layer.merge_shape(shapes), layer.merge_macs(shapes, layer.merge_shape(shapes))


def flops(fn, *args) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops()


MATMULS = [((5, 8), (8, 3)), ((2, 5, 8), (2, 8, 3)), ((2, 1, 5, 8), (3, 8, 4)), ((8,), (2, 8, 3)), ((2, 5, 8), (8,)),
           ((4, 1, 5, 8), (1, 3, 8, 2)), ((7,), (7, 4))]


@pytest.mark.parametrize("a,b", MATMULS)
def test_matmul_matches_torch_matmul_and_flopcounter(a, b):
    y, macs = merged(Matmul(), a, b)
    ta, tb = torch.randn(*a), torch.randn(*b)
    out = torch.matmul(ta, tb)  # per sample: torch's own broadcasting on the sample's dims
    assert y == tuple(out.shape)
    # FlopCounterMode counts mv (a matrix times a vector) nothing; every other case 2 per MAC
    if len(a) > 1 and len(b) == 1:
        assert macs == out.numel() * a[-1]
    else:
        assert 2 * macs == flops(torch.matmul, ta, tb)


@pytest.mark.parametrize("q,k,v", [((5, 4), (7, 4), (7, 6)), ((3, 5, 4), (3, 7, 4), (3, 7, 4)),
                                   ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6))])
def test_attention_shape_and_flopcounter_formula(q, k, v):
    y, macs = merged(Attention(), q, k, v)
    tq, tk, tv = torch.randn(2, *q), torch.randn(2, *k), torch.randn(2, *v)
    out = F.scaled_dot_product_attention(tq, tk, tv)
    assert y == tuple(out.shape[1:])
    lead = 2 * (q[0] if len(q) == 3 else q[0] * q[1] if len(q) == 4 else 1)
    four = lambda s: (2, lead // 2, *s[-2:])  # noqa: E731  (the formula's (batch, heads, length, dim))
    assert 2 * 2 * macs == sdpa_flop_count(four(q), four(k), four(v))  # FLOPs / 2, whole batch of 2


def test_attention_gqa_mask_and_refusals():
    gqa = Attention(enable_gqa=True)
    y, macs = merged(gqa, (4, 5, 8), (2, 7, 8), (2, 7, 8))
    out = F.scaled_dot_product_attention(torch.randn(1, 4, 5, 8), torch.randn(1, 2, 7, 8), torch.randn(1, 2, 7, 8),
                                         enable_gqa=True)
    assert y == tuple(out.shape[1:]) and 2 * macs == sdpa_flop_count((1, 4, 5, 8), (1, 2, 7, 8), (1, 2, 7, 8))
    assert Attention().merge_shape(((3, 5, 4), (3, 7, 4), (3, 7, 4), (1, 5, 7))) == (3, 5, 4)
    with pytest.raises(ShapeError, match=r"the mask 5x6 does not broadcast to 3x5x7"):
        Attention(name="a").merge_shape(((3, 5, 4), (3, 7, 4), (3, 7, 4), (5, 6)))
    with pytest.raises(ShapeError, match=r"layer 'a' \(attention\): takes a mask or causal, not both"):
        Attention(name="a", causal=True).merge_shape(((5, 4), (7, 4), (7, 4), (5, 7)))
    with pytest.raises(ShapeError, match=r"q and k must have the same features"):
        Attention().merge_shape(((5, 4), (7, 3), (7, 4)))
    with pytest.raises(ShapeError, match=r"inner dims differ: 5x8 @ 7x3"):
        Matmul().merge_shape(((5, 8), (7, 3)))
    with pytest.raises(ShapeError, match=r"two vectors make a scalar per sample"):
        Matmul().merge_shape(((8,), (8,)))
    with pytest.raises(SpecError, match=r"dropout must be in \[0, 1\)"):
        Attention(dropout=1.0)


@pytest.mark.parametrize("heads,bias", [(4, True), (2, False), (1, True)])
def test_multihead_attention_params_and_macs_as_nn_multihead_attention(heads, bias):
    g = compile(Net("mha", input=(6, 16), layers=(MultiheadAttention(heads=heads, bias=bias),)))
    real = torch.nn.MultiheadAttention(16, heads, bias=bias, batch_first=True)
    assert sum(n.params for n in g.nodes) == sum(p.numel() for p in real.parameters())
    assert g.output_shape == (6, 16)
    x = torch.randn(2, 6, 16, requires_grad=True)
    real.train()  # the training path (no fast path): in-projection, sdpa, out-projection
    q = x.detach()
    counted = flops(lambda t: real(t, t, t, need_weights=False), q)
    # FlopCounterMode: the projections' mm/addmm (the sdpa runs its fused CPU kernel: 0); ours
    # adds the attention's L x S x (E + E) per head
    attention = 6 * 6 * (16 // heads) * 2 * heads
    assert 2 * 2 * (sum(n.macs for n in g.nodes) - attention) == counted


def test_multihead_attention_saved_bytes_as_nn_multihead_attention():
    """The lowered block saves what nn.MultiheadAttention saves (fused CPU kernel, torch 2.13)."""
    from cnncost.memory.tensors import Precision
    from cnncost.memory.trace import trace
    from cnncost.torch_backend.measure import saved_tensors
    net = Net("mha", input=(6, 16), layers=(Linear(name="fc", out=16), MultiheadAttention(name="mha", heads=4)))
    predicted = trace(net, precision=Precision("fp32", device="cpu")).saved_by_module(2)

    class Real(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.mha = torch.nn.Linear(16, 16), torch.nn.MultiheadAttention(16, 4, batch_first=True)

        def forward(self, x):
            x = self.fc(x)
            return self.mha(x, x, x, need_weights=False)[0]

    measured = saved_tensors(Real().train(), torch.randn(2, 6, 16)).total()
    assert sum(predicted.values()) == measured


def test_linear_and_layer_norm_on_tokens():
    g = compile(Net("t", input=(3, 5, 8), layers=(Linear(out=6), cnncost.LayerNorm(over="last"),
                                                   cnncost.LayerNorm(over="last", dims=2))))
    lin, ln1, ln2 = g.nodes[1:]
    assert (lin.output_shape, lin.params, lin.macs) == ((3, 5, 6), 8 * 6 + 6, 3 * 5 * 8 * 6)
    assert ln1.params == sum(p.numel() for p in torch.nn.LayerNorm(6).parameters())
    assert ln2.params == sum(p.numel() for p in torch.nn.LayerNorm([5, 6]).parameters())
    # a linear on a CxHxW map acts on W, as nn.Linear does
    assert compile(Net("m", input=(3, 4, 5), layers=(Linear(out=2),))).output_shape == (3, 4, 2)
    with pytest.raises(SpecError, match="dims applies to over: last only"):
        cnncost.LayerNorm(over="chw", dims=2)


ACTIVATIONS = [(cnncost.ELU(), torch.nn.ELU()), (cnncost.SELU(), torch.nn.SELU()), (cnncost.CELU(), torch.nn.CELU()),
               (cnncost.GLU(), torch.nn.GLU()), (cnncost.GLU(dim=0), torch.nn.GLU(1)),
               (cnncost.Softplus(), torch.nn.Softplus()), (cnncost.Softsign(), torch.nn.Softsign()),
               (cnncost.Softshrink(), torch.nn.Softshrink()), (cnncost.Hardshrink(), torch.nn.Hardshrink()),
               (cnncost.Tanhshrink(), torch.nn.Tanhshrink()), (cnncost.Threshold(threshold=0.1, value=0.0),
                                                              torch.nn.Threshold(0.1, 0.0)),
               (cnncost.LogSigmoid(), torch.nn.LogSigmoid()), (cnncost.PReLU(), torch.nn.PReLU()),
               (cnncost.PReLU(num_parameters=4), torch.nn.PReLU(4)), (cnncost.RReLU(), torch.nn.RReLU()),
               (cnncost.Softmin(dim=-1), torch.nn.Softmin(-1)), (cnncost.LogSoftmax(dim=1), torch.nn.LogSoftmax(2)),
               (cnncost.Softmax(dim=-2), torch.nn.Softmax(-2))]


@pytest.mark.parametrize("ours,theirs", ACTIVATIONS, ids=[a.type_name for a, _ in ACTIVATIONS])
def test_every_torch_nn_activation(ours, theirs):
    g = compile(Net("a", input=(4, 6, 8), layers=(ours,)))
    out = theirs(torch.randn(2, 4, 6, 8))
    assert g.output_shape == tuple(out.shape[1:])
    assert g.nodes[1].params == sum(p.numel() for p in theirs.parameters())
    assert g.nodes[1].macs == 0


def test_glu_and_prelu_refusals():
    with pytest.raises(ShapeError, match=r"dim -1 has odd size 7: GLU halves it"):
        compile(Net("a", input=(4, 7), layers=(cnncost.GLU(),)))
    with pytest.raises(ShapeError, match=r"num_parameters 3 must be 1 or the channels \(4\)"):
        compile(Net("a", input=(4, 7), layers=(cnncost.PReLU(num_parameters=3),)))


def test_backward_flops_as_flopcounter_counts_the_math_path():
    """Matmul: a gradient per operand that needs one; attention (composite math path, E != Ev):
    twice the forward products. FlopCounterMode around forward + backward, torch 2.13 CPU."""
    net = Net("m", input=(5, 8), layers=(Linear(name="a", out=6), Linear(name="b", out=3, inputs=("input",)),
                                         Linear(name="v", out=3, inputs=("input",)),
                                         Attention(name="att", inputs=("a", "a", "v")),
                                         cnncost.Reshape(name="bt", shape=(3, 5), inputs=("b",)),
                                         Matmul(name="mm", inputs=("att", "bt"))))
    g = compile(net)
    step = training(g, batch=2)
    model = cnncost.torch_backend.build(net)
    x = torch.randn(2, 5, 8)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    assert step.total == counter.get_total_flops()


def test_the_conventions_line_names_matmul_and_attention():
    assert "linear, matmul and attention" in FLOP_CONVENTION
    assert "FlopCounterMode's sdpa formula" in FLOP_CONVENTION
