"""The pictures (plot extra): each is an Axes drawing the report's or the frame's own numbers, exact
(the ticks alone are rounded), and renders to PNG (Agg). docs/pictures.md shows them
(docs/make_pictures.py); test_plot_conventions.py checks matplotlib's conventions on all of them."""
from __future__ import annotations

import itertools

import pytest

matplotlib = pytest.importorskip("matplotlib", reason="plots need the 'plot' extra")
matplotlib.use("Agg")

import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import cnncost  # noqa: E402
import cnncost.plot  # noqa: E402
from cnncost.memory.step import PARTS  # noqa: E402


def png(fig: Figure, path) -> bytes:
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    return data


@pytest.fixture(scope="module")
def autograd():
    return cnncost.table("resnet18", batch=16, memory="autograd")


@pytest.fixture(scope="module")
def zoo():
    return cnncost.zoo_frame()


def test_timeline_stacks_every_moment_and_names_the_peak(autograd, tmp_path) -> None:
    ax = cnncost.plot.timeline(autograd)
    assert isinstance(ax, Axes)
    fig = ax.figure
    step, batch = autograd.step, autograd.batch
    peak = step.peak_index(batch)
    assert step.peak(batch).at(batch) == autograd.to_dict()["training_step"]["peak_bytes"]
    # the stacked polygons' top at the peak moment is the peak, in bytes
    tops = [max(y for x, y in poly.get_paths()[0].vertices if abs(x - peak) < 0.6) for poly in ax.collections
            if len(poly.get_paths())]
    assert max(tops) == step.peak(batch).at(batch)
    notes = [t.get_text() for t in ax.texts]
    assert any(step.peak(batch).phase in t and t.startswith("peak ") for t in notes)
    assert {"forward", "backward", "optimizer step"} <= set(notes)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels and set(labels) <= set(PARTS) and "saved for backward" in labels
    assert "2^" in ax.get_ylabel()
    png(fig, tmp_path / "timeline.png")


def test_timeline_needs_the_autograd_model() -> None:
    with pytest.raises(cnncost.CnnCostError, match="memory='autograd'"):
        cnncost.plot.timeline(cnncost.table("resnet18"))


def test_breakdown_bars_sum_to_the_totals(autograd, tmp_path) -> None:
    lecture = cnncost.table("resnet18", batch=16)
    ax = cnncost.plot.breakdown([lecture, autograd])
    fig = ax.figure
    by_bar: dict[float, float] = {}
    for patch in ax.patches:
        by_bar[round(patch.get_y() + patch.get_height() / 2)] = by_bar.get(
            round(patch.get_y() + patch.get_height() / 2), 0) + patch.get_width()
    assert by_bar[0] == lecture.totals.memory_bytes
    assert by_bar[1] == autograd.to_dict()["training_step"]["peak_bytes"]
    parts = cnncost.plot._lecture_parts(lecture)  # 2 x activations + k x params, exactly
    assert sum(parts.values()) == lecture.totals.memory_bytes
    assert parts["optimizer state"] == 2 * parts["parameters"]  # Adam: k = 4
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"activations", "activation gradients", "parameters", "gradients", "optimizer state"} <= set(legend)
    png(fig, tmp_path / "breakdown.png")


def test_zoo_is_log_log_and_its_labels_do_not_overlap(zoo, tmp_path) -> None:
    assert len(zoo) == len(cnncost.list_archs())
    ax = cnncost.plot.zoo(zoo)
    fig = ax.figure
    assert ax.get_xscale() == ax.get_yscale() == "log"
    png(fig, tmp_path / "zoo.png")  # draws: the boxes below are those of the saved picture
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) > 40
    frame = ax.get_window_extent(renderer)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), "two labels overlap"
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points == len(zoo)


def test_layer_bars_log_and_colours(tmp_path) -> None:
    report = cnncost.table("vgg16")
    ax = cnncost.plot.layers(report, "params", log=True, color_by="type")
    assert ax.get_xscale() == "log" and "log" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["conv", "linear"]
    (dots,) = ax.collections  # a dot per layer on a log axis
    assert len({tuple(c) for c in dots.get_facecolors()}) == 2
    png(ax.figure, tmp_path / "layers.png")
    staged = cnncost.plot.layers(cnncost.table("resnet50", depth=1), "flops", color_by="stage")
    assert {tuple(p.get_facecolor()) for p in staged.patches} == {
        tuple(h.get_facecolor()) for h in staged.get_legend().legend_handles}
    assert [t.get_text() for t in staged.get_legend().get_texts()] == ["(top level)", "layer1", "layer2", "layer3",
                                                                       "layer4"]
    with pytest.raises(cnncost.CnnCostError, match="color_by"):
        cnncost.plot.layers(report, color_by="colour")


def test_compare_has_a_line_at_one() -> None:
    ax = cnncost.plot.compare(cnncost.compare(["block-conv3x3", "block-grouped-conv3x3"], batch=1))
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in ax.get_lines())


def test_sweep_lines_are_the_frame(tmp_path) -> None:
    frame = pd.DataFrame({"input": [f"3x{h}x{h}" for h in (128, 160, 192)] * 2, "batch": [8] * 6,
                          "dtype": ["fp32"] * 3 + ["bf16"] * 3,
                          "peak_bytes": [2**30, 2**31, 3 * 2**30, 2**29, 2**30, 3 * 2**29]})
    ax = cnncost.plot.sweep(frame, y="peak_bytes")
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
    assert lines["dtype=fp32"] == ([128, 160, 192], [2**30, 2**31, 3 * 2**30])
    assert lines["dtype=bf16"][1] == [2**29, 2**30, 3 * 2**29]
    assert "per batch of 8" in ax.get_ylabel() and "batch 8" in ax.get_title()
    png(ax.figure, tmp_path / "sweep.png")
    assert "1 GiB" in [t.get_text() for t in ax.get_yticklabels()]
    with pytest.raises(cnncost.CnnCostError, match="no column 'flops'"):
        cnncost.plot.sweep(frame, y="flops")


def test_sweep_of_a_real_sweep_against_batch(tmp_path) -> None:
    sweep = pytest.importorskip("cnncost.sweeps").sweep
    frame = sweep("resnet18", batch=[1, 4, 16, 64], memory="autograd")
    ax = cnncost.plot.sweep(frame, x="batch", y="peak_bytes")
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [1, 4, 16, 64] and ax.get_xscale() == "log"
    png(ax.figure, tmp_path / "sweep-batch.png")


def test_layer_bars_are_the_report_figures():
    report = cnncost.table("vgg16", depth=0)
    ax = cnncost.plot.layers(report, "params")
    bars = {patch.get_y(): patch.get_width() for patch in ax.patches}
    assert sorted(bars.values()) == sorted(r.params for r in report.rows if r.params)
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "stage1"


def test_compare_bars_are_ratios():
    comparison = cnncost.compare(["block-conv3x3", "block-grouped-conv3x3"], batch=1)
    ax = cnncost.plot.compare(comparison, columns=("params",))
    assert [patch.get_height() for patch in ax.patches] == [1.0, 0.125]


def test_unknown_column_is_a_named_error():
    with pytest.raises(cnncost.CnnCostError, match=r"cannot plot column 'FLOPs'; allowed: flops"):
        cnncost.plot.layers(cnncost.table("alexnet"), "FLOPs")
