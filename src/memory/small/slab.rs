//! A slab: one mapping cut into equal blocks of one size class, with one metadata word per
//! block and a lock-free stack of free blocks.
//!
//! **Metadata.** Each block's state is one `AtomicU64`: a live bit, the tag id, the bytes
//! requested and the checkpoint epoch, packed so that an allocation is one store and a free one
//! swap — the swap is what detects a double free, even between two threads.
//!
//! **Free stack.** Freed blocks that leave a thread's cache are pushed on the slab's stack; the
//! link to the next free block is written into the free block itself (it is ours while free).
//! Blocks are only ever taken off by swapping the whole stack out (never one by one), so the
//! stack has no ABA problem; the swapped-out chain becomes the slab's private list, which only
//! the holder of the class lock touches and which refills take from first.
//!
//! **Type-stable descriptors.** A descriptor is never freed: when its manager goes away it is
//! parked for reuse by a later slab of the same capacity. A racing lookup (a wrong pointer freed
//! while another manager is being destroyed) therefore reads a valid descriptor and is refused
//! by its checks instead of reading freed memory.

use super::class::block_size;
use crate::memory::pool_kind::PoolKind;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Bits of a block's metadata word.
const LIVE: u64 = 1 << 63;
/// Set on blocks a library object (a `PoolBuffer`) owns: the public free refuses them.
const OWNED: u64 = 1 << 62;
const TAG_BITS: u32 = 20;
const SIZE_BITS: u32 = 19;
const EPOCH_BITS: u32 = 23;
/// Largest tag id a slab block can record (larger ones use the chunk path).
pub const MAX_TAG_ID: u32 = (1 << TAG_BITS) - 1;
/// Largest checkpoint epoch a slab block can record (later ones use the chunk path).
pub const MAX_EPOCH: u64 = (1 << EPOCH_BITS) - 1;
const _: () = assert!(2 + TAG_BITS + SIZE_BITS + EPOCH_BITS == 64);
const _: () = assert!(super::class::SMALL_MAX < 1 << SIZE_BITS);

/// What a live block records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockState {
    /// The tag's id in the manager's tag table.
    pub tag: u32,
    /// Bytes requested.
    pub requested: usize,
    /// The checkpoint epoch at allocation.
    pub epoch: u64,
    /// Owned by a library object (a `PoolBuffer`), which frees it itself.
    pub owned: bool,
}

impl BlockState {
    #[inline(always)]
    fn pack(self) -> u64 {
        LIVE | if self.owned { OWNED } else { 0 }
            | (u64::from(self.tag) << (SIZE_BITS + EPOCH_BITS))
            | ((self.requested as u64) << EPOCH_BITS)
            | self.epoch
    }

    #[inline(always)]
    fn unpack(word: u64) -> Option<Self> {
        (word & LIVE != 0).then(|| Self {
            tag: ((word >> (SIZE_BITS + EPOCH_BITS)) & u64::from(MAX_TAG_ID)) as u32,
            requested: ((word >> EPOCH_BITS) & ((1 << SIZE_BITS) - 1)) as usize,
            epoch: word & MAX_EPOCH,
            owned: word & OWNED != 0,
        })
    }
}

/// A slab's descriptor (see the module documentation for its lifetime).
pub struct Slab {
    /// Start of the mapping; 0 while the descriptor is parked.
    base: AtomicUsize,
    /// Mapped bytes.
    len: AtomicUsize,
    /// Owning manager's id; 0 while parked.
    manager: AtomicU64,
    /// Pool (index into `PoolKind::ALL`) and class, valid while `base` is not 0.
    pool: AtomicU32,
    class: AtomicU32,
    block: AtomicUsize,
    /// ⌈2⁴⁸ / block⌉: `offset * recip >> 48` is `offset / block` for every offset in a slab
    /// (offsets < 2²², blocks ≤ 2¹⁸, so the rounding error stays below 1/block).
    recip: AtomicU64,
    /// Blocks in the slab (fixed for the descriptor's life: it sizes `meta`).
    capacity: usize,
    /// The free stack: blocks on it (high 32 bits) and its top (block index + 1, 0 when empty),
    /// in one word so that taking the stack also takes its exact count.
    head: AtomicU64,
    /// Head (block index + 1, 0 when empty) and length of the private list (class lock).
    private_head: AtomicU32,
    private_len: AtomicU32,
    /// Blocks never handed out yet are `fresh..capacity` (changed under the class lock).
    fresh: AtomicU32,
    meta: Box<[AtomicU64]>,
}

