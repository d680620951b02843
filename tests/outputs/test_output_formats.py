"""Output formats (issue 13 items 1-3, issue 10's unknown counts): the summary line, units scaled
to the figure, the torchinfo-like footer, HTML for notebooks, the DataFrame's columns and
per-image counts, JSON's schema version, and opaque layers shown as unknown, never as 0."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

import cnncost
from cnncost import Conv, Net
from cnncost.conventions import SCHEMA_VERSION
from cnncost.formatting import binary_bytes, byte_unit, si_spaced

pd = pytest.importorskip("pandas")


def tiny() -> Net:
    return Net("tiny", input=(1, 4, 4), layers=[Conv(out=2, kernel=3)])


def opaque_net() -> Net:
    from cnncost.layers.imported import Opaque
    return Net("op", input=(3, 8, 8), layers=[Conv(out=4, kernel=3, name="conv0"),
                                             Opaque(name="lstm", op="torch.nn.LSTM", shape=(4, 6, 6)),
                                             Conv(out=2, kernel=1, name="conv2")])


def table_lines(text: str) -> list[list[str]]:
    """The text table's rows (after the dashed line, up to the blank line), split on 2+ spaces."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)*", line)) + 1
    end = lines.index("", start)
    return [re.split(r"\s{2,}", line.strip()) for line in lines[start:end]]


# --- units ---

def test_binary_units_scale_to_the_number() -> None:
    assert binary_bytes(512) == "512 B"
    assert binary_bytes(1536) == "1.50 KiB"
    assert binary_bytes(3 * 2**20) == "3.00 MiB"
    assert binary_bytes(1_875_621_504) == "1.75 GiB"  # alexnet's lecture memory
    assert binary_bytes(5 * 2**40) == "5.00 TiB"
    assert byte_unit([100]) == (1, "B") and byte_unit([20 * 2**10]) == (2**10, "KiB")
    assert byte_unit([9 * 2**30, 11 * 2**20]) == (2**20, "MiB")  # the largest at least 10 of the unit
    assert si_spaced(1_136_818_752, "MACs") == "1.14 GMACs" and si_spaced(512, "MACs") == "512 MACs"


def test_a_tiny_nets_memory_cells_are_not_all_zero() -> None:
    report = cnncost.table(tiny(), batch=1)
    text = report.to_text()
    header = text.splitlines()[2]
    assert "act. B" in header and "memory B" in header  # one unit for the table, in the headers
    rows = table_lines(text)
    memory = [row[-1] for row in rows]
    assert all(cell != "0.0" for cell in memory)
    assert memory[-1] == f"{report.totals.memory_bytes:,}"  # bytes, exact


def test_memory_columns_take_the_unit_of_their_largest_layer() -> None:
    text = cnncost.table("alexnet").to_text()
    assert "act. MiB" in text and "param MiB" in text and "memory MiB" in text
    assert "(MB)" not in text and " MB " not in text.split("Conventions")[0]
    total = table_lines(text)[-1]
    assert total[-1] == "1,788.7"  # 1,875,621,504 / 2^20 = 1788.73


def test_summary_line_states_per_image_and_per_batch() -> None:
    report = cnncost.table("alexnet")
    t = report.totals
    line = report.to_text().splitlines()[0]
    per_image, per_batch = t.macs // 128, t.macs
    assert per_image * 128 == t.macs and t.flops == 2 * t.macs
    assert line == (f"alexnet: input 3x224x224, 62,378,344 params; per image {si_spaced(per_image, 'MACs')} = "
                    f"{si_spaced(2 * per_image, 'FLOPs')}; per batch of 128: {si_spaced(per_batch, 'MACs')} = "
                    f"{si_spaced(2 * per_batch, 'FLOPs')}; training memory 1.75 GiB (the lecture's rule)")
    assert "per image 1.14 GMACs = 2.27 GFLOPs; per batch of 128: 145.31 GMACs = 290.63 GFLOPs" in line


def test_conventions_say_mib_is_the_lectures_mb() -> None:
    text = cnncost.table("alexnet").to_text()
    assert "MiB is the lecture's MB" in text and "MB = 2^20 B" in text


