//! The memory manager: typed pools behind one handle, a hard limit, tags, exact statistics,
//! leak reports, and checks that refuse pointers it does not own.
//!
//! Requests up to 256 KiB at the default alignment take the small-block path
//! ([`small_path`](self::small_path), its common case in [`fast_path`](self::fast_path), and
//! [`credit`](self::credit) for the total bytes in use; [`crate::memory::small`]): per-thread
//! caches of size-class slabs, no lock. Everything else takes its pool's lock and the best-fit path; blocks larger
//! than a chunk get mappings of their own, which are kept for reuse up to `retain_bytes`.
//!
//! Locking: each pool has its own lock, so threads working on different element types do not
//! contend. Bytes in use (over all pools, with the threads' credit, and per pool) are atomics; every other counter is
//! either a pool's (under its lock) or a thread heap's (single writer), and a snapshot sums
//! them: each figure is exact, and all agree with one another whenever no allocation is in
//! flight. Lock order: the small arena's locks, then pool locks (in [`PoolKind::ALL`] order),
//! then the process-wide region map.

use super::config::{ManagerConfig, check_alignment};
use super::debug::{red_zones, valgrind};
use super::event_log::{EventLog, EventOp};
use super::os::{self, MapOptions};
use super::pool::{GRANULE, LiveBlock, Placement, Pool};
use super::pool_kind::{PoolElement, PoolKind};
use super::regions::{self, Owner};
use super::report;
use super::scopes::OpenScope;
use super::small::{SmallArena, SmallCounters, ThreadHeap, slab_map};
use super::stats::{AllocationInfo, LeakSummary, Stats, fragmentation};
use super::tags::{Tag, TagStats, TagTable, TagText};
use crate::error::{Error, ErrorKind, Result};
use parking_lot::{Mutex, MutexGuard};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

mod credit;
mod external;
mod fast_path;
mod small_path;

pub use external::ExternalAccount;

static NEXT_MANAGER_ID: AtomicU64 = AtomicU64::new(1);

// The manager is shared between threads (C callers and Rust alike).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<MemoryManager>();
};

/// A thread-safe memory manager with typed, 64-byte-aligned pools.
///
/// Cloning is cheap and gives another handle to the same manager; the pools are released when
/// the last handle (including every [`PoolBuffer`](super::PoolBuffer)) is dropped.
#[derive(Clone)]
pub struct MemoryManager {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    config: ManagerConfig,
    /// The debug mode (red zones around every block, valgrind client requests).
    red_zones: bool,
    pools: [Mutex<Pool>; 5],
    tags: TagTable,
    in_use: AtomicU64,
    /// The part of `in_use` held by [`ExternalAccount`]s (memory outside the pools).
    external: AtomicU64,
    peak: AtomicU64,
    closed: AtomicBool,
    /// Peaks of the live [`PeakTracker`]s (scoped peaks), updated on every allocation while any
    /// exists.
    trackers: parking_lot::RwLock<Vec<Arc<AtomicU64>>>,
    tracker_count: AtomicU64,
    /// Serial number of the next pool-path allocation (event-log ids).
    serial: AtomicU64,
    /// Checkpoints taken so far; every allocation records it (`leaks_since`).
    epoch: AtomicU64,
    /// Bytes in use of the pool path, and the peak (pool path + small blocks) per pool.
    usage: [Usage; 5],
    /// The small-block path: slabs and thread heaps.
    small: Arc<SmallArena>,
    /// The optional allocation event log.
    event_log: EventLog,
    /// Open scoped-statistics frames.
    scopes: Mutex<Vec<OpenScope>>,
}

/// Bytes in use of one pool and their peak.
#[derive(Debug, Default)]
struct Usage {
    in_use: AtomicU64,
    peak: AtomicU64,
}

impl Usage {
    /// Counts `bytes` more; returns the new value.
    fn add(&self, bytes: u64) -> u64 {
        self.in_use.fetch_add(bytes, Ordering::Relaxed) + bytes
    }

