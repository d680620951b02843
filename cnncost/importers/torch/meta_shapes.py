"""The results of common torch functions on meta tensors, without running their meta kernels.

Recording a trace's shapes runs every op on meta tensors (`tracing.record`), and many meta kernels
are torch's Python decompositions: a batch norm, a layer norm or a linear takes 1-5 ms a call, most
of an import. `ShapeRules`, a TorchFunctionMode, answers the commonest functions itself, wherever
they are called (a traced call, a leaf module's forward, a leaf function such as torchvision's
shifted window attention): each rule returns the tensor the meta kernel returns (shape, dtype,
strides; `tests/importers/test_meta_shapes.py` compares them) when the arguments are ones it is sure
torch accepts, and None otherwise, so that torch runs the call and raises what it raises. Every
rule reads meta tensors only: real or fake tensors always go to torch.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

Tensor = torch.Tensor
Rule = Callable[..., "Tensor | None"]


def _meta(*tensors: Any) -> bool:
    """Floating meta tensors of one dtype."""
    first = tensors[0]
    if not (isinstance(first, Tensor) and first.is_meta and first.is_floating_point()):
        return False
    return all(_param(first, t, False) for t in tensors[1:])


def _param(input: Tensor, t: Any, anywhere: bool) -> bool:
    """A floating tensor of the input's dtype: a meta one, or (`anywhere`) a module's own parameter
    or buffer on any device, which the meta run would replace by its meta twin (`meta_run`)."""
    return isinstance(t, Tensor) and (anywhere or t.is_meta) and t.is_floating_point() and t.dtype == input.dtype


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _dim(d: Any, rank: int) -> int | None:
    """d as an index into `rank` dims, None if it is not one."""
    if isinstance(d, bool) or not isinstance(d, int) or not -rank <= d < rank:
        return None
    return d % rank


def _planes(t: Tensor) -> bool:
    """A 4-D map laid out channels first whose (H, W) planes are dense, though not contiguous (some
    of a map's channels: ShuffleNet's chunks): torch suggests the contiguous format for it, as for a
    contiguous map, and a convolution or a cat of it gives a contiguous result."""
    if t.dim() != 4:
        return False
    n, c, h, w = t.shape
    return c > 1 and h * w > 1 and t.stride()[1:] == (h * w, w, 1) and t.stride(0) >= c * h * w


def _pair(v: Any) -> tuple[int, int] | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        return (v[0], v[1])
    if isinstance(v, (list, tuple)) and len(v) == 1:
        return _pair(v[0])
    return None


# --- element-wise: a tensor like the input (in place: the input itself) ---

def _empty(x: Tensor, shape: Any) -> Tensor:
    """A contiguous meta tensor of x's dtype (`x.new_empty` runs torch's Python reference on meta
    tensors, three times slower)."""
    return torch.empty(shape, dtype=x.dtype, device="meta")


def _like(x: Tensor, inplace: bool = False) -> Tensor:
    """x itself in place, else a tensor like x (torch.empty_like: its Python meta kernel where x is
    not contiguous, 20 times slower)."""
    if inplace:
        return x
    return _empty(x, x.shape) if x.is_contiguous() else torch.empty_like(x)


def unary(input: Any, *, inplace: bool = False) -> Tensor | None:
    """relu, silu, sigmoid, hardswish...: the input's shape, dtype and strides."""
    return _like(input, inplace is True) if _meta(input) else None


def gelu(input: Any, approximate: str = "none") -> Tensor | None:
    return _like(input) if _meta(input) and approximate in ("none", "tanh") else None


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor | None:
    if _meta(input) and _number(min_val) and _number(max_val) and min_val <= max_val:
        return _like(input, inplace is True)
    return None


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor | None:
    if _meta(input) and (min is not None or max is not None) and all(v is None or _number(v) for v in (min, max)):
        return _like(input)
    return None


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor | None:
    if _meta(input) and _number(p) and 0 <= p <= 1 and isinstance(training, bool):
        return _like(input, inplace is True)
    return None


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> Tensor | None:
    if _meta(input) and out is None and _number(p) and input.dim() > 0 and _dim(dim, input.dim()) is not None:
        return _like(input)
    return None


