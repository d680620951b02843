"""The pictures follow matplotlib's conventions (issue 22, item 5): each returns its Axes left open
(a script's plt.show() shows it) or draws into the caller's; axis labels in words with units and
per image / per batch of N; no bars on a log axis; log ticks between the decades, in human
units; legends off the data (measured with Agg's renderer); one order of the memory parts."""
from __future__ import annotations

import math

import pytest

matplotlib = pytest.importorskip("matplotlib", reason="plots need the 'plot' extra")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import cnncost  # noqa: E402
import cnncost.plot  # noqa: E402
import cnncost.plot_time  # noqa: E402
from cnncost.pictures.parts import ORDER  # noqa: E402
from cnncost.pictures.ticks import _log_ticks, human  # noqa: E402

A100 = "a100-sxm4-80gb"


@pytest.fixture(scope="module")
def reports():
    return {"vgg16": cnncost.table("vgg16"),  # batch 128
            "resnet18": cnncost.table("resnet18", batch=16),
            "autograd": cnncost.table("resnet18", batch=16, memory="autograd"),
            "timed": cnncost.table("resnet18", batch=32, dtype="bf16", hardware=A100)}


def draw(name: str, reports) -> Axes:
    """Every picture, on small nets."""
    r = reports
    if name == "layers":
        return cnncost.plot.layers(r["vgg16"], "flops")
    if name == "layers-log":
        return cnncost.plot.layers(r["vgg16"], "params", log=True, color_by="type")
    if name == "layers-stages":
        return cnncost.plot.layers(cnncost.table("resnet18", depth=1), "activation_memory_bytes", color_by="stage")
    if name == "compare":
        return cnncost.plot.compare(cnncost.compare(["resnet18", "resnet34", "resnet50"]))
    if name == "compare-blocks":  # matplotlib's loc="best" put this legend over a bar
        return cnncost.plot.compare(cnncost.compare(["block-conv3x3", "block-grouped-conv3x3"], batch=1))
    if name == "timeline":
        return cnncost.plot.timeline(r["autograd"])
    if name == "breakdown":
        return cnncost.plot.breakdown([r["resnet18"], r["autograd"]])
    if name == "zoo":
        return cnncost.plot.zoo(cnncost.zoo_frame("resnet*"))
    if name == "sweep-batch":
        frame = cnncost.sweep("resnet18", batch=[1, 4, 16, 64, 256], dtype=["fp32", "bf16"], memory="autograd")
        return cnncost.plot.sweep(frame, x="batch", y="peak_bytes")
    if name == "sweep-resolution":
        frame = cnncost.sweep("resnet18", input=[128, 160, 192], batch=8, dtype=["fp32", "bf16"])
        return cnncost.plot.sweep(frame, y="memory_bytes")
    if name == "time-bars":
        return cnncost.plot_time.time_bars(r["timed"])
    assert name == "roofline"
    return cnncost.plot_time.roofline(r["timed"])


PICTURES = ("layers", "layers-log", "layers-stages", "compare", "compare-blocks", "timeline", "breakdown", "zoo", "sweep-batch",
            "sweep-resolution", "time-bars", "roofline")
LOG = ("layers-log", "zoo", "sweep-batch", "roofline")  # the pictures with a log axis
WITH_LEGEND = ("layers-log", "layers-stages", "compare", "compare-blocks", "timeline", "breakdown", "zoo", "sweep-batch",
               "sweep-resolution", "time-bars", "roofline")


@pytest.mark.parametrize("name", PICTURES)
def test_each_picture_returns_its_open_axes(name, reports) -> None:
    before = set(plt.get_fignums())
    ax = draw(name, reports)
    assert isinstance(ax, Axes)
    assert ax.figure.number in plt.get_fignums()  # open: plt.show() shows it
    assert set(plt.get_fignums()) - before == {ax.figure.number}  # one new figure, no stray ones


