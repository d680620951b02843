"""`embedding` (nn.Embedding): ids (L,) -> (L, D), params num x dim, MACs 0; the ids input is int64
(8 bytes per element) wherever only embeddings read it; saved bytes against PyTorch (torch 2.13
CPU, fp32 and bf16 autocast); every peer tool's count as the tools report it."""
from __future__ import annotations

import pytest

import cnncost
from cnncost import Net
from cnncost.errors import CnnCostError
from cnncost.layers import Embedding, Linear, ReLU
from cnncost.layers.embedding import ids_inputs
from cnncost.memory import Precision, trace


def _net(padding_idx: int | None = None) -> Net:
    return Net("tokens", input=(16,), layers=[Embedding(name="tok", num_embeddings=100, embedding_dim=8,
                                                        padding_idx=padding_idx),
                                              Linear(name="fc", out=4), ReLU(name="act")])


def test_shape_params_and_macs() -> None:
    nodes = cnncost.compile(_net()).nodes
    tok = nodes[1]
    assert (tok.input_shape, tok.output_shape, tok.params, tok.macs) == ((16,), (16, 8), 800, 0)
    assert cnncost.compile(Net("ids2d", input=(4, 16), layers=[Embedding(num_embeddings=9, embedding_dim=3)])
                           ).output_shape == (4, 16, 3)
    assert cnncost.table(_net(2), batch=1).rows[1].params == 800


@pytest.mark.parametrize("fields, message", [
    ({"num_embeddings": 0, "embedding_dim": 8}, "num_embeddings"),
    ({"num_embeddings": 10, "embedding_dim": 8, "padding_idx": 10}, "padding_idx must be within num_embeddings"),
])
def test_bad_fields_are_one_line(fields: dict, message: str) -> None:
    with pytest.raises(CnnCostError, match=message):
        Net("bad", input=(16,), layers=[Embedding(name="e", **fields)])


def test_an_input_only_embeddings_read_holds_int64_ids() -> None:
    two = Net("two", input={"image": (8,), "ids": (5,)},
              layers=[Linear(name="fc", out=4),
                      Embedding(name="tok", num_embeddings=30, embedding_dim=4, inputs=("ids",)),
                      Embedding(name="pos", num_embeddings=7, embedding_dim=4, inputs=("ids",))])
    graph = cnncost.compile(two)
    assert ids_inputs(graph) == {1: 7}  # the image is read by a linear: floats
    t = trace(graph, precision=Precision("fp32", "cpu"))
    assert [x.dtype for x in (t.input, *t.more_inputs)] == ["fp32", "int64"]
    assert trace(_net(), precision=Precision("bf16", "cpu")).input.nbytes.per_sample == 16 * 8


def test_saved_bytes_save_the_ids() -> None:
    # the ids (16 int64 per sample, the input batch's storage), the linear's input (16 x 8 fp32), the
    # relu's output (16 x 4 fp32): torch 2.13 CPU saves these (test below)
    t = trace(_net(), precision=Precision("fp32", "cpu"))
    assert t.saved_by_module(2) == {"tok": 2 * 16 * 8, "fc": 2 * 16 * 8 * 4, "act": 2 * 16 * 4 * 4}


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("padding_idx", [None, 3])
def test_saved_bytes_as_pytorch(dtype: str, padding_idx: int | None) -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    from cnncost.torch_backend.saved_check import compare_saved
    from torch_agreement import assert_agrees  # tests/support
    result = check(_net(padding_idx), batch=2, device="cpu", dtype=dtype)
    assert_agrees(result, dtype)
    saved = compare_saved(_net(padding_idx), batch=2, dtype=dtype)
    assert saved.mismatches() == {} and saved.by_path["tok"] == (256, 256)


def test_every_peer_tool_counts_it_as_the_tool_does() -> None:
    """nn.Embedding(100, 8) then nn.Linear(8, 4) on 16 ids, batch 1, measured live (torch 2.14.1
    side venv; ptflops with an input_constructor of ids, torchinfo with input_data, torchscan with
    dtype=torch.long: with their default float input all three fail in F.embedding): no tool has
    a formula for the embedding but torchinfo, which counts one mult-add per parameter of a leaf
    module with a weight (800)."""
    from cnncost.counting import ops, tool_params
    graph = cnncost.compile(Net("e", input=(16,), layers=[Embedding(num_embeddings=100, embedding_dim=8),
                                                          Linear(out=4)]))
    measured = {"flopcounter": 1024, "fvcore": 512, "ptflops": 576, "ptflops-aten": 576, "thop": 512,
                "torchinfo": 836, "torchscan": 1024, "torchscan-macs": 512,
                "flopcounter-train": 3072}  # a training step: addmm 1024 + mm 2048; embedding_dense_backward 0
    assert {tool: ops(graph, tool, batch=1).total for tool in measured} == measured
    assert ops(graph, "allops", batch=1).per_node[1] == 0  # a gather: no arithmetic
    assert tool_params(graph, "thop") == 36 and tool_params(graph, "torchinfo") == 836  # thop: unregistered
