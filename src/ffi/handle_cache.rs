//! A per-thread cache in front of the handle registry ([`super::handles`]), for the entry points
//! called millions of times (allocation and free through a `qdsim_manager`): a hit takes no lock
//! and makes no shared write — one load of a read-mostly global counter, a scan of a few
//! thread-local entries.
//!
//! **Validity.** Every destruction of a handle bumps [`DESTROY_EPOCH`] (under the registry's
//! write lock, after the handle is removed). Each thread's cache records the epoch under which
//! its entries were found live; a lookup first reads the global epoch and, when it has moved,
//! drops every entry before looking (entries that an outer call on this thread still borrows —
//! a user callback re-entering the library — are marked stale instead and dropped when that
//! call ends). So a hit stands for a registry hit made after every destruction this thread
//! could have observed: a handle destroyed before the call (in the sense of happens-before) is
//! never found, and a handle destroyed concurrently behaves as if the call had come first.
//! NULL, wrong-type, destroyed and wild handles take the registry path, which reports them
//! without dereferencing anything.
//!
//! **Lifetime.** An entry owns a strong reference to the object, so a call borrowing it from
//! the cache is as safe as one holding its own `Arc` (the registry's promise): another thread
//! may destroy the handle meanwhile, and the object stays valid until the call returns (a
//! destroyed manager then refuses further work). The entry also pins the handle's address, so
//! it cannot be reused by a new object while cached. The destroying thread drops its own entry
//! at once ([`forget`]); other threads drop theirs at their next lookup or when they exit.

use super::handles::{self, HandleKind};
use crate::error::Result;
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Entries per thread (an outer call and a few nested ones, or a few managers used in turn).
const SLOTS: usize = 4;

/// Bumped by every handle destruction. Alone on its cache line(s): readers on every thread
/// keep a shared copy, which only a destruction invalidates.
#[repr(align(128))]
struct Epoch(AtomicU64);

static DESTROY_EPOCH: Epoch = Epoch(AtomicU64::new(0));

type Object = Arc<dyn Any + Send + Sync>;

struct Slot {
    key: usize,
    kind: HandleKind,
    /// The concrete type behind `object` (checked on every hit, so a lent reference always has
    /// the type it is read as).
    type_id: TypeId,
    object: Object,
    /// `object` as a pointer to its concrete type (`type_id`).
    ptr: *const (),
    /// Calls on this thread currently borrowing the object.
    borrows: u32,
    /// The handle may have been destroyed since the entry was made: no longer found, dropped
    /// when the last borrow ends.
    stale: bool,
}

struct Cache {
    /// The value of [`DESTROY_EPOCH`] under which the non-stale entries were found live.
    epoch: u64,
    slots: [Option<Slot>; SLOTS],
    /// Where the next refill goes when no slot is empty (round robin).
    next: usize,
}

impl Cache {
    /// Forgets every entry found before `epoch`; returns the objects to drop (after the cache
    /// is released: a drop may run arbitrary code).
    fn follow(&mut self, epoch: u64) -> [Option<Object>; SLOTS] {
        let mut dropped = [const { None }; SLOTS];
        if self.epoch != epoch {
            self.epoch = epoch;
            for (slot, out) in self.slots.iter_mut().zip(dropped.iter_mut()) {
                *out = retire(slot);
            }
        }
        dropped
    }

    /// Stores an entry in a slot no call borrows; returns the index and the evicted object, or
    /// gives the object back when every slot is borrowed.
    fn insert(&mut self, slot: Slot) -> std::result::Result<(usize, Option<Object>), Slot> {
        let free = self.slots.iter().position(Option::is_none).or_else(|| {
            (0..SLOTS)
                .map(|i| (self.next + i) % SLOTS)
                .find(|&i| self.slots[i].as_ref().is_some_and(|s| s.borrows == 0))
        });
        let Some(index) = free else {
            return Err(slot);
        };
        self.next = (index + 1) % SLOTS;
        let evicted = self.slots[index].replace(slot).map(|s| s.object);
        Ok((index, evicted))
    }
}

/// Empties `slot` unless a call borrows it (then marks it stale); returns the object to drop.
fn retire(slot: &mut Option<Slot>) -> Option<Object> {
    match slot {
        Some(s) if s.borrows > 0 => {
            s.stale = true;
            None
        }
        _ => slot.take().map(|s| s.object),
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache {
            epoch: 0,
            slots: [const { None }; SLOTS],
            next: 0,
        })
    };
}

