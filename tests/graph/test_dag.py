"""DAG specs: `from:` references, merges of any named tensors, several outputs, the compiled graph's
order and caching, and the errors a hand-written reference can cause."""
from __future__ import annotations

import sys

import pytest

import cnncost
from cnncost import Add, Concat, Conv, Linear, MaxPool, Mul, Net, ReLU, Residual, Sequential, Side
from cnncost.errors import CnnCostError
from cnncost.graph import compile
from cnncost.memory import Precision, trace

# A skip over two convs, joined by an add and a concat of non-adjacent tensors, and a second head.
DAG_YAML = """
name: dag
input: [3, 16, 16]
layers:
  - {name: stem, type: conv, out: 8, kernel: 3, padding: 1}
  - name: body
    type: sequential
    layers:
      - {name: a, type: conv, out: 8, kernel: 3, padding: 1}
      - {name: b, type: relu, inplace: false}
      - {name: c, type: conv, out: 8, kernel: 1}
  - {name: join, type: add, from: [body, stem]}
  - {name: both, type: concat, from: [stem, body.b, join]}
  - {name: gate, type: conv, out: 24, kernel: 1, from: input}
  - {name: scaled, type: mul, from: [both, gate]}
  - {name: aux, type: conv, out: 5, kernel: 1, from: body.a}
  - {name: head, type: conv, out: 2, kernel: 1, from: scaled}
"""


def dag() -> Net:
    return cnncost.parse_spec(DAG_YAML, "dag.yaml")


def test_from_references_resolve_to_earlier_nodes() -> None:
    g = compile(dag())
    index = {node.path: i for i, node in enumerate(g.nodes)}
    assert g.nodes[index["join"]].inputs == (index["body.c"], index["stem"])  # a block names its output
    assert g.nodes[index["both"]].inputs == (index["stem"], index["body.b"], index["join"])
    assert g.nodes[index["both"]].output_shape == (24, 16, 16)
    assert g.nodes[index["gate"]].inputs == (0,)  # `input` is the net's input
    assert g.nodes[index["aux"]].inputs == (index["body.a"],)
    # every node reads only earlier nodes: the list is topologically ordered
    assert all(i < n for n, node in enumerate(g.nodes) for i in node.inputs)


def test_every_unread_node_is_an_output_the_last_layer_first() -> None:
    g = compile(dag())
    assert [g.nodes[i].path for i in g.outputs] == ["head", "aux"]
    assert g.output_shape == (2, 16, 16)
    declared = Net("d", (3, 16, 16), dag().layers, outputs=("aux",))
    assert [compile(declared).nodes[i].path for i in compile(declared).outputs] == ["aux", "head"]


def test_counts_of_a_dag() -> None:
    rows = {r.name: r for r in cnncost.table(dag(), batch=1).rows}
    # add and concat allocate their output; mul too; no params or MACs
    assert (rows["join"].activations, rows["both"].activations, rows["scaled"].activations) == (
        8 * 256, 24 * 256, 24 * 256)
    assert rows["gate"].macs == 24 * 256 * 3  # a 1x1 conv straight from the 3-channel input
    assert rows["aux"].params == 5 * 8 + 5


def test_a_plain_list_stays_a_chain() -> None:
    net = Net("c", (3, 8, 8), [Conv(out=4, kernel=3), ReLU(), Conv(out=2, kernel=1)])
    assert [n.inputs for n in compile(net).nodes] == [(), (0,), (1,), (2,)]


def test_python_and_yaml_build_the_same_dag() -> None:
    python = Net("dag", (3, 16, 16), [
        Conv(name="stem", out=8, kernel=3, padding=1),
        Sequential(name="body", layers=[Conv(name="a", out=8, kernel=3, padding=1), ReLU(name="b", inplace=False),
                                        Conv(name="c", out=8, kernel=1)]),
        Add(name="join", inputs=["body", "stem"]),
        Concat(name="both", inputs=["stem", "body.b", "join"]),
        Conv(name="gate", out=24, kernel=1, inputs="input"),
        Mul(name="scaled", inputs=["both", "gate"]),
        Conv(name="aux", out=5, kernel=1, inputs=["body.a"]),
        Conv(name="head", out=2, kernel=1, inputs="scaled"),
    ])
    assert python == dag()