# --- footer ---

def footer(text: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in text.splitlines()
                if re.match(r"^(Total|Trainable|Non-trainable) params|^Buffers|^Input size|^Forward|^Params size|"
                            r"^Estimated", line))


def test_footer_adds_up_with_units() -> None:
    report = cnncost.table("alexnet")
    lines = footer(report.to_text())
    assert lines["Total params"] == "62,378,344" and lines["Trainable params"] == "62,378,344"
    assert lines["Non-trainable params"] == "0"
    assert lines["Input size (batch 128)"] == binary_bytes(3 * 224 * 224 * 128 * 4) == "73.50 MiB"
    assert lines["Estimated total size"] == "1.75 GiB (the lecture's rule)"
    assert lines["Params size"].startswith(binary_bytes(62_378_344 * 4))
    t = report.totals
    assert report.rows[0].activation_memory_bytes + (t.activation_memory_bytes - report.rows[0].activation_memory_bytes) \
        + t.param_memory_bytes == t.memory_bytes


def test_footer_params_and_buffers_match_torch_for_resnet18() -> None:
    torch = pytest.importorskip("torch")
    from cnncost.counting import param_split
    from cnncost.torch_backend import build
    report = cnncost.table("resnet18", batch=1)
    model = build(cnncost.load("resnet18"))
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())  # running mean/var + num_batches_tracked
    split = report.param_split()
    assert split == param_split(report.graph)
    assert split["params"] == params == split["trainable_params"] + split["non_trainable_params"]
    assert split["buffers"] == buffers == 9620  # torchvision resnet18: 20 BNs, 2 x 4,800 channels + 20
    lines = footer(report.to_text())
    assert lines["Buffers"].startswith(f"{buffers:,} ")
    assert isinstance(torch.__version__, str)


def test_footer_trainable_follows_freeze() -> None:
    report = cnncost.table("resnet18", batch=1, freeze=["conv1"])
    lines = footer(report.to_text())
    assert lines["Non-trainable params"] == "9,408"  # 64 x 3 x 7 x 7
    assert lines["Trainable params"] == f"{11_689_512 - 9408:,}"


# --- HTML ---

def test_html_aligns_bolds_and_nests_blocks() -> None:
    html = cnncost.table("resnet50")._repr_html_()
    assert html.count("<details>") >= 4 and html.count("<details>") == html.count("</details>")
    assert "<summary><b>layer1</b>" in html
    assert '<td style="text-align: left; overflow-wrap: anywhere;">conv1</td>' in html  # text cells left,
    assert '<td style="text-align: left;">conv</td>' in html  # whatever Jupyter's CSS says
    assert '<td style="text-align: right;">9,408</td>' in html  # numbers right
    total = next(line for line in html.splitlines() if ">total<" in line)
    assert total.startswith('<tr style="font-weight: bold;">') and "<b>total</b>" in total
    top_level = html.split("<details>")[0]
    assert top_level.count("<tr>") < 20  # the 176 rows are inside their blocks


def test_html_escapes_names() -> None:
    net = Net("<script>alert(1)</script>", input=(1, 4, 4),
              layers=[Conv(out=2, kernel=3, name="<script>x</script>")])
    html = cnncost.table(net, batch=1)._repr_html_()
    assert "<script" not in html and "&lt;script&gt;" in html


# --- DataFrame ---

