"""`cnncost calibrate`: measure this machine through PyTorch and write a profile of it.

Within a time budget: matmul and conv throughput per dtype (fp32, bf16 where it runs; on CUDA also
tf32 and fp16) and shape class (large: grown until one run is long enough to time, within the
budget; small: a fixed small shape), copy bandwidth and a tiny op's time (the
per-op launch overhead). Each figure is the median of repeats, timed with time.perf_counter (CUDA:
CUDA events). PyTorch is imported here only.

The profile's peaks are the best any measured kernel reached on that unit (so every achievable
fraction is <= 1): `matrix[dtype]` the best of the large matmul and the convs, the conv and
matmul fractions their rates over it; memory bandwidth is the copy's (its fraction 1); the
launch overhead a tiny op's time in a training step (forward and backward), else a lone op's.
Raw figures the time model reads where present (`cnncost.timing.model`), each measured on the shape
classes nets run rather than fitted to them: `conv.DTYPE.kK`, 3x3 convs at reduction lengths
K = 9 x channels (a conv's rate follows its reduction length); `conv_net.DTYPE` and `conv_grad.DTYPE`,
the forward and the gradients (input and weight) of convs of a net's shapes (`CONV_SHAPES`: their
ratio scales a conv's forward rate for its gradient passes); `conv.DTYPE.mM`, 3x3 convs of few GEMM
rows (M = batch x positions: the rows correction); `depthwise.fp32`, `batchnorm.fp32` and their
`_grad` (forward and gradients apart, at a net's shapes: `DEPTHWISE_SHAPES`, `NORM_SHAPES`);
`maxpool.fp32` (pooling runs far below the vector peak, and below the copy bandwidth, on a CPU);
`conv_call_ns` (a tiny conv's time: the conv library's own overhead per call) and, on a CPU,
`page_fault` (bytes/s of first writes to fresh pages, which large weight gradients pay every step).
Timed with one clock throughout (`--clock cpu`: the process's CPU time, for a loaded machine with
one thread), so the figures do not depend on how busy the machine is beyond its caches.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import CnnCostError
from .profile import HardwareProfile

MIN_REPEATS, MAX_REPEATS = 3, 25
REDUCTION_CHANNELS = (16, 64, 128, 256)  # 3x3 convs: reduction lengths 144, 576, 1152, 2304
ROWS_SIDES = (4, 8)  # 3x3 convs 64 -> 64 at batch 2 on 4x4 and 8x8: 32 and 128 GEMM rows
# (channels, side, batch, kernel) of the per-channel ops measured at a net's shapes: MobileNet- and
# EfficientNet-like depthwise convs (3x3 and 5x5) and ResNet-like norms at 128x128 inputs, small and
# large batches (their rates vary with size)
DEPTHWISE_SHAPES = ((32, 64, 2, 3), (96, 32, 2, 3), (144, 32, 8, 3), (192, 16, 4, 3), (576, 8, 8, 3),
                    (240, 16, 8, 5), (672, 8, 2, 5))
NORM_SHAPES = ((96, 32, 2, 1), (144, 32, 8, 1), (256, 16, 4, 1), (64, 56, 8, 1))
# (kernel, in, out channels, side, batch) of convs like a net's: 3x3 and 1x1, short and long reductions
CONV_SHAPES = ((3, 64, 64, 32, 2), (1, 64, 256, 16, 2), (1, 256, 64, 16, 4), (3, 128, 128, 16, 4), (1, 16, 96, 32, 2),
               (1, 512, 512, 4, 2), (1, 32, 192, 16, 8))


CLOCKS = ("wall", "cpu")


@dataclass
class _Timer:
    """Seconds of one call of fn: perf_counter on the CPU (or, clock "cpu", the process's CPU time:
    on a machine shared with other jobs, time slices lost to them do not count; meant for one
    thread), CUDA events on a GPU."""
    torch: Any
    cuda: bool
    clock: str = "wall"
    flush: Any = None  # a CPU tensor past the last-level cache, written before each timed call (untimed)

    def __call__(self, fn: Callable[[], Any]) -> float:
        if not self.cuda:
            if self.flush is not None:  # each run starts with cold caches, as an op inside a net does
                self.flush.add_(1.0)
            now = time.process_time if self.clock == "cpu" else time.perf_counter
            start = now()
            fn()
            return now() - start
        begin, end = (self.torch.cuda.Event(enable_timing=True) for _ in range(2))
        begin.record()
        fn()
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) / 1e3


class _Clock:
    """The budget: each measurement gets a share of what is left."""

    def __init__(self, budget: float, start: float) -> None:
        self.deadline = start + budget

    def left(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())


def _median(timer: _Timer, fn: Callable[[], Any], slice_s: float) -> tuple[float, int]:
    """Median seconds of fn over repeats within slice_s (one warm-up first, at least one timed run)."""
    end = time.perf_counter() + slice_s
    fn()  # warm-up: allocation, kernel selection, page faults
    times = [timer(fn)]
    while len(times) < MAX_REPEATS and (len(times) < MIN_REPEATS or time.perf_counter() < end):
        if len(times) >= MIN_REPEATS and time.perf_counter() + times[-1] > end:
            break
        times.append(timer(fn))
    return statistics.median(times), len(times)


def _grow(timer: _Timer, make: Callable[[int], tuple[Callable[[], Any], int, str]], sizes: list[int],
          slice_s: float, power: int = 1) -> tuple[float, str, int]:
    """(work per second, shape text, repeats) at the largest size whose repeats fit in slice_s."""
    end = time.perf_counter() + slice_s
    fn, work, shape = make(sizes[0])
    best = None
    for index, size in enumerate(sizes):
        if index:
            fn, work, shape = make(size)
        fn()  # a first call pays for allocation and kernel selection: time the second
        seconds = timer(fn)
        best = (fn, work, shape, seconds)
        growth = (sizes[index + 1] / size) ** power if index + 1 < len(sizes) else 1.0
        # stop growing once a run is long enough to time well, or the next one would not fit
        if seconds > 0.05 * slice_s or time.perf_counter() + seconds * growth * (MIN_REPEATS + 2) > end:
            break
    assert best is not None
    fn, work, shape, _ = best
    median, repeats = _median(timer, fn, max(0.0, end - time.perf_counter()))
    return work / max(median, 1e-9), shape, repeats


def calibrate(*, budget_seconds: float = 60.0, device: str = "cpu", name: str | None = None,
              clock: str = "wall") -> HardwareProfile:
    """Measure this machine (device cpu or cuda) within budget_seconds; its profile. The budget
    counts from when PyTorch is imported (its import, a few seconds, comes before). `clock`
    "cpu" times the CPU with the process's CPU time instead of the wall clock."""
    if clock not in CLOCKS:
        raise CnnCostError(f"unknown clock '{clock}'; clocks: {', '.join(CLOCKS)}")
    try:
        import torch
    except ImportError as error:
        if getattr(error, "name", "") != "torch":
            raise
        raise CnnCostError("cnncost calibrate needs PyTorch: pip install 'cnncost[torch]'") from None
    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise CnnCostError("--device cuda: PyTorch sees no CUDA device here (torch.cuda.is_available() is False)")
    dev = torch.device(device)
    # The rates the model reads are timed from partly evicted caches (on a CPU: half the last-level
    # cache written first, `_flush_bytes`): a net's op finds much of its data evicted by the layers
    # between, and a microbenchmark repeating one op on the same tensors would find it all cached on
    # a quiet machine and evicted on a busy one (its rates then followed the machine's load: 20-30%
    # apart here). The overheads, the copy and the page test: as they run.
    plain = _Timer(torch, cuda, clock)
    timer = _Timer(torch, cuda, clock, None if cuda else torch.zeros(_flush_bytes() // 4))
    budget = _Clock(budget_seconds, time.perf_counter())
    dtypes = ["fp32", "tf32", "fp16", "bf16"] if cuda else ["fp32", "bf16"]
    torch_dtype = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    plan: list[tuple[str, Callable[[float], Any]]] = []
    measured: dict[str, int] = {}
    sources: dict[str, str] = {}
    where = (f"cnncost calibrate on {'CUDA' if cuda else 'CPU'} ({_threads(torch, cuda)}"
             f"{', process CPU time' if clock == 'cpu' and not cuda else ''}), torch {torch.__version__}")

    def tf32(enabled: bool) -> None:
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = enabled
            torch.backends.cudnn.allow_tf32 = enabled

    def record(key: str, value: float, text: str) -> None:
        measured[key] = max(1, round(value))
        sources[f"measured.{key}"] = f"{where}: {text}"

    def matmul(dtype: str, shape_class: str) -> Callable[[float], Any]:
        def run(slice_s: float) -> None:
            def make(n: int) -> tuple[Callable[[], Any], int, str]:
                a = torch.randn(n, n, device=dev).to(torch_dtype[dtype])
                b = torch.randn(n, n, device=dev).to(torch_dtype[dtype])
                out = torch.empty(n, n, device=dev, dtype=torch_dtype[dtype])
                return (lambda: torch.mm(a, b, out=out)), 2 * n**3, f"{n}x{n}x{n}"
            sizes = ([256, 512, 1024, 2048, 4096, 8192] if cuda else [128, 256, 512, 1024, 2048]) \
                if shape_class == "large" else [128]
            tf32(dtype == "tf32")
            rate, shape, repeats = _grow(timer, make, sizes, slice_s, power=3)
            record(f"matmul.{dtype}.{shape_class}", rate, f"torch.mm {shape}, median of {repeats}")
        return run

    def conv(dtype: str, shape_class: str) -> Callable[[float], Any]:
        def run(slice_s: float) -> None:
            channels, side = (64, 56) if shape_class == "large" else (32, 14)
            weight = torch.randn(channels, channels, 3, 3, device=dev).to(torch_dtype[dtype])

            def make(batch: int) -> tuple[Callable[[], Any], int, str]:
                x = torch.randn(batch, channels, side, side, device=dev).to(torch_dtype[dtype])
                work = 2 * batch * channels * channels * 9 * side * side
                return ((lambda: torch.nn.functional.conv2d(x, weight, padding=1)), work,
                        f"batch {batch}, {channels}->{channels} channels, {side}x{side}, 3x3")
            sizes = [1, 2, 4, 8, 16, 32, 64] if shape_class == "large" else [1]
            tf32(dtype == "tf32")
            rate, shape, repeats = _grow(timer, make, sizes, slice_s)
            record(f"conv.{dtype}.{shape_class}", rate, f"torch.nn.functional.conv2d {shape}, median of {repeats}")
        return run

    def conv_reduction(dtype: str, channels: int) -> Callable[[float], Any]:
        """A 3x3 conv of `channels` -> `channels` on 28x28: its rate at reduction length 9 x channels
        (how much each output sums: what a CPU's or GPU's conv efficiency follows most)."""
        def run(slice_s: float) -> None:
            weight = torch.randn(channels, channels, 3, 3, device=dev).to(torch_dtype[dtype])

            def make(batch: int) -> tuple[Callable[[], Any], int, str]:
                x = torch.randn(batch, channels, 28, 28, device=dev).to(torch_dtype[dtype])
                return ((lambda: torch.nn.functional.conv2d(x, weight, padding=1)),
                        2 * batch * channels * channels * 9 * 28 * 28,
                        f"batch {batch}, {channels}->{channels} channels, 28x28, 3x3")
            tf32(dtype == "tf32")
            rate, shape, repeats = _grow(timer, make, [1, 2, 4, 8, 16, 32], slice_s)
            record(f"conv.{dtype}.k{9 * channels}", rate, f"torch.nn.functional.conv2d {shape}, median of {repeats}")
        return run

    def conv_rows(dtype: str, side: int) -> Callable[[float], Any]:
        """A 3x3 conv 64 -> 64 (reduction 576) on side x side at batch 2: few GEMM rows (2 x side^2),
        as a net's late stages at a small batch run; the rows correction is solved from it
        (`cnncost.timing.model.rows_half`)."""
        def run(slice_s: float) -> None:
            weight = torch.randn(64, 64, 3, 3, device=dev).to(torch_dtype[dtype])
            x = torch.randn(2, 64, side, side, device=dev).to(torch_dtype[dtype])
            seconds, repeats = _median(timer, lambda: torch.nn.functional.conv2d(x, weight, padding=1), slice_s)
            record(f"conv.{dtype}.m{2 * side * side}", 2 * 2 * 64 * 576 * side * side / max(seconds, 1e-9),
                   f"torch.nn.functional.conv2d batch 2, 64->64 channels, {side}x{side}, 3x3, median of {repeats}")
        return run

    def forward_backward(key: str, what: str, shapes: tuple[tuple[int, int, int, int], ...], ops: Callable[[int], int],
                         module: Callable[[int, int], Any]) -> Callable[[float], Any]:
        """Forward and gradient rates of a per-channel op (a depthwise conv, a batch norm) at shapes
        (channels, side, batch, kernel) like a net's, `ops(kernel)` per element: `key` the forward's
        ops/s, `key_grad` the backward's (input and weight gradients: twice the forward's work, as the
        model counts them), each the harmonic mean over the shapes (their rates vary with the shape:
        a net's layers take the time of each)."""
        def run(slice_s: float) -> None:
            forward, backward = [], []
            for channels, side, batch, kernel in shapes:
                layer = module(channels, kernel)
                x = torch.randn(batch, channels, side, side, device=dev, requires_grad=True)
                grad = torch.randn(batch, channels, side, side, device=dev)
                work = ops(kernel) * batch * channels * side * side

                def both(layer: Any = layer, x: Any = x, grad: Any = grad) -> None:
                    layer(x).backward(grad)
                    x.grad = None
                    for p in layer.parameters():
                        p.grad = None
                def ahead_only(layer: Any = layer, x: Any = x) -> Any:
                    return layer(x)
                with torch.no_grad():
                    ahead, _ = _median(timer, ahead_only, slice_s / (2 * len(shapes)))
                total, repeats = _median(timer, both, slice_s / (2 * len(shapes)))
                forward.append(work / max(ahead, 1e-9))
                backward.append(2 * work / max(total - ahead, 1e-9 * total, 1e-9))
            listed = ", ".join(f"{c} channels {s}x{s} batch {b} ({k}x{k})" for c, s, b, k in shapes)
            record(key.replace("@", ""), statistics.harmonic_mean(forward), f"{what} forward, {ops(3)} ops per "
                   f"element (3x3), harmonic mean over {listed} (median of {repeats} each)")
            record(key.replace("@", "_grad"), statistics.harmonic_mean(backward), f"{what} input and weight "
                   f"gradients, twice the forward's ops, (forward and backward) less the forward, harmonic mean "
                   f"over {listed}")
        return run

    def conv_gradients(dtype: str) -> Callable[[float], Any]:
        """Forward and gradients of convs of a net's shapes (`CONV_SHAPES`): `conv_net.DTYPE` the
        forwards' FLOPs over their time, `conv_grad.DTYPE` the gradients' (input and weight: twice
        the FLOPs) over theirs; the model scales a conv's forward rate by their ratio for its
        gradient passes (a CPU's conv library runs them slower than the forward)."""
        def run(slice_s: float) -> None:
            work = ahead = behind = 0.0
            for kernel, c_in, c_out, side, batch in CONV_SHAPES:
                weight = torch.randn(c_out, c_in, kernel, kernel, device=dev).to(torch_dtype[dtype]).requires_grad_()
                x = torch.randn(batch, c_in, side, side, device=dev).to(torch_dtype[dtype]).requires_grad_()
                grad = torch.randn(batch, c_out, side, side, device=dev).to(torch_dtype[dtype])

                def both(x: Any = x, weight: Any = weight, grad: Any = grad, kernel: int = kernel) -> None:
                    torch.nn.functional.conv2d(x, weight, padding=kernel // 2).backward(grad)
                    x.grad = weight.grad = None

                def ahead_only(x: Any = x, weight: Any = weight, kernel: int = kernel) -> Any:
                    return torch.nn.functional.conv2d(x, weight, padding=kernel // 2)
                tf32(dtype == "tf32")
                with torch.no_grad():
                    forward, _ = _median(timer, ahead_only, slice_s / (2 * len(CONV_SHAPES)))
                total, repeats = _median(timer, both, slice_s / (2 * len(CONV_SHAPES)))
                work += 2 * batch * c_out * c_in * kernel * kernel * side * side
                ahead += forward
                behind += max(total - forward, 1e-9)
            listed = ", ".join(f"{k}x{k} {i}->{o} on {s}x{s} batch {b}" for k, i, o, s, b in CONV_SHAPES)
            record(f"conv_net.{dtype}", work / max(ahead, 1e-9), f"torch.nn.functional.conv2d forward, FLOPs over "
                   f"seconds summed over {listed} (median of {repeats} each)")
            record(f"conv_grad.{dtype}", 2 * work / behind, "input and weight gradients of the same convs, "
                   "(forward and backward) less the forward, FLOPs over seconds summed")
        return run

    def maxpool(slice_s: float) -> None:
        def make(batch: int) -> tuple[Callable[[], Any], int, str]:
            x = torch.randn(batch, 64, 56, 56, device=dev)
            return ((lambda: torch.nn.functional.max_pool2d(x, 3, 2, 1)), batch * 64 * 28 * 28 * 9,
                    f"batch {batch}, 64 channels, 56x56, 3x3/2 p1 (window ops)")
        rate, shape, repeats = _grow(timer, make, [1, 2, 4, 8], slice_s)
        record("maxpool.fp32", rate, f"torch.nn.functional.max_pool2d {shape}, median of {repeats}")

    def conv_call(slice_s: float) -> None:
        """A tiny conv's time: the conv library's own per-call overhead (primitive lookup, dispatch)."""
        x, weight = torch.randn(1, 8, 4, 4, device=dev), torch.randn(8, 8, 3, 3, device=dev)
        calls = 50

        def many() -> None:
            for _ in range(calls):
                torch.nn.functional.conv2d(x, weight, padding=1)
        seconds, repeats = _median(plain, many, slice_s)
        record("conv_call_ns", seconds / calls * 1e9, f"torch.nn.functional.conv2d of 8 -> 8 channels, 4x4, batch 1, "
               f"{calls} back to back, per call, median of {repeats}")

    def page_fault(slice_s: float) -> None:
        """Writing 256 MiB to fresh pages (a new tensor: the OS maps it in on first touch) against
        writing it to pages already mapped: the difference is the cost of fresh pages (CPU only)."""
        n = 64 * 2**20
        kept = torch.empty(n)
        kept.fill_(0.0)
        touched, _ = _median(plain, lambda: kept.fill_(1.0), slice_s / 2)
        fresh, repeats = _median(plain, lambda: torch.empty(n).fill_(1.0), slice_s / 2)
        if fresh > touched:
            record("page_fault", 4 * n / (fresh - touched), f"256 MiB filled in a new tensor less in a kept one, "
                   f"bytes per second, median of {repeats}")

    def launch_train(slice_s: float) -> None:
        x = torch.ones(1, device=dev, requires_grad=True)
        ops = 50

        def chain() -> None:
            y = x
            for _ in range(ops):
                y = torch.tanh(y)
            y.backward()
        seconds, repeats = _median(plain, chain, slice_s)
        record("launch_train_ns", seconds / (2 * ops) * 1e9, f"{ops} torch.tanh of a 1-element tensor that needs a "
               f"gradient, forward and backward (2 ops each), median of {repeats}")

    def copy(slice_s: float) -> None:
        def make(mib: int) -> tuple[Callable[[], Any], int, str]:  # past the last-level cache
            n = mib * 2**20 // 4
            src = torch.ones(n, device=dev)
            dst = torch.empty(n, device=dev)
            return (lambda: dst.copy_(src)), 2 * n * 4, f"{mib} MiB fp32 copy_ (bytes read + written)"
        rate, shape, repeats = _grow(plain, make, [64, 256] if not cuda else [256, 1024], slice_s)
        record("copy", rate, f"{shape}, median of {repeats}")

    def launch(slice_s: float) -> None:
        a = torch.ones(1, device=dev)
        out = torch.empty(1, device=dev)
        ops = 200

        def many() -> None:
            for _ in range(ops):
                torch.add(a, a, out=out)
        seconds, repeats = _median(plain, many, slice_s)
        record("launch_ns", seconds / ops * 1e9, f"torch.add of 1-element tensors, {ops} back to back, "
               f"median of {repeats}")

    plan.append(("launch", launch))
    plan.append(("launch_train", launch_train))
    plan.append(("conv_call", conv_call))
    if not cuda:
        plan.append(("page_fault", page_fault))
    plan.append(("copy", copy))
    plan.append(("maxpool.fp32", maxpool))
    plan.append(("batchnorm_grad.fp32", forward_backward(
        "batchnorm@.fp32", "torch.nn.BatchNorm2d, training mode,", NORM_SHAPES, lambda k: 4,
        lambda c, k: torch.nn.BatchNorm2d(c).to(dev).train())))
    plan.append(("depthwise.fp32", forward_backward(
        "depthwise@.fp32", "torch.nn.Conv2d depthwise (groups = channels), same padding,", DEPTHWISE_SHAPES,
        lambda k: 2 * k * k, lambda c, k: torch.nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False).to(dev))))
    for dtype in dtypes:
        if not _runs(torch, dev, torch_dtype[dtype]):
            continue
        plan += [(f"matmul.{dtype}.large", matmul(dtype, "large")), (f"matmul.{dtype}.small", matmul(dtype, "small")),
                 (f"conv.{dtype}.large", conv(dtype, "large")), (f"conv.{dtype}.small", conv(dtype, "small"))]
        plan += [(f"conv.{dtype}.k{9 * c}", conv_reduction(dtype, c)) for c in REDUCTION_CHANNELS]
        plan.append((f"conv_grad.{dtype}", conv_gradients(dtype)))
        plan += [(f"conv.{dtype}.m{2 * side * side}", conv_rows(dtype, side)) for side in ROWS_SIDES]
    try:
        for index, (_, run) in enumerate(plan):
            run(budget.left() / (len(plan) - index))
    finally:
        tf32(False)
    return _profile(torch, cuda, dev, name, measured, sources, where, dtypes)


def _flush_bytes(folder: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """Half the CPU's last-level cache (Linux's /sys/devices/system/cpu/cpu0/cache; 32 MiB assumed
    where it says nothing): what is written before each timed run of a rate. Half: all of it made
    the small convs of a net's late layers, whose data stays cached from layer to layer, two to three
    times slower than in the net."""
    best = (0, 0)  # (level, bytes)
    try:
        entries = [e for e in os.listdir(folder) if e.startswith("index")]
    except OSError:
        entries = []
    for entry in entries:
        try:
            with open(f"{folder}/{entry}/level", encoding="ascii") as level, \
                    open(f"{folder}/{entry}/size", encoding="ascii") as size:
                text = size.read().strip().upper()
                scale = {"K": 2**10, "M": 2**20}.get(text[-1:], 1)
                best = max(best, (int(level.read()), int(text.rstrip("KM")) * scale))
        except (OSError, ValueError):
            continue
    return (best[1] or 32 * 2**20) // 2


def _runs(torch: Any, dev: Any, dtype: Any) -> bool:
    """Whether matmul and conv run in this dtype here (bf16 on an old GPU or CPU may not)."""
    try:
        a = torch.ones(8, 8, device=dev, dtype=dtype)
        torch.mm(a, a)
        torch.nn.functional.conv2d(torch.ones(1, 4, 4, 4, device=dev, dtype=dtype),
                                   torch.ones(4, 4, 3, 3, device=dev, dtype=dtype))
        return True
    except (RuntimeError, TypeError):
        return False


def _threads(torch: Any, cuda: bool) -> str:
    threads = torch.get_num_threads()
    return torch.cuda.get_device_name() if cuda else f"{threads} thread{'s' if threads > 1 else ''}"


def _profile(torch: Any, cuda: bool, dev: Any, name: str | None, measured: dict[str, int],
             sources: dict[str, str], where: str, dtypes: list[str]) -> HardwareProfile:
    matrix: dict[str, int] = {}
    vector: dict[str, int] = {}
    for dtype in dtypes:
        rates = [measured.get(f"{k}.{dtype}.large", 0) for k in ("matmul", "conv")]
        rates += [measured.get(f"conv.{dtype}.k{9 * c}", 0) for c in REDUCTION_CHANNELS]
        if max(rates) < 1:
            continue
        if cuda and dtype == "fp32":  # TF32 off: CUDA cores, not tensor cores
            vector["fp32"] = max(rates)
        else:
            matrix[dtype] = max(rates)
            if not cuda:  # a CPU's matmuls and elementwise ops run on the same SIMD units
                vector[dtype] = max(rates)
    from .builtin import ACHIEVABLE, ACHIEVABLE_SOURCES, LAUNCH_NS
    # fractions per op class, from the dtype the matrix units run best (fp32 on a CPU)
    base = next((d for d in ("bf16", "fp16", "tf32") if cuda and d in matrix), "fp32")
    peak = matrix.get(base) or vector.get(base)

    def fraction(key: str, over: int | None) -> float | None:
        return min(1.0, measured[key] / over) if key in measured and over else None
    achievable = dict(ACHIEVABLE)
    for op_class, key, over in (("matmul", f"matmul.{base}.large", peak), ("conv", f"conv.{base}.large", peak),
                                ("depthwise", "depthwise.fp32", vector.get("fp32"))):
        value = fraction(key, over)
        if value is not None:
            achievable[op_class] = value
            sources[f"achievable.{op_class}"] = (f"{where}: measured.{key} over the "
                                                 f"{'vector fp32' if op_class == 'depthwise' else base} peak")
        else:
            sources[f"achievable.{op_class}"] = "not measured: " + ACHIEVABLE_SOURCES[op_class]
    achievable["bandwidth"] = 1.0
    for key in ("matrix", "vector"):
        for dtype in (matrix if key == "matrix" else vector):
            sources[f"{key}.{dtype}"] = (f"{where}: the best of the large matmul and the convs in {dtype} "
                                         "(measured.matmul/conv)")
    sources["memory_bandwidth"] = f"{where}: copy bandwidth (measured.copy)"
    sources["launch_overhead_ns"] = (f"{where}: a tiny op's time in a training step, forward and backward "
                                     "(measured.launch_train_ns)" if "launch_train_ns" in measured else
                                     f"{where}: a tiny op's time (measured.launch_ns)")
    sources["achievable.bandwidth"] = f"{where}: 1 (memory_bandwidth is the measured copy rate)"
    sources["achievable.vector"] = "not measured: " + ACHIEVABLE_SOURCES["vector"]
    memory, memory_source = _memory(torch, cuda)
    sources["memory_bytes"] = memory_source
    vendor = torch.cuda.get_device_name() if cuda else _cpu_name()
    return HardwareProfile(
        name=name or ("local-cuda" if cuda else "local-cpu"), vendor_name=vendor, kind="gpu" if cuda else "cpu",
        matrix=matrix, vector=vector, memory_bandwidth=measured.get("copy", 1), memory_bytes=memory,
        launch_overhead_ns=measured.get("launch_train_ns", measured.get("launch_ns", LAUNCH_NS)), achievable=achievable, sources=sources,
        origin="calibrated", measured=measured,
        notes=f"{where}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def _memory(torch: Any, cuda: bool) -> tuple[int, str]:
    if cuda:
        return (int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory),
                "torch.cuda.get_device_properties().total_memory")
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "os.sysconf: SC_PHYS_PAGES x SC_PAGE_SIZE"
    except (ValueError, OSError, AttributeError):
        raise CnnCostError("cannot read this machine's memory size (os.sysconf); write memory_bytes into the "
                           "profile by hand") from None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip() or platform.machine()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
