"""--freeze against PyTorch 2.13 on CPU: saved bytes per layer with the frozen layers' parameters
requires_grad_(False), on the zoo (the first half frozen, all but the head, a middle block;
fp32 and bf16 autocast), and the gradient bytes a real step holds after backward."""
import pytest

torch = pytest.importorskip("torch", reason="comparing with PyTorch needs cnncost[torch]")

from cnncost.torch_backend.freeze_check import compare_frozen  # noqa: E402

HALF, HEAD, MIDDLE = "first half", "all but the head", "a middle block"
CASES = [  # (arch, input, dtype, what, patterns)
    ("alexnet", None, "fp32", HALF, ("conv1", "conv2", "conv3")),
    ("alexnet", None, "bf16", HEAD, ("conv*", "fc6", "fc7")),
    ("vgg11", (3, 64, 64), "fp32", HALF, ("stage1.*", "stage2.*")),
    ("resnet18", (3, 64, 64), "fp32", HALF, ("conv1", "bn1", "layer1.*", "layer2.*")),
    ("resnet18", (3, 64, 64), "bf16", MIDDLE, ("layer3.*",)),
    ("resnet50", (3, 64, 64), "fp32", HEAD, ("conv1", "bn1", "layer*")),
    ("resnet50", (3, 64, 64), "bf16", HALF, ("conv1", "bn1", "layer1.*", "layer2.*")),
    ("mobilenet-v2", (3, 64, 64), "fp32", HALF, ("stem.*", "stage1.*", "stage2.*", "stage3.*")),
    ("mobilenet-v2", (3, 64, 64), "bf16", MIDDLE, ("stage4.*",)),
    ("efficientnet-b0", (3, 64, 64), "bf16", HEAD, ("stem.*", "stage*", "head.*")),
    ("efficientnet-b0", (3, 64, 64), "fp32", MIDDLE, ("stage4.*",)),
    ("densenet121", (3, 64, 64), "fp32", HALF, ("features.conv0", "features.norm0", "features.denseblock1.*",
                                                 "features.transition1.*", "features.denseblock2.*")),
    ("densenet121", (3, 64, 64), "bf16", MIDDLE, ("features.denseblock3.*",)),
    ("convnext-tiny", (3, 64, 64), "fp32", HALF, ("features.0.*", "features.1.*", "features.2.*", "features.3.*")),
    ("convnext-tiny", (3, 64, 64), "bf16", MIDDLE, ("features.5.*",)),  # frozen layer scale and linears
    ("convnext-tiny", (3, 64, 64), "bf16", HEAD, ("features.*",)),
]


@pytest.mark.parametrize("arch,input,dtype,what,patterns", CASES,
                         ids=[f"{a}-{d}-{w.replace(' ', '-')}" for a, _, d, w, _ in CASES])
def test_frozen_saved_bytes_match_pytorch_per_layer(arch, input, dtype, what, patterns):
    result = compare_frozen(arch, patterns, batch=2, input=input, dtype=dtype)
    assert result.frozen
    assert result.mismatches() == {}, "per layer (predicted, measured)"
    assert result.predicted == result.measured


@pytest.mark.parametrize("arch,input,patterns", [
    ("resnet18", (3, 32, 32), ("conv1", "bn1", "layer1.*")),
    ("mobilenet-v2", (3, 32, 32), ("stage4.*",)),
])
def test_a_real_step_holds_gradients_of_the_trainable_parameters_only(arch, input, patterns):
    result = compare_frozen(arch, patterns, batch=2, input=input, live=True)
    assert result.measured_gradients == result.predicted_gradients


def test_a_linear_after_a_frozen_lstm_saves_no_weight_copy_under_autocast():
    # the LSTM's output needs no gradient; torch.matmul copies it (strided: steps apart) inside the
    # linear's step, and that copy needs none either: the weight's bf16 copy is not saved (measured:
    # linear2 saves 140 B, its input's copy only)
    from cnncost import Linear, Net
    from cnncost.layers import LSTM
    net = Net("l", input=(5, 6), layers=[Linear(out=8), LSTM(name="r", hidden=7), Linear(out=3)])
    result = compare_frozen(net, ("linear0", "r"), dtype="bf16")
    assert result.by_path["linear2"] == (140, 140)
    assert result.mismatches() == {}
