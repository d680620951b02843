"""Inputs of any rank and nets with several inputs (issue 18): the spec (`input:` a shape, a list
of shapes or a mapping of named shapes; leading input layers), Net, the compiled graph (node 0 the
first input, an `Input` node per further input), every output, sweeps; and `from:` on template
instances."""
from __future__ import annotations

import json

import pytest

import cnncost
from cnncost import Add, Conv, Flatten, Linear, Net, ReLU, SpecError, dump_spec, parse_spec
from cnncost.errors import CnnCostError
from cnncost.layers import Concat
from cnncost.layers.inputs import Input
from cnncost.shapes import parse_named_shape, parse_shape

FLOW = """
name: flow
input: {image1: [3, 16, 16], image2: "3x16x16"}
layers:
  - {name: e1, type: conv, out: 4, kernel: 3, padding: 1}
  - {name: e2, type: conv, out: 4, kernel: 3, padding: 1, from: image2}
  - {name: cat, type: concat, from: [e1, e2]}
  - {name: head, type: conv, out: 2, kernel: 1}
"""


def flow() -> Net:
    return parse_spec(FLOW, "flow.yaml")


# --- shapes ---

@pytest.mark.parametrize("text, shape", [
    ("3x224x224", (3, 224, 224)), ("3,224,224", (3, 224, 224)), ("224", (3, 224, 224)),
    ("3x16x112x112", (3, 16, 112, 112)), ("196x768", (196, 768)), ("768x", (768,)), ("768,", (768,)),
])
def test_parse_shape_takes_any_rank(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["", "x", "x768", "3xx3", "3x0x3", "axb"])
def test_parse_shape_refuses(text):
    with pytest.raises(ValueError):
        parse_shape(text)


def test_parse_named_shape():
    assert parse_named_shape("image1=3x440x1024") == ("image1", (3, 440, 1024))
    assert parse_named_shape("3x8x8") == (None, (3, 8, 8))
    for bad in ("=3x8x8", "a.b=3x8x8"):
        with pytest.raises(ValueError, match="NAME=SHAPE"):
            parse_named_shape(bad)


# --- Net ---

def test_net_takes_a_mapping_or_a_list_of_shapes():
    by_name = Net("n", input={"a": (3, 8, 8), "b": [5]}, layers=[ReLU()])
    assert by_name.input == (3, 8, 8) and by_name.input_name == "a" and by_name.more_inputs == (("b", (5,)),)
    assert by_name.named_inputs == (("a", (3, 8, 8)), ("b", (5,)))
    by_list = Net("n", input=[(3, 8, 8), (3, 8, 8), (2,)], layers=[ReLU()])
    assert [n for n, _ in by_list.named_inputs] == ["input", "input1", "input2"]
    one = Net("n", input=(3, 8, 8), layers=[ReLU()])
    assert one.named_inputs == (("input", (3, 8, 8)),) and one == Net("n", input=[[3, 8, 8]], layers=[ReLU()])


