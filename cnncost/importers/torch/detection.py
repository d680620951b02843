"""torchvision's detection models (Faster/Mask/Keypoint R-CNN, RetinaNet, FCOS, SSD, SSDlite) as
cnncost Nets, in eval mode (training needs targets).

Such a model takes a list of images and returns boxes whose number depends on the data. Its
`transform` (normalise, resize, pad to a multiple of `size_divisible`), its `backbone` and its
dense heads (the RPN head, RetinaNet/FCOS/SSD heads) run on tensors whose shapes the input fixes:
they are traced and imported exactly. Every step after them is data-dependent (anchor generation,
box decoding, top-k, NMS, ROI pooling of a varying number of boxes, the box/mask/keypoint heads
on those boxes, postprocessing): each is one `opaque` row (`Stage`) named by its module path,
whose parameters are counted and whose MACs and saved bytes are unknown, flagged in every output.
Its shape is an upper bound (the RPN's `post_nms_top_n` proposals, `detections_per_img` boxes).

The input is one image's shape (`input=(3, 800, 800)`): the list holds `batch` images of that
shape (the report's batch). Images of different sizes cannot be described per sample.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, cast

import torch
from torch import nn

from ...errors import CnnCostError
from ...net import Net, several_inputs
from ...shapes import Shape
from .fx_walker import FxWalker
from .inputs import module_inputs, shapes_text
from .meta_run import ForwardRaises
from .guarded import restore_buffers, save_buffers
from .tracing import record, trace_module

__all__ = ["is_detection", "from_detection"]

DEFAULT_IMAGE = (3, 800, 800)


def is_detection(module: Any) -> bool:
    """A torchvision detection model: a GeneralizedRCNNTransform, a backbone and either an RPN
    with ROI heads or dense heads with an anchor generator."""
    transform = getattr(module, "transform", None)
    if not all(hasattr(transform, a) for a in ("image_mean", "image_std", "min_size", "max_size", "batch_images")):
        return False
    if not hasattr(module, "backbone"):
        return False
    return (hasattr(module, "rpn") and hasattr(module, "roi_heads")) or \
        (hasattr(module, "head") and hasattr(module, "anchor_generator"))


def from_detection(model: Any, input: Any = DEFAULT_IMAGE, *, name: str | None = None,
                   allow_unknown: bool = False) -> Net:
    """The Net of a torchvision detection model in eval mode; `input`: one image's shape."""
    if several_inputs(input):
        raise CnnCostError(f"{type(model).__name__} takes a list of images: give one image's shape "
                           "(input=(3, 800, 800)); the batch is the number of images")
    (_, shape), = module_inputs(model, input)
    if len(shape) != 3:
        raise CnnCostError(f"{type(model).__name__} takes images C x H x W, got {shape_text(shape)}")
    was_training = [m.training for m in model.modules()]
    model.eval()
    label = name or type(model).__name__
    try:
        wrapper = _wrap(model, shape)
        trace, untraceable = trace_module(wrapper, leaves=(Stage,))
        buffers = save_buffers(wrapper)
        try:
            results = record(trace, shape)
        except ForwardRaises as raised:
            raise CnnCostError(f"{type(model).__name__} does not run on {shape_text(shape)} images: {raised}") from None
        except Exception as error:  # noqa: BLE001
            raise CnnCostError(f"{type(model).__name__} does not run on {shape_text(shape)} images: "
                               f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}") from None
        finally:
            restore_buffers(buffers)
        walker = DetectionWalker(wrapper, trace, results, shape, label, allow_unknown, False, untraceable=untraceable)
        walker.described = type(model)  # the notes name the model, not the wrapper traced
        return walker.run()
    finally:
        for m, mode in zip(model.modules(), was_training):
            m.training = mode


def shape_text(shape: Shape) -> str:
    return shapes_text((("input", shape),))


class DetectionWalker(FxWalker):
    """The fx walk, where a `Stage` is an opaque row (with or without allow_unknown: it is the
    import's design, not an unknown op) named by what it does."""

    described: Any = None

    def module_handler(self, m: Any) -> Callable | None:
        return _stage_row if isinstance(m, Stage) else super().module_handler(m)

    def _op_name(self, node: Any) -> str:
        if node.op == "call_module":
            m = self.gm.get_submodule(node.target)
            if isinstance(m, Stage):
                return m.op
        return super()._op_name(node)

    def _notes(self) -> str:
        notes = super()._notes()
        model = self.described
        what = f"{model.__module__}.{model.__qualname__}" if model is not None else "a detection model"
        first = (f"imported from torch: {what}, traced with torch.fx in eval mode on a list of "
                 f"{shape_text(self.input_shape)} images (one per sample)")
        return first + "; " + notes.split("; ", 1)[1] if "; " in notes else first


def _stage_row(imp: Any, node: Any, m: Any, args: Any, kwargs: Any, result: Any) -> Any:
    allow, imp.allow_unknown = imp.allow_unknown, True
    try:
        return imp._unknown(node, args, kwargs, result, "")
    finally:
        imp.allow_unknown = allow