def binary(inplace: bool) -> Rule:
    """add, sub, mul (and add_, sub_, mul_) of a tensor and a tensor of its dtype or a number."""
    def rule(input: Any, other: Any, *, alpha: Any = 1) -> Tensor | None:
        if not _meta(input) or not _number(alpha):
            return None
        if _number(other):
            return _like(input, inplace)
        if not _meta(input, other):
            return None
        try:
            shape = torch.broadcast_shapes(input.shape, other.shape)
        except RuntimeError:
            return None
        if inplace:
            return input if shape == input.shape else None
        if input.is_contiguous() and other.is_contiguous():
            return _empty(input, shape)
        return None
    return rule


# --- norms ---

def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5, *,
               anywhere: bool = False) -> Tensor | None:
    """F.batch_norm's checks that need no data, then a tensor like a contiguous input. `anywhere`
    (the module rules): the tensors other than the input may be on any device (`_param`); no torch
    call can pass it, as torch's own signatures reject it before the mode sees the call."""
    if not (_meta(input) and input.dim() >= 2 and input.is_contiguous() and isinstance(training, bool)):
        return None
    channels = input.shape[1]
    if not all(t is None or (_param(input, t, anywhere) and t.dim() == 1 and t.numel() == channels)
               for t in (running_mean, running_var, weight, bias)):
        return None
    if (running_mean is None) != (running_var is None) or (running_mean is None and not training):
        return None
    if training and input.numel() // max(channels, 1) <= 1:
        return None  # torch: "Expected more than 1 value per channel when training"
    return _like(input)


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5, *, anywhere: bool = False) -> Tensor | None:
    """Contiguous, whatever the input's strides (the meta kernel's). `anywhere`: as `batch_norm`'s."""
    if not _meta(input) or not isinstance(normalized_shape, (list, tuple, torch.Size)):
        return None
    shape = tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.dim() < k or tuple(input.shape[input.dim() - k:]) != shape:
        return None
    if not all(t is None or (_param(input, t, anywhere) and tuple(t.shape) == shape) for t in (weight, bias)):
        return None
    return _empty(input, input.shape)


# --- weighted ---

def linear(input: Any, weight: Any, bias: Any = None, *, anywhere: bool = False) -> Tensor | None:
    """Contiguous, whatever the input's strides (the meta kernel's). `anywhere`: as `batch_norm`'s."""
    if not (_meta(input) and _param(input, weight, anywhere) and input.dim() >= 1 and weight.dim() == 2 and input.shape[-1] == weight.shape[1]):
        return None
    if bias is not None and not (_param(input, bias, anywhere) and tuple(bias.shape) == (weight.shape[0],)):
        return None
    return _empty(input, (*input.shape[:-1], weight.shape[0]))


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1, *, anywhere: bool = False) -> Tensor | None:
    """A batched 4-D input, contiguous or channels first (`_planes`), and a contiguous weight: the
    window arithmetic, a contiguous result. `anywhere`: as `batch_norm`'s."""
    if not (_meta(input) and _param(input, weight, anywhere) and input.dim() == 4 and weight.dim() == 4
            and (input.is_contiguous() or _planes(input))
            and weight.is_contiguous() and isinstance(groups, int) and groups > 0):
        return None
    n, c, h, w = input.shape
    out, per_group, kh, kw = weight.shape
    if per_group * groups != c or out % groups or min(n, c, h, w, out, kh, kw) <= 0:
        return None
    if bias is not None and not (_param(input, bias, anywhere) and tuple(bias.shape) == (out,)):
        return None
    s, d = _pair(stride), _pair(dilation)
    if s is None or d is None or min(*s, *d) <= 0:
        return None
    if padding == "valid":
        pads: tuple[int, int] | None = (0, 0)
    elif padding == "same":
        if s != (1, 1):
            return None
        return _empty(input, (n, out, h, w))
    else:
        pads = _pair(padding)
    if pads is None or min(pads) < 0:
        return None
    sizes = []
    for size, k, st, dl, p in zip((h, w), (kh, kw), s, d, pads):
        span = dl * (k - 1) + 1
        if size + 2 * p < span:
            return None  # torch: "Kernel size can't be greater than actual input size"
        sizes.append((size + 2 * p - span) // st + 1)
    return _empty(input, (n, out, *sizes))


# --- pools, joins, moves ---

def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor | None:
    if not (_meta(input) and input.dim() in (3, 4) and input.is_contiguous()
            and all(d > 0 for d in input.shape[input.dim() - 3:])):
        return None
    if isinstance(output_size, int) and not isinstance(output_size, bool):
        output_size = (output_size, output_size)
    if not (isinstance(output_size, (list, tuple)) and len(output_size) == 2):
        return None
    sizes = [input.shape[input.dim() - 2 + i] if v is None else v for i, v in enumerate(output_size)]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes):
        return None
    return _empty(input, (*input.shape[:-2], *sizes))


