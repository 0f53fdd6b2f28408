//! The manager's side of the small-block path: allocation and free through the calling
//! thread's heap, the manager as the source of slabs, and the small blocks' share of
//! statistics, listings and consistency checks.
//!
//! Per allocation and free the path does one store (or swap: the double-free check) of the
//! block's state word; the manager's total bytes in use moves through the heap's credit
//! (`credit.rs`), and everything else — counts, bytes allocated, bytes in use per pool and per
//! tag — goes to the thread's single-writer counters, summed when read. Per-pool and per-tag
//! peaks therefore see small blocks when they are computed: at every pool-path allocation and
//! every statistics read. The common case takes `fast_path.rs` first; this file does the rest
//! and reports every refusal.

use super::{Inner, Usage, owned_block_message};
use crate::error::{Error, ErrorKind, Result};
use crate::memory::event_log::EventOp;
use crate::memory::pool::{freed_memory_message, interior_pointer_message};
use crate::memory::pool_kind::PoolKind;
use crate::memory::small::{
    BlockState, MAX_EPOCH, MAX_TAG_ID, RECENT_TAGS, SLAB_ALIGN, SMALL_MAX, Slab, SlabSource,
    SmallCounters, TAG_SLOTS, ThreadHeap, class_of,
};
use crate::memory::stats::{AllocationInfo, Stats};
use crate::memory::tags::{Tag, TagText};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

impl SlabSource for Inner {
    fn map_slab(&self, kind: PoolKind, len: usize) -> Result<usize> {
        let mut pool = self.pools[kind.index()].lock();
        self.check_open()?;
        let (addr, chunk) = match pool.carve(len, SLAB_ALIGN) {
            Some(placed) => placed,
            None => {
                let wanted = if pool.has_no_chunks() {
                    self.config.initial_pool_size
                } else {
                    self.config.chunk_size
                };
                self.map_chunk(&mut pool, kind, wanted.max(len), SLAB_ALIGN)?;
                pool.carve(len, SLAB_ALIGN)
                    .expect("a fresh aligned chunk holds the slab")
            }
        };
        pool.add_slab(addr, len, chunk);
        Ok(addr)
    }

    fn unmap_slab(&self, kind: PoolKind, base: usize, _len: usize) {
        self.pools[kind.index()].lock().remove_slab(base);
    }
}

/// The tag called `name` from the heap's recent tags (checked, interned and remembered on a
/// miss: a hit needs no UTF-8 check, the bytes equal a checked name).
#[inline]
fn recent_tag<'h>(inner: &Inner, heap: &'h ThreadHeap, name: TagText<'_>) -> Result<&'h Arc<Tag>> {
    // SAFETY: `heap` is the calling thread's own (handed out by `with_heap`, or kept from
    // `thread_heap` by the C API's lane, which holds it only on this thread and for one call at
    // a time), and no other reference to its recent tags is alive.
    let recent = unsafe { heap.recent_tags() };
    let name = name.as_bytes();
    // Callers usually pass the same literal every time: compare addresses before bytes.
    let same = |t: &Arc<Tag>| {
        let n = t.name().as_bytes();
        (n.as_ptr() == name.as_ptr() && n.len() == name.len()) || n == name
    };
    if let Some(i) = recent.iter().position(same) {
        return Ok(&recent[i]);
    }
    let tag = inner.tags.intern(TagText::Bytes(name).to_str()?)?;
    if recent.len() >= RECENT_TAGS {
        recent.remove(0);
    }
    recent.push(tag);
    Ok(recent.last().expect("just pushed"))
}

/// The tag with id `id` (the slow path: tags without a per-thread slot, the event log).
fn tag_by_id(inner: &Inner, id: u32) -> Arc<Tag> {
    inner
        .tags
        .by_id(id)
        .expect("slab blocks record interned tags")
}

/// The per-thread counter slot of tag id `id`, if it has one.
#[inline]
pub(super) fn slot_of(id: u32) -> Option<usize> {
    ((id as usize) < TAG_SLOTS).then_some(id as usize)
}

impl Inner {
    /// True when a request may take the small-block path.
    #[inline]
    pub(super) fn small_eligible(&self, size: usize, align: usize) -> bool {
        self.config.thread_cache
            && size <= SMALL_MAX
            && align <= crate::memory::MIN_ALIGNMENT
            && !self.event_log.is_enabled()
    }

    /// Allocates through the calling thread's heap; `None` when this request must take the
    /// pool path instead (no heap on this thread now, or a tag id or epoch too large to record
    /// in a block's state word).
    #[inline]
    pub(super) fn allocate_small(
        &self,
        kind: PoolKind,
        size: usize,
        tag_name: TagText<'_>,
        owned: bool,
    ) -> Option<Result<NonNull<u8>>> {
        self.small
            .with_heap(|heap| {
                if !owned {
                    if let Ok(tag) = recent_tag(self, heap, tag_name) {
                        if let Some(ptr) = self.allocate_small_fast(heap, kind, size, tag) {
                            return Some(Ok(ptr));
                        }
                    }
                }
                self.allocate_small_in(heap, kind, size, tag_name, owned)
            })
            .flatten()
    }

