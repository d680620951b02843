"""Gradients the step's per-storage model (one gradient per activation storage, from its last
reader back to its producer) misses in backward, measured with `torch_backend.live` (torch 2.13
CPU): at an in-place op's backward, the gradient of its output (the storage after the op) and the
new gradient of its input (the storage before) are two tensors of the storage's size, alive at
once (ReLU(inplace=True)'s threshold_backward writes a new tensor); and where a storage is read by
several steps, the partial gradients (`accumulations`) and, after the node, their sum
(`gradient_sums`); and the temporaries of a backward formula that makes several full-size
tensors at once (`formula_temporaries`: LRN's division, a broadcast mul's product). And what it counts twice: an add's inputs given its
output's gradient itself (`shared_add_gradients`).
"""
from __future__ import annotations

from typing import Any

from .tensors import ELEMENT_BYTES
from .trace import Trace


def in_place_gradients(trace: Trace) -> tuple[list[int], list[int]]:
    """Per step, the (per-sample, fixed) bytes of the second gradient alive at its backward: the
    output's where the step overwrote its input in place and autograd recorded a node for it
    (it saved something); zero elsewhere (an identity returns its input with no node)."""
    per_sample, fixed = [0] * len(trace.steps), [0] * len(trace.steps)
    for k, step in enumerate(trace.steps):
        out = step.output
        if out is not None and out.requires_grad and step.saved and any(out is r for r in step.reads):
            per_sample[k], fixed[k] = out.nbytes_per_sample, out.nbytes_fixed
    return per_sample, fixed


def formula_temporaries(trace: Trace, unpacked: frozenset[int] = frozenset()) -> tuple[list[int], list[int]]:
    """Per step, the (per-sample, fixed) bytes of the temporaries its backward formula holds at
    once (measured, torch 2.13 CPU):
    - LRN: PyTorch's composite `local_response_norm` ends with `x / power`, whose DivBackward
      computes the power's gradient as `-grad * ((x / power) / power)`: three temporaries of the
      output's size beside that gradient, before the input's gradient `grad / power` is made (the
      moment's one gradient per storage): 3 x the output (GoogLeNet's norm2 with every inception
      block checkpointed, where this moment is the step's peak);
    - a two-operand mul with a broadcast operand needing a gradient (SE's `x * gate`): that
      gradient is `(grad * x).sum_to_size(gate)`, a product of the output's size alive with the
      other gradient and the sum (EfficientNet-B0 at 224, batch 2: stage7.0.se.mul, the step's
      peak). `unpacked`: storage ids a checkpoint recompute made and only this mul saved; the
      unpacked copy is freed before the sum (EfficientNet-B0's stage3.0.se.mul under `sqrt`)."""
    per_sample, fixed = [0] * len(trace.steps), [0] * len(trace.steps)
    for k, pieces in formula_pieces(trace, unpacked).items():
        per_sample[k], fixed[k] = sum(a for a, _ in pieces), sum(c for _, c in pieces)
    return per_sample, fixed


def formula_pieces(trace: Trace, unpacked: frozenset[int] = frozenset()) -> dict[int, list[tuple[int, int]]]:
    """`formula_temporaries` tensor by tensor: step -> the (per-sample, fixed) bytes of each
    temporary (the allocator replay allocates them one by one)."""
    out: dict[int, list[tuple[int, int]]] = {}
    for k, step in enumerate(trace.steps):
        y = step.output
        if y is None or not y.requires_grad:
            continue
        if step.type == "lrn":
            out[k] = [(y.nbytes_per_sample, y.nbytes_fixed)] * 3
        elif step.type == "mul" and (product := _broadcast_product(step, unpacked)) != (0, 0):
            out[k] = [product]
    return out


def _broadcast_product(step: Any, unpacked: frozenset[int]) -> tuple[int, int]:
    """The product of a broadcast operand's gradient (`formula_temporaries`): the output's bytes;
    where the full-size operand is an unpacked recompute copy, freed before the sum, the larger
    of the product less the small gradient (before the sum) and less that copy (at the sum)."""
    operands = list({r.id: r for r in step.reads}.values())
    out = step.output
    if len(operands) != 2 or out.id in {r.id for r in operands}:
        return 0, 0
    full = (out.nbytes_per_sample, out.nbytes_fixed)
    for small, other in (operands, operands[::-1]):
        if small.requires_grad and (small.nbytes_per_sample, small.nbytes_fixed) < full:
            if other.id not in unpacked:
                return full
            dropped = min((small.nbytes_per_sample, small.nbytes_fixed), (other.nbytes_per_sample, other.nbytes_fixed))
            return full[0] - dropped[0], full[1] - dropped[1]  # by bytes per sample first: linear in the batch
    return 0, 0


