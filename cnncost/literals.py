"""The string options of the public API as `Literal` types: what an editor completes and a type
checker checks (the calls also accept their case variants and refuse anything else in one line)."""
from __future__ import annotations

from typing import Literal

# storage dtypes (`conventions.DTYPE_BYTES`) and their aliases (`conventions.DTYPE_ALIASES`)
DType = Literal["fp32", "tf32", "fp16", "bf16", "fp64", "int8",
                "float32", "float16", "half", "bfloat16", "float64", "double", "float"]
Optimizer = Literal["sgd", "momentum", "adam", "adamw"]  # `conventions.OPTIMIZER_COPIES`
ActivationCount = Literal["all", "lecture"]
MemoryConvention = Literal["lecture", "autograd"]
Mode = Literal["train", "inference"]
Device = Literal["cuda", "cpu"]
BudgetOf = Literal["allocated", "reserved", "nvidia-smi"]  # what `fit`'s budget bounds