class Stage(nn.Module):
    """A data-dependent step of a detection model, a leaf of the trace. It holds the module it
    stands for (`inner`: its parameters are counted) and returns empty tensors of the shapes
    `shapes(tensors)` gives (per sample, upper bounds), so a trace runs through it."""

    def __init__(self, op: str, shapes: Callable[[list], list[Shape]], inner: Any = None) -> None:
        super().__init__()
        self.op, self.shapes = op, shapes
        if inner is not None:
            self.inner = inner

    def forward(self, *args: Any) -> Any:
        tensors = _flat(args)
        x = tensors[0]
        outs = tuple(x.new_empty((x.shape[0], *s)) for s in self.shapes(tensors))
        return outs[0] if len(outs) == 1 else outs


def _flat(value: Any) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat(v)]
    return []


# ----------------------------------------------------------------------------- the traceable model

class Transform(nn.Module):
    """GeneralizedRCNNTransform on same-size images, as tensor ops: normalise, resize to the size
    torchvision's own transform gives (bilinear), zero-pad to its batched size. The normalisation
    (x - mean) / std is an eval-mode batch norm without affine whose running statistics are the
    mean and std: the same per-channel constant affine, no parameters, no MACs."""

    def __init__(self, transform: Any, resized: tuple[int, int], padded: tuple[int, int]) -> None:
        super().__init__()
        mean, std = (torch.tensor(v, dtype=torch.float32) for v in (transform.image_mean, transform.image_std))
        self.normalize = nn.BatchNorm2d(len(mean), eps=0.0, affine=False).eval()
        cast(torch.Tensor, self.normalize.running_mean).copy_(mean)  # tracked: not None
        cast(torch.Tensor, self.normalize.running_var).copy_(std * std)
        self.resized, self.padded = resized, padded

    def train(self, mode: bool = True) -> "Transform":
        super().train(mode)
        self.normalize.eval()  # constants, whatever the mode
        return self

    def forward(self, x: Any) -> Any:
        x = self.normalize(x)
        x = nn.functional.interpolate(x, size=self.resized, mode="bilinear", align_corners=False)
        if self.padded != self.resized:
            x = nn.functional.pad(x, (0, self.padded[1] - self.resized[1], 0, self.padded[0] - self.resized[0]))
        return x


def _sizes(model: Any, shape: Shape) -> tuple[tuple[int, int], tuple[int, int]]:
    """(resized, padded) image size, from torchvision's own transform on one image."""
    with torch.no_grad():
        images, _ = model.transform([torch.zeros(shape)])
    resized = tuple(int(d) for d in images.image_sizes[0])
    return resized, tuple(int(d) for d in images.tensors.shape[-2:])  # type: ignore[return-value]


def _probe(module: Any, *shape: int) -> list[Shape]:
    """The per-box output shapes of a head run on one box (real tensors, no grad)."""
    with torch.no_grad():
        out = module(torch.zeros(1, *shape))
    return [tuple(t.shape[1:]) for t in _flat(out)]


def _anchors(per_location: Sequence[int]) -> Callable[[list], list[Shape]]:
    def shapes(tensors: list) -> list[Shape]:
        feats = tensors[1:]  # the image first, then each level's map
        return [(sum(int(f.shape[-2]) * int(f.shape[-1]) * a for f, a in zip(feats, per_location)), 4)]
    return shapes


def _fixed(*shapes: Shape) -> Callable[[list], list[Shape]]:
    return lambda tensors: list(shapes)


def _detections(n: int) -> list[Shape]:
    """boxes, scores, labels of at most n detections."""
    return [(n, 4), (n,), (n,)]


def _container(**children: Any) -> Any:  # an nn.Module whose attributes are `children`
    box = nn.Module()
    for key, child in children.items():
        setattr(box, key, child)
    return box


