"""Maps with 1, 2 or 3 spatial dims (C x L, C x H x W, C x D x H x W): every spatial layer's output
shape, parameters and MACs against PyTorch's own modules (Conv1d/3d, MaxPool1d/3d, ...), the
window fields as one int or one per spatial dim, and the errors for fields and shapes that do not
fit. The differential test (tests/differential/test_nd.py) checks random nets, saved bytes
included; the peer tools' conventions are re-measured here where the tools are installed."""
from __future__ import annotations

import pytest

import cnncost
from cnncost.errors import ShapeError, SpecError
from cnncost.graph import compile
from cnncost.layers import (LRN, AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, BatchNorm, CenterCrop, ChannelShuffle,
                            Conv, ConvTranspose, GlobalAvgPool, GroupNorm, InstanceNorm, LayerScale, MaxPool, Pad,
                            PixelShuffle, StochasticDepth, Upsample)
from cnncost.net import Net


def node(layer, x):
    return compile(Net("t", input=x, layers=[layer])).nodes[1]


# (layer, input, the torch module that computes it): shapes, params and MACs must agree
def torch_cases():
    from torch import nn
    return [
        (Conv(out=6, kernel=3, stride=2, padding=1), (4, 17), nn.Conv1d(4, 6, 3, 2, 1)),
        (Conv(out=6, kernel=(1, 3, 5), stride=(1, 2, 2), dilation=(1, 1, 2), groups=2, bias=False), (4, 5, 9, 16),
         nn.Conv3d(4, 6, (1, 3, 5), (1, 2, 2), dilation=(1, 1, 2), groups=2, bias=False)),
        (Conv(out=4, kernel=4, padding="same"), (2, 5, 6, 7), nn.Conv3d(2, 4, 4, padding="same")),
        (ConvTranspose(out=3, kernel=4, stride=2, padding=1), (5, 9), nn.ConvTranspose1d(5, 3, 4, 2, 1)),
        (ConvTranspose(out=4, kernel=2, stride=2, output_padding=(0, 1, 0)), (6, 3, 4, 5),
         nn.ConvTranspose3d(6, 4, 2, 2, output_padding=(0, 1, 0))),
        (MaxPool(kernel=3, stride=2, padding=1, ceil_mode=True), (3, 10), nn.MaxPool1d(3, 2, 1, ceil_mode=True)),
        (MaxPool(kernel=(1, 2, 2)), (3, 4, 7, 8), nn.MaxPool3d((1, 2, 2))),
        (AvgPool(kernel=2, stride=1), (3, 4, 5, 6), nn.AvgPool3d(2, 1)),
        (AdaptiveAvgPool(output=5), (3, 17), nn.AdaptiveAvgPool1d(5)),
        (AdaptiveMaxPool(output=(2, 3, 1)), (3, 5, 7, 9), nn.AdaptiveMaxPool3d((2, 3, 1))),
        (GlobalAvgPool(), (8, 3, 5, 7), nn.AdaptiveAvgPool3d(1)),
        (BatchNorm(), (6, 3, 4, 5), nn.BatchNorm3d(6)),
        (BatchNorm(affine=False), (6, 9), nn.BatchNorm1d(6, affine=False)),
        (InstanceNorm(affine=True), (6, 3, 4, 5), nn.InstanceNorm3d(6, affine=True)),
        (GroupNorm(groups=3), (6, 11), nn.GroupNorm(3, 6)),
        (LRN(size=3), (6, 11), nn.LocalResponseNorm(3)),
        (Upsample(scale_factor=1.5, mode="linear"), (3, 7), nn.Upsample(scale_factor=1.5, mode="linear")),
        (Upsample(size=(4, 6, 8), mode="trilinear"), (3, 2, 3, 4), nn.Upsample(size=(4, 6, 8), mode="trilinear")),
        (Pad(padding=(1, 2, 3)), (2, 4, 5, 6), nn.ZeroPad3d((3, 3, 2, 2, 1, 1))),
        (Pad(padding=(1, 2), mode="reflect"), (2, 5), nn.ReflectionPad1d((1, 2))),
        (Pad(padding=2, mode="replicate"), (2, 3, 4, 5), nn.ReplicationPad3d(2)),
        (LayerScale(), (6, 3, 4, 5), None),
    ]


