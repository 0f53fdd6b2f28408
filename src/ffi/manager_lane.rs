//! The fast lane of `qdsim_manager_alloc*` and `qdsim_manager_free`, the entry points a C, C++
//! or Fortran program calls millions of times: one thread-local entry that holds the manager
//! this thread used last together with the thread's small-block heap of that manager, so a call
//! finds both with one thread-local access and no lock, no shared write and no registry lookup.
//!
//! **Validity** follows the handle cache's rule ([`super::handle_cache`]): every destruction of
//! a handle bumps the destroy epoch (after the registry removed it), and the lane's entry
//! stands only under the epoch read before the registry lookup that filled it. So a manager
//! destroyed before the call (in the sense of happens-before) is never found; NULL, destroyed,
//! wrong-type and wild handles always take the registry path, which reports them without
//! dereferencing anything.
//!
//! **Lifetime.** The entry owns a strong reference to the manager handle's object and to the
//! heap, so both outlive every call that uses them; a destroyed manager then refuses further
//! work. The destroying thread drops its entry at once ([`forget`]); other threads drop theirs
//! at their next call or when they exit. A heap whose thread has finished with it (thread-local
//! destructors run in no fixed order) is noticed by the manager and not used.
//!
//! **Exclusivity.** The heap's magazines belong to its thread alone and to one operation at a
//! time: the entry is borrowed for the whole call, and the manager calls nothing that could
//! come back here, so a nested use (were there one) would find the lane busy and take the
//! registry path.

use super::handle_cache;
use super::handles::{self, HandleKind};
use super::manager::qdsim_manager;
use crate::error::Result;
use crate::memory::{MemoryManager, ThreadHeap};
use std::cell::RefCell;
use std::sync::Arc;

struct Lane {
    /// The destroy epoch under which `key` was found live.
    epoch: u64,
    /// The manager handle's address; 0 when empty.
    key: usize,
    manager: Option<Arc<qdsim_manager>>,
    /// The thread's small-block heap of `manager` (`None` when the manager has no thread
    /// caches).
    heap: Option<Arc<ThreadHeap>>,
}

impl Lane {
    const EMPTY: Lane = Lane {
        epoch: 0,
        key: 0,
        manager: None,
        heap: None,
    };
}

thread_local! {
    static LANE: RefCell<Lane> = const { RefCell::new(Lane::EMPTY) };
}

/// Runs `f` with the manager behind handle `key` and the calling thread's heap of it (when it
/// has one); NULL, destroyed, wrong-type and unknown handles are refused as by
/// [`handles::lookup`], and `f` does not run.
#[inline]
pub(crate) fn with_manager_heap<R>(
    key: usize,
    f: impl FnOnce(&MemoryManager, Option<&ThreadHeap>) -> Result<R>,
) -> Result<R> {
    let epoch = handle_cache::destroy_epoch();
    let mut f = Some(f);
    let hit = LANE.try_with(|lane| {
        let lane = lane.try_borrow_mut().ok()?;
        if lane.key != key || lane.epoch != epoch || key == 0 {
            return None;
        }
        let manager = lane.manager.as_deref()?;
        let f = f.take().expect("called once");
        Some(f(&manager.manager, lane.heap.as_deref()))
    });
    match hit {
        Ok(Some(result)) => result,
        _ => refill(key, epoch, f.take().expect("not called yet")),
    }
}

/// The registry path: looks `key` up, runs `f`, and keeps the manager and the thread's heap
/// of it in the lane (under `epoch`, read before the lookup) for the next call.
#[cold]
#[inline(never)]
fn refill<R>(
    key: usize,
    epoch: u64,
    f: impl FnOnce(&MemoryManager, Option<&ThreadHeap>) -> Result<R>,
) -> Result<R> {
    // An entry from before a destruction goes now, whatever this call finds.
    let stale = take_if(|lane| lane.epoch != epoch);
    drop(stale);
    let manager: Arc<qdsim_manager> = handles::lookup(key, HandleKind::Manager, "manager")?;
    let heap = manager.manager.thread_heap();
    let result = f(&manager.manager, heap.as_deref());
    let fresh = Lane {
        epoch,
        key,
        manager: Some(manager),
        heap,
    };
    let replaced = LANE
        .try_with(|lane| {
            let mut lane = lane.try_borrow_mut().ok()?;
            Some(std::mem::replace(&mut *lane, fresh))
        })
        .ok()
        .flatten();
    // Outside the borrow: dropping a manager's last reference closes it.
    drop(replaced);
    result
}

