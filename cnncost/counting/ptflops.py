"""ptflops 0.7.5, `get_model_complexity_info(model, (C, H, W))` with its default `pytorch` backend.

Two mechanisms add up. (1) A forward hook on every module whose type is *exactly* one of its
mapped `torch.nn` classes (subclasses such as torchvision's LayerNorm2d or timm's BatchNormAct2d
get none). (2) While the model runs, `torch.nn.functional.relu/relu6/gelu/silu/elu/prelu`, the max,
average and adaptive pools, `softmax` and `interpolate` are replaced by counting wrappers, and so
are `torch.add/mul/matmul/mm/bmm/addmm` and their Tensor methods (not the `+`/`*` operators). A
module whose forward calls a patched function is therefore counted twice: `nn.ReLU` (hook + F.relu),
`nn.GELU`, every pooling module, `nn.Upsample`; `nn.ReLU6` (F.hardtanh is not patched) and
`nn.LeakyReLU` once; `nn.SiLU` (no hook) and `nn.Softmax` once, through the function. A model that
calls `F.relu` itself (torchvision's GoogLeNet and Inception-v3) is counted once there.

| node, as implemented | count (|x| input, |y| output elements, whole batch) |
|---|---|
| nn.Conv1d/2d/3d, nn.ConvTranspose1d/2d/3d | MACs + |y| if bias |
| nn.Linear (also on a channels-last map) | MACs + |y| if bias |
| nn.BatchNorm1d/2d/3d, nn.InstanceNorm1d/2d/3d, nn.GroupNorm | |x| x 2 if affine, else |x| |
| nn.LayerNorm | |x| (it looks for `affine`, which LayerNorm does not have) |
| nn.ReLU, nn.GELU | 2 |y| (hook + patched function) |
| nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.PReLU | |y| |
| nn.SiLU, nn.Softmax | |x| (the patched function only) |
| nn.MaxPool1d/2d/3d, nn.AvgPool1d/2d/3d, nn.Adaptive{Avg,Max}Pool1d/2d/3d | 2 |x| |
| F.relu, F.relu6, F.gelu, F.silu, F.softmax, F.*pool* | |x| |
| nn.Upsample | |y| + the F.interpolate wrapper (|y| for a size, |x| x scale^rank for a factor) |
| F.interpolate | as the wrapper above |
| nn.LocalResponseNorm | 3 |x| + the channel-padded square (Tensor.mul x2, Tensor.add and F.avg_pool3d inside F.local_response_norm are patched) |
| cnncost's matmul (torch.matmul inside) | prod(a's shape) x b's last dim (the wrapper's formula) |
| nn.PReLU, nn.ELU | 2 |y| (hook + patched F.prelu / F.elu) |
| F.scaled_dot_product_attention, nn.SELU, CELU, GLU, Softplus, Softsign, Softshrink, Hardshrink, Tanhshrink, Threshold, LogSigmoid, RReLU, Softmin, LogSoftmax | 0 (no hook, no wrapper) |
| nn.MultiheadAttention (not a node: cnncost lowers it) | its own hook: projections + q scaling + per head L S (E_h + 1 + E_h) + out projection; not reproduced |
| anything else (Hardswish, Hardsigmoid, Sigmoid, Tanh, Mish, Dropout, timm's BatchNormAct2d, LayerNorm2d, `+`, `*`, `cat`, `x.mean()`) | 0 |

ptflops reports per image: it divides the hooks' sum by the batch (never the patched functions'
sum); with its own batch-1 input both are per image. At batch B we give B x that figure, the
whole batch's work. Parameters: `sum(p.numel() for p in model.parameters() if p.requires_grad)`,
so every parameter, auxiliary heads included, frozen ones excluded.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

from math import prod

from ..layers.imported import Fixed
from ._util import affine, family, has_bias, macs, n_in, n_out, on_inner, x_of
from .convention import Convention, CountRule
from .fvcore import a_rows_times_n
from .impl import DEFAULT
from ..layers.rnn import LSTM
from .rnn import ptflops as lstm_ptflops

if TYPE_CHECKING:
    from ..graph import GraphNode
    from ..layers.norm import LRN
    from ..layers.reshape import Upsample
    from .impl import Impl

PATCHED = {"relu", "prelu", "elu", "relu6", "gelu", "silu", "avg_pool2d", "max_pool2d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "softmax", "interpolate", "upsample", "avg_pool1d", "avg_pool3d", "max_pool1d",
           "max_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool3d"}
POOLS = ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool")  # 1d, 2d and 3d: one hook each
POOL_CALLS = {"MaxPool": "max_pool", "AvgPool": "avg_pool", "AdaptiveAvgPool": "adaptive_avg_pool",
              "AdaptiveMaxPool": "adaptive_max_pool"}
# module -> the patched function its forward calls (counted on top of the module's own hook)
CALLS = {"ReLU": "relu", "GELU": "gelu", "SiLU": "silu", "ELU": "elu", "PReLU": "prelu", "Softmax": "softmax",
         **{f"{pool}{rank}d": f"{call}{rank}d" for pool, call in POOL_CALLS.items() for rank in (1, 2, 3)},
         "Upsample": "interpolate"}


def hooked(node: GraphNode, impl: Impl, batch: int) -> int:
    """ptflops' module hook and patched functions for what runs the node; 0 for the rest."""
    if impl.cls == "cnncost.Matmul":  # no hook; the torch.matmul wrapper inside
        return a_rows_times_n(node, impl, batch)
    if impl.kind == "module":
        hook = _hook(node, impl, batch) if impl.cls.startswith("nn.") else 0
        function = CALLS.get(impl.name) if impl.cls.startswith("nn.") else None
        extra = _function(node, function, batch) if function else 0
        if impl.is_nn("LocalResponseNorm"):
            extra = _lrn(node, batch)
        return hook + extra
    if impl.kind == "F" and impl.name in PATCHED:
        return _function(node, impl.name, batch)
    return 0