def test_spec_round_trip_keeps_from_and_outputs() -> None:
    net = Net("d", (3, 16, 16), dag().layers, outputs=("aux", "head"))
    text = cnncost.dump_spec(net)
    assert "from: [body, stem]" in text and "outputs: [aux, head]" in text
    assert cnncost.parse_spec(text) == net


def test_names_resolve_from_the_innermost_block_outward() -> None:
    net = Net("s", (4, 8, 8), [
        Conv(name="x", out=4, kernel=1),
        Sequential(name="blk", layers=[
            Conv(name="x", out=4, kernel=1),          # shadows the outer x inside blk
            Conv(name="y", out=4, kernel=1),
            Add(name="sum", inputs=["x", "y"]),       # blk.x and blk.y
        ]),
        Add(name="outer", inputs=["x", "blk"]),       # the top-level x
    ])
    g = compile(net)
    index = {node.path: i for i, node in enumerate(g.nodes)}
    assert g.nodes[index["blk.sum"]].inputs == (index["blk.x"], index["blk.y"])
    assert g.nodes[index["outer"]].inputs == (index["x"], index["blk.sum"])


@pytest.mark.parametrize("layers, message", [
    ([Conv(name="a", out=4, kernel=1), Add(name="s", inputs=["a", "nope"])],
     r"layer 's' \(add\): 'from: nope' names no earlier node"),
    ([Conv(name="a", out=4, kernel=1), Add(name="s", inputs=["a", "aa"])],
     r"'from: aa' names no earlier node; did you mean 'a'\?"),
    ([Add(name="s", inputs=["input", "later"]), Conv(name="later", out=3, kernel=1)],
     r"layer 's' \(add\): 'from: later' names a node that comes later; a node can only read earlier nodes"),
    ([Sequential(name="blk", layers=[Conv(name="a", out=3, kernel=1, inputs=["blk"])])],
     r"layer 'blk.a' \(conv\): 'from: blk' names an enclosing block"),
    ([Conv(name="a", out=4, kernel=1), Add(name="s", inputs=["a"])], r"joins at least 2 tensors"),
    ([Conv(name="a", out=4, kernel=1), Conv(name="b", out=4, kernel=1, inputs=["a", "input"])],
     r"layer 'b' \(conv\): reads 1 tensor, but 'from' names 2"),
    ([Conv(name="a", out=4, kernel=1), Add(name="s", inputs=["a", "input"])],
     r"cannot add tensors of different shapes: 4x8x8, 3x8x8.*from: a \(4x8x8\), input \(3x8x8\)"),
    ([Conv(name="a", out=4, kernel=1, stride=2), Concat(name="c", inputs=["a", "input"])],
     r"cannot concat tensors of different spatial sizes: 4x4, 8x8"),
    ([Conv(name="a", out=4, kernel=1), Mul(name="m", inputs=["input", "a"])], r"the gate must be 3x1x1"),
])
def test_reference_errors_name_the_layer_and_the_problem(layers, message) -> None:
    with pytest.raises(CnnCostError, match=message):
        compile(Net("e", (3, 8, 8), layers))


def test_yaml_reference_error_names_the_file() -> None:
    text = "name: e\ninput: [3, 8, 8]\nlayers:\n  - {name: a, type: conv, out: 3, kernel: 1}\n" \
           "  - {name: s, type: add, from: [a, b]}\n"
    with pytest.raises(CnnCostError, match=r"^e.yaml: layer 's' \(add\): 'from: b' names no earlier node"):
        cnncost.parse_spec(text, "e.yaml") and compile(cnncost.parse_spec(text, "e.yaml"))


def test_yaml_from_must_be_names() -> None:
    text = "name: e\ninput: [3, 8, 8]\nlayers:\n  - {name: s, type: add, from: [1, 2]}\n"
    with pytest.raises(CnnCostError, match=r"field 'from' must be"):
        cnncost.parse_spec(text, "e.yaml")