def backward_extras(trace: Trace, unpacked: frozenset[int] = frozenset(), formulas: bool = True) -> tuple[list[int], list[int]]:
    """Per step, the (per-sample, fixed) gradient bytes its backward moment holds beyond one
    gradient per storage: in-place ops' second gradients, gradient sums and (`formulas`) formula
    temporaries (`unpacked`: as `formula_temporaries` takes it)."""
    n = len(trace.steps)
    temporaries = formula_temporaries(trace, unpacked) if formulas else ([0] * n, [0] * n)
    parts = in_place_gradients(trace), accumulations(trace), temporaries
    return [sum(v) for v in zip(*(a for a, _ in parts))], [sum(v) for v in zip(*(c for _, c in parts))]


# Readers whose backward hands on its output's gradient (or a view of it) as the input's partial:
# no new tensor, only the sum (add: AddBackward returns its grad; concat: narrow views of it).
ALIAS_READERS = ("add", "concat", "flatten", "reshape", "identity")


def accumulations(trace: Trace) -> tuple[list[int], list[int]]:
    """Per step, the (per-sample, fixed) bytes a gradient sum adds while its node runs: S for each
    storage it reads that a later step reads too (`summed_readers`): the new partial beside the
    gradient so far (for an aliasing reader, the sum itself, while the view keeps its output's
    gradient alive)."""
    n = len(trace.steps)
    per_sample, fixed = [0] * n, [0] * n
    for k, inputs in summed_readers(trace).items():
        for s_ps, s_fx, _ in inputs:
            per_sample[k] += s_ps
            fixed[k] += s_fx
    return per_sample, fixed


def summed_readers(trace: Trace) -> dict[int, list[tuple[int, int, bool]]]:
    """step -> (per-sample, fixed bytes, computes its partial) of each storage it reads whose
    gradient it sums into another's. A storage read by several steps gets one partial gradient
    from each, summed as they arrive (in reverse order): every reader but the last (in forward
    order) sums its partial into the gradient so far (`old + new`, out of place: measured, torch
    2.13 CPU). Readers are grouped by version (an in-place op reads the storage's old version;
    later readers the new one); a view of the storage is no reader (its readers read the
    storage). An aliasing reader (ALIAS_READERS) hands on a view of its output's gradient.
    Kept on the trace: `accumulations` and `gradient_sums` both ask for it every step model."""
    if trace._summed_readers is None:
        trace._summed_readers = _summed_readers(trace)
    return trace._summed_readers


def _summed_readers(trace: Trace) -> dict[int, list[tuple[int, int, bool]]]:
    version: dict[int, int] = {}
    readers: dict[tuple[int, int], list[int]] = {}
    sizes: dict[int, tuple[int, int]] = {}
    for k, step in enumerate(trace.steps):
        out = step.output
        in_place = out is not None and any(out is r for r in step.reads)
        for r in {r.id: r for r in step.reads}.values():
            if not r.requires_grad or (out is not None and out.id == r.id and not in_place):
                continue  # no gradient to pass, or a view: its readers count
            readers.setdefault((r.id, version.get(r.id, 0)), []).append(k)
            sizes.setdefault(r.id, (r.nbytes_per_sample, r.nbytes_fixed))
        if in_place:
            version[out.id] = version.get(out.id, 0) + 1  # type: ignore[union-attr]  # in place: out is set
    out_map: dict[int, list[tuple[int, int, bool]]] = {}
    for (tensor_id, _), ks in readers.items():
        for k in ks[:-1]:
            step = trace.steps[k]
            computes = step.type not in ALIAS_READERS and step.output is not None
            out_map.setdefault(k, []).append((*sizes[tensor_id], computes))
    return out_map


