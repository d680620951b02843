"""What the memory rules work with: one `Step` (a leaf layer or merge of the trace) and the
`StepBuilder` that makes its tensors, views and casts and records what it saves."""
from __future__ import annotations

import itertools

from ..layers.strides import BATCH, contiguous, is_contiguous, like_channels_last, reshape
from ..shapes import Shape, numel
from ..layers.base import Layer
from .tensors import LAYOUTS, Precision, Tensor


class Step:
    """One leaf layer or merge. `new_casts`: elements of parameters that autocast copies to the low
    dtype here (its cast cache grows by them: a parameter cast once per forward, whichever call
    casts it first); `weight_casts`: elements of such copies first saved for backward here (not
    biases, nor the weight of a linear whose input needs no gradient). `frozen`: the step's
    parameters are frozen (`--freeze`: requires_grad off), so they get no gradient nor optimizer state."""

    __slots__ = ("path", "type", "reads", "output", "created", "saved", "params", "weight_casts", "new_casts",
                 "frozen", "param_tensors",
                 "layer",  # the layer it runs (None for a hand-made step): the inference model reads its fields
                 "running_stats")  # channels of a norm's running mean and variance buffers (0: none)

    def __init__(self, path: str, type: str, reads: list[Tensor], output: Tensor | None = None,
                 created: list[Tensor] | None = None, saved: list[Tensor] | None = None, params: int = 0,
                 weight_casts: int = 0, new_casts: int = 0) -> None:
        self.path, self.type, self.reads, self.output = path, type, reads, output
        self.created = [] if created is None else created
        self.saved = [] if saved is None else saved
        self.params, self.weight_casts, self.new_casts = params, weight_casts, new_casts
        self.layer: Layer | None = None
        self.frozen = False
        self.running_stats = 0
        # elements of each parameter tensor, in registration order: (weight, bias) where the rule
        # names them (save_matmul), else one tensor of all (optimizer_step.py splits norms' halves)
        self.param_tensors: tuple[int, ...] = (params,) if params else ()

    @property
    def trainable_params(self) -> int:
        """Parameters that get a gradient and optimizer state (none where frozen)."""
        return 0 if self.frozen else self.params

    def __repr__(self) -> str:
        return f"Step({self.path!r}, {self.type!r}, saved={self.saved!r})"


