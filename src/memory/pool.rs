//! One typed pool: its chunks, its free runs, its live blocks, the slabs it lent to the
//! size classes, and the freed direct mappings it keeps for reuse, with exact counters for the
//! blocks it serves itself (the small-block path counts its own; the manager adds them up).
//!
//! A pool does no system calls and takes no locks; the manager maps and unmaps memory, keeps the
//! process-wide region map and serialises access to each pool with a lock of its own.

use super::free_list::FreeList;
use super::pool_kind::PoolKind;
use super::stats::{AllocationInfo, Stats};
use super::tags::Tag;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Blocks inside chunks are whole multiples of this many bytes.
pub const GRANULE: usize = 64;

/// Where a live block's memory comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Carved out of the chunk that starts at this address.
    Chunk(usize),
    /// A mapping of its own (the block's `len` is the mapping's length).
    Direct,
}

/// A live allocation.
#[derive(Clone, Debug)]
pub struct LiveBlock {
    /// Bytes the block occupies (granule-rounded, or the whole direct mapping).
    pub len: usize,
    /// Bytes the caller asked for.
    pub requested: usize,
    /// The allocation's tag.
    pub tag: Arc<Tag>,
    /// Chunk or direct mapping.
    pub placement: Placement,
    /// The manager-wide serial number of the allocation (its id in event logs).
    pub serial: u64,
    /// The checkpoint epoch at allocation.
    pub epoch: u64,
    /// Owned by a library object (a `PoolBuffer`): the public free refuses it.
    pub owned: bool,
    /// Where the caller's bytes start inside the block: 0, or the red zone's front part in the
    /// manager's debug mode (`debug::red_zones`). The live map is keyed by the block's start;
    /// callers see `start + front`.
    pub front: usize,
}

impl LiveBlock {
    /// The address the caller was given for the block at `start`.
    pub fn user(&self, start: usize) -> usize {
        start + self.front
    }
}

/// Why `addr`, inside the live `requested`-byte allocation at `start`, cannot be freed (the
/// message of both the pool path and the small-block path).
pub(crate) fn interior_pointer_message(
    addr: usize,
    start: usize,
    requested: usize,
    tag: &str,
    pool: PoolKind,
) -> String {
    format!(
        "{addr:#x} points {} bytes into the {requested}-byte allocation at {start:#x} \
         (tag {tag:?}, pool {pool}); pass the address the allocation returned",
        addr - start
    )
}

/// Why `addr`, in free memory of `pool`, cannot be freed.
pub(crate) fn freed_memory_message(addr: usize, pool: PoolKind) -> String {
    format!(
        "{addr:#x} points into free memory of pool {pool}: it was already freed (double free) \
         or is a stale pointer"
    )
}

/// State of one pool.
#[derive(Debug)]
pub struct Pool {
    kind: PoolKind,
    chunks: BTreeMap<usize, usize>,
    free: FreeList,
    live: BTreeMap<usize, LiveBlock>,
    /// Slabs carved out of chunks for the size classes: start → (len, chunk).
    slabs: BTreeMap<usize, (usize, usize)>,
    /// Freed direct mappings kept for reuse: (start, len).
    retained: Vec<(usize, usize)>,
    retained_bytes: u64,
    in_use: u64,
    peak: u64,
    total_allocated: u64,
    allocs: u64,
    frees: u64,
    failed: u64,
    direct_count: u64,
    direct_bytes: u64,
}

impl Pool {
    /// An empty pool of `kind`.
    pub fn new(kind: PoolKind) -> Self {
        Self {
            kind,
            chunks: BTreeMap::new(),
            free: FreeList::default(),
            live: BTreeMap::new(),
            slabs: BTreeMap::new(),
            retained: Vec::new(),
            retained_bytes: 0,
            in_use: 0,
            peak: 0,
            total_allocated: 0,
            allocs: 0,
            frees: 0,
            failed: 0,
            direct_count: 0,
            direct_bytes: 0,
        }
    }

