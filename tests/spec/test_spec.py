"""YAML front end: round trips, YAML == dataclasses, templates, and one-line errors."""
import textwrap

import pytest

import cnncost
from cnncost import Conv, Linear, MaxPool, Net, ReLU, Flatten, dump_spec, parse_spec
from cnncost.errors import SpecError


def spec(text):
    return parse_spec(textwrap.dedent(text), "net.yaml")


def test_yaml_equals_python_dataclasses():
    from_yaml = spec("""
        name: small
        input: [3, 32, 32]
        layers:
          - {name: conv1, type: conv, out: 16, kernel: 3, padding: 1}
          - {name: relu1, type: relu}
          - {name: pool1, type: maxpool, kernel: 2}
          - {name: flatten, type: flatten}
          - {name: fc, type: linear, out: 10}
        """)
    from_python = Net("small", (3, 32, 32), [Conv(name="conv1", out=16, kernel=3, padding=1), ReLU(name="relu1"),
                                             MaxPool(name="pool1", kernel=2), Flatten(name="flatten"),
                                             Linear(name="fc", out=10)])
    assert from_yaml == from_python
    assert cnncost.table(from_yaml).to_dict() == cnncost.table(from_python).to_dict()


@pytest.mark.parametrize("name", [a.name for a in cnncost.list_archs()])
def test_every_builtin_architecture_round_trips_through_yaml(name):
    # `cnncost spec NAME` prints YAML that loads back to the same network and the same numbers.
    net = cnncost.load(name)
    again = parse_spec(dump_spec(net), f"{name}.yaml")
    assert again == net
    assert cnncost.table(again).to_dict() == cnncost.table(net).to_dict()


def test_block_template_is_defined_once_and_instantiated():
    net = spec("""
        name: templated
        input: [3, 16, 16]
        blocks:
          conv_relu:
            params: {width: null, kernel: 3}
            type: sequential
            layers:
              - {name: conv, type: conv, out: $width, kernel: $kernel, padding: 1}
              - {name: relu, type: relu}
        layers:
          - {name: a, type: conv_relu, width: 8}
          - {name: b, type: conv_relu, width: 16, kernel: 3}
        """)
    leaves = {c.path: c for c in cnncost.compile(net).nodes}
    assert leaves["a.conv"].output_shape == (8, 16, 16)
    assert leaves["b.conv"].params == 16 * 8 * 9 + 16


def test_googlenet_defines_its_inception_module_once():
    text = (cnncost.zoo.registry.specs_dir() / "googlenet.yaml").read_text()
    assert text.count("type: concat") == 1
    assert text.count("type: inception,") == 9


BAD = {
    "unknown field": ("{name: c1, type: conv, out: 8, kernal: 3}",
                      r"^net.yaml: layer 'c1' \(conv\): unknown field 'kernal' for conv; did you mean 'kernel'\?"),
    "unknown type": ("{name: c1, type: convv, out: 8}", r"^net.yaml: layer 'c1': unknown layer type 'convv'; "
                                                        r"did you mean 'conv'\?"),
    "missing field": ("{name: c1, type: conv, kernel: 3}", r"^net.yaml: layer 'c1' \(conv\): missing field 'out'$"),
    "wrong type": ("{name: c1, type: conv, out: eight, kernel: 3}",
                   r"layer 'c1' \(conv\): field 'out' must be an integer, got 'eight'"),
    "bad padding word": ("{name: c1, type: conv, out: 8, kernel: 3, padding: full}",
                         r"field 'padding' must be an integer or a list of an integer or 'same' or 'valid', "
                         r"got 'full'"),  # a list: one size per spatial dim (1, 2 or 3)
    "missing type": ("{name: c1, out: 8}", r"layer 'c1': missing field 'type'"),
    "not a mapping": ("conv", r"layer 0 must be a mapping"),
    "kernel too large": ("{name: c1, type: conv, out: 8, kernel: 33}",
                         r"^net.yaml: layer 'c1' \(conv\): kernel 33x33 .* larger than its padded input; "
                         r"input shape 3x32x32$"),
}


