//! The process-wide map from an address to the slab that contains it, readable without locks:
//! a two-level radix table over 64 KiB granules (the slab alignment) of the 47-bit user address
//! space. A lookup is two atomic loads; an entry is written when a slab is mapped and cleared
//! before it is unmapped. Second-level tables (512 KiB each, covering 4 GiB) are created on
//! first use and kept for the life of the process.

use super::class::SLAB_ALIGN;
use super::slab::Slab;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};

const GRANULE_BITS: u32 = SLAB_ALIGN.trailing_zeros();
const ADDRESS_BITS: u32 = 47;
const LEAF_BITS: u32 = 16;
const ROOT_BITS: u32 = ADDRESS_BITS - GRANULE_BITS - LEAF_BITS;

type Leaf = [AtomicPtr<Slab>; 1 << LEAF_BITS];

static ROOT: [AtomicPtr<Leaf>; 1 << ROOT_BITS] =
    [const { AtomicPtr::new(null_mut()) }; 1 << ROOT_BITS];

/// True when `[start, start + len)` can be recorded (it lies in the 47-bit address space).
pub fn covers(start: usize, len: usize) -> bool {
    start
        .checked_add(len)
        .is_some_and(|end| end <= 1 << ADDRESS_BITS)
}

#[inline(always)]
fn split(addr: usize) -> (usize, usize) {
    let granule = addr >> GRANULE_BITS;
    (granule >> LEAF_BITS, granule & ((1 << LEAF_BITS) - 1))
}

#[inline(always)]
fn leaf(root: usize, create: bool) -> Option<&'static Leaf> {
    let slot = &ROOT[root];
    let mut ptr = slot.load(Ordering::Acquire);
    if ptr.is_null() {
        if !create {
            return None;
        }
        let fresh: Box<Leaf> = (0..1 << LEAF_BITS)
            .map(|_| AtomicPtr::new(null_mut()))
            .collect::<Vec<_>>()
            .into_boxed_slice()
            .try_into()
            .unwrap_or_else(|_| unreachable!("the leaf has 2^16 entries"));
        let fresh = Box::into_raw(fresh);
        ptr = match slot.compare_exchange(null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => fresh,
            Err(existing) => {
                // SAFETY: `fresh` came from Box::into_raw above and was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                existing
            }
        };
    }
    // SAFETY: leaves are never freed; a non-null root entry points to an initialised leaf.
    Some(unsafe { &*ptr })
}

/// Records `slab` for every granule of `[start, start + len)` (aligned to [`SLAB_ALIGN`],
/// inside the range [`covers`] accepts).
pub fn insert(start: usize, len: usize, slab: &'static Slab) {
    debug_assert!(start % SLAB_ALIGN == 0 && len % SLAB_ALIGN == 0 && covers(start, len));
    for addr in (start..start + len).step_by(SLAB_ALIGN) {
        let (r, l) = split(addr);
        let leaf = leaf(r, true).expect("created on demand");
        leaf[l].store((slab as *const Slab).cast_mut(), Ordering::Release);
    }
}

/// Clears the entries of `[start, start + len)`.
pub fn remove(start: usize, len: usize) {
    for addr in (start..start + len).step_by(SLAB_ALIGN) {
        let (r, l) = split(addr);
        if let Some(leaf) = leaf(r, false) {
            leaf[l].store(null_mut(), Ordering::Release);
        }
    }
}

/// The slab whose granule contains `addr`, if any (the caller still checks the slab's range,
/// its manager and the block).
#[inline(always)]
pub fn lookup(addr: usize) -> Option<&'static Slab> {
    if addr >= 1 << ADDRESS_BITS {
        return None;
    }
    let (r, l) = split(addr);
    let leaf = leaf(r, false)?;
    let ptr = leaf[l].load(Ordering::Acquire);
    // SAFETY: slab descriptors are never freed (they are parked for reuse), so a non-null
    // entry, even a stale one, points to a valid descriptor.
    (!ptr.is_null()).then(|| unsafe { &*ptr })
}