    /// Raises the peak to `current` if higher.
    fn note_peak(&self, current: u64) {
        if current > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(current, Ordering::Relaxed);
        }
    }

    #[inline]
    fn sub(&self, bytes: u64) {
        self.in_use.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// The highest bytes in use of a manager since the tracker was created (a scoped peak, e.g.
/// of one solve). Created by [`MemoryManager::track_peak`]; stops tracking when dropped.
pub struct PeakTracker {
    cell: Arc<AtomicU64>,
    manager: MemoryManager,
}

impl PeakTracker {
    /// The peak so far.
    pub fn peak(&self) -> u64 {
        self.cell.load(Ordering::Relaxed)
    }
}

impl Drop for PeakTracker {
    fn drop(&mut self) {
        let inner = &self.manager.inner;
        inner
            .trackers
            .write()
            .retain(|c| !Arc::ptr_eq(c, &self.cell));
        inner.tracker_count.fetch_sub(1, Ordering::Release);
    }
}

impl std::fmt::Debug for MemoryManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryManager")
            .field("id", &self.inner.id)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl MemoryManager {
    /// A manager with `config`; with `config.eager` each pool's first chunk is mapped now.
    pub fn new(config: ManagerConfig) -> Result<Self> {
        let config = config.validated()?;
        let id = NEXT_MANAGER_ID.fetch_add(1, Ordering::Relaxed);
        let manager = Self {
            inner: Arc::new(Inner {
                id,
                red_zones: config.red_zones == Some(true),
                config,
                pools: PoolKind::ALL.map(|kind| Mutex::new(Pool::new(kind))),
                tags: TagTable::default(),
                in_use: AtomicU64::new(0),
                external: AtomicU64::new(0),
                peak: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                trackers: parking_lot::RwLock::new(Vec::new()),
                tracker_count: AtomicU64::new(0),
                serial: AtomicU64::new(0),
                epoch: AtomicU64::new(0),
                usage: Default::default(),
                small: Arc::new(SmallArena::new(id)),
                event_log: EventLog::default(),
                scopes: Mutex::new(Vec::new()),
            }),
        };
        if manager.inner.config.eager {
            for kind in PoolKind::ALL {
                let mut pool = manager.inner.pools[kind.index()].lock();
                let len = manager.inner.config.initial_pool_size;
                manager.inner.map_chunk(&mut pool, kind, len, GRANULE)?;
            }
        }
        Ok(manager)
    }

    /// A manager with the default configuration.
    pub fn with_defaults() -> Result<Self> {
        Self::new(ManagerConfig::default())
    }

    /// True once the manager has been destroyed through the C API (every block freed); objects
    /// that still hold it must not touch their memory.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// This manager's process-unique id (as printed in reports).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The configuration in force (derived defaults filled in).
    pub fn config(&self) -> &ManagerConfig {
        &self.inner.config
    }

    /// Allocates `size` bytes from `pool`, aligned to `align` bytes (0 for the configured
    /// default; never less than the configured alignment) and tagged `tag` ("" for none).
    ///
    /// The contents are unspecified: fresh pages read as zero, reused blocks keep what their
    /// previous owner wrote. A request that would cross the memory limit fails with
    /// [`ErrorKind::LimitExceeded`] and changes nothing but the failure counter.
    pub fn allocate(
        &self,
        pool: PoolKind,
        size: usize,
        align: usize,
        tag: &str,
    ) -> Result<NonNull<u8>> {
        self.inner
            .allocate(pool, size, align, TagText::Str(tag), false)
    }

    /// Like [`allocate`](Self::allocate) with every byte set to zero. A block in a mapping made
    /// for it (fresh pages read as zero) is not written, so its pages are not faulted in yet.
    pub fn allocate_zeroed(
        &self,
        pool: PoolKind,
        size: usize,
        align: usize,
        tag: &str,
    ) -> Result<NonNull<u8>> {
        self.allocate_tagged(pool, size, align, TagText::Str(tag), true, None)
    }

    /// [`allocate`](Self::allocate) or, with `zeroed`, [`allocate_zeroed`](Self::allocate_zeroed)
    /// with a tag whose bytes may not have been checked yet (the C API's).
    /// `kept_heap`: the calling thread's small-block heap of this manager, kept by the caller
    /// between calls ([`thread_heap`](Self::thread_heap)); `None` finds it per call.
    #[inline]
    pub(crate) fn allocate_tagged(
        &self,
        pool: PoolKind,
        size: usize,
        align: usize,
        tag: TagText<'_>,
        zeroed: bool,
        kept_heap: Option<&ThreadHeap>,
    ) -> Result<NonNull<u8>> {
        let (ptr, zero) = self
            .inner
            .allocate_block(pool, size, align, tag, false, kept_heap)?;
        if zeroed && !zero {
            // SAFETY: `ptr` is a fresh block of at least `size` writable bytes that nobody else
            // uses.
            unsafe { ptr.as_ptr().write_bytes(0, size) };
        }
        Ok(ptr)
    }

    /// Allocates room for `count` elements of `T` from `T`'s pool (see [`allocate`](Self::allocate)).
    pub fn allocate_elements<T: PoolElement>(&self, count: usize, tag: &str) -> Result<NonNull<T>> {
        let bytes = element_bytes::<T>(count)?;
        Ok(self
            .inner
            .allocate(T::POOL, bytes, 0, TagText::Str(tag), false)?
            .cast())
    }

    /// Allocates a block that a library object (a [`PoolBuffer`](super::PoolBuffer)) owns: the
    /// public [`free`](Self::free) refuses it with [`ErrorKind::NotOwned`]; only
    /// [`free_owned`](Self::free_owned) gives it back.
    pub(crate) fn allocate_owned(
        &self,
        pool: PoolKind,
        size: usize,
        tag: &str,
    ) -> Result<NonNull<u8>> {
        self.inner.allocate(pool, size, 0, TagText::Str(tag), true)
    }

    /// Gives back a block from [`allocate_owned`](Self::allocate_owned) (a null `ptr` is a
    /// no-op).
    ///
    /// # Safety
    /// As for [`free`](Self::free); only the owner of the block calls this.
    pub(crate) unsafe fn free_owned(&self, ptr: *mut u8) -> Result<()> {
        self.inner.free(ptr as usize, true, None)
    }

    /// Gives the allocation that starts at `ptr` back to its pool; a null `ptr` is a no-op.
    ///
    /// A pointer that is not the start of a live allocation of this manager (freed already, from
    /// another manager, from `malloc`, or pointing inside an allocation) is refused with
    /// [`ErrorKind::NotOwned`] and nothing changes. So is the block of a
    /// [`PoolBuffer`](super::PoolBuffer) (a matrix's or CSR matrix's array, an eigenvector
    /// block…): its owner frees it when dropped.
    ///
    /// # Safety
    /// No reference into the allocation may be used after this returns `Ok`.
    pub unsafe fn free(&self, ptr: *mut u8) -> Result<()> {
        self.inner.free(ptr as usize, false, None)
    }

    /// [`free`](Self::free) through the calling thread's small-block heap kept by the caller
    /// (see [`thread_heap`](Self::thread_heap)).
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    #[inline]
    pub(crate) unsafe fn free_kept(
        &self,
        ptr: *mut u8,
        kept_heap: Option<&ThreadHeap>,
    ) -> Result<()> {
        self.inner.free(ptr as usize, false, kept_heap)
    }

    /// The tag called `name` in this manager if it exists (none is made: a failed allocation
    /// must not leave a tag behind), for a caller that keeps it between calls
    /// ([`allocate_small_fast`](Self::allocate_small_fast)).
    pub(crate) fn existing_tag(&self, name: TagText<'_>) -> Option<Arc<Tag>> {
        self.inner.tags.get(name.to_str().ok()?)
    }

    /// The common small allocation in one pass (see `manager/fast_path.rs`): `size` bytes of
    /// `pool` tagged `tag` (from [`existing_tag`](Self::existing_tag) of this manager) from the
    /// calling thread's `heap` of this manager (kept as for [`free_kept`](Self::free_kept));
    /// `None`, with nothing changed, when [`allocate_tagged`](Self::allocate_tagged) must do it.
    #[inline]
    pub(crate) fn allocate_small_fast(
        &self,
        heap: &ThreadHeap,
        pool: PoolKind,
        size: usize,
        tag: &Tag,
    ) -> Option<NonNull<u8>> {
        self.inner.allocate_small_fast(heap, pool, size, tag)
    }

    /// The common small free in one pass: `true` when the small block that starts at `ptr` was
    /// freed through `heap` (as for [`allocate_small_fast`](Self::allocate_small_fast));
    /// `false`, with nothing changed, when [`free_kept`](Self::free_kept) must do it or refuse
    /// it.
    ///
    /// # Safety
    /// As for [`free`](Self::free).
    #[inline]
    pub(crate) unsafe fn free_small_fast(&self, heap: &ThreadHeap, ptr: *mut u8) -> bool {
        self.inner.free_small_fast(heap, ptr as usize)
    }

    /// The calling thread's small-block heap of this manager (created on first use), for a
    /// caller that keeps it between calls instead of finding it per call (the C API's fast
    /// lane: one thread-local lookup per call instead of two). `None` when the manager has no
    /// thread caches or the thread is exiting.
    ///
    /// The keeper passes it only to this manager's calls on this thread, never from inside
    /// another operation of this manager on the thread (nothing in the library calls back into
    /// a caller), and drops it when its thread ends; a heap whose thread has finished with it
    /// is noticed and skipped.
    pub(crate) fn thread_heap(&self) -> Option<Arc<ThreadHeap>> {
        if !self.inner.config.thread_cache {
            return None;
        }
        self.inner.small.thread_heap()
    }

    /// The live allocation that starts at `ptr`, if there is one.
    pub fn allocation_info(&self, ptr: *const u8) -> Option<AllocationInfo> {
        let addr = ptr as usize;
        if let Some(small) = self.inner.small_info(addr) {
            return small;
        }
        let owner = regions::owner_of(addr)?;
        if owner.manager != self.inner.id {
            return None;
        }
        let pool = self.inner.pools[owner.pool.index()].lock();
        pool.find_live(addr)
            .map(|(start, block)| pool.info(start, block))
    }

    /// Starts tracking the peak bytes in use from now on (e.g. over one solve).
    pub fn track_peak(&self) -> PeakTracker {
        PeakTracker {
            cell: self.inner.register_tracker(),
            manager: self.clone(),
        }
    }

    /// Starts (or stops) recording every allocation and free in the event log (off by default;
    /// when off it costs one relaxed atomic load per operation).
    pub fn set_event_log(&self, on: bool) {
        self.inner.event_log.set_enabled(on);
    }

    /// The events recorded so far, in order.
    pub fn event_log(&self) -> Vec<crate::memory::Event> {
        self.inner.event_log.snapshot()
    }

    /// Forgets the recorded events.
    pub fn clear_event_log(&self) {
        self.inner.event_log.clear();
    }

    /// The open scoped-statistics frames.
    pub(crate) fn scopes(&self) -> &Mutex<Vec<OpenScope>> {
        &self.inner.scopes
    }

    /// Starts a new checkpoint epoch and returns it: allocations from now on record it.
    pub(crate) fn next_epoch(&self) -> u64 {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The current checkpoint epoch.
    pub(crate) fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// A new scoped-peak cell (see [`track_peak`](Self::track_peak)); give it back with
    /// [`untrack_peak`](Self::untrack_peak).
    pub(crate) fn register_peak_cell(&self) -> Arc<AtomicU64> {
        self.inner.register_tracker()
    }

    /// Stops updating `cell`.
    pub(crate) fn untrack_peak(&self, cell: &Arc<AtomicU64>) {
        self.inner.unregister_tracker(cell);
    }

    /// Totals over all pools, exact at the moment of the call.
    pub fn stats(&self) -> Stats {
        self.inner.total_stats()
    }

    /// The counters of one pool.
    pub fn pool_stats(&self, pool: PoolKind) -> Stats {
        let snapshot = self.inner.small.read_snapshot();
        let small = self.inner.small.counters(pool);
        let stats = self.inner.pools[pool.index()].lock().stats();
        drop(snapshot);
        let stats = small_path::merge_small(stats, &small, &self.inner.usage[pool.index()]);
        self.inner.with_availability(stats)
    }

    /// Statistics of the allocations tagged `tag`, if any allocation ever used that tag.
    pub fn tag_stats(&self, tag: &str) -> Option<TagStats> {
        self.inner
            .tags
            .get(tag)
            .map(|t| t.stats(self.inner.tag_extra(&t)))
    }

    /// Number of distinct tags used so far (tags are never forgotten).
    pub fn tag_count(&self) -> usize {
        self.inner.tags.len()
    }

    /// Statistics of every tag ever used, the most memory in use first.
    pub fn tags(&self) -> Vec<TagStats> {
        self.inner.tags.all_stats(|t| self.inner.tag_extra(t))
    }

    /// Every live allocation, by pool then address.
    pub fn live_allocations(&self) -> Vec<AllocationInfo> {
        let small: Vec<AllocationInfo> = PoolKind::ALL
            .iter()
            .flat_map(|&k| self.inner.small_allocations(k))
            .collect();
        let pools = self.inner.lock_all();
        let mut all: Vec<AllocationInfo> = pools.iter().flat_map(|p| p.allocations()).collect();
        drop(pools);
        all.extend(small);
        all.sort_by_key(|a| (a.pool.index(), a.address));
        all
    }

    /// How many allocations are live and how many bytes they requested.
    pub fn leak_summary(&self) -> LeakSummary {
        let stats = self.stats();
        LeakSummary {
            count: stats.live_allocations,
            bytes: stats.bytes_in_use,
        }
    }

    /// The outstanding allocations as text: a summary per tag, then each allocation (largest
    /// first, at most `report::LEAK_LINES` lines).
    pub fn leak_report(&self) -> String {
        report::leak_report(self.inner.id, &self.live_allocations())
    }

    /// The seed's `print_allocation_report`: limit, per-pool table, totals and the top tags.
    pub fn allocation_report(&self) -> String {
        let pools: Vec<(PoolKind, Stats)> = PoolKind::ALL
            .iter()
            .map(|&k| (k, self.pool_stats(k)))
            .collect();
        report::allocation_report(self.inner.id, &self.stats(), &pools, &self.tags())
    }

    /// Empties this thread's block cache (other threads' at their next call), gives every
    /// entirely free slab back to its pool, then every entirely free chunk and every kept
    /// direct mapping back to the system; returns the bytes unmapped.
    pub fn trim(&self) -> u64 {
        self.inner.small.trim(&*self.inner);
        let mut released = 0;
        for pool in &self.inner.pools {
            let (empty, retained) = {
                let mut pool = pool.lock();
                (pool.take_empty_chunks(), pool.take_retained())
            };
            for (start, len) in empty.into_iter().chain(retained) {
                regions::unregister(start);
                os::unmap(start, len);
                released += len as u64;
            }
        }
        released
    }

    /// Verifies the manager's internal invariants (free runs and blocks tile every chunk,
    /// counters match the live blocks, totals match the pools). Meant for tests and debugging.
    ///
    /// Exact under concurrency: it stops the small-block fast path (operations under way finish,
    /// new ones wait), holds off flushes and trims, and locks every pool, so it compares one
    /// consistent state; other threads' allocations and frees wait while it runs.
    pub fn check_consistency(&self) -> Result<()> {
        let inner = &self.inner;
        // Lock order: quiescence, snapshot, then (inside the arena) class locks, then pools.
        let _quiet = inner.small.quiesce();
        let _snapshot = inner.small.read_snapshot();
        let pools = inner.lock_all();
        let mut in_use = 0;
        for kind in PoolKind::ALL {
            let pool = &pools[kind.index()];
            pool.check()
                .map_err(|e| Error::new(ErrorKind::Internal, e))?;
            inner.check_small(kind, pool.own_in_use(), &pool.slab_ranges())?;
            in_use += inner.usage[kind.index()]
                .in_use
                .load(Ordering::Relaxed)
                .wrapping_add(inner.small.in_use(kind));
        }
        inner.check_red_zones(&pools)?;
        let total = inner.in_use_now();
        let external = inner.external.load(Ordering::Relaxed);
        if total != in_use.wrapping_add(external) {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "manager total in use {total} ≠ sum over pools {in_use} + external accounts \
                     {external}"
                ),
            ));
        }
        Ok(())
    }

    /// Frees everything now, whatever handles remain, and returns what was still live (printing
    /// the leak report to stderr when configured). Later calls on any handle to this manager fail
    /// with [`ErrorKind::InvalidHandle`].
    pub(crate) fn close(&self) -> LeakSummary {
        self.inner.close()
    }
}