/// A call's borrow of slot `index` of `cache`: ends when dropped (also when the call panics).
struct Borrow<'c> {
    cache: &'c RefCell<Cache>,
    index: usize,
}

impl Drop for Borrow<'_> {
    fn drop(&mut self) {
        let dropped = self.cache.try_borrow_mut().ok().and_then(|mut cache| {
            let slot = &mut cache.slots[self.index];
            let s = slot.as_mut()?;
            s.borrows -= 1;
            if s.stale && s.borrows == 0 {
                slot.take().map(|s| s.object)
            } else {
                None
            }
        });
        drop(dropped);
    }
}

/// The destroy epoch now (see the module documentation): an entry found live under this value
/// stands until it moves.
#[inline]
pub(crate) fn destroy_epoch() -> u64 {
    DESTROY_EPOCH.0.load(Ordering::Acquire)
}

/// Runs `f` with the object behind live handle `key` of `kind` (`name`: the argument's name for
/// messages); NULL, destroyed, wrong-type and unknown handles are refused as by
/// [`handles::lookup`], and `f` does not run.
#[inline]
pub(crate) fn with_handle<T: Any + Send + Sync, R>(
    key: usize,
    kind: HandleKind,
    name: &str,
    f: impl FnOnce(&T) -> Result<R>,
) -> Result<R> {
    let epoch = DESTROY_EPOCH.0.load(Ordering::Acquire);
    let mut f = Some(f);
    let cached = CACHE.try_with(|cache| {
        let (index, object) = match hit(cache, key, kind, TypeId::of::<T>(), epoch) {
            Some(found) => found,
            None => refill::<T>(cache, key, kind, name, epoch)?.ok_or(None)?,
        };
        let borrow = Borrow { cache, index };
        let f = f.take().expect("called once");
        // SAFETY: `object` points to the `T` (the slot's type id is `T`'s) that slot `index`
        // owns, whose borrow count `borrow` keeps raised until `f` returns (or unwinds): no
        // eviction, epoch change or `forget` empties a borrowed slot (they mark it stale), so
        // the `Arc` and its object outlive this reference.
        let result = f(unsafe { &*object.cast::<T>() });
        drop(borrow);
        Ok(result)
    });
    match cached {
        Ok(Ok(result)) => result,
        Ok(Err(Some(error))) => Err(error),
        // No cache now (the thread is exiting, or every slot is borrowed): the registry's own
        // reference.
        Ok(Err(None)) | Err(_) => {
            let object: Arc<T> = handles::lookup(key, kind, name)?;
            (f.take().expect("not called yet"))(&object)
        }
    }
}

/// The index and object of this thread's live entry for `key`, `kind` and type `type_id`, its
/// borrow count raised; `None` when the cache is behind `epoch` or has no such entry.
#[inline]
fn hit(
    cache: &RefCell<Cache>,
    key: usize,
    kind: HandleKind,
    type_id: TypeId,
    epoch: u64,
) -> Option<(usize, *const ())> {
    let mut cache = cache.try_borrow_mut().ok()?;
    if cache.epoch != epoch {
        return None;
    }
    let (index, slot) = cache.slots.iter_mut().enumerate().find_map(|(i, slot)| {
        slot.as_mut()
            .filter(|s| s.key == key && s.kind == kind && s.type_id == type_id && !s.stale)
            .map(|s| (i, s))
    })?;
    slot.borrows += 1;
    Some((index, slot.ptr))
}

/// The registry path: forgets entries older than `epoch` (read before the registry is), looks
/// `key` up and keeps it in the cache, borrowed. `Ok(None)`: the cache cannot take it (busy,
/// or every slot borrowed); `Err(Some(_))`: the registry refused the handle.
#[cold]
fn refill<T: Any + Send + Sync>(
    cache: &RefCell<Cache>,
    key: usize,
    kind: HandleKind,
    name: &str,
    epoch: u64,
) -> std::result::Result<Option<(usize, *const ())>, Option<crate::error::Error>> {
    let dropped = match cache.try_borrow_mut() {
        Ok(mut cache) => cache.follow(epoch),
        Err(_) => return Ok(None),
    };
    drop(dropped); // outside the borrow: a drop may run arbitrary code
    let object: Arc<T> = handles::lookup(key, kind, name).map_err(Some)?;
    let ptr = Arc::as_ptr(&object).cast::<()>();
    let slot = Slot {
        key,
        kind,
        type_id: TypeId::of::<T>(),
        object,
        ptr,
        borrows: 1,
        stale: false,
    };
    let Ok(mut cache) = cache.try_borrow_mut() else {
        return Ok(None);
    };
    // Only this thread moves its cache's epoch, and normally nothing ran since it did; but the
    // drops above may have re-entered the library. An entry is stored only under the epoch read
    // before its registry lookup, so that it is checked against every later destruction.
    let stored = if cache.epoch == epoch {
        cache.insert(slot)
    } else {
        Err(slot)
    };
    drop(cache); // before any object is dropped: a drop may run arbitrary code
    match stored {
        Ok((index, evicted)) => {
            drop(evicted);
            Ok(Some((index, ptr)))
        }
        Err(slot) => {
            drop(slot);
            Ok(None)
        }
    }
}

