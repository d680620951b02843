"""`timing.sweep.grid_seconds` and `grid_times` against each pass's time evaluated at each batch
(`Rates.time`'s rule: max(C, M) + L, memory where C = M; the bound the largest of C, M, L, compute
first), on random pass lines: unsorted batches with repeats, consecutive ones, padding, merged
equal passes, resolution chunks."""
from __future__ import annotations

import numpy as np
import pytest

from cnncost.timing import sweep
from cnncost.timing.sweep import Block, Lines, grid_seconds, grid_times


def _random_lines(rng: np.random.Generator, R: int, P: int) -> dict[str, np.ndarray]:
    """Per pass compute and memory lines that cross at batches in the grid (and some that do not),
    a launch term that some passes' lines cross, idle passes (all zero) among them."""
    ca, ma = rng.uniform(1e-9, 1e-6, (R, P)), rng.uniform(1e-9, 1e-6, (R, P))
    cc, mc = rng.uniform(0, 2e-4, (R, P)), rng.uniform(0, 2e-4, (R, P))
    L = rng.choice([0.0, 5e-6, 5e-5], (R, P))
    idle = rng.random(P) < 0.1
    for v in (ca, ma, cc, mc, L):
        v[:, idle] = 0.0
    return {"ca": ca, "cc": cc, "ma": ma, "mc": mc, "L": L, "phase": rng.integers(0, 3, P)}


def _brute(lines: dict[str, np.ndarray], batches: np.ndarray) -> np.ndarray:
    """(R, 6, B): per phase, then per bound, each pass's time summed at each batch."""
    b = batches.astype(np.float64)[None, None, :]
    ca, cc, ma, mc, L = (lines[k][..., None] for k in ("ca", "cc", "ma", "mc", "L"))
    C, M = ca * b + cc, ma * b + mc
    value = np.where(C > M, C, M) + L
    bound = np.where((C >= M) & (C >= L), 0, np.where(M >= L, 1, 2))
    phase = np.broadcast_to(lines["phase"], lines["ca"].shape)[..., None]
    R, B = len(lines["ca"]), len(batches)
    out = np.zeros((R, 6, B))
    for slot in range(3):
        out[:, slot] = np.where(phase == slot, value, 0.0).sum(axis=1)
        out[:, 3 + slot] = np.where(bound == slot, value, 0.0).sum(axis=1)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_grid_seconds_equal_each_pass_at_each_batch(seed):
    rng = np.random.default_rng(seed)
    lines = _random_lines(rng, 5, 40)
    for batches in (np.arange(1, 2001), np.arange(7, 300), rng.integers(1, 3000, 257), np.array([1, 1, 2000, 5, 5])):
        want = _brute(lines, batches)
        got = grid_seconds(lines, batches)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-15)
        step = grid_seconds(lines, batches, bounds=False)[:, 0]
        assert step == pytest.approx(want[:, :3].sum(axis=1), rel=1e-9, abs=1e-15)


def test_sums_by_landing_batches_equal_the_sums_by_every_batch(monkeypatch):
    """Where few batches see a change, the sums go by those batches only: the same floats."""
    rng = np.random.default_rng(3)
    lines, batches = _random_lines(rng, 4, 30), np.arange(1, 20_001)
    sparse = grid_seconds(lines, batches)
    monkeypatch.setattr(sweep, "SPARSE_FROM", 10**9)
    assert np.array_equal(sparse, grid_seconds(lines, batches))
    assert sparse == pytest.approx(_brute(lines, batches), rel=1e-9, abs=1e-15)


def test_each_resolution_gets_what_it_gets_alone():
    """Side by side or alone, in any chunk, the same floats (the entries of one resolution are
    added in the same order whatever the others)."""
    rng = np.random.default_rng(7)
    lines, batches = _random_lines(rng, 6, 30), np.arange(1, 500)
    together = grid_seconds(lines, batches)
    for r in range(6):
        alone = grid_seconds({k: v if v.ndim == 1 else v[r:r + 1] for k, v in lines.items()}, batches)
        assert np.array_equal(alone[0], together[r])


def test_grid_times_by_chunks_padding_and_merged_passes(monkeypatch):
    rng = np.random.default_rng(11)
    expected, bound = _random_lines(rng, 4, 25), _random_lines(rng, 4, 25)
    bound["phase"] = expected["phase"]
    repeated = {k: np.concatenate([v, v[..., :10]], axis=-1) for k, v in expected.items()}  # 10 passes twice
    repeated_bound = {k: np.concatenate([v, v[..., :10]], axis=-1) for k, v in bound.items()}
    block = Block(repeated, repeated_bound)
    lines = [Lines(block, r) for r in range(4)]
    batches = np.arange(1, 3000)
    whole = grid_times(lines, batches, by_bound=True)
    assert block.merged is not None and block.merged[0]["ca"].shape[1] == 25  # the repeated passes merged
    want = _brute(repeated, batches)
    assert whole["forward_seconds"] == pytest.approx(want[:, 0], rel=1e-12)
    assert whole["step_seconds"] == pytest.approx(want[:, :3].sum(axis=1), rel=1e-12)
    assert whole["by_bound"] == pytest.approx(want[:, 3:].transpose(0, 2, 1), rel=1e-9, abs=1e-15)
    assert whole["bound_step_seconds"] == pytest.approx(_brute(repeated_bound, batches)[:, :3].sum(axis=1), rel=1e-12)
    assert (whole["limited_by"] == np.argmax(want[:, 3:], axis=1)).mean() > 0.99  # (ties at a crossing aside)
    monkeypatch.setattr(sweep, "GRID_CHUNK", 1)  # one resolution per chunk
    block.merged = None
    chunked = grid_times(lines, batches, by_bound=True)
    assert all(np.array_equal(whole[k], chunked[k]) for k in whole)
    # rows of two blocks of different pass counts: padded with idle passes
    short = Block({k: v[..., :25] for k, v in repeated.items()}, {k: v[..., :25] for k, v in repeated_bound.items()})
    mixed = grid_times([Lines(short, 0), Lines(block, 1)], batches)
    assert mixed["step_seconds"][0] == pytest.approx(_brute(expected, batches)[0, :3].sum(axis=0), rel=1e-12)
    assert mixed["step_seconds"][1] == pytest.approx(whole["step_seconds"][1], rel=1e-12)
