"""Where a PyTorch model comes from: `torchvision:NAME`, `timm:NAME` or `package.module:callable`
gives the nn.Module (`resolve_module`), its default input and its name; `cnncost.resolve` turns
it, like every other kind of architecture argument, into a Net.

Weights are never downloaded: torchvision builders get `weights=None` (and `weights_backbone=None`),
timm models `pretrained=False`. The default input is the model's own: torchvision's first weights'
crop size (segmentation: its resize size; detection: one 3x800x800 image of the list, 800 being
the R-CNNs' min_size; optical flow: two 3x224x224 images, a multiple of 8 as RAFT needs),
timm's `pretrained_cfg["input_size"]`, else 3x224x224.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

from ..errors import CnnCostError
from ..shapes import Shape

__all__ = ["resolve_module", "is_torch_source", "DEFAULT_INPUT"]

DEFAULT_INPUT = (3, 224, 224)
DETECTION_IMAGE = (3, 800, 800)  # one image of a detection model's list (its transform resizes it)
FLOW_INPUT = [(3, 224, 224), (3, 224, 224)]  # RAFT's two images
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# torchvision builders with an init_weights switch: skipping the init changes no count and saves time
_NO_INIT = ("googlenet", "inception_v3", "vgg")


def is_torch_source(text: Any) -> bool:
    """torchvision:NAME, timm:NAME or package.module:callable (not a file that exists)."""
    if not isinstance(text, str) or Path(text).exists():
        return False
    return text.startswith(("torchvision:", "timm:")) or bool(_CALLABLE.match(text))


def resolve_module(text: str) -> tuple[Any, Any, str]:
    """(nn.Module, default input, name) for a torch source string: the input is a shape, or a
    list of shapes for a model that takes several tensors."""
    _need("torch", "importing a PyTorch model needs torch: pip install torch")
    kind, _, rest = text.partition(":")
    if kind == "torchvision":
        return _torchvision(rest)
    if kind == "timm":
        return _timm(rest)
    return _callable(kind, rest)


def _need(package: str, message: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError:
        raise CnnCostError(message) from None


def _torchvision(name: str) -> tuple[Any, Any, str]:
    models = _need("torchvision.models", "torchvision:NAME needs torchvision: pip install torchvision")
    known = list(models.list_models())
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        raise CnnCostError(f"torchvision has no model '{name}'" + (f"; did you mean {', '.join(close)}?" if close else
                                                                    "; see torchvision.models.list_models()"))
    builder = models.get_model_builder(name)
    kwargs: dict[str, Any] = {"weights": None}
    params = inspect.signature(builder).parameters
    if "weights_backbone" in params:
        kwargs["weights_backbone"] = None
    if name.startswith(_NO_INIT):
        kwargs["init_weights"] = False
    try:
        module = builder(**kwargs)
    except TypeError:
        kwargs.pop("init_weights", None)
        module = builder(**kwargs)
    return module, _torchvision_input(models, name), name


def _torchvision_input(models: Any, name: str) -> Any:
    if name in models.list_models(module=models.detection):
        return DETECTION_IMAGE
    if name in models.list_models(module=models.optical_flow):
        return FLOW_INPUT
    try:
        weights = list(models.get_model_weights(name))
    except Exception:  # noqa: BLE001 - a model without weights
        return DEFAULT_INPUT
    if not weights:
        return DEFAULT_INPUT
    try:
        transforms = weights[0].transforms()
    except Exception:  # noqa: BLE001
        return DEFAULT_INPUT
    size = getattr(transforms, "crop_size", None) or getattr(transforms, "resize_size", None)
    if not size:
        return DEFAULT_INPUT
    size = list(size)
    return (3, int(size[0]), int(size[-1]))


def _timm(name: str) -> tuple[Any, Shape, str]:
    timm = _need("timm", "timm:NAME needs timm: pip install timm")
    try:
        module = timm.create_model(name, pretrained=False)
    except RuntimeError as error:  # timm's "Unknown model"
        known = timm.list_models()
        close = difflib.get_close_matches(name, known, n=3)
        raise CnnCostError(f"timm: {str(error).splitlines()[0]}" + (f"; did you mean {', '.join(close)}?" if close else "")) from error
    cfg = getattr(module, "pretrained_cfg", None) or {}
    shape = tuple(cfg.get("input_size") or DEFAULT_INPUT)
    return module, shape, f"timm-{name}"


def _callable(module_name: str, attr: str) -> tuple[Any, Shape, str]:
    import torch
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CnnCostError(f"cannot import module '{module_name}': {error}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CnnCostError(f"module '{module_name}' has no '{attr}'")
        obj = getattr(obj, part)
    if not isinstance(obj, torch.nn.Module):
        if not callable(obj):
            raise CnnCostError(f"'{module_name}:{attr}' is neither an nn.Module nor a callable returning one")
        try:
            obj = obj()
        except TypeError as error:
            raise CnnCostError(f"'{module_name}:{attr}' must be callable without arguments: {error}") from None
    if not isinstance(obj, torch.nn.Module):
        raise CnnCostError(f"'{module_name}:{attr}' returned a {type(obj).__name__}, not an nn.Module")
    return obj, DEFAULT_INPUT, attr.rpartition(".")[2]
