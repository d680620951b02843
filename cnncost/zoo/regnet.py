"""RegNet (Radosavovic et al. 2020) as torchvision builds it: RegNetX and RegNetY (= X + SE).

A RegNet is four parameters and a group width. Block j (of `depth`) wants the width
u_j = w_0 + w_a * j; it is snapped to the geometric grid w_0 * w_m^k (k = round(log_{w_m}(u_j / w_0))),
then to a multiple of 8; consecutive blocks of one width form a stage. Then each stage's width is
made divisible by its group width (`_make_divisible`), the group width first clipped to the stage
width. Every stage starts with a stride-2 block; a block is the ResNeXt bottleneck without
expansion (1x1, grouped 3x3, 1x1; bottleneck ratio 1), in Y with squeeze-and-excitation after the
3x3, squeezing to se_ratio x the block's *input* width (as pycls does).
Paths are torchvision's (trunk_output.block2.block2-0.proj.0, trunk_output.block2.block2-0.f.b.0);
the residual sum is the row block2-0.add.

Python's round() and torch.round both round halves to even; regnet_x_1_6gf has exact ties
(80 x 2.25 / 8 = 22.5 -> 22, width 176 -> 168 after the group-width snap), where rounding half up
would give 184 -> 192.
"""
from __future__ import annotations

import math

from ..layers import Add, Flatten, GlobalAvgPool, Linear, Node, ReLU, Sequential, SqueezeExcite
from ..net import Net
from ._torchvision import TV, conv_norm_act
from .mbconv import make_divisible
from .arch import register_arch


def regnet_stages(depth: int, w_0: int, w_a: float, w_m: float, group_width: int
                  ) -> list[tuple[int, int, int]]:
    """(width, blocks, group width) per stage: torchvision's `BlockParams.from_init_params`.

    >>> regnet_stages(16, 48, 27.89, 2.09, 8)             # RegNetY-400MF
    [(48, 1, 8), (104, 3, 8), (208, 6, 8), (440, 6, 8)]
    """
    stages: list[list[int]] = []
    for j in range(depth):
        k = round(math.log((w_0 + w_a * j) / w_0) / math.log(w_m))
        width = round(w_0 * w_m**k / 8) * 8
        if stages and stages[-1][0] == width:
            stages[-1][1] += 1
        else:
            stages.append([width, 1])
    out = []
    for width, blocks in stages:
        groups_width = min(group_width, width)
        out.append((make_divisible(width, groups_width), blocks, groups_width))
    return out


