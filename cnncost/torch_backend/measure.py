"""Measurements on a real forward pass (and, on CUDA, a real training step).

Every function takes a built module and an input batch and returns plain dicts keyed by module
path (the engine's layer path for leaves). Shapes are per sample; MACs, FLOPs and bytes are for
the whole batch.

- `probe`: output shape of every module (forward hooks), parameters of every leaf, and the MACs of
  every conv, transposed conv and linear computed from the tensors it really produced: |output| x
  (weight elements per output channel), for a transposed conv |input| x (weight elements per input
  channel); no formula from the engine is reused. The same pass runs
  `torch.utils.flop_counter.FlopCounterMode`, per module and by aten op.
- `saved_tensors`: every tensor autograd saves for backward, through
  `torch.autograd.graph.saved_tensors_hooks`, attributed to the innermost module whose forward
  saved it; each storage is counted once, at its first save.
- `train_step_peak`: CUDA only, `torch.cuda.max_memory_allocated` over one full training step.
"""
from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

SAVED_KINDS = ("activation", "input", "parameter", "parameter-cast", "buffer")


@contextlib.contextmanager
def _hooks(model: nn.Module, pre=None, post=None) -> Iterator[dict[nn.Module, str]]:
    """Forward (pre-)hooks on every module, removed on exit; yields module -> path."""
    paths = {module: path for path, module in model.named_modules()}
    handles = []
    for module in paths:
        if pre is not None:
            handles.append(module.register_forward_pre_hook(pre))
        if post is not None:
            handles.append(module.register_forward_hook(post))
    try:
        yield paths
    finally:
        for handle in handles:
            handle.remove()


def autocast(device: str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision for fp16/bf16 runs; a no-op otherwise."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def _conv_linear_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """MACs of the whole batch from the real tensors and weight."""
    # every input element meets the whole (out/groups) x prod(kernel) kernel (1, 2 or 3 spatial dims)
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return inputs[0].numel() * module.weight[0].numel()
    if isinstance(module, nn.modules.conv._ConvNd):
        return output.numel() * module.weight[0].numel()  # (in/groups) * prod(kernel) per output element
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    tensor_macs = getattr(module, "tensor_macs", None)  # cnncost's matmul and attention modules
    return tensor_macs(inputs, output) if tensor_macs is not None else 0


def is_leaf(module: nn.Module) -> bool:
    return next(iter(module.children()), None) is None


@dataclass
class FlopCounts:
    """FlopCounterMode's figures for the whole batch: inclusive per module path, and by op."""

    by_path: dict[str, int]
    by_op: dict[str, int]
    total: int


@dataclass
class Probe:
    """Per-sample output shapes of every module; params and whole-batch MACs of every leaf;
    FlopCounterMode's counts of the same pass."""

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)
    macs: dict[str, int] = field(default_factory=dict)
    flops: FlopCounts = field(default_factory=lambda: FlopCounts({}, {}, 0))


