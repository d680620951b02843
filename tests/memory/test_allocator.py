"""The CUDA caching allocator model (`cnncost.memory.allocator`), the step's allocation events
(`alloc_events`) and the reserved / nvidia-smi estimate (`reserved`): hand-derived sequences with
the outcome PyTorch's CUDACachingAllocator.cpp gives them, the relation of the events to the step
model, and properties over random sequences. No GPU: the CUDA comparison is
`benchmarks/gpu_memory.py`'s, on a lent GPU."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncost
from cnncost.memory import Precision, Setup, step_memory, trace
from cnncost.memory.alloc_events import allocation_events
from cnncost.memory.allocator import CachingAllocator, allocation_size, replay, round_size
from cnncost.memory.reserved import DEVICES, STATUS, Device, cublas_workspace, reserved_bytes
from cnncost.memory.step import OPTIMIZER_STATE

KiB, MiB = 1 << 10, 1 << 20


def A(key, size):
    return ("alloc", key, size)


def F(key):
    return ("free", key)


def test_rounding_to_512_bytes():
    assert [round_size(s) for s in (0, 1, 511, 512, 513, 1024, 1025)] == [512, 512, 512, 512, 1024, 1024, 1536]
    r = replay([A(1, 1), A(2, 513)])
    assert r.allocated == [512, 512 + 1024] and r.requested == [1, 514]
    assert r.reserved == [2 * MiB, 2 * MiB] and (r.small_segments, r.large_segments) == (1, 0)


def test_segment_sizes():
    assert allocation_size(512) == allocation_size(MiB) == 2 * MiB          # small pool
    assert allocation_size(MiB + 512) == allocation_size(5 * MiB) == 20 * MiB  # 1-10 MiB: 20 MiB
    assert allocation_size(10 * MiB - 512) == 20 * MiB
    assert allocation_size(10 * MiB) == 10 * MiB                            # >= 10 MiB: rounded to 2 MiB
    assert allocation_size(10 * MiB + 512) == 12 * MiB
    assert allocation_size(33 * MiB) == 34 * MiB


def test_small_and_large_pools():
    r = replay([A(1, MiB), A(2, MiB + 1)])
    # 1 MiB is small (a 2 MiB segment); 1 MiB + 1 B is large (rounded to 1 MiB + 512, a 20 MiB segment)
    assert (r.small_segments, r.large_segments) == (1, 1)
    assert r.reserved[-1] == 22 * MiB and r.allocated[-1] == MiB + MiB + 512


def test_five_mib_request_gets_a_20_mib_segment_and_splits():
    r = replay([A(1, 5 * MiB), A(2, 15 * MiB)])
    # the 15 MiB remainder (> 1 MiB) was kept: the second request fits in the same segment
    assert r.reserved == [20 * MiB, 20 * MiB] and r.large_segments == 1
    assert r.allocated[-1] == 20 * MiB


def test_large_requests_rounded_to_2_mib():
    r = replay([A(1, 11 * MiB), A(2, 10 * MiB)])
    # 11 MiB in a 12 MiB segment leaves 1 MiB, not split off: the whole segment is allocated
    assert r.reserved == [12 * MiB, 22 * MiB] and r.allocated == [12 * MiB, 22 * MiB]
    r = replay([A(1, 9 * MiB), A(2, 11 * MiB)])  # 9 MiB: a 20 MiB segment, whose 11 MiB rest serves the second
    assert r.reserved == [20 * MiB, 20 * MiB] and r.allocated == [9 * MiB, 20 * MiB]


def test_large_remainder_of_1_mib_or_less_is_not_split():
    # 5 MiB, then 14.5 MiB out of the 15 MiB remainder: 0.5 MiB left, not split off (large pool:
    # only remainders > 1 MiB), so the whole 15 MiB block is allocated
    r = replay([A(1, 5 * MiB), A(2, 14 * MiB + 512 * KiB)])
    assert r.allocated[-1] == 20 * MiB and r.requested[-1] == 19 * MiB + 512 * KiB
    # exactly 1 MiB left: not split either; 1 MiB + 512 B: split
    r = replay([A(1, 5 * MiB), A(2, 14 * MiB), A(3, 5 * MiB)])
    assert r.allocated[1] == 20 * MiB and r.large_segments == 2
    r = replay([A(1, 5 * MiB), A(2, 14 * MiB - 512), A(3, MiB + 512)])
    # the 1 MiB + 512 B rest was split off and serves the third request, in the same segment
    assert r.allocated == [5 * MiB, 19 * MiB - 512, 20 * MiB] and r.large_segments == 1


def test_small_pool_splits_any_remainder_of_512_bytes():
    r = replay([A(1, MiB), A(2, MiB - 512), A(3, 512), A(4, 512)])
    # 512 B left after the second block: split off and served to the third request; the fourth
    # needs a new 2 MiB segment
    assert r.allocated == [MiB, 2 * MiB - 512, 2 * MiB, 2 * MiB + 512]
    assert r.reserved == [2 * MiB] * 3 + [4 * MiB] and (r.small_segments, r.large_segments) == (2, 0)


def test_freed_block_is_reused():
    r = replay([A(1, 12 * MiB), F(1), A(2, 11 * MiB)])
    assert r.reserved == [12 * MiB] * 3 and r.large_segments == 1
    assert r.allocated == [12 * MiB, 0, 12 * MiB]  # 1 MiB left is not split off: the block is allocated whole


def test_fragmentation_makes_reserved_exceed_allocated():
    # four 5 MiB blocks fill a 20 MiB segment; freeing the 1st and 3rd leaves two 5 MiB holes that
    # cannot serve a 10 MiB request: a new 10 MiB segment
    events = [A(k, 5 * MiB) for k in range(4)] + [F(0), F(2), A(9, 10 * MiB)]
    r = replay(events)
    assert r.reserved[-1] == 30 * MiB and r.allocated[-1] == 20 * MiB and r.large_segments == 2
    assert r.peak_reserved == 30 * MiB and r.peak_reserved_at == len(events) - 1


def test_free_neighbours_merge():
    # freeing the 1st and 2nd leaves one 10 MiB block: the 10 MiB request fits without a new segment
    r = replay([A(k, 5 * MiB) for k in range(4)] + [F(0), F(1), A(9, 10 * MiB)])
    assert r.reserved[-1] == 20 * MiB and r.large_segments == 1
    # a block freed between two free ones merges with both
    alloc = CachingAllocator()
    blocks = [alloc.malloc(5 * MiB) for _ in range(4)]
    for b in (blocks[0], blocks[2], blocks[1]):
        alloc.free(b, 5 * MiB)
    assert sorted(alloc._free[False]) == [(15 * MiB, 0)]


def test_best_fit_and_lowest_address():
    alloc = CachingAllocator()
    big, a, b = alloc.malloc(12 * MiB), alloc.malloc(11 * MiB), alloc.malloc(12 * MiB)
    alloc.free(big, 12 * MiB)
    alloc.free(b, 12 * MiB)
    alloc.free(a, 11 * MiB)
    # free blocks: 12 MiB at 0, 12 MiB at 24 MiB, 12 MiB (the 11 MiB request's whole segment) at 12 MiB
    got = alloc.malloc(12 * MiB)
    assert got.addr == 0  # the smallest fitting size, then the lowest address
    got = alloc.malloc(11 * MiB + 512 * KiB)
    assert got.addr == 12 * MiB


def test_max_split_size_option():
    # with max_split_size 10 MiB a cached 30 MiB block serves no smaller request, and is not split
    events = [A(1, 30 * MiB), F(1), A(2, 5 * MiB)]
    assert replay(events).reserved[-1] == 30 * MiB
    assert replay(events, max_split_size=10 * MiB).reserved[-1] == 50 * MiB
    # an oversize request takes an oversize block only within 20 MiB of its size
    events = [A(1, 60 * MiB), F(1), A(2, 30 * MiB)]
    assert replay(events, max_split_size=10 * MiB).reserved[-1] == 90 * MiB
    assert replay([A(1, 40 * MiB), F(1), A(2, 30 * MiB)], max_split_size=10 * MiB).allocated[-1] == 40 * MiB


def test_bad_sequences_raise():
    with pytest.raises(ValueError, match="freed but not live"):
        replay([A(1, 10), F(1), F(1)])
    with pytest.raises(ValueError, match="freed but not live"):
        replay([F(7)])
    with pytest.raises(ValueError, match="made twice"):
        replay([A(1, 10), A(1, 10)])


events_strategy = st.lists(st.tuples(st.booleans(), st.integers(0, 40 * MiB), st.integers(0, 30)), max_size=120)


def _sequence(draws):
    live, events, key = [], [], 0
    for is_alloc, size, pick in draws:
        if is_alloc or not live:
            events.append(A(key, size if pick % 3 else size % (2 * MiB)))  # a third of them small
            live.append(key)
            key += 1
        else:
            events.append(F(live.pop(pick % len(live))))
    return events, live


@settings(max_examples=200, deadline=None)
@given(events_strategy)
def test_reserved_bounds_allocated_and_segments_merge_back(draws):
    events, live = _sequence(draws)
    r = replay(events)
    for q, a, v in zip(r.requested, r.allocated, r.reserved):
        assert q <= a <= v
    assert all(x <= y for x, y in zip(r.reserved, r.reserved[1:]))  # segments are never returned
    if events:
        assert r.peak_reserved == max(r.reserved) == r.reserved[r.peak_reserved_at]
        assert r.peak_allocated == max(r.allocated) and r.peak_requested == max(r.requested)
    # freeing everything merges every segment back into one free block
    end = replay([F(k) for k in live], after=r)
    state = end.state
    assert state.allocated == state.requested == 0
    assert state.free_bytes() == state.reserved and len(state._blocks) == state.segments


def test_10_5_events_agree_with_the_peaks_only_path():  # (their speed: benchmarks/bench_guards.py)
    events, live, key = [], [], 0
    sizes = [512 * k for k in (1, 3, 17, 300, 2047, 2049, 9000, 20000, 50000, 120000)]
    for i in range(100_000):
        if i % 3 == 2 or not live:
            events.append(A(key, sizes[(key * 7) % len(sizes)] + key % 500))
            live.append(key)
            key += 1
        else:
            events.append(F(live.pop((i * 13) % len(live))))
    r, peaks = replay(events), replay(events, record=False)
    sizes = {e[1]: e[2] for e in events if e[0] == "alloc"}
    assert r.requested[-1] == sum(sizes[k] for k in live)
    assert (peaks.peak_requested, peaks.peak_allocated, peaks.peak_reserved) == (
        r.peak_requested, r.peak_allocated, r.peak_reserved) == (max(r.requested), max(r.allocated), max(r.reserved))


# --- the step's events -------------------------------------------------------------------------

def _step(name, dtype, optimizer="adam"):
    return step_memory(trace(cnncost.load(name), precision=Precision(dtype, "cuda")), Setup(optimizer))


@pytest.mark.parametrize("name", ["resnet18", "alexnet", "convnext-tiny"])
def test_events_match_the_step_model_at_every_moment(name):
    """Under bf16 autocast the input batch is not saved (conv1 saves its cast): the bytes asked for
    after each moment of the second step are the step model's moment, exactly, the moments after a
    node where gradients settle (a bf16 gradient's cast; ConvNeXt's channels-last copies) included."""
    batch = 3
    step = _step(name, "bf16")
    seq = allocation_events(step, batch)
    r = replay(seq.events)
    ends = seq.moment_ends[-1]
    assert len(ends) == len(step.moments)
    assert [r.requested[e] for e in ends] == [m.at(batch) for m in step.moments]
    # the first step lacks the optimizer state until its optimizer step
    state = OPTIMIZER_STATE["adam"] * sum(s.params for s in step.trace.steps) * 4
    first = [r.requested[e] for e in seq.moment_ends[0]]
    assert first[:-1] == [m.at(batch) - state for m in step.moments[:-1]]
    assert r.peak_requested >= step.peak(batch).at(batch)


def test_fp32_saved_input_is_held_once_by_the_step_model():
    """In fp32 conv1 saves the input batch itself: one storage, held as the input batch; the step
    model's moments equal the bytes the events ask for at every moment, backward included (they
    differed by the input's bytes in backward before the fix)."""
    batch = 2
    step = _step("resnet18", "fp32")
    n = len(step.trace.steps)
    seq = allocation_events(step, batch)
    r = replay(seq.events)
    diffs = [m.at(batch) - r.requested[e] for m, e in zip(step.moments, seq.moment_ends[-1])]
    assert diffs == [0] * (2 * n + 1)


