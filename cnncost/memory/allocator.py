"""A model of PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, the native
allocator of PyTorch 2.13/2.14 with its default settings), replayed over a sequence of
allocate/free events: what `torch.cuda.memory_allocated` and `memory_reserved` would show.

Rules modelled (the source's names in brackets):
- every request is rounded up to a multiple of 512 B [kMinBlockSize, round_size];
- requests up to 1 MiB [kSmallSize] go to the small pool, larger ones to the large pool;
- a pool serves a request from its best-fitting free block: the smallest one at least as large,
  the lowest address among equal sizes [BlockComparatorSize, get_free_block];
- with no fitting block, a new segment is reserved (cudaMalloc): 2 MiB for a small request
  [kSmallBuffer], 20 MiB for a request of 1-10 MiB [kLargeBuffer, kMinLargeAlloc], else the
  request rounded up to 2 MiB [kRoundLarge] [get_allocation_size];
- a block larger than the request is split, the request taking the front, when the remainder is
  >= 512 B (small pool) or > 1 MiB (large pool) [should_split]; an unsplit block is allocated
  whole (its whole size counts as allocated, as in PyTorch's allocated_bytes);
- a freed block merges with free neighbours of its segment [free_block, try_merge_blocks];
- segments are never returned (no empty_cache, no out-of-memory retry): reserved bytes only
  grow, and their peak is what the device holds.
`max_split_size` (PYTORCH_CUDA_ALLOC_CONF max_split_size_mb) is modelled as an option: blocks
at least that large are never split and serve only requests of at least that size within
20 MiB of it [max_non_split_rounding_size's default].

Not modelled: expandable_segments (segments that grow by mapping pages), roundup_power2_divisions,
garbage_collection_threshold, the release of cached segments when cudaMalloc fails (the device is
assumed large enough), streams other than one (blocks used on other streams, events), CUDA graph
private pools. Segment addresses are a model (consecutive, in order of reservation): they only
break ties between free blocks of one size.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Iterable, Sequence

MIN_BLOCK = 512                 # kMinBlockSize
SMALL_SIZE = 1 << 20            # kSmallSize: the largest small request
SMALL_BUFFER = 2 << 20          # kSmallBuffer: a small-pool segment
LARGE_BUFFER = 20 << 20         # kLargeBuffer: the segment of a 1-10 MiB request
MIN_LARGE_ALLOC = 10 << 20      # kMinLargeAlloc
ROUND_LARGE = 2 << 20           # kRoundLarge

ALLOC, FREE = "alloc", "free"


def round_size(size: int) -> int:
    """A request's block size: at least 512 B, a multiple of 512 B."""
    if size < MIN_BLOCK:
        return MIN_BLOCK
    return -(-size // MIN_BLOCK) * MIN_BLOCK


def allocation_size(rounded: int) -> int:
    """The segment reserved for a (rounded) request no cached block can serve."""
    if rounded <= SMALL_SIZE:
        return SMALL_BUFFER
    if rounded < MIN_LARGE_ALLOC:
        return LARGE_BUFFER
    return -(-rounded // ROUND_LARGE) * ROUND_LARGE


class Block:
    """A piece of a segment: [addr, addr + size), allocated or free, with its neighbours."""

    __slots__ = ("addr", "size", "allocated", "prev", "next", "small")

    def __init__(self, addr: int, size: int, small: bool) -> None:
        self.addr, self.size, self.small = addr, size, small
        self.allocated = False
        self.prev: Block | None = None
        self.next: Block | None = None


class CachingAllocator:
    """One device's allocator state. `malloc(size)` returns a block, `free(block)` gives it back.
    Counters (bytes): `allocated` (block sizes in use, PyTorch's memory_allocated), `requested`
    (the sizes asked for), `reserved` (segments, memory_reserved); their peaks; segment counts."""

    def __init__(self, max_split_size: int | None = None) -> None:
        self.max_split = max_split_size
        self._free: dict[bool, list[tuple[int, int]]] = {True: [], False: []}  # (size, addr), sorted
        self._blocks: dict[int, Block] = {}   # free blocks by address
        self._next_addr = 0
        self.allocated = self.requested = self.reserved = 0
        self.peak_allocated = self.peak_requested = self.peak_reserved = 0
        self.small_segments = self.large_segments = 0

    @property
    def segments(self) -> int:
        return self.small_segments + self.large_segments

    def _take(self, small: bool, size: int) -> Block | None:
        keys = self._free[small]
        i = bisect_left(keys, (size, -1))
        if i == len(keys):
            return None
        block_size, addr = keys[i]
        limit = self.max_split
        if limit is not None:  # oversize blocks serve only oversize requests, within 20 MiB
            if size < limit <= block_size or (size >= limit and block_size >= size + LARGE_BUFFER):
                return None
        del keys[i]
        return self._blocks.pop(addr)

    def _should_split(self, block: Block, size: int) -> bool:
        remaining = block.size - size
        if block.small:
            return remaining >= MIN_BLOCK
        return (self.max_split is None or size < self.max_split) and remaining > SMALL_SIZE

    def malloc(self, size: int) -> Block:
        # round_size, _take and _should_split inlined where they are plain (the replay's hot path)
        if size < 0:
            raise ValueError(f"a negative allocation: {size}")
        rounded = MIN_BLOCK if size < MIN_BLOCK else -(-size // MIN_BLOCK) * MIN_BLOCK
        small = rounded <= SMALL_SIZE
        if self.max_split is None:
            keys = self._free[small]
            i = bisect_left(keys, (rounded, -1))
            block = self._blocks.pop(keys.pop(i)[1]) if i < len(keys) else None
        else:
            block = self._take(small, rounded)
        if block is None:  # cudaMalloc a new segment
            seg = allocation_size(rounded)
            block = Block(self._next_addr, seg, small)
            self._next_addr += seg
            self.reserved += seg
            if small:
                self.small_segments += 1
            else:
                self.large_segments += 1
            if self.reserved > self.peak_reserved:
                self.peak_reserved = self.reserved
        remaining = block.size - rounded
        if (remaining >= MIN_BLOCK) if small else (remaining > SMALL_SIZE and self._should_split(block, rounded)):
            rest = Block(block.addr + rounded, remaining, small)
            rest.prev, rest.next = block, block.next
            if block.next is not None:
                block.next.prev = rest
            block.next, block.size = rest, rounded
            insort(self._free[small], (remaining, rest.addr))
            self._blocks[rest.addr] = rest
        block.allocated = True
        self.allocated += block.size
        self.requested += size
        if self.allocated > self.peak_allocated:
            self.peak_allocated = self.allocated
        if self.requested > self.peak_requested:
            self.peak_requested = self.requested
        return block

    def _insert(self, block: Block) -> None:
        insort(self._free[block.small], (block.size, block.addr))
        self._blocks[block.addr] = block

    def _remove(self, block: Block) -> None:
        keys = self._free[block.small]
        del keys[bisect_left(keys, (block.size, block.addr))]
        del self._blocks[block.addr]

    def free(self, block: Block, size: int) -> None:
        """Free `block`, which was asked for with `size` bytes."""
        if not block.allocated:
            raise ValueError(f"block at {block.addr} freed twice")
        block.allocated = False
        self.allocated -= block.size
        self.requested -= size
        before, after = block.prev, block.next
        if before is not None and not before.allocated:  # [before block]
            self._remove(before)
            block.addr, block.size, block.prev = before.addr, before.size + block.size, before.prev
            if block.prev is not None:
                block.prev.next = block
        if after is not None and not after.allocated:  # [block after]
            self._remove(after)
            block.size += after.size
            block.next = after.next
            if block.next is not None:
                block.next.prev = block
        self._insert(block)

    def free_bytes(self) -> int:
        """Cached bytes not in use (reserved - allocated)."""
        return sum(size for keys in self._free.values() for size, _ in keys)


Event = tuple  # ("alloc", id, size) or ("free", id)


@dataclass
class Replay:
    """The allocator over a sequence of events. After event i: `allocated[i]` (block sizes in use,
    memory_allocated), `requested[i]` (the sizes asked for, what cnncost's memory model counts),
    `reserved[i]` (memory_reserved). Peaks, where the reserved peak is first reached, and the
    segments reserved (small pool: 2 MiB each; large pool)."""

    allocated: list[int]
    requested: list[int]
    reserved: list[int]
    peak_allocated: int
    peak_requested: int
    peak_reserved: int
    peak_reserved_at: int
    small_segments: int
    large_segments: int
    state: CachingAllocator = field(repr=False)
    live: dict = field(repr=False, default_factory=dict)  # id -> (block, bytes asked) at the end

    @property
    def segments(self) -> int:
        return self.small_segments + self.large_segments


def replay(events: Iterable[Sequence], max_split_size: int | None = None, after: Replay | None = None,
           record: bool = True) -> Replay:
    """Run `events` through a fresh allocator (or on from where replay `after` ended, which it
    changes): ("alloc", id, size) asks for size bytes under a new id, ("free", id) frees it. An id
    freed twice or never allocated raises ValueError. `record=False`: the peaks only, without the
    per-event lists (which stay empty; what the tables need, faster)."""
    if not record:
        return _peaks(events, max_split_size)
    state = after.state if after is not None else CachingAllocator(max_split_size)
    live: dict = after.live if after is not None else {}
    allocated: list[int] = []
    requested: list[int] = []
    reserved: list[int] = []
    add_a, add_q, add_r = allocated.append, requested.append, reserved.append
    malloc, free = state.malloc, state.free
    for event in events:
        if event[0] == ALLOC:
            key = event[1]
            if key in live:
                raise ValueError(f"allocation {key!r} made twice")
            live[key] = (malloc(event[2]), event[2])
        elif event[0] == FREE:
            try:
                block, size = live.pop(event[1])
            except KeyError:
                raise ValueError(f"allocation {event[1]!r} freed but not live") from None
            free(block, size)
        else:
            raise ValueError(f"unknown event {event!r}")
        add_a(state.allocated)
        add_q(state.requested)
        add_r(state.reserved)
    at = reserved.index(state.peak_reserved) if state.peak_reserved and reserved else 0
    return Replay(allocated, requested, reserved, state.peak_allocated, state.peak_requested,
                  state.peak_reserved, at, state.small_segments, state.large_segments, state, live)


def _peaks(events: Iterable[Sequence], max_split_size: int | None) -> Replay:
    """`replay` without the per-event lists: the same allocator, the peaks and where the reserved
    peak is first reached."""
    state = CachingAllocator(max_split_size)
    live: dict = {}
    malloc, free = state.malloc, state.free
    at = top = 0
    for i, event in enumerate(events):
        if event[0] == ALLOC:
            if event[1] in live:
                raise ValueError(f"allocation {event[1]!r} made twice")
            live[event[1]] = (malloc(event[2]), event[2])
            if state.reserved > top:
                top, at = state.reserved, i
        elif event[0] == FREE:
            try:
                block, size = live.pop(event[1])
            except KeyError:
                raise ValueError(f"allocation {event[1]!r} freed but not live") from None
            free(block, size)
        else:
            raise ValueError(f"unknown event {event!r}")
    return Replay([], [], [], state.peak_allocated, state.peak_requested, state.peak_reserved, at,
                  state.small_segments, state.large_segments, state, live)