def res_bottleneck_block(name: str, width_in: int, width: int, stride: int, group_width: int,
                         se_ratio: float | None, before: str) -> Sequential:
    """torchvision's `ResBottleneckBlock` reading the node `before`: activation(proj(x) + f(x)),
    f = a (1x1), b (3x3 grouped), [se], c; without a projection activation(x + f(x))."""
    f: list[Node] = [conv_norm_act("a", width, 1),
                     conv_norm_act("b", width, 3, stride, groups=width // group_width)]
    if se_ratio:
        f.append(SqueezeExcite(name="se", squeeze=int(round(se_ratio * width_in))))
    f.append(conv_norm_act("c", width, 1, act=None))
    if width_in != width or stride != 1:
        proj = conv_norm_act("proj", width, 1, stride, act=None)
        nodes: tuple[Node, ...] = (proj, Sequential(name="f", layers=tuple(f), inputs=(before,)),
                                   Add(name="add", inputs=("proj", "f")))
    else:
        nodes = (Sequential(name="f", layers=tuple(f)), Add(name="add", inputs=(before, "f")))
    return Sequential(name=name, layers=(*nodes, ReLU(name="activation")))


def regnet(depth: int, w_0: int, w_a: float, w_m: float, group_width: int, se_ratio: float | None = None, *,
           stem_width: int = 32, classes: int = 1000, resolution: int = 224, name: str | None = None) -> Net:
    """A RegNet from its parameters (`se_ratio` 0.25 makes it a RegNetY).

    >>> from cnncost import table
    >>> table(regnet(22, 24, 24.48, 2.54, 16), batch=1).totals.params      # RegNetX-400MF
    5495976
    """
    layers: list[Node] = [conv_norm_act("stem", stem_width, 3, 2)]
    channels = stem_width
    trunk: list[Node] = []
    before = "stem"
    for s, (width, blocks, gw) in enumerate(regnet_stages(depth, w_0, w_a, w_m, group_width), start=1):
        stage: list[Node] = []
        for i in range(blocks):
            stage.append(res_bottleneck_block(f"block{s}-{i}", channels, width, 2 if i == 0 else 1, gw, se_ratio,
                                              before))
            channels, before = width, f"block{s}-{i}"
        before = f"block{s}"  # seen from the next stage's first block
        trunk.append(Sequential(name=f"block{s}", layers=tuple(stage)))
    layers += [Sequential(name="trunk_output", layers=tuple(trunk)), GlobalAvgPool(name="avgpool"),
               Flatten(name="flatten"), Linear(name="fc", out=classes)]
    kind = "Y" if se_ratio else "X"
    return Net(name or f"regnet-{kind.lower()}-d{depth}-w{w_0}", (3, resolution, resolution), tuple(layers),
               notes=f"{TV} RegNet{kind}: depth {depth}, w_0 {w_0}, w_a {w_a:g}, w_m {w_m:g}, "
                     f"group width {group_width}" + (f", SE {se_ratio:g}" if se_ratio else ""))


def scaled_regnet(width: float, depth: float, d: int, w_0: int, w_a: float, w_m: float, group_width: int,
                  se_ratio: float | None = None, *, resolution: int = 224, name: str = "regnet") -> Net:
    """The `scale` hook: w_0 and w_a times `width` (the widths are then snapped to the grid, to 8 and
    to the group width as usual) and the block count times `depth` (rounded up)."""
    if (width, depth) == (1, 1):
        return regnet(d, w_0, w_a, w_m, group_width, se_ratio, resolution=resolution, name=name)
    return regnet(max(1, math.ceil(d * depth)), max(8, round(w_0 * width)), w_a * width, w_m, group_width,
                  se_ratio, resolution=resolution, name=f"{name}-w{width:g}-d{depth:g}")


# torchvision builder suffix: (depth, w_0, w_a, w_m, group width, se_ratio, eval crop, params)
REGNETS: dict[str, tuple[int, int, float, float, int, float | None, int, int]] = {
    "x_400mf": (22, 24, 24.48, 2.54, 16, None, 224, 5_495_976),
    "x_800mf": (16, 56, 35.73, 2.28, 16, None, 224, 7_259_656),
    "x_1_6gf": (18, 80, 34.01, 2.25, 24, None, 224, 9_190_136),
    "x_3_2gf": (25, 88, 26.31, 2.25, 48, None, 224, 15_296_552),
    "x_8gf": (23, 80, 49.56, 2.88, 120, None, 224, 39_572_648),
    "x_16gf": (22, 216, 55.59, 2.1, 128, None, 224, 54_278_536),
    "x_32gf": (23, 320, 69.86, 2.0, 168, None, 224, 107_811_560),
    "y_400mf": (16, 48, 27.89, 2.09, 8, 0.25, 224, 4_344_144),
    "y_800mf": (14, 56, 38.84, 2.4, 16, 0.25, 224, 6_432_512),
    "y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25, 224, 11_202_430),
    "y_3_2gf": (21, 80, 42.63, 2.66, 24, 0.25, 224, 19_436_338),
    "y_8gf": (17, 192, 76.82, 2.19, 56, 0.25, 224, 39_381_472),
    "y_16gf": (18, 200, 106.23, 2.48, 112, 0.25, 224, 83_590_140),
    "y_32gf": (20, 232, 115.89, 2.53, 232, 0.25, 224, 145_046_770),
    "y_128gf": (27, 456, 160.83, 2.52, 264, 0.25, 384, 644_812_894),  # first weights: SWAG E2E, 384
}
for _suffix, (*_args, _crop, _params) in REGNETS.items():
    _name = f"regnet-{_suffix.replace('_', '-')}"
    register_arch(_name, source=f"{TV} regnet_{_suffix}", reference={"params": _params},
                  description=f"RegNet{_suffix[0].upper()}-{_suffix[2:].upper().replace('_', '.')}, "
                              f"{_crop}x{_crop}",
                  scale=lambda w, d, a=tuple(_args), r=_crop, n=_name: scaled_regnet(w, d, *a, resolution=r, name=n))(
        lambda a=tuple(_args), r=_crop, n=_name: regnet(*a, resolution=r, name=n))
