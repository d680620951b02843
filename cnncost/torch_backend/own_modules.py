"""The PyTorch modules of the layer types that `torch.nn` lacks (`layer_modules.py` builds them).
Imports torch: the command line's cold path never imports this.

Each copies its reference's arithmetic exactly (torchvision's, where torchvision has the op), so
that what autograd saves is what the reference saves. None needs torchvision.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from ..memory.fixed_operand import by_table_rows


class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: layer norm over the channels at each position of
    an NCHW tensor (permute to NHWC, normalise the last dim, permute back)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x


class Chunk(nn.Module):
    """`x.chunk(chunks, dim)[index]` (dim 1: a channel slice), a view of x."""

    def __init__(self, chunks: int, index: int, dim: int = 1) -> None:
        super().__init__()
        self.chunks, self.index, self.dim = chunks, index, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(self.chunks, self.dim)[self.index]

    def extra_repr(self) -> str:
        return f"chunks={self.chunks}, index={self.index}"


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision.models.shufflenetv2.channel_shuffle, over any number of spatial dims."""
    batchsize, num_channels, *positions = x.size()
    channels_per_group = num_channels // groups
    # reshape
    x = x.view(batchsize, groups, channels_per_group, *positions)
    x = torch.transpose(x, 1, 2).contiguous()
    # flatten
    x = x.view(batchsize, num_channels, *positions)
    return x


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


def center_offset(size: int, crop: int) -> int:
    """torchvision.transforms.functional.center_crop's offset along one dim: round((size - crop) / 2)
    with Python's round, which rounds halves to even (a 1-pixel surplus: offset 0; 3: offset 2)."""
    return int(round((size - crop) / 2.0))


class CenterCrop(nn.Module):
    """The centre `size` of x (a view), or, given a second tensor, x cropped to its spatial sizes
    (U-Net's crop-and-concat); torchvision's centre offsets, on 1, 2 or 3 spatial dims."""

    def __init__(self, size: tuple[int, ...] | None) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        crop = self.size if like is None else tuple(like.shape[2:])
        assert crop is not None  # a crop without a size has a second input
        starts = [center_offset(size, c) for size, c in zip(x.shape[2:], crop)]
        window: tuple[Any, ...] = (..., *(slice(start, start + c) for start, c in zip(starts, crop)))
        return x[window]

    def extra_repr(self) -> str:
        return f"size={self.size}" if self.size else "like the second input"


class Pad(nn.Module):
    """`F.pad(x, pad, mode)`: padding that no `nn.*Pad*d` module expresses (the channels, or only
    some spatial dims)."""

    def __init__(self, pad: tuple[int, ...], mode: str, value: float | None = None) -> None:
        super().__init__()
        self.pad, self.mode, self.value = pad, mode, value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad, self.mode, self.value)

    def extra_repr(self) -> str:
        return f"pad={self.pad}, mode={self.mode}" + (f", value={self.value}" if self.value else "")