/// The refusal of `what` (a request, described for the message) by memory limit `limit` with
/// `current` bytes in use.
fn limit_exceeded(what: &str, limit: u64, current: u64) -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        format!(
            "{what} would exceed the memory limit of {limit} bytes: {current} bytes are in use, \
             {} available",
            limit.saturating_sub(current)
        ),
    )
}

/// The refusal of a free of `addr`, which belongs to manager `owner` (pool `pool`), through
/// manager `this` (pool path and small-block path alike).
/// Why the public free refuses the block at `addr`: a library object owns it.
pub(crate) fn owned_block_message(addr: usize, size: usize, tag: &str, pool: PoolKind) -> String {
    format!(
        "block {addr:#x} ({size} bytes, tag {tag:?}, pool {pool}) belongs to a library object \
         (a matrix, CSR matrix, operator or result), which frees it when destroyed; destroy that \
         object instead"
    )
}

fn foreign_manager_error(addr: usize, owner: u64, pool: PoolKind, this: u64) -> Error {
    Error::new(
        ErrorKind::NotOwned,
        format!(
            "{addr:#x} belongs to memory manager #{owner} (pool {pool}), not to manager #{this}; \
             free it with the manager that allocated it"
        ),
    )
}

/// `count * size_of::<T>()`, or an error naming the overflow.
pub(crate) fn element_bytes<T>(count: usize) -> Result<usize> {
    count.checked_mul(size_of::<T>()).ok_or_else(|| {
        Error::invalid_argument(format!(
            "{count} elements of {} bytes overflow the address space",
            size_of::<T>()
        ))
    })
}

