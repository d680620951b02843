"""Handlers of `nn.Embedding`, `F.embedding` and `aten.embedding`: a table of parameters looked up
by integer ids (`layers.embedding.Embedding`). The ids are an input of the net (or a view of
one); `tracing.id_inputs` feeds such inputs integer example ids."""
from __future__ import annotations

from typing import Any

from ...layers.embedding import Embedding
from ..graphbuild import TV, Unsupported
from .values import PV, arg, params_of
from .walker import GraphWalker


def _embedding(imp: GraphWalker, ids: Any, weight_shape: Any, padding_idx: Any, max_norm: Any, result: Any,
               params: list) -> TV:
    if max_norm is not None:
        raise Unsupported("embedding with max_norm (it renormalises the table's rows in place)")
    num, dim = (int(d) for d in weight_shape)
    pad = None if padding_idx is None else int(padding_idx)
    layer = Embedding(num_embeddings=num, embedding_dim=dim, padding_idx=pad)
    return imp.emit(layer, [imp.tensor(ids)], imp.out(result), params=params)


def m_embedding(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "Embedding":
        raise Unsupported("")
    ids = arg(args, kwargs, 0, "input")
    return _embedding(imp, ids, m.weight.shape, m.padding_idx, m.max_norm, result, list(m.parameters()))


def embedding_call(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.embedding(input, weight, padding_idx=None, max_norm=None, ...)."""
    weight = arg(args, kwargs, 1, "weight")
    if not isinstance(weight, PV):
        raise Unsupported("embedding of a table computed in the forward")
    return _embedding(imp, arg(args, kwargs, 0, "input"), weight.shape, arg(args, kwargs, 2, "padding_idx"),
                      arg(args, kwargs, 3, "max_norm"), result, params_of(weight))


def aten_embedding(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.embedding(weight, indices, padding_idx=-1, ...): -1 is no padding row."""
    weight = arg(args, kwargs, 0, "weight")
    if not isinstance(weight, PV):
        raise Unsupported("embedding of a table computed in the forward")
    pad = arg(args, kwargs, 2, "padding_idx", -1)
    return _embedding(imp, arg(args, kwargs, 1, "indices"), weight.shape, None if pad == -1 else pad, None, result,
                      params_of(weight))
