"""A matmul (or attention) row's receptive field: every input position (found by mypy: the rule called
`hull` without its rank, so any net with a matmul raised TypeError)."""
from __future__ import annotations

import cnncost
from cnncost import Net


def test_a_matmul_sees_its_whole_input():
    net = Net("tokens", input=(3, 8, 8), layers=(
        cnncost.Conv(name="c", out=4, kernel=3, padding=1),
        cnncost.Reshape(name="r", shape=(4, 64)),
        cnncost.Reshape(name="rt", shape=(64, 4), inputs=("r",)),
        cnncost.Matmul(name="mm", inputs=("r", "rt"))))
    field = cnncost.receptive_field(net)[-1]
    assert (field.name, field.size, field.whole_input) == ("mm", (8, 8), True)
    assert "mixes every position" in field.note