impl Inner {
    /// Raises the peaks of pool `kind` (whose pool-path bytes in use are `pool_now`) and of
    /// `tag` to what is live now, small blocks included: on every pool-path allocation and
    /// every small block of a library object (see docs/memory.md on which peaks are exact).
    fn note_peaks(&self, kind: PoolKind, pool_now: u64, tag: &super::tags::Tag) {
        self.usage[kind.index()].note_peak(pool_now.wrapping_add(self.small.in_use(kind)));
        if let Some(slot) = tag.slot() {
            tag.note_peak(
                tag.in_use()
                    .wrapping_add(self.small.tag_counters(slot).in_use),
            );
        }
    }

    /// What the small path counted for tag `tag` outside the tag's own counters.
    fn tag_extra(&self, tag: &super::tags::Tag) -> super::tags::Counted {
        tag.slot()
            .map(|slot| self.small.tag_counters(slot))
            .unwrap_or_default()
    }

    fn register_tracker(&self) -> Arc<AtomicU64> {
        // Small blocks stop using credit first, then the credit the heaps hold goes: from here
        // on the total is the bytes in use, and every allocation updates the trackers.
        self.tracker_count.fetch_add(1, Ordering::SeqCst);
        if self.config.memory_limit.is_none() {
            self.reclaim_credit();
        }
        let cell = Arc::new(AtomicU64::new(self.in_use.load(Ordering::Relaxed)));
        self.trackers.write().push(cell.clone());
        cell
    }

