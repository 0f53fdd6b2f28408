//! Per-thread credit: how small blocks count in the manager's total bytes in use without a
//! shared atomic update at every allocation and free.
//!
//! A free through a thread's heap keeps the block's bytes as that heap's credit
//! ([`ThreadHeap::credit`]) instead of taking them off the total; the thread's next small
//! allocations use the credit first, and only the shortfall is added to the total. So the total
//! is the bytes in use plus every heap's credit, and it changes only when a heap's credit runs
//! out or piles up past [`CREDIT_MAX`]. The bytes in use themselves stay exact (per-thread
//! counters, summed when read); the total peak is measured when the total grows, less the
//! credit (see [`reserve_small`](Inner::reserve_small) for what that makes exact).
//!
//! With a memory limit, and while a peak tracker (`track_peak`, a scope) is live, there is no
//! credit: every small allocation and free updates the total, so the limit holds exactly across
//! threads at every moment and a tracker sees every byte.

use super::Inner;
use crate::error::Result;
use crate::memory::pool_kind::PoolKind;
use crate::memory::small::ThreadHeap;
use std::sync::atomic::Ordering::Relaxed;

/// Credit a heap keeps (see [`ThreadHeap::credit`]): past [`CREDIT_MAX`] bytes it hands all
/// but [`CREDIT_KEEP`] back to the manager's total. A thread that frees about as much as it
/// allocates (the common pattern) then touches the total once per tens of KiB of net change
/// instead of at every allocation and free. It also bounds how far a concurrent total peak can
/// fall short (see [`reserve_small`](Inner::reserve_small)).
const CREDIT_MAX: u64 = 64 << 10;
/// Credit a heap keeps when it hands the rest back.
const CREDIT_KEEP: u64 = 16 << 10;

impl Inner {
    /// True when small blocks count in the manager's total through per-thread credit: without
    /// a memory limit and while no peak tracker (`track_peak`, a scope) is live. Otherwise
    /// every small allocation and free updates the total: the limit is exact across threads at
    /// every moment, and a tracker sees every byte.
    #[inline]
    pub(super) fn uses_credit(&self) -> bool {
        self.config.memory_limit.is_none() && self.tracker_count.load(Relaxed) == 0
    }

    /// Takes every heap's credit off the total, stopping every small-block operation meanwhile:
    /// called when a peak tracker starts (it must see every byte from then on, and operations
    /// stop using credit while one is live, see [`uses_credit`](Self::uses_credit)).
    pub(super) fn reclaim_credit(&self) {
        let quiet = self.small.quiesce();
        let back = self.small.take_all_credit(&quiet);
        if back > 0 {
            self.in_use.fetch_sub(back, Relaxed);
        }
    }

    /// Counts `size` more bytes in use for a small allocation through `heap` (inside an
    /// operation on it): from the heap's credit when it covers them, else the shortfall in the
    /// manager's total (the limit when there is one).
    ///
    /// The total then exceeds the bytes in use by the threads' credit, and grows only when a
    /// thread's credit has run out; a new total peak is measured at that moment as the total
    /// less every thread's credit. So the peak is exact with one thread, and with several
    /// whenever the threads holding credit are not allocating meanwhile (a block handed to
    /// another thread to free, a worker that ended); when they are, a rise made only of
    /// credit reuse can be missed, by at most the other threads' credit ([`CREDIT_MAX`] each).
    /// (Statistics reads measure the peak too, from the per-thread counters.)
    #[inline]
    pub(super) fn reserve_small(
        &self,
        heap: &ThreadHeap,
        size: usize,
        kind: PoolKind,
        tag: &str,
    ) -> Result<()> {
        if !self.uses_credit() {
            return self.reserve(size, kind, tag);
        }
        self.spend_credit(heap, size as u64);
        Ok(())
    }

    /// The credit branch of [`reserve_small`](Self::reserve_small) (the manager uses credit):
    /// `size` bytes from `heap`'s credit, the shortfall from the total.
    #[inline(always)]
    pub(super) fn spend_credit(&self, heap: &ThreadHeap, size: u64) {
        let credit = heap.credit.load(Relaxed);
        match credit.checked_sub(size) {
            Some(left) => heap.credit.store(left, Relaxed),
            None => self.grant_credit(heap, size - credit),
        }
    }

    /// The shortfall of a small allocation whose size the heap's credit does not cover: the
    /// credit is spent (first, so that a new peak is measured without it) and `shortfall`
    /// added to the total (without a limit this cannot fail).
    #[cold]
    #[inline(never)]
    fn grant_credit(&self, heap: &ThreadHeap, shortfall: u64) {
        heap.credit.store(0, Relaxed);
        let back = self.small.take_retired_credit();
        if back > 0 {
            self.in_use.fetch_sub(back, Relaxed);
        }
        self.reserve_bytes(shortfall, String::new)
            .expect("without a memory limit the total only grows");
    }

    /// Counts `bytes` of a small block fewer in use: as credit of `heap` (the calling thread's,
    /// inside an operation on it) when the manager uses credit, else in the total.
    #[inline]
    pub(super) fn unreserve_small(&self, heap: Option<&ThreadHeap>, bytes: u64) {
        match heap {
            Some(heap) if self.uses_credit() => {
                let credit = heap.credit.load(Relaxed) + bytes;
                if credit > CREDIT_MAX {
                    self.in_use.fetch_sub(credit - CREDIT_KEEP, Relaxed);
                    heap.credit.store(CREDIT_KEEP, Relaxed);
                } else {
                    heap.credit.store(credit, Relaxed);
                }
            }
            _ => {
                self.in_use.fetch_sub(bytes, Relaxed);
            }
        }
    }

    /// The manager's bytes in use: its total less the threads' credit (exact while operations
    /// are stopped, as in `check_consistency`).
    pub(super) fn in_use_now(&self) -> u64 {
        self.in_use.load(Relaxed).wrapping_sub(self.small.credits())
    }
}