def test_ax_draws_into_the_callers_axes(reports) -> None:
    fig, (left, right) = plt.subplots(1, 2)
    assert cnncost.plot.breakdown(reports["resnet18"], ax=left) is left
    assert cnncost.plot_time.roofline(reports["timed"], ax=right) is right
    assert plt.get_fignums() == [fig.number] and left.patches and right.collections


@pytest.mark.parametrize("name", PICTURES)
def test_axis_labels_are_words_with_units(name, reports) -> None:
    ax = draw(name, reports)
    for label in (ax.get_xlabel(), ax.get_ylabel()):
        if label:
            assert "_" not in label, f"a column name on an axis: {label!r}"
    numeric = ax.get_ylabel() if name in ("compare", "compare-blocks", "timeline", "sweep-batch", "sweep-resolution", "roofline") \
        else ax.get_xlabel()
    assert any(unit in numeric for unit in ("bytes", "FLOP", "MAC", "seconds", "SI:", "ratio")), numeric


def test_per_batch_wording(reports) -> None:
    """Per-batch counts say of how many images; per-model ones (params) say nothing of a batch."""
    assert "per batch of 128" in draw("layers", reports).get_xlabel()  # vgg16's FLOPs at its batch 128
    assert "FLOP" in draw("layers", reports).get_xlabel()
    params = draw("layers-log", reports).get_xlabel()
    assert params.startswith("parameters") and "batch" not in params
    assert "per batch of 16" in draw("timeline", reports).get_ylabel()
    assert "per batch of 16" in draw("breakdown", reports).get_xlabel()
    assert "MACs per image" in draw("zoo", reports).get_ylabel()
    assert "per batch of 8" in draw("sweep-resolution", reports).get_ylabel()
    against_batch = draw("sweep-batch", reports)
    assert "per batch" in against_batch.get_ylabel() and "of" not in against_batch.get_ylabel().split("(")[0]
    assert "per batch of 32" in draw("time-bars", reports).get_xlabel()
    one = cnncost.plot.layers(cnncost.table("alexnet", batch=1), "macs")
    assert "MACs per image" in one.get_xlabel()


@pytest.mark.parametrize("name", LOG)
def test_no_bars_on_a_log_axis(name, reports) -> None:
    ax = draw(name, reports)
    assert "log" in (ax.get_xscale(), ax.get_yscale())
    assert not [c for c in ax.containers if isinstance(c, BarContainer)]
    assert not [p for p in ax.patches if isinstance(p, Rectangle)]


def test_vgg_on_a_log_axis_is_a_dot_per_layer(reports) -> None:
    """conv1_1 (1,792 params) is 1/57,346 of fc6 (102,764,544): a dot at each figure, no length."""
    ax = draw("layers-log", reports)
    names = [t.get_text() for t in ax.get_yticklabels()]
    dots = {names[int(round(y))]: x for c in ax.collections for x, y in c.get_offsets()}
    assert dots["stage1.conv1_1"] == 1792 and dots["fc6"] == 102_764_544
    assert len(dots) == sum(1 for r in reports["vgg16"].rows if r.params)


def _major_labels(axis) -> list[tuple[float, str]]:
    low, high = sorted(axis.get_view_interval())
    return [(t.get_loc(), t.label1.get_text()) for t in axis.get_major_ticks()
            if low <= t.get_loc() <= high and t.label1.get_visible() and t.label1.get_text()]


