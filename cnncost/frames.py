"""DataFrames across architectures: `zoo_frame`, one row per built-in."""
from __future__ import annotations

import re
from typing import Any

from .literals import ActivationCount, DType, Optimizer
from .shapes import shape_text

# name prefix -> family, the first match wins (longer prefixes first where they overlap)
FAMILIES: tuple[tuple[str, str], ...] = (
    ("block-", "building block"), ("alexnet", "AlexNet"), ("zfnet", "ZFNet"), ("vgg", "VGG"),
    ("googlenet", "GoogLeNet"), ("inception-resnet", "Inception-ResNet"), ("inception", "Inception"),
    ("resnext", "ResNeXt"), ("wide-resnet", "Wide ResNet"), ("wrn-", "Wide ResNet"), ("se-res", "SENet"),
    ("seres", "SENet"), ("senet", "SENet"), ("resnet", "ResNet"), ("mobilenet-v1", "MobileNet v1"),
    ("mobilenet-v2", "MobileNet v2"), ("mobilenet-v3", "MobileNet v3"), ("efficientnet-v2", "EfficientNet v2"),
    ("efficientnet", "EfficientNet"), ("mnasnet", "MnasNet"), ("regnet-x", "RegNetX"), ("regnet-y", "RegNetY"),
    ("shufflenet", "ShuffleNet v2"), ("squeezenet", "SqueezeNet"), ("densenet", "DenseNet"),
    ("convnext", "ConvNeXt"), ("parnet", "ParNet"), ("fcn-", "FCN"), ("deeplabv3", "DeepLabV3"),
    ("lraspp", "LR-ASPP"), ("unet", "U-Net"),
)


def family(name: str) -> str:
    """The family of a built-in name ('resnext50-32x4d' -> 'ResNeXt'); an unknown name's own stem."""
    for prefix, label in FAMILIES:
        if name.startswith(prefix):
            return label
    return re.split(r"[-_\d]", name, maxsplit=1)[0] or name


def zoo_frame(pattern: str = "*", *, batch: int = 128, dtype: DType = "fp32", optimizer: Optimizer = "adam",
              activations: ActivationCount = "all") -> Any:
    """One row per built-in architecture matching `pattern` (a shell pattern, as `cnncost list`),
    with its totals at one training configuration (the lecture's defaults: batch 128, fp32, Adam):
    `architecture` (the name, as every cnncost frame calls it: a RangeIndex, no duplicate column), `family`,
    `source`, `description`, `input` and `output` shapes ('3x224x224'), `batch`,
    then the totals of `cnncost.table(name, ...).totals` (whole batch; `params` is per model)
    and `macs_per_image`, `flops_per_image` (exact: the totals divided by the batch). Count columns are int64 where their values and sum fit, else Python ints.

    >>> import cnncost
    >>> row = cnncost.zoo_frame("resnet*").set_index("architecture").loc["resnet50-tv"]
    >>> row.family, int(row.params), int(row.macs_per_image)
    ('ResNet', 25557032, 4089184256)
    """
    import pandas as pd
    from .api import table
    from .columns import summary_columns
    from .formatting import count_column
    from .zoo.registry import list_archs
    totals_columns = [c.name for c in summary_columns()]
    records = []
    for arch in list_archs(pattern):
        report = table(arch.name, batch=batch, dtype=dtype, optimizer=optimizer, activations=activations)
        totals = report.totals
        records.append({
            "architecture": arch.name, "family": family(arch.name), "source": arch.source, "description": arch.description,
            "input": shape_text(totals.input_shape), "output": shape_text(totals.output_shape), "batch": batch,
            **{key: totals.figures[key] for key in totals_columns}, "macs_per_image": totals.macs // batch,
            "flops_per_image": totals.flops // batch,
        })
    columns = ["architecture", "family", "source", "description", "input", "output", "batch", *totals_columns,
               "macs_per_image", "flops_per_image"]
    counts = set(totals_columns) | {"batch", "macs_per_image", "flops_per_image"}
    return pd.DataFrame({key: (count_column([r[key] for r in records]) if key in counts
                               else pd.Series([r[key] for r in records], dtype=object)) for key in columns})
