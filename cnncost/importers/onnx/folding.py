"""Whether an ONNX file's batch norms were folded into its convolutions by the exporter.

torch's default exporter (`torch.onnx.export(..., dynamo=True)`, `optimize=True`) runs onnxscript's
optimizer, whose `FuseBatchNormIntoConv` rule folds every BatchNormalization into the Conv before
it, even in a training export (`training=TrainingMode.TRAINING`). The file then has no norms: their
scale and bias (2 x C params each) are gone and so is what they save for backward. Nothing in the
ops says so, but the file does, two ways:

- the rewritten Conv nodes carry `pkg.onnxscript.rewriter.rule_name` metadata naming the rule;
- the graph's `pkg.torch.export.ExportedProgram.graph_signature` metadata lists every parameter and
  buffer of the exported module (`p_1_weight: PARAMETER target='1.weight'`); a parameter that is
  neither an initializer nor a graph input was folded away, and a module with a `running_mean`
  buffer is a batch norm.

The TorchScript exporter keeps them: `torch.onnx.export(model.train(), x, f, dynamo=False,
training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)` (checked with torch 2.14.1
and onnxscript 0.7.2: BatchNormalization stays, with its scale, bias, mean and variance).
"""
from __future__ import annotations

import re
from typing import Any

from ...net import WARNING

KEEPING_CALL = ("torch.onnx.export(model.train(), x, f, dynamo=False, training=torch.onnx.TrainingMode.TRAINING, "
                "do_constant_folding=False)")
_RULE_KEY = "pkg.onnxscript.rewriter.rule_name"
_SIGNATURE_KEY = "pkg.torch.export.ExportedProgram.graph_signature"
_ENTRY = re.compile(r"^(\w+): (PARAMETER|BUFFER) target='([^']+)'", re.MULTILINE)


def folded_batch_norms(model: Any) -> str | None:
    """A one-sentence warning for the net's notes (`Net.warnings`; no ';' in it) when the exporter
    folded batch norms, else None."""
    graph = model.graph
    fused = sum(1 for node in graph.node for p in node.metadata_props
                if p.key == _RULE_KEY and "FuseBatchNorm" in p.value)
    present = {t.name for t in graph.initializer} | {i.name for i in graph.input}
    signature = next((p.value for p in graph.metadata_props if p.key == _SIGNATURE_KEY), "")
    entries = _ENTRY.findall(signature)
    norms = {target[: -len(".running_mean")] for _, kind, target in entries
             if kind == "BUFFER" and target.endswith(".running_mean")}
    missing = [target for name, kind, target in entries
               if kind == "PARAMETER" and target not in present and name not in present
               and target.rpartition(".")[0] in norms]
    has_bn = any(node.op_type == "BatchNormalization" for node in graph.node)
    if not fused and (has_bn or not missing):
        return None
    count = fused or len({t.rpartition(".")[0] for t in missing})
    lost = f" (their parameters {', '.join(missing[:6])}{', ...' if len(missing) > 6 else ''} are not in the file)" \
        if missing else ""
    return (f"{WARNING}the exporter folded {count} batch norm(s) into the convolutions before them{lost}, "
            "so params lack the norms' scale and bias and saved bytes lack what the norms save for backward: "
            f"export with {KEEPING_CALL} to keep them")
