"""A sweep's time columns from the per-pass counts of many resolutions at once
(`cnncost.timing.resolution_counts`): the recorded closed forms replayed at new resolutions give
`node_rows`' exact ints at each one, a perturbed closed form does not, branches that differ fall
back, and the columns equal `table`'s timing and the per-resolution path's floats."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import cnncost
from cnncost.api import load
from cnncost.conventions import memory_dtype
from cnncost.counting.training import frozen_nodes
from cnncost.graph import compile
from cnncost.hardware import load_profile
from cnncost.memory import Precision, trace
from cnncost.memory.tensors import MODELLED_TORCH
from cnncost.shapes import at_least, holds, same_shape, window
from cnncost.timing.passes import pass_row
from cnncost.timing.resolution_counts import Program, record
from cnncost.timing.size_vector import Diverged, SizeVector, Uniform, recording, size_vector
from cnncost.timing.step import step_costs
from cnncost.timing.sweep import pass_arrays
from cnncost.timing.tape import Tape

HARDWARE = "a100-sxm4-80gb"


def _reference(net, shape, dtype, optimizer, freeze=()):
    """One resolution's rows and optimizer pass, as a table computes them."""
    graph = compile(net, shape)
    frozen = frozen_nodes(graph, freeze) if freeze else None
    traced = trace(graph, precision=Precision(memory_dtype(dtype), "cuda", MODELLED_TORCH))
    return step_costs(graph, traced, dtype, optimizer, frozen, foreach=True)


def _at(value, r):
    return int(value.values[r]) if type(value) is SizeVector else value


def _mismatches(program, net, inputs, dtype, optimizer, freeze=()):
    """Where the program's counts at `inputs` differ from `node_rows` at each input: per pass
    (every int of the row: work, bytes, kernels, reduction, GEMM rows, ...), the optimizer pass,
    and the float arrays the lines are made from."""
    counts = program.counts(inputs)
    assert counts is not None, "a guard failed at inputs the net runs the same way at"
    rows, step = counts
    arrays = program.arrays(inputs)
    out = []
    for r, shape in enumerate(inputs):
        ref_rows, ref_step = _reference(net, shape, dtype, optimizer, freeze)
        assert len(rows) == len(ref_rows)
        for i, (node, ref) in enumerate(zip(rows, ref_rows)):
            for p, q in zip(node, ref):
                got = None if p is None else tuple(_at(v, r) for v in p)
                if got != q:
                    out.append((shape, i, got, q))
        if tuple(_at(v, r) for v in pass_row(step)) != pass_row(ref_step):
            out.append((shape, "optimizer"))
        if arrays is not None:  # (its equal passes merged: "of" maps each pass to its distinct one)
            ref_arrays, of = pass_arrays(ref_rows, ref_step), arrays["of"]
            if not np.array_equal(arrays["counts"][r][of], ref_arrays["counts"][0]):
                out.append((shape, "counts"))
            reductions = [v if type(v) is int else int(v[r]) for v in arrays["reduction"]]
            if [reductions[i] for i in of] != ref_arrays["reduction"] or [arrays["keys"][i] for i in of] != ref_arrays["keys"]:
                out.append((shape, "keys"))
            if arrays["times"].tolist() != np.bincount(of).tolist():
                out.append((shape, "times"))
    return out


CASES = [  # (net, recorded inputs, new inputs, dtypes, freeze): odd and non-square sizes
    ("resnet18", [(3, 97, 97), (3, 160, 160), (3, 161, 161)], [(3, 99, 131), (3, 223, 223), (3, 257, 200)],
     ["fp32", "tf32", "bf16", "fp16"], ()),
    # an adaptive pool's window (its input's positions per output: floor divisions), above 1 at these
    # sizes (at 224 it is 1, at 350 2: `ops.vector_ops`' max(1, window) branches; tested in the sweep below)
    ("alexnet-tv", [(3, 400, 400), (3, 450, 450)], [(3, 431, 431), (3, 500, 489)], ["fp32"], ()),
    ("googlenet-tv", [(3, 224, 224), (3, 231, 231)], [(3, 200, 257), (3, 321, 321)], ["bf16"], ()),  # concat, forks
    ("mobilenet-v2", [(3, 160, 160), (3, 193, 193)], [(3, 97, 97), (3, 224, 225)], ["fp16"], ()),  # depthwise
    ("resnet18", [(3, 128, 128), (3, 133, 133)], [(3, 140, 140), (3, 301, 301)], ["fp32"], ("layer1*", "conv1")),
    ("docs/examples/vit-block.yaml", [(17, 64), (50, 64)], [(65, 64), (101, 64), (5, 64)], ["fp32", "bf16"], ()),
]


