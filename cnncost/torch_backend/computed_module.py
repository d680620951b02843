"""The torch module of `computed` (layers/computed.py) for `check`: x op c, c a tensor of the
layer's shape made of `weights` parameters, saving for backward what the layer's memory rule says
(x for mul and div, and `saved` elements once per forward), through a custom autograd function
that saves exactly those. The MACs of making c once per forward (`macs_once`) and of its
backward run as matrix products of those sizes, which FlopCounterMode counts as the real ones."""
from __future__ import annotations

import operator
from typing import Any

import torch
from torch import nn

from ..memory.computed_rules import saves_x


def _reduce_to(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """`grad` summed over the dims `shape` broadcast over."""
    while grad.dim() > len(shape):
        grad = grad.sum(0)
    for i, size in enumerate(shape):
        if size == 1 and grad.shape[i] != 1:
            grad = grad.sum(i, keepdim=True)
    return grad


# Python's operators, not torch.add & co., which some peer tools patch and count
_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


class _Apply(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, c: torch.Tensor, op: str, reverse: bool, save_x: bool,
                saved: int) -> torch.Tensor:
        kept = [torch.empty(saved, dtype=c.dtype)] if saved else []
        ctx.save_for_backward(*([x] if save_x else []), *kept)
        ctx.c, ctx.op, ctx.reverse, ctx.x = c.detach(), op, reverse, None if save_x else x.detach()
        a, b = (c, x) if reverse else (x, c)
        return _OPS[op](a, b)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple:
        x = ctx.saved_tensors[0] if ctx.x is None else ctx.x
        c, op = ctx.c, ctx.op
        if op == "add":
            gx, gc = g, g
        elif op == "sub":  # x - c, or c - x
            gx, gc = (-g, g) if ctx.reverse else (g, -g)
        elif op == "mul":
            gx, gc = g * c, g * x
        elif not ctx.reverse:  # x / c
            gx, gc = g / c, -g * x / (c * c)
        else:  # c / x
            gx, gc = -g * c / (x * x), g / x
        return gx, _reduce_to(gc, c.shape), None, None, None, None


class _Made(torch.autograd.Function):
    """x itself, saving `saved` elements of c's dtype and `low` of `dtype` (the op `weight`'s
    fixed bytes)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, c: torch.Tensor, saved: int, low: int, dtype: Any) -> torch.Tensor:
        ctx.save_for_backward(torch.empty(saved, dtype=c.dtype), *([torch.empty(low, dtype=dtype)] if low else []))
        ctx.c = c.detach()
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple:
        return g, torch.zeros_like(ctx.c), None, None, None


def _products(macs: int) -> list[tuple[int, int, int]]:
    """(m, k, n) matrix products of `macs` MACs in all, none larger than 1024 x 1024 x 1024."""
    out = []
    for m, k, n in ((1024, 1024, 1024), (1, 1024, 1024), (1, 1024, 1), (1, 1, 1)):
        count, macs = divmod(macs, m * k * n)
        out += [(m, k, n)] * count
    return out


def _run(macs: int, dtype: Any) -> None:
    for m, k, n in _products(macs):
        torch.mm(torch.zeros(m, k, dtype=dtype), torch.zeros(k, n, dtype=dtype))


class _Work(torch.autograd.Function):
    """c itself (a new tensor), after `macs` MACs of work, and `grad_macs` in backward."""

    @staticmethod
    def forward(ctx: Any, c: torch.Tensor, macs: int, grad_macs: int) -> torch.Tensor:
        _run(macs, c.dtype)
        ctx.grad_macs = grad_macs
        return c.clone()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple:
        _run(ctx.grad_macs, g.dtype)
        return g, None, None


class Computed(nn.Module):
    """x op c; c = a constant of `shape` plus the sum of `weights` parameters (a sum and an add
    save nothing, as the gathers and concatenations that make a real c)."""

    base: torch.Tensor  # a buffer (register_buffer)

    def __init__(self, layer: Any) -> None:
        super().__init__()
        self.op, self.reverse, self.saved = layer.op, layer.reverse, layer.saved
        self.save_x = saves_x(layer)
        # frozen parameters (grad false): c needs no gradient
        self.weight = nn.Parameter(torch.zeros(layer.weights), requires_grad=layer.grad) if layer.weights else None
        self.register_buffer("base", torch.ones(layer.shape if layer.shape else ()), persistent=False)
        self.needs_grad = layer.grad and not layer.weights
        self.macs_once, self.grad_macs_once = layer.macs_once, layer.input_grad_macs_once + layer.weight_grad_macs_once

    def tensor_macs(self, args: tuple, output: torch.Tensor) -> int:
        """The MACs of making c, once per forward whatever the batch (the products `_Work` runs,
        which FlopCounterMode measures apart as FLOPs)."""
        return self.macs_once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.base if self.weight is None else self.base + self.weight.sum()
        if self.macs_once:  # the work of making c, once per forward
            c = _Work.apply(c, self.macs_once, self.grad_macs_once)
        if self.op == "expand":  # c per sample: a new tensor of the batch's size
            if self.needs_grad:
                c = c.detach().requires_grad_()
            if self.saved:
                c = _Made.apply(c, c, self.saved, 0, None)
            return c.expand(x.shape[0], *c.shape).contiguous()
        if self.op == "tensor":  # c itself, one for the batch (a leading 1 that broadcasts over it)
            if self.needs_grad:
                c = c.detach().requires_grad_()
            return _Made.apply(c, c, self.saved, 0, None).unsqueeze(0) if self.saved else c.unsqueeze(0)
        if self.op == "weight":  # c the next op's weight, saved by it in fp32
            if not c.requires_grad:  # made of the weight alone (the conv counts it): saved all the same
                c = c.detach().requires_grad_()
            if torch.is_autocast_enabled(x.device.type):  # the next op saves its low cast of c: as the
                return _Made.apply(x, c, self.saved, 0, None)  # rebuilt conv's own weight cast, same bytes
            return _Made.apply(x, c, self.saved + c.numel(), 0, None)
        if self.needs_grad:  # grad without parameters (never imported: kept for a hand-written spec)
            c = c.detach().requires_grad_()
        return _Apply.apply(x, c, self.op, self.reverse, self.save_x, self.saved)


