//! The small-block fast path: an allocation served from the calling thread's magazine and a
//! free of a small block's start, each in one pass with no `Result`, no error text and every
//! rare case out of line — for callers that hold the thread's heap (the C API's lane, the Rust
//! API's registry lookup) and the interned tag.
//!
//! Each function does the whole operation or nothing: on anything else (an empty magazine, a
//! pending flush, a memory limit, a tag or epoch the block's state word cannot record, a pointer
//! that is not a live small block's start of this manager, the event log) it returns `None` or
//! `false` having changed nothing, and the caller takes the general path
//! (`small_path.rs` and the pool path), which does it or says why not. So every promise of the
//! general path — exact counters, the double-free and ownership checks, the consistency
//! handshake — holds here by the same steps, in fewer instructions.

use super::Inner;
use super::small_path::slot_of;
use crate::memory::pool_kind::PoolKind;
use crate::memory::small::{BlockState, MAX_EPOCH, Slab, ThreadHeap, class_of, slab_map};
use crate::memory::tags::Tag;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

impl Inner {
    /// Allocates `size` bytes of `kind` tagged `tag` (interned in this manager) from `heap`'s
    /// magazine (`heap`: the calling thread's heap of this manager, no other operation on it
    /// under way); `None`, with nothing changed, when the general path must do it.
    #[inline(always)]
    pub(super) fn allocate_small_fast(
        &self,
        heap: &ThreadHeap,
        kind: PoolKind,
        size: usize,
        tag: &Tag,
    ) -> Option<NonNull<u8>> {
        if !self.small_eligible(size, crate::memory::MIN_ALIGNMENT)
            || !self.uses_credit()
            || heap.is_retired()
        {
            return None;
        }
        // Tags past the per-thread slots (and so past what a state word records) go the
        // general way.
        let slot = tag.slot()?;
        // The block's state, the counters and the credit as one step for consistency checks.
        let _active = self.small.enter(heap);
        let epoch = self.epoch.load(Relaxed);
        if epoch > MAX_EPOCH || self.closed.load(Acquire) {
            return None;
        }
        let (slab, index) = self.small.pop_cached(heap, kind, class_of(size.max(1)))?;
        self.spend_credit(heap, size as u64);
        heap.count_alloc(kind, Some(slot), size as u64);
        slab.set_live(
            index as usize,
            BlockState {
                tag: tag.id(),
                requested: size,
                epoch,
                owned: false,
            },
        );
        NonNull::new(slab.address(index as usize) as *mut u8)
    }

    /// Frees the small block that starts at `addr` through `heap` (as for
    /// [`allocate_small_fast`](Self::allocate_small_fast)); `false`, with nothing changed,
    /// when the general path must do it (or refuse it).
    #[inline(always)]
    pub(super) fn free_small_fast(&self, heap: &ThreadHeap, addr: usize) -> bool {
        let Some(slab) = slab_map::lookup(addr) else {
            return false;
        };
        if slab.manager() != self.id {
            return false;
        }
        let Some(Ok(index)) = slab.locate(addr) else {
            return false;
        };
        self.free_block_fast(heap, slab, index)
    }

    /// [`free_small_fast`](Self::free_small_fast) of block `index` of `slab` (a slab of this
    /// manager), the start of the freed pointer.
    #[inline(always)]
    pub(super) fn free_block_fast(
        &self,
        heap: &ThreadHeap,
        slab: &'static Slab,
        index: usize,
    ) -> bool {
        if !self.uses_credit() || heap.is_retired() || self.event_log.is_enabled() {
            return false;
        }
        let _active = self.small.enter(heap);
        if self.closed.load(Acquire) {
            return false;
        }
        let Ok(state) = slab.take_live_unowned(index) else {
            return false;
        };
        let bytes = state.requested as u64;
        let pool = slab.pool();
        let slot = slot_of(state.tag);
        self.unreserve_small(Some(heap), bytes);
        heap.count_free(pool, slot, bytes);
        if slot.is_none() {
            self.tag_freed(state.tag, bytes);
        }
        self.small.push(heap, slab, index as u32);
        true
    }

    /// Counts a free of `bytes` with tag id `id` in the tag's own counters (tags without a
    /// per-thread slot).
    #[cold]
    #[inline(never)]
    fn tag_freed(&self, id: u32, bytes: u64) {
        if let Some(tag) = self.tags.by_id(id) {
            tag.on_free(bytes);
        }
    }
}
