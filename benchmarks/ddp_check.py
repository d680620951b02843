"""DDP per-rank memory: the model against two (or more) real gloo processes on this machine's CPU.

    python benchmarks/ddp_check.py                      # resnet18, vgg11, mobilenet-v2; both bucket-view settings
    python benchmarks/ddp_check.py --nets resnet18 --batch 8 --input 3x64x64 --world-size 2

For each net: the steady-state step measured alone (one process) and under DistributedDataParallel
with gradient_as_bucket_view False and True (cnncost.torch_backend.ddp_live), per rank; the peak of
the forward and backward passes and of the optimizer step, each against the model's per-rank peak.
`delta` = (DDP measured - alone measured) - (DDP model - alone model): what DDP adds, measured minus
modelled (0 = the per-rank part of the model is exact, whatever the single-device model's own error).
"""
from __future__ import annotations

import argparse

from cnncost.torch_backend.ddp_live import DdpCase, ddp_peaks, modelled_peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=["resnet18", "vgg11", "mobilenet-v2"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--input", default="3x64x64")
    parser.add_argument("--world-size", type=int, default=2)
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.input.split("x"))
    cases = [DdpCase(net, args.batch, shape, ddp=ddp, gradient_as_bucket_view=view)
             for net in args.nets for ddp, view in ((False, False), (True, False), (True, True))]
    measured = ddp_peaks(cases, args.world_size)
    alone: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
    print("net  setup  phase  measured(rank 0)  model  measured-model  delta  ranks equal")
    for case, ranks in zip(cases, measured):
        model = modelled_peaks(case, args.world_size)
        setup = "alone" if not case.ddp else f"ddp view={case.gradient_as_bucket_view}"
        if not case.ddp:
            alone[case.arch] = (ranks[0], model)
        for phase, got, want, got1, want1 in zip(("fw+bw", "optimizer"), ranks[0], model,
                                                 alone[case.arch][0], alone[case.arch][1]):
            delta = (got - got1) - (want - want1)
            print(f"{case.arch}  {setup}  {phase}  {got:,}  {want:,}  {got - want:+,}  {delta:+,}  "
                  f"{len(set(ranks)) == 1}")


if __name__ == "__main__":
    main()
