"""docs/tutorial.ipynb runs, top to bottom, in this process (as docs/make_pictures.py --notebook runs
it: no Jupyter needed), and every figure its text quotes in `code` style is one its cells print."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the tutorial draws pictures (the 'plot' extra)")
pytest.importorskip("pandas")
import matplotlib  # noqa: E402

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parents[2] / "docs"


def load_runner():
    spec = importlib.util.spec_from_file_location("make_pictures", DOCS / "make_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def text_of(outputs: list[dict]) -> str:
    parts = []
    for output in outputs:
        if output["output_type"] == "stream":
            parts.append("".join(output["text"]))
        else:
            parts.append("".join(output["data"].get("text/plain", [])))
            parts.append("".join(output["data"].get("text/html", [])))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed() -> dict:
    return load_runner().execute_notebook(DOCS / "tutorial.ipynb")


def test_every_cell_runs_and_draws(executed) -> None:
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 15 and all(c["outputs"] for c in code)
    pictures = [o for c in code for o in c["outputs"] if "image/png" in o.get("data", {})]
    assert len(pictures) >= 6  # layers, timeline, breakdown, two sweeps, zoo
    assert all(len(o["data"]["image/png"]) > 10_000 for o in pictures)


def test_figures_in_the_text_are_the_printed_ones(executed) -> None:
    """A `quoted` token with a digit in a markdown cell (not code: no '=', '(' or '/') must appear
    in what the code cells before it printed: a stale figure in the text fails here."""
    printed = ""
    checked = 0
    for cell in executed["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            printed += text_of(cell["outputs"]) + "\n"
            continue
        for figure in re.findall(r"`([^`]*\d[^`]*)`", source):
            if any(mark in figure for mark in "=(/") or figure.startswith(("pip ", "python ")):
                continue  # code, not a figure
            assert figure in printed, f"the tutorial says `{figure}`, which no cell before it prints"
            checked += 1
    assert checked >= 15


def test_the_stored_notebook_is_valid_and_current(executed) -> None:
    stored = json.loads((DOCS / "tutorial.ipynb").read_text(encoding="utf-8"))
    assert stored["nbformat"] == 4 and [c["cell_type"] for c in stored["cells"]] == \
        [c["cell_type"] for c in executed["cells"]]
    for mine, theirs in zip(stored["cells"], executed["cells"]):
        assert mine["source"] == theirs["source"]
        for output in mine.get("outputs", []):
            if output["output_type"] == "stream":  # printed text stored with the notebook is what it prints now
                assert "".join(output["text"]) in text_of(theirs["outputs"]), \
                    "the stored outputs are stale: python docs/make_pictures.py --notebook"


def test_it_starts_with_a_displayed_report_and_your_own_model(executed) -> None:
    """Issue 22 items 2 and 6: the first code cell displays a report (the notebook's HTML table, a
    one-line repr as its text), and the next imports a PyTorch model in one call."""
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    shown = code[0]["outputs"][-1]
    assert shown["output_type"] == "execute_result"
    assert "".join(shown["data"]["text/plain"]).startswith("<Report resnet18: 70 rows, 11,689,512 params")
    assert '<div class="cnncost-report">' in "".join(shown["data"]["text/html"])
    own = "".join(code[1]["source"])
    assert "(torch.nn.Module)" in own and "cnncost.table(SmallNet(), input=(32, 3, 32, 32))" in own
    assert "<Report SmallNet: 9 rows, 60,362 params" in text_of(code[1]["outputs"])
