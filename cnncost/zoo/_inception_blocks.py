"""The modules of Inception v3, Inception-v4 and Inception-ResNet-v2, each defined once as a
function of its channel counts, with the reference implementation's defaults.

Every conv is a "basic conv": conv (no bias) -> batch norm (eps 1e-3) -> ReLU, as torchvision's
`BasicConv2d` and timm's `ConvNormAct`. Names follow the reference modules so that a path like
`Mixed_6e.branch7x7dbl.branch7x7dbl_3.conv` (torchvision) or `features.18.branch1.0.conv` (timm)
maps onto the reference module path; a multi-conv branch adds one level, the branch's own name.
"""
from __future__ import annotations

import dataclasses

from ..layers import (AvgPool, BatchNorm, Concat, Conv, Flatten, GlobalAvgPool, Linear, MaxPool,
                      Node, ReLU, Residual, Sequential, Side)
from ..layers.conv import Sizes


def basic_conv(name: str | None, out: int, kernel: Sizes, stride: int = 1, padding: Sizes = 0,
               *, pool: Node | None = None) -> Sequential:
    """conv -> bn -> relu, named <name>.conv, .bn, .relu; `pool` goes first (an Inception pool branch)."""
    return Sequential(name=name, layers=(
        *((pool,) if pool is not None else ()),
        Conv(name="conv", out=out, kernel=kernel, stride=stride, padding=padding, bias=False),
        BatchNorm(name="bn", eps=1e-3),
        ReLU(name="relu"),
    ))


