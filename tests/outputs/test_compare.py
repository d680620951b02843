"""`compare`: the lecture's building-block comparisons as one call."""
import csv
import io
import json

import pytest

import cnncost
from cnncost.cli import main


def test_depthwise_separable_vs_standard_and_grouped():
    c = cnncost.compare(["block-conv3x3", "block-grouped-conv3x3", "block-depthwise-separable"], batch=1)
    standard, grouped, separable = (r.totals for r in c.reports)
    assert standard.macs == 28 * 28 * 128 * 128 * 9
    assert grouped.macs * 8 == standard.macs and c.ratio(1, "params") == 1 / 8
    assert separable.macs == 28 * 28 * 128 * (9 + 128)
    assert c.ratio(2, "macs") == pytest.approx((9 + 128) / (9 * 128))


def test_basic_vs_bottleneck_vs_resnext_vs_se():
    c = cnncost.compare(["block-basic", "block-bottleneck", "block-resnext", "block-se-bottleneck"], batch=1)
    basic, bottleneck, resnext, se = (r.totals for r in c.reports)
    assert basic.params == 2 * 9 * 64 * 64 + 2 * 2 * 64              # 18 C^2 + two batch norms
    assert bottleneck.params == 17 * 64 * 64 + 2 * (64 + 64 + 256)   # 17 C^2 + three batch norms
    # ResNeXt 32x4d: the same complexity as the bottleneck with twice the inner width
    assert resnext.params == 256 * 128 + 128 * 4 * 9 + 128 * 256 + 2 * (128 + 128 + 256)
    assert abs(resnext.macs / bottleneck.macs - 1) < 0.01
    # SE: two FCs of 256 x 16 with biases, and 0.004% more MACs
    assert se.params - bottleneck.params == 2 * 256 * 16 + 16 + 256
    assert se.macs - bottleneck.macs == 2 * 256 * 16


def test_inverted_residual_vs_bottleneck():
    c = cnncost.compare(["block-bottleneck-narrow", "block-inverted-residual"], batch=1)
    bottleneck, inverted = (r.totals for r in c.reports)
    # Same 24-channel input and output: the bottleneck squeezes to 6, the inverted residual expands to 144.
    assert bottleneck.params == 24 * 6 + 6 * 6 * 9 + 6 * 24 + 2 * (6 + 6 + 24)
    assert inverted.params == 24 * 144 + 144 * 9 + 144 * 24 + 2 * (144 + 144 + 24)
    assert inverted.activations > 5 * bottleneck.activations


def test_compare_cli_json_and_csv(capsys):
    assert main(["compare", "inception-naive", "inception", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["baseline"] == "inception-naive"
    naive, real = data["architectures"]
    assert real["ratios"]["macs"] == real["macs"] / naive["macs"] < 0.5
    assert main(["compare", "inception-naive", "inception", "--format", "csv"]) == 0
    records = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["name"] for r in records] == ["inception-naive", "inception"]
    assert float(records[0]["macs_ratio"]) == 1.0


def test_compare_text_shows_ratios(capsys):
    assert main(["compare", "block-conv3x3", "block-grouped-conv3x3", "--batch", "1"]) == 0
    out = capsys.readouterr().out
    assert "18,432 (0.125x)" in out and "Ratios are to block-conv3x3" in out


def test_compare_dataframe():
    frame = cnncost.compare(["vgg11", "vgg16"]).to_dataframe()
    assert list(frame.index) == [0, 1] and list(frame["architecture"]) == ["vgg11", "vgg16"]  # every frame's index
    assert frame.set_index("architecture").loc["vgg16", "params"] == 138_357_544  # torchvision vgg16: sum(p.numel())


def test_compare_needs_an_architecture():
    with pytest.raises(cnncost.CnnCostError, match="at least one architecture"):
        cnncost.compare([])


def test_comparison_renders_html():
    assert "<table>" in cnncost.compare(["block-conv3x3"], batch=1)._repr_html_()
