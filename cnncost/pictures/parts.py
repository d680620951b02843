"""What holds memory, in one order and one colour in every picture (the timeline's stack, the
breakdown's segments, bottom or left first): what lives the whole step (parameters, gradients,
optimizer state ...), then the batch and the activations, then their gradients."""
from __future__ import annotations

from collections.abc import Iterable

from ..memory.step import PARTS

# the lecture's "activations" (its 2 x activations: values and gradients) sits where the autograd
# model's activations do: after the input batch, before the activation gradients
ORDER = PARTS[:PARTS.index("saved for backward")] + ("activations",) + PARTS[PARTS.index("saved for backward"):]

COLORS = {
    "parameters": "#4e79a7", "gradients": "#f28e2b", "optimizer state": "#e15759",
    "optimizer temporaries": "#ff9d9a", "weight casts": "#b07aa1", "input batch": "#9c755f",
    "saved for backward": "#59a14f", "live activations": "#8cd17d", "activation gradients": "#edc948",
    "activations": "#499894", "recomputed": "#86bcb6", "gradient buckets": "#d37295",
    "all-gather buffer": "#fabfd2", "reduce-scatter buffer": "#b6992d", "buffers": "#a0cbe8",
    "op temporaries": "#bab0ac",
}


def ordered(parts: Iterable[str]) -> list[str]:
    """`parts` in ORDER (an unknown one last, in its given order)."""
    given = list(parts)
    rank = {part: i for i, part in enumerate(ORDER)}
    return sorted(given, key=lambda p: (rank.get(p, len(ORDER)), given.index(p)))


def color(part: str) -> str:
    return COLORS.get(part, "0.5")
