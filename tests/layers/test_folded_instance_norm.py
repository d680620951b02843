"""`instance_norm` with `folded` (an imported (N*k, C, H, W) tensor: RAFT's encoder on both
images): params, and the memory rule (k*C statistics per sample) against PyTorch 2.13 CPU."""
from __future__ import annotations

import pytest

from cnncost import Conv, Net
from cnncost.layers.imported import Reshape
from torch_agreement import assert_agrees  # tests/support


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("affine,track", [(False, False), (True, True)])
def test_folded_instance_norm_agrees_with_pytorch(affine, track, dtype):
    """instance_norm `folded` (RAFT's encoder on both images, (N*2, C, H, W)): k*C statistics per sample."""
    pytest.importorskip("torch")
    from cnncost import InstanceNorm, ReLU
    from cnncost.torch_backend import check
    net = Net("in-folded", input=(3, 6, 6), layers=[
        Conv(name="c", out=8, kernel=1), Reshape(name="fold", shape=(2, 4, 6, 6)),
        InstanceNorm(name="norm", affine=affine, track_running_stats=track, folded=True), ReLU(name="r")])
    from cnncost import table
    assert {r.name: r for r in table(net).rows}["norm"].params == (8 if affine else 0)
    assert_agrees(check(net, batch=2, device="cpu", dtype=dtype))