def _torch_macs(module, x, y) -> int:
    from torch import nn
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return x.numel() * module.weight[0].numel()  # every input element meets (out/groups) x prod(kernel)
    if isinstance(module, nn.modules.conv._ConvNd):
        return y.numel() * module.weight[0].numel()
    return 0


def test_shapes_params_and_macs_match_torch_modules():
    torch = pytest.importorskip("torch")
    for layer, x, module in torch_cases():
        n = node(layer, x)
        if module is None:
            from cnncost.torch_backend.layer_modules import module_for
            module = module_for(layer, x)
        inp = torch.randn(1, *x)
        out = module(inp)
        assert n.output_shape == tuple(out.shape[1:]), (layer, x)
        assert n.params == sum(p.numel() for p in module.parameters()), (layer, x)
        assert n.macs == _torch_macs(module, inp, out), (layer, x)


def test_the_torch_backend_builds_the_rank_s_module():
    pytest.importorskip("torch")
    from torch import nn
    from cnncost.torch_backend.layer_modules import module_for
    assert type(module_for(Conv(out=2, kernel=3), (4, 9))) is nn.Conv1d
    assert type(module_for(Conv(out=2, kernel=3), (4, 5, 6, 7))) is nn.Conv3d
    assert type(module_for(MaxPool(kernel=2), (4, 5, 6, 7))) is nn.MaxPool3d
    assert type(module_for(BatchNorm(), (4, 9))) is nn.BatchNorm1d
    assert type(module_for(BatchNorm(), (4,))) is nn.BatchNorm1d
    assert type(module_for(InstanceNorm(), (4, 9))) is nn.InstanceNorm1d
    assert type(module_for(GlobalAvgPool(), (4, 9))) is nn.AdaptiveAvgPool1d
    assert type(module_for(Pad(padding=1, mode="reflect"), (4, 5, 6, 7))) is nn.ReflectionPad3d
    # padding that no nn.*Pad*d expresses: the channels (ResNet's option-A shortcut), or one dim of three
    shortcut = module_for(Pad(padding=(0, 0, 0, 0, 4, 4)), (16, 8, 8))
    assert type(shortcut).__name__ == "Pad" and shortcut.pad == (0, 0, 0, 0, 4, 4)


def test_formulas_by_hand():
    # conv: params out x in/groups x prod(kernel) + out; MACs |y| x in/groups x prod(kernel)
    n = node(Conv(out=8, kernel=(3, 3, 3), padding=1), (4, 6, 10, 10))
    assert n.output_shape == (8, 6, 10, 10)
    assert n.params == 8 * 4 * 27 + 8 and n.macs == 8 * 6 * 10 * 10 * 4 * 27
    # transposed: MACs on the input's positions
    n = node(ConvTranspose(out=2, kernel=2, stride=2), (8, 3, 4, 5))
    assert n.output_shape == (2, 6, 8, 10) and n.macs == 8 * 3 * 4 * 5 * 2 * 8 and n.params == 8 * 2 * 8 + 2
    n = node(Conv(out=2, kernel=5, stride=3), (3, 20))
    assert n.output_shape == (2, 6) and n.macs == 2 * 6 * 3 * 5
    # ResNet's option-A shortcut: stride-2 subsampling is a pool elsewhere; here the channel padding
    assert node(Pad(padding=(0, 0, 0, 0, 8, 8)), (16, 16, 16)).output_shape == (32, 16, 16)
    assert node(Pad(padding=(1, 2)), (3, 10)).output_shape == (3, 13)  # C x L: F.pad's [left, right]
    assert node(Pad(padding=(1, 2)), (3, 10, 10)).output_shape == (3, 12, 14)  # C x H x W: [h, w], both sides
    assert node(Pad(padding=(1, 2)), (3, 4, 5, 6)).output_shape == (3, 4, 5, 9)  # 3-D: the last dim only
    assert node(CenterCrop(size=(2, 3, 4)), (5, 4, 6, 8)).output_shape == (5, 2, 3, 4)
    assert node(LayerScale(dim=-1), (10, 32)).params == 32
    assert node(LayerScale(), (10, 32)).params == 10
    assert node(StochasticDepth(p=0.1), (3, 4, 5, 6)).output_shape == (3, 4, 5, 6)
    assert node(ChannelShuffle(groups=2), (4, 3, 4, 5)).output_shape == (4, 3, 4, 5)