def test_identity_branch_of_a_concat() -> None:
    """An empty branch is the identity: DenseNet's and ShuffleNet's pass-through."""
    net = Net("i", (4, 8, 8), [Concat(name="c", branches=[[], [Conv(name="conv", out=2, kernel=1)]])])
    assert compile(net).output_shape == (6, 8, 8)


def test_blocks_lower_to_their_old_rows() -> None:
    net = Net("r", (4, 8, 8), [Residual(name="res", layers=[Conv(name="c", out=4, kernel=3, padding=1)]),
                               Side(name="aux", layers=[MaxPool(name="p", kernel=2)])])
    g = compile(net)
    assert [n.path for n in g.nodes] == ["input", "res.c", "res.add", "aux.p"]
    assert [g.nodes[i].path for i in g.outputs] == ["res.add", "aux.p"]
    assert [(b.path, b.first, b.stop) for b in g.blocks] == [("res", 1, 3), ("aux", 3, 4)]


def test_deep_nesting_compiles_without_recursion() -> None:
    depth = sys.getrecursionlimit() * 3
    node = Conv(name="c", out=3, kernel=1)
    for i in range(depth):
        node = Sequential(name=f"s{i}", layers=(node,))
    g = compile(Net("deep", (3, 4, 4), [node]))
    assert len(g.nodes) == 2 and g.nodes[1].depth == depth


def test_node_cap_stops_an_expansion_early() -> None:
    from cnncost import Repeat
    net = Net("big", (3, 4, 4), [Repeat(name="r", times=10_000, layers=[
        Repeat(name="q", times=10_000, layers=[ReLU()])])])
    with pytest.raises(CnnCostError, match=r"more than 1,000 nodes.*--max-nodes"):
        compile(net, max_nodes=1_000)


def test_compiled_once_per_net_and_input() -> None:
    net = cnncost.load("resnet18")
    assert compile(net) is compile(net)
    assert compile(net, (3, 112, 112)) is compile(net, (3, 112, 112))
    assert compile(net, (3, 112, 112)) is not compile(net)


def test_memory_model_follows_dag_edges() -> None:
    t = trace(dag(), precision=Precision("fp32", "cpu"))
    steps = {s.path: s for s in t.steps}
    assert [r.id for r in steps["both"].reads] == [steps["stem"].output.id, steps["body.b"].output.id,
                                                 steps["join"].output.id]
    # mul saves both operands; the gate conv saves the input batch for its weight's gradient, but
    # the stem saved that storage first, and a storage is charged once, to its first saver
    saved = t.saved_by_path()
    assert saved["scaled"].per_sample == 2 * 24 * 256 * 4
    assert saved["stem"].per_sample == 3 * 256 * 4 and saved["gate"].per_sample == 0
    assert {o.id for o in t.outputs} == {steps["head"].output.id, steps["aux"].output.id}


def test_dag_checks_exactly_in_torch() -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend import build, check
    result = check(dag(), batch=2, device="cpu")
    assert result.ok, [(r.path, r.quantity, r.ours, r.torch) for r in result.mismatches]
    by_layer = [r for r in result.rows if r.quantity == "saved_bytes" and r.path != "total"]
    assert all(r.ours == r.torch for r in by_layer), [(r.path, r.ours, r.torch) for r in by_layer if r.ours != r.torch]
    assert result.total("saved_bytes").ours == result.total("saved_bytes").torch
    import torch
    outputs = build(dag()).forward_all(torch.randn(2, 3, 16, 16))
    assert [tuple(o.shape) for o in outputs] == [(2, 2, 16, 16), (2, 5, 16, 16)]


def test_linear_head_from_a_named_feature() -> None:
    from cnncost import Flatten, GlobalAvgPool
    net = Net("h", (3, 8, 8), [Conv(name="f", out=4, kernel=3), GlobalAvgPool(name="g"), Flatten(name="fl"),
                               Linear(name="fc", out=10), MaxPool(name="p", kernel=2, inputs="f")])
    g = compile(net)
    assert [g.nodes[i].path for i in g.outputs] == ["p", "fc"] or [g.nodes[i].path for i in g.outputs][0] == "p"
