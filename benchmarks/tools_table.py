"""Why the tools disagree: every peer counter's total for the twin of each measured model, from
cnncost.counting's formulas (batch 1, the tools' default), as docs/counting.md prints it.

    python benchmarks/tools_table.py [--markdown] [--archs NAME ...] [--exact] [--training]

Figures in 10^9 of each tool's own unit; `--exact` prints the integers; "spread" is (largest -
smallest) / torchvision's MACs over the seven tools that call their figure MACs. `--training`
prints instead, at batch 2, one training step's FLOPs (forward + backward) as counted exactly and
as FlopCounterMode counts them (its grouped-convolution weight gradients x groups). The twins and profiles
are those of tests/support/counting_reference.py (the models tests/fixtures/tools_reference.json measured:
every one of these figures is checked against the real tool there)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE.parent.parent / "tests" / "support"))

import cnncost  # noqa: E402
from cnncost.counting import ops, training  # noqa: E402

COLUMNS = ("torchvision", "fvcore", "ptflops", "ptflops-aten", "thop", "torchinfo", "torchscan-macs", "torchscan",
           "flopcounter", "allops")
HEADERS = ("MACs (torchvision)", "fvcore", "ptflops", "ptflops-aten", "thop", "torchinfo", "torchscan MACs",
           "spread", "torchscan FLOPs", "FlopCounterMode", "all-ops FLOPs", "training FLOPs")
MAC_TOOLS = 7  # the first seven columns call their figure MACs
TRAINING_HEADERS = ("forward", "backward (exact)", "training (exact)", "FlopCounterMode's training",
                    "FlopCounterMode / exact")


def rows(names: list[tuple[str, str, str | None]], exact: bool) -> list[list[str]]:
    out = []
    for label, arch, profile in names:
        graph = cnncost.compile(cnncost.load(arch))
        values = [ops(graph, tool, 1, profile).total for tool in COLUMNS] + [training(graph, 1).total]
        macs = values[:MAC_TOOLS]
        spread = (max(macs) - min(macs)) / macs[0] if macs[0] else 0.0
        cells = [f"{v:,}" if exact else f"{v / 1e9:.4f}" for v in values]
        out.append([label] + cells[:MAC_TOOLS] + [f"{100 * spread:.1f} %"] + cells[MAC_TOOLS:])
    return out


def training_rows(names: list[tuple[str, str, str | None]], exact: bool) -> list[list[str]]:
    out = []
    for label, arch, _ in names:
        graph = cnncost.compile(cnncost.load(arch))
        step, tool = training(graph, 2), training(graph, 2, convention="flopcounter")
        values = [step.total_forward, step.total_backward, step.total, tool.total]
        cells = [f"{v:,}" if exact else f"{v / 1e9:.3f}" for v in values]
        out.append([label] + cells + [f"{tool.total / step.total:.3f}"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archs", nargs="+", metavar="NAME", help="zoo names instead of the measured twins")
    parser.add_argument("--exact", action="store_true", help="integers instead of G")
    parser.add_argument("--markdown", action="store_true", help="a markdown table (default: aligned text)")
    parser.add_argument("--training", action="store_true", help="training FLOPs at batch 2, exact and FlopCounterMode's")
    args = parser.parse_args(argv)
    if args.archs:
        names = [(a, a, None) for a in args.archs]
    else:
        import counting_reference as ref
        models = ref.load()["models"]
        names = [(f"{n} ({ref.twin(n)})" if ref.twin(n).replace("-", "_") != n else n, ref.twin(n), ref.profile(n))
                 for n in models]
    table = training_rows(names, args.exact) if args.training else rows(names, args.exact)
    header = ["model (twin)"] + list(TRAINING_HEADERS if args.training else HEADERS)
    if args.markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in table]
    else:
        widths = [max(len(r[i]) for r in table + [header]) for i in range(len(header))]
        lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in [header] + table]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
