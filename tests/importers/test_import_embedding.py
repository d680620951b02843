"""Token ids through an embedding (`nn.Embedding`, `F.embedding`, aten.embedding on the export
path): imported as `embedding` rows whose input holds int64 ids, and compared with the real module
(params, FlopCounterMode's MACs, autograd's saved bytes at batch 2: check_against, CPU fp32; and
under CPU bf16 autocast, autograd's saved bytes per module)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.memory import Precision, trace  # noqa: E402
from cnncost.torch_backend.against import check_against  # noqa: E402
from cnncost.torch_backend.check import SAVED_BASIS  # noqa: E402
from cnncost.torch_backend.measure import saved_tensors  # noqa: E402

TRACERS = ["fx", "export"]


class TokensAndPositions(nn.Module):
    """A text or patch-token stem: token embeddings (a padding row) plus a learned position table."""

    def __init__(self) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(50, 8, padding_idx=0), nn.Parameter(torch.zeros(12, 8))
        self.fc = nn.Linear(8, 3)

    def forward(self, ids):
        return self.fc(self.tok(ids) + self.pos)


class FunctionalTable(nn.Module):
    """F.embedding of a parameter table (a model that keeps the table itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.table, self.fc = nn.Parameter(torch.randn(50, 8)), nn.Linear(8, 3)

    def forward(self, ids):
        return self.fc(F.embedding(ids, self.table))


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("model", [TokensAndPositions, FunctionalTable])
def test_token_ids_import_exactly(model: type, tracer: str) -> None:
    m = model()
    net = from_torch(m, (12,), tracer=tracer)
    graph = cnncost.compile(net)
    row = next(n for n in graph.nodes if n.type == "embedding")
    assert (row.input_shape, row.output_shape, row.params) == ((12,), (12, 8), 400)
    result = check_against(net, m)
    assert result.ok, result.summary()
    assert all(ours == theirs for ours, theirs in result.totals.values()), result.totals
    # bf16 autocast: the ids (int64) and the linear's low copies, as autograd saves them
    traced = trace(graph, precision=Precision("bf16", "cpu"))
    measured = saved_tensors(m, torch.randint(0, 50, (2, 12)), torch.bfloat16).by_path(SAVED_BASIS)
    assert sum(traced.saved_by_module(2).values()) == sum(measured.values()) == 2 * 12 * 8 + 2 * 12 * 8 * 2 + 24 * 2


def test_an_embedding_with_max_norm_is_refused_by_name() -> None:
    class Renormed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(50, 8, max_norm=1.0)

        def forward(self, ids):
            return self.tok(ids)

    with pytest.raises(CnnCostError, match="max_norm"):
        from_torch(Renormed(), (12,), tracer="fx")


def test_an_onnx_gather_of_a_table_by_ids_is_an_embedding(tmp_path) -> None:
    """nn.Embedding exported to ONNX (the TorchScript exporter) is Gather(table, ids): an
    `embedding` of the table (params 50 x 8), its input int64 ids; the numbers equal the torch
    import's (padding_idx is not in the file, and changes no count)."""
    pytest.importorskip("onnx")
    import warnings

    from cnncost.importers.onnx_graph import from_onnx
    m, path = TokensAndPositions(), str(tmp_path / "tok.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.zeros(2, 12, dtype=torch.long),), path, dynamo=False,
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    net = from_onnx(path)
    rows = [(n.type, n.output_shape, n.params) for n in cnncost.compile(net).nodes if n.type == "embedding"]
    assert rows == [("embedding", (12, 8), 400)]
    ours = cnncost.table(net, batch=2, memory="autograd", device="cpu").totals
    theirs = cnncost.table(from_torch(m, (12,)), batch=2, memory="autograd", device="cpu").totals
    assert (ours.params, ours.macs, ours.saved_bytes) == (theirs.params, theirs.macs, theirs.saved_bytes)
