"""The time model's pictures (plot extra): render, carry their labels, draw the timing's own numbers."""
from __future__ import annotations

import pytest

matplotlib = pytest.importorskip("matplotlib", reason="plots need the 'plot' extra")
matplotlib.use("Agg")


import cnncost  # noqa: E402
import cnncost.plot_time  # noqa: E402


@pytest.fixture(scope="module")
def timed():
    return cnncost.table("resnet18", batch=32, dtype="bf16", hardware="a100-sxm4-80gb")


def test_time_bars_stack_each_layers_seconds_by_bound(timed, tmp_path):
    ax = cnncost.plot_time.time_bars(timed)
    fig = ax.figure
    assert ax.get_title() == "resnet18: time per layer on a100-sxm4-80gb, bf16, batch 32"
    assert "seconds" in ax.get_xlabel() and "per batch of 32" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["compute-bound", "memory-bound", "launch-bound"]
    seconds = timed.timing.node_seconds()
    total = sum(patch.get_width() for patch in ax.patches)  # seconds: the ticks say µs or ms
    assert total == pytest.approx(sum(seconds["forward_seconds"]) + sum(seconds["backward_seconds"]), rel=1e-9)
    fig.savefig(tmp_path / "bars.png", dpi=50)
    assert (tmp_path / "bars.png").read_bytes()[:4] == b"\x89PNG"
    assert all(t.get_text().endswith(("µs", "ms")) or t.get_text() == "0" for t in ax.get_xticklabels())


def test_roofline_places_every_layer_under_its_roofs(timed, tmp_path):
    ax = cnncost.plot_time.roofline(timed)
    fig = ax.figure
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "FLOP per byte" in ax.get_xlabel() and "FLOP/s" in ax.get_ylabel()
    assert "a100-sxm4-80gb" in ax.get_title() and "bf16" in ax.get_title() and "batch 32" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "roof: 312.0 TFLOP/s (matrix units, bf16), 2,039 GB/s"  # A100 datasheet bf16, HBM2e
    points = [p for c in ax.collections for p in c.get_offsets()]
    assert len(points) > 20
    for x, y in points:  # the expected estimate never beats the pure roofline
        assert y <= min(312e12, x * 2039e9) * (1 + 1e-9)
    fig.savefig(tmp_path / "roofline.png", dpi=50)


def test_time_pictures_need_the_time_model():
    with pytest.raises(cnncost.CnnCostError, match="hardware="):
        cnncost.plot_time.roofline(cnncost.table("alexnet"))
