"""`sweep` with the training setups of `table` (issue 19): --checkpoint, --accumulate, several GPUs
and --freeze; every row equals `table` for the same configuration (saved bytes, the step's peak,
training and recompute FLOPs)."""
import pytest

pd = pytest.importorskip("pandas")

import cnncost  # noqa: E402
from sweep_cli import run_cli  # noqa: E402  (tests/support)
from cnncost.errors import CnnCostError  # noqa: E402

SETUPS = {  # name -> the keywords sweep and table share
    "checkpoint": {"checkpoint": ("every:2",)},
    "selective": {"checkpoint": ("layer2.*", "layer3.*"), "checkpoint_save": ("conv",)},
    "accumulate": {"accumulate": 3},
    "checkpoint+accumulate": {"checkpoint": ("sqrt",), "accumulate": 2},
    "zero2": {"parallel": {"world_size": 4, "sharding": "zero2"}},
    "ddp-views": {"parallel": {"world_size": 2, "sharding": "ddp", "gradient_as_bucket_view": True}},
    "freeze": {"freeze": ("conv1", "bn1", "layer1.*")},
    "freeze+checkpoint+fsdp": {"freeze": ("layer1.*",), "checkpoint": ("all",),
                               "parallel": {"world_size": 8, "sharding": "fsdp"}},
}
BATCHES, INPUTS, DTYPES, OPTIMIZERS = [4, 32], [64, 96], ["fp32", "bf16"], ["sgd", "adam"]


@pytest.mark.parametrize("name", list(SETUPS))
def test_each_row_of_a_sweep_equals_table(name):
    how = SETUPS[name]
    frame = cnncost.sweep("resnet18", batch=BATCHES, input=INPUTS, dtype=DTYPES, optimizer=OPTIMIZERS,
                          memory="autograd", **how)
    assert len(frame) == len(BATCHES) * len(INPUTS) * len(DTYPES) * len(OPTIMIZERS)
    assert ("recompute_flops" in frame.columns) == ("checkpoint" in how)
    for row in frame.itertuples(index=False):
        r = cnncost.table("resnet18", batch=row.batch, input=str(row.input), dtype=row.dtype,
                          optimizer=row.optimizer, memory="autograd", **how)
        totals = r.totals
        assert row.saved_bytes == totals.saved_bytes
        assert row.peak_bytes == r.to_dict()["training_step"]["peak_bytes"]
        assert row.training_flops == totals.training_flops
        if "checkpoint" in how:
            assert row.recompute_flops == totals.recompute_flops
            assert row.recompute_flops > 0 or "checkpoint_save" in how  # kept convs: nothing with MACs runs again


def test_the_setups_change_the_peak_and_the_cli_matches_python():
    plain = cnncost.sweep("resnet18", batch=[16], memory="autograd")
    acc = cnncost.sweep("resnet18", batch=[16], memory="autograd", accumulate=2)
    ckpt = cnncost.sweep("resnet18", batch=[16], memory="autograd", checkpoint="all")
    assert acc.peak_bytes[0] > plain.peak_bytes[0] > ckpt.peak_bytes[0]
    assert ckpt.saved_bytes[0] < plain.saved_bytes[0] == acc.saved_bytes[0]
    frame = cnncost.sweep("resnet18", batch=[4, 8], input=[64], memory="autograd", checkpoint="every:2",
                          accumulate=2, parallel={"world_size": 2, "sharding": "zero3"})
    csv = run_cli(["sweep", "resnet18", "--batch", "4,8", "--input", "64", "--memory", "autograd",
                "--checkpoint", "every:2", "--accumulate", "2", "--world-size", "2", "--sharding", "zero3",
                "--format", "csv"])
    header, *lines = csv.splitlines()
    columns = header.split(",")
    for line, row in zip(lines, frame.itertuples(index=False)):
        values = dict(zip(columns, line.split(",")))
        for name in ("saved_bytes", "peak_bytes", "recompute_flops", "training_flops"):
            assert int(values[name]) == getattr(row, name)


def test_step_setups_need_the_autograd_model():
    with pytest.raises(CnnCostError, match="accumulate, checkpoint models? the training step's memory"):
        cnncost.sweep("resnet18", batch=[4], accumulate=2, checkpoint="all")
