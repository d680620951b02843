"""Inception v3, Inception-v4, Inception-ResNet-v2 and the torchvision twins of AlexNet and GoogLeNet,
exact against the reference implementations.

Regression data, measured with torch 2.14.1, torchvision 0.29.1 and timm 1.0.31, no weights loaded:
params = sum(p.numel() for p in model.parameters()); MACs per image = the sum, over every nn.Conv2d
and nn.Linear that ran, of |output| / N x (in / groups) x kh x kw, resp. in x out, from forward hooks
on one batch at the resolution in the table. torchvision runs its auxiliary classifiers only in
training mode, so the with-aux figures come from a forward pass in train mode.
"""
import pytest

import cnncost
from cnncost import compile as compile_graph
from cnncost.zoo.registry import arch_info
from cnncost.zoo._inception_blocks import block35, inception_v3_c, reduction_a
from cnncost.zoo.inception import inception_resnet_v2, inception_v3

REFERENCE = [
    # torchvision inception_v3(weights=None, aux_logits=False, init_weights=False), eval, 299x299
    pytest.param("inception-v3", 23_834_568, 5_713_216_096, id="inception-v3"),
    # torchvision inception_v3(weights=None, aux_logits=True, init_weights=False), train, 299x299
    pytest.param("inception-v3-aux", 27_161_264, 5_718_899_296, id="inception-v3-aux"),
    # timm create_model("inception_v4", pretrained=False), 299x299
    pytest.param("inception-v4", 42_679_816, 12_253_974_624, id="inception-v4"),
    # timm create_model("inception_resnet_v2", pretrained=False), 299x299
    pytest.param("inception-resnet-v2", 55_843_464, 13_155_794_016, id="inception-resnet-v2"),
    # torchvision alexnet(weights=None), 224x224
    pytest.param("alexnet-tv", 61_100_840, 714_188_480, id="alexnet-tv"),
    # torchvision googlenet(weights=None, aux_logits=False, init_weights=False), eval, 224x224
    pytest.param("googlenet-tv", 6_624_904, 1_498_376_192, id="googlenet-tv"),
]


@pytest.mark.parametrize("name, params, macs", REFERENCE)
def test_params_and_macs_equal_the_reference(name, params, macs):
    totals = cnncost.table(name, batch=1).totals
    assert (totals.params, totals.macs) == (params, macs)


@pytest.mark.parametrize("name, params, macs", [p for p in REFERENCE if p.id.startswith("inception")])
def test_registry_reference_params_match(name, params, macs):
    assert arch_info(name).reference["params"] == params


def block_shapes(name):
    analysis = compile_graph(cnncost.load(name))
    return {block.path: block.output_shape for block in analysis.blocks}


SHAPES = [
    pytest.param("inception-v3", "Mixed_5d", (288, 35, 35), id="v3-Mixed_5d"),
    pytest.param("inception-v3", "Mixed_6a", (768, 17, 17), id="v3-Mixed_6a"),
    pytest.param("inception-v3", "Mixed_6e", (768, 17, 17), id="v3-Mixed_6e"),
    pytest.param("inception-v3", "Mixed_7c", (2048, 8, 8), id="v3-Mixed_7c"),
    pytest.param("inception-v3-aux", "AuxLogits", (768, 17, 17), id="v3-aux-passes-x-on"),
    pytest.param("inception-v4", "features.5", (384, 35, 35), id="v4-stem"),
    pytest.param("inception-v4", "features.10", (1024, 17, 17), id="v4-reduction-a"),
    pytest.param("inception-v4", "features.18", (1536, 8, 8), id="v4-reduction-b"),
    pytest.param("inception-v4", "features.21", (1536, 8, 8), id="v4-last-c"),
    pytest.param("inception-resnet-v2", "mixed_5b", (320, 35, 35), id="irv2-5b"),
    pytest.param("inception-resnet-v2", "repeat.9", (320, 35, 35), id="irv2-block35"),
    pytest.param("inception-resnet-v2", "mixed_6a", (1088, 17, 17), id="irv2-6a"),
    pytest.param("inception-resnet-v2", "mixed_7a", (2080, 8, 8), id="irv2-7a"),
    pytest.param("inception-resnet-v2", "block8", (2080, 8, 8), id="irv2-block8"),
    pytest.param("googlenet-tv", "inception4e", (832, 14, 14), id="googlenet-tv-4e"),
    pytest.param("googlenet-tv", "inception5b", (1024, 7, 7), id="googlenet-tv-5b"),
]


@pytest.mark.parametrize("name, path, shape", SHAPES)
def test_block_output_shapes(name, path, shape):
    assert block_shapes(name)[path] == shape


def test_aux_classifier_adds_its_own_costs_only():
    # torchvision InceptionAux: conv0 1x1 768->128 (+bn), conv1 5x5 128->768 (+bn), fc 768->1000
    aux_params = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000
    aux_macs = (128 * 5 * 5) * 768 + (768 * 1 * 1) * 128 * 5 * 5 + 768 * 1000   # |output| x weights per output
    with_aux = cnncost.table("inception-v3-aux", batch=1)
    without = cnncost.table("inception-v3", batch=1)
    assert with_aux.totals.params - without.totals.params == aux_params
    assert with_aux.totals.macs - without.totals.macs == aux_macs
    assert with_aux.rows[-1].output_shape == without.rows[-1].output_shape == (1000,)


def test_reduction_a_is_one_definition_with_the_papers_k_l_m_n():
    # Table 1 of the Inception-v4 paper: the output has n + m + input channels
    net = cnncost.Net("r", input=(384, 35, 35), layers=[reduction_a("r", k=192, l=224, m=256, n=384)])
    assert compile_graph(net).output_shape == (384 + 256 + 384, 17, 17)


def test_residual_scale_changes_values_not_counts():
    net = inception_resnet_v2(scales=(1.0, 1.0, 1.0))
    assert cnncost.table(net, batch=1).totals == cnncost.table("inception-resnet-v2", batch=1).totals
    x = (320, 35, 35)
    one = cnncost.Net("a", input=x, layers=[block35(0.17)])
    assert compile_graph(one).output_shape == x


def test_v3_c_module_width_is_a_parameter():
    wide = cnncost.Net("c", input=(768, 17, 17), layers=[inception_v3_c("c", c7=256, out=256)])
    assert compile_graph(wide).output_shape == (4 * 256, 17, 17)


def test_families_take_classes_and_resolution():
    small = inception_v3(classes=10, resolution=75)  # torchvision's meta min_size for inception_v3
    assert small.input == (3, 75, 75)
    assert compile_graph(small).output_shape == (10,)
    assert (cnncost.table("inception-v3", batch=1).totals.params - cnncost.table(small, batch=1).totals.params
            == 2048 * 990 + 990)