def cat(tensors: Any, dim: int = 0) -> Tensor | None:
    """Contiguous (or `_planes`) tensors of one rank and dtype that agree off `dim`: a contiguous result."""
    if not (isinstance(tensors, (list, tuple)) and tensors and _meta(*tensors)):
        return None
    rank = tensors[0].dim()
    axis = _dim(dim, rank) if rank > 0 else None
    if axis is None or not all(t.dim() == rank and (t.is_contiguous() or _planes(t)) and t.numel() > 0
                               for t in tensors):
        return None
    first = tensors[0].shape
    if not all(t.shape[i] == first[i] for t in tensors for i in range(rank) if i != axis):
        return None
    shape = list(first)
    shape[axis] = sum(t.shape[axis] for t in tensors)
    return _empty(tensors[0], shape)


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor | None:
    """Contiguous, whatever the input's strides (the meta kernel's)."""
    if not _meta(input) or input.dim() == 0:
        return None
    shifts = (shifts,) if isinstance(shifts, int) else shifts
    dims = () if dims is None else (dims,) if isinstance(dims, int) else dims
    if not (isinstance(shifts, (list, tuple)) and isinstance(dims, (list, tuple)) and shifts
            and all(isinstance(v, int) and not isinstance(v, bool) for v in (*shifts, *dims))):
        return None
    if dims and (len(dims) != len(shifts) or any(_dim(d, input.dim()) is None for d in dims)):
        return None
    if not dims and len(shifts) != 1:
        return None
    return _empty(input, input.shape)


def _rules() -> dict[Any, Rule]:
    T = torch.Tensor
    rules: dict[Any, Rule] = {}
    f: Any  # torch functions and Tensor methods, of many signatures
    for f in (F.relu, F.relu6, F.silu, F.hardswish, F.hardsigmoid, F.mish, torch.relu, torch.sigmoid, torch.tanh,
              T.relu, T.sigmoid, T.tanh):
        rules[f] = unary
    rules.update({
        F.gelu: gelu, F.hardtanh: hardtanh, torch.clamp: clamp, T.clamp: clamp, F.dropout: dropout,
        F.normalize: normalize, F.batch_norm: batch_norm, F.layer_norm: layer_norm, F.linear: linear,
        torch.conv2d: conv2d, F.adaptive_avg_pool2d: adaptive_avg_pool2d, torch.cat: cat, torch.roll: roll,
        T.roll: roll,
    })
    for f in (torch.add, torch.sub, torch.mul, T.add, T.sub, T.mul):
        rules[f] = binary(inplace=False)
    for f in (T.add_, T.sub_, T.mul_):
        rules[f] = binary(inplace=True)
    return rules


RULES: dict[Any, Rule] = _rules()