def test_every_allocation_freed_at_most_once_and_what_stays():
    step = _step("resnet18", "fp32")
    seq = allocation_events(step, 4, steps=3, blas_workspace=8 * MiB, conv_workspace=3 * MiB)
    made, freed = set(), set()
    for event in seq.events:
        if event[0] == "alloc":
            assert event[1] not in made
            made.add(event[1])
        else:
            assert event[1] in made and event[1] not in freed
            freed.add(event[1])
    kinds = {key[0] if not isinstance(key[0], int) else "step" for key in made - freed}
    assert kinds == {"param", "buffer", "input", "state", "blas"}  # held across steps; everything else freed
    r = replay(seq.events)
    params = sum(s.params for s in step.trace.steps) * 4
    x = step.trace.input.nbytes_per_sample * 4
    buffers = 38_560  # resnet18's 20 batch norms: running mean and variance (fp32), num_batches_tracked (int64)
    # parameters, Adam's two states, the buffers, the input, two workspaces
    assert r.requested[-1] == params * 3 + buffers + x + 2 * 8 * MiB
    assert seq.where(len(seq.events) - 1) == "step 3, end" and seq.where(0) == "setup"
    assert seq.where(seq.moment_ends[1][0]) == "step 2, forward, " + step.trace.steps[0].path