    /// [`allocate_small`](Self::allocate_small) through `heap`, the calling thread's heap of
    /// this manager (from `with_heap`, or kept from [`SmallArena::thread_heap`] and not
    /// retired), with no other operation on it under way.
    #[inline]
    pub(super) fn allocate_small_in(
        &self,
        heap: &ThreadHeap,
        kind: PoolKind,
        size: usize,
        tag_name: TagText<'_>,
        owned: bool,
    ) -> Option<Result<NonNull<u8>>> {
        // Allocation and counters as one step for consistency checks.
        let active = self.small.enter(heap);
        let tag = match recent_tag(self, heap, tag_name) {
            Ok(tag) => tag,
            Err(e) => return Some(Err(e)),
        };
        let epoch = self.epoch.load(Relaxed);
        if tag.id() > MAX_TAG_ID || epoch > MAX_EPOCH {
            return None;
        }
        if let Err(e) = self.check_open() {
            return Some(Err(e));
        }
        if let Err(e) = self.reserve_small(heap, size, kind, tag.name()) {
            self.pools[kind.index()].lock().count_failure();
            return Some(Err(e));
        }
        let (slab, index) = match self.small.pop(heap, kind, class_of(size.max(1)), self) {
            Ok(block) => block,
            Err(e) => {
                self.unreserve_small(Some(heap), size as u64);
                self.pools[kind.index()].lock().count_failure();
                return Some(Err(e.context(&format!(
                    "allocation of {size} bytes (tag {:?}, pool {kind})",
                    tag.name()
                ))));
            }
        };
        heap.count_alloc(kind, tag.slot(), size as u64);
        if tag.slot().is_none() {
            tag.on_alloc(size as u64);
        }
        slab.set_live(
            index as usize,
            BlockState {
                tag: tag.id(),
                requested: size,
                epoch,
                owned,
            },
        );
        if owned {
            // A library object (a matrix, a solver's buffer): few, mostly large, and often a
            // tag's only blocks, so its pool's and tag's peaks are brought up to date now, as
            // on the pool path (outside the operation: that reads every heap's counters). A
            // solve's 141 KB blocks otherwise left their tag's peak at 0.
            let tag = tag.clone();
            drop(active);
            let pool_now = self.usage[kind.index()].in_use.load(Relaxed);
            self.note_peaks(kind, pool_now, &tag);
        }
        Some(Ok(NonNull::new(slab.address(index as usize) as *mut u8)
            .expect("slabs are never at address 0")))
    }

    /// Frees a pointer that falls inside `slab`: `place` is `Ok(block)` for a block start or
    /// `Err((block, offset))` for an interior pointer. `kept_heap`: the calling thread's heap
    /// of this manager, when the caller has it at hand (as for
    /// [`allocate_small_in`](Self::allocate_small_in)); else it is found here.
    #[inline]
    pub(super) fn free_small(
        &self,
        slab: &'static Slab,
        place: std::result::Result<usize, (usize, usize)>,
        addr: usize,
        by_owner: bool,
        kept_heap: Option<&ThreadHeap>,
    ) -> Result<()> {
        let pool = slab.pool();
        let owner = slab.manager();
        if owner != self.id {
            return Err(super::foreign_manager_error(addr, owner, pool, self.id));
        }
        self.check_open()?;
        let index = match place {
            Ok(index) => index,
            Err((index, _)) => {
                let why = match slab.state(index) {
                    Some(state) => interior_pointer_message(
                        addr,
                        slab.address(index),
                        state.requested,
                        tag_by_id(self, state.tag).name(),
                        pool,
                    ),
                    None => freed_memory_message(addr, pool),
                };
                return Err(Error::new(ErrorKind::NotOwned, why));
            }
        };
        // The block's state, the counters and its return to a magazine as one step for
        // consistency checks (see `SmallArena::quiesce`).
        let release = |heap: &ThreadHeap| {
            let _active = self.small.enter(heap);
            self.release_small(slab, index, addr, by_owner, Some(heap))
        };
        let freed = match kept_heap {
            Some(heap) => Some(release(heap)),
            None => self.small.with_heap(release),
        };
        let state = match freed {
            Some(result) => result?,
            None => {
                // No heap on this thread now (it is exiting): count and return directly.
                let _gate = self.small.heapless_gate();
                self.release_small(slab, index, addr, by_owner, None)?
            }
        };
        let bytes = state.requested as u64;
        let slot = slot_of(state.tag);
        if slot.is_none() {
            tag_by_id(self, state.tag).on_free(bytes);
        }
        if self.event_log.is_enabled() {
            let serial = self.serial.fetch_add(1, Relaxed);
            let tag = tag_by_id(self, state.tag);
            self.event_log
                .record(EventOp::Free, serial, bytes, pool, &tag);
        }
        Ok(())
    }

