"""cnncost.sweep, cnncost.search and `cnncost sweep`: every row of a sweep equals `table` for its
configuration (hypothesis, random nets and grids), exact ints (int64 or Python ints, never float),
the width/depth hooks, the lazy registry index, and the memory model's envelope."""
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnncost
from sweep_cli import run_cli  # tests/support
from cnncost import (AvgPool, BatchNorm, Concat, Conv, Dropout, Flatten, GlobalAvgPool, Linear, MaxPool, Net, ReLU,
                     Residual, SiLU, SqueezeExcite, Upsample, Pad, CenterCrop)
from cnncost.errors import CnnCostError
from cnncost.search import compound_family, compound_grid, largest, largest_batch, largest_input, pareto
from cnncost.sweeps import sweep

COUNTS = ["activations", "params", "macs", "flops", "activation_memory_bytes", "param_memory_bytes", "memory_bytes",
          "backward_flops", "training_flops"]


def shape_of(label):
    return tuple(int(v) for v in label.split("x"))


def assert_rows_equal_table(net, frame, memory="lecture", activations="all", device="cuda"):
    assert len(frame) > 0
    for row in frame.to_dict("records"):
        arch = net
        if "width" in row or "depth" in row:
            arch = cnncost.zoo.registry.arch_info(net).scale(row.get("width", 1.0), row.get("depth", 1.0))
        report = cnncost.table(arch, batch=row["batch"], input=shape_of(str(row["input"])), dtype=str(row["dtype"]),
                               optimizer=str(row["optimizer"]), memory=memory, activations=activations, device=device)
        totals = report.totals
        for column in COUNTS:
            if getattr(totals, column, None) is None:  # a table without cnncost.counting's columns
                continue
            assert row[column] == getattr(totals, column), (column, row)
            assert type(row[column]) is int or isinstance(row[column], np.integer)
        if memory == "autograd":
            assert row["saved_bytes"] == totals.saved_bytes
            assert row["peak_bytes"] == report.step_breakdown()["peak_bytes"]
    for column in COUNTS + (["saved_bytes", "peak_bytes"] if memory == "autograd" else []):
        assert frame[column].dtype in (np.dtype("int64"), np.dtype(object)), column


# --- random nets and grids ---

