"""The autograd memory model against PyTorch's own bookkeeping: every storage autograd saves for
backward in a train-mode forward pass on CPU (cnncost.torch_backend.measure.saved_tensors)."""
import pytest

torch = pytest.importorskip("torch", reason="comparing with PyTorch needs cnncost[torch]")

from cnncost.torch_backend.saved_check import compare_saved  # noqa: E402

# (arch, batch, input, dtype): the lecture's three nets at full size, a sample of the zoo at small
# inputs to keep CI fast. Inception-v3 needs at least 75x75.
CASES = [
    ("alexnet", 2, None, "fp32"),
    ("alexnet", 2, None, "bf16"),
    ("vgg16", 1, None, "fp32"),
    ("googlenet", 2, None, "fp32"),
    ("googlenet", 1, (3, 224, 224), "bf16"),
    ("resnet50", 2, (3, 64, 64), "fp32"),
    ("resnet50", 2, (3, 64, 64), "bf16"),
    ("mobilenet-v2", 2, (3, 64, 64), "fp32"),
    ("efficientnet-b0", 2, (3, 64, 64), "fp32"),
    ("inception-v3", 1, (3, 107, 107), "fp32"),
    ("inception", 2, None, "fp32"),         # a concat straight on the input: ops on it save nothing
    ("parnet-s", 2, (3, 64, 64), "fp32"),   # side branches, gates without layers
]


@pytest.mark.parametrize("arch,batch,input,dtype", CASES,
                         ids=[f"{a}-b{b}-{'x'.join(map(str, i)) if i else 'default'}-{d}" for a, b, i, d in CASES])
def test_saved_bytes_match_pytorch_exactly(arch, batch, input, dtype):
    result = compare_saved(arch, batch=batch, input=input, dtype=dtype)
    assert result.mismatches() == {}, "per layer (predicted, measured)"
    assert result.predicted == result.measured
    assert abs(result.rel_error) <= 0.02  # the tolerance; kept should the exact match ever slip