/// Called by the registry after it removed handle `key`: every thread's entries become stale
/// at its next lookup, and the calling thread's entry for `key` goes now (so a program with one
/// thread drops the object at once).
pub(super) fn forget(key: usize) {
    DESTROY_EPOCH.0.fetch_add(1, Ordering::Release);
    let dropped = CACHE
        .try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            let index = cache
                .slots
                .iter()
                .position(|s| s.as_ref().is_some_and(|s| s.key == key))?;
            retire(&mut cache.slots[index])
        })
        .ok()
        .flatten();
    drop(dropped);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    struct Probe(Arc<()>);

    fn value(key: usize) -> Result<usize> {
        with_handle(key, HandleKind::Profiler, "probe", |p: &Probe| {
            Ok(Arc::strong_count(&p.0))
        })
    }

    #[test]
    fn hits_refuse_destroyed_handles_and_drop_objects_at_destroy() {
        let witness = Arc::new(());
        let ptr = handles::new_handle(HandleKind::Profiler, Probe(witness.clone()));
        let key = ptr as usize;
        assert_eq!(value(key).unwrap(), 2);
        assert_eq!(value(key).unwrap(), 2); // a hit
        drop(handles::unregister::<Probe>(key, HandleKind::Profiler, "probe").unwrap());
        assert_eq!(
            Arc::strong_count(&witness),
            1,
            "the destroying thread's entry is gone"
        );
        let err = value(key).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidHandle);
        assert_eq!(value(0).unwrap_err().kind(), ErrorKind::NullArgument);
    }

    #[test]
    fn wrong_kinds_miss() {
        let ptr = handles::new_handle(HandleKind::Profiler, Probe(Arc::new(())));
        let key = ptr as usize;
        assert!(value(key).is_ok());
        let err = with_handle(key, HandleKind::Matrix, "m", |_: &Probe| Ok(())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidHandle);
        assert!(
            err.message().contains("not a qdsim_matrix"),
            "{}",
            err.message()
        );
        drop(handles::unregister::<Probe>(key, HandleKind::Profiler, "probe").unwrap());
    }

    #[test]
    fn nested_calls_keep_borrowed_entries_alive() {
        let witness = Arc::new(());
        let keys: Vec<usize> = (0..SLOTS + 2)
            .map(|_| handles::new_handle(HandleKind::Profiler, Probe(witness.clone())) as usize)
            .collect();
        // Each call nests the next one: more handles are borrowed at once than there are slots,
        // and the innermost destroys the outermost, which must survive until its call ends.
        fn nest(keys: &[usize], first: usize) -> Result<()> {
            let Some((&key, rest)) = keys.split_first() else {
                drop(handles::unregister::<Probe>(
                    first,
                    HandleKind::Profiler,
                    "probe",
                )?);
                return Ok(());
            };
            with_handle(key, HandleKind::Profiler, "probe", |p: &Probe| {
                nest(rest, first)?;
                // Still alive (the witness and this object), though destroyed when `key` is
                // `first`.
                assert!(Arc::strong_count(&p.0) >= 2);
                Ok(())
            })
        }
        nest(&keys, keys[0]).unwrap();
        assert_eq!(
            Arc::strong_count(&witness),
            keys.len(),
            "the destroyed object went when its call ended"
        );
        assert_eq!(value(keys[0]).unwrap_err().kind(), ErrorKind::InvalidHandle);
        for &key in &keys[1..] {
            assert!(value(key).is_ok());
            drop(handles::unregister::<Probe>(key, HandleKind::Profiler, "probe").unwrap());
        }
        assert_eq!(Arc::strong_count(&witness), 1);
    }
}
