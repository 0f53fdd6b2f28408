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
use crate::memory::{MemoryManager, PoolKind, Tag, TagText, ThreadHeap};
use std::cell::RefCell;
use std::ffi::{CStr, c_char};
use std::ptr::NonNull;
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
    /// The tag of this lane's last fast allocation (interned in `manager`): a caller that
    /// passes the same name again finds it with one comparison of the bytes.
    tag: Option<Arc<Tag>>,
}

impl Lane {
    const EMPTY: Lane = Lane {
        epoch: 0,
        key: 0,
        manager: None,
        heap: None,
        tag: None,
    };

    /// True when the lane holds handle `key`, found live under the destroy epoch `epoch` (read
    /// at the start of the call); never for NULL.
    #[inline(always)]
    fn holds(&self, key: usize, epoch: u64) -> bool {
        self.key == key && self.epoch == epoch && key != 0
    }
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
        if !lane.holds(key, epoch) {
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

/// The allocation fast path: `size` bytes of `pool` tagged `tag` (a C string or NULL) from the
/// calling thread's heap of the manager behind `key`, when the lane holds that manager and the
/// manager's fast path can serve it ([`MemoryManager::allocate_small_fast`]); `None`, with
/// nothing changed, otherwise (the caller then takes [`with_manager_heap`], which also reports
/// every error).
///
/// # Safety
/// `tag` is NULL or NUL-terminated.
#[inline(always)]
pub(crate) unsafe fn fast_allocate(
    key: usize,
    pool: PoolKind,
    size: usize,
    tag: *const c_char,
) -> Option<NonNull<u8>> {
    let epoch = handle_cache::destroy_epoch();
    LANE.try_with(|lane| {
        let mut lane = lane.try_borrow_mut().ok()?;
        if !lane.holds(key, epoch) {
            return None;
        }
        let lane = &mut *lane;
        let manager = &lane.manager.as_deref()?.manager;
        let heap = lane.heap.as_deref()?;
        let name: &[u8] = if tag.is_null() {
            b""
        } else {
            // SAFETY: not NULL, so NUL-terminated per the caller's contract.
            unsafe { CStr::from_ptr(tag) }.to_bytes()
        };
        let tag = match &lane.tag {
            Some(known) if known.name().as_bytes() == name => known,
            // A tag met for the first time is made by the general path (which checks it).
            _ => lane.tag.insert(manager.existing_tag(TagText::Bytes(name))?),
        };
        manager.allocate_small_fast(heap, pool, size, tag)
    })
    .ok()
    .flatten()
}

/// The free fast path: `true` when the small block that starts at `ptr` was freed through the
/// lane's manager (the one behind `key`) and the calling thread's heap of it
/// ([`MemoryManager::free_small_fast`]); `false`, with nothing changed, otherwise (the caller
/// then takes [`with_manager_heap`], which also reports every error).
///
/// # Safety
/// As for [`MemoryManager::free`].
#[inline(always)]
pub(crate) unsafe fn fast_free(key: usize, ptr: *mut u8) -> bool {
    let epoch = handle_cache::destroy_epoch();
    LANE.try_with(|lane| {
        let lane = lane.try_borrow_mut().ok()?;
        if !lane.holds(key, epoch) {
            return None;
        }
        let manager = &lane.manager.as_deref()?.manager;
        let heap = lane.heap.as_deref()?;
        // SAFETY: the caller's promise, passed on.
        Some(unsafe { manager.free_small_fast(heap, ptr) })
    })
    .ok()
    .flatten()
    .unwrap_or(false)
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
        tag: None,
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

    /// The C entry points' fast path: tags that change from call to call, zeroing of a reused
    /// block, and every refusal of the general path (too long or non-UTF-8 tag, NULL out,
    /// interior pointer, double free) with nothing changed.
    #[test]
    fn the_fast_path_follows_tags_zeroes_and_refuses_as_the_general_path() {
        use super::super::manager::{
            qdsim_manager_alloc_bytes, qdsim_manager_alloc_zeroed, qdsim_manager_free,
        };
        use super::super::status::qdsim_status as S;
        use super::super::types::QDSIM_POOL_BYTES;
        use std::ffi::c_void;
        use std::ptr::null_mut;
        let key = new_manager();
        let m = key as *mut qdsim_manager;
        let alloc = |size: usize, tag: *const c_char| {
            let mut p: *mut c_void = null_mut();
            // SAFETY: a live manager handle, a NUL-terminated tag or NULL, a writable out.
            let status = unsafe { qdsim_manager_alloc_bytes(m, size, tag, &mut p) };
            (status, p)
        };
        // SAFETY: frees a pointer of this manager (or a wrong one, refused).
        let free = |p: *mut c_void| unsafe { qdsim_manager_free(m, p) };
        let stats = || with_manager_heap(key, |m, _| Ok(m.stats())).unwrap();

        let (status, dirty) = alloc(200, c"a".as_ptr());
        assert_eq!(status, S::QDSIM_OK);
        // SAFETY: a fresh block of 200 bytes.
        unsafe { dirty.cast::<u8>().write_bytes(0xAB, 200) };
        assert_eq!(free(dirty), S::QDSIM_OK);
        let mut zeroed: *mut c_void = null_mut();
        // SAFETY: as above.
        let status = unsafe {
            qdsim_manager_alloc_zeroed(m, QDSIM_POOL_BYTES, 200, 0, c"a".as_ptr(), &mut zeroed)
        };
        assert_eq!(
            (status, zeroed),
            (S::QDSIM_OK, dirty),
            "the freed block is reused"
        );
        // SAFETY: a live block of 200 bytes.
        let bytes = unsafe { std::slice::from_raw_parts(zeroed.cast::<u8>(), 200) };
        assert!(bytes.iter().all(|&b| b == 0));
        assert_eq!(free(zeroed), S::QDSIM_OK);

        let tags = [
            c"a".as_ptr(),
            c"bb".as_ptr(),
            std::ptr::null(),
            c"a".as_ptr(),
        ];
        let blocks: Vec<*mut c_void> = (0..40)
            .map(|i| {
                let (status, p) = alloc(64 + i, tags[i % 4]);
                assert_eq!(status, S::QDSIM_OK);
                p
            })
            .collect();
        let count = |tag: &str| {
            with_manager_heap(key, |m, _| Ok(m.tag_stats(tag).unwrap().live_allocations)).unwrap()
        };
        assert_eq!((count("a"), count("bb"), count("")), (20, 10, 10));

        let before = stats();
        let long = std::ffi::CString::new("x".repeat(100)).unwrap();
        assert_eq!(alloc(64, long.as_ptr()).0, S::QDSIM_ERR_INVALID_ARGUMENT);
        assert_eq!(
            alloc(64, c"\xff\xfe".as_ptr()).0,
            S::QDSIM_ERR_INVALID_ARGUMENT
        );
        // SAFETY: NULL out is refused before anything is written.
        let status = unsafe { qdsim_manager_alloc_bytes(m, 64, c"a".as_ptr(), null_mut()) };
        assert_eq!(status, S::QDSIM_ERR_NULL_ARGUMENT);
        // SAFETY: a pointer 8 bytes into a live block: refused.
        let inside = unsafe { blocks[0].cast::<u8>().add(8) }.cast();
        assert_eq!(free(inside), S::QDSIM_ERR_NOT_OWNED);
        let after = stats();
        assert_eq!(
            (after.allocation_count, after.free_count, after.bytes_in_use),
            (
                before.allocation_count,
                before.free_count,
                before.bytes_in_use
            )
        );
        for &p in &blocks {
            assert_eq!(free(p), S::QDSIM_OK);
        }
        assert_eq!(
            free(blocks[5]),
            S::QDSIM_ERR_NOT_OWNED,
            "a double free is refused"
        );
        let s = stats();
        assert_eq!((s.bytes_in_use, s.live_allocations), (0, 0));
        with_manager_heap(key, |m, _| m.check_consistency()).unwrap();
        drop(handles::unregister::<qdsim_manager>(
            key,
            HandleKind::Manager,
            "manager",
        ));
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