class LayerScale(nn.Module):
    """torchvision ConvNeXt CNBlock's layer scale: a learnable (C, 1, 1) parameter times x (in
    general: `shape`, the scaled dim's size and 1 elsewhere)."""

    def __init__(self, shape: tuple[int, ...], init: float) -> None:
        super().__init__()
        self.layer_scale = nn.Parameter(torch.ones(shape) * init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * x


def stochastic_depth(input: torch.Tensor, p: float, mode: str, training: bool = True) -> torch.Tensor:
    """torchvision.ops.stochastic_depth, line for line: drop whole samples ("row") or the whole
    batch ("batch") with probability p while training, scaling the survivors by 1 / (1 - p)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input

    survival_rate = 1.0 - p
    if mode == "row":
        size = [input.shape[0]] + [1] * (input.ndim - 1)
    else:
        size = [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class AddModule(nn.Module):
    """a * scale + b + ... (the scale applies to the first input: a scaled residual branch)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, first: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        out = first if self.scale == 1.0 else self.scale * first
        for other in rest:
            out = out + other
        return out


class MulModule(nn.Module):
    def forward(self, x: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return x * gate


class ConcatModule(nn.Module):
    """torch.cat along `dim` of the batched tensors (1: the channels)."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)


class View(nn.Module):
    """x.reshape(N, *shape)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


def _after_batch(t: torch.Tensor, rank: int) -> torch.Tensor:
    """t (N, *s) with singleton dims inserted after the batch up to `rank` dims: per-sample
    broadcasting never aligns the batch with a sample's own dims."""
    return t[(slice(None),) + (None,) * (rank - t.dim())] if t.dim() < rank else t


class Matmul(nn.Module):
    """torch.matmul on per-sample shapes: a 1-D operand is unsqueezed (and its dim dropped after),
    the smaller rank gets singleton leading dims after the batch. `once`: b is made once per
    forward (a `computed` row of op tensor, (1, *L2, K, P)): one bmm over b's leading dims with
    the batch folded into a's rows, as torch.einsum runs it (memory/fixed_operand.py)."""

    once = False

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.once and by_table_rows(tuple(a.shape[1:]), tuple(b.shape[1:])):
            return _folded_rows(a, b[0])
        vector_a, vector_b = a.dim() == 2, b.dim() == 2
        a = a.unsqueeze(1) if vector_a else a
        b = b.unsqueeze(-1) if vector_b else b
        rank = max(a.dim(), b.dim())
        y = torch.matmul(_after_batch(a, rank), _after_batch(b, rank))
        y = y.squeeze(-1) if vector_b else y
        return y.squeeze(-2) if vector_a else y

    @staticmethod
    def tensor_macs(args: tuple, output: torch.Tensor) -> int:
        """Every output element is one dot product of the first operand's last dim."""
        return output.numel() * args[0].shape[-1]


def _folded_rows(a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a (N, *L1, *L2, M, K) @ c (*L2, K, P): a permuted to (L2, N, L1, M, K), reshaped to
    (prod L2, rows, K), one bmm by c (prod L2, K, P), the result permuted back."""
    lead = c.dim() - 2
    outer = a.dim() - 3 - lead
    order = [1 + outer + i for i in range(lead)] + list(range(1 + outer)) + [a.dim() - 2, a.dim() - 1]
    seen = a.permute(order)
    sizes = seen.shape[:-1]
    rows = seen.reshape(math.prod(sizes[:lead]), -1, a.shape[-1])
    y = torch.bmm(rows, c.reshape(-1, *c.shape[-2:])).reshape(*sizes, c.shape[-1])
    back = [0] * len(order)
    for i, d in enumerate(order):
        back[d] = i
    return y.permute(back)


class Attention(nn.Module):
    """F.scaled_dot_product_attention; dropout while training only (as nn.MultiheadAttention).
    `folded`: the batch and the first per-sample dim merged first, as the imported model ran it
    (a view: the batch is their outer factor), and split after; a per-sample mask without the
    fold is expanded over it (a copy), one for the whole batch (a leading 1) broadcasts."""

    def __init__(self, causal: bool = False, dropout: float = 0.0, scale: float | None = None,
                 enable_gqa: bool = False, folded: bool = False) -> None:
        super().__init__()
        self.causal, self.dropout, self.scale, self.enable_gqa = causal, dropout, scale, enable_gqa
        self.folded = folded

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            mask = _after_batch(mask, q.dim())
        if self.folded:
            n = q.shape[0]
            q, k, v = (t.flatten(0, 1) for t in (q, k, v))
            folds = q.shape[0] // n
            if mask is not None and mask.shape[0] == n and mask.shape[1] == 1 < folds:  # a per-sample mask without
                mask = mask.expand(n, folds, *mask.shape[2:]).flatten(0, 1).contiguous()  # the fold: copied over it
            elif mask is not None:
                mask = mask.flatten(0, 1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0,
                                           is_causal=self.causal, scale=self.scale, enable_gqa=self.enable_gqa)
        return y.unflatten(0, (n, -1)) if self.folded else y

    @staticmethod
    def tensor_macs(args: tuple, output: torch.Tensor) -> int:
        """q @ k^T and the weights @ v, per query row of every head."""
        q, k, v = args[:3]
        return q.numel() // q.shape[-1] * k.shape[-2] * (q.shape[-1] + v.shape[-1])


class SplitHeads(nn.Module):
    """(N, ..., L, parts*heads*D) -> (N, ..., heads, L, D), part `part`: a view."""

    def __init__(self, heads: int, parts: int, part: int) -> None:
        super().__init__()
        self.heads, self.parts, self.part = heads, parts, part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unflatten(-1, (self.parts, self.heads, -1)).select(-3, self.part)
        return x.transpose(-3, -2)


class MergeHeads(nn.Module):
    """(N, ..., heads, L, D) -> (N, ..., L, heads*D): a copy."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-3, -2).flatten(-2)


class Unary(nn.Module):
    """torch.<op>(x): sqrt, rsqrt, exp, log, reciprocal, abs or neg."""

    def __init__(self, op: str) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(torch, self.op)(x)


class Roll(nn.Module):
    """torch.roll(x, shifts, dims) along per-sample dims (dim 0: the first after the batch)."""

    def __init__(self, shifts: tuple[int, ...], dims: tuple[int, ...]) -> None:
        super().__init__()
        self.shifts, self.dims = tuple(shifts), tuple(d + 1 if d >= 0 else d for d in dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.roll(x, self.shifts, self.dims)


class UnfoldDim(nn.Module):
    """x.unfold(dim, size, step) along a per-sample dim: a strided view."""

    def __init__(self, dim: int, size: int, step: int) -> None:
        super().__init__()
        self.dim, self.size, self.step = dim + 1 if dim >= 0 else dim, size, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unfold(self.dim, self.size, self.step)
