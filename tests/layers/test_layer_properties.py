"""Invariants that hold for any layer configuration (hypothesis)."""
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncost
from cnncost import Concat, Conv, MaxPool, Net, ReLU, compile as compile_graph
from cnncost.shapes import numel

small = st.integers(min_value=1, max_value=8)


@st.composite
def conv_nets(draw):
    channels = draw(small) * draw(st.sampled_from([1, 2, 4]))
    size = draw(st.integers(min_value=8, max_value=40))
    kernel = draw(st.integers(min_value=1, max_value=5))
    layers = [Conv(name="conv", out=draw(small) * 4, kernel=kernel, stride=draw(st.integers(1, 3)),
                   padding=draw(st.integers(0, kernel // 2)), bias=draw(st.booleans())),
              ReLU(name="relu"), MaxPool(name="pool", kernel=2, ceil_mode=draw(st.booleans()))]
    return Net("random", (channels, size, size), layers)


@settings(max_examples=50, deadline=None)
@given(net=conv_nets(), batch=st.integers(min_value=1, max_value=4096))
def test_params_independent_of_batch_and_counts_linear_in_batch(net, batch):
    one, many = cnncost.table(net, batch=1), cnncost.table(net, batch=batch)
    assert many.totals.params == one.totals.params
    assert many.totals.flops == batch * one.totals.flops
    assert many.totals.macs == batch * one.totals.macs
    assert many.totals.activations == batch * one.totals.activations


@settings(max_examples=50, deadline=None)
@given(c=small, groups=st.sampled_from([1, 2, 3, 4, 8]), out=small, kernel=st.integers(1, 5),
       size=st.integers(5, 30))
def test_grouped_conv_has_one_over_g_params_and_macs(c, groups, out, kernel, size):
    x = (c * groups, size, size)
    dense = compile_graph(Net("d", x, [Conv(out=out * groups, kernel=kernel, bias=False)])).nodes[1]
    grouped = compile_graph(Net("g", x, [Conv(out=out * groups, kernel=kernel, groups=groups, bias=False)])).nodes[1]
    assert dense.params == groups * grouped.params
    assert dense.macs == groups * grouped.macs


@settings(max_examples=50, deadline=None)
@given(widths=st.lists(small, min_size=1, max_size=5), size=st.integers(3, 20))
def test_concat_channels_are_the_sum_of_branches(widths, size):
    net = Net("c", (4, size, size), [Concat(name="cat", branches=[[Conv(out=w, kernel=3, padding=1)] for w in widths])])
    assert compile_graph(net).output_shape == (sum(widths), size, size)


@settings(max_examples=80, deadline=None)
@given(kernel=st.integers(1, 9), dilation=st.integers(1, 3), size=st.integers(1, 40))
def test_same_padding_keeps_size(kernel, dilation, size):
    net = Net("s", (2, size, size + 1), [Conv(out=3, kernel=kernel, dilation=dilation, padding="same")])
    assert compile_graph(net).output_shape == (3, size, size + 1)


@settings(max_examples=30, deadline=None)
@given(net=conv_nets(), batch=st.integers(min_value=1, max_value=512))
def test_rows_add_up_to_totals(net, batch):
    report = cnncost.table(net, batch=batch)
    for column in ("params", "macs", "flops", "activations", "activation_memory_bytes", "param_memory_bytes"):
        assert sum(getattr(row, column) for row in report.rows) == getattr(report.totals, column)


def test_huge_batches_stay_exact():
    # Python ints: no float rounding and no int64 overflow, whatever the batch or resolution.
    net = cnncost.load("vgg16")
    batch = 10**12
    report = cnncost.table(net, batch=batch, input=(3, 4096, 4096))
    per_image = cnncost.table(net, batch=1, input=(3, 4096, 4096)).totals.flops
    assert report.totals.flops == per_image * batch
    assert report.totals.flops > 2**63
    assert numel(report.rows[0].output_shape) * batch == report.rows[0].activations