def test_cublas_workspace_config():
    assert cublas_workspace(None, (9, 0)) == ccfg(":4096:8") == 32 * MiB
    assert cublas_workspace(None, (8, 0)) == ccfg(":4096:2:16:8") == 8 * MiB + 128 * KiB
    assert ccfg(":16:8") == 128 * KiB
    assert cublas_workspace("junk", (8, 0)) == 8 * MiB + 128 * KiB  # unparsable: PyTorch's default


def ccfg(config):
    return cublas_workspace(config, (7, 0))


def test_reserved_bytes_fields():
    step = _step("resnet18", "bf16")
    r = reserved_bytes(step, 8)
    assert r.status == STATUS == "modelled; measured on CUDA: not yet"
    assert r.peak_requested <= r.peak_allocated <= r.peak_reserved
    assert r.fragmentation == r.peak_reserved - r.peak_allocated
    assert r.workspaces == 2 * (32 * MiB + MiB)  # the fc layer: two handles' cuBLAS + cuBLASLt workspaces on an H100
    assert r.nvidia_smi == r.peak_reserved + r.context and r.context == DEVICES["h100"].context
    assert r.peak_reserved_at.startswith("step ")
    without = replay(allocation_events(step, 8).events)
    assert r.peak_requested > without.peak_requested
    a100 = reserved_bytes(step, 8, "a100-80gb", context=300 * MiB)
    assert a100.workspaces == 2 * (8 * MiB + 128 * KiB + MiB) and a100.context == 300 * MiB
    custom = reserved_bytes(step, 8, Device("x", 16 << 30, (7, 5), context=0), cublas_config=":16:8")
    assert custom.workspaces == 2 * (128 * KiB + 128 * KiB)  # cuBLASLt's at most cuBLAS's
    assert custom.nvidia_smi == custom.peak_reserved


def test_inference_steps_are_refused():
    step = step_memory(trace(cnncost.load("resnet18"), precision=Precision("fp32")), Setup("adam", "inference"))
    with pytest.raises(ValueError, match="training step"):
        allocation_events(step, 2)
