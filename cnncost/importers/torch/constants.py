"""Computations on parameters, buffers and constants that do not read the input: a relative position
bias gathered by an index buffer, a gate's sigmoid, biases concatenated with zeros, a position
embedding resized, sin/cos encodings made from `torch.arange`.

Such a computation runs once per forward, not per sample. The importer runs it for real on the
model's parameters, op by op as the trace reaches it (a `CV`: the value, its parameters, the
storages autograd saved making it, parameters and buffers left out as the reference does). Where it meets the input, one `computed` row
(layers/computed.py) stands for the whole computation: its parameters (each counted once over the
net), its batch-free tensor broadcast over the batch, and what it saved, as a fixed (per-forward)
figure. A computation with MACs (an MLP on a coordinates buffer: Swin V2's continuous position
bias) is measured as it runs, with FlopCounterMode (forward, and the backward of each op toward
the parameters and toward computed operands): the row's MACs once per forward (`macs_once`,
the engine's `fixed_macs`), each op charged once however many rows read its result.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from ...layers import Tokens
from ...layers.computed import Computed
from ...shapes import numel
from ..graphbuild import TV, Unsupported
from ..lowering import linear
from .charged import batch_nodes_of, charged_storages, model_storages, storage_of, work_once
from .values import BATCH, PV, Pieces, arg, holds, mutating, params_of


@dataclass
class CV:
    """A tensor computed from parameters, buffers and constants only: its real value, the
    parameters it is made of (id -> parameter) and the storages saved while making it (key ->
    bytes), with the tensors themselves kept alive so that no address is reused."""

    tensor: Any
    params: dict[int, Any] = field(default_factory=dict)
    saved: dict[Any, int] = field(default_factory=dict)
    source: str = ""
    keep: list[Any] = field(default_factory=list)
    batched: bool = False  # made at the batch's size (torch.zeros(N, H, W)): every sample the same
    work: dict[Any, tuple[int, int, int]] = field(default_factory=dict)  # node -> MACs, input/weight grad MACs

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.tensor.shape)


def batch_marked(imp: Any, node: Any, args: Any, value: Any) -> Any:
    """`x.shape`, `x.size()`, `x.size(0)` of an input tensor: the node noted as holding the batch
    size (a tensor made at that size, `torch.zeros(B, H, W)`, is the same for every sample, and
    work on it scales with the batch). The value is returned as it is."""
    if not args or not isinstance(args[0], TV) or args[0].batch:
        return value
    name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")
    if name.startswith("sym_size") and value == BATCH and tuple(args[1:2]) == (0,):  # aten's x.size(0)
        batch_nodes_of(imp).add(node)
        return value
    if name not in ("size", "getattr") or (name == "getattr" and tuple(args[1:2]) != ("shape",)):
        return value
    if isinstance(value, tuple) and value[:1] == (BATCH,):
        batch_nodes_of(imp).add(node)
    elif name == "size" and value == BATCH and (tuple(args[1:2]) == (0,) or node.kwargs.get("dim") == 0):
        batch_nodes_of(imp).add(node)
    return value


def item(imp: Any, node: Any, args: Any, value: Any) -> Any:
    """`shape[0]` (or `shape[:k]`) of a noted shape holds the batch size too."""
    source = node.args[0] if node.target is operator.getitem and len(node.args) == 2 else None
    if source is not None and source in batch_nodes_of(imp) and (
            node.args[1] == 0 or (isinstance(node.args[1], slice) and node.args[1].start in (None, 0)
                                  and node.args[1].stop != 0)):
        batch_nodes_of(imp).add(node)
    return value


def holds_batch(imp: Any, value: Any) -> bool:
    """Whether `value` (a call's argument as the graph has it) is a node noted as holding the batch size."""
    return value in batch_nodes_of(imp) if isinstance(value, imp.torch.fx.Node) else False


def handle(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    """A node whose arguments hold no input tensor but parameters, buffers or computed values
    (or nothing: `torch.arange(n)`): computed (a `CV`); one that meets the input: its row."""
    if holds((args, kwargs), (TV, Pieces)):
        return _consume(imp, node, args, kwargs, result)
    return _evaluate(imp, node, args, kwargs)


def made_like(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    """x.new_zeros/new_ones/new_full(size) without the batch: x lends its dtype only (Swin's
    shifted-window mask), so the tensor is computed once per forward, as torch.zeros(size)."""
    if not isinstance(args[0] if args else None, TV) or tuple(result.shape[:1]) == (BATCH,):
        raise Unsupported("a tensor made at the batch's size from the input")
    return _evaluate(imp, node, (imp.torch.empty(0, dtype=result.dtype), *args[1:]), kwargs)


made_like.batch_anywhere = True  # type: ignore[attr-defined]  # its result has no batch: it says so itself


# --- computing ---

def real(imp: Any, v: Any) -> Any:
    """The real tensor a value stands for (a parameter's view as traced, a computed value)."""
    torch = imp.torch
    if isinstance(v, CV):
        return v.tensor
    if isinstance(v, PV):
        t = v.tensor
        shape = tuple(v.shape)
        if tuple(t.shape) == shape:
            return t
        if t.numel() == numel(shape):
            return t.reshape(shape)
        try:
            return t.expand(shape)
        except RuntimeError:  # expanded then reshaped (MViT's spatial_pos.unsqueeze(0).expand(T, -1, -1)
            if numel(shape) % t.numel():  # .reshape(-1, D)): the PV keeps the last shape only, which is
                raise  # what the counts read (the values are a stand-in of that shape)
            return t.expand(numel(shape) // t.numel(), *t.shape).reshape(shape)
    if isinstance(v, torch.device) or (isinstance(v, str) and v == "meta"):
        return torch.device("cpu")
    if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
        return type(v)(real(imp, item) for item in v)
    if isinstance(v, dict):
        return {k: real(imp, item) for k, item in v.items()}
    return v


def _inputs(imp: Any, value: Any) -> list[Any]:
    """The PVs and CVs in `value`."""
    if isinstance(value, (PV, CV)):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _inputs(imp, item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _inputs(imp, item)]
    return []


def _evaluate(imp: Any, node: Any, args: tuple, kwargs: dict) -> Any:
    torch = imp.torch
    from . import op_work  # FlopCounterMode, once per kind of call
    sources = _inputs(imp, (args, kwargs))
    if mutating(node) and isinstance(args[0] if args else None, PV):  # its first argument is what changes
        raise Unsupported("changes a parameter or buffer in place")
    model = model_storages(imp)
    saved: dict[Any, int] = {}
    keep: list[Any] = []

    def pack(t: Any) -> Any:
        key, nbytes = storage_of(t)
        if key not in model and key not in saved:
            saved[key] = nbytes
        keep.append(t.detach())
        return t

    real_args, real_kwargs = real(imp, args), real(imp, kwargs)
    counter = op_work.counter(imp, node, real_args, real_kwargs)
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), counter:
            if node.op == "call_module":
                value = imp.gm.get_submodule(node.target)(*real_args, **real_kwargs)
            elif node.op == "call_method":
                value = getattr(real_args[0], node.target)(*real_args[1:], **real_kwargs)
            else:
                value = node.target(*real_args, **real_kwargs)
    except Exception as error:  # what torch says of the call, in the refusal
        raise Unsupported(f"computing it from the parameters failed: {type(error).__name__}: {error}") from None
    macs = counter.get_total_flops() // 2
    batched = any(n in batch_nodes_of(imp) for n in getattr(node, "all_input_nodes", ())) \
        or any(isinstance(v, CV) and v.batched for v in sources) or repeated_over_batch(node, sources, value)
    if batched and (macs or saved):  # work on a tensor made at the batch's size: per sample, as rows
        return _per_sample(imp, node, args, kwargs)
    params: dict[int, Any] = {}
    before: dict[Any, int] = {}
    work: dict[Any, tuple[int, int, int]] = {}
    for v in sources:
        if isinstance(v, CV):
            params.update(v.params)
            before.update(v.saved)
            keep.extend(v.keep)
            work.update(v.work)
        else:
            params.update((id(p), p) for p in params_of(v))
    if node.op == "call_module":  # a module's own parameters are no argument (Swin V2's MLP on a buffer)
        params.update((id(p), p) for p in imp.gm.get_submodule(node.target).parameters())
    before.update(saved)
    if macs:
        work[node] = (macs, *op_work.gradient_macs(imp, node, real_args, real_kwargs, value, _gradient_macs))
    source = next((v.source if isinstance(v, CV) else v.path for v in sources), _name(node))
    made = _wrap(imp, value, lambda t: CV(t, dict(params), dict(before), source, keep, batched, dict(work)))
    if mutating(node) and args and isinstance(args[0], CV):  # pos.add_(...): later readers of pos read this
        imp.rebind(node, made)
    return made


def _gradient_macs(imp: Any, node: Any, args: Any, kwargs: Any, value: Any) -> tuple[int, int]:
    """The MACs of the gradients backward computes for this op of making c (FlopCounterMode's
    backward formulas / 2): toward the computed tensors it reads (made of parameters) and toward
    the parameters it reads, each only where it needs one, as autograd does."""
    torch = imp.torch
    from torch.utils.flop_counter import FlopCounterMode
    read = [t for t in _tensors((args, kwargs)) if t.requires_grad]
    if node.op == "call_module":
        read += [p for p in imp.gm.get_submodule(node.target).parameters() if p.requires_grad]
    outputs = [t for t in _tensors(value) if t.requires_grad]
    counts = []
    for part in ([t for t in read if not t.is_leaf], [t for t in read if t.is_leaf]):
        counter = FlopCounterMode(display=False)
        if part and outputs:
            try:
                with counter:
                    torch.autograd.grad(outputs, part, [torch.ones_like(t) for t in outputs], retain_graph=True,
                                        allow_unused=True)
            except RuntimeError as error:
                raise Unsupported(f"the backward of a computation on parameters failed: {error}") from None
        counts.append(counter.get_total_flops() // 2)
    return counts[0], counts[1]


def _tensors(value: Any) -> list[Any]:
    if hasattr(value, "requires_grad") and hasattr(value, "is_leaf"):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    return []


def _wrap(imp: Any, value: Any, make: Any) -> Any:
    if isinstance(value, imp.torch.Tensor):
        return make(value)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_wrap(imp, v, make) for v in value)
    return value


# --- meeting the input ---

_ELEMENTWISE = {"add": "add", "iadd": "add", "sub": "sub", "rsub": "rsub", "mul": "mul", "imul": "mul",
                "truediv": "div", "div": "div", "multiply": "mul", "subtract": "sub"}


def _name(node: Any) -> str:
    target = node.target
    packet = getattr(target, "overloadpacket", None)
    if packet is not None:
        return getattr(packet, "__name__", "")
    if isinstance(target, str):
        return target
    return getattr(target, "__name__", "")


def _consume(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    name = _name(node).rstrip("_")
    if batch_sized_operands(imp, args, kwargs):  # RAFT's coordinate grids: rows that make them per sample
        return _per_sample(imp, node, args, kwargs)
    if name in _ELEMENTWISE and len(args) >= 2:
        return _elementwise(imp, node, _ELEMENTWISE[name], args[0], arg(args, kwargs, 1, "other"), kwargs, result)
    if name in ("cat", "concat", "concatenate"):
        return _tokens(imp, args, kwargs, result)
    if name in ("conv1d", "conv2d", "conv3d", "convolution", "linear") and node.op != "call_module" \
            and isinstance(arg(args, kwargs, 1, "weight"), CV):
        return _computed_weight(imp, node, args, kwargs, result)
    if name == "linear" or (node.op == "call_module" and type(imp.gm.get_submodule(node.target)).__name__ == "Linear"):
        return _linear(imp, node, args, kwargs, result)
    handler = imp.handler(node) if node.op != "call_module" else None
    if handler is not None and getattr(handler, "takes_computed", False):  # matmul, einsum: computed_products.py
        return handler(imp, node, args, kwargs, result)
    if name in ("scaled_dot_product_attention", "_scaled_dot_product_attention") \
            and isinstance(arg(args, kwargs, 3, "attn_mask"), CV):
        return _mask(imp, node, args, kwargs, result)
    raise Unsupported("reads the input and a tensor computed from parameters and buffers only (taken: "
                      "+ - * / with the input, tokens before a sequence, a linear's bias, a convolution's or "
                      "linear's weight, attention's mask, a matmul's or einsum's second operand)")


def _as_cv(imp: Any, v: Any) -> CV:
    if isinstance(v, CV):
        return v
    return CV(real(imp, v), {id(p): p for p in params_of(v)}, {}, v.path)


def _elementwise(imp: Any, node: Any, op: str, a: Any, b: Any, kwargs: dict, result: Any) -> TV:
    """x op c or c op x: one `computed` row."""
    if kwargs.get("alpha", 1) != 1:
        raise Unsupported("a scaled addition of a computed tensor")
    reverse = False
    if op == "rsub":  # aten.rsub(x, c): c - x
        op, a, b = "sub", b, a
    if isinstance(b, TV) and isinstance(a, (PV, CV)):
        a, b, reverse = b, a, True
    if not isinstance(a, TV) or not isinstance(b, (PV, CV)):
        raise Unsupported(f"{op} of a computed tensor and {type(a).__name__}")
    if reverse and op in ("add", "mul"):
        reverse = False
    c = _as_cv(imp, b)
    x = imp.tensor(a)
    v = _emit(imp, node, x, c, op, reverse, result)
    return imp.rebind(node, v) if mutating(node) else v


def _shape(x: TV, c: CV) -> tuple[int, ...]:
    """c's shape per sample: its leading size-1 dims beyond x's rank are the batch's."""
    shape = c.shape
    while len(shape) > len(x.shape) and shape[0] == 1:
        shape = shape[1:]
    if len(shape) > len(x.shape):
        raise Unsupported(f"a computed tensor of shape {c.shape} that does not broadcast over the batch")
    return shape


def _emit(imp: Any, node: Any, x: TV, c: CV, op: str, reverse: bool, result: Any) -> TV:
    charged = charged_storages(imp, c)
    saved_keys = [k for k in c.saved if k not in charged]
    saved = sum(c.saved[k] for k in saved_keys)
    grad = bool(c.tensor.requires_grad)
    key, nbytes = storage_of(c.tensor)
    saves_c = op in ("mul", "div")  # autograd keeps c for x's gradient
    if saves_c and key not in charged and key not in saved_keys and key not in model_storages(imp):
        saved_keys.append(key)
        saved += nbytes
    element = c.tensor.element_size()
    if saved % element:
        raise Unsupported("a computed tensor whose saved bytes are not whole elements")
    new = {i: p for i, p in c.params.items() if i not in imp.owner}
    layer = Computed(op=cast("Literal['add', 'sub', 'mul', 'div']", op),  # _elementwise's ops (Computed checks)
                     reverse=reverse, shape=_shape(x, c), weights=sum(p.numel() for p in new.values()),
                     saved=saved // element, grad=grad, source=c.source, **work_once(imp, c))
    out = layer.out_shape(x.shape)
    if out != imp.out(result):
        raise Unsupported(f"a computed tensor broadcast to {out}, traced {imp.out(result)}")
    base = (c.source.rpartition(".")[2] or op) if c.source else op
    v = imp.emit(layer, [x], out, base=base)
    for i in new:
        imp.owner[i] = v.leaf
    charged.update(saved_keys)
    return v


def _tokens(imp: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """torch.cat((cls.expand(N, -1, -1), dist.expand(N, -1, -1), x), 1): parameters prepended
    to a sequence (DeiT's class and distillation tokens): one tokens row."""
    items = list(arg(args, kwargs, 0, "tensors"))
    dim = arg(args, kwargs, 1, "dim", kwargs.get("axis", 0))
    x = items[-1]
    if not isinstance(x, TV) or not all(isinstance(v, PV) for v in items[:-1]):
        raise Unsupported("concatenation of the input with computed tensors (other than tokens before it)")
    x = imp.tensor(x)
    rank = len(x.shape) + 1
    count, params = 0, []
    for p in items[:-1]:  # (1, k, D) or (D,) seen as (N, k, D): the batch's expand of k tokens
        t, seen = tuple(p.tensor.shape), tuple(p.shape)
        if dim % rank != 1 or len(seen) != rank or seen[0] != BATCH or seen[2:] != x.shape[1:] \
                or numel(t) != numel(seen[1:]) or not params_of(p):
            raise Unsupported(f"concatenation of a {'x'.join(map(str, t))} parameter with a tensor")
        count += seen[1]
        params.extend(params_of(p))
    return imp.emit(Tokens(count=count), [x], (x.shape[0] + count, *x.shape[1:]), base="tokens", params=params)


def _linear(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.linear(x, weight, bias) with a computed bias (BEiT's cat of q_bias, a buffer of zeros
    and v_bias): the linear without bias, then + the bias (the same MACs and saved tensors: addmm
    saves x and the weight, the bias add nothing)."""
    if node.op == "call_module":
        raise Unsupported("a linear module reading a computed tensor")
    x, weight, bias = args[0], arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    if not isinstance(x, TV) or not isinstance(weight, PV) or not isinstance(bias, CV) or not params_of(weight):
        raise Unsupported("a linear with computed weights")
    x = imp.tensor(x)
    out = imp.out(result)
    y = linear(imp, x, int(weight.shape[0]), False, params_of(weight), out)
    return _emit(imp, node, y, bias, "add", False, result)


def _computed_weight(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.conv2d(x, w, bias) (or F.linear, aten.convolution) with w computed from parameters
    (timm's ScaledStdConv2d and StdConv2d: the weight standardised per output channel by a batch
    norm over its (1, O, -1) view, times a gain): a `computed` row of op weight (the parameters w
    is made of other than the one of w's shape, which the op counts; what making w saved; w
    itself, which the op saves), then the op, as if on that parameter (the same MACs, and the
    same input saved)."""
    x, c = args[0], arg(args, kwargs, 1, "weight")
    bias = arg(args, kwargs, 2, "bias")
    if not isinstance(x, TV) or (bias is not None and not isinstance(bias, PV)):
        raise Unsupported("a convolution or linear with a computed weight and a computed bias or input")
    own = [p for p in c.params.values() if tuple(p.shape) == c.shape]
    if len(own) != 1:
        raise Unsupported(f"a weight computed from parameters none (or more than one) of which has its shape {c.shape}")
    charged = charged_storages(imp, c)
    keys = [k for k in c.saved if k not in charged]
    saved = sum(c.saved[k] for k in keys)
    key = storage_of(c.tensor)[0]
    if key in c.saved or key in charged or key in model_storages(imp) or saved % c.tensor.element_size():
        raise Unsupported("a computed weight saved while it was made")
    x = imp.tensor(x, ("std", "nhwc")) if len(c.shape) == 2 else imp.tensor(x)
    new = {i: p for i, p in c.params.items() if i not in imp.owner and p is not own[0]}
    layer = Computed(op="weight", shape=c.shape, weights=sum(p.numel() for p in new.values()),
                     saved=saved // c.tensor.element_size(), source=c.source, **work_once(imp, c))
    v = imp.emit(layer, [x], x.shape, base=f"{c.source.rpartition('.')[2] or 'weight'}_made", form=x.form)
    for i in new:
        imp.owner[i] = v.leaf
    charged.update(keys)
    charged.add(key)
    weight = PV(c.source, own[0], c.shape)
    args = (v, *args[1:])
    if "weight" in kwargs:
        kwargs = {**kwargs, "weight": weight}
    else:
        args = (v, weight, *args[2:])
    handler = imp.handler(node)
    if handler is None:
        raise Unsupported("")
    return handler(imp, node, args, kwargs, result)


def _mask(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.scaled_dot_product_attention(q, k, v, attn_mask=c) with c computed from parameters
    (BEiT's relative position bias, (1, heads, L, L)): a `computed` row of op tensor (c, one for
    the batch, its parameters and what making it saved), read by the attention as its mask."""
    q, c = arg(args, kwargs, 0, "query"), arg(args, kwargs, 3, "attn_mask")
    if not isinstance(q, TV) or holds((args[:3], {k: v for k, v in kwargs.items() if k != "attn_mask"}), CV):
        raise Unsupported("attention whose q, k or v is computed from parameters")
    q = imp.tensor(q)
    v = tensor_row(imp, q, c, _shape(q, c), "mask")
    if "attn_mask" in kwargs:
        kwargs = {**kwargs, "attn_mask": v}
    else:
        args = (*args[:3], v, *args[4:])
    handler = imp.handler(node)
    if handler is None:
        raise Unsupported("")
    return handler(imp, node, args, kwargs, result)


def tensor_row(imp: Any, x: TV, c: CV, shape: tuple[int, ...], base: str) -> TV:
    """c as an operand of a per-sample op beside x (the relative position table an einsum reads),
    seen with its dims in the op's order (`shape`): a `computed` row of op tensor (c, one for the
    batch: its parameters counted once and what making it saved, once per forward)."""
    charged = charged_storages(imp, c)
    keys = [k for k in c.saved if k not in charged]
    saved = sum(c.saved[k] for k in keys)
    if saved % c.tensor.element_size():
        raise Unsupported("a computed tensor whose saved bytes are not whole elements")
    new = {i: p for i, p in c.params.items() if i not in imp.owner}
    layer = Computed(op="tensor", shape=shape, weights=sum(p.numel() for p in new.values()),
                     saved=saved // c.tensor.element_size(), grad=bool(c.tensor.requires_grad), source=c.source,
                     **work_once(imp, c))
    v = imp.emit(layer, [x], shape, base=(c.source.rpartition(".")[2] or base))
    for i in new:
        imp.owner[i] = v.leaf
    charged.update(keys)
    return v


# --- made at the batch's size ---

def _per_sample(imp: Any, node: Any, args: tuple, kwargs: dict) -> Any:
    """A node with MACs reading tensors made at the batch's size (EdgeNeXt's and XCiT's Fourier
    position encoding, made from torch.zeros(B, H, W), then a convolution): each such tensor
    becomes a row that makes it per sample (`computed`, op expand), and the node is imported as
    any other."""
    made: dict[int, TV] = {}

    def swap(v: Any) -> Any:
        if isinstance(v, CV) and v.batched:
            if id(v) not in made:
                made[id(v)] = _expand(imp, v)
            return made[id(v)]
        if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
            return type(v)(swap(item) for item in v)
        if isinstance(v, dict):
            return {k: swap(item) for k, item in v.items()}
        return v
    args, kwargs = swap(args), swap(kwargs)
    if holds((args, kwargs), CV):
        raise Unsupported("work on a tensor made at the batch's size and on a tensor computed from parameters")
    return imp.dispatch(node, args, kwargs, imp.results.get(node))


def _expand(imp: Any, c: CV) -> TV:
    """c made at the batch's size, every sample the same (torch.zeros(B, H, W), or made from
    parameters then expanded or repeated over the batch: ConViT's positional scores, XCiT's
    projected Fourier encoding): one row making it per sample, with what making it took once."""
    t = c.tensor
    if not t.is_floating_point() or t.dim() < 2 or t.shape[0] % BATCH:
        raise Unsupported("a tensor made at the batch's size that is not floating point")
    per_sample = t.reshape(BATCH, -1)
    if not bool((per_sample == per_sample[:1]).all()):
        raise Unsupported("a tensor made at the batch's size whose samples differ")
    charged = charged_storages(imp, c)
    keys = [k for k in c.saved if k not in charged]
    saved = sum(c.saved[k] for k in keys)
    if saved % t.element_size():
        raise Unsupported("a computed tensor whose saved bytes are not whole elements")
    new = {i: p for i, p in c.params.items() if i not in imp.owner}
    fold = int(t.shape[0]) // BATCH  # (N*k, ...): k rows per sample, the batch folded in (TV.folded)
    shape = tuple(int(d) for d in t.shape[1:]) if fold == 1 else (fold, *(int(d) for d in t.shape[1:]))
    layer = Computed(op="expand", shape=shape, grad=bool(t.requires_grad), weights=sum(p.numel() for p in new.values()),
                     saved=saved // t.element_size(), source=c.source, **work_once(imp, c))
    folding, imp.folding = imp.folding, False  # made per sample: not a row on the folded operand
    try:
        v = imp.emit(layer, [TV(0, imp.input_shape)], shape, base=(c.source.rpartition(".")[2] or "constant"))
    finally:
        imp.folding = folding
    v.folded = fold > 1
    for i in new:
        imp.owner[i] = v.leaf
    charged.update(keys)
    return v


def repeated_over_batch(node: Any, sources: list[Any], value: Any) -> bool:
    """`c[None].repeat(N, 1, 1, 1)` (or expand) of a tensor without the batch, N the batch as
    torch.export writes it (a number, not a `size` node to note): made at the batch's size (RAFT's
    coordinate grids; ConViT's `pos_proj(rel_indices).expand(B, -1, -1, -1)`)."""
    shape = tuple(getattr(value, "shape", ()))
    return _name(node) in ("repeat", "expand") and shape[:1] == (BATCH,) and bool(sources) \
        and all(isinstance(v, (CV, PV)) and (len(v.shape) < len(shape) or v.shape[:1] == (1,)) for v in sources)


def batch_sized_operands(imp: Any, args: tuple, kwargs: dict) -> bool:
    """Whether every computed operand of a node that reads the input was made at the batch's size
    (`CV.batched`, torch.arange(...).repeat(N, ...) and what follows) with the batch as the first
    dim (N*k rows, k per sample): each is made per sample by a row (`_expand`, with what making
    it took once: XCiT's projected encoding repeated over the batch) and the node is imported as
    any other. Each lines up with the input
    tensors it meets: their torch rank, their first dim (the batch, or N*k where k is folded in)."""
    found = _inputs(imp, (args, kwargs))
    tensors = [v for v in _flat((args, kwargs)) if isinstance(v, TV)]
    torch_shapes = {(len(v.shape) + (not v.folded), BATCH * (v.shape[0] if v.folded else 1)) for v in tensors}
    return bool(found) and len(torch_shapes) == 1 and all(
        isinstance(v, CV) and v.batched
        and (v.tensor.dim(), int(v.tensor.shape[0])) in torch_shapes for v in found)


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flat(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _flat(item)]
    return [value]
