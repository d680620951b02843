"""The inference model (`cnncost.memory.inference`): hand-derived figures of small nets, the arena
planner, int8, and the zoo's peaks against the live-tensor tracker (torch 2.13 CPU)."""
from __future__ import annotations

import pytest

import cnncost
from cnncost import Net
from cnncost.errors import CnnCostError
from cnncost.layers import BatchNorm, Conv, Dropout, MaxPool, ReLU
from cnncost.memory import Precision, Setup, step_memory, trace
from cnncost.memory.inference import greedy_by_size
from tensor_op_nets import nets as tensor_op_nets  # tests/support

FP32 = Precision("fp32", device="cpu")


def _pass(net: Net, int8: bool = False, precision: Precision = FP32):
    return step_memory(trace(net, precision=precision), Setup(mode="inference", int8=int8))


def test_a_chain_frees_each_tensor_after_its_last_reader() -> None:
    """conv (4x8x8 = 256 elements) -> bn (new) -> relu in place -> dropout (identity in eval):
    at bn the conv output and bn's are alive; bn's running stats are buffers, not tensors made."""
    net = Net("n", input=(3, 8, 8), layers=[Conv(out=4, kernel=3, padding=1, bias=False), BatchNorm(),
                                            ReLU(inplace=True), Dropout(p=0.5)])
    p = _pass(net)
    params = (4 * 3 * 9 + 8) * 4
    buffers = 8 * 4 + 8  # running mean and variance, num_batches_tracked (int64)
    x = 192 * 4
    assert [m.at(1) for m in p.moments] == [params + buffers + x + 1024, params + buffers + x + 2048,
                                            params + buffers + x + 1024, params + buffers + x + 1024]
    s = p.summary(1)
    assert (s["peak_bytes"], s["peak_at"], s["peak_activation_bytes"]) == (params + buffers + x + 2048, "batchnorm1", x + 2048)
    assert s["baseline_bytes"] == params + buffers + x
    assert s["arena_bytes"] == x + 2048  # conv's and bn's outputs side by side, above the input


def test_max_pool_indices_are_a_temporary_and_int8_has_none() -> None:
    net = Net("n", input=(1, 4, 4), layers=[MaxPool(kernel=2)])
    fp32, int8 = _pass(net), _pass(net, int8=True)
    assert fp32.summary(2)["breakdown"] == {"input batch": 128, "live activations": 32, "op temporaries": 64}
    assert int8.summary(2)["breakdown"] == {"input batch": 32, "live activations": 8}


def test_greedy_by_size_reuses_the_gaps_of_dead_tensors() -> None:
    # a (100 B, rows 0-1) and c (100 B, rows 2-3) share an offset; b (60 B, rows 1-2) overlaps both
    assert greedy_by_size([(0, 1, 100), (1, 2, 60), (2, 3, 100)]) == 160
    # best fit: the 40 B tensor takes the 50 B gap, not the 80 B one
    assert greedy_by_size([(0, 0, 50), (0, 3, 10), (1, 1, 80), (2, 2, 40)]) == 90


def test_int8_is_for_inference_only() -> None:
    with pytest.raises(CnnCostError, match="int8 is a deployment"):
        Setup(mode="train", int8=True)
    with pytest.raises(CnnCostError, match="int8 is a deployment"):
        cnncost.fit("resnet18", "8GiB", dtype="int8")
    assert cnncost.fit("resnet18", "8GiB", dtype="int8", mode="inference").batch > \
        cnncost.fit("resnet18", "8GiB", mode="inference").batch


def test_an_inference_report_has_live_bytes_and_no_training_figures() -> None:
    r = cnncost.table("resnet18", batch=4, mode="inference", depth=1)
    d = r.to_dict()
    assert d["total"]["live_bytes"] == d["inference"]["peak_bytes"] == max(row["live_bytes"] for row in d["layers"])
    for key in ("backward_flops", "training_flops", "memory_bytes", "activation_memory_bytes", "param_memory_bytes"):
        assert key not in d["total"]
    assert (d["mode"], d["optimizer"]) == ("inference", None)
    assert "live_bytes" in r.to_csv().splitlines()[0]
    assert "inference" in str(r).split("\nConventions: ")[1].split("\nUnits: ")[0]  # the conventions (wrapped)
    with pytest.raises(CnnCostError, match="use one or the other"):
        cnncost.table("resnet18", mode="inference", memory="autograd")


