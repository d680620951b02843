"""`Amount`: an exact count linear in the batch, per_sample x batch + fixed (bytes or ops), as the
memory model's `Bytes`: what lets the time at any batch be two multiplications and an addition
(sweeps evaluate it on arrays of batches)."""
from __future__ import annotations


class Amount:
    """per_sample x batch + fixed, exact ints; immutable by convention (slotted, not a frozen
    dataclass: one per node and pass)."""

    __slots__ = ("per_sample", "fixed")

    def __init__(self, per_sample: int = 0, fixed: int = 0) -> None:
        self.per_sample, self.fixed = per_sample, fixed

    def at(self, batch):  # an int, or a numpy array of batches
        return self.per_sample * batch + self.fixed

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.per_sample + other.per_sample, self.fixed + other.fixed)

    def scaled(self, factor: int) -> Amount:
        return Amount(self.per_sample * factor, self.fixed * factor)

    def __bool__(self) -> bool:
        return bool(self.per_sample or self.fixed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Amount):
            return NotImplemented
        return self.per_sample == other.per_sample and self.fixed == other.fixed

    def __hash__(self) -> int:
        return hash((self.per_sample, self.fixed))

    def __repr__(self) -> str:
        return f"Amount(per_sample={self.per_sample!r}, fixed={self.fixed!r})"


NONE = Amount()