@pytest.mark.parametrize("arch, recorded, new, dtypes, freeze", CASES)
def test_closed_forms_give_node_rows_at_new_resolutions(arch, recorded, new, dtypes, freeze):
    net = load(arch)
    setups = [(dtype, optimizer) for dtype in dtypes for optimizer in ("adam", "sgd")]
    programs = record(net, recorded, setups, freeze, "cuda", MODELLED_TORCH, True, load_profile(HARDWARE))
    assert programs is not None and set(programs) == set(setups)
    last = max(new)
    larger = [(7 * last[0], last[1])] if len(last) == 2 else [(3, 7 * last[1], 5 * last[2])]  # tokens x width
    for (dtype, optimizer), (program, _) in programs.items():
        assert program.arrays(new) is not None  # the batched replay (int64 throughout)
        assert program.arrays(larger) is None  # past the recorded sizes: no bound holds, replayed op by op
        assert _mismatches(program, net, recorded + new, dtype, optimizer, freeze) == []
        assert _mismatches(program, net, larger, dtype, optimizer, freeze) == []


def test_a_perturbed_closed_form_is_caught():
    """One coefficient of the closed forms changed (a product by 4, fp32's element bytes, made 5):
    the comparison with node_rows finds it."""
    net = load("resnet18")
    inputs = [(3, 97, 97), (3, 160, 160)]
    program, _ = record(net, inputs, [("fp32", "adam")], (), "cuda", MODELLED_TORCH, True, load_profile(HARDWARE))[("fp32", "adam")]
    tape = copy.copy(program.tape)
    tape.ops = list(tape.ops)
    needed = set(program.needed)
    index = next(i for i, (ufunc, a, b, _) in enumerate(tape.ops) if i in needed and ufunc is np.multiply and b == 4)
    ufunc, a, _, rule = tape.ops[index]
    tape.ops[index] = (ufunc, a, 5, rule)
    wrong = Program(tape, program.dims, program.input_bounds, program.needed, program.guards, program.rows,
                    program.optimizer)
    assert _mismatches(wrong, net, [(3, 131, 131)], "fp32", "adam")
    assert _mismatches(program, net, [(3, 131, 131)], "fp32", "adam") == []


def test_a_guard_that_fails_at_new_sizes_gives_no_replay():
    tape = Tape(1)
    with recording(tape):
        h = size_vector([11, 20], 0)
        small = 1 if h > 10 else 0  # a branch: the same way at both
        y = h * 3 + small
    assert type(y) is SizeVector and y.values.tolist() == [34, 61]
    program_slots = tape.needed([y.slot] + [g[0] for g in tape.guards])
    assert tape.replay([np.array([12, 40])], program_slots, tape.guards)[y.slot][0].tolist() == [37, 121]
    assert tape.replay([np.array([5, 40])], program_slots, tape.guards) is None  # h > 10 fails at 5


