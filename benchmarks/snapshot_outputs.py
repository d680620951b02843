"""Every built-in's outputs, written to a folder: run before and after a refactor, then `diff -r`.

    python benchmarks/snapshot_outputs.py OUT_DIR [--only PATTERN]

Per architecture: the table in every format, --depth 0, --memory autograd in fp32 and bf16 (cpu
and cuda rules), --count-as each tool, training FLOPs with a frozen prefix, the receptive frame,
a sweep, and compare/fit/list/spec; all through the command line's own entry point, in-process.
"""
from __future__ import annotations

import argparse
import contextlib
import fnmatch
import io
import os
import sys

TOOLS = ("flopcounter", "flopcounter-train", "torchvision", "fvcore", "ptflops", "ptflops-aten", "thop",
         "torchinfo", "torchscan", "torchscan-macs", "allops")
FORMATS = ("text", "markdown", "csv", "json", "html", "latex")


def run(argv: list[str]) -> str:
    from cnncost.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
    return f"$ cnncost {' '.join(argv)}\n[exit {status}]\n{out.getvalue()}{err.getvalue()}"


def cases(name: str) -> list[list[str]]:
    found = [["table", name, "--format", f] for f in FORMATS]
    found += [["table", name, "--depth", "0"], ["table", name, "--depth", "1", "--format", "json"],
              ["table", name, "--activations", "lecture", "--optimizer", "sgd", "--batch", "7"]]
    for dtype in ("fp32", "bf16"):
        for device in ("cuda", "cpu"):
            found.append(["table", name, "--memory", "autograd", "--dtype", dtype, "--device", device,
                          "--format", "json"])
    found.append(["table", name, "--memory", "autograd", "--format", "text"])
    found += [["table", name, "--count-as", tool, "--format", "csv"] for tool in TOOLS]
    found.append(["table", name, "--count-as", "fvcore", "--format", "text"])
    found.append(["table", name, "--freeze", "*1*", "--format", "json"])
    found.append(["sweep", name, "--batch", "1,32", "--input", "224,256", "--dtype", "fp32,bf16",
                  "--optimizer", "sgd,adam", "--format", "csv"])
    found.append(["sweep", name, "--batch", "2", "--memory", "autograd", "--format", "json"])
    found.append(["fit", name, "--budget", "24GiB"])
    found.append(["spec", name])
    return found


def receptive(name: str) -> str:
    import cnncost
    try:
        frame = cnncost.receptive_frame(name)
        return frame.to_csv(index=False)
    except Exception as error:  # a net without a receptive field is part of the snapshot too
        return f"error: {type(error).__name__}: {error}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--only", default="*")
    args = parser.parse_args()
    import cnncost
    os.makedirs(args.out, exist_ok=True)
    names = [a.name for a in cnncost.list_archs() if fnmatch.fnmatch(a.name, args.only)]
    for name in names:
        with open(os.path.join(args.out, f"{name}.txt"), "w") as file:
            for argv in cases(name):
                file.write(run(argv))
            file.write("$ receptive_frame\n" + receptive(name) + "\n")
    with open(os.path.join(args.out, "_global.txt"), "w") as file:
        for argv in (["list"], ["list", "--format", "json"], ["compare", "alexnet", "vgg16", "resnet50"],
                     ["compare", "alexnet", "resnet18", "--format", "json"],
                     ["fit", "resnet50", "--budget", "16GiB", "--format", "json"],
                     ["fit", "resnet50", "--budget", "16GiB", "--mode", "inference"]):
            file.write(run(argv))
    print(f"{len(names)} architectures written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
