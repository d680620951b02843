"""Report: rows add up, depth collapses, and the JSON/CSV contract pipelines rely on."""
import csv
import io
import json

import pytest

import cnncost

NUMERIC_COLUMNS = ("activations", "params", "macs", "flops", "activation_memory_bytes", "param_memory_bytes",
                   "memory_bytes")  # the JSON contract's figures of every row

SUMMED = ("params", "macs", "flops", "activations", "activation_memory_bytes", "param_memory_bytes", "memory_bytes")


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "googlenet"])
@pytest.mark.parametrize("depth", [None, 0, 1])
def test_rows_add_up_to_totals_at_any_depth(name, depth):
    report = cnncost.table(name, depth=depth)
    for column in SUMMED:
        assert sum(getattr(r, column) for r in report.rows) == getattr(report.totals, column), column


def test_depth_collapses_blocks_into_one_row():
    full, modules = cnncost.table("googlenet"), cnncost.table("googlenet", depth=0)
    names = [r.name for r in modules.rows]
    assert "inception3a" in names and not any(n.startswith("inception3a.") for n in names)
    row = next(r for r in modules.rows if r.name == "inception3a")
    assert row.type == "concat"
    assert row.input_shape == (192, 28, 28) and row.output_shape == (256, 28, 28)
    inside = [r for r in full.rows if r.name.startswith("inception3a.")]
    assert row.params == sum(r.params for r in inside)
    assert modules.totals == full.totals


def test_dtype_and_optimizer_scale_memory():
    fp32 = cnncost.table("alexnet").totals
    bf16_sgd = cnncost.table("alexnet", dtype="bf16", optimizer="sgd").totals
    assert bf16_sgd.activation_memory_bytes * 2 == fp32.activation_memory_bytes
    # adam keeps 4 copies of each fp32 parameter, sgd 2 bf16 copies
    assert bf16_sgd.param_memory_bytes == fp32.params * 2 * 2
    assert fp32.param_memory_bytes == fp32.params * 4 * 4


def test_json_contract():
    data = json.loads(cnncost.table("alexnet", batch=64).to_json())
    assert (data["architecture"], data["batch"], data["dtype"], data["optimizer"]) == ("alexnet", 64, "fp32", "adam")
    conv1 = data["layers"][1]
    assert conv1["name"] == "conv1" and conv1["type"] == "conv" and conv1["output_shape"] == [96, 55, 55]
    for key in NUMERIC_COLUMNS:
        assert isinstance(conv1[key], int) and isinstance(data["total"][key], int)
    assert conv1["activations"] == 96 * 55 * 55 * 64
    assert data["total"]["params"] == 62_378_344
    assert data["total"]["flops"] == 2 * data["total"]["macs"]


def test_csv_has_the_json_columns_and_exact_integers():
    report = cnncost.table("alexnet")
    records = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert set(NUMERIC_COLUMNS) <= set(records[0])
    assert records[-1]["name"] == "total"
    assert int(records[-1]["flops"]) == report.totals.flops
    assert records[1]["output_shape"] == "96x55x55"


def test_dataframe_keeps_integer_columns():
    frame = cnncost.table("vgg16").to_dataframe()
    for column in NUMERIC_COLUMNS:
        assert frame[column].dtype == "int64", column
    assert int(frame["params"].sum()) == 138_357_544  # torchvision vgg16: sum(p.numel())


def test_dataframe_beyond_int64_keeps_python_ints():
    frame = cnncost.table("vgg16", batch=10**12).to_dataframe()
    assert frame["flops"].dtype == object
    assert sum(frame["flops"]) == cnncost.table("vgg16", batch=10**12).totals.flops


def test_text_table_states_its_conventions():
    text = cnncost.table("alexnet", batch=32, dtype="fp16", optimizer="momentum").to_text()
    text = text.replace("\n  ", " ")  # the conventions line, wrapped at its separators, unwrapped
    assert "batch 32, fp16 (2 B), optimizer momentum, memory: the lecture's, 2 x activations (input 1 x) " \
           "+ 3 x params" in text
    assert "FLOPs = 2 x MACs" in text and "MB = 2^20 B" in text
    assert "34,944" in text  # conv1 params with thousands separators
    assert text.splitlines()[0].startswith("alexnet: input 3x224x224, 62,378,344 params")


@pytest.mark.parametrize("method,marker", [("to_markdown", "| conv1"), ("_repr_html_", "<table ")])
def test_other_renderings(method, marker):
    assert marker in getattr(cnncost.table("alexnet"), method)()


def test_options_are_validated():
    with pytest.raises(cnncost.CnnCostError, match=r"unknown dtype 'fp8'"):
        cnncost.table("alexnet", dtype="fp8")
    with pytest.raises(cnncost.CnnCostError, match=r"unknown optimizer 'adamm'; did you mean 'adam'"):
        cnncost.table("alexnet", optimizer="adamm")
    with pytest.raises(cnncost.CnnCostError, match=r"batch must be a positive integer"):
        cnncost.table("alexnet", batch=0)


def test_input_override_propagates_new_shapes():
    alex = cnncost.table("alexnet", input=(3, 256, 256))
    assert alex.rows[1].output_shape == (96, 63, 63)  # (256 - 11 + 4) // 4 + 1
    assert next(r for r in alex.rows if r.name == "flatten").output_shape == (256 * 7 * 7,)
    with pytest.raises(cnncost.ShapeError, match=r"layer 'pool5' \(maxpool\): kernel 3x3 is larger"):
        cnncost.table("alexnet", input=(3, 32, 32))