/// Empties the lane when `stale` says so; returns what it held (to drop outside the borrow).
fn take_if(stale: impl FnOnce(&Lane) -> bool) -> Option<Lane> {
    LANE.try_with(|lane| {
        let mut lane = lane.try_borrow_mut().ok()?;
        stale(&lane).then(|| std::mem::replace(&mut *lane, Lane::EMPTY))
    })
    .ok()
    .flatten()
}

/// Called by the registry after it removed handle `key`: the calling thread's entry for it
/// goes now (so a program with one thread drops the manager at once).
pub(super) fn forget(key: usize) {
    drop(take_if(|lane| lane.key == key));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::memory::{ManagerConfig, PoolKind, TagText};

    fn new_manager() -> usize {
        let manager = MemoryManager::new(ManagerConfig::default()).unwrap();
        handles::new_handle(HandleKind::Manager, qdsim_manager { manager }) as usize
    }

    fn alloc(key: usize) -> Result<usize> {
        with_manager_heap(key, |m, heap| {
            let p = m.allocate_tagged(PoolKind::Bytes, 48, 0, TagText::Str("lane"), false, heap)?;
            Ok(p.as_ptr() as usize)
        })
    }

    fn free(key: usize, p: usize) -> Result<()> {
        // SAFETY: `p` came from `alloc` on the same manager and is not used afterwards.
        with_manager_heap(key, |m, heap| unsafe { m.free_kept(p as *mut u8, heap) })
    }

    #[test]
    fn hits_count_exactly_and_destroyed_managers_are_refused() {
        let key = new_manager();
        let blocks: Vec<usize> = (0..100).map(|_| alloc(key).unwrap()).collect();
        let stats = with_manager_heap(key, |m, _| Ok(m.stats())).unwrap();
        assert_eq!(stats.live_allocations, 100);
        assert_eq!(stats.bytes_in_use, 4800);
        for p in blocks {
            free(key, p).unwrap();
        }
        let p = alloc(key).unwrap();
        free(key, p).unwrap();
        assert_eq!(
            free(key, p).unwrap_err().kind(),
            ErrorKind::NotOwned,
            "a double free through the lane is refused"
        );
        let stats = with_manager_heap(key, |m, _| Ok(m.stats())).unwrap();
        assert_eq!((stats.live_allocations, stats.bytes_in_use), (0, 0));
        let handle: Arc<qdsim_manager> =
            handles::unregister(key, HandleKind::Manager, "manager").unwrap();
        assert_eq!(
            Arc::strong_count(&handle),
            1,
            "the destroying thread's lane let go of the manager"
        );
        drop(handle);
        assert_eq!(alloc(key).unwrap_err().kind(), ErrorKind::InvalidHandle);
        assert_eq!(alloc(0).unwrap_err().kind(), ErrorKind::NullArgument);
    }

    #[test]
    fn two_managers_in_turn_keep_their_own_blocks() {
        let (a, b) = (new_manager(), new_manager());
        let pa = alloc(a).unwrap();
        let pb = alloc(b).unwrap();
        assert_eq!(free(b, pa).unwrap_err().kind(), ErrorKind::NotOwned);
        free(a, pa).unwrap();
        free(b, pb).unwrap();
        for key in [a, b] {
            drop(handles::unregister::<qdsim_manager>(
                key,
                HandleKind::Manager,
                "manager",
            ));
        }
    }

    #[test]
    fn a_block_freed_by_another_threads_lane_is_counted_once() {
        let key = new_manager();
        let p = alloc(key).unwrap();
        std::thread::spawn(move || free(key, p).unwrap())
            .join()
            .unwrap();
        let stats = with_manager_heap(key, |m, _| Ok(m.stats())).unwrap();
        assert_eq!((stats.live_allocations, stats.bytes_in_use), (0, 0));
        drop(handles::unregister::<qdsim_manager>(
            key,
            HandleKind::Manager,
            "manager",
        ));
    }
}
