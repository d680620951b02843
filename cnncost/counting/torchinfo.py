"""torchinfo 1.8.0, `summary(model, input_size=(1, C, H, W), mode="eval")`.

"Total mult-adds" sums, over every call of a *leaf* module (no children) that owns parameters
named `weight` or `bias`, one multiply-add per parameter and output position:

| node, as implemented | count |
|---|---|
| a class whose name contains "Conv" (Conv2d, ConvTranspose2d) | (weight + bias elements) x batch x H_out x W_out: MACs + bias adds for a conv; for a transposed conv C_in x C_out/groups x kh x kw on the *output's* positions |
| any other leaf with weight/bias (Linear, BatchNorm2d, LayerNorm, LayerNorm2d, GroupNorm) | batch x (weight + bias elements): MACs + bias for a flat linear; 2C per sample for a norm; a linear on a channels-last map (ConvNeXt) counts its parameters once per sample, not once per position |
| modules with children (timm's BatchNormAct2d, nn.MultiheadAttention), parameters of a parent (ConvNeXt's layer scale), functions, operators, matmul and attention | 0 |

Its other figures (`sizes`): "Input size (MB)" is `sys.getsizeof(x.untyped_storage())`, the
input's bytes plus 64 bytes of Python object (CPython 3.11, torch 2.14); "Forward/backward pass
size (MB)" is 2 x the output bytes of every leaf-module call that owns parameters (x2 "for
gradients"; activations of parameter-free layers and of fused modules are left out); "Params size
(MB)" the bytes of the parameters of leaf modules that ran (a parent's own parameters and
auxiliary classifiers are left out); "Estimated Total Size (MB)" their sum. MB = 10^6 bytes.
"Total params" is every parameter of the model (the root module's leftover takes in whatever no
executed child holds), "Trainable params" those with requires_grad.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..shapes import numel
from ..layers.imported import Fixed
from ._util import n_out, on_inner
from .convention import Convention, CountRule
from .impl import DEFAULT
from ..layers.rnn import LSTM
from .rnn import torchinfo as lstm_torchinfo

if TYPE_CHECKING:
    from ..graph import Graph, GraphNode
    from .impl import Impl

INPUT_OVERHEAD = 64  # sys.getsizeof(UntypedStorage) - nbytes, CPython 3.11 / torch 2.14


def weighted_leaf(node: GraphNode, impl: Impl | None) -> bool:
    """A leaf module owning weight/bias parameters (what mult-adds and the pass size count)."""
    return impl is not None and impl.owns_params and node.params > 0


def leaf_mult_adds(node: GraphNode, impl: Impl, batch: int) -> int:
    """One multiply-add per weight/bias parameter of the leaf module that runs the node."""
    if not weighted_leaf(node, impl) or impl.cls == "cnncost.LayerScale":  # its parameter is not named weight/bias
        return 0
    folded = getattr(node.layer, "folded", False)  # torch runs it on N*k maps: a batch of N*k
    calls = batch * node.input_shape[0] if folded else batch
    if "Conv" in impl.name:
        y = node.output_shape
        return node.params * calls * numel(y[2:] if folded else y[1:])
    return calls * node.params


def params(node: GraphNode, impl: Impl | None, visible: bool, trainable: bool) -> int:
    return node.params if trainable else 0


# torchinfo counts the module that runs a node (`impl`), not the layer type: every type that has an
# implementation (`impl.DEFAULT`) is counted by its module, and a module torchinfo has no formula for
# counts 0 (a module with children or without weight/bias parameters, a function, an operator).
RULES: dict[type, CountRule] = dict.fromkeys(DEFAULT, leaf_mult_adds)
RULES[Fixed] = on_inner(RULES)  # weights as buffers: no parameters, so no mult-adds
RULES[LSTM] = lstm_torchinfo  # nn.LSTM's own hook (counting/rnn.py)

TORCHINFO = Convention(
    "torchinfo", "torchinfo mult-adds (one per parameter per output position of a conv, per sample otherwise)",
    __doc__, RULES, f"{__name__}.RULES (from cnncost.counting.impl.DEFAULT)",
    measured="torchinfo 1.8.0 summary(model, input_size=(1,C,H,W), mode='eval', verbose=0).total_mult_adds",
    params=params)


def sizes(graph: Graph, impls: tuple[Impl | None, ...], visible: tuple[bool, ...], batch: int,
          bytes_per_element: int = 4) -> dict[str, Any]:
    """torchinfo's footer at this batch, in bytes (and MB = 10^6 bytes as it prints them)."""
    nodes = graph.nodes
    # every input tensor, each with its storage object's overhead (torchinfo sums sys.getsizeof per tensor)
    input_bytes = sum(batch * numel(nodes[i].output_shape) * bytes_per_element + INPUT_OVERHEAD for i in graph.inputs)
    pass_bytes = sum(2 * n_out(node, batch) * bytes_per_element for node, impl, seen in zip(nodes, impls, visible)
                     if seen and weighted_leaf(node, impl))
    param_bytes = sum(node.params * bytes_per_element for node, impl, seen in zip(nodes, impls, visible)
                      if seen and impl is not None and impl.owns_params)
    total = input_bytes + pass_bytes + param_bytes
    return {"input_bytes": input_bytes, "forward_backward_pass_bytes": pass_bytes, "params_bytes": param_bytes,
            "estimated_total_bytes": total,
            "printed": {"Input size (MB)": f"{input_bytes / 1e6:0.2f}",
                        "Forward/backward pass size (MB)": f"{pass_bytes / 1e6:0.2f}",
                        "Params size (MB)": f"{param_bytes / 1e6:0.2f}",
                        "Estimated Total Size (MB)": f"{total / 1e6:0.2f}"}}
