"""Memory rules of the rest of torch.nn's activations (memory/rules.py's RULES names them)."""
from __future__ import annotations

from typing import Any

from ..layers.act import GLU, PReLU, RReLU
from ..shapes import Shape
from .builder import StepBuilder
from .tensors import Tensor


# --- the rest of torch.nn's activations (measured, torch 2.13 CPU, fp32 and bf16 autocast: every
# one saves in its input's dtype; ELU, SELU and CELU as leaky_relu; threshold as relu6) ---

def glu(layer: GLU, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Its input (the output is half of it along dim)."""
    b.save(x)
    return b.like(x, y)


def input_and_new(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Its input and one intermediate of its size: softsign's 1 + |x| (x / (1 + |x|) is
    composite), log_sigmoid's buffer."""
    b.save(x, b.like(x))
    return b.like(x)


def new_of_input(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """One intermediate of the input's size: tanhshrink (x - tanh(x)) keeps tanh's output."""
    b.save(b.like(x))
    return b.like(x)


def rrelu(layer: RReLU, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Training: the random slopes (a noise tensor of the input's size) and the input; in place
    the input's storage is the output's."""
    b.save(b.like(x), x)
    return x if layer.inplace else b.like(x)


def prelu(layer: PReLU, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Its input and the slope; under autocast a low copy of the slope (a parameter cast)."""
    b.save(x)
    if b.precision.autocast and x.dtype != b.precision.param_dtype:
        b.cast_params(layer.num_parameters, 0)
    return b.like(x)