def test_two_dimensional_formulas_and_descriptions_unchanged():
    n = node(Conv(out=64, kernel=7, stride=2, padding=3, bias=False), (3, 224, 224))
    assert (n.output_shape, n.params, n.macs, n.attrs) == ((64, 112, 112), 9408, 118013952, "7x7/2 p3")


def test_descriptions_show_the_rank():
    assert node(Conv(out=2, kernel=3, padding=1), (2, 4, 4, 4)).attrs == "3x3x3/1 p1"
    assert node(Conv(out=2, kernel=3, stride=2), (2, 9)).attrs == "3/2"
    assert node(MaxPool(kernel=(1, 2, 2)), (2, 4, 4, 4)).attrs == "1x2x2/1x2x2"
    assert node(AdaptiveAvgPool(output=2), (2, 4, 4, 4)).attrs == "-> 2x2x2"
    assert node(Upsample(scale_factor=2, mode="trilinear"), (2, 4, 4, 4)).attrs == "x2 trilinear"
    assert node(Pad(padding=(0, 0, 0, 0, 8, 8)), (16, 4, 4)).attrs == "zeros [0, 0, 0, 0, 8, 8]"
    assert node(Pad(padding=(1, 2, 3, 4)), (16, 4, 4)).attrs == "zeros l1 r2 t3 b4"


def test_sweeps_stay_branch_free_in_the_spatial_sizes():
    np = pytest.importorskip("numpy")
    sizes = np.array([16, 24, 32], dtype="int64")
    layer = Conv(out=4, kernel=3, stride=2, padding=1)
    y = layer.out_shape((2, 8, sizes, sizes))
    assert y[0] == 4 and y[1] == 4 and list(y[2]) == [8, 12, 16] and list(y[3]) == [8, 12, 16]
    assert list(layer.macs((2, 8, sizes, sizes), y)) == [4 * 4 * 8 * 8 * 2 * 27, 4 * 4 * 12 * 12 * 54,
                                                         4 * 4 * 16 * 16 * 54]
    assert list(MaxPool(kernel=2).out_shape((2, 8, sizes, sizes))[3]) == [8, 12, 16]
    assert list(Pad(padding=1).out_shape((2, 8, sizes, sizes))[2]) == [18, 26, 34]
    assert list(Upsample(scale_factor=2).out_shape((2, 8, sizes, sizes))[3]) == [32, 48, 64]


ERRORS = [
    (Conv(name="c", out=4, kernel=(3, 3)), (2, 5, 5, 5), ShapeError,
     r"layer 'c' \(conv\): kernel \[3, 3\] has 2 values; a map with 3 spatial dims takes one value or 3 \(one per dim\)"),
    (MaxPool(name="p", kernel=(2, 2, 2)), (2, 9), ShapeError, r"layer 'p' \(maxpool\): kernel \[2, 2, 2\] has 3 values; "
                                                          r"a map with 1 spatial dim takes one value or 1"),
    (AdaptiveAvgPool(name="a", output=(2, 2)), (2, 4, 4, 4), ShapeError, r"layer 'a' \(adaptive_avgpool\): output"),
    (Conv(name="c", out=4, kernel=3), (2, 5, 5, 5, 5), ShapeError,
     r"layer 'c' \(conv\): needs a map with 1, 2 or 3 spatial dims .*; got a 5-D shape"),
    (GlobalAvgPool(name="g"), (10,), ShapeError, r"layer 'g' \(global_avgpool\): .*got a flat vector"),
    (Upsample(name="u", scale_factor=2, mode="bilinear"), (2, 4, 4, 4), ShapeError,
     r"layer 'u' \(upsample\): mode 'bilinear' needs a map with 2 spatial dim\(s\); a map with 3 takes 'trilinear'"),
    (Pad(name="p", padding=(1, 1), mode="reflect"), (2, 4, 4, 4), ShapeError,
     r"layer 'p' \(pad\): reflect padding pads the last 1, 2 or 3 dims .*this pads 1 of 4"),
    (Pad(name="p", padding=3, mode="reflect"), (2, 3), ShapeError, r"reflect padding 3 must be smaller than the 3 it mirrors"),
    (Pad(name="p", padding=(1, 1, 1)), (2, 4, 4), ShapeError, r"layer 'p' \(pad\): padding \[1, 1, 1\] fits neither form"),
    (Pad(name="p", padding=1), (10,), ShapeError, r"a vector has none: give \[before, after\]"),
    (LayerScale(name="s", dim=2), (4, 5), ShapeError, r"layer 's' \(layer_scale\): dim 2 is out of range for a shape of rank 2"),
    (CenterCrop(name="c", size=(2, 2)), (3, 4, 4, 4), ShapeError, r"layer 'c' \(crop\): size \[2, 2\] has 2 values"),
    (PixelShuffle(name="s", factor=2), (8, 4, 4, 4), ShapeError, r"layer 's' \(pixel_shuffle\): needs a CxHxW"),
    # PyTorch 2.13: F.avg_pool3d(torch.randn(1, 1, 2, 2, 2), 3, padding=1) raises "input image (T: 2 H: 2 W: 2)
    # smaller than kernel size"; max_pool3d and the 1-D and 2-D average pools run
    (AvgPool(name="a", kernel=3, padding=1), (1, 2, 2, 2), ShapeError,
     r"layer 'a' \(avgpool\): a 3-D average pool needs every spatial size at least its kernel 3x3x3"),
]


