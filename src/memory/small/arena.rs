//! A manager's small-block arena: the slabs of every pool and size class, the per-thread heaps
//! that cache their blocks, and the moves between the two.
//!
//! **Fast path.** An allocation pops a block from the calling thread's magazine and a free
//! pushes it onto the freeing thread's magazine (whichever thread allocated it): no lock, and
//! no atomic read-modify-write beyond those the manager's exact counters need. Magazines are
//! bounded ([`cache_limit`]); an empty one is refilled from the class's slabs under the class
//! lock, a full one spills half of its blocks onto their slabs' lock-free free stacks.
//!
//! **Cross-thread frees** therefore never take a lock: a block freed by another thread joins
//! that thread's magazine, or its slab's atomic free stack when that overflows, where the next
//! refill of any thread finds it (tcmalloc's transfer design rather than mimalloc's owner
//! lists: blocks have no owning thread, so a thread that exits leaves nothing stranded).
//!
//! **Flushes.** A heap empties its magazines onto the slabs when its thread exits, and at its
//! next operation after a [`trim`](SmallArena::trim) (which empties the calling thread's heap
//! at once and then returns every entirely free slab to its pool).
//!
//! **Teardown.** Pushing blocks writes into slab memory, so every push and refill holds the
//! arena's guard for reading; `close` takes it for writing before the manager unmaps anything.
//!
//! **Statistics.** A statistics read sums the heaps' cached bytes, then walks the slabs, then
//! (in the manager) reads the pools. A heap's flush moves blocks from its magazines onto the
//! slabs, and a trim moves whole slabs back into their pools; a read that ran between its parts
//! while such a move happened would count the moved bytes twice (or not at all). So moves hold
//! the snapshot lock for writing and reads hold it for reading. A flush is not only ours to
//! time: an exiting thread flushes from its thread-local destructor, which may run after
//! `std::thread::scope` has already returned (rust-lang/rust#116179).
//!
//! **Quiescence.** A consistency check compares the slabs' live blocks with the heaps'
//! counters and the manager's totals, which the fast path changes one after the other without
//! a lock. So every small-block operation runs inside [`enter`](SmallArena::enter) — its heap's
//! `active` flag raised, on a line only that thread writes — and
//! [`quiesce`](SmallArena::quiesce) raises `stop` and waits until no heap is active: operations
//! that start meanwhile wait for the check to end (Dekker's handshake). Each side needs a full
//! fence between its store and its load; where the system offers it, the fence is asymmetric
//! ([`barrier`](super::barrier): a compiler fence in `enter`, a process-wide `membarrier` in
//! `quiesce`), else both sides use sequentially consistent swaps. Frees on a thread without a
//! heap, and the manager's external accounts, take the `heapless` gate for reading instead.
//!
//! Lock order: (quiescence) → snapshot → guard → class lock → (the manager's) pool lock;
//! snapshot → heap list lock; the heap list lock is otherwise taken alone. An operation enters
//! before it takes any lock, and a check quiesces before it takes any.

use super::barrier;
use super::class::{CLASS_COUNT, block_size, cache_limit, slab_len};
use super::heap::{
    CachedBlock, Local, MAGAZINES, PoolCounters, TAG_SLOTS, TagCounters, ThreadHeap,
    add_pool_counters, add_tag_counters, bump, read_counts,
};
use super::slab::{BlockState, Slab};
use super::slab_map;
use crate::error::{Error, ErrorKind, Result};
use crate::memory::pool_kind::PoolKind;
use crate::memory::tags::Counted;
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::cell::RefCell;
use std::sync::atomic::{
    AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
    Ordering::SeqCst,
};
use std::sync::{Arc, Weak};

/// Where slabs come from: the manager's pools.
pub trait SlabSource {
    /// `len` bytes for a slab of `pool`, aligned to the slab alignment.
    fn map_slab(&self, pool: PoolKind, len: usize) -> Result<usize>;
    /// Gives a slab's memory back to `pool`.
    fn unmap_slab(&self, pool: PoolKind, base: usize, len: usize);
}