/// Descriptors waiting for reuse, by size class (which fixes their capacity). A plain vector
/// of vectors: memory checkers see every parked descriptor as reachable.
static PARKED: Mutex<Vec<Vec<&'static Slab>>> = Mutex::new(Vec::new());

impl Slab {
    /// A descriptor for a slab of `class` in `pool` of manager `manager`, mapped at
    /// `base..base + len` (a parked one when available).
    pub fn describe(
        manager: u64,
        pool: PoolKind,
        class: usize,
        base: usize,
        len: usize,
    ) -> &'static Slab {
        let block = block_size(class);
        let capacity = len / block;
        let parked = PARKED.lock().get_mut(class).and_then(Vec::pop);
        debug_assert!(parked.is_none_or(|p| p.capacity == capacity));
        let slab: &'static Slab = parked.unwrap_or_else(|| {
            Box::leak(Box::new(Slab {
                base: AtomicUsize::new(0),
                len: AtomicUsize::new(0),
                manager: AtomicU64::new(0),
                pool: AtomicU32::new(0),
                class: AtomicU32::new(0),
                block: AtomicUsize::new(0),
                recip: AtomicU64::new(0),
                capacity,
                head: AtomicU64::new(0),
                private_head: AtomicU32::new(0),
                private_len: AtomicU32::new(0),
                fresh: AtomicU32::new(0),
                meta: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            }))
        });
        for m in slab.meta.iter() {
            m.store(0, Ordering::Relaxed);
        }
        slab.head.store(0, Ordering::Relaxed);
        slab.private_head.store(0, Ordering::Relaxed);
        slab.private_len.store(0, Ordering::Relaxed);
        slab.fresh.store(0, Ordering::Relaxed);
        slab.len.store(len, Ordering::Relaxed);
        slab.block.store(block, Ordering::Relaxed);
        slab.recip
            .store((1u64 << 48).div_ceil(block as u64), Ordering::Relaxed);
        slab.pool.store(pool.index() as u32, Ordering::Relaxed);
        slab.class.store(class as u32, Ordering::Relaxed);
        slab.manager.store(manager, Ordering::Relaxed);
        slab.base.store(base, Ordering::Release);
        slab
    }

    /// Parks the descriptor for reuse (after its mapping is gone and no block can be reached).
    pub fn park(&'static self) {
        self.base.store(0, Ordering::Release);
        self.manager.store(0, Ordering::Relaxed);
        let class = self.class();
        let mut parked = PARKED.lock();
        if parked.len() <= class {
            parked.resize_with(class + 1, Vec::new);
        }
        parked[class].push(self);
    }

    /// Start of the mapping (0 once parked).
    #[inline(always)]
    pub fn base(&self) -> usize {
        self.base.load(Ordering::Acquire)
    }

    /// Mapped bytes.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Owning manager's id (0 once parked).
    #[inline(always)]
    pub fn manager(&self) -> u64 {
        self.manager.load(Ordering::Relaxed)
    }

    /// The pool.
    #[inline(always)]
    pub fn pool(&self) -> PoolKind {
        PoolKind::ALL[self.pool.load(Ordering::Relaxed) as usize]
    }

    /// The size class.
    #[inline(always)]
    pub fn class(&self) -> usize {
        self.class.load(Ordering::Relaxed) as usize
    }

    /// Bytes per block.
    #[inline(always)]
    pub fn block_size(&self) -> usize {
        self.block.load(Ordering::Relaxed)
    }

    /// Blocks in the slab.
    #[inline(always)]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Address of block `i`.
    #[inline(always)]
    pub fn address(&self, i: usize) -> usize {
        self.base() + i * self.block_size()
    }

    /// Where `addr` falls: `Ok(i)` for the start of block `i`, `Err((i, offset))` for a pointer
    /// `offset` bytes into block `i`; `None` outside the slab.
    #[inline(always)]
    pub fn locate(&self, addr: usize) -> Option<Result<usize, (usize, usize)>> {
        let base = self.base();
        let block = self.block_size();
        if base == 0 || addr < base || addr >= base + self.capacity * block {
            return None;
        }
        let offset = addr - base;
        let i = ((offset as u64 * self.recip.load(Ordering::Relaxed)) >> 48) as usize;
        let inside = offset - i * block;
        debug_assert_eq!((i, inside), (offset / block, offset % block));
        Some(if inside == 0 { Ok(i) } else { Err((i, inside)) })
    }

    /// Marks block `i` live with `state` (the caller owns the free block).
    #[inline(always)]
    pub fn set_live(&self, i: usize, state: BlockState) {
        self.meta[i].store(state.pack(), Ordering::Release);
    }

    /// Marks block `i` free and returns what it held; `None` when it was not live (a double
    /// free, or a stale pointer), in which case nothing changes.
    #[inline(always)]
    pub fn take_live(&self, i: usize) -> Option<BlockState> {
        let word = self.meta[i].swap(0, Ordering::AcqRel);
        BlockState::unpack(word)
    }

    /// Marks block `i` free unless a library object owns it: `Ok` with what it held, `Err(None)`
    /// when it was not live, `Err(Some(state))` when it is owned (nothing changes on `Err`).
    #[inline(always)]
    pub fn take_live_unowned(
        &self,
        i: usize,
    ) -> std::result::Result<BlockState, Option<BlockState>> {
        let mut word = self.meta[i].load(Ordering::Acquire);
        loop {
            let state = BlockState::unpack(word).ok_or(None)?;
            if state.owned {
                return Err(Some(state));
            }
            match self.meta[i].compare_exchange_weak(word, 0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(state),
                Err(now) => word = now,
            }
        }
    }

    /// What block `i` holds now, if live.
    #[inline(always)]
    pub fn state(&self, i: usize) -> Option<BlockState> {
        BlockState::unpack(self.meta[i].load(Ordering::Acquire))
    }

    /// Free blocks on the stack and the private list plus blocks never handed out.
    pub fn free_blocks(&self) -> usize {
        (self.head.load(Ordering::Acquire) >> 32) as usize
            + self.private_len.load(Ordering::Acquire) as usize
            + self.capacity
            - self.fresh.load(Ordering::Acquire) as usize
    }

    /// Pushes the chain of free blocks `blocks` (indices) on the stack. Any thread.
    pub fn push(&self, blocks: &[u32]) {
        let Some((&first, rest)) = blocks.split_first() else {
            return;
        };
        // Link the chain first + rest… inside the free blocks themselves.
        let mut previous = first;
        for &b in rest {
            self.write_link(previous, b + 1);
            previous = b;
        }
        let last = previous;
        let n = blocks.len() as u64;
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            self.write_link(last, head as u32);
            let new = ((head >> 32) + n) << 32 | u64::from(first + 1);
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
    }

    /// Takes up to `max` free blocks into `out`: from the private list, then from the stack
    /// (swapped out whole into the private list), then blocks never handed out. Call with the
    /// slab's class lock held: the private list and the fresh counter belong to its holder.
    pub fn take(&self, max: usize, out: &mut Vec<u32>) {
        let start = out.len();
        let mut head = self.private_head.load(Ordering::Relaxed);
        let mut len = self.private_len.load(Ordering::Relaxed);
        while out.len() - start < max {
            if head == 0 {
                if self.head.load(Ordering::Relaxed) == 0 {
                    break;
                }
                // The whole stack, with its exact count, becomes the private list (a reader
                // of `free_blocks` in between sees a few blocks too few: conservative).
                let word = self.head.swap(0, Ordering::Acquire);
                head = word as u32;
                len += (word >> 32) as u32;
                self.private_len.store(len, Ordering::Release);
                continue;
            }
            let i = head - 1;
            out.push(i);
            head = self.read_link(i);
            len -= 1;
        }
        self.private_head.store(head, Ordering::Relaxed);
        self.private_len.store(len, Ordering::Release);
        let fresh = self.fresh.load(Ordering::Relaxed) as usize;
        let more = (max - (out.len() - start)).min(self.capacity - fresh);
        out.extend((fresh..fresh + more).map(|i| i as u32));
        self.fresh.store((fresh + more) as u32, Ordering::Release);
    }

    fn write_link(&self, block: u32, link: u32) {
        let addr = self.address(block as usize) as *mut u32;
        // SAFETY: `block` is a free block of this slab (owned by the caller), at least 64
        // bytes long and 64-byte aligned, so its first 4 bytes are ours to write.
        unsafe { addr.write(link) }
    }

    fn read_link(&self, block: u32) -> u32 {
        let addr = self.address(block as usize) as *const u32;
        // SAFETY: `block` is on a chain the caller took off the stack: free, ours, written by
        // `write_link` before the push that published it (Release/Acquire on `head`).
        unsafe { addr.read() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_state_round_trips() {
        let s = BlockState {
            tag: MAX_TAG_ID,
            requested: super::super::class::SMALL_MAX,
            epoch: MAX_EPOCH,
            owned: true,
        };
        assert_eq!(BlockState::unpack(s.pack()), Some(s));
        let z = BlockState {
            tag: 0,
            requested: 1,
            epoch: 0,
            owned: false,
        };
        assert_eq!(BlockState::unpack(z.pack()), Some(z));
        assert_eq!(BlockState::unpack(0), None);
    }
}
