"""ParNet (Goel et al. 2021, "Non-deep Networks"): depth 12, three parallel streams.

Two downsampling blocks take 224 to 56x56; two more give 28 and 14. Each of the three resolutions
feeds a stream of RepVGG-SSE blocks; fusion blocks merge the streams from fine to coarse, and a
last downsampling block widens to the head. Counts are those of the training-time network (3x3
and 1x1 branches apart, as `model.parameters()` of the authors' code); re-parameterising for
inference folds the 1x1 convs and every BN into the 3x3 convs.

Blocks, as in the paper's Figure 2 and the authors' `RepVGGBlock` (SiLU everywhere):
- RepVGG-SSE (stride 1, same width): act(conv3x3-BN(x) + conv1x1-BN(x) + SSE(x)),
  SSE(x) = BN(x) * sigmoid(conv1x1(avgpool(BN(x)))), one bias-free FC as a 1x1 conv.
- Downsampling: act((conv3x3/2-BN(x) + [avgpool 2x2, conv1x1-BN](x)) * sigmoid(conv1x1(avgpool(x)))).
- Fusion: BN each input, concatenate, then a downsampling block with groups=2 (half the params).

The network is the authors' DAG (`SimpNet.forward`), written with named references: the inputs of
the three streams are a chain of downsampling blocks (downsample2 -> downsample3 -> downsample4),
each also feeding its own stream, so stream 3 reads `fusion1.concat.stream2.to_stream3` (downsample4's
output) although it is laid out under the second fusion, and stream 2's first block reads
downsample3 past downsample4. In a downsampling block the conv sum is multiplied by the gate of the
block *input*: `se` reads the block input by name and `scale` multiplies `convs` by it.
Zero-cost details of the authors' code that are not modelled: the channel interleave of their
`Concat2d(shuffle=True)` and the `channel_shuffle` after each groups=2 block (permutations: no
params, no MACs, but a copy each in their code), the factor 2 on the gate of downsampling blocks
(`SE1(ver=2)`), and the order of the first fusion's inputs (theirs: stream 2, then stream 1).
"""
from __future__ import annotations

import dataclasses
from functools import partial

from ..layers import (AvgPool, BatchNorm, Concat, Conv, Gate, GlobalAvgPool, Mul, Node, Residual, Sequential,
                      Sigmoid, SiLU)
from ..net import Net
from .common import classifier, conv_bn_act
from .arch import register_arch


def _conv_bn(name: str, out: int, kernel: int, stride: int = 1, groups: int = 1) -> list[Node]:
    return conv_bn_act(name, out, kernel, stride, groups=groups, act=None)


def _gate(out: int, groups: int = 1) -> tuple[Node, ...]:
    """Global average pool -> one bias-free 1x1 conv -> sigmoid: the SE of ParNet's blocks."""
    return (GlobalAvgPool(name="pool"), Conv(name="fc", out=out, kernel=1, groups=groups, bias=False),
            Sigmoid(name="sigmoid"))


def _convs(out: int, stride: int, groups: int, fused: bool) -> Node:
    """conv3x3-BN + [avgpool] conv1x1-BN, or, re-parameterised, the single 3x3 conv with bias."""
    if fused:
        return Conv(name="conv3x3", out=out, kernel=3, stride=stride, padding=1, groups=groups)
    pool = (AvgPool(name="pool", kernel=2, stride=2),) if stride == 2 else ()
    return Residual(name="convs", layers=tuple(_conv_bn("conv3x3", out, 3, stride, groups)),
                    shortcut=pool + tuple(_conv_bn("conv1x1", out, 1, 1, groups)))


def repvgg_sse(name: str, channels: int, fused: bool = False) -> Sequential:
    """The stream block: 3x3 and 1x1 conv-BN branches plus the skip-squeeze-excitation branch."""
    convs = _convs(channels, 1, 1, fused)
    sse = (BatchNorm(name="bn"), Gate(name="sse", layers=_gate(channels)))
    return Sequential(name=name, layers=(Residual(name="branches", layers=(convs,), shortcut=sse),
                                         SiLU(name="act")))


def downsampling(name: str, out: int, source: str, stride: int = 2, groups: int = 1,
                 fused: bool = False) -> Sequential:
    """Downsampling (stride 2) or, with groups=2 after a concat, fusion block:
    act(convs(x) * gate(x)). `source` names the block's input x as seen from inside the block."""
    convs = dataclasses.replace(_convs(out, stride, groups, fused), inputs=(source,))
    return Sequential(name=name, layers=(Sequential(name="se", layers=_gate(out, groups)), convs,
                                         Mul(name="scale", inputs=(convs.name or "", "se")), SiLU(name="act")))