def _hook(node: GraphNode, impl: Impl, batch: int) -> int:
    name = impl.name
    stem, rank = family(name)
    if stem in ("Conv", "ConvTranspose") and rank or name == "Linear":
        return macs(node, batch) + (n_out(node, batch) if has_bias(node) else 0)
    if name in ("ReLU", "PReLU", "ELU", "LeakyReLU", "ReLU6", "GELU"):
        return n_out(node, batch)
    if stem in POOLS and rank:
        return n_in(node, batch)
    if (stem in ("BatchNorm", "InstanceNorm") and rank) or name == "GroupNorm":
        return n_in(node, batch) * (2 if affine(node) else 1)
    if name == "LayerNorm":  # no `affine` attribute: counted once per element
        return n_in(node, batch)
    if name == "Upsample":
        return n_out(node, batch)
    return 0


def _function(node: GraphNode, name: str, batch: int) -> int:
    if name in ("interpolate", "upsample"):
        layer = cast("Upsample", node.layer)
        if getattr(layer, "size", None) is not None or getattr(layer, "scale_factor", None) is None:
            return n_out(node, batch)  # batch x C x prod(size)
        rank = len(x_of(node)) - 1
        scale = cast("float | tuple[float, ...]", layer.scale_factor)  # not None: returned above
        factors = scale if isinstance(scale, tuple) else (scale,) * rank  # `spatial`, of floats
        if len(set(factors)) == 1:  # nn.Upsample keeps one float: |x| x factor ** rank (ptflops int()s only its total)
            return int(n_in(node, batch) * float(factors[0]) ** rank)
        # a tuple: np.prod(tuple, dtype=np.int64) truncates each factor first ((1.5, 2) gives 2)
        return n_in(node, batch) * prod(int(float(f)) for f in factors)
    return n_in(node, batch)


def _lrn(node: GraphNode, batch: int) -> int:
    """F.local_response_norm: input.mul(input), avg_pool3d over the (C + size - 1)-channel padded
    square, div.mul(alpha), .add(k): the Tensor methods and F.avg_pool3d are patched."""
    x = x_of(node)
    padded = batch * (x[0] + cast("LRN", node.layer).size - 1) * prod(x[1:])
    return 3 * n_in(node, batch) + padded


def params(node: GraphNode, impl: Impl | None, visible: bool, trainable: bool) -> int:
    return node.params if trainable else 0

# ptflops counts the module that runs a node (`impl`), not the layer type: every type that has an
# implementation (`impl.DEFAULT`) is counted by its module, and a module ptflops has no formula for
# counts 0 (no hook, no patched function).
RULES: dict[type, CountRule] = dict.fromkeys(DEFAULT, hooked)
RULES[Fixed] = on_inner(RULES)  # its layer's module, weights as buffers: hooked by its class all the same
RULES[LSTM] = lstm_ptflops  # nn.LSTM's own hook (counting/rnn.py)

PTFLOPS = Convention(
    "ptflops", "ptflops MACs (its own mix: MACs + bias adds + one per element of norms, activations, pools)",
    __doc__, RULES, f"{__name__}.RULES (from cnncost.counting.impl.DEFAULT)",
    measured="ptflops 0.7.5 get_model_complexity_info(model, (C,H,W), as_strings=False, backend='pytorch')",
    params=params)