def inputs_of(x: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The network's inputs: one tensor, or a tuple of them (a net with several inputs)."""
    return x if isinstance(x, tuple) else (x,)


def probe(model: nn.Module, x: torch.Tensor | tuple[torch.Tensor, ...], autocast_dtype: torch.dtype | None = None,
          train: bool = False) -> Probe:
    """One forward pass (eval mode unless `train`) under no_grad, with a hook on every module and FlopCounterMode on.

    FlopCounterMode counts 2 FLOPs per multiply-add of convolution and matrix products
    (mm, addmm, bmm, baddbmm, attention) and nothing else."""
    result = Probe()

    def record(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        path = paths[module]
        if isinstance(output, torch.Tensor):  # reference models may return tuples
            result.shapes[path] = tuple(output.shape[1:])
        if is_leaf(module) and isinstance(output, torch.Tensor):
            result.params[path] = sum(p.numel() for p in module.parameters())
            result.macs[path] = _conv_linear_macs(module, args, output)

    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.train(train)
    try:
        with _hooks(model, post=record) as paths, torch.no_grad(), counter, \
                autocast(inputs_of(x)[0].device.type, autocast_dtype):
            model(*inputs_of(x))
    finally:
        model.train(was_training)
    result.flops = _flops(counter, type(model).__name__)
    return result


def _flops(counter: FlopCounterMode, root: str) -> FlopCounts:
    """FlopCounterMode names modules '<RootClass>.<path>'; strip the root to get our paths."""
    counts = counter.get_flop_counts()
    by_path: dict[str, int] = {}
    for name, ops in counts.items():
        if name == root:
            by_path[""] = sum(ops.values())
        elif name.startswith(root + "."):
            by_path[name[len(root) + 1:]] = sum(ops.values())
    by_op = {str(op).split(".")[-1]: n for op, n in counts.get("Global", {}).items()}
    return FlopCounts(by_path, by_op, counter.get_total_flops())


@dataclass(frozen=True)
class SavedTensor:
    """One storage autograd keeps for backward; `path` is the module whose forward saved it first."""

    path: str
    kind: str  # one of SAVED_KINDS
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    saves: int  # how many times autograd saved a tensor on this storage


@dataclass
class SavedBytes:
    """The tensors one forward pass saved for backward, each storage once."""

    tensors: list[SavedTensor]

    def total(self, kinds: tuple[str, ...] = ("activation", "input")) -> int:
        return sum(t.nbytes for t in self.tensors if t.kind in kinds)

    def by_path(self, kinds: tuple[str, ...] = ("activation", "input")) -> dict[str, int]:
        out: Counter[str] = Counter()
        for t in self.tensors:
            if t.kind in kinds:
                out[t.path] += t.nbytes
        return dict(out)

    def by_dtype(self, kinds: tuple[str, ...] = SAVED_KINDS) -> dict[str, int]:
        out: Counter[str] = Counter()
        for t in self.tensors:
            if t.kind in kinds:
                out[t.dtype] += t.nbytes
        return dict(out)

    def by_kind(self) -> dict[str, int]:
        out: Counter[str] = Counter({kind: 0 for kind in SAVED_KINDS})
        for t in self.tensors:
            out[t.kind] += t.nbytes
        return dict(out)


def _storage(t: torch.Tensor) -> tuple[tuple[str, int], int]:
    """(identity, bytes) of a tensor's storage; a tensor without one counts as itself."""
    try:
        storage = t.untyped_storage()
        return (str(t.device), storage.data_ptr()), storage.nbytes()
    except (RuntimeError, NotImplementedError):
        return ("tensor", id(t)), t.numel() * t.element_size()


# The autograd nodes between a parameter's autocast copy and what is saved: the cast itself and
# views of it (linear's weight.t()). Any other node computes something new: the output of a
# bias-free conv whose input needs no gradient has the weight's cast as its one parent, but it is an
# activation (issue 19).
_CAST_OR_VIEW = frozenset({"ToCopyBackward0", "TBackward0", "ViewBackward0", "UnsafeViewBackward0",
                           "PermuteBackward0", "TransposeBackward0", "ExpandBackward0", "UnsqueezeBackward0",
                           "SqueezeBackward0", "SqueezeBackward1", "AliasBackward0", "AsStridedBackward0"})


def _is_param_cast(t: torch.Tensor, param_ids: set[int]) -> bool:
    """An autocast copy of a parameter (or a view of one, like linear's weight.t()): a short
    single-parent chain of cast and view nodes, one ToCopyBackward0 among them, to a parameter's
    AccumulateGrad."""
    fn, cast = t.grad_fn, False
    for _ in range(4):
        if fn is None:
            return False
        if hasattr(fn, "variable"):
            return cast and id(fn.variable) in param_ids
        if type(fn).__name__ not in _CAST_OR_VIEW:
            return False
        cast |= type(fn).__name__ == "ToCopyBackward0"
        parents = [nxt for nxt, _ in fn.next_functions if nxt is not None]
        if len(parents) != 1:
            return False
        fn = parents[0]
    return False


def saved_tensors(model: nn.Module, x: torch.Tensor | tuple[torch.Tensor, ...], autocast_dtype: torch.dtype | None = None) -> SavedBytes:
    """A train-mode forward pass with grad enabled, recording every tensor saved for backward."""
    stack: list[str] = []
    kinds: dict[tuple[str, int], str] = {}
    for p in model.parameters():
        kinds[_storage(p)[0]] = "parameter"
    for b in model.buffers():
        kinds[_storage(b)[0]] = "buffer"
    for tensor in inputs_of(x):
        kinds[_storage(tensor)[0]] = "input"
    param_ids = {id(p) for p in model.parameters()}
    first: dict[tuple[str, int], dict] = {}
    keep: list[torch.Tensor] = []  # keeps every saved storage alive, so no address is reused

    def pack(t: torch.Tensor) -> torch.Tensor:
        key, nbytes = _storage(t)
        if key in first:
            first[key]["saves"] += 1
        else:
            kind = kinds.get(key) or ("parameter-cast" if _is_param_cast(t, param_ids) else "activation")
            first[key] = dict(path=stack[-1] if stack else "", kind=kind, dtype=str(t.dtype).replace("torch.", ""),
                              shape=tuple(t.shape), nbytes=nbytes, saves=1)
        # A detached alias: returning `t` itself would tie a saved output to its own grad_fn in a
        # reference cycle that Python's GC cannot see, leaking the whole graph (no backward runs here).
        alias = t.detach()
        keep.append(alias)  # noqa: F821  (runs before the `del keep` below)
        return alias

    def enter(module: nn.Module, args: tuple) -> None:
        stack.append(paths[module])

    def leave(module: nn.Module, args: tuple, output: object) -> None:
        stack.pop()

    was_training = model.training
    model.train()
    try:
        with _hooks(model, pre=enter, post=leave) as paths, torch.enable_grad(), \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast(inputs_of(x)[0].device.type, autocast_dtype):
            forward_all = getattr(model, "forward_all", None)  # a built net: every output
            outputs = forward_all(*inputs_of(x)) if forward_all is not None else [model(*inputs_of(x))]
    finally:
        model.train(was_training)
    del outputs, keep
    return SavedBytes([SavedTensor(**record) for record in first.values()])


def make_optimizer(name: str, params: Iterator[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer whose state the engine's `k x params` models (sgd 2, momentum 3, adam 4)."""
    factories = {
        "sgd": lambda: torch.optim.SGD(params, lr=1e-3),
        "momentum": lambda: torch.optim.SGD(params, lr=1e-3, momentum=0.9),
        "adam": lambda: torch.optim.Adam(params, lr=1e-3),
        "adamw": lambda: torch.optim.AdamW(params, lr=1e-3),
    }
    return factories[name]()


@dataclass(frozen=True)
class TrainPeak:
    """CUDA bytes around one steady-state training step (after a warm-up step)."""

    peak: int            # max_memory_allocated during the step
    start: int           # allocated before it: params, optimizer state, input
    after_forward: int   # allocated once the forward pass has returned (graph + saved tensors)


def train_step_peak(model: nn.Module, x: torch.Tensor | tuple[torch.Tensor, ...], optimizer: str,
                    autocast_dtype: torch.dtype | None = None) -> TrainPeak:
    """Forward, backward and optimizer step; the second of two steps is measured."""
    if inputs_of(x)[0].device.type != "cuda":
        raise ValueError("train_step_peak needs a CUDA tensor")
    opt = make_optimizer(optimizer, model.parameters())
    model.train()
    marks: dict[str, int] = {}

    def step() -> None:
        with autocast("cuda", autocast_dtype):
            forward_all = getattr(model, "forward_all", None)  # a built net: every output
            outputs = forward_all(*inputs_of(x)) if forward_all is not None else [model(*inputs_of(x))]
            loss = sum(o.float().mean() for o in outputs)
        torch.cuda.synchronize()
        marks["after_forward"] = torch.cuda.memory_allocated()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    return TrainPeak(torch.cuda.max_memory_allocated(), start, marks["after_forward"])