def test_dataframe_columns() -> None:
    report = cnncost.table("alexnet", batch=4)
    frame = report.to_dataframe()
    for column in ("architecture", "batch", "name", "parent", "kernel", "stride", "padding", "groups",
                   "in_c", "in_h", "in_w", "out_c", "out_h", "out_w", "input_shape", "output_shape"):
        assert column in frame.columns, column
    conv1 = frame.set_index("name").loc["conv1"]
    assert (conv1.architecture, conv1.batch) == ("alexnet", 4)
    assert (conv1.kernel, conv1.stride, conv1.padding, conv1.groups) == (11, 4, 2, 1)
    assert conv1.input_shape == (3, 224, 224) and conv1.output_shape == (96, 55, 55)
    assert (conv1.in_c, conv1.in_h, conv1.in_w, conv1.out_c, conv1.out_h, conv1.out_w) == (3, 224, 224, 96, 55, 55)
    pool1 = frame.set_index("name").loc["pool1"]
    assert (pool1.kernel, pool1.stride, pool1.padding) == (3, 2, 0) and pd.isna(pool1.groups)
    fc8 = frame.set_index("name").loc["fc8"]
    assert pd.isna(fc8.kernel) and fc8.out_c == 1000 and pd.isna(fc8.out_h) and pd.isna(fc8.out_w)
    assert frame["out_h"].dtype == "Int64" and frame["kernel"].dtype == "Int64"
    assert frame["macs"].dtype == "int64"
    assert set(frame["parent"]) == {""}


def test_dataframe_parent_and_non_square_kernels() -> None:
    frame = cnncost.table("inception-v3", batch=1).to_dataframe().set_index("name")
    assert frame.loc["Mixed_6b.branch7x7.branch7x7_2.conv", "kernel"] == (1, 7)
    assert frame.loc["Mixed_6b.branch7x7.branch7x7_2.conv", "padding"] == (0, 3)
    assert frame.loc["Mixed_6b.branch7x7.branch7x7_2.conv", "parent"] == "Mixed_6b.branch7x7.branch7x7_2"
    collapsed = cnncost.table("resnet18", depth=0).to_dataframe().set_index("name").loc["layer1"]
    assert pd.isna(collapsed.kernel) and collapsed.parent == ""


def test_dataframe_per_image_is_exact() -> None:
    report = cnncost.table("resnet18", batch=6)
    whole, per = report.to_dataframe(), report.to_dataframe(per_image=True)
    assert per.attrs["per_image"] is True and whole.attrs["schema_version"] == SCHEMA_VERSION
    for column in ("activations", "macs", "flops", "activation_memory_bytes", "backward_flops", "training_flops"):
        assert list(per[column] * 6) == list(whole[column]), column
        assert per[column].dtype == "int64"
    assert list(per["params"]) == list(whole["params"])
    assert list(per["param_memory_bytes"]) == list(whole["param_memory_bytes"])
    assert list(per["memory_bytes"]) == list(per["activation_memory_bytes"] + per["param_memory_bytes"])
    one = cnncost.table("resnet18", batch=1).to_dataframe()
    assert list(per["macs"]) == list(one["macs"])


def test_dataframe_per_image_saved_bytes_split_the_per_step_part() -> None:
    report = cnncost.table("resnet18", batch=7, memory="autograd")
    per = report.to_dataframe(per_image=True)
    whole = report.to_dataframe()
    assert list(per["saved_bytes"] * 7 + per["saved_bytes_per_step"]) == list(whole["saved_bytes"])


def test_zoo_frame_has_architecture() -> None:
    zoo = cnncost.zoo_frame("alexnet")
    assert list(zoo["architecture"]) == ["alexnet"] and {"family", "source", "macs", "params"} <= set(zoo.columns)
    assert int(zoo["flops_per_image"][0]) * 128 == int(zoo["flops"][0])


def test_comparison_frame_keeps_ratios_and_json_its_version() -> None:
    comparison = cnncost.compare(["resnet18", "resnet50"], batch=2)
    frame = comparison.to_dataframe().set_index("architecture")
    assert frame.loc["resnet50", "macs_ratio"] == comparison.ratio(1, "macs")
    assert frame.loc["resnet50", "input_shape"] == (3, 224, 224)
    assert next(iter(json.loads(comparison.to_json()))) == "schema_version"


# --- JSON ---

def test_schema_version_is_the_first_key_and_shapes_are_compact() -> None:
    report = cnncost.table("alexnet", batch=2)
    assert next(iter(report.to_dict())) == "schema_version"
    text = report.to_json()
    assert text.startswith('{\n  "schema_version": 1,\n')
    assert '"input_shape": [3, 224, 224]' in text and '"output_shape": [1000]' in text
    assert json.loads(text)["unknown_counts"] == {} and "known_total" not in json.loads(text)


