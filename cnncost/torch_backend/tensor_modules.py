"""The PyTorch modules of the tensor ops (`layers/tensor.py`, `layers/arith.py`, the merges of
`layers/merge.py`): each runs the one torch call a model would write, on a batch whose dim 0
is the batch, so that what autograd saves is what such a model saves. Per-sample dims become
torch dims by `torch_dim`. Learnable parameters are named `weight` and `bias` (as torch.nn's),
which is what torchinfo looks for."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def torch_dim(dim: int) -> int:
    """A per-sample dim as a dim of the batched tensor: 0 -> 1; negative dims count from the end
    either way."""
    return dim + 1 if dim >= 0 else dim


class Permute(nn.Module):
    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = (0, *(d + 1 for d in dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class Transpose(nn.Module):
    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dim0, self.dim1 = torch_dim(dim0), torch_dim(dim1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(self.dim0, self.dim1)


class Unflatten(nn.Module):
    def __init__(self, dim: int, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.dim, self.sizes = torch_dim(dim), sizes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(self.dim, self.sizes)


class Slice(nn.Module):
    """x[..., start:stop:step] along one dim, written as Python indexing (aten.slice)."""

    def __init__(self, dim: int, start: int, stop: int | None, step: int) -> None:
        super().__init__()
        self.dim, self.index = torch_dim(dim), slice(start, stop, step)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = [slice(None)] * x.dim()
        index[self.dim] = self.index
        return x[tuple(index)]


class Select(nn.Module):
    def __init__(self, dim: int, index: int) -> None:
        super().__init__()
        self.dim, self.index = torch_dim(dim), index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.select(self.dim, self.index)


class Expand(nn.Module):
    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(x.shape[0], *self.shape)


class Contiguous(nn.Module):
    """x.contiguous(); with `batch_dim` k > 0 the copy laid out with the batch before per-sample dim k."""

    def __init__(self, batch_dim: int = 0) -> None:
        super().__init__()
        self.batch_dim = batch_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch_dim:
            return x.movedim(0, self.batch_dim).contiguous().movedim(self.batch_dim, 0)
        return x.contiguous()


class Split(nn.Module):
    def __init__(self, sizes: int | tuple[int, ...], index: int, dim: int) -> None:
        super().__init__()
        self.sizes = sizes if isinstance(sizes, int) else list(sizes)
        self.index, self.dim = index, torch_dim(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.split(self.sizes, self.dim)[self.index]


class Arith(nn.Module):
    """x op value (value op x with reverse), as Python operators."""

    def __init__(self, op: str, value: float, reverse: bool) -> None:
        super().__init__()
        self.op, self.value, self.reverse = op, value, reverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a: Any
        b: Any
        a, b = (self.value, x) if self.reverse else (x, self.value)
        if self.op == "add":
            return a + b
        if self.op == "sub":
            return a - b
        if self.op == "mul":
            return a * b
        if self.op == "div":
            return a / b
        return a ** b


class Learnable(nn.Module):
    """x + weight or x * weight, weight of a broadcastable shape."""

    def __init__(self, op: str, shape: tuple[int, ...], init: float) -> None:
        super().__init__()
        self.op = op
        self.weight = nn.Parameter(torch.full(shape, float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight if self.op == "add" else x * self.weight


class Affine(nn.Module):
    """torch.addcmul(bias, weight, x) (timm's Affine), or x * weight without bias; weight and
    bias have the size of `dim` and broadcast over the dims after it."""

    def __init__(self, size: int, dim: int, rank: int, bias: bool) -> None:
        super().__init__()
        d = dim % rank
        shape = (size, *([1] * (rank - 1 - d)))
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is None:
            return x * self.weight
        return torch.addcmul(self.bias, self.weight, x)


class Reduce(nn.Module):
    def __init__(self, op: str, dims: tuple[int, ...] | None, rank: int, keepdim: bool, p: float,
                 correction: int = 1) -> None:
        super().__init__()
        self.op, self.keepdim, self.p, self.correction = op, keepdim, p, correction
        self.dims = tuple(range(1, rank + 1)) if dims is None else tuple(torch_dim(d) for d in dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op == "norm":
            return torch.linalg.vector_norm(x, self.p, self.dims, self.keepdim)
        if self.op == "var":
            return x.var(self.dims, correction=self.correction, keepdim=self.keepdim)
        if self.op == "max":  # the values of torch.max(x, dim); it saves the indices
            return x.max(self.dims[0], keepdim=self.keepdim)[0]
        return getattr(x, self.op)(self.dims, keepdim=self.keepdim)


class Tokens(nn.Module):
    """ViT's class token: torch.cat((weight.expand(N, ...), x), 1)."""

    def __init__(self, count: int, rest: tuple[int, ...]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, count, *rest))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.weight.expand(x.shape[0], *self.weight.shape[1:]), x), 1)


class Binary(nn.Module):
    """a - b, a / b, torch.maximum, torch.minimum."""

    def __init__(self, op: str) -> None:
        super().__init__()
        self.op = op

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.op == "sub":
            return a - b
        if self.op == "div":
            return a / b
        return torch.maximum(a, b) if self.op == "maximum" else torch.minimum(a, b)


class Stack(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = torch_dim(dim)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.stack(xs, self.dim)