    /// True when the pool has no chunk yet (the next chunk is the initial one).
    pub fn has_no_chunks(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Adds a freshly mapped chunk to the free space.
    pub fn add_chunk(&mut self, start: usize, len: usize) {
        debug_assert!(start % GRANULE == 0 && len % GRANULE == 0);
        self.chunks.insert(start, len);
        self.free.release(start, len, start);
    }

    /// Takes a free run for a block of `len` bytes aligned to `align`; returns `(addr, chunk)`.
    pub fn carve(&mut self, len: usize, align: usize) -> Option<(usize, usize)> {
        self.free.take(len, align)
    }

    /// Lends `len` bytes at `addr` (just carved from `chunk`) to a slab.
    pub fn add_slab(&mut self, addr: usize, len: usize, chunk: usize) {
        self.slabs.insert(addr, (len, chunk));
    }

    /// Takes back the slab at `addr` into the free runs.
    pub fn remove_slab(&mut self, addr: usize) {
        let (len, chunk) = self
            .slabs
            .remove(&addr)
            .expect("only slabs lent by this pool come back");
        self.free.release(addr, len, chunk);
    }

    /// A kept direct mapping for a block of `len` bytes aligned to `align`: the smallest one
    /// at least `len` and at most 1.25 × `len` long. Returns `(start, mapped len)`.
    pub fn reuse_retained(&mut self, len: usize, align: usize) -> Option<(usize, usize)> {
        let best = self
            .retained
            .iter()
            .enumerate()
            .filter(|&(_, &(start, l))| l >= len && l - len <= len / 4 && start % align == 0)
            .min_by_key(|&(_, &(_, l))| l)?
            .0;
        let (start, l) = self.retained.swap_remove(best);
        self.retained_bytes -= l as u64;
        Some((start, l))
    }

    /// Keeps a freed direct mapping for reuse when that keeps the retained bytes within
    /// `limit`; returns false (the caller unmaps it) otherwise.
    pub fn retain(&mut self, start: usize, len: usize, limit: u64) -> bool {
        if self.retained_bytes + len as u64 > limit {
            return false;
        }
        self.retained.push((start, len));
        self.retained_bytes += len as u64;
        true
    }

    /// Forgets every kept direct mapping; returns them for the caller to unmap.
    pub fn take_retained(&mut self) -> Vec<(usize, usize)> {
        self.retained_bytes = 0;
        std::mem::take(&mut self.retained)
    }

    /// Records a new live block at `addr` and counts it.
    pub fn insert_live(&mut self, addr: usize, block: LiveBlock) {
        self.in_use += block.requested as u64;
        self.peak = self.peak.max(self.in_use);
        self.total_allocated += block.requested as u64;
        self.allocs += 1;
        if block.placement == Placement::Direct {
            self.direct_count += 1;
            self.direct_bytes += block.len as u64;
        }
        let previous = self.live.insert(addr, block);
        debug_assert!(previous.is_none(), "block {addr:#x} handed out twice");
    }

    /// Counts a refused request.
    pub fn count_failure(&mut self) {
        self.failed += 1;
    }

    /// Removes the live block the caller knows as `addr`, returning its space to the free runs
    /// when it sits in a chunk, and gives back `(start, block)`. A direct block is only
    /// forgotten: the caller unmaps it. `Err` carries a description of what `addr` points at
    /// instead.
    pub fn remove_live(&mut self, addr: usize) -> Result<(usize, LiveBlock), String> {
        let Some((start, _)) = self.find_live(addr) else {
            return Err(self.describe_non_block(addr));
        };
        let block = self.live.remove(&start).expect("found just now");
        let addr = start;
        self.in_use -= block.requested as u64;
        self.frees += 1;
        match block.placement {
            Placement::Chunk(chunk) => self.free.release(addr, block.len, chunk),
            Placement::Direct => {
                self.direct_count -= 1;
                self.direct_bytes -= block.len as u64;
            }
        }
        Ok((start, block))
    }

    /// Explains why `addr` (inside this pool's memory) is not the start of a live block.
    fn describe_non_block(&self, addr: usize) -> String {
        if let Some((&start, block)) = self.live.range(..=addr).next_back() {
            let user = block.user(start);
            if addr < user {
                return format!(
                    "{addr:#x} points {} bytes before the {}-byte allocation at {user:#x} (tag \
                     {:?}, pool {}), into its red zone; pass the address the allocation returned",
                    user - addr,
                    block.requested,
                    block.tag.name(),
                    self.kind
                );
            }
            if addr < start + block.len {
                let start = user;
                return interior_pointer_message(
                    addr,
                    start,
                    block.requested,
                    block.tag.name(),
                    self.kind,
                );
            }
        }
        if self.free.run_containing(addr).is_some() {
            return freed_memory_message(addr, self.kind);
        }
        format!(
            "{addr:#x} is not a live allocation of pool {} (already freed?)",
            self.kind
        )
    }

    /// The live block the caller knows as `addr` (its start plus its red zone's front part),
    /// with the block's start.
    pub fn find_live(&self, addr: usize) -> Option<(usize, &LiveBlock)> {
        let (&start, block) = self.live.range(..=addr).next_back()?;
        (block.user(start) == addr).then_some((start, block))
    }

    /// Every live block with its start (for the debug mode's red-zone checks).
    pub fn live_blocks(&self) -> impl Iterator<Item = (usize, &LiveBlock)> + '_ {
        self.live.iter().map(|(&start, block)| (start, block))
    }