@pytest.mark.parametrize("layer,x,error,message", ERRORS, ids=[f"{e[0].type_name}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_name_the_layer(layer, x, error, message):
    with pytest.raises(error, match=message):
        compile(Net("t", input=x, layers=[layer]))


def test_field_lengths_that_disagree_fail_at_construction():
    with pytest.raises(SpecError, match=r"\(conv\): fields kernel \(3 values\), stride \(2 values\) must have one value"):
        Conv(out=2, kernel=(3, 3, 3), stride=(1, 2))
    with pytest.raises(SpecError, match=r"window fields take one value or one per spatial dim \(1, 2 or 3\)"):
        MaxPool(kernel=(2, 2, 2, 2))


def test_yaml_spec_of_a_3d_map(tmp_path):
    spec = tmp_path / "c3d.yaml"
    spec.write_text("name: c3d\ninput: [3, 8, 32, 32]\nlayers:\n"
                    "  - {type: conv, out: 16, kernel: [3, 3, 3], padding: 1}\n"
                    "  - {type: maxpool, kernel: [1, 2, 2]}\n  - {type: global_avgpool}\n")
    report = cnncost.table(str(spec), batch=1)
    assert [r.output_shape for r in report.rows] == [(3, 8, 32, 32), (16, 8, 32, 32), (16, 8, 16, 16), (16, 1, 1, 1)]
    assert report.rows[1].params == 16 * 3 * 27 + 16


def test_peer_tools_count_1d_and_3d_layers_as_measured():
    """Every tool's convention against the live tools (the side venv: torch 2.14.1, fvcore 0.1.5,
    ptflops 0.7.5, thop 0.1.1, torchinfo 1.8.0, torchscan 0.2.0); skipped where they are absent."""
    import tools_live
    tools_live.require()
    nets = [
        Net("one", input=(4, 33), layers=[
            Conv(out=6, kernel=3, padding=1), BatchNorm(), MaxPool(kernel=3, stride=2), AvgPool(kernel=2),
            InstanceNorm(affine=True), ConvTranspose(out=4, kernel=3, stride=2), AdaptiveAvgPool(output=5),
            Upsample(scale_factor=2, mode="linear"), Upsample(size=13), Pad(padding=(1, 2)),
            Pad(padding=1, mode="reflect"), Pad(padding=2, mode="replicate"), AdaptiveMaxPool(output=3), LRN(size=3),
            GroupNorm(groups=2), Conv(out=4, kernel=2, padding="same"), GlobalAvgPool()]),
        Net("three", input=(3, 6, 10, 12), layers=[
            Conv(out=6, kernel=3, padding=1), BatchNorm(), MaxPool(kernel=(1, 2, 2)), AvgPool(kernel=2, stride=1),
            InstanceNorm(), ConvTranspose(out=4, kernel=2, stride=2, bias=False), AdaptiveAvgPool(output=(3, 4, 5)),
            Upsample(scale_factor=2), Upsample(size=(7, 8, 9), mode="trilinear"), Pad(padding=(1, 0, 2)),
            Pad(padding=1, mode="reflect"), Pad(padding=(0, 0, 0, 0, 2, 2)), AdaptiveMaxPool(output=2),
            Upsample(scale_factor=(1.0, 2.0, 1.5)), MaxPool(kernel=3, stride=2, padding=1), GlobalAvgPool()]),
    ]
    for net in nets:
        tools_live.assert_tools_count_as_their_conventions(net)