@pytest.mark.parametrize("layer,message", BAD.values(), ids=BAD.keys())
def test_bad_layers_name_file_layer_and_problem(layer, message):
    with pytest.raises(SpecError if "larger" not in message else cnncost.ShapeError, match=message):
        net = spec(f"name: x\ninput: [3, 32, 32]\nlayers:\n  - {layer}\n")
        cnncost.compile(net)


def test_nested_error_paths():
    with pytest.raises(SpecError, match=r"layer 'stage.inner.c' \(conv\): unknown field 'k'"):
        spec("""
            name: x
            input: [3, 8, 8]
            layers:
              - name: stage
                type: sequential
                layers:
                  - name: inner
                    type: sequential
                    layers: [{name: c, type: conv, out: 2, k: 3}]
            """)


def test_yaml_syntax_error_names_file_and_line():
    with pytest.raises(SpecError, match=r"^net.yaml: invalid YAML at line 4, column 1: did not find expected"):
        spec("name: x\ninput: [3, 8, 8]\nlayers: [{name: a, type: conv\n")


def test_unsafe_yaml_tags_are_refused():
    with pytest.raises(SpecError, match=r"invalid YAML .*python/object"):
        spec("!!python/object/apply:os.system ['echo pwned']\n")


def test_top_level_errors():
    with pytest.raises(SpecError, match=r"unknown top-level key 'layer'; did you mean 'layers'"):
        spec("name: x\ninput: [3, 8, 8]\nlayer: []\n")
    with pytest.raises(SpecError, match=r"missing top-level key 'input'"):
        spec("name: x\nlayers: []\n")
    with pytest.raises(SpecError, match=r"input must be positive integers"):
        spec("name: x\ninput: [3, 0, 8]\nlayers: []\n")


def test_template_errors():
    base = """
        name: x
        input: [3, 8, 8]
        blocks:
          unit: {params: [width], type: conv, out: $width, kernel: 1}
        layers:
          - {name: a, type: unit, %s}
        """
    with pytest.raises(SpecError, match=r"layer 'a': unknown parameter 'widht' for block unit; did you mean 'width'"):
        spec(base % "widht: 3")
    with pytest.raises(SpecError, match=r"layer 'a': missing parameter 'width' of block unit"):
        spec(base % "")


def test_load_spec_reports_missing_file(tmp_path):
    with pytest.raises(SpecError, match=r"missing.yaml: cannot read spec"):
        cnncost.load_spec(tmp_path / "missing.yaml")


def test_input_may_be_declared_as_the_first_layer():
    as_layer = spec("""
        name: n
        layers:
          - {name: input, type: input, shape: [3, 16, 16]}
          - {name: conv, type: conv, out: 4, kernel: 3}
        """)
    as_key = spec("name: n\ninput: [3, 16, 16]\nlayers: [{name: conv, type: conv, out: 4, kernel: 3}]\n")
    assert as_layer == as_key
    with pytest.raises(SpecError, match=r"layer 'input' \(input\): an input layer must be the first layer"):
        spec("name: n\nlayers:\n  - {name: conv, type: conv, out: 4, kernel: 3}\n"
             "  - {name: input, type: input, shape: [3, 16, 16]}\n")


@pytest.mark.parametrize("text,message", [
    ("name: x\ninput: [3, 8, 8]\nlayers: [{type: [conv]}]\n", r"field 'type' must be a string"),
    ("name: x\ninput: [3, 8, 8]\nblocks: {b: {params: {7: 1}, type: relu}}\nlayers: [{type: b, '5': 1}]\n",
     r"params must be a list of names or a mapping"),
    ("name: x\ninput: [3, 8, 8]\nblocks: {b: {params: width, type: relu}}\nlayers: [{type: b}]\n",
     r"params must be a list of names or a mapping"),
], ids=["type not a string", "int parameter names", "params a string"])
def test_odd_specs_get_one_line_errors(text, message):
    with pytest.raises(SpecError, match=message):
        spec(text)