class StepBuilder:
    """What a layer type's memory rule (`rules.py`) works with: make tensors, views and casts, save them.

    `like(x)` is a new storage of x's visible size (a view: the view's, not its base's); `view(x,
    shape, layout)` the same storage seen through a view; `contiguous(x)` x, or a new contiguous
    copy of a view (ops that call `.contiguous()` save the copy); `reshape(x, shape)` a view where
    PyTorch can make one, else a copy.

    `grad`: the step's output requires grad (an input does, or its parameters are trainable):
    without it autograd records nothing and `save` keeps nothing. `trainable`: the step's weights
    require grad; false where `--freeze` froze them, and a rule saves then only what its input's
    gradient needs (a linear: not its input)."""

    def __init__(self, step: Step, precision: Precision, ids: itertools.count, grad: bool = True) -> None:
        self.step, self.precision, self._ids, self.grad = step, precision, ids, grad
        self.trainable = True
        # autocast's cast cache over the forward: the path owning the parameters -> whether their
        # weight's copy is saved yet; `owner`: whose parameters the current step uses (a shared
        # call's `of`; None: its own)
        self.casts: dict[str, bool] = {}
        self.owner: str | None = None
        # the tensor a `computed` weight row passed on: the op reading it takes its weight from that
        # row (a tensor made each forward, which autocast casts anew rather than from its cache)
        self.made_weight: Tensor | None = None

    def new(self, per_sample: int, dtype: str, fixed: int = 0) -> Tensor:
        tensor = Tensor(next(self._ids), per_sample, fixed, dtype, self.grad)
        self.step.created.append(tensor)
        return tensor

    def given(self, per_sample: int) -> Tensor:
        """A tensor the caller gives (a net's input): made by no step, no gradient, in the
        parameters' dtype as the first input is."""
        return Tensor(next(self._ids), per_sample, 0, self.precision.param_dtype, False)

    def _like(self, x: Tensor, dtype: str | None) -> Tensor:  # like(x) without a shape: the common case
        tensor = Tensor(next(self._ids), x.per_sample if x.shown is None else x.shown, 0, dtype or x.dtype, self.grad)
        self.step.created.append(tensor)
        return tensor

    def like(self, x: Tensor, shape: Shape | None = None, dtype: str | None = None) -> Tensor:
        if shape is None:
            return self._like(x, dtype)
        return self.new(numel(shape), dtype or x.dtype)

    def view(self, x: Tensor, shape: Shape | None = None, layout: str | None = None,
             strides: tuple[int, ...] | None = None) -> Tensor:
        """x's storage seen as `shape` (None: all of x): no new tensor. A slice that shows fewer
        elements than x gets `layout` ("channels" for a channel slice, "strided" for a crop; a
        slice of a crop stays strided) and its per-sample `strides` in the storage."""
        if shape is None or numel(shape) == x.elements:  # all of x: x itself, layout unchanged
            return x
        if layout not in LAYOUTS:
            raise ValueError(f"a view needs a layout, one of {', '.join(LAYOUTS)}; got {layout!r}")
        if x.layout == "strided":
            layout = "strided"
        return x.view(numel(shape), layout, strides)

    def contiguous(self, x: Tensor, shape: Shape) -> Tensor:
        """`x.contiguous()` of a `shape` map: x if contiguous, else a new copy of what it shows."""
        if x.channels_last and len(shape) == 3 and shape[0] > 1 and shape[1] * shape[2] > 1:
            return self.like(x)
        return x if x.contiguous else self.like(x)

    def reshape(self, x: Tensor, shape: Shape, from_shape: Shape) -> Tensor:
        """`x.reshape(N, *shape)` of x, a `from_shape` tensor: a view where `view` can make one
        (ATen's computeStride, `layers/strides.py`: a contiguous tensor, a channel slice, some
        crops and permutes, a channels-last map of one channel or one position), else a copy."""
        out = reshape(from_shape, x.batch_layout(from_shape), shape)
        return self.like(x, shape) if out is None else self.strided(x, shape, out)

    def strided(self, x: Tensor, shape: Shape, layout: tuple[int, ...]) -> Tensor:
        """x's storage seen as `shape` through `layout` (batch stride, *strides): no new tensor.
        x itself where that is what x already is (all of a contiguous x, seen contiguously)."""
        dense = is_contiguous(shape, layout)
        if layout == contiguous(shape) and x.shown is None and x.strides is None and not x.channels_last:
            return x  # (the strides of size-1 dims matter too: to the memory format cat and stack suggest)
        shown = numel(shape)
        seen = x.view(None if shown == x.per_sample and dense else shown, "contiguous" if dense else "strided",
                      layout[1:])
        # channels last as PyTorch suggests it from the strides (what a conv or a pool on it keeps):
        # a chunk of a channels-last map is, the H, W, C permute of one is a plain contiguous tensor
        seen.channels_last = len(shape) == 3 and like_channels_last((BATCH, *shape), layout)
        if x.batch_stride is not None:  # a view of a copy laid out with the batch inside: its own batch stride
            seen.batch_stride = layout[0]
        return seen

    def cast(self, x: Tensor, dtype: str) -> Tensor:
        """x in `dtype`: x itself, or a new copy (autocast does not cache casts of activations)."""
        return x if x.dtype == dtype else self.like(x, dtype=dtype)

    def save(self, *tensors: Tensor) -> None:
        """Kept for backward, unless nothing here needs a gradient (autograd records no node)."""
        if self.grad:
            self.step.saved.extend(tensors)

    def cast_params(self, weight: int, bias: int, weight_saved: bool = True) -> None:
        """Under autocast, a low-precision copy of `weight` and `bias` elements. Autocast caches
        casts of parameters for the whole forward pass: a module called again reuses its first
        call's copies (measured, torch 2.13 CPU bf16: a linear called twice saves one weight copy).
        The weight's copy is saved for backward unless `weight_saved` is false (a linear whose
        input needs no gradient: addmm saves the weight only to compute the input's gradient); an
        unsaved copy lives in the cache only, as the bias's does, until a later call saves it."""
        if not self.precision.autocast:
            return
        if not self.trainable:  # frozen: autocast caches casts of leaves that require grad only, so each
            # call casts anew; an unsaved copy is freed at once (measured, torch 2.13 CPU bf16)
            self.step.new_casts = self.step.weight_casts = weight if weight_saved and self.grad else 0
            return
        owner = self.step.path if self.owner is None else self.owner
        saved = self.casts.get(owner)  # None: not cast yet in this forward
        self.step.new_casts = weight + bias if saved is None else 0
        self.step.weight_casts = weight if weight_saved and not saved else 0
        self.casts[owner] = bool(saved) or weight_saved
