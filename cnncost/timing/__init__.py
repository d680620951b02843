"""The time model: bytes moved and work per op (`passes`), a roofline per pass (`model`) and a
training step's time on a hardware profile (`step`). See docs/time.md.

>>> import cnncost
>>> r = cnncost.table("resnet18", batch=32, memory="autograd", hardware="a100-sxm4-80gb")
>>> r.timing.expected.step_seconds > r.timing.bound.step_seconds > 0
True
"""
from __future__ import annotations

from .amount import Amount
from .model import BOUNDS, PassTime, Rates
from .passes import PASSES, NodeCost, PassCost, node_costs
from .step import CONVENTION, StepTime, Timing, step_costs, time_step

__all__ = ["Amount", "BOUNDS", "PASSES", "CONVENTION", "NodeCost", "PassCost", "PassTime", "Rates", "StepTime",
           "Timing", "node_costs", "step_costs", "time_step"]