    /// Removes every chunk that is entirely free and returns `(start, len)` of each, for the
    /// caller to unmap.
    pub fn take_empty_chunks(&mut self) -> Vec<(usize, usize)> {
        let empty: Vec<(usize, usize)> = self
            .chunks
            .iter()
            .map(|(&start, &len)| (start, len))
            .filter(|&(start, len)| self.free.take_whole_chunk(start, len))
            .collect();
        for (start, _) in &empty {
            self.chunks.remove(start);
        }
        empty
    }

    /// Forgets every chunk and live block; returns all mappings `(start, len)` to unmap.
    pub fn take_all_mappings(&mut self) -> Vec<(usize, usize)> {
        let mut mappings: Vec<(usize, usize)> =
            std::mem::take(&mut self.chunks).into_iter().collect();
        for (addr, block) in std::mem::take(&mut self.live) {
            self.in_use -= block.requested as u64;
            self.frees += 1;
            block.tag.on_free(block.requested as u64);
            if block.placement == Placement::Direct {
                mappings.push((addr, block.len));
            }
        }
        mappings.append(&mut self.take_retained());
        self.slabs.clear();
        self.free = FreeList::default();
        self.direct_count = 0;
        self.direct_bytes = 0;
        mappings
    }

    /// Bytes mapped for this pool: chunks plus direct mappings, live and kept.
    pub fn footprint(&self) -> u64 {
        self.chunks.values().map(|&len| len as u64).sum::<u64>()
            + self.direct_bytes
            + self.retained_bytes
    }

    /// `(start, len)` of every slab this pool lent.
    pub fn slab_ranges(&self) -> Vec<(usize, usize)> {
        self.slabs.iter().map(|(&a, &(l, _))| (a, l)).collect()
    }

    /// Bytes requested by this pool's own live blocks.
    pub fn own_in_use(&self) -> u64 {
        self.in_use
    }

    /// The pool's counters (`available_bytes` and `limit_bytes` are left for the manager).
    pub fn stats(&self) -> Stats {
        Stats {
            bytes_in_use: self.in_use,
            peak_bytes_in_use: self.peak,
            footprint_bytes: self.footprint(),
            total_allocated_bytes: self.total_allocated,
            allocation_count: self.allocs,
            free_count: self.frees,
            live_allocations: self.live.len() as u64,
            failed_allocations: self.failed,
            free_bytes: self.free.total() as u64,
            largest_free_block: self.free.largest() as u64,
            chunk_count: self.chunks.len() as u64,
            direct_allocations: self.direct_count,
            direct_bytes: self.direct_bytes,
            retained_bytes: self.retained_bytes,
            ..Stats::default()
        }
        .with_fragmentation()
    }