def row(name: str, out: int, n: int) -> Sequential:
    """A 1xn basic conv that keeps the size: half of a factorised nxn (Inception v3, Figure 6)."""
    return basic_conv(name, out, (1, n), padding=(0, n // 2))


def col(name: str, out: int, n: int) -> Sequential:
    """An nx1 basic conv that keeps the size."""
    return basic_conv(name, out, (n, 1), padding=(n // 2, 0))


def split(name: str, width: int) -> Concat:
    """Parallel 1x3 and 3x1 convs on one input, named <name>a and <name>b (Inception v3, Figure 7)."""
    return Concat(name=name, branches=(row(f"{name}a", width, 3), col(f"{name}b", width, 3)))


def chain(name: str, *units: Node) -> Sequential:
    return Sequential(name=name, layers=units)


def avg3(name: str, *, count_include_pad: bool = True) -> AvgPool:
    """The 3x3/1 average pool of the pool branches (timm's excludes the padding from the mean)."""
    return AvgPool(name=name, kernel=3, stride=1, padding=1, count_include_pad=count_include_pad)


def max3s2(name: str) -> MaxPool:
    """The 3x3/2 unpadded max pool of every grid reduction."""
    return MaxPool(name=name, kernel=3, stride=2)


# --- Inception v3, torchvision layout (= the TF-slim model, not the paper's Table 1) ---

def inception_v3_a(name: str, *, pool_proj: int, c1x1: int = 64, c5x5: tuple[int, int] = (48, 64),
                   c3x3dbl: tuple[int, int, int] = (64, 96, 96)) -> Concat:
    """35x35 module (torchvision InceptionA; the paper's Figure 5, but this keeps a 5x5 branch)."""
    return Concat(name=name, branches=(
        basic_conv("branch1x1", c1x1, 1),
        chain("branch5x5", basic_conv("branch5x5_1", c5x5[0], 1),
              basic_conv("branch5x5_2", c5x5[1], 5, padding=2)),
        chain("branch3x3dbl", basic_conv("branch3x3dbl_1", c3x3dbl[0], 1),
              basic_conv("branch3x3dbl_2", c3x3dbl[1], 3, padding=1),
              basic_conv("branch3x3dbl_3", c3x3dbl[2], 3, padding=1)),
        basic_conv("branch_pool", pool_proj, 1, pool=avg3("pool")),
    ))


def inception_v3_b(name: str, *, c3x3: int = 384, c3x3dbl: tuple[int, int, int] = (64, 96, 96)) -> Concat:
    """35x35 -> 17x17 grid reduction (torchvision InceptionB; the paper's Figure 10)."""
    return Concat(name=name, branches=(
        basic_conv("branch3x3", c3x3, 3, stride=2),
        chain("branch3x3dbl", basic_conv("branch3x3dbl_1", c3x3dbl[0], 1),
              basic_conv("branch3x3dbl_2", c3x3dbl[1], 3, padding=1),
              basic_conv("branch3x3dbl_3", c3x3dbl[2], 3, stride=2)),
        max3s2("branch_pool"),
    ))


def inception_v3_c(name: str, *, c7: int, out: int = 192) -> Concat:
    """17x17 module with 7x7 convs factorised into 1x7 and 7x1 (torchvision InceptionC; Figure 6)."""
    return Concat(name=name, branches=(
        basic_conv("branch1x1", out, 1),
        chain("branch7x7", basic_conv("branch7x7_1", c7, 1), row("branch7x7_2", c7, 7),
              col("branch7x7_3", out, 7)),
        chain("branch7x7dbl", basic_conv("branch7x7dbl_1", c7, 1), col("branch7x7dbl_2", c7, 7),
              row("branch7x7dbl_3", c7, 7), col("branch7x7dbl_4", c7, 7), row("branch7x7dbl_5", out, 7)),
        basic_conv("branch_pool", out, 1, pool=avg3("pool")),
    ))


def inception_v3_d(name: str, *, c3x3: tuple[int, int] = (192, 320), c7x7x3: int = 192) -> Concat:
    """17x17 -> 8x8 grid reduction (torchvision InceptionD)."""
    return Concat(name=name, branches=(
        chain("branch3x3", basic_conv("branch3x3_1", c3x3[0], 1),
              basic_conv("branch3x3_2", c3x3[1], 3, stride=2)),
        chain("branch7x7x3", basic_conv("branch7x7x3_1", c7x7x3, 1), row("branch7x7x3_2", c7x7x3, 7),
              col("branch7x7x3_3", c7x7x3, 7), basic_conv("branch7x7x3_4", c7x7x3, 3, stride=2)),
        max3s2("branch_pool"),
    ))


def inception_v3_e(name: str, *, c1x1: int = 320, c3x3: int = 384, c3x3dbl: tuple[int, int] = (448, 384),
                   pool_proj: int = 192) -> Concat:
    """8x8 module whose 3x3s end in parallel 1x3 and 3x1 convs (torchvision InceptionE; Figure 7)."""
    return Concat(name=name, branches=(
        basic_conv("branch1x1", c1x1, 1),
        chain("branch3x3", basic_conv("branch3x3_1", c3x3, 1), split("branch3x3_2", c3x3)),
        chain("branch3x3dbl", basic_conv("branch3x3dbl_1", c3x3dbl[0], 1),
              basic_conv("branch3x3dbl_2", c3x3dbl[1], 3, padding=1), split("branch3x3dbl_3", c3x3dbl[1])),
        basic_conv("branch_pool", pool_proj, 1, pool=avg3("pool")),
    ))


def inception_v3_aux(classes: int) -> Side:
    """The auxiliary classifier on the 17x17 grid (torchvision InceptionAux; it runs in training only)."""
    return Side(name="AuxLogits", layers=(
        AvgPool(name="pool", kernel=5, stride=3),
        basic_conv("conv0", 128, 1),
        basic_conv("conv1", 768, 5),
        GlobalAvgPool(name="avgpool"),
        Flatten(name="flatten"),
        Linear(name="fc", out=classes),
    ))


# --- Inception-v4 and Inception-ResNet-v2, timm layout (Szegedy et al. 2016) ---
# timm numbers the convs of a multi-conv branch 0, 1, ...; so does `seq`.

def seq(name: str, *units: Node) -> Sequential:
    """A branch whose units are named by position, "0", "1", ..., as timm's nn.Sequential names them."""
    return Sequential(name=name, layers=tuple(dataclasses.replace(u, name=str(i)) for i, u in enumerate(units)))


def cbr(out: int, kernel: Sizes, stride: int = 1, padding: Sizes = 0) -> Sequential:
    """An unnamed basic conv, for `seq` to number."""
    return basic_conv(None, out, kernel, stride, padding)


def cbr_row(out: int, n: int) -> Sequential:
    return cbr(out, (1, n), padding=(0, n // 2))


def cbr_col(out: int, n: int) -> Sequential:
    return cbr(out, (n, 1), padding=(n // 2, 0))


def pool_branch(name: str, pool_proj: int) -> Sequential:
    """timm's pool branch: 3x3 average (padding excluded from the mean) -> 1x1 basic conv."""
    return Sequential(name=name, layers=(avg3("0", count_include_pad=False),
                                         basic_conv("1", pool_proj, 1)))


def inception_v4_stem() -> list[Node]:
    """299x299x3 -> 35x35x384 (the paper's Figure 3): timm's features.0 to features.5."""
    return [
        basic_conv("0", 32, 3, stride=2), basic_conv("1", 32, 3), basic_conv("2", 64, 3, padding=1),
        Concat(name="3", branches=(max3s2("maxpool"), basic_conv("conv", 96, 3, stride=2))),
        Concat(name="4", branches=(
            seq("branch0", cbr(64, 1), cbr(96, 3)),
            seq("branch1", cbr(64, 1), cbr_row(64, 7), cbr_col(64, 7), cbr(96, 3)))),
        Concat(name="5", branches=(basic_conv("conv", 192, 3, stride=2), max3s2("maxpool"))),
    ]


def inception_v4_a(name: str) -> Concat:
    """35x35 module, 384 -> 384 channels (Figure 4)."""
    return Concat(name=name, branches=(
        basic_conv("branch0", 96, 1),
        seq("branch1", cbr(64, 1), cbr(96, 3, padding=1)),
        seq("branch2", cbr(64, 1), cbr(96, 3, padding=1), cbr(96, 3, padding=1)),
        pool_branch("branch3", 96),
    ))


def reduction_a(name: str, *, k: int, l: int, m: int, n: int) -> Concat:
    """35x35 -> 17x17 (Figure 7), with the paper's Table 1 filter counts k, l, m, n."""
    return Concat(name=name, branches=(
        basic_conv("branch0", n, 3, stride=2),
        seq("branch1", cbr(k, 1), cbr(l, 3, padding=1), cbr(m, 3, stride=2)),
        max3s2("branch2"),
    ))


def inception_v4_b(name: str) -> Concat:
    """17x17 module, 1024 -> 1024 channels (Figure 5)."""
    return Concat(name=name, branches=(
        basic_conv("branch0", 384, 1),
        seq("branch1", cbr(192, 1), cbr_row(224, 7), cbr_col(256, 7)),
        seq("branch2", cbr(192, 1), cbr_col(192, 7), cbr_row(224, 7), cbr_col(224, 7), cbr_row(256, 7)),
        pool_branch("branch3", 128),
    ))


def reduction_b(name: str) -> Concat:
    """17x17 -> 8x8, 1024 -> 1536 channels (Figure 8)."""
    return Concat(name=name, branches=(
        seq("branch0", cbr(192, 1), cbr(192, 3, stride=2)),
        seq("branch1", cbr(256, 1), cbr_row(256, 7), cbr_col(320, 7), cbr(320, 3, stride=2)),
        max3s2("branch2"),
    ))


def inception_v4_c(name: str) -> Concat:
    """8x8 module, 1536 -> 1536 channels, with split 1x3 / 3x1 ends (Figure 6)."""
    return Concat(name=name, branches=(
        basic_conv("branch0", 256, 1),
        chain("branch1", basic_conv("branch1_0", 384, 1), split("branch1_1", 256)),
        chain("branch2", basic_conv("branch2_0", 384, 1), col("branch2_1", 448, 3),
              row("branch2_2", 512, 3), split("branch2_3", 256)),
        pool_branch("branch3", 256),
    ))


def inception_resnet_v2_5b() -> Concat:
    """The 35x35 module that ends timm's Inception-ResNet-v2 stem: 192 -> 320 channels."""
    return Concat(name="mixed_5b", branches=(
        basic_conv("branch0", 96, 1),
        seq("branch1", cbr(48, 1), cbr(64, 5, padding=2)),
        seq("branch2", cbr(64, 1), cbr(96, 3, padding=1), cbr(96, 3, padding=1)),
        pool_branch("branch3", 64),
    ))


def _residual(name: str, branches: tuple[Node, ...], channels: int, scale: float) -> Residual:
    """x + scale * conv1x1(concat(branches)): the 1x1 (with bias) restores the input's width."""
    return Residual(name=name, scale=scale, layers=(
        Concat(name="mixed", branches=branches), Conv(name="conv2d", out=channels, kernel=1)))


def block35(scale: float, channels: int = 320, name: str = "residual") -> Residual:
    """Inception-ResNet-A, 35x35 (Figure 16)."""
    return _residual(name, (
        basic_conv("branch0", 32, 1),
        seq("branch1", cbr(32, 1), cbr(32, 3, padding=1)),
        seq("branch2", cbr(32, 1), cbr(48, 3, padding=1), cbr(64, 3, padding=1)),
    ), channels, scale)


def block17(scale: float, channels: int = 1088, name: str = "residual") -> Residual:
    """Inception-ResNet-B, 17x17 (Figure 17)."""
    return _residual(name, (
        basic_conv("branch0", 192, 1),
        seq("branch1", cbr(128, 1), cbr_row(160, 7), cbr_col(192, 7)),
    ), channels, scale)


def block8(scale: float, channels: int = 2080, name: str = "residual") -> Residual:
    """Inception-ResNet-C, 8x8 (Figure 19)."""
    return _residual(name, (
        basic_conv("branch0", 192, 1),
        seq("branch1", cbr(192, 1), cbr_row(224, 3), cbr_col(256, 3)),
    ), channels, scale)


def inception_resnet_v2_7a() -> Concat:
    """17x17 -> 8x8, 1088 -> 2080 channels (Figure 18)."""
    return Concat(name="mixed_7a", branches=(
        seq("branch0", cbr(256, 1), cbr(384, 3, stride=2)),
        seq("branch1", cbr(256, 1), cbr(288, 3, stride=2)),
        seq("branch2", cbr(256, 1), cbr(288, 3, padding=1), cbr(320, 3, stride=2)),
        max3s2("branch3"),
    ))
