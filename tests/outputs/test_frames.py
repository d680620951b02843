"""Frames and reprs for notebooks: the zoo as one DataFrame, a comparison's ratios, a readable Fit."""
from __future__ import annotations


import pytest

import cnncost

pd = pytest.importorskip("pandas")


def test_zoo_frame_rows_are_the_tables_totals() -> None:
    zoo = cnncost.zoo_frame("vgg1*")
    assert list(zoo["architecture"]) == [a.name for a in cnncost.list_archs("vgg1*")]
    assert "name" not in zoo.columns and list(zoo.index) == list(range(len(zoo)))  # one column per field
    row = zoo.set_index("architecture").loc["vgg16"]
    totals = cnncost.table("vgg16").totals
    assert (row.params, row.macs, row.flops, row.activations, row.memory_bytes, row.batch) == (
        totals.params, totals.macs, totals.flops, totals.activations, totals.memory_bytes, 128)
    assert row.macs_per_image * 128 == totals.macs
    assert row.family == "VGG" and row.source.startswith("paper") and row.input == "3x224x224" and row.output == "1000"
    assert str(zoo["params"].dtype) == "int64" and zoo["family"].dtype == object
    small = cnncost.zoo_frame("vgg16", batch=1, dtype="bf16").set_index("architecture").loc["vgg16"]
    assert small.memory_bytes == cnncost.table("vgg16", batch=1, dtype="bf16").totals.memory_bytes


def test_every_built_in_has_a_family() -> None:
    from cnncost.frames import family
    names = [a.name for a in cnncost.list_archs()]
    families = {name: family(name) for name in names}
    assert families["unet"] == "U-Net" and families["block-basic"] == "building block"
    assert families["senet154"] == families["se-resnet50"] == "SENet" and families["resnext50-32x4d"] == "ResNeXt"
    assert families["efficientnet-v2-s"] == "EfficientNet v2" and families["efficientnet-b0"] == "EfficientNet"
    assert all(f[0].isupper() or f == "building block" for f in families.values()), families


def test_comparison_frame_keeps_its_ratios() -> None:
    frame = cnncost.compare(["block-conv3x3", "block-depthwise-separable"], batch=1).to_dataframe()
    assert list(frame.index) == [0, 1]  # a RangeIndex, as every frame; the names in `architecture`
    frame = frame.set_index("architecture")
    assert frame.loc["block-conv3x3", "params_ratio"] == 1.0
    assert frame.loc["block-depthwise-separable", "macs_ratio"] == pytest.approx(13748224 / 115605504)
    assert frame.loc["block-depthwise-separable", "activations_ratio"] == 1.5
    # pandas' nullable Float64: floats, <NA> where the baseline's figure is 0, never NaN nor object
    assert str(frame["macs"].dtype) == "int64" and all(str(frame[c].dtype) == "Float64"
                                                      for c in frame.columns if c.endswith("_ratio"))
    zero = cnncost.compare([cnncost.Net("z", input=(3, 8, 8), layers=[cnncost.ReLU(name="r")]), "block-conv3x3"],
                           batch=1).to_dataframe().set_index("architecture")
    assert zero.loc["block-conv3x3", "params_ratio"] is pd.NA and zero.loc["z", "activations_ratio"] == 1.0
    assert zero["params_ratio"].isna().tolist() == [True, True] and not zero["activations_ratio"].isna().any()


def test_fit_reads_well() -> None:
    fit = cnncost.fit("vgg16", "80GiB", dtype="bf16", optimizer="adamw")
    text = repr(fit)
    assert text.startswith("Fit(vgg16: batch 1924 fits in 80 GiB = 85,899,345,920 B; peak 79.99 GiB in backward, "
                           "stage5.pool5")
    assert str(fit) == text and "to spare" in text
    html = fit._repr_html_()
    assert "<b>1924</b>" in html and "saved for backward" in html and "85,899,345,920 bytes" in html
    nothing = cnncost.fit("vgg16", "1GiB")
    assert "not even batch 1 fits in 1 GiB = 1,073,741,824 B" in repr(nothing) and "not even batch 1" in nothing._repr_html_()


def test_fit_html_escapes_names() -> None:
    net = cnncost.Net("<b>&net", input=(3, 32, 32), layers=[cnncost.Conv(name="c", out=4, kernel=3)])
    html = cnncost.fit(net, "1GiB")._repr_html_()
    assert "&lt;b&gt;&amp;net" in html and "<b>&net" not in html
