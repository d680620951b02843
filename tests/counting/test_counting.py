"""cnncost.counting: every peer tool's count to the unit, and the FLOPs of a training step.

Against tests/fixtures/tools_reference.json (the tools run on the real torchvision and timm
models, tests/fixtures/measure_tools.py, torch 2.14.1) and torchvision_reference.json's
FlopCounterMode train steps; against a live FlopCounterMode (torch 2.13 here) on random specs of
the differential strategy; and, where the tools are installed, against the tools themselves.
"""
from __future__ import annotations

import math

import pytest

import cnncost
import counting_reference as ref
from cnncost.counting import (TOOLS, allops, ops, param_split, tool_params, torchinfo_sizes, training)
from cnncost.cli.options import add_counting_options, counting_kwargs
from cnncost.counting.names import TOOL_NAMES
from cnncost.counting.impl import parse
from cnncost.counting.profiles import impls
from cnncost.errors import CnnCostError

FIXTURE = ref.load()
MODELS = FIXTURE["models"]
TORCHVISION = ref.load(ref.TORCHVISION_FIXTURE)["models"]


def graph(reference_name: str):
    arch = ref.twin(reference_name)
    assert arch is not None, reference_name
    return cnncost.compile(cnncost.load(arch)), ref.profile(reference_name)


def grouped(g) -> bool:
    return any(n.type in ("conv", "conv_transpose") and n.layer.groups > 1 for n in g.nodes[1:])


# --- every tool's total, to the unit, on the twin of every measured model ---