@pytest.mark.parametrize("name", LOG)
def test_log_ticks_between_decades_in_human_units(name, reports) -> None:
    ax = draw(name, reports)
    ax.figure.canvas.draw()
    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale != "log":
            continue
        ticks = _major_labels(axis)
        assert len(ticks) >= 3, ticks
        powers = [v for v, _ in ticks if math.isclose(math.log10(v), round(math.log10(v)), abs_tol=1e-9)
                  or math.isclose(math.log2(v), round(math.log2(v))) and round(math.log2(v)) % 10 == 0]
        assert len(powers) < len(ticks), f"decade-only ticks: {ticks}"  # 2, 3, 5 x 10^k; 4 MiB, 16 MiB
        for _, text in ticks:
            assert "^" not in text and "$" not in text, text  # no 10^k mathtext
    if name == "layers-log":
        texts = [t for _, t in _major_labels(ax.xaxis)]
        assert {"3k", "10k", "1M", "30M"} <= set(texts), texts
    if name == "sweep-batch":
        assert [t for _, t in _major_labels(ax.yaxis)][-1].endswith("GiB")
    if name == "roofline":
        assert any(t.endswith("TFLOP/s") for _, t in _major_labels(ax.yaxis))


def test_human_units() -> None:
    assert human(10 * 2**20, "bytes") == "10 MiB" and human(1536, "bytes") == "1.5 KiB"
    assert human(10**9, "count", "FLOP") == "1 GFLOP" and human(5e7, "count") == "50M"
    assert human(2e-3, "seconds") == "2 ms" and human(0, "bytes") == "0"
    assert _log_ticks(1e3, 1e5, "count") == [1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5]
    assert _log_ticks(2**20, 2**30, "bytes") == [2.0**k for k in range(20, 31, 2)]  # 1, 4, 16 ... 1024 MiB


def _data_boxes(ax):
    """Pixel boxes of what the axes draw: each bar, each point of a line or a scatter, each polygon."""
    renderer = ax.figure.canvas.get_renderer()
    boxes = [p.get_window_extent(renderer) for p in ax.patches if p.get_width() and p.get_height()]
    points = [ax.transData.transform(line.get_xydata()) for line in ax.get_lines()]
    for c in ax.collections:
        if isinstance(c, PathCollection):
            points.append(c.get_offset_transform().transform(c.get_offsets()))
        elif isinstance(c, PolyCollection):
            boxes.append(c.get_window_extent(renderer))
    return boxes, [tuple(p) for array in points for p in array]


@pytest.mark.parametrize("name", WITH_LEGEND)
def test_legend_is_off_the_data(name, reports) -> None:
    ax = draw(name, reports)
    ax.figure.canvas.draw()
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent(ax.figure.canvas.get_renderer())
    boxes, points = _data_boxes(ax)
    assert boxes or points
    assert not [b for b in boxes if b.overlaps(box)], "the legend covers a bar or an area"
    assert not [p for p in points if box.contains(*p)], "the legend covers a point"


def test_one_order_of_memory_parts(reports) -> None:
    """The lecture's bar and the autograd bar stack their parts in one order (ORDER, left first),
    the timeline stacks them in it too (bottom first), and the legends list them in it."""
    ax = draw("breakdown", reports)
    bars: dict[int, list[tuple[float, str]]] = {}
    for patch in ax.patches:
        bars.setdefault(round(patch.get_y() + patch.get_height() / 2), []).append((patch.get_x(), patch.get_gid()))
    lecture, autograd = ([part for _, part in sorted(bars[y])] for y in (0, 1))
    rank = {part: i for i, part in enumerate(ORDER)}
    for parts in (lecture, autograd):
        assert [rank[p] for p in parts] == sorted(rank[p] for p in parts), parts
    common = [p for p in lecture if p in autograd]
    assert common == [p for p in autograd if p in lecture]
    assert common[:3] == ["parameters", "gradients", "optimizer state"] and common[-1] == "activation gradients"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [rank[p] for p in legend] == sorted(rank[p] for p in legend)
    timeline = draw("timeline", reports)
    stacked = [c.get_label() for c in timeline.collections if isinstance(c, PolyCollection)]
    assert [rank[p] for p in stacked] == sorted(rank[p] for p in stacked) and stacked[0] == "parameters"


def test_without_matplotlib_one_line_names_the_extra() -> None:
    import subprocess
    import sys
    code = "import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.ticker'] = None; import cnncost.plot"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith("plots need matplotlib: pip install 'cnncost[plot]'")
