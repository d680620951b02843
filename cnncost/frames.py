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
    from .columns import summary_columns
    from .formatting import count_column
    columns, rows = zoo_records(pattern, batch=batch, dtype=dtype, optimizer=optimizer, activations=activations)
    counts = {c.name for c in summary_columns()} | {"batch", "macs_per_image", "flops_per_image"}
    return pd.DataFrame({key: (count_column([row[i] for row in rows]) if key in counts
                               else pd.Series([row[i] for row in rows], dtype=object))
                         for i, key in enumerate(columns) if key != "name"})  # `name`: list's JSON key (schema 1)


def zoo_records(pattern: str = "*", *, batch: int = 128, dtype: DType = "fp32", optimizer: Optimizer = "adam",
                activations: ActivationCount = "all") -> tuple[list[str], list[list[Any]]]:
    """`cnncost list`'s columns and rows (`zoo_frame`'s, and `name` beside `architecture`) as plain
    Python (exact ints): the totals come from the
    per-sample sums shipped with the package (`cnncost.zoo.totals`), computed by compiling only
    for an architecture they do not hold."""
    from .columns import summary_columns
    from .conventions import Options
    from .zoo.registry import list_archs
    from .zoo.totals import per_sample_sums, shipped, summary_totals
    options = Options(batch=batch, dtype=dtype, optimizer=optimizer, activations=activations)
    totals_columns = [c.name for c in summary_columns()]
    columns = ["architecture", "name", "family", "source", "description", "input", "output", "batch",
               *totals_columns, "macs_per_image", "flops_per_image"]
    known = shipped()
    rows = []
    for arch in list_archs(pattern):
        sums = known.get(arch.name) or per_sample_sums(arch.name)
        if sums:
            totals = summary_totals(sums, options)
            shapes = tuple(sums["input"]), tuple(sums["output"])
        else:  # a figure no formula gives (an opaque layer): the table's own totals
            from .api import table
            report = table(arch.name, batch=batch, dtype=dtype, optimizer=optimizer, activations=activations)
            totals = {key: report.totals.figures[key] for key in totals_columns}
            shapes = report.totals.input_shape, report.totals.output_shape
        rows.append([arch.name, arch.name, family(arch.name), arch.source, arch.description, shape_text(shapes[0]),
                     shape_text(shapes[1]), batch, *(totals[key] for key in totals_columns),
                     totals["macs"] // batch, totals["flops"] // batch])
    return columns, rows

