"""Issue 22 item 1: reports and comparisons show one line as their repr (a notebook stores what it
displays: the dataclass dump was 57,366 characters for resnet50); `str` / `print` keep the table."""
from __future__ import annotations

import cnncost
from cnncost import Conv, Net


def test_report_repr_is_one_short_line() -> None:
    report = cnncost.table("resnet50")
    text = repr(report)
    assert len(text) < 200 and "\n" not in text
    # 25,557,032 params: torchvision's resnet50 (sum of p.numel()); 3.86 GMACs: the table's own
    # summary line, "per image 3.86 GMACs"
    assert text == f"<Report resnet50: {len(report.rows)} rows, 25,557,032 params, 3.86 GMACs/image, batch 128>"
    assert "per image 3.86 GMACs" in str(report).splitlines()[0]


def test_print_keeps_the_table() -> None:
    report = cnncost.table("alexnet", batch=1)
    assert str(report) == report.to_text() and "conv1" in str(report)
    assert repr(report) == f"<Report alexnet: {len(report.rows)} rows, 62,378,344 params, 1.14 GMACs/image, batch 1>"


def test_report_repr_marks_an_unknown_figure_as_a_lower_bound() -> None:
    from cnncost.layers.imported import Opaque
    net = Net("op", input=(3, 8, 8), layers=[Conv(out=4, kernel=3), Opaque(name="lstm", op="torch.nn.LSTM",
                                                                        shape=(4, 6, 6)), Conv(out=2, kernel=1)])
    report = cnncost.table(net, batch=2)
    # the text summary line says "per image >= 4.18 KMACs" (the convs' 4*6*6*27 + 2*6*6*4 MACs)
    assert ">= 4.18 KMACs/image, batch 2>" in repr(report)


def test_comparison_repr_is_one_short_line() -> None:
    comparison = cnncost.compare(["resnet18", "alexnet", "vgg11", "resnet34"], batch=64)
    text = repr(comparison)
    assert "\n" not in text and len(text) < 250
    assert text.startswith("<Comparison of 4: resnet18 (11,689,512 params, 1.81 GMACs/image), alexnet (")
    assert text.endswith(", and 1 more; batch 64>")
    assert str(comparison) == comparison.to_text()


def test_fit_repr_is_one_line() -> None:
    fit = cnncost.fit("alexnet", budget="8GiB")
    text = repr(fit)
    assert f"alexnet: batch {fit.batch} fits in " in text and "\n" not in text and len(text) < 200
