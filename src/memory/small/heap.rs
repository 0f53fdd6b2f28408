//! One thread's cache for one manager: per pool and size class a bounded stack ("magazine")
//! of free blocks that only the owning thread touches, and single-writer counters that any
//! thread may read.
//!
//! A [`ThreadHeap`] is shared (`Arc`) between its thread's registry entry and the manager's
//! list of heaps, so statistics can sum the counters of every thread at any moment (the C API's
//! fast lane keeps a third reference on the owning thread, and stops using it once
//! [`retired`](ThreadHeap::retired) is set). The
//! magazines sit in an `UnsafeCell` that only the owning thread accesses; the counters (counts,
//! bytes allocated, bytes in use per pool and per tag slot) are atomics written by that thread
//! alone with plain load + store (no read-modify-write), and read by anyone: a reader takes
//! the count of allocations and of frees as one pair ([`read_counts`]), so that a free never
//! shows without its allocation.

use super::class::CLASS_COUNT;
use super::slab::Slab;
use crate::memory::pool_kind::PoolKind;
use crate::memory::tags::Tag;
use std::cell::UnsafeCell;
use std::sync::Arc;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};

/// Tags with an id below this count their allocations in per-thread counters; other tags in
/// the tag's own atomics.
pub const TAG_SLOTS: usize = 32;

/// Tags a heap remembers.
pub const RECENT_TAGS: usize = 8;

/// Pools × classes: one magazine each.
pub const MAGAZINES: usize = PoolKind::ALL.len() * CLASS_COUNT;

/// A free block in a magazine: its slab and index.
pub type CachedBlock = (&'static Slab, u32);

/// Times [`read_counts`] retries before it settles for a pair read while the owner worked.
const COUNT_READ_TRIES: usize = 64;

/// Adds `delta` to a counter that only the calling thread writes (a release store: whoever
/// sees the new value also sees the owner's earlier counts).
#[inline(always)]
pub fn bump(counter: &AtomicU64, delta: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(delta), Release);
}

/// `(allocs, frees)` of one writer as they stood at one moment: the allocations are read
/// before and after the frees, and the read is retried while they moved. Two plain loads
/// could straddle the owner's work (a reader descheduled between them would see frees of
/// blocks whose allocations it had not counted). After [`COUNT_READ_TRIES`] moving reads the
/// last pair is taken: its frees are still never ahead of its allocations.
pub fn read_counts(allocs: &AtomicU64, frees: &AtomicU64) -> (u64, u64) {
    let mut before = allocs.load(Acquire);
    for _ in 0..COUNT_READ_TRIES {
        let f = frees.load(Acquire);
        let after = allocs.load(Acquire);
        if after == before {
            return (after, f);
        }
        before = after;
    }
    let f = frees.load(Acquire);
    (allocs.load(Acquire), f)
}

/// Allocation counters of one pool (single writer in a heap; read-modify-write where shared).
#[derive(Debug, Default)]
pub struct PoolCounters {
    /// Successful small allocations.
    pub allocs: AtomicU64,
    /// Frees of small blocks.
    pub frees: AtomicU64,
    /// Bytes requested by small allocations.
    pub total: AtomicU64,
    /// Bytes requested by small allocations minus bytes of small blocks freed here (wrapping:
    /// a thread may free more than it allocated; the sum over threads is exact).
    pub in_use: AtomicU64,
    /// Bytes of free blocks held in magazines (heaps only).
    pub cached: AtomicU64,
}

/// Counters of one tag slot.
#[derive(Debug, Default)]
pub struct TagCounters {
    /// Allocations with the tag.
    pub allocs: AtomicU64,
    /// Frees of allocations with the tag.
    pub frees: AtomicU64,
    /// Bytes requested by allocations with the tag.
    pub total: AtomicU64,
    /// Bytes allocated minus bytes freed here (wrapping, as for [`PoolCounters::in_use`]).
    pub in_use: AtomicU64,
}

/// What only the owning thread touches.
pub struct Local {
    /// Free blocks, by `pool * CLASS_COUNT + class`.
    pub magazines: Vec<Vec<CachedBlock>>,
    /// The manager's flush epoch when this heap last emptied its magazines.
    pub seen_flush_epoch: u64,
}

/// One thread's cache for one manager.
pub struct ThreadHeap {
    local: UnsafeCell<Local>,
    /// The tags this thread used last (owner only), so the fast path finds a tag without the
    /// manager's tag table lock.
    recent_tags: UnsafeCell<Vec<Arc<Tag>>>,
    /// Per-pool counters.
    pub pools: [PoolCounters; PoolKind::ALL.len()],
    /// Per-tag counters for tag ids below [`TAG_SLOTS`].
    pub tags: [TagCounters; TAG_SLOTS],
    /// Bytes this thread freed that the manager's total bytes in use still counts: the next
    /// small allocations use them first, so that the total changes only when they run out or
    /// pile up (see `small_path.rs`). Written by the owner alone inside an operation, or by a
    /// check that stopped every operation; read by anyone.
    pub credit: AtomicU64,
    /// True while the owner is inside a small-block operation (see `SmallArena::enter`).
    pub active: std::sync::atomic::AtomicBool,
    /// Set (by the owner) when its thread is done with the heap: its blocks went back to the
    /// slabs and its counters into the arena's totals. A caller that kept a reference
    /// ([`SmallArena::thread_heap`](super::SmallArena::thread_heap)) must not use it any more.
    pub retired: std::sync::atomic::AtomicBool,
}