# --- unknown counts (opaque layers) ---

def test_unknown_counts_are_null_in_json() -> None:
    report = cnncost.table(opaque_net(), batch=2)
    data = json.loads(report.to_json())
    lstm = next(layer for layer in data["layers"] if layer["name"] == "lstm")
    assert lstm["macs"] is None and lstm["flops"] is None and lstm["training_flops"] is None
    assert lstm["unknown"] == ["macs", "flops", "backward_flops", "training_flops"]
    assert lstm["activations"] == 4 * 6 * 6 * 2  # its shape is known
    assert data["total"]["macs"] is None and data["total"]["unknown"] == lstm["unknown"]
    assert data["unknown_counts"] == {key: ["lstm"] for key in lstm["unknown"]}
    conv_macs = (4 * 6 * 6 * 27 + 2 * 6 * 6 * 4) * 2
    assert data["known_total"]["macs"] == conv_macs and data["known_total"]["flops"] == 2 * conv_macs
    conv0 = next(layer for layer in data["layers"] if layer["name"] == "conv0")
    assert "unknown" not in conv0 and conv0["macs"] == 4 * 6 * 6 * 27 * 2


def test_unknown_counts_in_text_csv_and_dataframe() -> None:
    report = cnncost.table(opaque_net(), batch=2)
    text = report.to_text()
    rows = {row[0]: row for row in table_lines(text)}
    assert "?" in rows["lstm"] and rows["total"][rows["total"].index(">= 8.35K")] == ">= 8.35K"
    assert "per image >= 4.18 KMACs" in text.splitlines()[0]
    assert "Unknown: 1 layer (lstm) has unknown MACs, FLOPs" in text
    records = list(csv.DictReader(io.StringIO(report.to_csv())))
    lstm = next(r for r in records if r["name"] == "lstm")
    assert lstm["macs"] == "" and lstm["flops"] == "" and lstm["unknown"] == "macs flops backward_flops training_flops"
    assert records[-1]["macs"] == "" and records[-1]["activations"] == str(report.totals.activations)
    frame = report.to_dataframe().set_index("name")
    assert frame.loc["lstm", "macs"] is None and frame.loc["conv0", "macs"] == 4 * 6 * 6 * 27 * 2
    assert frame.loc["lstm", "unknown"] == ("macs", "flops", "backward_flops", "training_flops")


def test_unknown_under_autograd_depth_and_count_as() -> None:
    report = cnncost.table(opaque_net(), batch=2, memory="autograd", count_as="fvcore")
    data = json.loads(report.to_json())
    assert set(data["unknown_counts"]) == {"macs", "flops", "ops", "backward_flops", "training_flops", "saved_bytes"}
    assert data["total"]["saved_bytes"] is None and data["total"]["ops"] is None
    assert data["known_total"]["saved_bytes"] == report.totals.saved_bytes
    collapsed = Net("outer", input=(3, 8, 8), layers=[cnncost.Sequential(name="body", layers=list(opaque_net().layers))])
    shallow = cnncost.table(collapsed, batch=1, depth=0)
    body = next(r for r in shallow.rows if r.name == "body")
    assert "macs" in body.unknown and body.macs > 0
    assert any(">= " in cell for cell in table_lines(shallow.to_text())[1])


def test_unknown_from_an_imported_module() -> None:
    nn = pytest.importorskip("torch.nn")
    from cnncost.importers.torch_trace import from_torch
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout2d(0.1), nn.Conv2d(4, 2, 1))
    report = cnncost.table(from_torch(model, (3, 8, 8), allow_unknown=True), batch=1)
    assert report.to_dict()["unknown_counts"]["macs"] == ["1"]
    compared = json.loads(cnncost.compare([from_torch(model, (3, 8, 8), allow_unknown=True)], batch=1).to_json())
    assert compared["architectures"][0]["macs"] is None and compared["architectures"][0]["unknown"][0] == "macs"
