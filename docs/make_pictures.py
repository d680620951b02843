"""Draw the pictures of docs/pictures.md into docs/img/, and run docs/tutorial.ipynb (needs the
`plot` extra: matplotlib).

    python docs/make_pictures.py [--out docs/img] [--dpi 100] [--notebook]

Every picture is a function of cnncost.plot (or cnncost.plot_time) on the built-in nets; the script prints each file and
the figures that docs/pictures.md quotes, so a change in the numbers shows in its output.
`--notebook` also runs the tutorial's code cells in this process (no Jupyter needed) and stores
their outputs in it; tests/docs/test_notebook.py runs it the same way (`execute_notebook`).
"""
from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

import cnncost  # noqa: E402
import cnncost.plot as plot  # noqa: E402
import cnncost.plot_time as plot_time  # noqa: E402

HERE = Path(__file__).resolve().parent


def pictures() -> dict[str, Any]:
    """name -> Axes, the ones docs/pictures.md shows (each on its own open figure)."""
    sweep = cnncost.sweep
    zoo = cnncost.zoo_frame()
    resnet = cnncost.table("resnet50", batch=64, memory="autograd")
    batches = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    by_batch = pd.concat([sweep(name, batch=batches, memory="autograd").assign(architecture=name)
                          for name in ("resnet50", "vgg16", "mobilenet-v2")], ignore_index=True)
    return {
        "timeline-resnet50": plot.timeline(resnet),
        "breakdown-resnet50": plot.breakdown([cnncost.table("resnet50", batch=64), resnet]),
        "zoo": plot.zoo(zoo[zoo["family"] != "building block"]),
        "layers-vgg16-log": plot.layers(cnncost.table("vgg16"), "params", log=True, color_by="type"),
        "layers-resnet50-stages": plot.layers(cnncost.table("resnet50", depth=1), "flops", color_by="stage"),
        "sweep-resolution": plot.sweep(sweep("resnet50", input=range(128, 449, 32), batch=32, dtype=["fp32", "bf16"],
                                             memory="autograd"), y="peak_bytes",
                                       title="resnet50: peak of the training step against resolution (batch 32, adam)"),
        "sweep-batch": plot.sweep(by_batch, x="batch", y="peak_bytes",
                                  title="peak of the training step against batch (3x224x224, fp32, adam)"),
        "compare-resnets": plot.compare(cnncost.compare(["resnet50", "resnext50-32x4d", "wide-resnet50-2"])),
        # the time model (issue 20): per-layer time by bound, and the roofline
        "time-bars-resnet18": plot_time.time_bars(cnncost.table("resnet18", batch=64, dtype="bf16",
                                                                hardware="a100-sxm4-80gb")),
        "roofline-resnet50": plot_time.roofline(cnncost.table("resnet50", batch=64, dtype="bf16",
                                                              hardware="a100-sxm4-80gb")),
    }


NOTEBOOK = HERE / "tutorial.ipynb"


def _display(value: Any, dpi: int = 72) -> dict[str, Any]:
    """The output Jupyter would show for a cell's last value: a figure as PNG, an object with
    `_repr_html_` as HTML (and its repr), anything else (an Axes included) as its repr."""
    from matplotlib.figure import Figure
    if isinstance(value, Figure):
        return {"image/png": _png(value, dpi), "text/plain": repr(value)}
    data = {"text/plain": repr(value)}
    html = getattr(value, "_repr_html_", None)
    if callable(html):
        text = html()
        if text:
            data["text/html"] = text
    return data


def _png(fig: Any, dpi: int = 72) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def execute_notebook(path: Path = NOTEBOOK) -> dict[str, Any]:
    """Run the notebook's code cells in order in one namespace, as a kernel would; returns the
    notebook with each code cell's outputs (stdout, then its last expression's value, then the
    figures the cell left open, shown and closed as matplotlib's inline backend does) filled in.
    An exception propagates, naming the cell."""
    import matplotlib.pyplot as plt
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    plt.close("all")  # a fresh kernel has no figure: none left open by earlier code is shown in cell 1
    namespace: dict[str, Any] = {"__name__": "__main__"}
    count = 0
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        count += 1
        source = "".join(cell["source"])
        tree = ast.parse(source, filename=f"<cell {index}>")
        last: Any = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            try:
                exec(compile(tree, f"<cell {index}>", "exec"), namespace)
                value = eval(compile(ast.Expression(last.value), f"<cell {index}>", "eval"), namespace) if last else None
            except Exception as error:
                raise RuntimeError(f"cell {index} of {path} failed: {error!r}\n{source}") from error
        outputs: list[dict[str, Any]] = []
        if stdout.getvalue():
            outputs.append({"output_type": "stream", "name": "stdout",
                            "text": stdout.getvalue().splitlines(keepends=True)})
        if value is not None:
            outputs.append({"output_type": "execute_result", "execution_count": count, "metadata": {},
                            "data": {k: v.splitlines(keepends=True) if k != "image/png" else v
                                     for k, v in _display(value).items()}})
        for number in plt.get_fignums():  # the inline backend shows each open figure once, then closes it
            fig = plt.figure(number)
            if fig is not value:
                outputs.append({"output_type": "display_data", "metadata": {},
                                "data": {"image/png": _png(fig), "text/plain": [repr(fig)]}})
            plt.close(fig)
        cell["outputs"], cell["execution_count"] = outputs, count
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "img")
    parser.add_argument("--dpi", type=int, default=100)
    parser.add_argument("--notebook", action="store_true", help="also run docs/tutorial.ipynb and store its outputs")
    args = parser.parse_args()
    if args.notebook:
        NOTEBOOK.write_text(json.dumps(execute_notebook(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"ran and wrote {NOTEBOOK}")
    args.out.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt
    for name, ax in pictures().items():
        path = args.out / f"{name}.png"
        ax.figure.savefig(path, dpi=args.dpi)
        plt.close(ax.figure)
        print(f"wrote {path}")
    resnet = cnncost.table("resnet50", batch=64, memory="autograd").to_dict()["training_step"]
    print(f"resnet50, batch 64: peak {resnet['peak_bytes']:,} bytes at {resnet['phase']}")
    print(f"resnet50, batch 64, lecture's rule: {cnncost.table('resnet50', batch=64).totals.memory_bytes:,} bytes")


if __name__ == "__main__":
    main()
