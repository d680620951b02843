"""A block instantiated from a `blocks:` template takes `from:` like any block (docs/spec.md)."""
from __future__ import annotations

import cnncost
from cnncost.spec import dump_spec, parse_spec

SPEC = """
name: tmpl
input: [3, 16, 16]
blocks:
  cbr:
    params: {c: 8}
    type: sequential
    layers:
    - {name: conv, type: conv, out: $c, kernel: 3, padding: 1}
    - {name: relu, type: relu}
layers:
- {name: a, type: cbr, c: 8}
- {name: b, type: cbr, c: 16}
- {name: c, type: cbr, c: 4, from: a}
"""


def test_a_template_instance_reads_the_layer_its_from_names() -> None:
    net = parse_spec(SPEC)
    nodes = {n.path: n for n in cnncost.compile(net).nodes}
    assert nodes["c.conv"].input_shape == (8, 16, 16)  # a's output, not b's 16 channels
    assert nodes["c.conv"].params == 4 * 8 * 3 * 3 + 4
    assert parse_spec(dump_spec(net)) == net
