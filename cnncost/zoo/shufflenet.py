"""ShuffleNet V2 (Ma et al. 2018) as torchvision builds it: widths x0.5, x1.0, x1.5, x2.0.

A stride-1 unit splits its channels in two (channel split): one half passes unchanged, the other
goes through 1x1 conv-BN-ReLU, 3x3 depthwise conv-BN, 1x1 conv-BN-ReLU (`branch2`); the halves are
concatenated and the channels shuffled between the two groups. A stride-2 unit feeds its whole
input to two branches (`branch1`: 3x3/2 depthwise conv-BN, 1x1 conv-BN-ReLU; and `branch2` with
a strided depthwise conv), each giving half the output channels, then concatenates and shuffles.
The head is a 1x1 conv (`conv5`), a global mean and a linear `fc`.

Paths are torchvision's (stage2.0.branch1.0, stage2.1.branch2.3); the split halves, the concat
and the shuffle, which torchvision computes with functions, are the rows stage2.1.x1, stage2.1.x2,
stage2.1.cat and stage2.1.shuffle.
"""
from __future__ import annotations

from ..layers import (BatchNorm, ChannelShuffle, Chunk, Concat, Conv, Flatten, GlobalAvgPool, Linear, MaxPool,
                      Node, ReLU, Sequential)
from ..net import Net
from ._torchvision import TV, numbered, sequential
from .arch import register_arch


def _branch2(inp: int, width: int, stride: int) -> tuple[Node, ...]:
    return numbered((Conv(out=width, kernel=1, bias=False), BatchNorm(), ReLU(),
                     Conv(out=width, kernel=3, stride=stride, padding=1, groups=width, bias=False), BatchNorm(),
                     Conv(out=width, kernel=1, bias=False), BatchNorm(), ReLU()))


def shuffle_unit(name: str, inp: int, out: int, stride: int, before: str) -> Sequential:
    """torchvision's ShuffleNetV2 `InvertedResidual` reading the node `before`."""
    width = out // 2
    if stride == 1:
        nodes: tuple[Node, ...] = (
            Chunk(name="x1", chunks=2, index=0), Chunk(name="x2", chunks=2, index=1, inputs=(before,)),
            Sequential(name="branch2", layers=_branch2(width, width, 1)),
            Concat(name="cat", inputs=("x1", "branch2")))
    else:
        nodes = (
            sequential("branch1", (Conv(out=inp, kernel=3, stride=stride, padding=1, groups=inp, bias=False),
                                   BatchNorm(), Conv(out=width, kernel=1, bias=False), BatchNorm(), ReLU())),
            Sequential(name="branch2", layers=_branch2(inp, width, stride), inputs=(before,)),
            Concat(name="cat", inputs=("branch1", "branch2")))
    return Sequential(name=name, layers=(*nodes, ChannelShuffle(name="shuffle", groups=2)))


def shufflenet_v2(repeats: tuple[int, ...] = (4, 8, 4), widths: tuple[int, ...] = (24, 116, 232, 464, 1024), *,
                  classes: int = 1000, resolution: int = 224, name: str = "shufflenet-v2") -> Net:
    """A ShuffleNet V2: stem width, three stages of `repeats` units, the conv5 width (`widths`).

    >>> from cnncost import table
    >>> table(shufflenet_v2(), batch=1).totals.params          # x1.0
    2278604
    """
    layers: list[Node] = [sequential("conv1", (Conv(out=widths[0], kernel=3, stride=2, padding=1, bias=False),
                                               BatchNorm(), ReLU())),
                          MaxPool(name="maxpool", kernel=3, stride=2, padding=1)]
    channels, before = widths[0], "maxpool"
    for s, (n, out) in enumerate(zip(repeats, widths[1:-1]), start=2):
        units: list[Node] = []
        for i in range(n):
            units.append(shuffle_unit(str(i), channels, out, 2 if i == 0 else 1, before))
            channels, before = out, str(i)
        layers.append(Sequential(name=f"stage{s}", layers=tuple(units)))
        before = f"stage{s}"  # seen from the next stage's first unit
    layers += [sequential("conv5", (Conv(out=widths[-1], kernel=1, bias=False), BatchNorm(), ReLU())),
               GlobalAvgPool(name="avgpool"), Flatten(name="flatten"), Linear(name="fc", out=classes)]
    return Net(name, (3, resolution, resolution), tuple(layers),
               notes=f"{TV} ShuffleNetV2: repeats {repeats}, widths {widths}; x.mean([2, 3]) is avgpool, flatten")


# width: (stage widths, torchvision's params); every member has (4, 8, 4) units and is evaluated at 224
SHUFFLENETS = {"x0_5": ((24, 48, 96, 192, 1024), 1_366_792), "x1_0": ((24, 116, 232, 464, 1024), 2_278_604),
               "x1_5": ((24, 176, 352, 704, 1024), 3_503_624), "x2_0": ((24, 244, 488, 976, 2048), 7_393_996)}
for _suffix, (_widths, _params) in SHUFFLENETS.items():
    _name = f"shufflenet-v2-{_suffix.replace('_', '-')}"
    register_arch(_name, source=f"{TV} shufflenet_v2_{_suffix}", reference={"params": _params},
                  description=f"ShuffleNet V2 {_suffix[1:].replace('_', '.')}x: channel split and shuffle")(
        lambda w=_widths, n=_name: shufflenet_v2((4, 8, 4), w, name=n))
