"""Products of two tensors: MatMul (a `matmul` row), and the scaled-dot-product attention that
torch's exporters write for `F.scaled_dot_product_attention` (both the TorchScript exporter's
symbolic and onnxscript's torchlib):

    MatMul(Mul(q, sqrt(s)), Mul(Transpose(k, last two dims swapped), sqrt(s))) -> Softmax(-1)
        [-> Dropout(p)] -> MatMul(., v)

which is one `attention` row, as the torch importer maps the call: the same MACs as the two
matmuls, and the saved bytes of the fused op. Both factors sqrt(s) on q and on k^T are what marks
the exporters' decomposition (a model that writes `(q * s) @ k.transpose(-2, -1)` itself keeps its
matmul, softmax and matmul rows, as in PyTorch)."""
from __future__ import annotations

import functools
from typing import Any

from ...layers import Attention, Matmul, MultiheadAttention, Permute
from ..graphbuild import TV, Unsupported
from ..lowering import permute
from .values import Fused, W, ints, scalar
from .walker import OnnxWalker


def products(imp: OnnxWalker, node: Any, inputs: list[Any]) -> TV:
    """a @ b of two tensors."""
    xs = [imp.tensor(inputs[0]), imp.tensor(inputs[1])]
    layer = Matmul()
    return imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base="matmul")


def find_sdpa(imp: OnnxWalker) -> dict[int, Fused]:
    """The exported sdpa decompositions of the graph, by the index of their last MatMul: the names
    of q, k, v, the two scale factors and the dropout node, and the nodes folded into the row."""
    nodes, consumers, outputs = imp.graph.node, imp.consumers, imp.outputs_read
    producer = {out: i for i, node in enumerate(nodes) for out in node.output}

    def only(name: str) -> int | None:  # its one reader, a CastLike taking its type aside
        readers = [r for r in consumers.get(name, []) if not (nodes[r].op_type == "CastLike"
                                                                and nodes[r].input[1] == name)]
        return readers[0] if len(readers) == 1 and name not in outputs else None

    found: dict[int, Fused] = {}
    for i, soft in enumerate(nodes):
        if soft.op_type != "Softmax":
            continue
        first = producer.get(soft.input[0])
        if first is None or nodes[first].op_type != "MatMul" or only(nodes[first].output[0]) != i:
            continue
        chain = [first, i]
        after, dropout = only(soft.output[0]), None
        if after is not None and nodes[after].op_type == "Dropout":
            dropout = after
            chain.append(after)
            after = only(nodes[after].output[0])
        if after is None or nodes[after].op_type != "MatMul" or nodes[after].input[0] != nodes[chain[-1]].output[0]:
            continue
        a, b = (producer.get(n) for n in nodes[first].input)
        if a is None or b is None or nodes[a].op_type != "Mul" or nodes[b].op_type != "Mul" \
                or only(nodes[a].output[0]) != first or only(nodes[b].output[0]) != first:
            continue
        key = _transposed_key(nodes, producer, only, nodes[b].input[0], b)
        if key is None:
            continue
        k, perm, steps = key
        found[after] = Fused([a, *steps, b, *chain], functools.partial(
            _attention, found={"q": nodes[a].input[0], "scales": (nodes[a].input[1], nodes[b].input[1]), "k": k,
                               "perm": perm, "v": nodes[after].input[1], "dropout": dropout}))
    return found


def _transposed_key(nodes: Any, producer: dict[str, int], only: Any, name: str, reader: int) -> tuple | None:
    """k^T as the exporters write it: Transpose(k) (TorchScript: perm swapping the last two dims,
    checked against k's rank later), or Reshape(Transpose(Reshape(k, (-1, L, E)), (0, 2, 1)), ...)
    (onnxscript's torchlib): k's name, the perm (None: the last two dims swapped), the nodes."""
    t = producer.get(name)
    if t is None or only(nodes[t].output[0]) != reader:
        return None
    perm = next((list(x.ints) for x in nodes[t].attribute if x.name == "perm"), None)
    if nodes[t].op_type == "Transpose":
        return nodes[t].input[0], perm or [], [t]
    if nodes[t].op_type != "Reshape":
        return None
    inner = producer.get(nodes[t].input[0])
    if inner is None or nodes[inner].op_type != "Transpose" or only(nodes[inner].output[0]) != t:
        return None
    if next((list(x.ints) for x in nodes[inner].attribute if x.name == "perm"), None) != [0, 2, 1]:
        return None
    first = producer.get(nodes[inner].input[0])
    if first is None or nodes[first].op_type != "Reshape" or only(nodes[first].output[0]) != inner:
        return None
    return nodes[first].input[0], None, [first, inner, t]