    /// Marks block `index` of `slab` (at `addr`) free — refused when it is not live, or owned
    /// by a library object and `by_owner` is false — and counts it: in `heap`, or in the
    /// arena's shared counters when the thread has none.
    #[inline]
    fn release_small(
        &self,
        slab: &'static Slab,
        index: usize,
        addr: usize,
        by_owner: bool,
        heap: Option<&ThreadHeap>,
    ) -> Result<BlockState> {
        let pool = slab.pool();
        let taken = if by_owner {
            slab.take_live(index).ok_or(None)
        } else {
            slab.take_live_unowned(index)
        };
        let state = match taken {
            Ok(state) => state,
            Err(None) => {
                return Err(Error::new(
                    ErrorKind::NotOwned,
                    freed_memory_message(addr, pool),
                ));
            }
            Err(Some(owned)) => {
                return Err(Error::new(
                    ErrorKind::NotOwned,
                    owned_block_message(
                        addr,
                        owned.requested,
                        tag_by_id(self, owned.tag).name(),
                        pool,
                    ),
                ));
            }
        };
        let bytes = state.requested as u64;
        self.unreserve_small(heap, bytes);
        let slot = slot_of(state.tag);
        match heap {
            Some(heap) => {
                heap.count_free(pool, slot, bytes);
                self.small.push(heap, slab, index as u32);
            }
            None => {
                self.small.count_free_shared(pool, slot, bytes);
                self.small.push_without_heap(slab, index as u32);
            }
        }
        Ok(state)
    }

    /// The description of the live small block at `addr`, if it is one of ours.
    pub(super) fn small_info(&self, addr: usize) -> Option<Option<AllocationInfo>> {
        let slab = crate::memory::small::slab_map::lookup(addr)?;
        let place = slab.locate(addr)?;
        if slab.manager() != self.id {
            return Some(None);
        }
        Some(
            place
                .ok()
                .and_then(|i| slab.state(i))
                .map(|state| self.small_allocation(addr, slab.pool(), state)),
        )
    }

    pub(super) fn small_allocation(
        &self,
        address: usize,
        pool: PoolKind,
        state: BlockState,
    ) -> AllocationInfo {
        AllocationInfo {
            address,
            size: state.requested,
            pool,
            tag: self
                .tags
                .by_id(state.tag)
                .map(|t| t.name().to_string())
                .unwrap_or_default(),
            direct: false,
            epoch: state.epoch,
        }
    }

    /// Every live small block of `pool`.
    pub(super) fn small_allocations(&self, pool: PoolKind) -> Vec<AllocationInfo> {
        self.small
            .live_blocks(pool)
            .into_iter()
            .map(|(addr, state)| self.small_allocation(addr, pool, state))
            .collect()
    }

    /// Verifies the small path's invariants for `pool` against the pool's own view: the
    /// slabs agree, and the pool's usage is its own blocks plus the live small blocks.
    /// Call from `check_consistency` only: with the arena quiesced, the snapshot read and the
    /// pools locked, so that nothing moves meanwhile.
    pub(super) fn check_small(
        &self,
        pool: PoolKind,
        own_in_use: u64,
        slabs: &[(usize, usize)],
    ) -> Result<()> {
        self.small
            .check_slab_totals(pool)
            .map_err(|m| Error::new(ErrorKind::Internal, m))?;
        let mut ours = self.small.slab_ranges(pool);
        ours.sort_unstable();
        let mut lent = slabs.to_vec();
        lent.sort_unstable();
        let fail = |m: String| Err(Error::new(ErrorKind::Internal, m));
        if ours != lent {
            return fail(format!(
                "pool {pool}: the arena has {} slabs but the pool lent {}",
                ours.len(),
                lent.len()
            ));
        }
        let live = self.small.live_blocks(pool);
        let requested: u64 = live.iter().map(|(_, s)| s.requested as u64).sum();
        let usage = self.usage[pool.index()].in_use.load(Relaxed);
        if own_in_use != usage {
            return fail(format!(
                "pool {pool}: pool-path bytes in use {usage} ≠ its live blocks' {own_in_use}"
            ));
        }
        // The caller holds the snapshot (and has quiesced the arena).
        let c = self.small.counters(pool);
        if c.in_use != requested {
            return fail(format!(
                "pool {pool}: small bytes in use {} ≠ live small blocks' {requested}",
                c.in_use
            ));
        }
        if c.allocs - c.frees != live.len() as u64 {
            return fail(format!(
                "pool {pool}: {} small allocations − {} frees ≠ {} live small blocks",
                c.allocs,
                c.frees,
                live.len()
            ));
        }
        Ok(())
    }
}

/// A pool's statistics: its own counters plus the small path's and the pool's usage.
pub(super) fn merge_small(mut stats: Stats, small: &SmallCounters, usage: &Usage) -> Stats {
    stats.allocation_count += small.allocs;
    stats.free_count += small.frees;
    stats.total_allocated_bytes += small.total;
    stats.live_allocations += small.allocs.saturating_sub(small.frees);
    stats.cached_bytes = small.cached;
    stats.bytes_in_use = usage.in_use.load(Relaxed).wrapping_add(small.in_use);
    usage.note_peak(stats.bytes_in_use);
    stats.peak_bytes_in_use = usage.peak.load(Relaxed);
    stats
}
