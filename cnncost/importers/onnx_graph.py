"""An ONNX file as a cnncost Net, with the `onnx` package alone (no torch, no onnxruntime).

Weights need only their shapes: a file exported with `export_params=False` (weights as graph
inputs with static shapes) imports the same as one holding them. BatchNormalization keeps its scale
and bias as params and its mean and variance as buffers (not params), as in PyTorch.

Row paths come from the node names or metadata that torch's exporters write: the TorchScript
exporter's scoped names (`/layer1/layer1.0/conv1/Conv`) or the torch.export-based exporter's
`pkg.torch.onnx.name_scopes`; a module scope that holds one op is that op's row at the module's
path (`layer1.0.conv1`), as `from_torch` names it. Without them, rows are named after the nodes.

Operators (docs/import.md lists what each becomes): Conv, ConvTranspose (1-, 2- and 3-D), Gemm,
MatMul of any rank (by a weight, + its Add: a linear; a channels-last linear is a 1x1 conv; of two
tensors: a matmul), Einsum (a batched product), BatchNormalization, LayerNormalization,
GroupNormalization, InstanceNormalization, LRN, the activations, Softmax on any axis, Dropout,
MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean/Sum/Max/Min/L2/L1, Flatten,
Reshape, Squeeze, Unsqueeze, Transpose, Expand, Concat, Split, SplitToSequence, Slice, Gather of one
index, Add, Sub, Mul, Div, Pow, Sqrt, Reciprocal, Resize, Pad, DepthToSpace, Identity; shape
arithmetic (Shape, Gather, Unsqueeze, Concat, Constant...) is folded; stochastic depth
(RandomUniformLike, Less, Cast, Div, Mul), Dropout of a training-mode export, the erf GELU, the
exporters' scaled-dot-product attention and nn.MultiheadAttention modules are put back together.

ONNX does not say which activations ran in place; an activation is taken as in place when it is
the only reader of a tensor that a layer made (torchvision's and timm's convention), which is what
the saved-bytes model needs (docs/import.md).

This module is the driver: it reads the file. The walk is `onnx.walker`, constant folding
`onnx.constants`, the operator handlers by family under `onnx/`, their table `onnx.tables`, and
what they share with the torch importer `lowering`.
"""
from __future__ import annotations

import os

from ..errors import CnnCostError
from ..net import Net
from ..shapes import Shape
from .onnx.attention import find_multihead, find_sdpa
from .onnx.tables import HANDLERS
from .onnx.validate import validate
from .onnx.walker import OnnxWalker

__all__ = ["from_onnx"]


def from_onnx(path: str | os.PathLike[str], *, name: str | None = None, allow_unknown: bool = False,
              input: Shape | None = None) -> Net:
    """The cnncost Net of an ONNX model file (one input: a batch of tensors of any rank, N x C x H x W,
    N x L x D, N x C x D x H x W...).

    `input` overrides a symbolic or missing size per sample ((C, H, W), (L, D)...). Needs only the
    `onnx` package."""
    try:
        import onnx
    except ImportError:
        raise CnnCostError("importing an ONNX file needs the onnx package: pip install onnx "
                           "(or cnncost[onnx])") from None
    source = os.fspath(path)
    try:
        model = onnx.load(source, load_external_data=False)
    except FileNotFoundError:
        raise CnnCostError(f"no such ONNX file: {source}") from None
    except Exception as error:  # noqa: BLE001 - a corrupt or non-ONNX file
        raise CnnCostError(f"{source}: not a readable ONNX model: {type(error).__name__}: "
                           f"{str(error).splitlines()[0][:200] if str(error) else ''}") from None
    base = os.path.splitext(os.path.basename(source))[0]
    try:
        validate(model)  # a file that contradicts itself gets no numbers (issue 21)
        return OnnxWalker(model, name or base, allow_unknown, input, source, HANDLERS,
                          (find_multihead, find_sdpa)).run()
    except CnnCostError as error:
        raise error.at(source=source) from None
