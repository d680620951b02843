"""Matrix products of the input with a tensor computed from parameters and buffers only (a `CV`,
constants.py): relative position logits. The work is per sample (it scales with the batch), so
each is an ordinary row, the computed tensor an operand read by it.

- `q @ rel_k.transpose(-1, -2)` (timm's BoTNet, HaloNet, LambdaNet position embeddings): the
  transpose of a 2-D parameter is that parameter seen as a matrix: torch.matmul folds q to rows
  and multiplies them by it, a linear without bias by the parameter (its storage is the
  parameter's: nothing saved beyond q's rows).
"""
from __future__ import annotations

from typing import Any

from ..graphbuild import Unsupported
from .constants import CV
from .values import PV


def parameter_view(imp: Any, c: CV) -> PV:
    """c as the parameter it views (a 2-D parameter or its transpose, read in place: nothing
    made, nothing saved), or Unsupported."""
    params = list(c.params.values())
    t = c.tensor
    if len(params) != 1 or c.saved or t.dim() != 2:
        raise Unsupported(f"a matrix product by a {'x'.join(map(str, c.shape))} tensor computed from parameters and buffers only "
                          "(other than a 2-D parameter or its transpose)")
    p = params[0]
    same = t.untyped_storage().data_ptr() == p.untyped_storage().data_ptr() and t.storage_offset() == p.storage_offset()
    if not same or tuple(t.shape) not in (tuple(p.shape), tuple(p.shape)[::-1]) or t.stride() not in (
            p.stride(), p.stride()[::-1]) or (tuple(t.shape) != tuple(p.shape)) != (t.stride() != p.stride()):
        raise Unsupported(f"a matrix product by a {'x'.join(map(str, c.shape))} tensor computed from a parameter "
                          "(other than the parameter or its transpose)")
    return PV(c.source, p, c.shape)
