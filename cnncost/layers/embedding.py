"""`embedding` (`nn.Embedding`): a table of `num_embeddings` vectors of `embedding_dim`, looked up
by integer ids: ids of any per-sample shape (L,) -> (L, embedding_dim). params = num x dim; MACs 0
(a gather, no arithmetic).

The ids are integers: an input of the net that only embeddings read holds ids (int64, each below
the smallest `num_embeddings` of its readers): `ids_inputs` says which, and the memory model
(8 bytes per element) and `check` (random ids, not random floats) follow it. No spec syntax is
needed for it, so every input form stays as it is:

    input: [16]                      # 16 token ids per sample
    layers:
      - {name: tok, type: embedding, num_embeddings: 1000, embedding_dim: 64}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..shapes import Shape
from .base import Layer, register


@register("embedding")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Embedding(Layer):
    """Row i of a (num_embeddings, embedding_dim) table for each id i: a new tensor of the ids'
    shape plus a last dim of embedding_dim. `padding_idx` (negative: from the end): that row gets
    no gradient (its count is the same). Autograd saves the ids (measured, torch 2.13 CPU)."""

    num_embeddings: int
    embedding_dim: int
    padding_idx: int | None = None

    def validate(self) -> None:
        self.require_positive(num_embeddings=self.num_embeddings, embedding_dim=self.embedding_dim)
        if self.padding_idx is not None:
            self.require(-self.num_embeddings <= self.padding_idx < self.num_embeddings,
                         f"padding_idx must be within num_embeddings ({self.num_embeddings}), got {self.padding_idx}")

    def out_shape(self, x: Shape) -> Shape:
        return (*x, self.embedding_dim)

    def params(self, x: Shape) -> int:
        return self.num_embeddings * self.embedding_dim

    def describe(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx {self.padding_idx}"
        return f"{self.num_embeddings} x {self.embedding_dim}{pad}"


def ids_inputs(graph: Any) -> dict[int, int]:
    """The net's inputs that hold integer ids, as {input node index: the ids' bound}: an input that
    embeddings (or shared calls of one) and nothing else read; the bound is the smallest
    num_embeddings among them."""
    readers: dict[int, list[Any]] = {i: [] for i in graph.inputs}
    for node in graph.nodes[1:]:
        for i in node.inputs:
            if i in readers:
                readers[i].append(getattr(node.layer, "inner", node.layer))
    return {i: min(layer.num_embeddings for layer in layers) for i, layers in readers.items()
            if layers and all(isinstance(layer, Embedding) for layer in layers)}
