"""The memory rule of `lstm` (layers/rnn.py): what nn.LSTM saves for backward on CPU, where
PyTorch runs each layer and direction as one oneDNN call, aten.mkldnn_rnn_layer (measured, torch
2.13 and 2.14.1 CPU, fp32 and bf16 autocast).

nn.LSTM makes zero initial states h0 and c0, (layers x directions, N, H) each. Each call (a layer
and a direction) saves its input (under bf16 autocast a new low copy, as it casts h0's and c0's
slices and the weights, biases included), its weights, its slices of h0 and c0, its new output
(L, N, H) and final states h, c (N, H each), and oneDNN's workspace (a uint8 tensor: `workspace`);
without biases, a new tensor of both weights' size in their place (not per sample).
A bidirectional layer's output is the concatenation of its two directions' (a new tensor, nothing
saved); h_n and c_n are stacked (new). fp16 (oneDNN only without grad) and fp64 run ATen's own
cell instead, and CUDA runs cuDNN: not modelled, a named error."""
from __future__ import annotations

from ..errors import CnnCostError
from ..layers.strides import BATCH, contiguous
from ..layers.rnn import LSTM
from ..shapes import Shape, numel
from .builder import StepBuilder
from .tensors import Tensor

PAGE = 4096  # oneDNN starts each workspace region on a page
ELEMENT = {"fp32": 4, "bf16": 2}


def good_ld(size: int, element: int) -> int:
    """oneDNN's leading dimension for `size` elements: a whole 64-byte line, and not a multiple of
    256 elements (4K aliasing)."""
    per_line = 64 // element
    ld = -(-size // per_line) * per_line
    return ld + per_line if ld % 256 == 0 else ld


def workspace_regions(steps: int, rows: int, features: int, hidden: int, dtype: str) -> list[int]:
    """Bytes of oneDNN's LSTM training workspace regions for one call on `rows` sequences (torch's
    batch) of `steps` steps (fitted on 150 random shapes, torch 2.13 and 2.14.1, AVX-512 CPU):
    the gates and h of every step, in the compute dtype; the layer states (2 x (L + 1) rows, in
    it), two gradient state buffers (fp32) with the leading dim of max(D, H); the c states in it
    and their gradient in fp32 with H."""
    e = ELEMENT[dtype]
    states = 2 * (steps + 1) * rows
    widest = max(features, hidden)
    return [steps * rows * good_ld(4 * hidden, e) * e, steps * rows * good_ld(hidden, e) * e,
            states * good_ld(widest, e) * e, states * good_ld(widest, 4) * 4, states * good_ld(widest, 4) * 4,
            states * hidden * e, states * hidden * 4]


def workspace_bytes(steps: int, rows: int, features: int, hidden: int, dtype: str) -> int:
    """The workspace PyTorch allocates: every region rounded up to whole pages."""
    return sum(-(-r // PAGE) * PAGE for r in workspace_regions(steps, rows, features, hidden, dtype))


def lstm(layer: LSTM, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Per sample (its leading dims are `rows` of torch's batch), the saved tensors above. The
    workspace is linear in the batch but for its page rounding (under 7 pages per call), which a
    per-sample figure cannot carry: exact where each region is whole pages (Sequencer's at even
    batches), else under by the rounding."""
    precision = b.precision
    if precision.device != "cpu" or precision.dtype not in ELEMENT:
        raise CnnCostError(f"its saved tensors are modelled on CPU in fp32 and bf16 only (oneDNN's LSTM), not "
                           f"{precision.dtype} on {precision.device}: use device 'cpu' (--device cpu)",
                           type_name=layer.type_name)
    low = precision.matmul_dtype
    rows, steps, h = numel(xs[:-2]), xs[-2], layer.hidden
    slices = layer.layers * layer.directions
    zeros = [b.new(slices * rows * h, x.dtype) for _ in ("h0", "c0")]
    if precision.autocast:
        b.cast_params(layer.params(xs), 0)  # every weight and bias cast to the low dtype, saved
    seq = x
    for features in layer.layer_inputs(xs):
        outputs = []
        for _ in range(layer.directions):
            states = [b.cast(z, low) if low == z.dtype else b.new(rows * h, low) for z in zeros]
            out = b.new(rows * steps * h, low)
            b.save(b.cast(seq, low), *states, out, b.new(rows * h, low), b.new(rows * h, low))
            b.save(b.new(sum(workspace_regions(steps, rows, features, h, low)), "bool"))  # uint8: 1 byte each
            if not layer.bias:  # in the biases' place, a new tensor the size of both weights, saved (in
                # the low dtype under autocast): measured, torch 2.13 CPU
                weights = 4 * h * (features + h)
                placeholder = b.new(0, precision.param_dtype, fixed=weights)
                b.save(placeholder if placeholder.dtype == low else b.new(0, low, fixed=weights))
            outputs.append(out)
        seq = outputs[0] if len(outputs) == 1 else b.new(rows * steps * layer.directions * h, low)
    for _ in ("h_n", "c_n"):
        b.new(slices * rows * h, low)
    return batch_first(seq, y)


def batch_first(out: Tensor, y: Shape) -> Tensor:
    """The output, (L, N', features) in memory, seen batch first: per sample (..., L, features)
    with the steps N' rows apart (a batch above 1, as `layers/strides.py` takes it), so that a
    reshape folding the steps into rows copies it, as torch.matmul's does (a linear after it)."""
    rows = numel(y[:-2])
    out.strides = (*contiguous(y[:-2] + y[-1:])[1:-1], BATCH * rows * y[-1], 1)
    out.layout = "strided"
    return out