    fn unregister_tracker(&self, cell: &Arc<AtomicU64>) {
        let mut trackers = self.trackers.write();
        let before = trackers.len();
        trackers.retain(|c| !Arc::ptr_eq(c, cell));
        if trackers.len() < before {
            self.tracker_count.fetch_sub(1, Ordering::Release);
        }
    }

    fn allocate(
        &self,
        kind: PoolKind,
        size: usize,
        align: usize,
        tag: TagText<'_>,
        owned: bool,
    ) -> Result<NonNull<u8>> {
        self.allocate_block(kind, size, align, tag, owned, None)
            .map(|(p, _)| p)
    }

    /// Allocates a block (`owned`: by a library object, see
    /// [`MemoryManager::allocate_owned`]); the flag says whether it lies in pages mapped for it
    /// just now (which read as zero).
    ///
    /// `kept_heap`: the calling thread's small-block heap of this manager when the caller keeps
    /// it (see [`MemoryManager::thread_heap`]); else the heap is found per call.
    #[inline]
    fn allocate_block(
        &self,
        kind: PoolKind,
        size: usize,
        align: usize,
        tag: TagText<'_>,
        owned: bool,
        kept_heap: Option<&ThreadHeap>,
    ) -> Result<(NonNull<u8>, bool)> {
        let align = if align == 0 {
            self.config.alignment
        } else {
            check_alignment(align, "alignment")?;
            align.max(self.config.alignment)
        };
        if size > isize::MAX as usize / 2 {
            return Err(Error::invalid_argument(format!(
                "allocation of {size} bytes is larger than the address space allows"
            )));
        }
        if self.small_eligible(size, align) {
            let small = match kept_heap {
                Some(heap) if !heap.is_retired() => {
                    self.allocate_small_in(heap, kind, size, tag, owned)
                }
                _ => self.allocate_small(kind, size, tag, owned),
            };
            if let Some(result) = small {
                return result.map(|p| (p, false));
            }
        }
        self.allocate_pooled(kind, size, align, tag, owned)
    }