def _attention(imp: OnnxWalker, node: Any, found: dict) -> TV:
    q, k, v = (imp.values.get(found[n]) for n in ("q", "k", "v"))
    if not (isinstance(q, TV) and isinstance(k, TV) and isinstance(v, TV)):
        raise Unsupported("attention of a non-tensor")
    rank = len(k.shape) + 1
    perm = found["perm"]
    if perm is not None and perm != [*range(rank - 2), rank - 1, rank - 2]:
        # the exporter fused k's own permute with the transpose (a head split's transpose(1, 2)):
        # k is that permute, its row a view as in PyTorch
        if sorted(perm) != list(range(rank)):
            raise Unsupported(f"attention whose key is transposed by {perm}")
        k = permute(imp, k, (*perm[:-2], perm[-1], perm[-2]))
    q, k, v = imp.tensor(q), imp.tensor(k), imp.tensor(v)
    factors = [scalar(imp.values.get(n)) for n in found["scales"]]
    known = [f for f in factors if f is not None]
    if len(known) != len(factors) or abs(known[0] - known[1]) > 1e-6 * abs(known[0]):
        raise Unsupported("attention whose query and key are scaled by different factors")
    scale = known[0] * known[1]
    default = q.shape[-1] ** -0.5
    p = 0.0
    if found["dropout"] is not None:
        drop = imp.graph.node[found["dropout"]]
        ratio = scalar(imp.values.get(drop.input[1])) if len(drop.input) > 1 and drop.input[1] else 0.5
        training = scalar(imp.values.get(drop.input[2])) if len(drop.input) > 2 and drop.input[2] else 0
        p = float(ratio or 0) if training else 0.0
    layer = Attention(dropout=p, scale=None if abs(scale - default) <= 1e-6 * default else scale)
    return imp.emit(layer, [q, k, v], layer.merge_shape((q.shape, k.shape, v.shape)), base="attention")


def find_multihead(imp: OnnxWalker) -> dict[int, Fused]:
    """nn.MultiheadAttention modules as exported (their weights `<path>.in_proj_weight` and
    `<path>.out_proj.weight`): the nodes at the module's path that compute with activations, with
    one tensor in (self-attention) and one out (need_weights=False), by the last of them."""
    nodes = imp.graph.node
    prefixes = [n[:-len(".in_proj_weight")] for n, v in imp.values.items()
                if isinstance(v, W) and n.endswith(".in_proj_weight")]
    if not prefixes:
        return {}
    dynamic = {n for n, v in imp.values.items() if isinstance(v, TV)}
    producer: dict[str, int] = {}
    paths: list[str] = []
    for i, node in enumerate(nodes):
        if any(n in dynamic for n in node.input if n):
            dynamic.update(o for o in node.output if o)
        producer.update((o, i) for o in node.output)
        scopes, _ = imp.scopes(node)
        paths.append(".".join(s.name for s in scopes))
    found: dict[int, Fused] = {}
    for prefix in prefixes:
        inside = {i for i, p in enumerate(paths) if p == prefix or p.startswith(prefix + ".")}
        computing = sorted(i for i in inside if any(o in dynamic for o in nodes[i].output))
        entering = {n for i in computing for n in nodes[i].input if n in dynamic and producer.get(n) not in inside}
        leaving = [i for i in computing for o in nodes[i].output if o and (
            o in imp.outputs_read or any(r not in inside for r in imp.consumers.get(o, [])))]
        if len(entering) != 1 or len(leaving) != 1:
            continue
        last = leaving[0]
        found[last] = Fused([i for i in computing if i != last], functools.partial(
            _multihead, prefix=prefix, x=entering.pop(), nodes=computing))
    return found