ZOO = ["resnet18", "vgg11", "densenet121", "mobilenet-v2", "efficientnet-b0", "convnext-tiny", "unet", "resnet50",
       "alexnet", "googlenet"]  # googlenet: its peak is at LRN (norm2)


def assert_equals_live_tracker(net: Net, dtype: str) -> None:
    """The model's peak and baseline at batch 2 equal `live_step(mode="inference")` (torch 2.13 CPU)."""
    torch = pytest.importorskip("torch")
    from cnncost.torch_backend import build
    from cnncost.torch_backend.live import live_step
    torch.manual_seed(0)
    measured = live_step(build(net), torch.randn(2, *net.input), mode="inference",
                         autocast_dtype=torch.bfloat16 if dtype == "bf16" else None)
    s = _pass(net, precision=Precision(dtype, device="cpu")).summary(2)
    assert (s["peak_bytes"], s["baseline_bytes"]) == (measured.peak_bytes, measured.baseline_bytes)


@pytest.mark.parametrize("name", ZOO)
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_zoo_inference_peak_equals_the_live_tracker(name: str, dtype: str) -> None:
    assert_equals_live_tracker(cnncost.load(name), dtype)


@pytest.mark.parametrize("net", tensor_op_nets(), ids=lambda net: net.name)
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_tensor_op_nets_inference_peak_equals_the_live_tracker(net: Net, dtype: str) -> None:
    """Views that view or copy, tokens (under autocast cat's fp32 copy of a bf16 input), reductions..."""
    assert_equals_live_tracker(net, dtype)


def test_lrn_holds_its_intermediates_one_after_another() -> None:
    """LRN(size=3) on a 4x3x3 map (36 elements, 144 B in fp32): square + padded square (6 channels,
    216 B) = 360 B, then pooled + 2 of the base's steps = 432 B: 288 B beyond the output, not the
    padded, base and power all at once (216 + 2 x 144 = 504 B). Measured, torch 2.13 CPU: the
    differential test (tests/differential/test_inference.py)."""
    from cnncost.layers import LRN
    p = _pass(Net("n", input=(4, 3, 3), layers=[LRN(size=3)]))
    assert p.summary(1)["breakdown"] == {"input batch": 144, "live activations": 144, "op temporaries": 288}


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_softmin_holds_its_negated_input_during_the_op(dtype: str) -> None:
    """softmin = softmax(-x): the negation lives until the op returns (20 B per sample beside the
    output, fp32), measured by the tracker."""
    from cnncost.layers import Linear, Softmin
    net = Net("n", input=(5, 4), layers=[Linear(out=4), Softmin(dim=-1)])
    assert _pass(net).summary(1)["breakdown"]["op temporaries"] == 5 * 4 * 4
    assert_equals_live_tracker(net, dtype)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_a_scaled_add_of_three_keeps_one_running_value(dtype: str) -> None:
    """0.5 * a + b + c: the scaled a, then a + b, each alive until the next partial result is made
    (2x4x4 = 32 elements: 128 B per sample beside the output in fp32), measured by the tracker."""
    from cnncost.layers import Add
    net = Net("n", input=(2, 4, 4), layers=[
        Conv(name="a", out=2, kernel=1), Conv(name="b", out=2, kernel=1, inputs=("input",)),
        Conv(name="c", out=2, kernel=1, inputs=("input",)), Add(name="s", inputs=("a", "b", "c"), scale=0.5),
        ReLU()])
    p = _pass(net)
    assert p.summary(1)["peak_at"] == "s" and p.summary(1)["breakdown"]["op temporaries"] == 128
    assert_equals_live_tracker(net, dtype)