def parnet(widths: tuple[int, int, int], head: int, *, blocks: tuple[int, int, int] = (4, 5, 5),
           fused: bool = False, resolution: int = 224, classes: int = 1000, name: str | None = None) -> Net:
    """ParNet with stream widths `widths` (at 56, 28 and 14 px for 224 input) and `head` channels.

    `fused=True` counts the re-parameterised inference network, as the paper's parameter counts do.

    >>> from cnncost.zoo.parnet import parnet
    >>> net = parnet((128, 256, 512), 2048)                    # ParNet-M
    >>> [n.name for n in net.layers]
    ['downsample1', 'downsample2', 'fusion1', 'fusion2', 'downsample5', 'avgpool', 'flatten', 'fc']
    """
    down = partial(downsampling, fused=fused)
    rep = partial(repvgg_sse, fused=fused)

    def blocks_of(width: int, count: int, source: str | None = None) -> list[Node]:
        """`count` RepVGG-SSE blocks named 0, 1, ...; the first reads `source` if given."""
        nodes: list[Node] = [rep(str(i), width) for i in range(count)]
        if source is not None and nodes:
            nodes[0] = dataclasses.replace(nodes[0], inputs=(source,))
        return nodes

    def fuse(name: str, branches: tuple[Sequential, Sequential], stride: int) -> Sequential:
        """BN each stream (the streams end in one), concatenate, mix with a grouped block."""
        return Sequential(name=name, layers=(Concat(name="concat", branches=branches),
                                             down("block", w3, "concat", stride, groups=2)))

    w1, w2, w3 = widths
    # Stream 1 runs on downsample2's output (the input of the concat) and ends in a downsampling block.
    last1 = str(blocks[0] - 1) if blocks[0] else "downsample2"
    stream1 = Sequential(name="stream1", layers=(*blocks_of(w1, blocks[0]), down("downsample", w2, last1),
                                                 BatchNorm(name="bn")))
    # downsample3 makes stream 2's input; downsample4 makes stream 3's from it (read by fusion2).
    to_stream3 = Sequential(name="to_stream3", layers=(down("downsample4", w3, "downsample3"),))
    stream2 = Sequential(name="stream2", layers=(down("downsample3", w2, "downsample2"), to_stream3,
                                                 *blocks_of(w2, blocks[1], source="downsample3"),
                                                 BatchNorm(name="bn", inputs=None if blocks[1] else ("downsample3",))))
    stream3 = Sequential(name="stream3", inputs=("fusion1.concat.stream2.to_stream3",),
                         layers=(*blocks_of(w3, blocks[2]), BatchNorm(name="bn")))
    fused_input = Sequential(name="fused", layers=(BatchNorm(name="bn"),))
    layers: list[Node] = [
        down("downsample1", min(64, w1), "input"), down("downsample2", w1, "downsample1"),
        fuse("fusion1", (stream1, stream2), stride=2),
        fuse("fusion2", (stream3, fused_input), stride=1),
        down("downsample5", head, "fusion2"),
        *classifier(classes),
    ]
    kind = "inference-time (re-parameterised)" if fused else "training-time (unfused)"
    return Net(name or f"parnet-{w1}-{w2}-{w3}-{head}", (3, resolution, resolution), tuple(layers),
               notes=f"Goel et al. 2021, {kind} ParNet; see cnncost/zoo/parnet.py")


# The paper's widths per variant. The authors' released S config has 92 instead of 96 channels in
# stream 1; 96 reproduces the paper's 19.2M (docs/zoo-mobile.md). Reference params: training-time,
# from an independent torch model of the real DAG (tests/zoo/test_zoo_mobile.py says how).
VARIANTS = {"s": ((96, 192, 384), 1280, 20_983_848), "m": ((128, 256, 512), 2048, 38_953_256),
            "l": ((160, 320, 640), 2560, 60_180_008), "xl": ((200, 400, 800), 3200, 93_176_168)}
for _size, (_widths, _head, _params) in VARIANTS.items():
    register_arch(f"parnet-{_size}", reference={"params": _params},
                  source="paper widths; blocks as the authors' code (imankgoyal/NonDeepNetworks)",
                  description=f"ParNet-{_size.upper()} (training-time): streams {_widths}, head {_head}")(
        lambda w=_widths, h=_head, s=_size: parnet(w, h, name=f"parnet-{s}"))