/// Small-block counters of one pool, summed over every thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SmallCounters {
    /// Small allocations.
    pub allocs: u64,
    /// Frees of small blocks.
    pub frees: u64,
    /// Bytes requested by small allocations.
    pub total: u64,
    /// Bytes requested by live small blocks.
    pub in_use: u64,
    /// Bytes of the slabs not in live blocks: free blocks (in magazines, on slab free stacks,
    /// never handed out) and each slab's tail too short for a block.
    pub cached: u64,
    /// Slabs mapped.
    pub slabs: u64,
    /// Bytes of the slabs.
    pub slab_bytes: u64,
}

/// A manager's slabs and thread heaps (see the module documentation).
pub struct SmallArena {
    manager: u64,
    classes: Box<[Mutex<Vec<&'static Slab>>]>,
    guard: RwLock<()>,
    /// Written by flushes and trims, read by statistics (see the module documentation).
    snapshot: RwLock<()>,
    closed: AtomicBool,
    /// Raised by [`quiesce`](Self::quiesce): operations wait for `stop_lock` (see the module
    /// documentation).
    stop: AtomicBool,
    stop_lock: Mutex<()>,
    /// The handshake uses the asymmetric barrier (fixed at creation: see [`barrier::available`]).
    asymmetric: bool,
    /// Read by frees without a heap and by external accounts, written by a quiescing check.
    heapless: RwLock<()>,
    heaps: Mutex<Vec<Arc<ThreadHeap>>>,
    retired_pools: [PoolCounters; PoolKind::ALL.len()],
    retired_tags: [TagCounters; TAG_SLOTS],
    /// Credit of heaps whose thread ended, until the manager takes it off its total
    /// ([`take_retired_credit`](Self::take_retired_credit)).
    retired_credit: AtomicU64,
    flush_epoch: AtomicU64,
    /// Per pool, the slabs in aggregate (statistics read these instead of walking the slabs).
    slab_totals: [SlabTotals; PoolKind::ALL.len()],
}

/// The slabs of one pool in aggregate, kept up to date wherever blocks or slabs move, so that a
/// statistics read takes no class lock and walks no slab.
#[derive(Debug, Default)]
struct SlabTotals {
    /// Slabs mapped.
    slabs: AtomicU64,
    /// Bytes of those slabs.
    bytes: AtomicU64,
    /// Bytes of those slabs in neither a live block nor a magazine: free blocks on the slabs
    /// (free stack, private list, never handed out) and each slab's tail too short for a block.
    idle: AtomicU64,
}

impl SlabTotals {
    /// A new slab: all of it idle.
    fn add_slab(&self, len: usize) {
        self.slabs.fetch_add(1, Relaxed);
        self.bytes.fetch_add(len as u64, Relaxed);
        self.idle.fetch_add(len as u64, Relaxed);
    }

    /// A slab given back to its pool (every block of it free, so all of it idle).
    fn remove_slab(&self, len: usize) {
        self.slabs.fetch_sub(1, Relaxed);
        self.bytes.fetch_sub(len as u64, Relaxed);
        self.idle.fetch_sub(len as u64, Relaxed);
    }
}

/// Blocks pushed on a slab's stack in one chain by [`SmallArena::return_to_slabs`].
const CHAIN: usize = 64;

/// A thread's heap for one manager, in the thread's registry.
struct Entry {
    manager: u64,
    arena: Weak<SmallArena>,
    heap: Arc<ThreadHeap>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // The thread is exiting (or the entry's manager is gone): hand the cache back.
        if let Some(arena) = self.arena.upgrade() {
            arena.retire(&self.heap);
        }
    }
}

