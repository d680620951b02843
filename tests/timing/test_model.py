"""The expected estimate's calibrated refinements, by hand: a conv's rate by reduction length, its
weight gradient's, pools and norms, a conv's per-call overhead and fresh pages."""
from __future__ import annotations

import dataclasses
import math

from cnncost.hardware import load_profile
from cnncost.timing import Amount, PassCost
from cnncost.timing.model import Rates, measured_rate
from cnncost.timing.ops import WEIGHT_GRADIENT

MEASURED = {"conv.fp32.k144": 100, "conv.fp32.k1152": 400, "conv_weight_grad.fp32": 50, "maxpool.fp32": 7,
            "batchnorm.fp32": 9, "conv_call_ns": 20_000, "page_fault": 10**9}


def test_conv_rate_by_reduction_length_is_log_linear_and_clamped():
    # 576 lies 2/3 of the way from 144 to 1152 in log2 (144 x 4 = 576, 144 x 8 = 1152)
    assert math.isclose(measured_rate(MEASURED, "conv", "fp32", 576), 100 + (400 - 100) * 2 / 3)
    assert measured_rate(MEASURED, "conv", "fp32", 27) == 100 and measured_rate(MEASURED, "conv", "fp32", 4608) == 400
    assert measured_rate(MEASURED, "conv", "fp32", WEIGHT_GRADIENT) == 50
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
    # the small conv (3x3, 32 -> 32, 14x14: 196 rows, reduction 288, 3,612,672 FLOPs) took 3,612,672 / 10^8 s
    # plus a 0 ns call: at a full rate of 2 x 10^8 (reduction 288 clamps to the k144 point here) it ran at half
    # rate with 196 rows, so M_half = 196
    measured = {"conv.fp32.small": 10**8, "conv.fp32.k144": 2 * 10**8}
    assert math.isclose(rows_half(measured), 196.0)
    cpu = dataclasses.replace(load_profile("a100-sxm4-80gb"), kind="cpu", measured=measured)
    conv = PassCost("conv", "fp32", Amount(2 * 10**8), Amount(), Amount(), 1, 144, positions=98)
    # batch 2: 196 rows, half the rate: 2 s for 2 x 2 x 10^8 FLOPs; the roofline bound has no such loss
    assert math.isclose(Rates(cpu, "expected").time(conv, 2).compute, 4.0)
    assert rows_half({"conv.fp32.k144": 2 * 10**8}) == 0.0