// SAFETY: `local` is only accessed by the thread that created the heap (see `local`), and the
// remaining fields are atomics.
unsafe impl Sync for ThreadHeap {}
// SAFETY: as above; the `&'static Slab`s inside are `Sync`.
unsafe impl Send for ThreadHeap {}

impl ThreadHeap {
    /// An empty heap whose flush epoch starts at `epoch`.
    pub fn new(epoch: u64) -> Self {
        Self {
            local: UnsafeCell::new(Local {
                magazines: (0..MAGAZINES).map(|_| Vec::new()).collect(),
                seen_flush_epoch: epoch,
            }),
            recent_tags: UnsafeCell::new(Vec::new()),
            pools: Default::default(),
            tags: Default::default(),
            credit: AtomicU64::new(0),
            active: std::sync::atomic::AtomicBool::new(false),
            retired: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// True once the owning thread is done with the heap (see [`retired`](Self::retired)).
    #[inline(always)]
    pub fn is_retired(&self) -> bool {
        self.retired.load(Relaxed)
    }

    /// The owner-only part.
    ///
    /// # Safety
    /// Only the thread that owns the heap (the one whose registry holds it) may call this, and
    /// not while another reference from this call is alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn local(&self) -> &mut Local {
        // SAFETY: the caller guarantees exclusive, same-thread access.
        unsafe { &mut *self.local.get() }
    }

    /// The tags this thread used last (at most [`RECENT_TAGS`]).
    ///
    /// # Safety
    /// As for [`local`](Self::local).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn recent_tags(&self) -> &mut Vec<Arc<Tag>> {
        // SAFETY: the caller guarantees exclusive, same-thread access.
        unsafe { &mut *self.recent_tags.get() }
    }

    /// Counts a small allocation of `bytes` in `pool` with the tag slot `tag` (if any).
    #[inline(always)]
    pub fn count_alloc(&self, pool: PoolKind, tag: Option<usize>, bytes: u64) {
        let p = &self.pools[pool.index()];
        bump(&p.allocs, 1);
        bump(&p.total, bytes);
        bump(&p.in_use, bytes);
        if let Some(t) = tag {
            let t = &self.tags[t];
            bump(&t.allocs, 1);
            bump(&t.total, bytes);
            bump(&t.in_use, bytes);
        }
    }

    /// Counts a free of a small block of `bytes` in `pool` with the tag slot `tag` (if any).
    #[inline(always)]
    pub fn count_free(&self, pool: PoolKind, tag: Option<usize>, bytes: u64) {
        let p = &self.pools[pool.index()];
        bump(&p.frees, 1);
        bump(&p.in_use, bytes.wrapping_neg());
        if let Some(t) = tag {
            bump(&self.tags[t].frees, 1);
            bump(&self.tags[t].in_use, bytes.wrapping_neg());
        }
    }
}

/// Adds `from` into `into` (read-modify-write: `into` may be shared).
pub fn add_pool_counters(into: &PoolCounters, from: &PoolCounters) {
    into.allocs.fetch_add(from.allocs.load(Relaxed), Relaxed);
    into.frees.fetch_add(from.frees.load(Relaxed), Relaxed);
    into.total.fetch_add(from.total.load(Relaxed), Relaxed);
    into.in_use.fetch_add(from.in_use.load(Relaxed), Relaxed);
}

/// Adds `from` into `into` (read-modify-write: `into` may be shared).
pub fn add_tag_counters(into: &TagCounters, from: &TagCounters) {
    into.allocs.fetch_add(from.allocs.load(Relaxed), Relaxed);
    into.frees.fetch_add(from.frees.load(Relaxed), Relaxed);
    into.total.fetch_add(from.total.load(Relaxed), Relaxed);
    into.in_use.fetch_add(from.in_use.load(Relaxed), Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A thread allocates and frees one block after another while another reads its counts:
    /// every pair read is one that existed, so at most the one block in between is live.
    #[test]
    fn counts_read_while_the_owner_works_are_a_pair_that_existed() {
        let counters = PoolCounters::default();
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..2_000_000 {
                    bump(&counters.allocs, 1);
                    bump(&counters.frees, 1);
                }
                done.store(true, Relaxed);
            });
            let mut reads = 0u64;
            while !done.load(Relaxed) || reads == 0 {
                let (allocs, frees) = read_counts(&counters.allocs, &counters.frees);
                assert!(frees <= allocs && allocs <= frees + 1, "{allocs} − {frees}");
                reads += 1;
            }
        });
        assert_eq!(
            read_counts(&counters.allocs, &counters.frees),
            (2_000_000, 2_000_000)
        );
    }
}
