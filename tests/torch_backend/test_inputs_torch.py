"""Nets with several inputs and inputs of any rank, checked layer by layer against PyTorch
(`cnncost.torch_backend.check`): shapes, params, MACs, FLOPs and saved bytes, batch 2, fp32, CPU."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")
import torch  # noqa: E402

import cnncost  # noqa: E402
from cnncost import parse_spec  # noqa: E402
from cnncost.torch_backend import build, check  # noqa: E402
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)

SIAMESE = """
name: two-image-flow
input: {image1: [3, 24, 32], image2: [3, 24, 32]}
layers:
  - {name: enc1, type: conv, out: 8, kernel: 3, padding: 1}
  - {name: enc2, type: conv, out: 8, kernel: 3, padding: 1, from: image2}
  - {name: relu1, type: relu, from: enc1}
  - {name: relu2, type: relu, from: enc2}
  - {name: cat, type: concat, from: [relu1, relu2]}
  - {name: fuse, type: conv, out: 8, kernel: 3, padding: 1}
  - {name: bn, type: batchnorm}
  - {name: act, type: relu}
  - {name: flow, type: conv, out: 2, kernel: 3, padding: 1}
"""

# A video clip (C x D x H x W) and a per-clip vector: layers that take any rank until N-D convs land.
VIDEO = """
name: clip
input: {video: [3, 8, 12, 12], noise: [3, 8, 12, 12], meta: 5x}
layers:
  - {name: act, type: gelu}
  - {name: mixed, type: add, from: [act, noise]}
  - {name: gate, type: sigmoid}
  - {name: flat, type: flatten}
  - {name: fc, type: linear, out: 5}
  - {name: joined, type: mul, from: [fc, meta]}
  - {name: head, type: linear, out: 3}
"""


def assert_exact(result) -> None:
    assert_agrees(result)


def test_a_two_image_net_is_exact_per_layer():
    """(Separate encoders: the rebuild of a `shared` call holds its weights as buffers, so on an
    input that needs no gradient it saves nothing; real sharing is checked with check --against.)"""
    net = parse_spec(SIAMESE)
    result = check(net, batch=2, device="cpu")
    assert_exact(result)
    by = {(r.path, r.quantity): r for r in result.rows}
    assert by[("enc2", "params")].torch == by[("enc1", "params")].torch == 8 * 3 * 9 + 8
    assert by[("image2", "shape")].torch == (3, 24, 32)
    # conv MACs, |output| x C_in x 3 x 3 (the conv formula), batch 2
    assert by[("enc2", "macs")].torch == 2 * 8 * 24 * 32 * 3 * 9
    assert by[("enc2", "saved_bytes")].torch == 2 * 3 * 24 * 32 * 4  # it saves image2, its input


def test_a_video_net_with_three_inputs_of_three_ranks_is_exact_per_layer():
    net = parse_spec(VIDEO)
    assert net.named_inputs == (("video", (3, 8, 12, 12)), ("noise", (3, 8, 12, 12)), ("meta", (5,)))
    result = check(net, batch=2, device="cpu")
    assert_exact(result)
    by = {(r.path, r.quantity): r for r in result.rows}
    assert by[("fc", "params")].torch == 3 * 8 * 12 * 12 * 5 + 5


def test_the_built_network_takes_its_inputs_in_order():
    net = parse_spec(VIDEO)
    model = build(net)
    xs = [torch.randn(2, *shape) for _, shape in net.named_inputs]
    assert tuple(model(*xs).shape) == (2, 3)
    with pytest.raises(TypeError, match="takes 3 input tensor"):
        model(xs[0])


def test_autograd_saved_bytes_of_a_two_input_net_match_the_measurement():
    from cnncost.torch_backend.saved_check import compare_saved
    comparison = compare_saved(parse_spec(SIAMESE), batch=2)
    assert comparison.rel_error == 0.0
    assert cnncost.table(parse_spec(SIAMESE), batch=2, memory="autograd").totals.saved_bytes == comparison.measured