    /// Every live allocation of this pool.
    pub fn allocations(&self) -> impl Iterator<Item = AllocationInfo> + '_ {
        self.live
            .iter()
            .map(|(&address, block)| self.info(address, block))
    }

    /// The description of the live block that starts at `start`.
    pub fn info(&self, start: usize, block: &LiveBlock) -> AllocationInfo {
        AllocationInfo {
            address: block.user(start),
            size: block.requested,
            pool: self.kind,
            tag: block.tag.name().to_string(),
            direct: block.placement == Placement::Direct,
            epoch: block.epoch,
        }
    }

    /// Verifies the pool's invariants: blocks and free runs tile each chunk exactly, nothing
    /// overlaps, and the counters equal what the live blocks add up to.
    pub fn check(&self) -> Result<(), String> {
        let kind = self.kind;
        // Every byte of every chunk is in exactly one block or free run.
        let mut pieces: Vec<(usize, usize, usize)> = self.free.iter().collect();
        for (&addr, block) in &self.live {
            if let Placement::Chunk(chunk) = block.placement {
                pieces.push((addr, block.len, chunk));
            }
        }
        pieces.extend(
            self.slabs
                .iter()
                .map(|(&addr, &(len, chunk))| (addr, len, chunk)),
        );
        pieces.sort_unstable();
        let mut cursor: Option<(usize, usize)> = None; // (chunk, next expected address)
        let mut chunks_seen = 0;
        for (addr, len, chunk) in pieces {
            let Some(&chunk_len) = self.chunks.get(&chunk) else {
                return Err(format!(
                    "pool {kind}: piece {addr:#x} names unknown chunk {chunk:#x}"
                ));
            };
            if addr < chunk || addr + len > chunk + chunk_len || len == 0 || len % GRANULE != 0 {
                return Err(format!(
                    "pool {kind}: piece {addr:#x}+{len} outside chunk {chunk:#x}"
                ));
            }
            match cursor {
                Some((c, next)) if c == chunk => {
                    if addr != next {
                        return Err(format!(
                            "pool {kind}: gap or overlap at {next:#x} in chunk {chunk:#x}"
                        ));
                    }
                }
                Some((c, next)) => {
                    if next != c + self.chunks[&c] {
                        return Err(format!("pool {kind}: chunk {c:#x} not covered to its end"));
                    }
                    if addr != chunk {
                        return Err(format!(
                            "pool {kind}: chunk {chunk:#x} not covered from its start"
                        ));
                    }
                    chunks_seen += 1;
                }
                None => {
                    if addr != chunk {
                        return Err(format!(
                            "pool {kind}: chunk {chunk:#x} not covered from its start"
                        ));
                    }
                    chunks_seen += 1;
                }
            }
            cursor = Some((chunk, addr + len));
        }
        if let Some((c, next)) = cursor {
            if next != c + self.chunks[&c] {
                return Err(format!("pool {kind}: chunk {c:#x} not covered to its end"));
            }
        }
        if chunks_seen != self.chunks.len() {
            return Err(format!(
                "pool {kind}: {} chunks mapped but {chunks_seen} covered by blocks and free runs",
                self.chunks.len()
            ));
        }
        let requested: u64 = self.live.values().map(|b| b.requested as u64).sum();
        if requested != self.in_use {
            return Err(format!(
                "pool {kind}: bytes in use {} but live blocks request {requested}",
                self.in_use
            ));
        }
        if self.allocs - self.frees != self.live.len() as u64 {
            return Err(format!(
                "pool {kind}: {} allocations − {} frees ≠ {} live blocks",
                self.allocs,
                self.frees,
                self.live.len()
            ));
        }
        let direct: Vec<&LiveBlock> = self
            .live
            .values()
            .filter(|b| b.placement == Placement::Direct)
            .collect();
        let direct_bytes: u64 = direct.iter().map(|b| b.len as u64).sum();
        if direct.len() as u64 != self.direct_count || direct_bytes != self.direct_bytes {
            return Err(format!(
                "pool {kind}: direct-mapping counters disagree with live blocks"
            ));
        }
        Ok(())
    }
}
