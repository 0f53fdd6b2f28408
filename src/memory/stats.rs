//! Statistics of a pool or of a whole manager, and the description of one live allocation.

use super::pool_kind::PoolKind;

/// Counters of one pool or of the whole manager (C: `qdsim_stats`).
///
/// Bytes in use count what callers asked for; blocks are rounded up to 64-byte granules, and
/// that rounding shows in `footprint_bytes − free_bytes − bytes_in_use`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Bytes requested by live allocations.
    pub bytes_in_use: u64,
    /// Highest `bytes_in_use` ever reached. For the manager's total: exact with one thread,
    /// with a memory limit and while a peak tracker or scope is live; with several threads
    /// allocating at once it can miss a rise made only of reused credit, by at most 64 KiB per
    /// other thread (see docs/memory.md). For one pool, blocks of up to 256 KiB from the thread
    /// caches count at the moments the peak is computed (every pool-path allocation and every
    /// statistics read).
    pub peak_bytes_in_use: u64,
    /// Bytes currently mapped from the operating system (chunks plus direct mappings).
    pub footprint_bytes: u64,
    /// Bytes requested by all successful allocations so far.
    pub total_allocated_bytes: u64,
    /// Successful allocations so far.
    pub allocation_count: u64,
    /// Frees so far.
    pub free_count: u64,
    /// Allocations not yet freed.
    pub live_allocations: u64,
    /// Requests refused (limit reached or the system out of memory).
    pub failed_allocations: u64,
    /// Free bytes inside the chunks.
    pub free_bytes: u64,
    /// Largest contiguous free run inside one chunk.
    pub largest_free_block: u64,
    /// For a pool, `1 − largest_free_block / free_bytes` (0 when nothing is free). For the
    /// total, `1 − Σ_pools largest_free_block / free_bytes`: a pool's free space only serves that
    /// pool, so each pool is measured against its own largest run.
    pub fragmentation: f64,
    /// `limit − bytes_in_use` with a limit, otherwise the system's available memory (read at
    /// most every 0.1 s).
    pub available_bytes: u64,
    /// The manager's limit in bytes, 0 when there is none.
    pub limit_bytes: u64,
    /// Chunks currently mapped.
    pub chunk_count: u64,
    /// Live allocations served by a mapping of their own (too big for a chunk).
    pub direct_allocations: u64,
    /// Bytes mapped for those direct allocations.
    pub direct_bytes: u64,
    /// Bytes held for the size classes (≤ 256 KiB) but not in live blocks: free blocks in slabs
    /// and in thread caches, and slab tails too short for a block. Part of the footprint, not
    /// of `free_bytes` (and so not of `fragmentation`).
    pub cached_bytes: u64,
    /// Bytes of freed direct mappings kept for reuse (`retain_bytes`); `trim` returns them.
    pub retained_bytes: u64,
}

impl Stats {
    /// Computes `fragmentation` from `free_bytes` and `largest_free_block`.
    pub(crate) fn with_fragmentation(mut self) -> Self {
        self.fragmentation = fragmentation(self.free_bytes, self.largest_free_block);
        self
    }

    /// Adds another pool's counters into this one (peak and derived fields excluded).
    pub(crate) fn accumulate(&mut self, other: &Stats) {
        self.bytes_in_use = self.bytes_in_use.wrapping_add(other.bytes_in_use);
        self.footprint_bytes += other.footprint_bytes;
        self.total_allocated_bytes += other.total_allocated_bytes;
        self.allocation_count += other.allocation_count;
        self.free_count += other.free_count;
        self.cached_bytes += other.cached_bytes;
        self.retained_bytes += other.retained_bytes;
        self.live_allocations += other.live_allocations;
        self.failed_allocations += other.failed_allocations;
        self.free_bytes += other.free_bytes;
        self.largest_free_block = self.largest_free_block.max(other.largest_free_block);
        self.chunk_count += other.chunk_count;
        self.direct_allocations += other.direct_allocations;
        self.direct_bytes += other.direct_bytes;
    }
}

/// `1 − largest / free`, or 0 when nothing is free.
pub fn fragmentation(free: u64, largest: u64) -> f64 {
    if free == 0 {
        0.0
    } else {
        1.0 - largest as f64 / free as f64
    }
}

/// One live allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationInfo {
    /// Start address.
    pub address: usize,
    /// Bytes requested.
    pub size: usize,
    /// Pool it came from.
    pub pool: PoolKind,
    /// Its tag (empty when untagged).
    pub tag: String,
    /// True when it has a mapping of its own rather than a block in a chunk.
    pub direct: bool,
    /// The checkpoint epoch at allocation: how many checkpoints had been taken before it
    /// (`leaks_since` reports the live allocations whose epoch is at least the checkpoint's).
    pub epoch: u64,
}

/// How many allocations are live and how many bytes they requested (C: `qdsim_leak_summary`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeakSummary {
    /// Live allocations.
    pub count: u64,
    /// Bytes they requested.
    pub bytes: u64,
}
