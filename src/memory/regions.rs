//! The process-wide map from address ranges (pool chunks and direct mappings) to the manager and
//! pool that own them.
//!
//! Freeing looks a pointer up here first, so a pointer from another manager, or one that no
//! manager ever handed out (a `malloc`ed or stack address), is recognised and reported instead of
//! being written into a free list.

use super::pool_kind::PoolKind;
use parking_lot::RwLock;
use std::collections::BTreeMap;

/// Who owns a mapped range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The owning manager's id.
    pub manager: u64,
    /// The pool inside that manager.
    pub pool: PoolKind,
}

#[derive(Clone, Copy, Debug)]
struct Region {
    end: usize,
    owner: Owner,
}

static REGIONS: RwLock<BTreeMap<usize, Region>> = RwLock::new(BTreeMap::new());

/// Records that `[start, start+len)` belongs to `owner`.
pub fn register(start: usize, len: usize, owner: Owner) {
    let previous = REGIONS.write().insert(
        start,
        Region {
            end: start + len,
            owner,
        },
    );
    debug_assert!(previous.is_none(), "region {start:#x} registered twice");
}

/// Forgets the range that starts at `start` (call before unmapping it).
pub fn unregister(start: usize) {
    let removed = REGIONS.write().remove(&start);
    debug_assert!(removed.is_some(), "region {start:#x} was not registered");
}

/// The owner of the range that contains `addr`, if any.
pub fn owner_of(addr: usize) -> Option<Owner> {
    let regions = REGIONS.read();
    let (_, region) = regions.range(..=addr).next_back()?;
    (addr < region.end).then_some(region.owner)
}
