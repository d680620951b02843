"""How the reference implementation of each built-in architecture computes its nodes: the
implementation profile that hook-based counters depend on (see `impl.py` for the spelling).

Keyed by architecture name. A name not listed uses the default: every node is the module
cnncost's own torch backend builds for it (`impl.default_impl`), which is how `cnncost check`
runs a YAML spec. `impls(graph, profile)` gives each node's implementation.

Each profile is a list of rules, first match wins: an fnmatch pattern on the row path, optional
layer types, and the implementation. The notes say where in the reference code each rule comes
from (torchvision 0.29.1, timm 1.0.31).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .impl import Impl, default_impl, parse

if TYPE_CHECKING:
    from ..graph import Graph, GraphNode


@dataclass(frozen=True)
class Rule:
    """Nodes whose row path matches `pattern` (fnmatch) and, if given, whose type is one of `types`,
    are implemented as `impl`."""

    pattern: str
    impl: Impl
    types: tuple[str, ...] = ()

    def matches(self, node: GraphNode) -> bool:
        return (not self.types or node.type in self.types) and fnmatch.fnmatchcase(node.path, self.pattern)


def rule(pattern: str, spec: str, *types: str) -> Rule:
    return Rule(pattern, parse(spec), tuple(types))


@dataclass(frozen=True)
class Profile:
    name: str
    rules: tuple[Rule, ...] = ()
    notes: str = ""
    reference: str = ""  # the implementation the rules describe
    aliases: tuple[str, ...] = field(default=(), repr=False)
    # torchvision and timm run auxiliary classifiers (`side` blocks) in training mode only, so an
    # eval-mode counter never sees them; cnncost's own torch model runs every node.
    side_runs_in_eval: bool = False


PROFILES: dict[str, Profile] = {}


def profile(names: str | tuple[str, ...], reference: str, notes: str, *rules: Rule) -> Profile:
    names = (names,) if isinstance(names, str) else names
    made = Profile(names[0], tuple(rules), notes, reference, names[1:])
    for name in names:
        if name in PROFILES:
            raise ValueError(f"profile '{name}' defined twice")
        PROFILES[name] = made
    return made


def get(name: str) -> Profile | None:
    return PROFILES.get(name)


def impls(graph: Graph, profile: Profile | None = None) -> tuple[Impl | None, ...]:
    """One implementation per node (None for the input node): the profile's first matching rule,
    else the default."""
    out: list[Impl | None] = [None]
    rules = profile.rules if profile is not None else ()
    for node in graph.nodes[1:]:
        chosen = None
        for rule in rules:
            if rule.matches(node):
                chosen = rule.impl
                break
        out.append(chosen if chosen is not None else default_impl(node))
    return tuple(out)


# The network as cnncost's torch backend builds it (`cnncost check`): every node its own module
# (`impl.default_impl`), auxiliary heads included in every pass.
PROFILES["cnncost"] = Profile("cnncost", notes="every node is the module its layer type builds "
                              "(cnncost.torch_backend.build); side blocks run in eval too",
                              reference="cnncost.torch_backend.build", side_runs_in_eval=True)


# --- torchvision 0.29.1 ---

profile(("googlenet-tv",), "torchvision.models.googlenet",
        "BasicConv2d.forward ends in F.relu(x, inplace=True): no ReLU module anywhere; pools, dropout, "
        "fc are modules. The aux heads (InceptionAux, also F.relu and F.adaptive_avg_pool2d) run in "
        "training only.",
        rule("*", "F.relu", "relu"))

profile(("inception-v3-tv", "inception-v3", "inception-v3-aux"), "torchvision.models.inception_v3",
        "BasicConv2d ends in F.relu; maxpool1/maxpool2 and avgpool are modules, but the Mixed blocks pool "
        "with F.avg_pool2d (InceptionA/C/E) and F.max_pool2d (InceptionB/D), and InceptionAux with "
        "F.avg_pool2d and F.adaptive_avg_pool2d.",
        rule("*", "F.relu", "relu"),
        rule("Mixed_*", "F.avg_pool2d", "avgpool"),
        rule("Mixed_*", "F.max_pool2d", "maxpool"),
        rule("AuxLogits.*", "F.avg_pool2d", "avgpool"),
        rule("AuxLogits.*", "F.adaptive_avg_pool2d", "global_avgpool"))

profile(("densenet121", "densenet161", "densenet169", "densenet201"), "torchvision.models.densenet",
        "DenseNet.forward: features (modules), then F.relu(features, inplace=True) and "
        "F.adaptive_avg_pool2d(out, (1, 1)); the dense layers' torch.cat is a function.",
        rule("relu", "F.relu", "relu"),
        rule("avgpool", "F.adaptive_avg_pool2d", "global_avgpool", "adaptive_avgpool"))

profile(("mobilenet-v2", "mobilenet-v2-0.5", "mobilenet-v2-0.75", "mobilenet-v2-1.4"),
        "torchvision.models.mobilenet_v2",
        "MobileNetV2._forward_impl pools with nn.functional.adaptive_avg_pool2d(x, (1, 1)); the residual is x + conv(x).",
        rule("avgpool", "F.adaptive_avg_pool2d", "global_avgpool"))

profile(("mnasnet0-5", "mnasnet0-75", "mnasnet1-0", "mnasnet1-3"), "torchvision.models.mnasnet",
        "MNASNet.forward pools with x.mean([2, 3]): no pooling module, no F call (aten::mean).",
        rule("avgpool", "mean", "global_avgpool"))

profile(("shufflenet-v2-x0-5", "shufflenet-v2-x1-0", "shufflenet-v2-x1-5", "shufflenet-v2-x2-0"),
        "torchvision.models.shufflenetv2",
        "ShuffleNetV2._forward_impl pools with x.mean([2, 3]); chunk, torch.cat and channel_shuffle "
        "(view/transpose/contiguous) are functions.",
        rule("avgpool", "mean", "global_avgpool"),
        rule("*", "op", "chunk", "concat", "channel_shuffle"))

profile(("convnext-tiny", "convnext-small", "convnext-base", "convnext-large"), "torchvision.models.convnext",
        "CNBlock.block = Conv2d (depthwise), Permute, nn.LayerNorm over C on the NHWC map, Linear, GELU, "
        "Linear, Permute: the twin's 1x1 convs are nn.Linear on a channels-last map. layer_scale is a "
        "Parameter of CNBlock (which has children) multiplied in its forward; the stem, downsampling and "
        "head norms are LayerNorm2d (a subclass of nn.LayerNorm). result += input is an operator.",
        rule("*.block.3", "nn.Linear@nhwc", "conv"),
        rule("*.block.5", "nn.Linear@nhwc", "conv"),
        rule("*.block.2", "nn.LayerNorm", "layer_norm"),
        rule("*", "tv.LayerNorm2d", "layer_norm"),
        rule("*", "param", "layer_scale"),
        rule("*", "tv.StochasticDepth", "stochastic_depth"),
        rule("*", "op", "add"))

_SEGMENTATION_NOTES = ("The heads resize with F.interpolate(..., mode='bilinear') (DeepLabV3's ASPP pooling "
                       "branch, LR-ASPP's high branch and every model's last resize to the input).")
profile(("fcn-resnet50", "fcn-resnet101", "deeplabv3-resnet50", "deeplabv3-resnet101",
         "deeplabv3-mobilenet-v3-large", "lraspp-mobilenet-v3-large"), "torchvision.models.segmentation",
        _SEGMENTATION_NOTES,
        rule("*", "F.interpolate", "upsample"))

# --- timm 1.0.31 ---

profile(("inception-v4", "inception-resnet-v2"), "timm inception_v4 / inception_resnet_v2",
        "ConvNormAct = Conv2d + BatchNormAct2d: a BatchNorm2d subclass with children (drop: Identity, "
        "act: ReLU) that runs F.batch_norm itself, so per-leaf and exact-type counters miss the norm and "
        "its parameters; the ReLU child is an nn.ReLU module. head_drop is nn.Dropout(drop_rate), "
        "drop_rate 0 by default (the twin keeps the paper's 0.2).",
        rule("*", "timm.BatchNormAct2d", "batchnorm"),
        rule("head_drop", "nn.Dropout@p0", "dropout"))

profile(("mobilenet-v1", "mobilenet-v1-0.5", "mobilenet-v1-0.25", "mobilenet-v1-0.75"), "timm mobilenetv1_100",
        "timm's EfficientNet with DepthwiseSeparable blocks: every norm is a BatchNormAct2d whose act "
        "child is nn.ReLU6 (the paper's ReLU, which the twin keeps).",
        rule("*", "timm.BatchNormAct2d", "batchnorm"),
        rule("*", "nn.ReLU6", "relu"))

profile(("seresnet50-timm", "timm/seresnext50_32x4d", "timm/seresnet50"), "timm seresnet50 / seresnext50_32x4d",
        "timm.layers.SEModule: x.mean((2, 3), keepdim=True), fc1 Conv2d, bn Identity, act nn.ReLU, fc2, "
        "gate = timm's own Sigmoid class (not nn.Sigmoid); x * gate is an operator.",
        rule("*.se.pool", "mean", "global_avgpool"),
        rule("*.se.gate", "timm.Sigmoid", "sigmoid"))

profile(("se-resnet50", "se-resnext50-32x4d", "senet154"), "timm legacy senet (legacy_seresnet50 ...)",
        "timm.models.senet.SEModule: x.mean((2, 3), keepdim=True), fc1 Conv2d, nn.ReLU, fc2 Conv2d, "
        "nn.Sigmoid. (timm's non-legacy seresnext50_32x4d, the same network, gates with timm's Sigmoid "
        "class: profile 'timm/seresnext50_32x4d'.)",
        rule("*.se.pool", "mean", "global_avgpool"))
