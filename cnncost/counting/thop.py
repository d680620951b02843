"""thop 0.1.1 (`thop.profile(model, inputs=(x,))`, release 0.1.1.post2209072238), eval mode.

A forward hook on every module whose type is *exactly* one of its registered `torch.nn` classes;
functional calls, operators and unregistered modules (subclasses included) count 0. Each hook adds
to a float64 total (exact for these sizes). Per node (|x| input, |y| output elements, whole batch):

| node, as implemented | thop's rule | count |
|---|---|---|
| nn.Conv1d/2d/3d | count_convNd | |y| x C_in/groups x prod(kernel) = MACs, no bias |
| nn.ConvTranspose1d/2d/3d | count_convNd (the same formula) | |y| x C_in/groups x prod(kernel): on the *output's* positions, not the MACs |
| nn.Linear | count_linear | in_features x |y| = MACs, no bias |
| nn.BatchNorm1d/2d/3d, nn.InstanceNorm1d/2d/3d, nn.LayerNorm | count_normalization | 2 |x|, x 2 with affine (4 |x|) |
| nn.AvgPool1d/2d/3d | count_avgpool | |y| |
| nn.AdaptiveAvgPool1d/2d/3d | count_adap_avgpool | int((prod(in size / out size) + 1) x |y|), in float64 |
| nn.Softmax | count_softmax | positions x (3 x C - 1), C the size along its dim |
| nn.PReLU | count_prelu | |x| |
| nn.Upsample | count_upsample | |y| nearest, 5 |y| linear, 11 |y| bilinear, 0 trilinear (thop 0.1.1 warns "not implemented yet") |
| nn.ReLU, ReLU6, LeakyReLU, MaxPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d, Dropout, ZeroPad2d, PixelShuffle | zero_ops | 0 |
| anything else (GroupNorm, SiLU, GELU, Sigmoid, Hardswish, ELU and the other activations, matmul and attention modules, nn.MultiheadAttention, LayerNorm2d, BatchNormAct2d, ZeroPad1d/3d, the reflection and replication pads, F.*, +, cat) | none | 0 |

Parameters: thop sums `m.parameters()` only over registered modules that ran (a forward hook sets
them), so it leaves out the parameters of unregistered modules (GroupNorm, torchvision's
LayerNorm2d, timm's BatchNormAct2d), of a parent's own parameters (ConvNeXt's layer scale) and of
auxiliary classifiers that eval mode does not run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ..layers.imported import Fixed
from ._util import affine, family, kernel_area, n_in, n_out, on_inner, x_of
from ._util import channels
from .convention import Convention, CountRule
from .impl import DEFAULT
from ..layers.rnn import LSTM
from .rnn import thop as lstm_thop

if TYPE_CHECKING:
    from ..graph import GraphNode
    from ..layers.act import Softmax
    from ..layers.conv import Conv, ConvTranspose
    from ..layers.reshape import Upsample
    from .impl import Impl

REGISTERED = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "BatchNorm1d",
              "BatchNorm2d", "BatchNorm3d", "LayerNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "PReLU",
              "Softmax", "ReLU", "ReLU6", "LeakyReLU", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AdaptiveMaxPool1d",
              "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
              "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "Linear", "Dropout", "Upsample", "UpsamplingBilinear2d",
              "UpsamplingNearest2d", "ZeroPad2d", "PixelShuffle", "Sequential", "SyncBatchNorm", "RNN", "GRU", "LSTM",
              "RNNCell", "GRUCell", "LSTMCell"}
UPSAMPLE = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}


def registered(impl: Impl | None) -> bool:
    return impl is not None and impl.kind == "module" and impl.cls.startswith("nn.") and impl.name in REGISTERED


def in_features(node: GraphNode) -> int:
    """A linear layer's last dim; a channels-last linear standing for a 1x1 conv: the channels."""
    x = x_of(node)
    return x[-1] if node.type == "linear" else x[0]


def hooked(node: GraphNode, impl: Impl, batch: int) -> int:
    """thop's hook for the module that runs the node; 0 for a module it has no hook for."""
    if not registered(impl):
        return 0
    name = impl.name
    stem, rank = family(name)
    if stem in ("Conv", "ConvTranspose"):
        c_in = channels(node)
        return n_out(node, batch) * (c_in // cast("Conv | ConvTranspose", node.layer).groups) * kernel_area(node)
    if name == "Linear":
        return in_features(node) * n_out(node, batch)
    if stem in ("BatchNorm", "InstanceNorm") or name == "LayerNorm":
        return 2 * n_in(node, batch) * (2 if affine(node) else 1)
    if stem == "AvgPool":
        return n_out(node, batch)
    if stem == "AdaptiveAvgPool":
        x, y = x_of(node), node.output_shape
        kernel = 1.0
        for size_in, size_out in zip(x[1:], y[1:]):
            kernel *= float(size_in) / float(size_out)  # torch.prod of a float64 ratio tensor
        return int((kernel + 1) * n_out(node, batch))
    if name == "Softmax":
        c = x_of(node)[cast("Softmax", node.layer).dim]
        return (n_in(node, batch) // c) * (3 * c - 1)
    if name == "PReLU":
        return n_in(node, batch)
    if name == "Upsample":
        return n_out(node, batch) * UPSAMPLE.get(cast("Upsample", node.layer).mode, 0)
    return 0


def params(node: GraphNode, impl: Impl | None, visible: bool, trainable: bool) -> int:
    return node.params if visible and registered(impl) else 0

# thop counts the module that runs a node (`impl`), not the layer type: every type that has an
# implementation (`impl.DEFAULT`) is counted by its module, and a module thop has no formula for
# counts 0 (the table above: `zero_ops`, or no hook at all).
RULES: dict[type, CountRule] = dict.fromkeys(DEFAULT, hooked)
RULES[Fixed] = on_inner(RULES)  # its layer's module, weights as buffers: hooked by its class all the same
RULES[LSTM] = lstm_thop  # nn.LSTM's own hook (counting/rnn.py)

THOP = Convention("thop", "thop MACs (its own mix: conv/linear MACs + norms and average pools)", __doc__, RULES,
                  f"{__name__}.RULES (from cnncost.counting.impl.DEFAULT)",
                  measured="thop 0.1.1.post2209072238 thop.profile(model, inputs=(x,)) with x of batch 1",
                  params=params)