# --- leaf modules of torch.nn (exact classes): the rule of the function their forward calls, with
# the module's arguments, without the module call (its hooks, its Python, the function's wrapper) ---

def _batch_norm_module(m: Any, x: Any) -> Tensor | None:
    m._check_input_dim(x)  # BatchNorm2d of a 3-D input: the ValueError the module raises
    keep = not m.training or m.track_running_stats
    training = m.training or (m.running_mean is None and m.running_var is None)
    return batch_norm(x, m.running_mean if keep else None, m.running_var if keep else None, m.weight, m.bias,
                      training, anywhere=True)


def _stochastic_depth_module(m: Any, x: Any) -> Tensor | None:
    """torchvision.ops.StochasticDepth: the input itself when it drops nothing, else input * noise."""
    if not (_meta(x) and _number(m.p) and 0 <= m.p <= 1 and m.mode in ("batch", "row")):
        return None
    if not m.training or m.p == 0:
        return x
    return _empty(x, x.shape) if x.is_contiguous() else None


def _module_rules() -> dict[type, Callable[[Any, Any], "Tensor | None"]]:
    nn = torch.nn
    rules: dict[type, Callable[[Any, Any], Tensor | None]] = {
        nn.Conv2d: lambda m, x: conv2d(x, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups, anywhere=True)
        if m.padding_mode == "zeros" else None,
        nn.Linear: lambda m, x: linear(x, m.weight, m.bias, anywhere=True),
        nn.LayerNorm: lambda m, x: layer_norm(x, m.normalized_shape, m.weight, m.bias, anywhere=True),
        nn.ReLU6: lambda m, x: hardtanh(x, m.min_val, m.max_val, m.inplace),
        nn.Hardtanh: lambda m, x: hardtanh(x, m.min_val, m.max_val, m.inplace),
        nn.GELU: lambda m, x: gelu(x, m.approximate),
        nn.Sigmoid: lambda m, x: unary(x),
        nn.Tanh: lambda m, x: unary(x),
        nn.Dropout: lambda m, x: dropout(x, m.p, m.training, m.inplace),
        nn.AdaptiveAvgPool2d: lambda m, x: adaptive_avg_pool2d(x, m.output_size),
        nn.Identity: lambda m, x: x,
    }
    cls: type
    for cls in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        rules[cls] = _batch_norm_module
    for cls in (nn.ReLU, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Mish):
        rules[cls] = lambda m, x: unary(x, inplace=m.inplace)
    return rules


_MODULE_RULES: dict[type, Any] = _module_rules()


def module_result(m: Any, args: tuple, kwargs: dict) -> Tensor | None:
    """What calling leaf module `m` on `args` gives, where a rule is sure of it (exact classes, one
    positional input, no hooks); None: call the module."""
    cls = type(m)
    if cls not in _MODULE_RULES:
        is_drop = cls.__module__ == "torchvision.ops.stochastic_depth" and cls.__name__ == "StochasticDepth"
        _MODULE_RULES[cls] = _stochastic_depth_module if is_drop else None
    rule = _MODULE_RULES[cls]
    if rule is None or kwargs or len(args) != 1 or _hooked(m):
        return None
    return rule(m, args[0])


def _hooked(m: Any) -> bool:
    """Whether hooks could change what calling `m` gives (its own or the global ones)."""
    hooks = torch.nn.modules.module
    return bool(m._forward_hooks or m._forward_pre_hooks or hooks._global_forward_hooks
                or hooks._global_forward_pre_hooks)


class ShapeRules(TorchFunctionMode):
    """While active, the functions of `RULES` on meta tensors give their result without running
    torch's kernel where the rule is sure of it."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        rule = RULES.get(func)
        if rule is not None:
            try:
                result = rule(*args, **kwargs)
            except TypeError:  # arguments the rule does not take (another overload): torch's call
                result = None
            if result is not None:
                return result
        return func(*args, **kwargs)