    /// The pool path of [`allocate_block`](Self::allocate_block) (`align` resolved and
    /// checked): a block carved from the pool's chunks, or a mapping of its own.
    #[inline(never)]
    fn allocate_pooled(
        &self,
        kind: PoolKind,
        size: usize,
        align: usize,
        tag: TagText<'_>,
        owned: bool,
    ) -> Result<(NonNull<u8>, bool)> {
        // The debug mode guards the block: `front` bytes before the caller's, a red zone after.
        let (front, block_len) = if self.red_zones {
            red_zones::layout(size, align).expect("size checked above")
        } else {
            let len = os::align_up(size.max(1), GRANULE).expect("size checked above");
            (0, len)
        };
        let tag = self.tags.intern(tag.to_str()?)?;

        let mut pool = self.pools[kind.index()].lock();
        self.check_open()?;
        if let Err(e) = self.reserve(size, kind, tag.name()) {
            pool.count_failure();
            return Err(e);
        }
        let placed = match pool.carve(block_len, align) {
            Some((addr, chunk)) => Ok((addr, block_len, Placement::Chunk(chunk), false)),
            None if block_len > self.config.chunk_size => {
                self.map_direct(&mut pool, kind, block_len, align)
            }
            None => {
                let wanted = if pool.has_no_chunks() {
                    self.config.initial_pool_size
                } else {
                    self.config.chunk_size
                };
                let len = wanted.max(block_len);
                self.map_chunk(&mut pool, kind, len, align).map(|()| {
                    let (addr, chunk) = pool
                        .carve(block_len, align)
                        .expect("a fresh aligned chunk holds the block");
                    (addr, block_len, Placement::Chunk(chunk), true)
                })
            }
        };
        let (addr, len, placement, zero) = match placed {
            Ok(placed) => placed,
            Err(e) => {
                self.in_use.fetch_sub(size as u64, Ordering::Relaxed);
                pool.count_failure();
                return Err(e.context(&format!(
                    "allocation of {size} bytes (tag {:?}, pool {kind})",
                    tag.name()
                )));
            }
        };
        tag.on_alloc(size as u64);
        let now = self.usage[kind.index()].add(size as u64);
        self.note_peaks(kind, now, &tag);
        let serial = self.serial.fetch_add(1, Ordering::AcqRel);
        if self.event_log.is_enabled() {
            self.event_log
                .record(EventOp::Alloc, serial, size as u64, kind, &tag);
        }
        pool.insert_live(
            addr,
            LiveBlock {
                len,
                requested: size,
                tag,
                placement,
                serial,
                epoch: self.epoch.load(Ordering::Acquire),
                owned,
                front,
            },
        );
        let user = addr + front;
        if self.red_zones {
            // SAFETY: `[addr, addr + block_len)` was just carved for this block alone, and
            // `layout` put both zones inside it.
            unsafe { red_zones::paint(user, size, zero) };
        }
        let ptr = NonNull::new(user as *mut u8).expect("mappings are never at address 0");
        Ok((ptr, zero))
    }

    /// Counts `size` more bytes in use, unless that crosses the limit.
    #[inline]
    fn reserve(&self, size: usize, kind: PoolKind, tag: &str) -> Result<()> {
        self.reserve_bytes(size as u64, || {
            format!("allocation of {size} bytes (tag {tag:?}, pool {kind})")
        })
    }