def gradient_sums(trace: Trace, node_extras: tuple[list[int], list[int]]) -> tuple[dict[int, tuple[int, int]],
                                                                                  dict[int, tuple[int, int]]]:
    """The sums a computing reader does after its node ran (its output's gradient, what it alone
    saved and autocast's weight copies it saved freed: resnet50 bf16's layer2.0.residual.conv1):
    the gradient so far, the new partial and their sum, with the other inputs' partials still
    waiting: Sum(S) + max(S) more than one gradient per storage. As (per-sample, fixed) bytes over
    the node's moment less its `node_extras`, split in two: steps where that sum holds at least as
    much as the node at every batch from 1 (its moment takes the sum's figure, these freed bytes taken
    off), and steps where the two cross above batch 1 (a moment of its own after the node, where the gradients
    held are one per storage plus Sum(S) + max(S): `grad_settling.training_axis`)."""
    saved_ps, saved_fx = trace._saved_columns()
    cast = ELEMENT_BYTES[trace.precision.dtype]
    dominating: dict[int, tuple[int, int]] = {}
    own: dict[int, tuple[int, int]] = {}
    for k, inputs in summed_readers(trace).items():
        computed = [(a, c) for a, c, computes in inputs if computes]
        if not computed:
            continue
        step, out = trace.steps[k], trace.steps[k].output
        assert out is not None  # a computing reader makes an output
        sv_ps, sv_fx = saved_ps[k], saved_fx[k]
        largest = max(computed)  # by bytes per sample first
        raw = (sum(a for a, _, _ in inputs) + largest[0], sum(c for _, c, _ in inputs) + largest[1])
        summed = (raw[0] - out.nbytes_per_sample - sv_ps,
                  raw[1] - out.nbytes_fixed - sv_fx - step.weight_casts * cast)
        node = (node_extras[0][k], node_extras[1][k])
        if summed[0] >= node[0] and sum(summed) >= sum(node):  # more at batch 1 and growing faster
            dominating[k] = summed
        elif summed[0] > node[0] or sum(summed) > sum(node):  # the lines cross above batch 1
            own[k] = raw
    return dominating, own


def gradient_storages(trace: Trace) -> set[int]:
    """Storage ids the per-storage model gives a gradient: each step's output that requires grad
    (in place: its input's storage), less the add inputs given their output's (`shared_add_gradients`)."""
    needing = {s.output.id for s in trace.steps if s.output is not None and s.output.requires_grad}
    return needing - shared_add_gradients(trace)


def shared_add_gradients(trace: Trace) -> set[int]:
    """Storage ids whose gradient the per-storage model would count twice: an unscaled add's
    backward hands its output's gradient itself to every input (AddBackward returns `grad`), so
    the inputs it is the last reader of, of the output's size and dtype, get one tensor, alive
    until the last of them is used (at the earliest-made input's producer). That input keeps
    its interval; the others' are the same storage (measured, torch 2.13 CPU: SE-ResNet-50's
    se.mul output beside the block input)."""
    last = trace.last_reads()
    producer: dict[int, int] = {}
    shared: set[int] = set()
    for k, step in enumerate(trace.steps):
        out = step.output
        if step.type == "add" and out is not None and out.requires_grad and getattr(step.layer, "scale", 1.0) == 1.0:
            inputs = [r for r in {r.id: r for r in step.reads}.values()
                      if r.requires_grad and last.get(r.id) == k and r.id != out.id and r.dtype == out.dtype
                      and (r.nbytes_per_sample, r.nbytes_fixed) == (out.nbytes_per_sample, out.nbytes_fixed)]
            inputs.sort(key=lambda r: producer.get(r.id, -1))
            shared.update(r.id for r in inputs[1:])
        for t in step.created:
            producer.setdefault(t.id, k)
    return shared


def concat_views(trace: Trace) -> list[tuple[int, int, int, int]]:
    """Gradient intervals (first step, last step, per-sample, fixed) the per-storage model misses
    at a concat: its backward hands each input a narrow view of its output's gradient, and that
    one storage lives until its last view is released (measured, torch 2.13 CPU: GoogLeNet's
    inception blocks, DenseNet's dense blocks). An input's view is released at the backward of its
    producer, or, for an input an earlier step reads too, at that reader's (where autograd sums it
    with that reader's partial into a new tensor). Each input's share of the storage is held from
    the earliest release up to its own, where the model does not hold its gradient already."""
    producer: dict[int, int] = {}
    readers: dict[int, list[int]] = {}
    extra = []
    for k, step in enumerate(trace.steps):
        for t in step.created:
            producer.setdefault(t.id, k)
        pieces = {r.id: r for r in step.reads if r.requires_grad and r.id in producer}
        if step.type == "concat" and step.output is not None and step.output.requires_grad and len(pieces) > 1:
            release = {i: max([producer[i], *readers.get(i, ())]) for i in pieces}
            first = min(release.values())
            for tensor_id, r in pieces.items():
                if release[tensor_id] > first:
                    extra.append((first, release[tensor_id] - 1, r.nbytes_per_sample, r.nbytes_fixed))
        for i in pieces:
            readers.setdefault(i, []).append(k)
    return extra