def test_fixture_covers_the_issue_models() -> None:
    assert len(MODELS) == 81
    assert {f"timm/{n}" for n in ("inception_v4", "inception_resnet_v2", "seresnet50", "seresnext50_32x4d",
                                  "resnet50c", "resnet50d", "mobilenetv1_100")} <= set(MODELS)
    assert FIXTURE["versions"]["torch"] == "2.14.1" and FIXTURE["versions"]["torchinfo"] == "1.8.0"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_count_as_gives_each_tools_total(name: str) -> None:
    g, profile = graph(name)
    measured = MODELS[name]["tools"]
    got = {tool: ops(g, tool, 1, profile).total for tool in ref.MEASURED}
    assert got == {tool: figure(measured) for tool, figure in ref.MEASURED.items()}
    assert ops(g, "flopcounter", 2, profile).total == measured["flopcounter"]["forward_b2"]
    # torchvision's published figure is FlopCounterMode's halved: the same MACs
    assert ops(g, "torchvision", 1).total * 2 == measured["flopcounter"]["forward_b1"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_tools_parameter_count_and_torchinfo_sizes(name: str) -> None:
    g, profile = graph(name)
    measured = MODELS[name]["tools"]
    aux = TORCHVISION[name]["params_uncalled_eval"] if name in ref.AUX_ONLY_PARAMS else 0  # twin without aux heads
    assert tool_params(g, "ptflops", profile) == measured["ptflops"]["params"] - aux
    assert tool_params(g, "ptflops-aten", profile) == measured["ptflops_aten"]["params"] - aux
    assert tool_params(g, "thop", profile) == measured["thop"]["params"]  # only what ran and it knows
    assert tool_params(g, "torchinfo", profile) == measured["torchinfo"]["trainable_params"] - aux
    assert tool_params(g, "torchscan", profile) == measured["torchscan"]["totals"]["parameters"]["value"] - aux
    info = measured["torchinfo"]
    sizes = torchinfo_sizes(g, 1, profile)
    assert (sizes["input_bytes"], sizes["forward_backward_pass_bytes"], sizes["params_bytes"]) == \
        (info["total_input"], info["total_output_bytes"], info["total_param_bytes"])
    assert sizes["estimated_total_bytes"] == info["total_bytes"]
    for key, line in info["printed"].items():
        if key in sizes["printed"]:
            assert line == f"{key}: {sizes['printed'][key]}", key
    if name not in ref.AUX_ONLY_PARAMS:
        split = param_split(g)
        assert split["buffers"] == measured["torchscan"]["totals"]["buffer_elements"]["value"]
        assert split["trainable_params"] == info["trainable_params"] and split["non_trainable_params"] == 0


# --- training FLOPs: FlopCounterMode around a real training step ---

TRAIN_STEPS = sorted(n for n, m in TORCHVISION.items() if "flops" in m and ref.twin(n) is not None
                     and n not in ref.AUX_ONLY_PARAMS)


@pytest.mark.parametrize("name", TRAIN_STEPS)
def test_training_flops_equal_flopcountermode_train_step(name: str) -> None:
    g, _ = graph(name)
    measured = TORCHVISION[name]["flops"]
    exact, tool = training(g, 2), training(g, 2, convention="flopcounter")
    by_op = measured["train_step_b2_by_op"]
    assert exact.total_forward == by_op.get("convolution", 0) + by_op.get("addmm", 0) + \
        sum(n.macs * 4 for n in g.nodes if n.type == "linear" and not n.layer.bias)  # bias-free linear: mm
    assert tool.total == measured["train_step_b2"], "FlopCounterMode's own figure"
    if not grouped(g):
        assert exact.total == measured["train_step_b2"]
    else:  # the right figure: FlopCounterMode counts a grouped conv's weight gradient `groups` times
        over = sum(2 * 2 * n.macs * (n.layer.groups - 1) for n in g.nodes[1:]
                   if n.type in ("conv", "conv_transpose"))
        assert exact.total == measured["train_step_b2"] - over > 0


def test_every_ungrouped_twin_is_checked() -> None:
    ungrouped = [n for n in TRAIN_STEPS if not grouped(graph(n)[0])]
    assert len(ungrouped) >= 33 and {"resnet50", "vgg16", "alexnet", "googlenet_no_aux", "inception_v3"} <= set(ungrouped)


def test_depthwise_overcount_as_documented() -> None:
    """mobilenet_v3_small's first depthwise layer (16 channels, 3x3/2): FlopCounterMode's backward
    is 17 x its forward (grad input 1 x + grad weight 16 x), the right figure 2 x."""
    g = cnncost.compile(cnncost.load("mobilenet-v3-small"))
    i = next(i for i, n in enumerate(g.nodes) if n.path == "features.1.block.0.0")
    exact, tool = training(g, 2), training(g, 2, convention="flopcounter")
    forward = exact.forward[i]
    assert forward == 1_806_336
    assert (exact.backward[i], tool.backward[i]) == (2 * forward, 17 * forward) == (3_612_672, 30_707_712)
    assert MODELS["mobilenet_v3_small"]["layers"]["features.1.block.0.0"]["fcm_bwd_b2"] == tool.backward[i]


def test_grouped_weight_gradient_equals_the_ungrouped_decomposition() -> None:
    """The analytic figure for a grouped conv is FlopCounterMode's on the same conv computed as
    `groups` ungrouped convs (split, conv, cat), which it counts right."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    for c, out, groups in ((8, 8, 8), (8, 12, 4)):
        net = cnncost.Net("g", input=(c, 9, 9), layers=[cnncost.Conv(name="stem", out=c, kernel=1),
                                                       cnncost.Conv(name="g", out=out, kernel=3, groups=groups)])
        g = cnncost.compile(net)
        stem = torch.nn.Conv2d(c, c, 1)
        parts = torch.nn.ModuleList(torch.nn.Conv2d(c // groups, out // groups, 3) for _ in range(groups))
        x = torch.randn(2, c, 9, 9)
        counter = FlopCounterMode(display=False)
        with counter:
            y = stem(x)
            z = torch.cat([p(t) for p, t in zip(parts, y.chunk(groups, 1))], 1)
            z.sum().backward()
        assert training(g, 2).total == counter.get_total_flops()
        assert training(g, 2, convention="flopcounter").total > counter.get_total_flops()


def test_freeze_drops_weight_gradients_and_input_gradients_before_trainable_layers() -> None:
    g = cnncost.compile(cnncost.load("resnet18"))
    full, frozen = training(g, 2), training(g, 2, ["conv1", "bn1", "layer1.*"])
    by_path = {n.path: i for i, n in enumerate(g.nodes)}
    conv = by_path["layer1.0.residual.conv1"]
    assert full.backward[conv] == 2 * full.forward[conv]
    assert frozen.backward[conv] == 0  # frozen, and nothing before it is trainable
    later = by_path["layer2.0.residual.conv1"]
    assert frozen.backward[later] == full.forward[later]  # its weight gradient; its input needs none
    assert frozen.backward[by_path["layer2.0.residual.conv2"]] == 2 * full.forward[by_path["layer2.0.residual.conv2"]]
    split = param_split(g, ["conv1", "bn1", "layer1.*"])
    assert split["non_trainable_params"] == 9408 + 128 + 4 * (36864 + 128)
    assert tool_params(g, "ptflops", frozen=["conv1", "bn1", "layer1.*"]) == split["trainable_params"]


# --- random specs against a live FlopCounterMode (torch 2.13 in the dev venv) ---

try:
    import torch  # noqa: F401
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from random_nets import specs  # tests/support
except (ImportError, pytest.skip.Exception):
    specs = None


def _live_step(net, frozen: list[str]):
    import fnmatch
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from cnncost.torch_backend import build
    model = build(net, init=False).train()
    for module in model.modules():  # in place after a layer that saves its output is an autograd error, not a count
        if getattr(module, "inplace", False):
            module.inplace = False
    for path, module in model.named_modules():
        if path and any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(path, p + ".*") for p in frozen):
            for p in module.parameters():
                p.requires_grad_(False)
    torch.manual_seed(0)
    x = torch.randn(2, *net.input)
    counter = FlopCounterMode(display=False)
    with counter:
        outs = [o for o in model.forward_all(x) if o.requires_grad]
        if outs:
            sum(o.float().sum() for o in outs).backward()
    return counter.get_total_flops()


if specs is not None:
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(net=specs(), data=st.data())
    def test_training_flops_equal_a_live_flopcountermode_step(net, data) -> None:
        top = [node.name for node in net.layers if node.name]
        frozen = data.draw(st.lists(st.sampled_from(top), max_size=2, unique=True)) if top else []
        try:
            measured = _live_step(net, frozen)
        except (ValueError, RuntimeError) as error:  # train-mode shape limits (instance norm on 1x1)
            if "Expected more than 1" in str(error):
                return
            raise
        g = cnncost.compile(net)
        assert training(g, 2, frozen, convention="flopcounter").total == measured
        if not grouped(g):
            assert training(g, 2, frozen).total == measured


# --- the tools themselves, where installed (the side venv of tests/fixtures/measure_tools.py) ---

SPECS = ["name: s1\ninput: [3, 16, 16]\nlayers:\n"
         "  - {type: conv, out: 8, kernel: 3, padding: 1}\n  - {type: batchnorm}\n  - {type: relu}\n"
         "  - {type: maxpool, kernel: 2}\n  - {type: conv_transpose, out: 4, kernel: 2, stride: 2, groups: 2}\n"
         "  - {type: gelu}\n  - {type: upsample, scale_factor: 2, mode: bilinear}\n  - {type: group_norm, groups: 2}\n"
         "  - {type: avgpool, kernel: [3, 3], stride: 2}\n  - {type: layer_norm, over: chw}\n"
         "  - {type: adaptive_avgpool, output: 5}\n  - {type: softmax}\n  - {type: flatten}\n"
         "  - {type: dropout, p: 0.5}\n  - {type: linear, out: 7}\n",
         "name: s2\ninput: [4, 13, 11]\nlayers:\n  - {type: lrn, size: 3}\n  - {type: silu}\n"
         "  - {type: conv, out: 6, kernel: 3, padding: same, groups: 2}\n  - {type: instance_norm, affine: true}\n"
         "  - {type: leaky_relu}\n  - {type: adaptive_maxpool, output: 3}\n  - {type: relu6}\n"
         "  - {type: layer_norm}\n  - {type: layer_scale}\n  - {type: hardswish}\n",
         # issue 18's coverage round: bicubic, im2col / col2im, norms without a bias (checked live, side venv)
         "name: s3\ninput: [3, 12, 12]\nlayers:\n"
         "  - {type: conv, out: 4, kernel: 3, padding: 1}\n  - {type: upsample, scale_factor: 2, mode: bicubic}\n"
         "  - {type: unfold, kernel: 3, padding: 1, stride: 2}\n  - {type: relu}\n"
         "  - {type: fold, output_size: [24, 24], kernel: 3, padding: 1, stride: 2}\n"
         "  - {type: layer_norm, over: channels, bias: false}\n  - {type: group_norm, groups: 2, bias: false}\n"
         "  - {type: unary, op: exp}\n  - {type: unary, op: rsqrt}\n"
         "  - {type: reduce, op: var, dims: [1, 2], keepdim: true, correction: 0}\n"
         "  - {type: roll, shifts: [1, -2], dims: [1, 2]}\n"
         "  - {type: unfold_dim, dim: 0, size: 3, step: 1}\n  - {type: relu}\n"]


def test_tools_remeasured_where_installed(tmp_path) -> None:
    import tools_live
    tools_live.require()
    nets = [cnncost.load("alexnet")]
    for i, text in enumerate(SPECS):
        path = tmp_path / f"s{i}.yaml"
        path.write_text(text)
        nets.append(cnncost.load(path))
    for net in nets:  # cnncost's own torch model: the 'cnncost' profile
        tools_live.assert_tools_count_as_their_conventions(net, sizes=True)
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location("mtv", ref.TESTS / "fixtures" / "measure_torchvision.py")
        mtv = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mtv)  # type: ignore[union-attr]
        pytest.importorskip("torchvision")
    except ImportError:
        return
    for name in ("resnet18", "mobilenet_v3_small", "googlenet"):  # the real models, their twins' profiles
        model, shape, _ = mtv.build(name)
        measured = tools_live.measure(model, tuple(shape))
        g, profile = graph(name)
        for tool in ref.MEASURED:
            assert ops(g, tool, 1, profile).total == measured[tool], (name, tool)


# --- the formulas on small cases ---

def _net(*layers, input=(4, 8, 8)):
    return cnncost.compile(cnncost.Net("t", input=input, layers=list(layers)))


def test_per_node_formulas_on_a_small_net() -> None:
    g = _net(cnncost.Conv(name="c", out=6, kernel=3, padding=1), cnncost.BatchNorm(name="bn"),
             cnncost.ReLU(name="r"), cnncost.MaxPool(name="p", kernel=3, stride=2),
             cnncost.GlobalAvgPool(name="g"), cnncost.Flatten(name="f"), cnncost.Linear(name="fc", out=5))
    macs = 6 * 64 * 4 * 9
    y = 6 * 64
    pooled = 6 * 3 * 3
    expect = {
        "fvcore": [macs, 2 * y, 0, 0, pooled, 0, 30],
        "ptflops": [macs + y, 2 * y, 2 * y, 2 * y, 2 * pooled, 0, 35],
        "thop": [macs, 4 * y, 0, 0, 10 * 6, 0, 30],
        "torchinfo": [(6 * 36 + 6) * 64, 12, 0, 0, 0, 0, 35],
        "torchscan": [y * (2 * 36 - 1 + 1), 12 + 4 * y, y, pooled * (3 - 1), 6 * (9 - 1 + 2), 0, 5 * (2 * 6 - 1 + 1)],
        "flopcounter": [2 * macs, 0, 0, 0, 0, 0, 60],
        "ptflops-aten": [macs + y, 0, 0, 0, 0, 0, 35],
    }
    for tool, values in expect.items():
        assert list(ops(g, tool).per_node[1:]) == values, tool
    assert ops(g, "fvcore", 3).total == 3 * ops(g, "fvcore").total


def test_implementation_profiles_change_only_what_the_tool_sees() -> None:
    g = cnncost.compile(cnncost.load("googlenet-tv"))
    kinds = impls(g, cnncost.counting.profile_for(g))
    assert {k.cls for k, n in zip(kinds[1:], g.nodes[1:]) if n.type == "relu"} == {"F.relu"}
    relu = sum(math.prod(n.output_shape) for n in g.nodes if n.type == "relu")
    # F.relu: one count per element; an nn.ReLU module: two (its hook and the patched F.relu)
    assert ops(g, "ptflops", profile="cnncost").total - ops(g, "ptflops").total == relu
    assert ops(g, "fvcore").total == ops(g, "fvcore", profile="cnncost").total  # fvcore sees aten ops
    assert parse("nn.Linear@nhwc").nhwc and parse("timm.BatchNormAct2d").leaf is False
    with pytest.raises(ValueError):
        parse("nn.Conv2d@sideways")


def test_fvcore_string_padding_and_dead_branches() -> None:
    """padding='same' traces as aten::_convolution_mode (no fvcore handle); a branch that feeds only
    a second output is dead code to the tracer."""
    same = _net(cnncost.Conv(out=4, kernel=3, padding="same"))
    assert ops(same, "fvcore", profile="cnncost").total == 0 and ops(same, "flopcounter").total > 0
    text = ("name: two\ninput: [3, 8, 8]\nlayers:\n  - {name: a, type: conv, out: 4, kernel: 3}\n"
            "  - {name: b, type: conv, from: [input], out: 2, kernel: 1}\n")
    g = cnncost.compile(cnncost.parse_spec(text))
    assert ops(g, "fvcore", profile="cnncost").per_node == (0, 0, g.nodes[2].macs)
    assert ops(g, "thop", profile="cnncost").total == g.nodes[1].macs + g.nodes[2].macs


def test_allops_counts_every_elementwise_op() -> None:
    g = _net(cnncost.Conv(name="c", out=6, kernel=3, padding=1), cnncost.BatchNorm(name="bn"),
             cnncost.ReLU(name="r"), cnncost.AdaptiveAvgPool(name="a", output=3), cnncost.Sigmoid(name="s"))
    y = 6 * 64
    per_node = ops(g, "allops").per_node[1:]
    # windows of an adaptive 8 -> 3 pool: [0,3), [2,6), [5,8): 3 + 4 + 3 = 10 per side
    assert list(per_node) == [2 * 6 * 64 * 36 + y, 4 * y, y, 6 * 10 * 10, 3 * 6 * 9]
    for name in ("resnet50", "mobilenet-v3-large", "convnext-tiny", "unet", "inception-v3-tv"):
        zoo = cnncost.compile(cnncost.load(name))
        assert ops(zoo, "allops").total > ops(zoo, "flopcounter").total
    assert TOOLS["allops"] is allops.ALLOPS


def test_unknown_tool_is_a_named_error() -> None:
    with pytest.raises(CnnCostError, match="did you mean 'fvcore'"):
        ops(_net(cnncost.ReLU()), "fvcor")


# --- the report, the JSON and the command line flags ---

def test_table_adds_ops_and_training_columns() -> None:
    report = cnncost.table("resnet18", batch=2, count_as="ptflops", freeze=["conv1"])
    data = report.to_dict()
    assert data["count_as"] == "ptflops" and data["freeze"] == ["conv1"]
    assert data["total"]["ops"] == 2 * MODELS["resnet18"]["tools"]["ptflops"]["macs"]
    assert sum(layer["ops"] for layer in data["layers"]) == data["total"]["ops"]
    assert sum(layer["backward_flops"] for layer in data["layers"]) == data["total"]["backward_flops"]
    assert data["layers"][1]["name"] == "conv1" and data["layers"][1]["backward_flops"] == 0
    assert data["total"]["training_flops"] == data["total"]["flops"] + data["total"]["backward_flops"]
    collapsed = cnncost.table("resnet18", batch=2, count_as="ptflops", depth=0)
    assert collapsed.totals.ops == report.totals.ops
    assert sum(row.ops for row in collapsed.rows) == report.totals.ops
    frame = report.to_dataframe()
    assert all(str(frame[c].dtype) == "int64" for c in ("ops", "backward_flops", "training_flops"))


def test_table_without_count_as_has_no_ops_key() -> None:
    data = cnncost.table("alexnet-tv", batch=2).to_dict()
    assert "count_as" not in data and "ops" not in data["total"] and "ops" not in data["layers"][1]
    assert data["total"]["training_flops"] == MODELS["alexnet"]["tools"]["flopcounter"]["train_step_b2"]


def test_a_freeze_pattern_that_matches_nothing_is_an_error() -> None:
    with pytest.raises(CnnCostError, match="matches no layer; did you mean 'layer1.0.residual.conv"):
        cnncost.table("resnet18", freeze=["layer1.0.residual.conv"])
    assert cnncost.table("resnet18", freeze="layer1").totals.backward_flops < cnncost.table("resnet18").totals.backward_flops


def test_cli_flags() -> None:
    import argparse
    parser = argparse.ArgumentParser()
    add_counting_options(parser)
    args = parser.parse_args(["--count-as", "thop", "--freeze", "layer1.*", "--freeze", "fc"])
    assert counting_kwargs(args) == {"count_as": "thop", "freeze": ("layer1.*", "fc")}
    assert counting_kwargs(parser.parse_args([])) == {"count_as": None, "freeze": ()}
    assert tuple(TOOLS) == TOOL_NAMES
    with pytest.raises(SystemExit):
        parser.parse_args(["--count-as", "nonsense"])
