"""Handlers of what moves data without computing: Reshape, Flatten, Squeeze/Unsqueeze, Transpose,
Concat, Split and Slice along the channels, Shape, Cast, Identity."""
from __future__ import annotations

from typing import Any, Sequence

from ...layers import Chunk, Expand, Select, Slice, Split, Tokens
from ...layers.reshape import chunk_sizes
from ...shapes import numel
from ..graphbuild import TV, Unsupported
from ..lowering import channel_slice, chunk_count, concat as lower_concat, permute, view_to
from .constants import shape_of
from .values import W, constant_ints, ints
from .weighted import group_norm_pattern
from .walker import OnnxWalker


def torch_shape(imp: OnnxWalker, x: TV) -> list[int]:
    """x's full shape as the file sees it: the per-sample shape with the batch at `x.batch`."""
    full = list(x.shape)
    full.insert(x.batch, imp.batch)
    return full


def sample_axis(x: TV, axis: int, what: str) -> int:
    """An ONNX axis (the batch's counted, at `x.batch`) as a per-sample dim, else Unsupported."""
    rank = len(x.shape) + 1
    if not -rank <= axis < rank or axis % rank == x.batch:
        raise Unsupported(f"{what} along axis {axis} (the batch, or out of range)")
    return axis % rank - (axis % rank > x.batch)


