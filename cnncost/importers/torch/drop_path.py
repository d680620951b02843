"""timm's DropPath in training mode as torch.export decomposes it (a module fx could not trace
into, walked in ATen): `x.new_empty((N, 1, ..., 1)).bernoulli_(keep).div_(keep)`, then `x * mask`;
torchvision's stochastic_depth makes its mask with `torch.empty((N, 1, ..., 1))` instead.
The mask is no activation: it is carried as a `DropMask` until the product, which becomes the
`stochastic_depth` row (per sample) that fx's leaf DropPath maps to. Autograd saves the same for
both: MulBackward0 keeps the mask (one element per sample, x's dtype), not x."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...layers import StochasticDepth
from ..graphbuild import TV, Unsupported
from .values import BATCH, arg, mutating
from .walker import GraphWalker


@dataclass(frozen=True)
class DropMask:
    """A per-sample random mask of `rank` dims besides the batch (shaped like `like` over its batch
    where x made it): `keep` once bernoulli_ filled it, `scaled` once divided by keep."""
    like: TV | None
    rank: int
    keep: float | None = None
    scaled: bool = False


def new_empty(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> DropMask:
    """x.new_empty(size): only DropPath's (batch, 1, ..., 1) over x's rank."""
    x, size = args[0], tuple(arg(args, kwargs, 1, "size"))
    if not isinstance(x, TV) or x.folded or len(size) != len(x.shape) + 1 or size[0] != BATCH \
            or any(s != 1 for s in size[1:]):
        raise Unsupported(f"new_empty of size {size} (only a per-sample mask of the input's rank)")
    return DropMask(x, len(x.shape))


def is_empty_mask(node: Any, args: tuple) -> bool:
    """torch.empty((N, 1, ..., 1)): the start of torchvision's stochastic_depth mask."""
    packet = getattr(getattr(node.target, "overloadpacket", None), "__name__", "")
    size = args[0] if args else None
    return packet == "empty" and isinstance(size, (list, tuple)) and len(size) > 1 and size[0] == BATCH \
        and all(s == 1 for s in size[1:])


def empty_mask(size: tuple) -> DropMask:
    return DropMask(None, len(size) - 1)


def step(imp: GraphWalker, node: Any, args: tuple, kwargs: dict) -> DropMask:
    """bernoulli_(mask, keep), then mask.div_(keep) (in place or not: the same values)."""
    mask, op = args[0], getattr(getattr(node.target, "overloadpacket", None), "__name__", str(node.target))
    if op == "bernoulli_" and isinstance(mask, DropMask) and mask.keep is None:
        keep = arg(args, kwargs, 1, "p", 0.5)
        if isinstance(keep, (int, float)) and 0 < keep <= 1:
            return DropMask(mask.like, mask.rank, float(keep))
    if op in ("div", "div_") and isinstance(mask, DropMask) and mask.keep is not None and not mask.scaled \
            and arg(args, kwargs, 1, "other") == mask.keep:
        return DropMask(mask.like, mask.rank, mask.keep, True)
    raise Unsupported(f"{op} of a drop-path mask other than bernoulli_(keep) then div_(keep)")


def mul(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x * mask (either order): the stochastic_depth row, with p = 1 - keep."""
    a, b = args[0], arg(args, kwargs, 1, "other")
    if isinstance(a, DropMask):
        a, b = b, a
    if mutating(node) or not (isinstance(a, TV) and isinstance(b, DropMask) and b.scaled and b.keep is not None and not a.folded
                              and len(a.shape) == b.rank
                              and (b.like is None or (a.shape == b.like.shape and a.form == b.like.form))):
        raise Unsupported("a product with a drop-path mask other than x * mask.div_(keep)")
    x = imp.tensor(a, ("std", "nhwc"))
    p = float(f"{1.0 - b.keep:.12g}")  # 1 - 0.9 prints as 0.09999999999999998: the drop_prob written
    return imp.emit(StochasticDepth(p=p, mode="row"), [x], x.shape, form=x.form)