@pytest.mark.parametrize("value, message", [
    ({"a": (3, 8, 8), "b": (0, 2)}, "input 'b' must be positive integers"),
    ({"a.b": (3, 8, 8)}, "input names must be non-empty and contain no '.'"),
    ({}, "input must name at least one input"),
    ({"a": 3}, "input 'a' must be a shape like [3, 224, 224]"),
])
def test_net_refuses_bad_inputs(value, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Net("n", input=value, layers=[ReLU()])


def test_with_input_replaces_named_or_all_inputs():
    net = flow()
    assert net.with_input({"image2": (3, 8, 8)}).named_inputs == (("image1", (3, 16, 16)), ("image2", (3, 8, 8)))
    assert net.with_input([(3, 8, 8), (3, 8, 8)]).input == (3, 8, 8)
    assert net.with_input((3, 32, 32)).named_inputs == (("image1", (3, 32, 32)), ("image2", (3, 16, 16)))
    with pytest.raises(SpecError, match="the net has no input named 'image3'; its inputs: image1, image2"):
        net.with_input({"image3": (3, 8, 8)})
    with pytest.raises(SpecError, match="3 input shapes given for a net with 2 inputs"):
        net.with_input([(3, 8, 8)] * 3)


# --- spec ---

def test_spec_input_mapping_list_and_leading_input_layers_agree():
    as_list = parse_spec(FLOW.replace('{image1: [3, 16, 16], image2: "3x16x16"}', "[[3, 16, 16], 3x16x16]")
                         .replace("from: image2", "from: input1"))
    assert [n for n, _ in as_list.named_inputs] == ["input", "input1"]
    as_layers = parse_spec(FLOW.replace('input: {image1: [3, 16, 16], image2: "3x16x16"}\n', "").replace(
        "layers:\n", "layers:\n  - {name: image1, type: input, shape: [3, 16, 16]}\n"
                     "  - {name: image2, type: input, shape: 3x16x16}\n"))
    assert as_layers == flow()
    totals = {cnncost.table(n).totals.macs for n in (as_list, as_layers, flow())}
    assert len(totals) == 1


def test_dump_spec_round_trips_several_inputs():
    net = flow()
    text = dump_spec(net)
    assert "input:\n  image1: [3, 16, 16]\n  image2: [3, 16, 16]\n" in text
    assert parse_spec(text) == net
    single = parse_spec("name: v\ninput: 768x\nlayers: [{type: linear, out: 2}]\n")
    assert single.input == (768,) and "input: [768]" in dump_spec(single)


def test_an_input_layer_after_other_layers_is_refused():
    text = ("name: n\nlayers:\n  - {name: a, type: input, shape: [3, 8, 8]}\n  - {type: relu}\n"
            "  - {name: b, type: input, shape: [3, 8, 8]}\n")
    with pytest.raises(SpecError, match=r"layer 'b' \(input\): an input layer must be the first layer"):
        parse_spec(text)
    nested = "name: n\ninput: [3, 8, 8]\nlayers:\n  - {type: sequential, layers: [{type: input, shape: [3]}]}\n"
    with pytest.raises(CnnCostError, match="an input is declared in the net's input"):
        cnncost.compile(parse_spec(nested))


# --- graph ---

def test_graph_lists_its_inputs_first():
    graph = cnncost.compile(flow())
    assert graph.inputs == (0, 1) and graph.input_shapes == ((3, 16, 16), (3, 16, 16))
    assert [(n.path, n.type, n.inputs) for n in graph.nodes[:4]] == [
        ("image1", "input", ()), ("image2", "input", ()), ("e1", "conv", (0,)), ("e2", "conv", (1,))]
    assert isinstance(graph.nodes[1].layer, Input) and graph.nodes[0].layer is None
    assert graph.outputs == (len(graph.nodes) - 1,)


def test_the_first_layer_reads_the_first_input_and_from_input_names_it():
    net = Net("n", input={"a": (3, 8, 8), "b": (3, 8, 8)},
              layers=[ReLU(name="r", inplace=False), ReLU(name="s", inplace=False, inputs=("input",))])
    graph = cnncost.compile(net)
    assert [n.inputs for n in graph.nodes[2:]] == [(0,), (0,)]


def test_an_input_no_layer_reads_is_no_output():
    net = Net("n", input={"a": (4,), "unused": (4,)}, layers=[Linear(out=2)])
    graph = cnncost.compile(net)
    assert graph.outputs == (2,)


def test_a_further_input_may_not_take_the_first_inputs_alias():
    with pytest.raises(SpecError, match="an input is named 'input', which names the first input too"):
        cnncost.compile(Net("n", input={"a": (4,), "input": (4,)}, layers=[Linear(out=2)]))


def test_compile_at_other_input_sizes():
    graph = cnncost.compile(flow(), {"image1": (3, 8, 8), "image2": (3, 8, 8)})
    assert graph.output_shape == (2, 8, 8)


# --- figures and outputs ---

def test_every_input_counts_as_input():
    """The lecture's rule: 2 x activations + 1 x every input (no gradient) + k x params; the input
    rows hold only input elements."""
    report = cnncost.table(flow(), batch=2)
    assert [r.name for r in report.rows[:2]] == ["image1", "image2"]
    inputs = 2 * 3 * 16 * 16
    stored = 2 * (4 * 16 * 16) * 2 + 8 * 16 * 16 * 2 + 2 * 16 * 16 * 2  # e1, e2, cat, head; batch 2
    assert report.totals.activation_memory_bytes == (inputs * 2 + 2 * stored) * 4
    for row in report.rows[:2]:
        assert row.activation_memory_bytes == 3 * 16 * 16 * 2 * 4


def test_text_json_csv_and_dataframe_show_the_inputs():
    report = cnncost.table(flow(), batch=2)
    text = report.to_text()
    assert text.startswith("flow: inputs image1 3x16x16, image2 3x16x16, ")
    assert f"Input size (batch 2): {2 * 2 * 3 * 16 * 16 * 4 / 1024:.2f} KiB" in text
    record = json.loads(report.to_json())
    assert record["inputs"] == [{"name": "image1", "shape": [3, 16, 16]}, {"name": "image2", "shape": [3, 16, 16]}]
    assert record["total"]["input_shape"] == [3, 16, 16]
    assert "inputs" not in json.loads(cnncost.table("alexnet").to_json())  # one input: the record as before
    assert report.to_csv().splitlines()[2].startswith("image2,input,0,,3x16x16,3x16x16,")
    frame = cnncost.table(Net("v", input=(3, 4, 8, 6), layers=[ReLU()])).to_dataframe()
    assert frame[["in_c", "in_h", "in_w"]].iloc[0].tolist() == [3, 8, 6]  # a video's C, H, W


def test_autograd_memory_counts_every_input_as_input_batch():
    report = cnncost.table(flow(), batch=2, memory="autograd")
    breakdown = report.step_breakdown()["breakdown"]
    assert breakdown["input batch"] == 2 * 2 * 3 * 16 * 16 * 4


def test_peer_tools_count_nothing_for_an_input():
    from cnncost.counting import ops
    from cnncost.counting.torchinfo import sizes
    from cnncost.counting.profiles import impls
    graph = cnncost.compile(flow())
    for tool in ("fvcore", "thop", "ptflops", "torchinfo", "flopcounter", "allops"):
        assert ops(graph, tool, batch=1).per_node[1] == 0
    one = sizes(graph, impls(graph), (True,) * len(graph.nodes), 1)["input_bytes"]
    assert one == 2 * (3 * 16 * 16 * 4 + 64)  # torchinfo sums sys.getsizeof of each input's storage


def test_receptive_field_starts_at_each_image():
    fields = {f.name: f for f in cnncost.receptive_field(flow())}
    assert fields["e2"].receptive_field == fields["e1"].receptive_field == 3
    assert fields["head"].receptive_field == 3


# --- sweeps ---

def test_sweeps_of_several_inputs_sweep_the_batch_only():
    from cnncost.sweeps import sweep
    frame = sweep(flow(), batch=[1, 4])
    assert frame["macs"].tolist() == [cnncost.table(flow(), batch=b).totals.macs for b in (1, 4)]
    assert frame["memory_bytes"].tolist() == [cnncost.table(flow(), batch=b).totals.memory_bytes for b in (1, 4)]
    with pytest.raises(CnnCostError, match="a sweep over input sizes needs a net with one input; flow has 2"):
        sweep(flow(), input=[16, 32])


def test_a_single_size_sweeps_the_last_two_dims_of_a_map():
    from cnncost.sweeps import sweep
    video = Net("v", input=(3, 4, 8, 8), layers=[ReLU()])
    assert sweep(video, input=[8, 16])["input"].astype(str).tolist() == ["3x4x8x8", "3x4x16x16"]
    vector = Net("f", input=(8,), layers=[Linear(out=2)])
    with pytest.raises(CnnCostError, match="a single size sweeps the height and width of a map input"):
        sweep(vector, input=[8, 16])


# --- templates ---

def test_a_template_instance_takes_from():
    text = """
name: t
input: [3, 8, 8]
blocks:
  unit:
    params: [w]
    type: sequential
    layers: [{name: conv, type: conv, out: $w, kernel: 3, padding: 1}, {name: relu, type: relu}]
layers:
  - {name: a, type: unit, w: 4}
  - {name: b, type: unit, w: 4, from: input}
  - {name: sum, type: add, from: [a, b]}
"""
    net = parse_spec(text)
    assert net.layers[1].inputs == ("input",)
    graph = cnncost.compile(net)
    b_conv = next(n for n in graph.nodes if n.path == "b.conv")
    assert b_conv.inputs == (0,) and b_conv.input_shape == (3, 8, 8)


def test_a_template_parameter_named_from_stays_a_parameter():
    text = """
name: t
input: [3, 8, 8]
blocks:
  tap:
    params: [from]
    type: conv
    out: 2
    kernel: 1
    from: $from
layers:
  - {name: a, type: relu}
  - {name: b, type: tap, from: input}
"""
    assert cnncost.compile(parse_spec(text)).nodes[-1].inputs == (0,)


def test_python_net_with_concat_of_two_inputs():
    net = Net("siamese", input={"x": (3, 8, 8), "y": (3, 8, 8)}, layers=[
        Concat(name="both", inputs=("x", "y")), Conv(name="c", out=4, kernel=3), Flatten(name="f"),
        Linear(name="fc", out=2)])
    assert cnncost.compile(net).nodes[2].output_shape == (6, 8, 8)
    assert Add  # the merges read inputs by name like any tensor


def test_a_layer_reading_a_further_input_computes_no_input_gradient():
    """Like the first input, a further input needs no gradient: a conv reading it backpropagates
    only into its weights (2 FLOPs per MAC), as the conv reading the first input does."""
    rows = {r.name: r for r in cnncost.table(flow(), batch=1).rows}
    assert rows["e2"].backward_flops == rows["e1"].backward_flops == 2 * rows["e1"].macs
    assert rows["head"].backward_flops == 4 * rows["head"].macs


def test_check_against_refuses_several_inputs_in_one_line():
    pytest.importorskip("torch")
    from cnncost.torch_backend.against import check_against
    with pytest.raises(CnnCostError, match=r"check --against compares nets with one input; flow has 2 \(image1, image2\)"):
        check_against(flow(), "torchvision:resnet18")
