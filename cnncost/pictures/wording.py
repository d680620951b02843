"""What an axis says: the quantity in words, its unit, and per what (per image, per batch of N,
per model), never a column's name. The ticks carry the prefixes (`ticks`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    words: str  # what the axis shows, in a sentence's words
    kind: str  # ticks.KINDS: bytes, count or seconds
    unit: str = ""  # a count's unit on the ticks: FLOP, MAC ('' for a plain count)
    per: str = "batch"  # batch: grows with the batch; image: per image whatever the batch; model: neither


QUANTITIES = {
    "params": Quantity("parameters", "count", per="model"),
    "macs": Quantity("MACs", "count", "MAC"),
    "flops": Quantity("FLOPs (2 x MACs)", "count", "FLOP"),
    "macs_per_image": Quantity("MACs", "count", "MAC", per="image"),
    "flops_per_image": Quantity("FLOPs (2 x MACs)", "count", "FLOP", per="image"),
    "activations": Quantity("activations (tensor elements)", "count"),
    "backward_flops": Quantity("backward FLOPs", "count", "FLOP"),
    "training_flops": Quantity("training FLOPs (forward + backward)", "count", "FLOP"),
    "activation_memory_bytes": Quantity("activation memory (the lecture's 2 x activations)", "bytes"),
    "param_memory_bytes": Quantity("parameter memory (the lecture's k x params)", "bytes", per="model"),
    "memory_bytes": Quantity("training memory (the lecture's rule)", "bytes"),
    "saved_bytes": Quantity("bytes saved for backward", "bytes"),
    "peak_bytes": Quantity("training-step peak", "bytes"),
    "live_bytes": Quantity("bytes held (inference)", "bytes"),
    "forward_seconds": Quantity("forward time (expected)", "seconds"),
    "backward_seconds": Quantity("backward time (expected)", "seconds"),
}
UNIT_NOTES = {"bytes": "IEC: MiB = 2^20 bytes", "seconds": "seconds", "count": "SI: M = 10^6, G = 10^9"}


def quantity(column: str) -> Quantity:
    """The column's wording; an unlisted one: its name in words, a count per batch."""
    known = QUANTITIES.get(column)
    if known is not None:
        return known
    kind = "bytes" if column.endswith("bytes") else "seconds" if column.endswith("seconds") else "count"
    return Quantity(column.replace("_", " "), kind)


def per_words(per: str, batch: int | None) -> str:
    """'per image', 'per batch of 64', 'per batch' (batch varies or unknown), '' (per model)."""
    if per == "model":
        return ""
    if per == "image" or batch == 1:
        return "per image"
    return f"per batch of {batch:,}" if batch is not None else "per batch"


def axis_label(column: str, batch: int | None, extra: str = "") -> str:
    """'FLOPs (2 x MACs) per batch of 128 (FLOP; SI: M = 10^6, G = 10^9)', then `extra`
    after a comma ('log scale')."""
    q = quantity(column)
    unit = f"{q.unit}; " if q.unit else ""
    label = " ".join(p for p in (q.words, per_words(q.per, batch)) if p) + f" ({unit}{UNIT_NOTES[q.kind]})"
    return f"{label}, {extra}" if extra else label