    /// Counts `size` more bytes in use (peaks included), unless that crosses the limit; `what`
    /// describes the request for the error message.
    #[inline]
    fn reserve_bytes(&self, size: u64, what: impl FnOnce() -> String) -> Result<()> {
        let limit = self.config.memory_limit;
        let result = if limit.is_none() {
            Ok(self.in_use.fetch_add(size, Ordering::Relaxed))
        } else {
            self.in_use
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
                    let next = current.checked_add(size)?;
                    match limit {
                        Some(limit) if next > limit => None,
                        _ => Some(next),
                    }
                })
        };
        match result {
            Ok(previous) => {
                let total = previous + size;
                let tracked = self.tracker_count.load(Ordering::Acquire) > 0;
                if total > self.peak.load(Ordering::Relaxed) || tracked {
                    // The total counts the threads' credit too (none with a limit): a new peak
                    // is what is in use without it.
                    let now = if self.uses_credit() {
                        total.saturating_sub(self.small.credits())
                    } else {
                        total
                    };
                    self.peak.fetch_max(now, Ordering::Relaxed);
                    if tracked {
                        for cell in self.trackers.read().iter() {
                            cell.fetch_max(now, Ordering::Relaxed);
                        }
                    }
                }
                Ok(())
            }
            Err(current) => Err(limit_exceeded(&what(), limit.unwrap_or(u64::MAX), current)),
        }
    }

    fn map_options(&self) -> MapOptions {
        MapOptions {
            huge_pages: self.config.huge_pages,
            prefault: self.config.prefault,
            prefault_threads: self.config.prefault_threads,
        }
    }

    /// Maps a chunk of at least `len` bytes aligned to `align` and adds it to `pool`.
    fn map_chunk(
        &self,
        pool: &mut MutexGuard<'_, Pool>,
        kind: PoolKind,
        len: usize,
        align: usize,
    ) -> Result<()> {
        let (start, len) = os::map(len, align, self.map_options())?;
        if self.red_zones {
            valgrind::no_access(start, len);
        }
        regions::register(start, len, self.owner(kind));
        pool.add_chunk(start, len);
        Ok(())
    }

    /// A mapping of its own for a block too large for a chunk: a kept one when one fits, else
    /// a new one.
    fn map_direct(
        &self,
        pool: &mut MutexGuard<'_, Pool>,
        kind: PoolKind,
        len: usize,
        align: usize,
    ) -> Result<(usize, usize, Placement, bool)> {
        if let Some((start, len)) = pool.reuse_retained(len, align) {
            return Ok((start, len, Placement::Direct, false));
        }
        let (start, len) = os::map(len, align, self.map_options())?;
        if self.red_zones {
            valgrind::no_access(start, len);
        }
        regions::register(start, len, self.owner(kind));
        Ok((start, len, Placement::Direct, true))
    }

    fn owner(&self, pool: PoolKind) -> Owner {
        Owner {
            manager: self.id,
            pool,
        }
    }

    #[inline]
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::InvalidHandle,
                format!("memory manager #{} has been destroyed", self.id),
            ));
        }
        Ok(())
    }

    /// Frees the block at `addr`; `by_owner`: the caller is the block's owning library object
    /// (else an owned block is refused); `kept_heap` as for
    /// [`allocate_block`](Self::allocate_block).
    #[inline]
    fn free(&self, addr: usize, by_owner: bool, kept_heap: Option<&ThreadHeap>) -> Result<()> {
        if addr == 0 {
            return Ok(());
        }
        if let Some(slab) = slab_map::lookup(addr) {
            if let Some(place) = slab.locate(addr) {
                let kept_heap = kept_heap.filter(|heap| !heap.is_retired());
                if let (false, Ok(index), true) = (by_owner, place, slab.manager() == self.id) {
                    let fast = |heap: &ThreadHeap| self.free_block_fast(heap, slab, index);
                    let freed = match kept_heap {
                        Some(heap) => fast(heap),
                        None => self.small.with_heap(fast).unwrap_or(false),
                    };
                    if freed {
                        return Ok(());
                    }
                }
                return self.free_small(slab, place, addr, by_owner, kept_heap);
            }
        }
        self.free_pooled(addr, by_owner)
    }

    /// The pool path of [`free`](Self::free): `addr` is not in a small-block slab.
    #[inline(never)]
    fn free_pooled(&self, addr: usize, by_owner: bool) -> Result<()> {
        let owner = match regions::owner_of(addr) {
            Some(owner) => owner,
            None => {
                self.check_open()?;
                return Err(Error::new(
                    ErrorKind::NotOwned,
                    format!(
                        "{addr:#x} was not allocated by any qdsim memory manager \
                         (a malloc'ed, stack or static address, or freed with its manager?)"
                    ),
                ));
            }
        };
        if owner.manager != self.id {
            return Err(foreign_manager_error(
                addr,
                owner.manager,
                owner.pool,
                self.id,
            ));
        }
        let mut pool = self.pools[owner.pool.index()].lock();
        self.check_open()?;
        if let Some((_, block)) = pool.find_live(addr).filter(|(_, b)| b.owned && !by_owner) {
            return Err(Error::new(
                ErrorKind::NotOwned,
                owned_block_message(addr, block.requested, block.tag.name(), owner.pool),
            ));
        }
        let (start, block) = pool
            .remove_live(addr)
            .map_err(|why| Error::new(ErrorKind::NotOwned, why))?;
        // The debug mode: the block goes back all the same; a damaged red zone is reported.
        let damage = if block.front > 0 {
            // SAFETY: the block was live and painted; its owner has given it back.
            let damage = unsafe { red_zones::check(addr, block.requested) };
            // SAFETY: as above.
            unsafe { red_zones::retire(addr, block.requested) };
            damage.map(|damage| {
                Error::new(
                    ErrorKind::MemoryCorrupted,
                    red_zones::message(addr, block.requested, block.tag.name(), owner.pool, damage)
                        + "; the block was freed",
                )
            })
        } else {
            None
        };
        let addr = start;
        self.in_use
            .fetch_sub(block.requested as u64, Ordering::Relaxed);
        self.usage[owner.pool.index()].sub(block.requested as u64);
        block.tag.on_free(block.requested as u64);
        if self.event_log.is_enabled() {
            self.event_log.record(
                EventOp::Free,
                block.serial,
                block.requested as u64,
                owner.pool,
                &block.tag,
            );
        }
        if block.placement == Placement::Direct
            && !pool.retain(addr, block.len, self.config.retain_bytes)
        {
            regions::unregister(addr);
            drop(pool);
            os::unmap(addr, block.len);
        }
        damage.map_or(Ok(()), Err)
    }

    /// The debug mode's check of every live block's red zones: the first damaged block (and
    /// how many more there are) as [`ErrorKind::MemoryCorrupted`].
    fn check_red_zones(&self, pools: &[MutexGuard<'_, Pool>; 5]) -> Result<()> {
        let mut damaged = Vec::new();
        for (kind, pool) in PoolKind::ALL.iter().zip(pools) {
            for (start, block) in pool.live_blocks().filter(|(_, b)| b.front > 0) {
                let user = block.user(start);
                // SAFETY: a live, painted block; its pool's lock keeps it from being freed now.
                if let Some(damage) = unsafe { red_zones::check(user, block.requested) } {
                    damaged.push(red_zones::message(
                        user,
                        block.requested,
                        block.tag.name(),
                        *kind,
                        damage,
                    ));
                }
            }
        }
        match damaged.len() {
            0 => Ok(()),
            1 => Err(Error::new(ErrorKind::MemoryCorrupted, damaged.remove(0))),
            n => Err(Error::new(
                ErrorKind::MemoryCorrupted,
                format!("{} (and {} more damaged blocks)", damaged[0], n - 1),
            )),
        }
    }

    fn lock_all(&self) -> [MutexGuard<'_, Pool>; 5] {
        // Fixed order (PoolKind::ALL) so that two snapshots cannot deadlock.
        [0, 1, 2, 3, 4].map(|i| self.pools[i].lock())
    }

    fn total_stats(&self) -> Stats {
        // Held until the pools are read: no flush or trim moves memory between the parts.
        let _snapshot = self.small.read_snapshot();
        let small: [SmallCounters; 5] = PoolKind::ALL.map(|k| self.small.counters(k));
        let pools = self.lock_all();
        let mut total = Stats::default();
        let mut largest_per_pool = 0;
        for (i, pool) in pools.iter().enumerate() {
            let stats = small_path::merge_small(pool.stats(), &small[i], &self.usage[i]);
            largest_per_pool += stats.largest_free_block;
            total.accumulate(&stats);
        }
        // A pool's free space only ever serves that pool, so the total measures each pool
        // against its own largest run (the free-bytes-weighted mean of the pools' values).
        total.fragmentation = fragmentation(total.free_bytes, largest_per_pool);
        // Summed from the per-thread counters, as per pool: an operation in flight on another
        // thread counts whole or not at all (the manager's total would also count the threads'
        // credit). A sum read across such an operation's two counters can wrap below zero.
        let in_use = total
            .bytes_in_use
            .wrapping_add(self.external.load(Ordering::Relaxed));
        total.bytes_in_use = if in_use > i64::MAX as u64 { 0 } else { in_use };
        // A read is a moment the peak is measured too (it can only have been missed between
        // two threads' credit reuse: see `credit.rs`).
        if total.bytes_in_use > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(total.bytes_in_use, Ordering::Relaxed);
        }
        total.peak_bytes_in_use = self.peak.load(Ordering::Relaxed);
        self.with_availability(total)
    }

    fn with_availability(&self, mut stats: Stats) -> Stats {
        let in_use = self.in_use.load(Ordering::Relaxed);
        match self.config.memory_limit {
            Some(limit) => {
                stats.limit_bytes = limit;
                stats.available_bytes = limit.saturating_sub(in_use);
            }
            None => stats.available_bytes = os::recent_available_memory(),
        }
        stats
    }

    fn close(&self) -> LeakSummary {
        if self.closed.swap(true, Ordering::AcqRel) {
            return LeakSummary::default();
        }
        let mut small_live: Vec<AllocationInfo> = Vec::new();
        self.small.close(|slab| {
            for i in 0..slab.capacity() {
                if let Some(state) = slab.state(i) {
                    small_live.push(self.small_allocation(slab.address(i), slab.pool(), state));
                }
            }
        });
        let mut pools = self.lock_all();
        let mut leaks = LeakSummary {
            count: small_live.len() as u64,
            bytes: small_live.iter().map(|a| a.size as u64).sum(),
        };
        for pool in pools.iter() {
            let stats = pool.stats();
            leaks.count += stats.live_allocations;
            leaks.bytes += stats.bytes_in_use;
        }
        if leaks.count > 0 && self.config.report_leaks_on_destroy {
            let mut live: Vec<AllocationInfo> =
                pools.iter().flat_map(|p| p.allocations()).collect();
            live.extend(small_live);
            eprintln!("{}", report::leak_report(self.id, &live));
        }
        if self.red_zones {
            // Memcheck forgets the blocks it was told about, as if freed (no false leaks).
            for pool in pools.iter() {
                for (start, block) in pool.live_blocks() {
                    valgrind::freelike(block.user(start));
                }
            }
        }
        let mappings: Vec<(usize, usize)> = pools
            .iter_mut()
            .flat_map(|pool| pool.take_all_mappings())
            .collect();
        self.in_use.store(0, Ordering::Relaxed);
        self.external.store(0, Ordering::Relaxed);
        for usage in &self.usage {
            usage.in_use.store(0, Ordering::Relaxed);
        }
        for &(start, _) in &mappings {
            regions::unregister(start);
        }
        drop(pools);
        for (start, len) in mappings {
            os::unmap(start, len);
        }
        leaks
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}