def test_size_vectors_compute_each_resolutions_ints():
    h = size_vector([7, 224, 2**40])
    assert size_vector([5, 5]) == 5 and type(size_vector([5, 5])) is int
    for got, want in ((h * h * 3, [147, 150528, 3 * 2**80]), (h // 3 - 7, [-5, 67, 2**40 // 3 - 7]),
                      ((-h) // 4, [-2, -56, -(2**38)]), (h % 5, [2, 4, 2**40 % 5]), (100 - h, [93, -124, 100 - 2**40])):
        assert got.values.tolist() == want  # exact: the product past 2^62 in Python ints
    assert (h > 1) == Uniform(True) and (h > 1).all() and holds(h > 1) and at_least(7, h) and not at_least(2**41, h)
    assert (h > 8).values.tolist() == [False, True, True]
    for branch in (lambda: bool(h > 8), lambda: at_least(8, h), lambda: (h > 8).all(), lambda: range(h)):
        with pytest.raises(Diverged):  # each resolution alone would go its own way
            branch()
    assert range(size_vector([3, 3, 2]) // 2).stop == 1  # one int where the same at every resolution
    w = size_vector([7, 224, 224])
    assert window(w, 3, 2, 1, 1).values.tolist() == [window(v, 3, 2, 1, 1) for v in (7, 224, 224)]
    assert window(w, 3, 2, 0, 0, ceil_mode=True).values.tolist() == [window(v, 3, 2, 0, 0, ceil_mode=True)
                                                                      for v in (7, 224, 224)]
    assert same_shape((3, w), (3, w + 0)) and not same_shape((3, w), (3, w + 1))
    with pytest.raises(Diverged):
        same_shape((3, w), (3, h))  # equal at two resolutions of three


def _columns(arch, **kwargs):
    return cnncost.sweep(arch, hardware=HARDWARE, optimizer=["adam", "sgd"], **kwargs)


def _per_resolution(monkeypatch, arch, **kwargs):
    """The same sweep with each resolution compiled, traced and costed alone (the path before)."""
    import cnncost.sweep_time
    net = load(arch)
    with monkeypatch.context() as patch:
        patch.setattr(cnncost.sweep_time, "_vectorised", lambda *args: {})
        patch.setitem(net.memo, "time lines", {})
        return _columns(arch, **kwargs)


@pytest.mark.parametrize("arch, kwargs", [
    ("resnet18", {"batch": [1, 3, 64, 1000], "input": [96, 97, 150, 225], "dtype": ["fp32", "bf16"]}),
    ("resnet18", {"batch": [2, 50], "input": [32, 33, 64, 65], "dtype": ["tf32"]}),  # 1x1 maps at some: branches differ
    ("resnet18", {"batch": [1, 256], "input": [8, 100, 101], "invalid": "drop", "dtype": ["fp16"]}),  # 8: dropped
    ("resnet18", {"batch": [1, 32], "input": [112, 113], "freeze": ["layer1*"], "memory": "autograd",
                  "accumulate": 2, "checkpoint": ["layer2*"]}),
    ("alexnet-tv", {"batch": [1, 64], "input": [224, 250, 400, 450], "dtype": ["fp32"]}),  # a window of 1 at some
])
def test_sweep_time_columns_equal_the_per_resolution_path_and_table(monkeypatch, arch, kwargs):
    net = load(arch)
    net.memo.pop("time lines", None)
    net.memo.pop("time programs", None)
    _columns(arch, **{**kwargs, "input": [s + 200 for s in kwargs["input"] if s > 8]})  # records the forms
    fast = _columns(arch, **kwargs)  # new resolutions: replayed (or recorded where a branch differs)
    slow = _per_resolution(monkeypatch, arch, **kwargs)
    seconds = [c for c in fast.columns if c.endswith(("_seconds", "_per_second"))]
    assert fast.drop(columns=[*seconds, "limited_by"]).equals(slow.drop(columns=[*seconds, "limited_by"]))
    for column in seconds:  # (the replay merges a repeated block's equal passes: sums in another order)
        assert fast[column].to_numpy() == pytest.approx(slow[column].to_numpy(), rel=1e-13, abs=0), column
    assert fast["limited_by"].astype(str).tolist() == slow["limited_by"].astype(str).tolist()
    job = {k: kwargs[k] for k in ("freeze", "memory", "accumulate", "checkpoint") if k in kwargs}  # the same step
    for row in fast.iloc[::3].itertuples():
        timing = cnncost.table(arch, batch=row.batch, input=str(row.input), dtype=row.dtype, **job,
                               optimizer=row.optimizer, hardware=HARDWARE).timing
        assert row.step_seconds == pytest.approx(timing.expected.step_seconds, rel=1e-12)
        assert row.bound_step_seconds == pytest.approx(timing.bound.step_seconds, rel=1e-12)
        assert row.limited_by == timing.expected.bound


def test_a_sweep_over_new_resolutions_replays_the_kept_closed_forms(monkeypatch):
    """The second sweep compiles nothing for its time columns: the net's closed forms hold there."""
    import cnncost.timing.resolution_counts as counts
    net = load("resnet18")
    net.memo.pop("time programs", None)
    _columns("resnet18", batch=[1, 8], input=[160, 170, 180])
    assert {key[1] for key in net.memo["time programs"]} == {("fp32", "adam"), ("fp32", "sgd")}
    with monkeypatch.context() as patch:
        patch.setattr(counts, "record", lambda *args: pytest.fail("recorded again"))
        _columns("resnet18", batch=[1, 8], input=[163, 175, 190, 333])


def test_replayed_reduction_lengths_pick_a_calibrated_profiles_rates():
    """A calibrated CPU profile rates a conv by its reduction length (its input gradient's differs
    between odd and even sizes): a sweep over new resolutions from the kept closed forms gives
    `table`'s timing at each."""
    import dataclasses
    measured = {"conv.fp32.m128": 10**10, "conv.fp32.k144": 2 * 10**10, "conv.fp32.k2304": 4 * 10**10,
                "conv_net.fp32": 3 * 10**10, "conv_grad.fp32": 2 * 10**10, "conv_call_ns": 20_000,
                "page_fault": 4 * 10**9}  # (as tests/timing/test_time_use.py's calibrated profile)
    cpu = dataclasses.replace(load_profile(HARDWARE), kind="cpu", measured=measured)
    load("resnet18").memo.pop("time programs", None)
    cnncost.sweep("resnet18", batch=[1, 8], input=[64, 80, 96], hardware=cpu)  # records
    df = cnncost.sweep("resnet18", batch=[1, 5, 300], input=[65, 82, 97, 111], hardware=cpu)  # replays
    for row in df.itertuples():
        timing = cnncost.table("resnet18", batch=row.batch, input=str(row.input), hardware=cpu).timing
        assert row.step_seconds == pytest.approx(timing.expected.step_seconds, rel=1e-12)
        assert row.bound_step_seconds == pytest.approx(timing.bound.step_seconds, rel=1e-12)
