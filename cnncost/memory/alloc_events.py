"""The allocations of training steps in order, from the memory model's timeline (`step.py`): what
the CUDA caching allocator (`allocator.py`) is asked for and given back, moment by moment.

Each storage of the step model becomes one allocation, alive over the same moments as in
`step_memory` (forward after step k, backward at step k, the optimizer step):
- parameters, one allocation per layer (PyTorch: one per tensor, weight and bias), and the
  buffers (one per tensor: running mean, running variance, num_batches_tracked), made first
  and never freed; then the input batch, made once and kept for every step (as
  `benchmarks/gpu_memory.py` measures);
- forward: every new storage at the step that makes it, freed after its last reader unless
  saved for backward; autocast's weight copies (the saved ones held until their layer's
  backward, the cache-only ones until the end of the forward pass); the net's outputs held to
  the end of the step;
- backward, at step k: the gradients of step k's parameters (kept until the step ends:
  `zero_grad(set_to_none=True)`) and of its inputs; then the saved storages whose first saver is
  past and the activation gradients whose producer is past are freed; where step k's gradients
  settle with a cast or a copy (`grad_settling.py`), its node makes them as they arrive (low under
  autocast) and the moment after it the settled ones, with the cast or copy as one allocation
  freed at the next moment;
- the optimizer step: its state (with Adam's step counters on the CPU; PyTorch makes it lazily at the first step: allocated there in the
  first step, held after) and its temporaries (Adam on CUDA: a copy of the parameters), then the
  end of the step frees the temporaries, outputs and gradients.
Within a moment the new allocations come before the frees (an op's output is made while its
inputs are alive). So after the last event of every moment of the last step, the bytes asked for
equal the step model's moment (`AllocationSequence.moment_ends`), exactly, but for an input batch
that a layer saves itself (fp32): the step model counts it twice during backward, as input and as
saved, where it is one storage. The first step lacks the optimizer state until its optimizer step.

Approximated: the order of allocations within one layer's forward and backward (the model knows
what a layer makes, not in which order), temporaries inside an op (cuBLAS and cuDNN workspaces are
options, which `reserved.py` sets), one allocation per layer's parameters, gradient accumulation
buffers of a tensor read twice (one allocation per backward moment; a backward formula's temporaries,
LRN's three, one each), the loss and its scalar gradients (a few bytes).
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from .allocator import ALLOC, FREE
from .grad_moments import backward_extras, concat_views, formula_pieces, gradient_storages, gradient_sums
from .grad_settling import settling, training_axis
from .optimizer_step import optimizer_temporaries, parameter_tensors, step_counters
from .step import OPTIMIZER_STATE, OPTIMIZER_TEMPORARIES, StepMemory
from .tensors import ELEMENT_BYTES

# layer types whose forward and backward call cuBLAS (convolutions go to cuDNN)
BLAS_TYPES = frozenset({"linear", "matmul", "attention", "multihead_attention"})
CONV_TYPES = frozenset({"conv", "conv_transpose"})


@dataclass
class AllocationSequence:
    """Allocation events of `steps` training steps at one batch. `events`: ("alloc", key, bytes) and
    ("free", key) in order; `moment_ends[s][m]`: the index of the last event of moment m of step s,
    m as in `StepMemory.moments` (named by `step.moment(m).phase`); `marks`: (index of the last
    event, step S, moment m) of every stretch in order: S 0 "setup" (parameters, the input), "step
    S, PHASE" for m < len(moments), "step S, end" (the frees between steps) for m = len(moments);
    `where` names them (lazily: naming every moment costs more than the events).
    `workspaces`: bytes of the cuBLAS/cuBLASLt workspaces made (held to the end) plus one cuDNN
    workspace where there is one."""

    events: list[tuple]
    moment_ends: list[list[int]]
    step: StepMemory
    batch: int
    marks: list[tuple[int, int, int]]
    workspaces: int = 0

    def where(self, index: int) -> str:
        """The name of the stretch event `index` belongs to."""
        i = bisect_left([end for end, _, _ in self.marks], index)
        _, rep, moment = self.marks[min(i, len(self.marks) - 1)]
        if rep == 0:
            return "setup"
        return f"step {rep}, " + ("end" if moment == self.step.count else self.step.moment(moment).phase)


def allocation_events(step: StepMemory, batch: int, steps: int = 2, blas_workspace: int = 0,
                      conv_workspace: int = 0, blaslt_workspace: int = 0) -> AllocationSequence:
    """The allocate/free events of `steps` training steps of `step` (a `step_memory(trace, Setup(mode="train"))`)
    at `batch`. `blas_workspace` > 0: cuBLAS's workspace (and `blaslt_workspace`, cuBLASLt's),
    allocated at the first cuBLAS layer of the first forward pass and again at the first of the
    first backward pass (autograd runs backward on its own thread, which gets its own cuBLAS
    handle), never freed. `conv_workspace` > 0: a cuDNN workspace of that size in each
    convolution's forward and backward (allocated after its output, freed before the moment's
    frees)."""
    if step.mode != "train":
        raise ValueError("allocation_events models a training step; got mode " + repr(step.mode))
    if steps < 1:
        raise ValueError("steps must be at least 1")
    trace, optimizer = step.trace, step.optimizer
    s, n = trace.steps, len(trace.steps)
    at_node, after = settling(trace)
    dominating, sums = gradient_sums(trace, backward_extras(trace))
    axis = training_axis(n, after, sums)
    m = len(axis)
    moment_of = {what: i for i, what in enumerate(axis)}
    cast = ELEMENT_BYTES[trace.precision.dtype]
    param = ELEMENT_BYTES[trace.precision.param_dtype]
    savers, last_read = trace.first_savers(), trace.last_reads()
    output_ids = {t.id for t in trace.outputs}
    needing_grad = gradient_storages(trace)

    def bw(k: int) -> int:  # the moment of step k's backward (its node)
        return moment_of["backward", k]

    # (first moment, last moment, key, bytes) of every storage of one step; last = m: to the end
    items: list[tuple[int, int, tuple, int]] = []
    for i, st in enumerate(s):
        for t in st.created:
            size = t.nbytes_per_sample * batch + t.nbytes_fixed
            if t.id in output_ids:
                last = m
            elif t.id in savers:
                last = bw(savers[t.id][0])
            else:
                last = max(i, last_read.get(t.id, i))
            items.append((i, last, ("act", t.id), size))
            if t.id in needing_grad:
                end = min(last_read.get(t.id, i), n - 1)
                items.append((bw(end), bw(i), ("grad", t.id), size))
        if st.weight_casts:
            items.append((i, bw(i), ("wcast", i), st.weight_casts * cast))
        cached = st.new_casts - st.weight_casts  # in the cast cache only: freed when the forward ends
        if cached > 0:  # (a copy a later call saves counts there, approximately: made again at that call)
            items.append((i, n - 1, ("ccast", i), cached * cast))
        if st.trainable_params and i in after:  # made low (or to be copied), then settled (grad_settling.py)
            settled = moment_of["after", i]
            items.append((bw(i), moment_of["after", i] - 1, ("pnode", i), at_node[i]))
            items.append((settled, m, ("pgrad", i), st.trainable_params * param))
            items.append((settled, settled, ("psettle", i), after[i][0] - st.trainable_params * param))
        elif st.trainable_params:
            items.append((bw(i), m, ("pgrad", i), st.trainable_params * param))
    # an in-place op's second gradient, a partial gradient: alive at one backward moment (grad_moments.py);
    # a gradient sum after the node: at its own moment, or where it holds more at every batch, at the node's
    for k, (a, c) in enumerate(zip(*backward_extras(trace, formulas=False))):
        a, c = dominating.get(k, (a, c))
        if a * batch + c:
            items.append((bw(k), bw(k), ("gextra", k), a * batch + c))
    for k, pieces in formula_pieces(trace).items():  # a backward formula's temporaries, one by one
        for j, (a, c) in enumerate(pieces if k not in dominating else ()):
            items.append((bw(k), bw(k), ("formula", k, j), a * batch + c))
    for k, (a, c) in sums.items():
        items.append((moment_of["sum", k], moment_of["sum", k], ("gsum", k), a * batch + c))
    for j, (first, last, a, c) in enumerate(concat_views(trace)):  # a concat's gradient's shares, held longer
        items.append((bw(last), bw(first), ("gview", j), a * batch + c))
    temporaries = OPTIMIZER_TEMPORARIES[optimizer] if trace.precision.device == "cuda" else 0
    for i, st in enumerate(s):
        for j in range(temporaries if st.params else 0):
            items.append((m - 1, m - 1, ("tmp", i, j), st.params * param))
    if trace.precision.device == "cpu" and optimizer_temporaries(trace, optimizer, 0):  # the per-parameter loop's
        items.append((m - 1, m - 1, ("tmp",), optimizer_temporaries(trace, optimizer, 0)))
    starts: list[list[tuple]] = [[] for _ in range(m)]
    ends: list[list[tuple]] = [[] for _ in range(m + 1)]
    for first, last, key, size in items:
        starts[first].append((key, size))
        ends[last].append(key)  # freed after moment `last` (m: at the end of the step)
    blas_fw = next((i for i, st in enumerate(s) if st.type in BLAS_TYPES), None) if blas_workspace else None
    blas_bw = next((i for i in reversed(range(n)) if s[i].type in BLAS_TYPES), None) if blas_workspace else None
    convs = {i for i, st in enumerate(s) if st.type in CONV_TYPES} if conv_workspace else set()
    workspaces = 2 * (blas_workspace + blaslt_workspace) if blas_fw is not None else 0
    workspaces += conv_workspace if convs else 0

    events: list[tuple] = []
    for i, st in enumerate(s):
        if st.params:
            events.append((ALLOC, ("param", i), st.params * param))
    for k, size in enumerate(trace.buffer_sizes()):
        events.append((ALLOC, ("buffer", k), size))
    counters = len(parameter_tensors(trace)) if step_counters(trace, optimizer) else 0
    for k, t in enumerate(trace.inputs):
        events.append((ALLOC, ("input", k), t.nbytes_per_sample * batch + t.nbytes_fixed))
    marks = [(len(events) - 1, 0, 0)]
    state_slots = OPTIMIZER_STATE[optimizer]
    moment_ends: list[list[int]] = []
    for rep in range(steps):
        here: list[int] = []
        for moment in range(m):
            for key, size in starts[moment]:
                events.append((ALLOC, (rep, key), size))
            kind, k = axis[moment]
            layer = k if kind in ("forward", "backward") else None
            if rep == 0 and layer is not None and layer == (blas_fw if moment < n else blas_bw):
                events.append((ALLOC, ("blas", moment < n), blas_workspace))
                if blaslt_workspace:
                    events.append((ALLOC, ("blaslt", moment < n), blaslt_workspace))
            if layer in convs:
                events.append((ALLOC, (rep, "cudnn", moment), conv_workspace))
                events.append((FREE, (rep, "cudnn", moment)))
            if moment == m - 1 and rep == 0:  # the optimizer's state, made at its first step
                for i, st in enumerate(s):
                    for j in range(state_slots if st.params else 0):
                        events.append((ALLOC, ("state", i, j), st.params * param))
                for j in range(counters):
                    events.append((ALLOC, ("step count", j), ELEMENT_BYTES["fp32"]))
            if moment:
                for key in ends[moment - 1]:
                    events.append((FREE, (rep, key)))
            here.append(len(events) - 1)
            marks.append((len(events) - 1, rep + 1, moment))
        for key in ends[m - 1] + ends[m]:  # the step's end: temporaries, then outputs and gradients
            events.append((FREE, (rep, key)))
        marks.append((len(events) - 1, rep + 1, m))
        moment_ends.append(here)
    return AllocationSequence(events, moment_ends, step, batch, marks, workspaces)
