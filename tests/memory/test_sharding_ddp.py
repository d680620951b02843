"""DDP per rank against two real gloo processes on this machine's CPU (cnncost.torch_backend.ddp_live):
the reducer's buckets, and the gradients they double (gradient_as_bucket_view=False) or replace
(True). benchmarks/ddp_check.py runs resnet18, vgg11 and mobilenet-v2 (docs/memory.md has its figures).

The single-device model's own CPU error (the optimizer step's CPU temporaries, a few hundred kB at
backward moments: not this piece's) is taken out by measuring the same step alone: what DDP adds,
measured, must equal what the model adds, to the byte."""
import pytest

torch = pytest.importorskip("torch", reason="comparing with PyTorch needs cnncost[torch]")
pytest.importorskip("torch.distributed", reason="needs torch.distributed (gloo)")

from cnncost.torch_backend.ddp_live import DdpCase, ddp_peaks, modelled_peaks  # noqa: E402

NET, SHAPE = "block-basic", (64, 8, 8)  # two 3x3 convs with batch norm: 73,984 params


def test_ddp_per_rank_adds_what_the_model_adds_exactly():
    cases = [DdpCase(NET, 4, SHAPE, ddp=False), DdpCase(NET, 4, SHAPE),
             DdpCase(NET, 4, SHAPE, gradient_as_bucket_view=True)]
    for _ in range(3):  # gloo's work runs on its own threads: a run where its timing left a transient
        measured = ddp_peaks(cases, world_size=2)  # on one rank is measured again (seen in 1 of ~4 runs)
        if all(ranks[0] == ranks[1] for ranks in measured):
            break
    modelled = [modelled_peaks(case) for case in cases]
    assert all(ranks[0] == ranks[1] for ranks in measured), "both ranks hold the same"
    alone, alone_model = measured[0][0], modelled[0]
    for case, ranks, model in zip(cases[1:], measured[1:], modelled[1:]):
        for phase in (0, 1):  # forward and backward; the optimizer step
            assert ranks[0][phase] - alone[phase] == model[phase] - alone_model[phase], (case, phase)
    for case, ranks, model in zip(cases, measured, modelled):  # and each exact: the loss's gradient scalars
        assert -8 <= model[0] - ranks[0][0] <= 0 and model[1] == ranks[0][1], (case, model, ranks[0])
    # buckets = every parameter's fp32 bytes: 2 x (64 x 64 x 3 x 3 + 2 x 64), by hand
    assert modelled[1][1] - modelled[0][1] == 4 * 73_984
    assert modelled[2][1] == modelled[0][1]  # as bucket views, the gradients are the buckets
