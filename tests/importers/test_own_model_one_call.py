"""Issue 22 item 2: your own model in one call. `compare`, `fit`, `sweep` and the receptive field
take an `nn.Module` or an ONNX file as `table` does, through one resolver
(`cnncost.resolve.resolve_sized`), at the input given; torchinfo's (B, C, H, W) and `input_size`
carry the batch."""
from __future__ import annotations

from pathlib import Path

import pytest

import cnncost
from cnncost.errors import CnnCostError

torch = pytest.importorskip("torch")
ONNX = Path(__file__).resolve().parents[1] / "fixtures" / "onnx" / "plain_cnn.onnx"  # input 3x32x32


class Cifar(torch.nn.Module):
    """A CIFAR-sized net whose linear layer fixes its input at 3x32x32 (it cannot run at 224x224)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 5)
        self.fc = torch.nn.Linear(6 * 28 * 28, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


# conv 6 x 3 x 25 + 6 = 456 params, 6 x 28 x 28 x 75 = 352,800 MACs; fc 4,704 x 10 + 10 = 47,050 params
PARAMS, MACS = 456 + 47_050, 6 * 28 * 28 * 75 + 4_704 * 10


def test_every_call_takes_a_module_at_the_input_given() -> None:
    model = Cifar()
    assert (cnncost.table(model, input=(3, 32, 32), batch=1).totals.macs, cnncost.load(model, input="3x32x32").input) \
        == (MACS, (3, 32, 32))
    comparison = cnncost.compare([model, "block-conv3x3"], input=(3, 32, 32), batch=1)
    assert comparison.reports[0].totals.params == PARAMS
    frame = cnncost.sweep(model, input=(3, 32, 32), batch=[1, 2])
    assert frame["macs"].tolist() == [MACS, 2 * MACS]
    assert cnncost.fit(model, "1GiB", input=(3, 32, 32)).batch > 1000
    fields = {f.name: f for f in cnncost.receptive_field(model, (3, 32, 32))}  # imported at 3x32x32, not 224
    assert fields["conv"].size == (5, 5)
    assert cnncost.receptive_frame(model, (3, 32, 32)).set_index("name").loc["conv", "receptive_field"] == 5


def test_every_call_takes_an_onnx_file() -> None:
    table = cnncost.table(ONNX, batch=1)
    assert cnncost.compare([str(ONNX), ONNX], batch=1).reports[1].totals == table.totals
    assert cnncost.sweep(str(ONNX), batch=1)["macs"].tolist() == [table.totals.macs]
    assert cnncost.fit(ONNX, "1GiB").batch > 1000
    assert cnncost.receptive_field(str(ONNX))[-1].whole_input


def test_torchinfo_input_sizes_carry_the_batch() -> None:
    model = Cifar()
    per_sample = cnncost.table(model, input=(3, 32, 32), batch=8).totals
    assert cnncost.table(model, input=(8, 3, 32, 32)).totals == per_sample
    assert cnncost.table(model, input_size=(8, 3, 32, 32)).totals == per_sample
    assert cnncost.table(model, input_size=[8, 3, 32, 32], batch=8).batch == 8  # the same batch twice: agreed
    assert cnncost.table("resnet18", input=(2, 3, 224, 224)).batch == 2  # a built-in image model
    assert cnncost.table(ONNX, input=(4, 3, 32, 32)).batch == 4  # an ONNX file with a C x H x W input
    assert cnncost.fit(model, "1GiB", input=(1, 3, 32, 32)).batch == cnncost.fit(model, "1GiB", input=(3, 32, 32)).batch
    assert cnncost.sweep(model, input_size=(16, 3, 32, 32))["batch"].tolist() == [16]
    assert cnncost.load(model, input_size=(1, 3, 32, 32)).input == (3, 32, 32)


def test_four_sizes_of_a_video_model_are_one_sample() -> None:
    video = torch.nn.Sequential(torch.nn.Conv3d(3, 4, 3))  # a 3-D layer: C x D x H x W samples
    report = cnncost.table(video, input=(3, 8, 16, 16), batch=2)
    assert report.batch == 2 and report.totals.output_shape == (4, 6, 14, 14)


@pytest.mark.parametrize(("call", "message"), [
    (lambda m: cnncost.table(m, input_size=(8, 3, 32, 32), batch=4), r"carries batch 8 .* but batch=4 was given too"),
    # with a batch, `input` is one sample, as on the command line: a 4-D sample the conv refuses
    (lambda m: cnncost.table(m, input=(8, 3, 32, 32), batch=4),
     "Cifar's forward raises on a 8x3x32x32 input in torch.nn.modules.conv.Conv2d at module 'conv': RuntimeError: "),
    (lambda m: cnncost.table(m, input=(3, 32, 32), input_size=(1, 3, 32, 32)), "not both"),
    (lambda m: cnncost.table(m, input_size=(3,)), "the batch and then the shape of one sample"),
    (lambda m: cnncost.sweep(m, input_size=(8, 3, 32, 32), batch=[1, 2]), "carries batch 8"),
])
def test_contradictions_are_one_line(call, message: str) -> None:
    with pytest.raises(CnnCostError, match=message) as error:
        call(Cifar())
    assert "\n" not in str(error.value)
