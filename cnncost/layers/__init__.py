"""Every layer and block type; importing this package registers them all."""
from .base import LAYER_TYPES, Block, Layer, Merge, Node, Ref, Visit, register
from .act import GELU, Hardswish, LeakyReLU, ReLU, ReLU6, Sigmoid, SiLU, Tanh
from .blocks import Concat, Gate, Repeat, Residual, Sequential, Side, SqueezeExcite
from .conv import Conv
from .linear import Dropout, Flatten, Linear
from .merge import Add, ConcatMerge, Mul
from .norm import LRN, BatchNorm
from .pool import AdaptiveAvgPool, AvgPool, GlobalAvgPool, MaxPool

__all__ = [
    "LAYER_TYPES", "Block", "Layer", "Node", "Ref", "Visit", "Merge", "register",
    "Conv", "MaxPool", "AvgPool", "AdaptiveAvgPool", "GlobalAvgPool", "BatchNorm", "LRN",
    "ReLU", "ReLU6", "LeakyReLU", "SiLU", "Hardswish", "Sigmoid", "Tanh", "GELU",
    "Dropout", "Flatten", "Linear", "Add", "Mul", "ConcatMerge",
    "Sequential", "Repeat", "Concat", "Residual", "Gate", "SqueezeExcite", "Side",
]
