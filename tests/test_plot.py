"""Plots draw the report's numbers (skipped without matplotlib)."""
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="plots need the 'plot' extra")
matplotlib.use("Agg")

import cnncost  # noqa: E402
import cnncost.plot  # noqa: E402


def test_layer_bars_are_the_report_figures():
    report = cnncost.table("vgg16", depth=0)
    ax = cnncost.plot.layers(report, "params").axes[0]  # a Figure
    bars = {patch.get_y(): patch.get_width() for patch in ax.patches}
    assert sorted(bars.values()) == sorted(r.params / 1e6 for r in report.rows if r.params)
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "stage1"


def test_compare_bars_are_ratios():
    comparison = cnncost.compare(["block-conv3x3", "block-grouped-conv3x3"], batch=1)
    ax = cnncost.plot.compare(comparison, columns=("params",)).axes[0]
    assert [patch.get_height() for patch in ax.patches] == [1.0, 0.125]


def test_unknown_column_is_a_named_error():
    with pytest.raises(cnncost.CnnCostError, match=r"cannot plot column 'FLOPs'; allowed: flops"):
        cnncost.plot.layers(cnncost.table("alexnet"), "FLOPs")
