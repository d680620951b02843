"""Backward and training FLOPs per node, analytically, in FlopCounterMode's unit (2 per MAC).

A training step runs the forward pass (2 x MACs of conv, transposed conv, linear, matmul and
attention; every node, auxiliary classifiers included: they run in training mode), then the
backward pass. For each conv, transposed conv and linear layer the backward computes, at 2 FLOPs
per multiply-accumulate:

- the input gradient (a transposed convolution of the output gradient with the weight; for a
  linear layer `grad_out @ W`): exactly the forward's MACs, and only if the layer's input needs a
  gradient, i.e. some layer before it has trainable parameters. The first layer's input (the
  image) needs none; neither does the input of a layer behind frozen layers only;
- the weight gradient (a convolution of the input with the output gradient; `x^T @ grad_out`):
  the forward's MACs again, if the layer's own parameters are trainable (not frozen).

Work done once per forward from parameters alone (a `computed` row's MLP making a position bias)
counts once whatever the batch, forward and backward (its gradients under `weight_grad`: they
exist for its parameters).

A matmul of two activations computes the gradient of each operand that needs one (its forward's
MACs each); attention, when q, k or v needs a gradient, twice its forward MACs (the weights' and
v's gradients, then q's and k's: the composite math path's bmm backward, as FlopCounterMode counts
it; exact when all or none of q, k, v need gradients). Under `convention="flopcounter"` an
attention on PyTorch's fused CPU kernel counts 0, forward and backward (no formula for it).

Bias gradients (a sum), norms, activations, pooling and merges cost 0 in this unit, as in the
forward pass. So an ungrouped layer in the middle of a trainable net costs 2 + 2 + 2 = 6 x its MACs
per step, the first layer 4 x, a frozen one 4 x (or 2 x before any trainable layer).

`convention="flopcounter"` gives what torch's FlopCounterMode reports instead (torch 2.13 and
2.14.1 share the formula): its `convolution_backward` formula computes the weight gradient as a
convolution over all C_in input channels at once, ignoring `groups`, so a grouped convolution's
weight gradient is counted `groups` times: 2 x MACs x groups. A depthwise 3x3 layer of C channels
thus shows (1 + C) x its forward FLOPs in backward instead of 2 x. Ungrouped layers and linear
layers agree with the analytic count.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence, cast

from ..layers.conv import maps

if TYPE_CHECKING:
    from ..graph import Graph, GraphNode
    from ..layers.attention import Attention
    from ..layers.conv import Conv, ConvTranspose
    from ..layers.norm import BatchNorm, InstanceNorm

CONVENTIONS = ("exact", "flopcounter")
TRAINING_CONVENTION = ("training_flops = forward + backward FLOPs of one step (2 per MAC of conv, transposed "
                       "conv, linear, matmul and attention; backward: input gradient unless nothing before the layer "
                       "is trainable, weight gradient unless frozen, a matmul's gradient per operand that needs one, "
                       "attention's 2 x its MACs; exact for grouped convs; auxiliary heads included)")


@dataclass(frozen=True)
class Training:
    """Per node (graph order) and in total, whole batch: forward, backward and their sum."""

    batch: int
    convention: str
    frozen: tuple[bool, ...]
    forward: tuple[int, ...]
    backward: tuple[int, ...]
    input_grad: tuple[int, ...]
    weight_grad: tuple[int, ...]

    @property
    def training(self) -> tuple[int, ...]:
        return tuple(f + b for f, b in zip(self.forward, self.backward))

    @property
    def total_forward(self) -> int:
        return sum(self.forward)

    @property
    def total_backward(self) -> int:
        return sum(self.backward)

    @property
    def total(self) -> int:
        return self.total_forward + self.total_backward


def frozen_nodes(graph: Graph, patterns: Iterable[str] = ()) -> tuple[bool, ...]:
    """True for nodes whose row path matches one of the fnmatch patterns (`--freeze 'layer1.*'`;
    a pattern without wildcards also freezes everything under that path)."""
    patterns = tuple(patterns)
    if not patterns:
        return (False,) * len(graph.nodes)
    out = []
    for node in graph.nodes:
        out.append(any(fnmatch.fnmatchcase(node.path, p) or fnmatch.fnmatchcase(node.path, p + ".*")
                       for p in patterns))
    return tuple(out)


def frozen_mask(graph: Graph, frozen: Iterable[str] | tuple[bool, ...]) -> tuple[bool, ...]:
    """A per-node frozen mask as given, or the nodes fnmatch patterns name (`frozen_nodes`)."""
    given = tuple(frozen)
    if given and isinstance(given[0], bool):
        return cast("tuple[bool, ...]", given)
    return frozen_nodes(graph, cast("tuple[str, ...]", given))


def check_patterns(graph: Graph, patterns: tuple[str, ...]) -> None:
    """Each --freeze pattern must match a layer: a typo would silently freeze nothing."""
    for pattern in patterns:
        if not any(frozen_nodes(graph, (pattern,))):
            import difflib
            from ..errors import CnnCostError
            close = difflib.get_close_matches(pattern, [n.path for n in graph.nodes[1:]], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; row paths look like '{graph.nodes[-1].path}'"
            raise CnnCostError(f"--freeze '{pattern}' matches no layer{hint}")


def param_split(graph: Graph, frozen: Iterable[str] | tuple[bool, ...] = ()) -> dict[str, int]:
    """Trainable and non-trainable parameters (as Keras and torchinfo print them) and buffers
    (batch norm's running mean and variance and its num_batches_tracked counter; instance norm's
    with track_running_stats), per model."""
    frozen = frozen_mask(graph, frozen)
    trainable = sum(node.params for node, f in zip(graph.nodes, frozen) if not f)
    total = sum(node.params for node in graph.nodes)
    buffers = 0
    for node in graph.nodes:
        layer = cast("BatchNorm | InstanceNorm", node.layer)
        if node.type in ("batchnorm", "instance_norm") and layer.track_running_stats:
            buffers += 2 * maps(layer, node.input_shape)[0] + 1  # a folded norm's channels, not its maps
    return {"params": total, "trainable_params": trainable, "non_trainable_params": total - trainable,
            "buffers": buffers}


def needs_grad(graph: Graph, frozen: tuple[bool, ...]) -> tuple[bool, ...]:
    """Whether each node's output requires a gradient: some input does, or the node has trainable
    parameters (autograd's rule). The input image does not."""
    out = [False] * len(graph.nodes)
    for i, node in enumerate(graph.nodes[1:], start=1):
        inputs = node.inputs
        out[i] = (out[inputs[0]] if len(inputs) == 1 else any(out[j] for j in inputs)) \
            or (node.params > 0 and not frozen[i])
    return tuple(out)


def gradients(graph: Graph, frozen: tuple[bool, ...]) -> tuple[tuple[int, bool], ...]:
    """The backward rule, per node: (computes an input gradient, computes a weight gradient), both
    False for ops that are not `matmul_like` (their backward costs 0 FLOPs in this unit)."""
    grad = needs_grad(graph, frozen)
    out: list[tuple[int, bool]] = []  # a matmul's or attention's first: its gradient count (_operand_grads)
    for i, node in enumerate(graph.nodes):
        if not node.layer or not node.layer.matmul_like:
            out.append((False, False))
        elif node.layer.arity is None:  # a product of activations: no weights
            out.append((_operand_grads(node, grad), False))
        else:
            out.append((any(grad[j] for j in node.inputs), not frozen[i] and node.layer.has_weight_gradient))
    return tuple(out)


def _operand_grads(node: GraphNode, grad: Sequence[bool]) -> int:
    """Gradients a matmul or attention computes, in units of its forward MACs: a matmul one per
    operand that needs one; attention two when any of q, k, v needs one (the weights' and v's
    gradients, then q's and k's: twice the forward products, as the composite math path's bmm's
    backward counts them in FlopCounterMode)."""
    if node.type == "attention":
        return 2 if any(grad[j] for j in node.inputs[:3]) else 0
    return sum(1 for j in node.inputs[:2] if grad[j])


def backward_per_mac(graph: Graph, frozen: tuple[bool, ...]) -> tuple[int, ...]:
    """Per node, the backward FLOPs of one MAC of its forward: 2 per gradient it computes."""
    return tuple(2 * (a + w) for a, w in gradients(graph, frozen))


def training(graph: Graph, batch: int = 1, frozen: Iterable[str] | tuple[bool, ...] = (),
             convention: str = "exact") -> Training:
    """Forward, input-gradient and weight-gradient FLOPs per node for one step at this batch."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention '{convention}'; allowed: {', '.join(CONVENTIONS)}")
    frozen = frozen_mask(graph, frozen)
    return _training(graph, batch, frozen, convention)


def sdpa_fused(node: GraphNode, fused_ranks: tuple[int, ...] = (2, 3), broadcast: bool = True) -> bool:
    """Whether PyTorch's CPU dispatch runs scaled_dot_product_attention's fused kernel in an
    eval forward, where FlopCounterMode has no formula (it counts the composite math path's bmm's,
    2 x MACs): q, k, v of per-sample rank 3 (torch 2.14.1 also 2) and one head size for all three
    (measured: torch 2.14.1 and 2.13 CPU, eval, no_grad); k and v broadcast over q's heads
    (multi-query) only where `broadcast` (torch 2.14; 2.13 runs the math path). A folded batch
    (`Attention.folded`) has no dim of its own: its per-sample rank is torch's."""
    q, k, v = node.input_shapes[:3]
    rank = len(q) - cast("Attention", node.layer).folded
    return rank in fused_ranks and q[-1] == v[-1] and (broadcast or tuple(k[:-2]) == tuple(q[:-2]))


def _training(graph: Graph, batch: int, frozen: tuple[bool, ...], convention: str) -> Training:
    n = len(graph.nodes)
    forward, input_grad, weight_grad = [0] * n, [0] * n, [0] * n
    grouped = convention == "flopcounter"
    for i, (node, (inputs, weights)) in enumerate(zip(graph.nodes, gradients(graph, frozen))):
        layer = node.layer
        if layer is None:  # the graph's input: no op
            continue
        once = layer.macs_per_forward()
        if once:  # made once per forward from parameters: its gradients all exist for them (weight_grad)
            forward[i] += 2 * once
            weight_grad[i] += layer.backward_per_forward(not frozen[i])
        if not node.macs or not layer.matmul_like or (grouped and node.type == "attention" and sdpa_fused(node)):
            continue
        flops = 2 * batch * node.macs
        forward[i] += flops
        if inputs:
            input_grad[i] = flops * inputs
        if weights:
            weight_grad[i] += flops * cast("Conv | ConvTranspose", layer).groups if grouped and node.type != "linear" else flops
    backward = tuple(a + b for a, b in zip(input_grad, weight_grad))
    return Training(batch, convention, frozen, tuple(forward), backward, tuple(input_grad), tuple(weight_grad))