thread_local! {
    static REGISTRY: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

impl SmallArena {
    /// An empty arena for manager `manager`.
    pub fn new(manager: u64) -> Self {
        Self {
            manager,
            classes: (0..MAGAZINES).map(|_| Mutex::new(Vec::new())).collect(),
            guard: RwLock::new(()),
            snapshot: RwLock::new(()),
            closed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            asymmetric: barrier::available(),
            heapless: RwLock::new(()),
            heaps: Mutex::new(Vec::new()),
            retired_pools: Default::default(),
            retired_tags: Default::default(),
            retired_credit: AtomicU64::new(0),
            flush_epoch: AtomicU64::new(0),
            slab_totals: Default::default(),
        }
    }

    /// Runs `f` with the calling thread's heap for this arena (created on first use); `None`
    /// when the thread's registry is unavailable (the thread is exiting) or already in use
    /// further up the stack.
    #[inline]
    pub fn with_heap<R>(self: &Arc<Self>, f: impl FnOnce(&ThreadHeap) -> R) -> Option<R> {
        self.with_registered_heap(|heap| f(heap))
    }

    /// The calling thread's heap for this arena (created on first use) as a reference of its
    /// own, for a caller that keeps it between operations (the C API's fast lane) instead of
    /// finding it through [`with_heap`](Self::with_heap) each time; `None` as for `with_heap`.
    /// The keeper uses it on this thread only, never while a `with_heap` call of this arena is
    /// under way on the thread, and drops it once [`ThreadHeap::is_retired`] says so.
    pub fn thread_heap(self: &Arc<Self>) -> Option<Arc<ThreadHeap>> {
        self.with_registered_heap(Arc::clone)
    }

    /// [`with_heap`](Self::with_heap) with the registry's own reference to the heap: the one
    /// find-or-register of the calling thread's entry (a hit takes one exclusive borrow of
    /// the registry, held for the call: `f` may use the heap's owner-only part).
    #[inline]
    fn with_registered_heap<R>(
        self: &Arc<Self>,
        f: impl FnOnce(&Arc<ThreadHeap>) -> R,
    ) -> Option<R> {
        REGISTRY
            .try_with(|registry| {
                let entries = registry.try_borrow_mut().ok()?;
                if let Some(entry) = entries.iter().find(|e| e.manager == self.manager) {
                    return Some(f(&entry.heap));
                }
                drop(entries);
                let index = self.register(registry)?;
                let entries = registry.try_borrow_mut().ok()?;
                Some(f(&entries[index].heap))
            })
            .ok()
            .flatten()
    }

    /// Marks the calling thread's `heap` busy with one small-block operation until the guard
    /// drops; waits first while a consistency check runs. Call before taking any lock.
    #[inline(always)]
    pub fn enter<'h>(&self, heap: &'h ThreadHeap) -> Active<'h> {
        loop {
            let stopped = if self.asymmetric {
                heap.active.store(true, Relaxed);
                // Paired with the heavy barrier in `quiesce`: the store is visible to it, or
                // this load sees its `stop`.
                barrier::light();
                // Acquire: a check that wrote into this heap (`take_all_credit`) released its
                // writes with `stop`'s clearing.
                self.stop.load(Acquire)
            } else {
                heap.active.swap(true, SeqCst);
                self.stop.load(SeqCst)
            };
            if !stopped {
                return Active(heap);
            }
            heap.active.store(false, Release);
            drop(self.stop_lock.lock()); // until the check ends
        }
    }

    /// Holds off consistency checks while a thread without a heap frees a block, or while an
    /// external account changes the manager's counters.
    pub fn heapless_gate(&self) -> RwLockReadGuard<'_, ()> {
        self.heapless.read()
    }

    /// Stops every small-block operation until the guard drops: waits for those under way to
    /// finish. Then the slabs, heaps and counters hold still (flushes and trims are held off by
    /// [`read_snapshot`](Self::read_snapshot), to take next). Take no lock before this.
    pub fn quiesce(&self) -> Quiet<'_> {
        let stop_lock = self.stop_lock.lock();
        let heapless = self.heapless.write();
        self.stop.swap(true, SeqCst);
        if self.asymmetric {
            // Every operation's `active` store is now visible here, or that operation sees
            // `stop` (see `enter`).
            barrier::heavy();
        }
        let heaps: Vec<Arc<ThreadHeap>> = self.heaps.lock().clone();
        for heap in heaps {
            while heap.active.load(SeqCst) {
                std::thread::yield_now();
            }
        }
        Quiet {
            arena: self,
            _stop_lock: stop_lock,
            _heapless: heapless,
        }
    }

    fn register(self: &Arc<Self>, registry: &RefCell<Vec<Entry>>) -> Option<usize> {
        let heap = Arc::new(ThreadHeap::new(self.flush_epoch.load(Relaxed)));
        self.heaps.lock().push(heap.clone());
        // Entries of managers that no longer exist go now (their drop finds no arena).
        let stale: Vec<Entry> = {
            let mut entries = registry.try_borrow_mut().ok()?;
            let (live, stale) = std::mem::take(&mut *entries)
                .into_iter()
                .partition(|e| e.arena.strong_count() > 0);
            *entries = live;
            entries.push(Entry {
                manager: self.manager,
                arena: Arc::downgrade(self),
                heap,
            });
            stale
        };
        drop(stale);
        Some(registry.try_borrow().ok()?.len() - 1)
    }

    /// A free block of `class` in `pool` for the calling thread's `heap`.
    #[inline]
    pub fn pop(
        &self,
        heap: &ThreadHeap,
        pool: PoolKind,
        class: usize,
        source: &dyn SlabSource,
    ) -> Result<CachedBlock> {
        // SAFETY: `heap` is the calling thread's own (handed out by `with_heap`, or kept from
        // `thread_heap` on this thread), used by one operation at a time.
        let local = unsafe { heap.local() };
        self.follow_flushes(heap, local);
        let m = pool.index() * CLASS_COUNT + class;
        if local.magazines[m].is_empty() {
            self.refill(pool, class, &mut local.magazines[m], heap, source)?;
        }
        let block = local.magazines[m].pop().expect("refilled above");
        bump(
            &heap.pools[pool.index()].cached,
            (block_size(class) as u64).wrapping_neg(),
        );
        Ok(block)
    }

    /// A free block of `class` in `pool` from the calling thread's magazine, when it has one and
    /// no flush is pending (the allocation fast path; else `None`, nothing changed, and
    /// [`pop`](Self::pop) does the rest).
    #[inline(always)]
    pub fn pop_cached(
        &self,
        heap: &ThreadHeap,
        pool: PoolKind,
        class: usize,
    ) -> Option<CachedBlock> {
        // SAFETY: `heap` is the calling thread's own (handed out by `with_heap`, or kept from
        // `thread_heap` on this thread), used by one operation at a time.
        let local = unsafe { heap.local() };
        if local.seen_flush_epoch != self.flush_epoch.load(Relaxed) {
            return None;
        }
        let block = local.magazines[pool.index() * CLASS_COUNT + class].pop()?;
        bump(
            &heap.pools[pool.index()].cached,
            (block_size(class) as u64).wrapping_neg(),
        );
        Some(block)
    }

    /// Takes back block `index` of `slab` (already marked free) into the calling thread's
    /// `heap`, spilling half of the magazine onto the slabs when it is full.
    #[inline(always)]
    pub fn push(&self, heap: &ThreadHeap, slab: &'static Slab, index: u32) {
        // SAFETY: `heap` is the calling thread's own (handed out by `with_heap`, or kept from
        // `thread_heap` on this thread), used by one operation at a time.
        let local = unsafe { heap.local() };
        self.follow_flushes(heap, local);
        let (pool, class) = (slab.pool(), slab.class());
        let magazine = &mut local.magazines[pool.index() * CLASS_COUNT + class];
        magazine.push((slab, index));
        bump(&heap.pools[pool.index()].cached, block_size(class) as u64);
        if magazine.len() > cache_limit(class) {
            self.spill(heap, pool, class, magazine);
        }
    }

    /// Hands the older half of a full magazine back to the slabs.
    #[cold]
    #[inline(never)]
    fn spill(
        &self,
        heap: &ThreadHeap,
        pool: PoolKind,
        class: usize,
        magazine: &mut Vec<CachedBlock>,
    ) {
        let spilled = magazine.len() / 2;
        bump(
            &heap.pools[pool.index()].cached,
            ((spilled * block_size(class)) as u64).wrapping_neg(),
        );
        self.return_to_slabs(&mut magazine[..spilled]);
        magazine.drain(..spilled);
    }

    /// Counts a free of `bytes` (tag slot `slot`) made while the thread has no heap.
    pub fn count_free_shared(&self, pool: PoolKind, slot: Option<usize>, bytes: u64) {
        let p = &self.retired_pools[pool.index()];
        p.frees.fetch_add(1, Relaxed);
        p.in_use.fetch_sub(bytes, Relaxed);
        if let Some(slot) = slot {
            self.retired_tags[slot].frees.fetch_add(1, Relaxed);
            self.retired_tags[slot].in_use.fetch_sub(bytes, Relaxed);
        }
    }

    /// Takes back a freed block when the thread has no heap (it is exiting).
    pub fn push_without_heap(&self, slab: &'static Slab, index: u32) {
        self.return_to_slabs(&mut [(slab, index)]);
    }

    /// Empties the calling thread's magazines once per trim.
    #[inline]
    fn follow_flushes(&self, heap: &ThreadHeap, local: &mut Local) {
        let epoch = self.flush_epoch.load(Relaxed);
        if local.seen_flush_epoch != epoch {
            local.seen_flush_epoch = epoch;
            self.flush_local(heap, local);
        }
    }

    #[cold]
    #[inline(never)]
    fn flush_local(&self, heap: &ThreadHeap, local: &mut Local) {
        // The blocks leave the heap's cached bytes and join their slabs' free blocks as one
        // step for statistics reads.
        let _snapshot = self.snapshot.write();
        let mut blocks = Vec::new();
        for magazine in &mut local.magazines {
            blocks.append(magazine);
        }
        for p in &heap.pools {
            p.cached.store(0, Relaxed);
        }
        self.return_to_slabs(&mut blocks);
    }

    /// Pushes free blocks back on their slabs' stacks (one chain per slab, at most
    /// [`CHAIN`] blocks at a time, built on the stack: no allocation).
    fn return_to_slabs(&self, blocks: &mut [CachedBlock]) {
        if blocks.is_empty() {
            return;
        }
        let _guard = self.guard.read();
        if self.closed.load(Relaxed) {
            return; // the memory is being unmapped; the blocks go with it
        }
        blocks.sort_unstable_by_key(|&(slab, i)| (slab as *const Slab as usize, i));
        let mut chain = [0u32; CHAIN];
        for run in blocks.chunk_by(|a, b| std::ptr::eq(a.0, b.0)) {
            for part in run.chunks(CHAIN) {
                for (link, &(_, i)) in chain.iter_mut().zip(part) {
                    *link = i;
                }
                self.push_chain(part[0].0, &chain[..part.len()]);
            }
        }
    }

    /// Pushes free blocks `chain` on `slab`'s stack and counts them idle.
    fn push_chain(&self, slab: &'static Slab, chain: &[u32]) {
        slab.push(chain);
        self.slab_totals[slab.pool().index()]
            .idle
            .fetch_add((chain.len() * slab.block_size()) as u64, Relaxed);
    }

    /// Fills an empty magazine with about half its limit of blocks from the class's slabs,
    /// mapping a new slab when none has a free block.
    fn refill(
        &self,
        pool: PoolKind,
        class: usize,
        magazine: &mut Vec<CachedBlock>,
        heap: &ThreadHeap,
        source: &dyn SlabSource,
    ) -> Result<()> {
        let _guard = self.guard.read();
        if self.closed.load(Relaxed) {
            return Err(self.closed_error());
        }
        let want = (cache_limit(class) / 2).max(1);
        let totals = &self.slab_totals[pool.index()];
        let mut slabs = self.classes[pool.index() * CLASS_COUNT + class].lock();
        let mut scratch = Vec::with_capacity(want);
        // The newest slabs first: they are the likeliest to have room.
        for &slab in slabs.iter().rev() {
            if magazine.len() >= want {
                break;
            }
            if slab.free_blocks() > 0 {
                scratch.clear();
                slab.take(want - magazine.len(), &mut scratch);
                magazine.extend(scratch.iter().map(|&i| (slab, i)));
            }
        }
        if magazine.is_empty() {
            let len = slab_len(class);
            let base = source.map_slab(pool, len)?;
            let slab = Slab::describe(self.manager, pool, class, base, len);
            slab_map::insert(base, len, slab);
            slabs.push(slab);
            totals.add_slab(len);
            scratch.clear();
            slab.take(want, &mut scratch);
            magazine.extend(scratch.iter().map(|&i| (slab, i)));
        }
        // Every block in the magazine came off a slab just now (it is refilled only when
        // empty).
        totals
            .idle
            .fetch_sub((magazine.len() * block_size(class)) as u64, Relaxed);
        bump(
            &heap.pools[pool.index()].cached,
            (magazine.len() * block_size(class)) as u64,
        );
        Ok(())
    }

    fn closed_error(&self) -> Error {
        Error::new(
            ErrorKind::InvalidHandle,
            format!("memory manager #{} has been destroyed", self.manager),
        )
    }

    /// A thread is done with `heap`: its blocks go back to the slabs and its counters into the
    /// arena's totals.
    fn retire(&self, heap: &Arc<ThreadHeap>) {
        heap.retired.store(true, Relaxed);
        // SAFETY: called from the owning thread's registry entry as it is dropped.
        let local = unsafe { heap.local() };
        self.flush_local(heap, local);
        let mut heaps = self.heaps.lock();
        for (into, from) in self.retired_pools.iter().zip(&heap.pools) {
            add_pool_counters(into, from);
        }
        for (into, from) in self.retired_tags.iter().zip(&heap.tags) {
            add_tag_counters(into, from);
        }
        self.retired_credit
            .fetch_add(heap.credit.swap(0, Relaxed), Relaxed);
        heaps.retain(|h| !Arc::ptr_eq(h, heap));
    }

    /// Empties the calling thread's heap now and every other thread's at its next operation,
    /// then gives every entirely free slab back to its pool; returns the bytes given back.
    pub fn trim(self: &Arc<Self>, source: &dyn SlabSource) -> u64 {
        self.flush_epoch.fetch_add(1, Relaxed);
        self.with_heap(|heap| {
            // SAFETY: our own heap, inside `with_heap`.
            let local = unsafe { heap.local() };
            self.follow_flushes(heap, local);
        });
        // Slabs leave the class lists and join their pools' free runs as one step for
        // statistics reads.
        let _snapshot = self.snapshot.write();
        let _guard = self.guard.read();
        if self.closed.load(Relaxed) {
            return 0;
        }
        let mut released = 0;
        for (m, class_lock) in self.classes.iter().enumerate() {
            let pool = PoolKind::ALL[m / CLASS_COUNT];
            let mut slabs = class_lock.lock();
            // A slab whose every block is free is held by nobody: no thread can push to it.
            let (empty, busy): (Vec<&'static Slab>, Vec<&'static Slab>) =
                slabs.iter().partition(|s| s.free_blocks() == s.capacity());
            *slabs = busy;
            for slab in empty {
                let (base, len) = (slab.base(), slab.len());
                self.slab_totals[pool.index()].remove_slab(len);
                slab_map::remove(base, len);
                slab.park();
                source.unmap_slab(pool, base, len);
                released += len as u64;
            }
        }
        released
    }

    /// Marks the arena closed and hands every slab to `visit` (for the leak report), then
    /// forgets them; the caller unmaps the memory afterwards.
    pub fn close(&self, mut visit: impl FnMut(&'static Slab)) {
        let _guard = self.guard.write();
        self.closed.store(true, Relaxed);
        for class_lock in self.classes.iter() {
            for slab in std::mem::take(&mut *class_lock.lock()) {
                visit(slab);
                slab_map::remove(slab.base(), slab.len());
                slab.park();
            }
        }
        // Every slab is gone, whatever its blocks were doing.
        for totals in &self.slab_totals {
            totals.slabs.store(0, Relaxed);
            totals.bytes.store(0, Relaxed);
            totals.idle.store(0, Relaxed);
        }
    }

    /// Holds off flushes and trims while statistics are read: call [`counters`](Self::counters)
    /// and read the pools with it held, so that blocks and slabs on the move are counted once.
    /// Do not call while holding any other lock of the arena or the manager.
    pub fn read_snapshot(&self) -> RwLockReadGuard<'_, ()> {
        self.snapshot.read()
    }

    /// The small-block counters of `pool`, summed over every thread. Exact only with
    /// [`read_snapshot`](Self::read_snapshot) held (a flush could otherwise move a block from a
    /// heap's count to its slab's between the two halves of the sum).
    pub fn counters(&self, pool: PoolKind) -> SmallCounters {
        let mut c = SmallCounters::default();
        {
            let heaps = self.heaps.lock();
            let sources = std::iter::once(&self.retired_pools[pool.index()])
                .chain(heaps.iter().map(|h| &h.pools[pool.index()]));
            for p in sources {
                let (allocs, frees) = read_counts(&p.allocs, &p.frees);
                c.allocs += allocs;
                c.frees += frees;
                c.total += p.total.load(Relaxed);
                c.in_use = c.in_use.wrapping_add(p.in_use.load(Relaxed));
                c.cached = c.cached.wrapping_add(p.cached.load(Relaxed));
            }
        }
        let totals = &self.slab_totals[pool.index()];
        c.cached = c.cached.wrapping_add(totals.idle.load(Relaxed));
        c.slabs = totals.slabs.load(Relaxed);
        c.slab_bytes = totals.bytes.load(Relaxed);
        c
    }

    /// The credit of every heap (see [`ThreadHeap::credit`]), retired ones included: the part of
    /// the manager's total bytes in use that no live block holds. Exact while operations are
    /// stopped ([`quiesce`](Self::quiesce)); else each heap's as it stood when read.
    pub fn credits(&self) -> u64 {
        let heaps = self.heaps.lock();
        heaps
            .iter()
            .fold(self.retired_credit.load(Relaxed), |sum, h| {
                sum + h.credit.load(Relaxed)
            })
    }

    /// Takes every heap's credit and the ended threads' (see [`credits`](Self::credits)) and
    /// returns their sum, for the manager to take off its total. Call only with operations
    /// stopped ([`quiesce`](Self::quiesce)): the owners are then outside any operation, and
    /// see the zeros when they next enter.
    pub fn take_all_credit(&self, _quiet: &Quiet<'_>) -> u64 {
        let heaps = self.heaps.lock();
        heaps
            .iter()
            .fold(self.retired_credit.swap(0, Relaxed), |sum, h| {
                sum + h.credit.swap(0, Relaxed)
            })
    }

    /// The credit of heaps whose thread ended since the last call, for the manager to take off
    /// its total (a load, and a swap only when there is some).
    #[inline]
    pub fn take_retired_credit(&self) -> u64 {
        if self.retired_credit.load(Relaxed) == 0 {
            return 0;
        }
        self.retired_credit.swap(0, Relaxed)
    }

    /// Bytes requested by the live small blocks of `pool`, over every thread (no slab locks).
    pub fn in_use(&self, pool: PoolKind) -> u64 {
        let heaps = self.heaps.lock();
        std::iter::once(&self.retired_pools[pool.index()])
            .chain(heaps.iter().map(|h| &h.pools[pool.index()]))
            .fold(0u64, |sum, p| sum.wrapping_add(p.in_use.load(Relaxed)))
    }

    /// The counters of tag slot `slot`, over every thread.
    pub fn tag_counters(&self, slot: usize) -> Counted {
        let heaps = self.heaps.lock();
        std::iter::once(&self.retired_tags[slot])
            .chain(heaps.iter().map(|h| &h.tags[slot]))
            .fold(Counted::default(), |sum, c| {
                let (allocs, frees) = read_counts(&c.allocs, &c.frees);
                Counted {
                    allocs: sum.allocs + allocs,
                    frees: sum.frees + frees,
                    total: sum.total + c.total.load(Relaxed),
                    in_use: sum.in_use.wrapping_add(c.in_use.load(Relaxed)),
                }
            })
    }

    /// Every live block of `pool`: `(address, what it holds)`.
    pub fn live_blocks(&self, pool: PoolKind) -> Vec<(usize, BlockState)> {
        let mut live = Vec::new();
        for class in 0..CLASS_COUNT {
            let slabs = self.classes[pool.index() * CLASS_COUNT + class].lock();
            for slab in slabs.iter() {
                live.extend(
                    (0..slab.capacity())
                        .filter_map(|i| slab.state(i).map(|s| (slab.address(i), s))),
                );
            }
        }
        live
    }

    /// Compares `pool`'s slab aggregates with a walk of its slabs (consistency checks: call
    /// with the arena quiesced and the snapshot read, so that nothing moves meanwhile); the
    /// message says what differs.
    pub fn check_slab_totals(&self, pool: PoolKind) -> std::result::Result<(), String> {
        let (mut slabs, mut bytes, mut idle) = (0u64, 0u64, 0u64);
        for class in 0..CLASS_COUNT {
            for slab in self.classes[pool.index() * CLASS_COUNT + class]
                .lock()
                .iter()
            {
                let tail = slab.len() - slab.capacity() * slab.block_size();
                slabs += 1;
                bytes += slab.len() as u64;
                idle += (slab.free_blocks() * slab.block_size() + tail) as u64;
            }
        }
        let totals = &self.slab_totals[pool.index()];
        let kept = (
            totals.slabs.load(Relaxed),
            totals.bytes.load(Relaxed),
            totals.idle.load(Relaxed),
        );
        if kept == (slabs, bytes, idle) {
            Ok(())
        } else {
            Err(format!(
                "pool {pool}: the slab totals (slabs, bytes, idle bytes) are {kept:?} but the \
                 slabs add up to {:?}",
                (slabs, bytes, idle)
            ))
        }
    }

    /// `(base, len)` of every slab of `pool` (consistency checks).
    pub fn slab_ranges(&self, pool: PoolKind) -> Vec<(usize, usize)> {
        (0..CLASS_COUNT)
            .flat_map(|class| {
                self.classes[pool.index() * CLASS_COUNT + class]
                    .lock()
                    .iter()
                    .map(|s| (s.base(), s.len()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A heap inside one small-block operation ([`SmallArena::enter`]).
pub struct Active<'h>(&'h ThreadHeap);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.store(false, Release);
    }
}

/// Small-block operations stopped ([`SmallArena::quiesce`]).
pub struct Quiet<'a> {
    arena: &'a SmallArena,
    _stop_lock: MutexGuard<'a, ()>,
    _heapless: RwLockWriteGuard<'a, ()>,
}

impl Drop for Quiet<'_> {
    fn drop(&mut self) {
        // Cleared before the stop lock is released, so the waiting operations proceed.
        self.arena.stop.store(false, Release);
    }
}
