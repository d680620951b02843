"""The expected estimate's calibrated refinements, by hand: a conv's rate by reduction length, its
gradients', pools, norms and depthwise convs (forward and gradients apart), a conv's per-call
overhead, few GEMM rows and fresh pages."""
from __future__ import annotations

import dataclasses
import math

from cnncost.hardware import load_profile
from cnncost.timing import Amount, PassCost
from cnncost.timing.model import Rates, measured_rate
from cnncost.timing.ops import INPUT_GRADIENT, WEIGHT_GRADIENT

MEASURED = {"conv.fp32.k144": 100, "conv.fp32.k1152": 400, "conv_weight_grad.fp32": 50, "maxpool.fp32": 7,
            "batchnorm.fp32": 9, "conv_call_ns": 20_000, "page_fault": 10**9}


def test_conv_rate_by_reduction_length_is_log_linear_and_clamped():
    # 576 lies 2/3 of the way from 144 to 1152 in log2 (144 x 4 = 576, 144 x 8 = 1152)
    assert math.isclose(measured_rate(MEASURED, "conv", "fp32", 576), 100 + (400 - 100) * 2 / 3)
    assert measured_rate(MEASURED, "conv", "fp32", 27) == 100 and measured_rate(MEASURED, "conv", "fp32", 4608) == 400
    assert measured_rate(MEASURED, "conv", "fp32", 144, WEIGHT_GRADIENT) == 50  # older profiles: its own rate
    assert measured_rate(MEASURED, "conv", "bf16", 576) is None  # not measured in bf16: the fraction applies
    assert (measured_rate(MEASURED, "pool", "bf16", 0), measured_rate(MEASURED, "norm", "fp32", 0)) == (7, 9)
    assert measured_rate(MEASURED, "matmul", "fp32", 0) is None


def test_calibrated_refinements_apply_to_the_expected_estimate_only():
    cpu = dataclasses.replace(load_profile("a100-sxm4-80gb"), kind="cpu", measured=MEASURED)
    conv = PassCost("conv", "fp32", Amount(0, 400), Amount(), Amount(0, 1), 2, 1152, fresh=10**9)
    expected, bound = Rates(cpu, "expected").time(conv, 1), Rates(cpu, "bound").time(conv, 1)
    assert math.isclose(expected.compute, 1.0)  # 400 ops at the measured 400 ops/s
    assert math.isclose(expected.memory, 1 / (cpu.memory_bandwidth * cpu.achievable["bandwidth"]) + 1.0)  # + fresh pages
    assert math.isclose(expected.launch, 2 * 20e-6)  # two calls at the conv library's overhead
    assert math.isclose(bound.compute, 400 / cpu.peak("fp32")) and math.isclose(bound.launch, 2 * cpu.launch_overhead_seconds)
    assert bound.seconds < expected.seconds


def test_a_conv_of_few_gemm_rows_runs_below_its_rate():
    from cnncost.timing.model import rows_half
    # the few-rows convs (3x3, 64 -> 64, batch 2; reduction 576): 32 rows at a quarter of the k576 rate
    # (M_half = 32 x (4 - 1) = 96) and 128 rows at half of it (M_half = 128): the mean, 112; no per-call cost
    measured = {"conv.fp32.m32": 10**8, "conv.fp32.m128": 2 * 10**8, "conv.fp32.k576": 4 * 10**8}
    assert math.isclose(rows_half(measured), 112.0)
    # a per-call overhead is taken off first: 32 rows x 576 x 64 x 2 = 2,359,296 FLOPs took 23.59 ms at 10^8;
    # less an 11.80 ms call it ran at 2 x 10^8, half the rate: M_half = 32; 128 rows: 9,437,184 FLOPs in
    # 47.19 ms, less 11.80: 2.667 x 10^8, 2/3 of the rate: M_half = 128 x (3/2 - 1) = 64; the mean 48
    with_call = {**measured, "conv_call_ns": 2_359_296 * 5}
    assert math.isclose(rows_half(with_call), (32 + 64) / 2)
    cpu = dataclasses.replace(load_profile("a100-sxm4-80gb"), kind="cpu",
                              measured={"conv.fp32.m128": 2 * 10**8, "conv.fp32.k576": 4 * 10**8})
    conv = PassCost("conv", "fp32", Amount(2 * 10**8), Amount(), Amount(), 1, 576, positions=64)
    # batch 2: 128 rows = M_half: half the rate, 2 s for 2 x 2 x 10^8 FLOPs at 4 x 10^8; the bound has no such loss
    assert math.isclose(Rates(cpu, "expected").time(conv, 2).compute, 2.0)
    assert rows_half({"conv.fp32.k576": 2 * 10**8}) == 0.0


def test_gradient_passes_take_their_own_measured_rates():
    measured = {**MEASURED, "conv_net.fp32": 200, "conv_grad.fp32": 100, "depthwise.fp32": 30,
                "depthwise_grad.fp32": 20, "batchnorm_grad.fp32": 18}
    # a conv's gradients: its forward rate at the pass's reduction x conv_grad / conv_net (= 1/2)
    assert math.isclose(measured_rate(measured, "conv", "fp32", 1152, INPUT_GRADIENT), 200)
    assert math.isclose(measured_rate(measured, "conv", "fp32", 144, WEIGHT_GRADIENT), 50)
    assert measured_rate(measured, "conv", "fp32", 144) == 100  # the forward: as measured
    assert (measured_rate(measured, "depthwise", "fp32", 9), measured_rate(measured, "depthwise", "fp32", 9, 1)) == (30, 20)
    assert (measured_rate(measured, "norm", "fp32", 0), measured_rate(measured, "norm", "fp32", 0, 1)) == (9, 18)
    assert measured_rate(measured, "pool", "fp32", 0, INPUT_GRADIENT) == 7  # no gradient rate measured: the forward's