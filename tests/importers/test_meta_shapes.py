"""The shape rules of the meta recording (`importers/torch/meta_shapes.py`) give what torch's meta
kernels give: the same shape, dtype and strides (in place: the input itself), and nothing where
torch raises, so that torch's own error is what the user sees."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
F = torch.nn.functional
meta_shapes = pytest.importorskip("cnncost.importers.torch.meta_shapes")


def m(*shape: int, dtype=None):
    return torch.empty(*shape, device="meta", dtype=dtype or torch.float32)


def nhwc(n: int, c: int, h: int, w: int):
    return m(n, c, h, w).contiguous(memory_format=torch.channels_last)


def permuted(n: int, c: int, h: int, w: int):
    return m(n, c, h, w).permute(0, 2, 3, 1)  # ConvNeXt's channels-last view


def half(n: int, c: int, h: int, w: int, second: bool = False):
    return m(n, c, h, w).chunk(2, dim=1)[int(second)]  # ShuffleNet's chunk: dense planes, not contiguous


T = torch.Tensor
CASES = [
    # element-wise
    (F.relu, (m(2, 8, 5, 5),), {"inplace": False}),
    (F.relu, (m(2, 8, 5, 5),), {"inplace": True}),
    (F.relu, (permuted(2, 8, 5, 5),), {"inplace": False}),
    (F.silu, (nhwc(2, 8, 5, 5),), {"inplace": False}),
    (F.hardswish, (m(2, 8, 5, 5),), {"inplace": True}),
    (F.hardsigmoid, (m(2, 8),), {"inplace": False}),
    (F.mish, (m(2, 8, 3),), {"inplace": False}),
    (F.relu6, (m(2, 8, 5, 5),), {"inplace": False}),
    (torch.sigmoid, (permuted(2, 8, 5, 5),), {}),
    (T.sigmoid, (m(2, 8, 1, 1),), {}),
    (torch.tanh, (m(2, 8),), {}),
    (T.relu, (m(2, 8),), {}),
    (F.gelu, (permuted(2, 8, 5, 5),), {}),
    (F.gelu, (m(2, 8),), {"approximate": "tanh"}),
    (F.gelu, (m(2, 8),), {"approximate": "cubic"}),  # torch raises
    (F.hardtanh, (m(2, 8, 5, 5),), {"min_val": 0.0, "max_val": 6.0, "inplace": False}),
    (F.hardtanh, (m(2, 8, 5, 5),), {"min_val": 6.0, "max_val": 0.0, "inplace": False}),  # torch raises
    (T.clamp, (m(2, 8, 5, 5), 0, 6), {}),
    (torch.clamp, (m(2, 8, 5, 5),), {"min": 0.0}),
    (F.dropout, (m(2, 8, 5, 5),), {"p": 0.2, "training": True, "inplace": False}),
    (F.dropout, (m(2, 8, 5, 5),), {"p": 0.2, "training": True, "inplace": True}),
    (F.dropout, (m(2, 8, 5, 5),), {"p": 1.5, "training": True, "inplace": False}),  # torch raises
    (F.normalize, (permuted(2, 8, 5, 5),), {"p": 2.0, "dim": -1, "eps": 1e-12, "out": None}),
    (F.normalize, (m(2, 8),), {"p": 2.0, "dim": 2, "eps": 1e-12, "out": None}),  # torch raises
    (T.add, (m(2, 8, 5, 5), m(2, 8, 5, 5)), {}),
    (T.add, (m(2, 8, 5, 5), m(2, 8, 1, 1)), {}),
    (T.mul, (m(2, 8, 1, 1), m(2, 8, 5, 5)), {}),
    (T.mul, (m(2, 8, 1, 1), m(2, 8, 1, 1)), {}),
    (T.mul, (m(2, 8, 5, 5), m(8, 1, 1)), {}),
    (T.mul, (permuted(2, 8, 5, 5), 0.5), {}),
    (T.mul, (permuted(2, 8, 5, 5), m(8)), {}),
    (T.add, (nhwc(2, 8, 5, 5), nhwc(2, 8, 5, 5)), {}),
    (T.sub, (m(2, 8, 5, 5), m(2, 8, 5, 5)), {}),
    (torch.add, (m(2, 8, 5, 5), m(2, 8, 5, 5)), {"alpha": 2}),
    (T.add, (m(2, 8, 5, 5), m(2, 7, 5, 5)), {}),  # torch raises
    (T.add, (m(2, 8, 5, 5), m(2, 8, 5, 5, dtype=torch.float16)), {}),
    (T.add_, (m(2, 8, 5, 5), m(2, 8, 1, 1)), {}),
    (T.mul_, (m(2, 8, 5, 5), 2.0), {}),
    (T.add_, (m(2, 8, 1, 1), m(2, 8, 5, 5)), {}),  # torch raises: the result does not fit in place
    # norms
    (F.batch_norm, (m(2, 8, 5, 5), m(8), m(8), m(8), m(8), True, 0.1, 1e-5), {}),
    (F.batch_norm, (m(2, 8, 5, 5), m(8), m(8), None, None, False, 0.1, 1e-5), {}),
    (F.batch_norm, (m(2, 8), None, None, m(8), m(8), True, 0.1, 1e-5), {}),
    (F.batch_norm, (nhwc(2, 8, 5, 5), m(8), m(8), m(8), m(8), True, 0.1, 1e-5), {}),
    (F.batch_norm, (m(1, 8, 1, 1), m(8), m(8), m(8), m(8), True, 0.1, 1e-5), {}),  # torch raises
    (F.batch_norm, (m(2, 8, 5, 5), m(7), m(7), m(7), m(7), True, 0.1, 1e-5), {}),  # torch raises
    (F.layer_norm, (m(2, 5, 5, 8), (8,)), {"weight": m(8), "bias": m(8), "eps": 1e-6}),
    (F.layer_norm, (permuted(2, 8, 5, 5), (8,)), {"weight": m(8), "bias": m(8), "eps": 1e-6}),
    (F.layer_norm, (m(2, 8, 5, 5), (8, 5, 5)), {"weight": None, "bias": None, "eps": 1e-5}),
    (F.layer_norm, (m(2, 5, 5, 8), (5,)), {"weight": None, "bias": None, "eps": 1e-5}),  # torch raises
    # weighted
    (F.linear, (m(2, 8), m(4, 8), m(4)), {}),
    (F.linear, (permuted(2, 8, 5, 5), m(4, 8), m(4)), {}),
    (F.linear, (m(2, 3, 8), m(4, 8)), {}),
    (F.linear, (m(2, 3, 8), m(4, 7)), {}),  # torch raises
    (torch.conv2d, (m(2, 3, 32, 32), m(8, 3, 3, 3), m(8), (1, 1), (1, 1), (1, 1), 1), {}),
    (torch.conv2d, (m(2, 3, 32, 32), m(8, 3, 7, 7), None, (2, 2), (3, 3), (1, 1), 1), {}),
    (torch.conv2d, (m(2, 8, 15, 15), m(8, 1, 5, 5), m(8), (2, 2), (2, 2), (1, 1), 8), {}),
    (torch.conv2d, (m(2, 8, 9, 9), m(16, 4, 3, 3), m(16), (1, 1), (2, 2), (2, 2), 2), {}),
    (torch.conv2d, (m(2, 8, 1, 1), m(4, 8, 1, 1), m(4), (1, 1), (0, 0), (1, 1), 1), {}),
    (torch.conv2d, (m(2, 8, 10, 10), m(4, 8, 4, 4), m(4), 1, "same", 1, 1), {}),
    (torch.conv2d, (m(2, 8, 10, 10), m(4, 8, 3, 3), m(4), 1, "valid", 1, 1), {}),
    (torch.conv2d, (m(2, 8, 10, 10), m(4, 8, 3, 3), m(4), 2, "same", 1, 1), {}),  # torch raises
    (torch.conv2d, (m(2, 8, 3, 3), m(4, 8, 5, 5), m(4), 1, 0, 1, 1), {}),  # torch raises: kernel > input
    (torch.conv2d, (m(2, 8, 10, 10), m(4, 3, 3, 3), m(4), 1, 0, 1, 1), {}),  # torch raises: channels
    (torch.conv2d, (nhwc(2, 8, 10, 10), m(4, 8, 3, 3), m(4), 1, 1, 1, 1), {}),
    (torch.conv2d, (half(2, 16, 10, 10, True), m(4, 8, 3, 3), m(4), 1, 1, 1, 1), {}),
    (torch.conv2d, (half(2, 16, 10, 10), m(8, 1, 3, 3), None, 2, 1, 1, 8), {}),
    (torch.conv2d, (half(2, 16, 1, 1), m(4, 8, 1, 1), m(4), 1, 0, 1, 1), {}),
    (torch.conv2d, (half(2, 16, 10, 10), m(4, 4, 3, 3), m(4), 1, 1, 1, 1), {}),  # torch raises: channels
    # pools, joins, moves
    (F.adaptive_avg_pool2d, (m(2, 8, 7, 7), 1), {}),
    (F.adaptive_avg_pool2d, (m(2, 8, 7, 7), (2, None)), {}),
    (F.adaptive_avg_pool2d, (m(8, 7, 7), (3, 3)), {}),
    (F.adaptive_avg_pool2d, (nhwc(2, 8, 7, 7), 1), {}),
    (F.adaptive_avg_pool2d, (m(2, 8, 0, 7), 1), {}),  # torch raises
    (torch.cat, ([m(2, 8, 5, 5), m(2, 4, 5, 5)], 1), {}),
    (torch.cat, ([m(2, 8, 1, 1), m(2, 4, 1, 1)],), {"dim": 1}),
    (torch.cat, ([m(2, 8, 5, 5), m(2, 8, 5, 5)], -1), {}),
    (torch.cat, ([nhwc(2, 8, 5, 5), nhwc(2, 4, 5, 5)], 1), {}),
    (torch.cat, ([m(2, 8, 5, 5), m(2, 4, 4, 5)], 1), {}),  # torch raises
    (torch.cat, ([half(2, 16, 5, 5), m(2, 4, 5, 5)], 1), {}),
    (torch.cat, ([half(2, 16, 5, 5), half(2, 16, 5, 5, True)], 1), {}),
    (torch.cat, ([nhwc(2, 8, 5, 5), half(2, 16, 5, 5)], 1), {}),
    (torch.cat, ([half(2, 16, 1, 1), m(2, 4, 1, 1)], 1), {}),
    (torch.cat, ([half(2, 16, 5, 5), m(2, 4, 4, 5)], 1), {}),  # torch raises
    (torch.roll, (m(2, 5, 5, 8),), {"shifts": (-2, -2), "dims": (1, 2)}),
    (torch.roll, (permuted(2, 8, 5, 5), 1, 1), {}),
]


def _call(func, args, kwargs):
    try:
        return func(*args, **kwargs), None
    except Exception as error:  # noqa: BLE001 - what torch raises, to compare with
        return None, error


@pytest.mark.parametrize("case", range(len(CASES)))
def test_rule_gives_what_the_meta_kernel_gives(case: int) -> None:
    func, args, kwargs = CASES[case]
    rule = meta_shapes.RULES[func]
    got = rule(*args, **kwargs)
    expected, error = _call(func, args, kwargs)
    if error is not None:
        assert got is None, f"torch raises {error!r}; the rule gave a tensor"
        return
    if got is None:
        return  # the rule leaves this call to torch
    assert (tuple(got.shape), got.stride(), got.dtype, got.device.type) == \
        (tuple(expected.shape), expected.stride(), expected.dtype, expected.device.type)
    assert (got is args[0]) == (expected is args[0])  # in place: the input itself


def test_rules_answer_contiguous_inputs() -> None:
    """The rules answer (not only decline) every call on contiguous tensors of one dtype that torch
    runs, where recording spends its time; a zero-size map is left to torch."""
    def contiguous(args) -> bool:
        tensors = [t for a in args for t in (a if isinstance(a, list) else [a]) if isinstance(t, torch.Tensor)]
        return all(t.is_contiguous() and t.dtype == tensors[0].dtype and t.numel() for t in tensors)

    for func, args, kwargs in CASES:
        if contiguous(args) and _call(func, args, kwargs)[1] is None:
            assert meta_shapes.RULES[func](*args, **kwargs) is not None, (func, args, kwargs)


def test_rules_never_answer_for_real_tensors() -> None:
    x = torch.empty(2, 8, 5, 5)
    assert meta_shapes.RULES[F.relu](x, inplace=False) is None
    assert meta_shapes.RULES[torch.Tensor.add](x, x) is None
    assert meta_shapes.RULES[torch.conv2d](x, torch.empty(4, 8, 3, 3)) is None


def test_the_mode_answers_and_leaves_the_rest_to_torch() -> None:
    with meta_shapes.ShapeRules():
        y = F.linear(m(2, 3, 8), m(4, 8))
        z = torch.flatten(m(2, 8, 5, 5), 1)  # no rule: torch's meta kernel
        with pytest.raises(RuntimeError):
            F.linear(m(2, 3, 8), m(4, 7))
    assert tuple(y.shape) == (2, 3, 4) and tuple(z.shape) == (2, 200)


def test_rules_answer_channel_chunks() -> None:
    """A convolution or a cat of a chunk of a map's channels (ShuffleNet's) is answered, as torch's
    meta kernel gives it (contiguous), not left to torch's Python decomposition."""
    x = half(2, 16, 10, 10, True)
    got = meta_shapes.RULES[torch.conv2d](x, m(4, 8, 3, 3), m(4), 1, 1, 1, 1)
    assert got is not None and got.stride() == torch.conv2d(x, m(4, 8, 3, 3), m(4), 1, 1, 1, 1).stride()
    got = meta_shapes.RULES[torch.cat]([half(2, 16, 5, 5), m(2, 4, 5, 5)], 1)
    assert got is not None and got.is_contiguous() and tuple(got.shape) == (2, 12, 5, 5)
