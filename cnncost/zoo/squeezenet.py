"""SqueezeNet (Iandola et al. 2016) as torchvision builds it: versions 1.0 (the paper's Table 1)
and 1.1 (the authors' later release: a 3x3/2 stem of 64 and the pools moved earlier, 2.35x fewer MACs).

A fire module squeezes with 1x1 convs, then expands with 1x1 and 3x3 convs side by side whose
outputs are concatenated (the row features.3.cat; the convs have torchvision's paths,
features.3.squeeze, features.3.expand1x1, features.3.expand3x3). The classifier is a 1x1 conv to
the classes, ReLU, and a global average pool: no linear layer. Every max pool rounds up
(`ceil_mode`), as Caffe did.
"""
from __future__ import annotations

from ..layers import AdaptiveAvgPool, Concat, Conv, Dropout, Flatten, MaxPool, Node, ReLU, Sequential
from ..net import Net
from ._torchvision import TV, sequential
from .arch import register_arch

# Per version: the stem conv (out, kernel), then the features after it: "M" a 3x3/2 max pool,
# (squeeze, expand) a fire module whose 1x1 and 3x3 expansions have `expand` channels each.
VERSIONS: dict[str, tuple[tuple[int, int], tuple[str | tuple[int, int], ...]]] = {
    "1_0": ((96, 7), ("M", (16, 64), (16, 64), (32, 128), "M", (32, 128), (48, 192), (48, 192), (64, 256),
                      "M", (64, 256))),
    "1_1": ((64, 3), ("M", (16, 64), (16, 64), "M", (32, 128), (32, 128), "M", (48, 192), (48, 192),
                      (64, 256), (64, 256))),
}


def fire(name: str, squeeze: int, expand1x1: int, expand3x3: int) -> Sequential:
    """A fire module: a 1x1 squeeze, then 1x1 and 3x3 expansions of it, concatenated (row `cat`)."""
    return Sequential(name=name, layers=(
        Conv(name="squeeze", out=squeeze, kernel=1), ReLU(name="squeeze_activation"),
        Conv(name="expand1x1", out=expand1x1, kernel=1), ReLU(name="expand1x1_activation"),
        Conv(name="expand3x3", out=expand3x3, kernel=3, padding=1, inputs=("squeeze_activation",)),
        ReLU(name="expand3x3_activation"),
        Concat(name="cat", inputs=("expand1x1_activation", "expand3x3_activation"))))


def squeezenet(version: str = "1_0", *, classes: int = 1000, dropout: float = 0.5, resolution: int = 224,
               name: str | None = None) -> Net:
    """torchvision's `squeezenet1_0` or `squeezenet1_1` (`version` "1_0" or "1_1").

    >>> from cnncost import table
    >>> table(squeezenet("1_1"), batch=1).totals.params
    1235496
    """
    (stem, kernel), body = VERSIONS[version]
    features: list[Node] = [Conv(out=stem, kernel=kernel, stride=2), ReLU()]
    for item in body:
        if isinstance(item, str):  # "M"
            features.append(MaxPool(kernel=3, stride=2, ceil_mode=True))
        else:
            squeeze, expand = item
            features.append(fire("fire", squeeze, expand, expand))
    classifier = [Dropout(p=dropout), Conv(out=classes, kernel=1), ReLU(), AdaptiveAvgPool(output=1)]
    return Net(name or f"squeezenet{version.replace('_', '-')}", (3, resolution, resolution),
               (sequential("features", features), sequential("classifier", classifier), Flatten(name="flatten")),
               notes=f"{TV} squeezenet{version}")


for _version, _params in (("1_0", 1_248_424), ("1_1", 1_235_496)):
    register_arch(f"squeezenet{_version.replace('_', '-')}", source=f"{TV} squeezenet{_version}",
                  reference={"params": _params},
                  description=f"SqueezeNet {_version.replace('_', '.')}: fire modules, a 1x1 conv classifier")(
        lambda v=_version: squeezenet(v))