def reshape(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    import numpy as np
    x = inputs[0]
    if not isinstance(x, TV):
        raise Unsupported("reshape of a split")
    target = inputs[1]
    if isinstance(target, W):
        target = target.data
    if target is None:
        raise Unsupported("reshape to a computed shape")
    dims = list(ints(target))
    full = torch_shape(imp, x)
    allowzero = int(attrs.get("allowzero", 0))
    out = [full[i] if d == 0 and not allowzero else d for i, d in enumerate(dims)]
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        out[out.index(-1)] = numel(tuple(full)) // known
    if x.batch or out[0] != imp.batch:
        raise Unsupported(f"reshape of {full} to {out}, which merges or moves the batch dimension")
    grouped = group_norm_pattern(imp, node, x, out)
    if grouped is not None:
        return grouped
    return view_to(imp, x, tuple(out[1:]))


def flatten(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = inputs[0]
    if int(attrs.get("axis", 1)) != 1 or not isinstance(x, TV) or x.batch:
        raise Unsupported("flatten at an axis other than 1 (it merges the batch dimension)")
    return view_to(imp, x, (numel(x.shape),), "flatten")


def squeeze(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Squeeze and Unsqueeze (axes: an attribute, or an input from opset 13): a view."""
    x = inputs[0]
    if not isinstance(x, TV) or x.batch:
        raise Unsupported("squeeze of a split, or of a tensor whose batch is not the first dim")
    axes = attrs.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:
        axes = ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    full = [imp.batch, *x.shape]
    if node.op_type == "Squeeze":
        axes = {a % len(full) for a in (axes if axes is not None else [i for i, d in enumerate(full) if d == 1])}
        if 0 in axes:
            raise Unsupported("squeeze of the batch dimension")
        out = [d for i, d in enumerate(full) if i not in axes]
    else:
        if axes is None:
            raise Unsupported("unsqueeze by computed axes")
        out = list(full)
        rank = len(full) + len(axes)
        for a in sorted(a % rank for a in axes):
            if a == 0:
                raise Unsupported("unsqueeze before the batch dimension")
            out.insert(a, 1)
    return view_to(imp, x, tuple(out[1:]))


def transpose(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = inputs[0]
    perm = tuple(attrs.get("perm", ()))
    if not perm and isinstance(x, TV):
        perm = tuple(range(len(x.shape), -1, -1))  # ONNX's default: reversed
    return permute(imp, x, perm)


def concat(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    axis = int(attrs.get("axis", 1))
    if len(inputs) == 2 and isinstance(inputs[0], W) and isinstance(inputs[1], TV):
        return class_tokens(imp, inputs[0], imp.tensor(inputs[1]), axis)
    return lower_concat(imp, [imp.tensor(v, ("std", "nhwc")) for v in inputs], axis)


def class_tokens(imp: OnnxWalker, w: W, x: TV, axis: int) -> TV:
    """Concat(Expand(token, (N, 1, D)), x) on the tokens' axis: learnable tokens before a
    sequence (ViT's class token), as `Tokens`."""
    t = tuple(w.shape)
    if sample_axis(x, axis, "tokens") != 0 or len(t) != len(x.shape) + 1 or t[0] not in (1, imp.batch) \
            or t[2:] != x.shape[1:]:
        raise Unsupported(f"concatenation of a {'x'.join(map(str, t))} weight with a tensor")
    return imp.emit(Tokens(count=t[1]), [x], (x.shape[0] + t[1], *x.shape[1:]), base="tokens", params=[w])


def split(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> list:
    """Split along one axis: into pieces of one, each squeezed (unbind): a Select per piece; into
    torch.chunk's sizes: a Chunk per piece; else a Split per piece. Only pieces something reads
    become rows."""
    x = inputs[0]
    if not isinstance(x, TV) or x.scale is not None or x.form != "std":
        x = imp.tensor(x)
    axis = int(attrs.get("axis", 0))
    d = sample_axis(x, axis, "split")
    sizes = attrs.get("split")
    if sizes is None and len(inputs) > 1 and inputs[1] is not None:
        sizes = constant_ints(inputs[1])
    if sizes is None:
        sizes = chunk_sizes(x.shape[d], len(node.output))  # opset 18's num_outputs: torch.chunk's sizes
    sizes = [int(v) for v in sizes]
    read = [bool(imp.consumers.get(o)) or o in imp.outputs_read for o in node.output]
    unbound = _unbind(imp, node, x, d, axis, sizes)
    if unbound is not None:
        return unbound
    pieces = Pieces(imp.tensor(x), d, sizes)  # a chunk keeps the batch first
    return [pieces.piece(imp, i) if read[i] else None for i in range(len(sizes))]


class Pieces:
    """The pieces of a split along per-sample dim `d`: a Chunk per piece where the sizes are
    torch.chunk's, else a Split; each made the first time it is read."""

    activation = True  # made from a tensor: the walker maps its readers rather than folding them

    def __init__(self, x: TV, d: int, sizes: list[int]) -> None:
        self.x, self.d, self.sizes = x, d, sizes
        self.chunks = chunk_count(x.shape[d], sizes)
        self.made: dict[int, TV] = {}

    def piece(self, imp: OnnxWalker, i: int) -> TV:
        if i < 0:
            i += len(self.sizes)
        if i not in self.made:
            x, d, chunks = self.x, self.d, self.chunks
            shape = (*x.shape[:d], self.sizes[i], *x.shape[d + 1:])
            if chunks is not None:
                layer: Any = Chunk(chunks=chunks, index=i, dim=d) if d else Chunk(chunks=chunks, index=i)
            else:
                layer = Split(sizes=tuple(self.sizes), index=i, dim=d)
            self.made[i] = imp.emit(layer, [x], shape, base="chunk" if chunks is not None else "split")
        return self.made[i]


def split_to_sequence(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> Pieces:
    """SplitToSequence (onnxscript's split_with_sizes), read by SequenceAt: the pieces of a split."""
    x = imp.tensor(inputs[0])
    d = sample_axis(x, int(attrs.get("axis", 0)), "split")
    split = constant_ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else (1,)
    if split is None:
        raise Unsupported("SplitToSequence by computed sizes")
    size = x.shape[d]
    import numpy as np
    if len(inputs) > 1 and inputs[1] is not None and np.asarray(
            inputs[1].data if isinstance(inputs[1], W) else inputs[1]).ndim == 0:  # pieces of one size
        sizes = [min(split[0], size - k) for k in range(0, size, split[0])]
    else:
        sizes = list(split)
    if len(inputs) < 2 and not int(attrs.get("keepdims", 1)):
        raise Unsupported("SplitToSequence without keepdims (an unbind)")
    if sum(sizes) != size:
        raise Unsupported(f"split of {size} into {sizes}")
    return Pieces(x, d, sizes)


def sequence_at(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    seq, index = inputs[0], constant_ints(inputs[1])
    if not isinstance(seq, Pieces) or index is None:
        raise Unsupported("SequenceAt of a sequence that is not a split's, or at a computed position")
    return seq.piece(imp, index[0])


def _unbind(imp: OnnxWalker, node: Any, x: TV, d: int, axis: int, sizes: list[int]) -> list | None:
    """Split into pieces of one, each read only by a Squeeze of that axis: torch's unbind, one
    Select per piece (the batch may sit anywhere: timm's qkv after its permute)."""
    if set(sizes) != {1}:
        return None
    squeezes = []
    for o in node.output:
        reader = imp.only_reader(o)
        sq = imp.graph.node[reader] if reader is not None else None
        if reader is None or sq is None or sq.op_type != "Squeeze":
            return None
        axes: Sequence[int] | None = None
        for a in sq.attribute:
            if a.name == "axes":
                axes = list(a.ints)
        if axes is None and len(sq.input) > 1:
            axes = constant_ints(imp.constant(sq.input[1]))
        rank = len(x.shape) + 1
        if axes is None or [a % rank for a in axes] != [axis % rank]:
            return None
        squeezes.append(reader)
    shape = x.shape[:d] + x.shape[d + 1:]
    if not shape:
        raise Unsupported("unbinding a vector into one number per sample")
    batch = x.batch - (d < x.batch)
    for i, reader in enumerate(squeezes):
        imp.node = imp.graph.node[reader]
        v = imp.emit(Select(dim=d, index=i), [TV(x.leaf, x.shape)], shape, base="select")
        imp.values[imp.graph.node[reader].output[0]] = TV(v.leaf, shape, batch=batch)
        imp.skip.add(reader)
    imp.node = node
    return [None] * len(node.output)


def gather(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Gather of one constant index along an axis (x[:, i], qkv[0]): a Select. Gather of a 2-D
    weight's rows by a tensor of ids (nn.Embedding exported): an `embedding`."""
    x, index = inputs[0], inputs[1]
    if isinstance(x, W) and isinstance(index, TV) and len(x.shape) == 2 and int(attrs.get("axis", 0)) == 0:
        from ...layers.embedding import Embedding
        layer = Embedding(num_embeddings=int(x.shape[0]), embedding_dim=int(x.shape[1]))
        return imp.emit(layer, [index], layer.out_shape(index.shape), params=[x])
    if not isinstance(x, TV) or x.scale is not None or x.form != "std":
        raise Unsupported("gather from a non-tensor, a scaled tensor or a view in progress")
    if isinstance(index, TV) or isinstance(index, W) and index.data is None:
        raise Unsupported("gather with computed indices")
    import numpy as np
    idx = np.asarray(index.data if isinstance(index, W) else index)
    if idx.ndim != 0:
        raise Unsupported(f"gather of {idx.size} indices (only one scalar index: a select)")
    d = sample_axis(x, int(attrs.get("axis", 0)), "gather")
    if len(x.shape) < 2:
        raise Unsupported("indexing a vector to one number per sample")
    i = int(idx)
    shape = x.shape[:d] + x.shape[d + 1:]
    v = imp.emit(Select(dim=d, index=i), [TV(x.leaf, x.shape)], shape, base="select")
    return TV(v.leaf, shape, batch=x.batch - (d < x.batch))


def slice_any(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Slice with constant bounds: along the channels of a map, the chunk it is (as before);
    otherwise one Slice per sliced axis, from the last (as the torch importer's indexing)."""
    x = inputs[0]
    if not isinstance(x, TV) or x.scale is not None or x.form != "std":
        x = imp.tensor(x)
    starts, ends, axes, steps = (constant_ints(inputs[i]) if len(inputs) > i else None for i in range(1, 5))
    if starts is None and "starts" in attrs:  # opset < 10: attributes
        starts, ends, axes = tuple(attrs["starts"]), tuple(attrs["ends"]), attrs.get("axes")
    if starts is None or ends is None:
        raise Unsupported("a slice with computed bounds")
    axes = tuple(axes) if axes else tuple(range(len(starts)))
    steps = tuple(steps) if steps else (1,) * len(starts)
    full = torch_shape(imp, x)
    cuts = {}
    for a, b, e, st in zip(axes, starts, ends, steps):
        start, stop, step = slice(b, e, st).indices(full[a % len(full)])
        if step < 1:
            raise Unsupported(f"a slice with step {st}")
        if (start, stop, step) == (0, full[a % len(full)], 1):
            continue
        cuts[sample_axis(x, a, "slice")] = (start, stop, step)
    if not cuts:
        return x
    selected = _select_squeezed(imp, node, x, cuts)
    if selected is not None:
        return selected
    if not x.batch and len(x.shape) == 3 and list(cuts) == [0] and cuts[0][2] == 1:
        try:
            return channel_slice(imp, x, cuts[0][0], cuts[0][1])
        except Unsupported:
            pass
    v, shape = TV(x.leaf, x.shape), list(x.shape)
    for d in sorted(cuts, reverse=True):
        start, stop, step = cuts[d]
        if stop <= start:
            raise Unsupported(f"an empty slice of dim {d}")
        shape[d] = len(range(start, stop, step))
        v = imp.emit(Slice(dim=d, start=start, stop=stop, step=step), [v], tuple(shape), base="slice")
    return TV(v.leaf, tuple(shape), batch=x.batch)


def _select_squeezed(imp: OnnxWalker, node: Any, x: TV, cuts: dict) -> TV | None:
    """A slice of one element along one axis read only by a Squeeze of that axis (onnxscript's
    x[:, i], unbind): a Select, the Squeeze's value (the batch may sit anywhere)."""
    if len(cuts) != 1:
        return None
    (d, (start, stop, step)), = cuts.items()
    reader = imp.only_reader(node.output[0])
    sq = imp.graph.node[reader] if reader is not None else None
    if stop - start != 1 or reader is None or sq is None or sq.op_type != "Squeeze" or len(x.shape) < 2:
        return None
    axes: Sequence[int] | None = next((list(a.ints) for a in sq.attribute if a.name == "axes"), None)
    if axes is None and len(sq.input) > 1:
        axes = constant_ints(imp.constant(sq.input[1]))
    rank = len(x.shape) + 1
    axis = d + (d >= x.batch)  # the per-sample dim as the file's axis
    if axes is None or [a % rank for a in axes] != [axis]:
        return None
    imp.node = sq
    shape = x.shape[:d] + x.shape[d + 1:]
    v = imp.emit(Select(dim=d, index=start), [TV(x.leaf, x.shape)], shape, base="select")
    imp.node = node
    imp.skip.add(reader)
    out = TV(v.leaf, shape, batch=x.batch - (d < x.batch))
    imp.values[sq.output[0]] = out
    return out


def expand(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Expand of a tensor to a constant shape (its batch unchanged): an Expand view."""
    x = imp.tensor(inputs[0])
    target = constant_ints(inputs[1])
    if target is None:
        raise Unsupported("expand to a computed shape")
    full = [imp.batch, *x.shape]
    target = (1,) * (len(full) - len(target)) + tuple(target)
    if len(target) != len(full) or target[0] not in (1, imp.batch):
        raise Unsupported(f"expand of {full} to {list(target)}")
    out = tuple(max(a, b) for a, b in zip(full[1:], target[1:]))
    if out == x.shape:
        return x
    return imp.emit(Expand(shape=out), [x], out, base="expand")


def shape(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> Any:
    x = inputs[0]
    if not isinstance(x, TV):
        raise Unsupported("shape of a split")
    return shape_of((imp.batch, *x.shape), attrs)


def passthrough(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> Any:
    """Identity, and Cast of a float tensor (cnncost's dtype is the report's); CastLike of a
    constant to a tensor's type (onnxscript's scale factors): the constant as float."""
    if node.op_type == "CastLike" and not isinstance(inputs[0], TV) and isinstance(inputs[1], TV):
        import numpy as np
        return np.asarray(inputs[0].data if isinstance(inputs[0], W) else inputs[0], dtype=np.float32)
    return inputs[0]