class RCNN(nn.Module):
    """Faster / Mask / Keypoint R-CNN: transform, backbone and RPN head exact; the rest stages."""

    def __init__(self, model: Any, transform: Transform) -> None:
        super().__init__()
        rpn, heads = model.rpn, model.roi_heads
        self.transform, self.backbone = transform, model.backbone
        proposals = int(rpn._post_nms_top_n["testing"])
        channels = int(model.backbone.out_channels)
        per_location = rpn.anchor_generator.num_anchors_per_location()
        self.rpn = _container(
            head=rpn.head,
            anchor_generator=Stage("torchvision AnchorGenerator (anchors of every level: no MACs, data-free)",
                                   _anchors(per_location), rpn.anchor_generator),
            filter_proposals=Stage(f"RPN box decoding, top-k, NMS (data-dependent: at most {proposals} proposals)",
                                   _fixed((proposals, 4))))
        pool = _roi_pool_size(heads.box_roi_pool)
        box = _probe(heads.box_head, channels, *pool)
        logits = _probe(heads.box_predictor, *box[0])
        detections = int(heads.detections_per_img)
        stages = {
            "box_roi_pool": Stage(f"MultiScaleRoIAlign (data-dependent: at most {proposals} boxes)",
                                  _fixed((proposals, channels, *pool)), heads.box_roi_pool),
            "box_head": Stage("box head on the pooled boxes (data-dependent count)",
                              _fixed(*[(proposals, *s) for s in box]), heads.box_head),
            "box_predictor": Stage("box predictor (data-dependent count)",
                                   _fixed(*[(proposals, *s) for s in logits]), heads.box_predictor),
            "postprocess_detections": Stage(f"box decoding, score threshold, NMS (at most {detections} detections)",
                                            _fixed(*_detections(detections))),
        }
        self.extras: list[str] = []
        for kind in ("mask", "keypoint"):
            head = getattr(heads, f"{kind}_head", None)
            if head is None:
                continue
            pool = _roi_pool_size(getattr(heads, f"{kind}_roi_pool"))
            inner = _probe(head, channels, *pool)
            out = _probe(getattr(heads, f"{kind}_predictor"), *inner[0])
            stages[f"{kind}_roi_pool"] = Stage(f"MultiScaleRoIAlign (at most {detections} detections)",
                                               _fixed((detections, channels, *pool)),
                                               getattr(heads, f"{kind}_roi_pool"))
            stages[f"{kind}_head"] = Stage(f"{kind} head (data-dependent count)",
                                           _fixed(*[(detections, *s) for s in inner]), head)
            stages[f"{kind}_predictor"] = Stage(f"{kind} predictor (data-dependent count)",
                                                _fixed(*[(detections, *s) for s in out]),
                                                getattr(heads, f"{kind}_predictor"))
            self.extras.append(kind)
        self.roi_heads = _container(**stages)
        self.postprocess = Stage("boxes (masks, keypoints) back to the input size (data-dependent count)",
                                 _fixed(*_detections(detections)))

    def forward(self, x: Any) -> Any:
        images = self.transform(x)
        features = self.backbone(images)
        feats = list(features.values()) if isinstance(features, dict) else [features]
        objectness, deltas = self.rpn.head(feats)
        anchors = self.rpn.anchor_generator(images, *feats)
        proposals = self.rpn.filter_proposals(anchors, *objectness, *deltas)
        heads = self.roi_heads
        pooled = heads.box_roi_pool(proposals, *feats)
        logits = heads.box_predictor(heads.box_head(pooled))
        detections = heads.postprocess_detections(logits, proposals)
        found = [detections]
        for kind in self.extras:
            pooled = getattr(heads, f"{kind}_roi_pool")(detections, *feats)
            inner = getattr(heads, f"{kind}_head")(pooled)
            found.append(getattr(heads, f"{kind}_predictor")(inner))
        return self.postprocess(*found)


class Dense(nn.Module):
    """RetinaNet, FCOS, SSD, SSDlite: transform, backbone and head exact; anchors and the
    postprocessing stages."""

    def __init__(self, model: Any, transform: Transform) -> None:
        super().__init__()
        self.transform, self.backbone, self.head = transform, model.backbone, model.head
        detections = int(model.detections_per_img)
        self.anchor_generator = Stage(f"torchvision {type(model.anchor_generator).__name__} (anchors of every level: "
                                      "no MACs, data-free)",
                                      _anchors(model.anchor_generator.num_anchors_per_location()),
                                      model.anchor_generator)
        rest = {n: c for n, c in model.named_children() if n not in ("transform", "backbone", "head", "anchor_generator")}
        self.postprocess_detections = Stage(f"box decoding, top-k, NMS (data-dependent: at most {detections} "
                                            "detections)", _fixed(*_detections(detections)),
                                            _container(**rest) if rest else None)  # what else it holds runs here
        self.postprocess = Stage("boxes back to the input size (data-dependent count)", _fixed(*_detections(detections)))

    def forward(self, x: Any) -> Any:
        images = self.transform(x)
        features = self.backbone(images)
        feats = list(features.values()) if isinstance(features, dict) else [features]
        head = self.head(feats)
        anchors = self.anchor_generator(images, *feats)
        return self.postprocess(self.postprocess_detections(head, anchors))


def _roi_pool_size(pool: Any) -> tuple[int, int]:
    size = pool.output_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    return int(size[0]), int(size[-1])


def _wrap(model: Any, shape: Shape) -> nn.Module:
    resized, padded = _sizes(model, shape)
    transform = Transform(model.transform, resized, padded)
    wrapper = RCNN(model, transform) if hasattr(model, "rpn") else Dense(model, transform)
    # parameters of modules no step above names (a custom ROI head's extras): the last, opaque
    # step holds them, so they are counted
    seen = {id(p) for p in wrapper.parameters()}
    rest = [p for p in model.parameters() if id(p) not in seen]
    if rest:
        wrapper.postprocess.rest = nn.ParameterList(rest)
    return wrapper