@st.composite
def nets(draw):
    c = draw(st.sampled_from([1, 3, 4, 8]))
    layers = []
    channels = c
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "pool", "bnrelu", "residual", "concat", "se", "pad", "upsample", "avg"]))
        name = f"l{i}"
        if kind == "conv":
            k = draw(st.integers(1, 5))
            out = draw(st.sampled_from([4, 8, 12]))
            groups = draw(st.sampled_from([1, 2, 4]))
            if channels % groups or out % groups:
                groups = 1
            layers.append(Conv(name=name, out=out, kernel=k, stride=draw(st.integers(1, 3)),
                               padding=draw(st.integers(0, k // 2)), dilation=draw(st.sampled_from([1, 1, 2])),
                               groups=groups, bias=draw(st.booleans())))
            channels = out
        elif kind == "pool":
            k = draw(st.integers(1, 3))
            layers.append(MaxPool(name=name, kernel=k, stride=draw(st.integers(1, 3)), padding=draw(st.integers(0, k // 2)),
                                  ceil_mode=draw(st.booleans())))
        elif kind == "avg":
            layers.append(AvgPool(name=name, kernel=2, ceil_mode=draw(st.booleans()), count_include_pad=False))
        elif kind == "bnrelu":
            layers += [BatchNorm(name=name), ReLU(name=name + "r")]
        elif kind == "residual":
            layers.append(Residual(name=name, layers=(Conv(name="a", out=channels, kernel=3, padding=1, bias=False),
                                                      BatchNorm(name="bn"), ReLU(name="relu", inplace=False))))
        elif kind == "concat":
            layers.append(Concat(name=name, branches=((Conv(name="a", out=4, kernel=1),),
                                                      (Conv(name="b", out=4, kernel=3, padding=1), SiLU(name="s")))))
            channels = 8
        elif kind == "se":
            layers.append(SqueezeExcite(name=name, squeeze=2))
        elif kind == "pad":
            layers.append(Pad(name=name, padding=draw(st.integers(0, 2))))
        elif kind == "upsample":
            layers.append(Upsample(name=name, scale_factor=draw(st.sampled_from([2, 1.5, 0.5]))))
    if draw(st.booleans()):
        layers += [GlobalAvgPool(name="gap"), Flatten(name="flat"), Dropout(name="drop", p=0.2), Linear(name="fc", out=5)]
    elif draw(st.booleans()):
        layers += [Flatten(name="flat"), Linear(name="fc", out=3)]  # params depend on the resolution
    return Net("random", (c, 32, 32), layers)


sizes = st.lists(st.integers(1, 96), min_size=1, max_size=6, unique=True)
batches = st.lists(st.integers(1, 5000), min_size=1, max_size=4, unique=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=nets(), hs=sizes, ws=sizes, batch=batches, dtypes=st.lists(st.sampled_from(["fp32", "bf16", "fp16", "fp64"]),
       min_size=1, max_size=2, unique=True), optimizers=st.lists(st.sampled_from(["sgd", "momentum", "adam"]),
       min_size=1, max_size=2, unique=True), activations=st.sampled_from(["all", "lecture"]))
def test_every_row_equals_table(net, hs, ws, batch, dtypes, optimizers, activations):
    inputs = [(net.input[0], h, w) for h in hs for w in ws]
    frame = sweep(net, batch=batch, input=inputs, dtype=dtypes, optimizer=optimizers, activations=activations,
                  invalid="drop")
    kept = {str(s) for s in frame["input"].unique()} if len(frame) else set()
    for shape in inputs:  # what was dropped is exactly what table refuses
        label = "x".join(map(str, shape))
        if label not in kept:
            with pytest.raises(CnnCostError):
                cnncost.table(net, input=shape)
    if len(frame):
        assert len(frame) == len(kept) * len(batch) * len(dtypes) * len(optimizers)
        assert_rows_equal_table(net, frame, activations=activations)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=nets(), hs=st.lists(st.integers(8, 64), min_size=1, max_size=3, unique=True),
       batch=st.lists(st.integers(1, 300), min_size=1, max_size=3, unique=True),
       dtype=st.sampled_from(["fp32", "bf16"]), optimizer=st.sampled_from(["sgd", "adam"]),
       device=st.sampled_from(["cuda", "cpu"]))
def test_every_row_equals_table_under_autograd(net, hs, batch, dtype, optimizer, device):
    frame = sweep(net, batch=batch, input=hs, dtype=dtype, optimizer=optimizer, memory="autograd", device=device,
                  invalid="drop")
    if len(frame):
        assert_rows_equal_table(net, frame, memory="autograd", device=device)


@pytest.mark.parametrize("name", ["resnet50", "efficientnet-b0", "googlenet", "unet", "inception-v3-aux",
                                  "convnext-tiny", "densenet121", "alexnet", "vgg16"])
def test_zoo_rows_equal_table(name):
    net = cnncost.load(name)
    c, h, w = net.input
    frame = sweep(name, batch=[1, 3], input=[(c, h, w), (c, h + 32, w + 64)], dtype=["fp32", "bf16"],
                  optimizer=["sgd", "adam"], invalid="drop")
    assert_rows_equal_table(name, frame)


def test_zoo_rows_equal_table_under_autograd():
    frame = sweep("resnet50", batch=[1, 8, 256], input=[160, 224], dtype=["fp32", "bf16"], optimizer=["adam", "sgd"],
                  memory="autograd")
    assert_rows_equal_table("resnet50", frame, memory="autograd")


def test_width_and_depth_rows_equal_the_scaled_tables():
    frame = sweep("resnet50", width=[0.5, 1.0, 1.5], depth=[1.0, 2.0], input=[160, 224], batch=[1, 16])
    assert list(frame.columns[:7]) == ["width", "depth", "input", "input_channels", "input_height", "input_width",
                                       "batch"]
    assert len(frame) == 3 * 2 * 2 * 2
    assert_rows_equal_table("resnet50", frame)
    base = frame[(frame.width == 1.0) & (frame.depth == 1.0) & (frame.input == "3x224x224") & (frame.batch == 1)]
    assert int(base.params.iloc[0]) == 25_557_032


@pytest.mark.parametrize("name", [a.name for a in cnncost.list_archs() if a.scale])
def test_scale_hook_at_one_is_the_registered_net(name):
    arch = cnncost.zoo.registry.arch_info(name)
    base, scaled = cnncost.load(name), arch.scale(1.0, 1.0)
    assert scaled.layers == base.layers and scaled.input == base.input


def test_every_family_the_issue_names_has_a_hook():
    cnncost.list_archs()
    for name in ("resnet50", "resnext50-32x4d", "mobilenet-v1", "mobilenet-v2", "efficientnet-b0", "regnet-y-400mf"):
        assert cnncost.zoo.registry.arch_info(name).scale is not None, name
    wider = cnncost.table(cnncost.zoo.registry.arch_info("mobilenet-v2").scale(1.4, 1.0), batch=1).totals.params
    assert wider == cnncost.table("mobilenet-v2-1.4", batch=1).totals.params


def test_width_without_a_hook_is_refused():
    with pytest.raises(CnnCostError, match="no width/depth scaling hook"):
        sweep("alexnet", width=[0.5])
    with pytest.raises(CnnCostError, match="width multiplier only"):
        sweep("mobilenet-v1", depth=[2.0])
    net = Net("n", (3, 8, 8), [Conv(out=4, kernel=3)])
    with pytest.raises(CnnCostError, match="scaling hook"):
        sweep(net, width=[2.0])


# --- exactness ---

def test_columns_are_int64_where_they_fit_else_python_ints():
    frame = sweep("vgg16", batch=[1, 10**9], input=[224, 4096])
    assert frame["params"].dtype == np.int64
    assert frame["flops"].dtype == object  # 4096^2 x 10^9 images: beyond int64
    row = frame[(frame.batch == 10**9) & (frame.input == "3x4096x4096")].iloc[0]
    per_image = cnncost.table("vgg16", batch=1, input=(3, 4096, 4096)).totals
    assert row["flops"] == per_image.flops * 10**9 and type(row["flops"]) is int
    assert not any(frame[c].dtype.kind == "f" for c in COUNTS)


def test_a_column_whose_sum_overflows_is_object():
    per_image = cnncost.table("alexnet", batch=1).totals.macs
    batch = [(2**63 - 1) // per_image // 2 + i for i in range(3)]  # each value fits, the sum does not
    frame = sweep("alexnet", batch=batch, input=[224])
    values = [int(v) for v in frame["macs"]]
    assert max(values) <= 2**63 - 1 < sum(values)
    assert frame["macs"].dtype == object


def test_huge_resolutions_take_the_exact_path():
    net = Net("big", (3, 8, 8), [Conv(name="c", out=512, kernel=3, padding=1), Flatten(name="f"),
                                 Linear(name="fc", out=4096)])
    side = 2**31
    frame = sweep(net, batch=[3], input=[(3, side, side), (3, 16, 16)])
    big = frame.iloc[0]
    assert big["params"] == cnncost.table(net, batch=3, input=(3, side, side)).totals.params
    assert frame["params"].dtype == object and big["params"] > 2**63


def test_invalid_inputs_raise_naming_the_input_or_are_dropped():
    with pytest.raises(CnnCostError, match="at input 3x20x20"):
        sweep("alexnet", input=[224, 20])
    frame = sweep("alexnet", input=[224, 20, 10], invalid="drop")
    assert frame["input"].astype(str).tolist() == ["3x224x224"]


def test_arguments_are_checked():
    for bad in ({"batch": [0]}, {"batch": [1.5]}, {"dtype": ["fp8"]}, {"optimizer": ["lion"]}, {"input": ["3x0x4"]},
                {"memory": "exact"}, {"width": [-1.0]}, {"invalid": "skip"}, {"batch": []}):
        with pytest.raises(CnnCostError):
            sweep("resnet18", **bad)
    with pytest.raises(CnnCostError):
        sweep("resnet18", memory="autograd", dtype="int8")


def test_inputs_in_every_spelling():
    frame = sweep("resnet18", input=[224, "3x160x160", (3, 128, 96), "192"], batch=1)
    assert frame["input"].astype(str).tolist() == ["3x224x224", "3x160x160", "3x128x96", "3x192x192"]
    assert frame.attrs["architecture"] == "resnet18"


def test_sweep_is_callable_as_cnncost_sweep():
    import cnncost
    assert cnncost.sweep is sweep
    assert len(cnncost.sweep("resnet18", batch=[1, 2])) == 2


# --- the memory model's envelope (what the autograd sweep evaluates) ---

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=nets(), batch=st.integers(1, 10**7), optimizer=st.sampled_from(["sgd", "adam"]),
       mode=st.sampled_from(["train", "inference"]))
def test_envelope_gives_the_peak(net, batch, optimizer, mode):
    from cnncost.memory import Precision, Setup, step_memory, trace
    try:
        step = step_memory(trace(net, precision=Precision("fp32")), Setup(optimizer, mode))
    except CnnCostError:
        return
    a, c = step.envelope()
    assert max(p * batch + f for p, f in zip(a, c)) == step.peak(batch).at(batch)
    moments = list(step.moments)
    assert max(m.at(batch) for m in moments) == step.peak(batch).at(batch)
    assert step.peak(batch) == moments[step.peak_index(batch)]


# --- search ---

def test_largest_batch_matches_fit_and_the_budget():
    budget = 80 * 2**30
    assert largest_batch("vgg16", peak_bytes="80GiB", dtype="bf16", optimizer="adamw") == \
        cnncost.fit("vgg16", "80GiB", dtype="bf16", optimizer="adamw").batch
    b = largest_batch("resnet50", memory_bytes=budget)
    assert cnncost.table("resnet50", batch=b).totals.memory_bytes <= budget < \
        cnncost.table("resnet50", batch=b + 1).totals.memory_bytes
    assert largest_batch("resnet50", memory_bytes=10) == 0
    f = largest_batch("resnet50", flops=10**13, input=(3, 256, 256))
    assert cnncost.table("resnet50", batch=f, input=(3, 256, 256)).totals.flops <= 10**13 < \
        cnncost.table("resnet50", batch=f + 1, input=(3, 256, 256)).totals.flops


def test_largest_input_and_largest_rows():
    best = largest_input("resnet50", range(64, 1025, 32), batch=32, flops="2e12")
    assert cnncost.table("resnet50", batch=32, input=best).totals.flops <= 2 * 10**12
    nxt = (3, best[1] + 32, best[2] + 32)
    assert cnncost.table("resnet50", batch=32, input=nxt).totals.flops > 2 * 10**12
    frame = sweep("resnet50", batch=[32, 64, 128, 256], input=[224, 288])
    rows = largest(frame, "batch", memory_bytes="16GiB")
    assert all(r.memory_bytes <= 16 * 2**30 for r in rows.itertuples())
    assert len(rows) == 2
    assert largest(frame, "input", memory_bytes="16GiB")["input"].astype(str).tolist()[-1] == "3x288x288"


def test_pareto_front_is_undominated():
    frame = sweep("mobilenet-v2", width=[0.5, 0.75, 1.0, 1.4], input=[128, 160, 192, 224], batch=1)
    front = pareto(frame, ["params", "macs", "memory_bytes"])
    pts = frame[["params", "macs", "memory_bytes"]].values.tolist()
    kept = front[["params", "macs", "memory_bytes"]].values.tolist()
    for p in kept:
        assert not any(all(q[i] <= p[i] for i in range(3)) and q != p for q in pts)
    for p in pts:
        if p not in kept:
            assert any(all(q[i] <= p[i] for i in range(3)) for q in kept)


def test_compound_scaling_grid_and_family():
    grid = compound_grid("efficientnet-b0", alphas=[1.1, 1.2, 1.3], betas=[1.0, 1.1, 1.2], gammas=[1.1, 1.15, 1.2])
    assert ((grid.alpha * grid.beta**2 * grid.gamma**2 - 2).abs() <= 0.1).all()
    assert (grid.flops_ratio - 2).abs().is_monotonic_increasing
    family = compound_family("efficientnet-b0", 1.2, 1.1, 1.15, phis=range(3))
    assert family["params"].tolist()[:2] == [5_288_548, cnncost.table("efficientnet-b2", batch=1).totals.params]
    assert family["input"].astype(str).tolist() == ["3x224x224", "3x258x258", "3x296x296"]
    assert family["flops"].dtype == np.int64


# --- the registry's lazy index ---

def test_the_index_is_complete_and_current():
    from cnncost.zoo import registry
    from cnncost.zoo._index import INDEX
    registry._ensure_loaded()
    current = {name: registry.MODULES.get(name) for name in registry.ARCHS}
    assert INDEX == current, "run: python -m cnncost.zoo.registry (rewrites cnncost/zoo/_index.py)"


def test_a_lookup_imports_only_its_family():
    import subprocess
    import sys
    code = ("import sys, cnncost; cnncost.load('resnet152'); "
            "print(sorted(m for m in sys.modules if m.startswith('cnncost.zoo.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules = eval(out)
    assert "cnncost.zoo.resnet" in modules
    assert not {"cnncost.zoo.efficientnet", "cnncost.zoo.inception", "cnncost.zoo.families"} & set(modules)
    assert "numpy" not in subprocess.run([sys.executable, "-c", "import sys, cnncost.cli; print(list(sys.modules))"],
                                         capture_output=True, text=True, check=True).stdout


# --- the command ---

def test_cli_csv_is_the_dataframe():
    out = run_cli(["sweep", "resnet50", "--batch", "1,8:10", "--input", "224,3x256x256", "--format", "csv"])
    lines = out.splitlines()
    assert lines[0].split(",")[:4] == ["input", "batch", "dtype", "optimizer"]
    assert len(lines) == 1 + 2 * 4
    frame = sweep("resnet50", batch=[1, 8, 9, 10], input=[224, 256])
    header = lines[0].split(",")
    assert lines[1].split(",")[header.index("memory_bytes")] == str(frame["memory_bytes"].iloc[0])
    # the frame's columns but its numeric input sizes (the `input` text says them)
    assert header == [c for c in frame.columns if c not in ("input_channels", "input_height", "input_width")]


def test_cli_json_and_text():
    data = json.loads(run_cli(["sweep", "specs/alexnet.yaml", "--batch", "2", "--memory", "autograd", "--format",
                               "json"]))
    assert data["architecture"] == "alexnet" and data["memory"] == "autograd"
    row = data["configurations"][0]
    assert row["peak_bytes"] == cnncost.table("alexnet", batch=2, memory="autograd").step_breakdown()["peak_bytes"]
    text = run_cli(["sweep", "resnet18", "--width", "0.5,1", "--depth", "1,2"])
    assert "4 configurations" in text and "resnet18" in text


def test_cli_refuses_bad_lists(capsys):
    for argv in (["sweep", "resnet18", "--batch", "0"], ["sweep", "resnet18", "--batch", "5:1"],
                 ["sweep", "resnet18", "--input", "3x0x1"], ["sweep", "resnet18", "--width", "x"],
                 ["sweep", "resnet18", "--batch", "1:10000000000"]):
        with pytest.raises(SystemExit):
            run_cli(argv)
    assert "cnncost: error" in capsys.readouterr().err


def layer_nets():
    from cnncost import (AdaptiveAvgPool, AdaptiveMaxPool, ChannelShuffle, Chunk, ConvTranspose, GroupNorm,
                         InstanceNorm, LayerNorm, LayerScale, PixelShuffle, PixelUnshuffle, StochasticDepth, Add, Mul,
                         Hardswish, GELU, Softmax, LRN)
    c = Conv(name="c", out=8, kernel=3, padding=1)
    return {
        "conv_transpose": [ConvTranspose(name="t", out=4, kernel=3, stride=2, padding=1, output_padding=1)],
        "pixel_shuffle": [c, PixelShuffle(name="p", factor=2)],
        "pixel_unshuffle": [PixelUnshuffle(name="p", factor=2), Conv(name="c2", out=4, kernel=1)],
        "crop_size": [c, CenterCrop(name="cr", size=6)],
        "crop_like": [c, MaxPool(name="m", kernel=2), CenterCrop(name="cr", inputs=("c", "m")), Flatten(name="f")],
        "layer_norm_chw": [c, LayerNorm(name="ln", over="chw"), Flatten(name="f"), Linear(name="fc", out=2)],
        "norms": [c, LayerNorm(name="ln"), GroupNorm(name="g", groups=2), InstanceNorm(name="i", affine=True), LRN(name="l")],
        "chunk_shuffle": [c, Chunk(name="k", chunks=2, index=1), ChannelShuffle(name="s", groups=2)],
        "adaptive": [c, AdaptiveAvgPool(name="a", output=(3, 2)), AdaptiveMaxPool(name="m", output=1), Flatten(name="f")],
        "reflect_pad": [Pad(name="p", padding=(1, 2, 0, 1), mode="reflect"), c],
        "dag_merges": [c, Conv(name="d", out=8, kernel=1, inputs=("c",)), Add(name="a", inputs=("c", "d")),
                       GlobalAvgPool(name="g"), Mul(name="m", inputs=("a", "g"))],
        "acts": [c, Hardswish(name="h"), GELU(name="ge"), Softmax(name="sm"), LayerScale(name="ls"),
                 StochasticDepth(name="sd", p=0.1)],
        "upsample_size": [c, Upsample(name="u", size=(7, 9), mode="bilinear")],
    }


@pytest.mark.parametrize("kind", list(layer_nets()))
def test_every_layer_type_sweeps_like_table(kind):
    net = Net(kind, (4, 16, 16), layer_nets()[kind])
    inputs = [(4, h, w) for h in (6, 8, 13, 32) for w in (8, 11, 40)]
    frame = sweep(net, batch=[1, 5], input=inputs, dtype=["fp32", "bf16"], invalid="drop")
    assert_rows_equal_table(net, frame)
    frame = sweep(net, batch=[2, 9], input=inputs[:4], memory="autograd", device="cpu", invalid="drop")
    if len(frame):
        assert_rows_equal_table(net, frame, memory="autograd", device="cpu")
