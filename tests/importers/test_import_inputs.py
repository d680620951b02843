"""Importing torch models whose input is not one tensor (issue 18): several inputs (a list of
shapes or a mapping of the forward's argument names) and detection models that take a list of
images and end in data-dependent steps. Each tiny module is compared with PyTorch itself:
parameters (model.parameters()), MACs (FlopCounterMode, FLOPs / 2) and the bytes autograd saves
(cnncost.torch_backend.measure.saved_tensors) at batch 2, CPU fp32. torchvision is not needed: the
detection model below has the attributes torchvision's detection models have."""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import figures, measured_run  # noqa: E402  (tests/support)

BATCH = 2


class TwoImages(nn.Module):
    """RAFT's shape of input: two images through one shared encoder (a module called twice), a
    correlation of their features (a matmul), and a vector input through a linear."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.fuse = nn.Conv2d(16, 4, 1)
        self.embed = nn.Linear(5, 4)

    def forward(self, image1, image2, extra):
        a, b = self.encoder(image1), self.encoder(image2)
        corr = torch.matmul(a.flatten(2).transpose(1, 2), b.flatten(2))  # (N, HW, HW)
        fused = self.fuse(torch.cat([a, b], dim=1))
        return fused * torch.sigmoid(self.embed(extra)).unsqueeze(-1).unsqueeze(-1), corr  # a gate


SHAPES = [(3, 6, 6), (3, 6, 6), (5,)]


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_several_inputs_as_a_list_are_exact(tracer: str) -> None:
    torch.manual_seed(0)
    model = TwoImages()
    xs = [torch.randn(BATCH, *s) for s in SHAPES]
    net = from_torch(model, input=SHAPES, tracer=tracer)
    # the inputs take the forward's argument names, in its order
    assert net.named_inputs == (("image1", (3, 6, 6)), ("image2", (3, 6, 6)), ("extra", (5,)))
    params, macs, saved = measured_run(model, *xs)
    # MACs by hand: conv 3->8 3x3 on 6x6 twice (2 x 7,776), matmul 36x8x36 (10,368), fuse 16->4
    # on 36 pixels (2,304), linear 5x4 (20): 28,244 per sample
    assert macs == 2 * 7776 + 10368 + 2304 + 20
    assert figures(net) == (params, macs, saved)


def test_several_inputs_by_name_in_any_order_give_the_same_net() -> None:
    model = TwoImages()
    by_list = from_torch(model, input=SHAPES)
    by_name = from_torch(model, input={"extra": (5,), "image2": (3, 6, 6), "image1": (3, 6, 6)})
    assert by_name.named_inputs == by_list.named_inputs
    assert figures(by_name) == figures(by_list)


def test_several_inputs_as_text() -> None:
    net = from_torch(TwoImages(), input="3x6x6,3x6x6,5x")  # 5x: a vector (5: a 3x5x5 image)
    assert [s for _, s in net.named_inputs] == SHAPES


def test_bad_several_inputs_are_one_line() -> None:
    with pytest.raises(CnnCostError, match="forward has no argument 'image3'"):
        from_torch(TwoImages(), input={"image1": (3, 6, 6), "image3": (3, 6, 6)})
    with pytest.raises(CnnCostError, match="skip TwoImages.forward's argument 'image1'"):
        from_torch(TwoImages(), input={"image2": (3, 6, 6), "extra": (5,)})
    with pytest.raises(CnnCostError, match="4 input shapes given; TwoImages.forward takes 3"):
        from_torch(TwoImages(), input=SHAPES + [(5,)])


def test_several_inputs_round_trip_through_yaml(tmp_path) -> None:
    from cnncost.spec import dump_spec, load_spec
    net = from_torch(TwoImages(), input=SHAPES)
    (tmp_path / "two.yaml").write_text(dump_spec(net))
    again = load_spec(str(tmp_path / "two.yaml"))
    assert again.named_inputs == net.named_inputs
    assert figures(again) == figures(net)


# ----------------------------------------------------------------------------- detection


class ImageList(NamedTuple):
    tensors: torch.Tensor
    image_sizes: list


class TinyTransform(nn.Module):
    """torchvision's GeneralizedRCNNTransform in small: normalise, resize so the short side is
    min_size (at most max_size), pad to a multiple of size_divisible."""

    def __init__(self) -> None:
        super().__init__()
        self.image_mean, self.image_std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
        self.min_size, self.max_size, self.size_divisible = (32,), 64, 32

    def forward(self, images):
        out = []
        for image in images:
            mean = torch.as_tensor(self.image_mean)[:, None, None]
            image = (image - mean) / torch.as_tensor(self.image_std)[:, None, None]
            h, w = image.shape[-2:]
            scale = min(self.min_size[-1] / min(h, w), self.max_size / max(h, w))
            out.append(F.interpolate(image[None], scale_factor=scale, mode="bilinear",
                                     recompute_scale_factor=True, align_corners=False)[0])
        return ImageList(self.batch_images(out), [tuple(i.shape[-2:]) for i in out]), None

    def batch_images(self, images):
        h = max(i.shape[1] for i in images)
        w = max(i.shape[2] for i in images)
        d = self.size_divisible
        batched = images[0].new_zeros(len(images), 3, -(-h // d) * d, -(-w // d) * d)
        for k, image in enumerate(images):
            batched[k, :, :image.shape[1], :image.shape[2]].copy_(image)
        return batched


class TinyBackbone(nn.Module):
    out_channels = 8

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)

    def forward(self, x):
        a = self.stem(x)
        return OrderedDict([("0", a), ("1", self.down(a))])


class TinyHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cls = nn.Conv2d(8, 3, 3, padding=1)
        self.box = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, feats):
        return {"cls_logits": torch.cat([self.cls(f).flatten(1) for f in feats], 1),
                "bbox_regression": torch.cat([self.box(f).flatten(1) for f in feats], 1)}


class TinyAnchors(nn.Module):
    def num_anchors_per_location(self):
        return [1, 1]


class TinyDetector(nn.Module):
    """A RetinaNet in small: a list of images in; transform, backbone, head; then a data-dependent
    step (the scores above a threshold, their top boxes) that no fixed count describes."""

    def __init__(self) -> None:
        super().__init__()
        self.transform, self.backbone, self.head = TinyTransform(), TinyBackbone(), TinyHead()
        self.anchor_generator = TinyAnchors()
        self.detections_per_img = 5
        self.score_fc = nn.Linear(4, 1)  # runs on the kept boxes only: data-dependent MACs

    def forward(self, images):
        batched, _ = self.transform(images)
        out = self.head(list(self.backbone(batched.tensors).values()))
        results = []
        for scores, boxes in zip(out["cls_logits"], out["bbox_regression"]):
            keep = scores.sigmoid() > 0.5
            boxes = boxes.reshape(-1, 4)[keep[:boxes.numel() // 4]]
            results.append(self.score_fc(boxes)[:self.detections_per_img])
        return results


def test_a_detection_model_imports_with_its_data_dependent_steps_opaque() -> None:
    torch.manual_seed(0)
    model = TinyDetector().eval()
    images = [torch.rand(3, 40, 48) for _ in range(BATCH)]  # resized to 32 x 38, padded to 32 x 64
    net = from_torch(model, input=(3, 40, 48))
    report = cnncost.table(net, batch=BATCH, dtype="fp32", memory="autograd", device="cpu")
    # params: every parameter of the model, the opaque step's linear included
    assert report.totals.params == sum(p.numel() for p in model.parameters()) == (3 * 9 * 8 + 8) + 16 + \
        (8 * 9 * 8 + 8) + (8 * 9 * 3 + 3) + (8 * 9 * 4 + 4) + 5
    # known MACs: transform, backbone and head, measured on the transform's output
    batched, _ = model.transform(images)
    assert tuple(batched.tensors.shape) == (BATCH, 3, 32, 64)

    class Known(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone, self.head = model.backbone, model.head

        def forward(self, x):
            return self.head(list(self.backbone(x).values()))

    with FlopCounterMode(display=False) as counter:
        Known().eval()(batched.tensors)
    assert report.totals.macs // BATCH == counter.get_total_flops() // 2 // BATCH > 0
    # the data-dependent steps are opaque rows, their MACs and saved bytes unknown, never 0
    unknown = report.unknown_counts()
    assert unknown["macs"][0] == "anchor_generator" and "postprocess_detections" in unknown["macs"]
    assert "postprocess_detections" in unknown["saved_bytes"]
    assert "opaque node(s) with unknown MACs and saved bytes" in net.notes
    assert "eval mode on a list of 3x40x48 images" in net.notes
    paths = [r.name for r in report.rows]
    assert "transform.upsample" in paths and "transform.pad" in paths
    with torch.no_grad():
        model(images)  # the real model runs on the list the import describes


def test_a_detection_import_round_trips_through_yaml(tmp_path) -> None:
    from cnncost.spec import dump_spec, load_spec
    net = from_torch(TinyDetector(), input=(3, 40, 48))
    (tmp_path / "det.yaml").write_text(dump_spec(net))
    again = load_spec(str(tmp_path / "det.yaml"))
    ours, theirs = (cnncost.table(n, batch=BATCH, memory="autograd", device="cpu") for n in (net, again))
    assert (ours.totals.params, ours.totals.macs) == (theirs.totals.params, theirs.totals.macs)
    assert ours.unknown_counts() == theirs.unknown_counts() and ours.unknown_counts()["macs"]


def test_a_custom_detection_models_extra_parameters_are_counted() -> None:
    """A parameter outside every module the import names (here, beside the ROI-free head) is
    held by the last opaque step, so the params total is the model's."""
    model = TinyDetector()
    model.calibration = nn.Parameter(torch.ones(7))
    net = from_torch(model, input=(3, 32, 32))
    assert cnncost.table(net, batch=1).totals.params == sum(p.numel() for p in model.parameters())


def test_a_detection_model_takes_one_image_shape() -> None:
    with pytest.raises(CnnCostError, match="takes a list of images: give one image's shape"):
        from_torch(TinyDetector(), input=[(3, 32, 32), (3, 32, 32)])


def test_torchvision_defaults_give_detection_one_image_and_optical_flow_two() -> None:
    """sources' defaults, with a stand-in for torchvision.models (not installed in CI)."""
    from types import SimpleNamespace

    from cnncost.importers import sources
    groups = {"detection": ["fasterrcnn_resnet50_fpn"], "optical_flow": ["raft_small"]}
    models = SimpleNamespace(detection="detection", optical_flow="optical_flow",
                             list_models=lambda module=None: groups.get(module, []),
                             get_model_weights=lambda name: [])
    assert sources._torchvision_input(models, "fasterrcnn_resnet50_fpn") == (3, 800, 800)
    assert sources._torchvision_input(models, "raft_small") == [(3, 224, 224), (3, 224, 224)]
    assert sources._torchvision_input(models, "resnet18") == sources.DEFAULT_INPUT