def _multihead(imp: OnnxWalker, node: Any, prefix: str, x: str, nodes: list[int]) -> TV:
    """The MultiheadAttention block of the torch importer: heads from the view to (N, heads, L, E / heads)."""
    v = imp.values.get(x)
    if not isinstance(v, TV) or len(v.shape) != 2:
        raise Unsupported("multi-head attention on tokens that are not (L, E) with the batch first")
    t = imp.tensor(v)
    length, e = t.shape
    w_in, w_out = imp.values.get(f"{prefix}.in_proj_weight"), imp.values.get(f"{prefix}.out_proj.weight")
    b_in, b_out = imp.values.get(f"{prefix}.in_proj_bias"), imp.values.get(f"{prefix}.out_proj.bias")
    if not isinstance(w_in, W) or w_in.shape != (3 * e, e) or not isinstance(w_out, W) or w_out.shape != (e, e) \
            or isinstance(b_in, W) != isinstance(b_out, W):
        raise Unsupported("multi-head attention other than one packed projection of the embedding")
    heads, p = None, 0.0
    for i in nodes:
        n = imp.graph.node[i]
        if n.op_type == "Reshape":
            target = imp.values.get(n.input[1])
            dims = ints(target.data if isinstance(target, W) else target) if target is not None else ()
            if len(dims) == 4 and dims[0] == imp.batch and dims[2] == length and dims[1] * dims[3] == e:
                heads = int(dims[1])
        elif n.op_type == "Dropout":
            ratio = scalar(imp.values.get(n.input[1])) if len(n.input) > 1 and n.input[1] else 0.5
            training = scalar(imp.values.get(n.input[2])) if len(n.input) > 2 and n.input[2] else 0
            p = float(ratio or 0) if training else p
    if heads is None:
        raise Unsupported("multi-head attention whose heads the file does not show")
    params = [w_in] + ([b_in] if isinstance(b_in, W) else []) + [w_out] + ([b_out] if isinstance(b_out, W) else [])
    layer = MultiheadAttention(heads=heads, bias=isinstance(b_in, W), dropout=p)
    # a preset block emitted whole as one leaf (the net builder expands it): a Node, not a Layer
    return imp.emit(layer, [t], t.shape, params=params, base="attention")  # type: ignore[arg-type]


def einsum(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Einsum of two tensors that is a batched matrix product ("bhid,bhjd->bhij"): the operands
    permuted to (..., M, K) and (..., K, N) where needed, then a Matmul (the torch importer's
    reading of torch.einsum). The leading letters (the batch's first) are shared by all three."""
    equation = attrs.get("equation", b"")
    equation = equation.decode() if isinstance(equation, bytes) else equation
    if len(inputs) != 2 or "->" not in equation or "." in equation:
        raise Unsupported("einsum other than a product of two tensors with an explicit output")
    left, out = equation.replace(" ", "").split("->")
    sa, sb = left.split(",")
    a, b = imp.tensor(inputs[0]), imp.tensor(inputs[1])
    lead, m, n = out[:-2], out[-2], out[-1]
    contracted = (set(sa) & set(sb)) - set(out)
    if len(contracted) != 1 or not lead or set(sa) != set(lead) | {m} | contracted \
            or set(sb) != set(lead) | {n} | contracted or sa[:len(lead)] != lead or sb[:len(lead)] != lead:
        raise Unsupported(f"einsum '{equation}' (only a batched matrix product)")
    k = contracted.pop()
    xa, xb = _order(imp, a, sa, lead + m + k), _order(imp, b, sb, lead + k + n)
    layer = Matmul()
    return imp.emit(layer, [xa, xb], layer.merge_shape((xa.shape, xb.shape)), base="einsum")


def _order(imp: OnnxWalker, x: TV, letters: str, wanted: str) -> TV:
    """x (its dims named by `letters`, the batch's first) with its per-sample dims in `wanted`'s order."""
    if letters == wanted:
        return x
    order = tuple(letters.index(c) - 1 for c in wanted[1:])
    return imp.emit(Permute(dims=order), [x], tuple(x.shape[d] for d in order), base="permute")
