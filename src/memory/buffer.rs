//! `PoolBuffer<T>`: an owned, fixed-length array allocated from a manager's pool and given back
//! when dropped (RAII), usable as an ordinary slice.

use super::manager::{MemoryManager, element_bytes};
use super::pool_kind::PoolElement;
use crate::error::Result;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// An array of `len` elements of `T` in `T`'s pool of a [`MemoryManager`].
///
/// It keeps its manager alive and frees its block on drop.
pub struct PoolBuffer<T: PoolElement> {
    ptr: NonNull<T>,
    len: usize,
    manager: MemoryManager,
}

// SAFETY: the buffer owns its block exclusively (like a Box<[T]>), and T is Send + Sync plain
// data; the manager handle is itself Send + Sync.
unsafe impl<T: PoolElement> Send for PoolBuffer<T> {}
// SAFETY: shared references only give out &[T], and T is Sync.
unsafe impl<T: PoolElement> Sync for PoolBuffer<T> {}

impl<T: PoolElement> PoolBuffer<T> {
    /// `len` elements whose values are whatever the block held before (zero for fresh pages):
    /// the fastest choice for arrays that are written before they are read.
    pub fn uninit_values(manager: &MemoryManager, len: usize, tag: &str) -> Result<Self> {
        let bytes = element_bytes::<T>(len)?;
        let ptr = manager.allocate_owned(T::POOL, bytes, tag)?.cast();
        Ok(Self {
            ptr,
            len,
            manager: manager.clone(),
        })
    }

    /// `len` elements set to zero.
    pub fn zeroed(manager: &MemoryManager, len: usize, tag: &str) -> Result<Self> {
        Self::filled(manager, len, T::ZERO, tag)
    }

    /// `len` elements set to `value`.
    pub fn filled(manager: &MemoryManager, len: usize, value: T, tag: &str) -> Result<Self> {
        let mut buffer = Self::uninit_values(manager, len, tag)?;
        buffer.fill(value);
        Ok(buffer)
    }

    /// The manager the buffer came from.
    pub fn manager(&self) -> &MemoryManager {
        &self.manager
    }

    /// The start of the block as a raw pointer that carries the allocation's provenance (not a
    /// reference's), for handing to C code that writes into the buffer.
    pub fn as_raw_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// Bytes the buffer holds (`len × size_of::<T>()`).
    pub fn size_bytes(&self) -> usize {
        self.len * size_of::<T>()
    }
}

impl<T: PoolElement> Deref for PoolBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: the block holds `len` elements, is aligned to ≥ 64 bytes, stays allocated while
        // `self` lives, and its bytes are always initialized (see `PoolElement`): any bit
        // pattern is a valid T.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: PoolElement> DerefMut for PoolBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: PoolElement> Drop for PoolBuffer<T> {
    fn drop(&mut self) {
        // SAFETY: the block was allocated (owned) by `self.manager`, is freed only here, and no
        // reference into it outlives `self`.
        let result = unsafe { self.manager.free_owned(self.ptr.as_ptr().cast()) };
        // Only a manager closed through the C API (which freed every block) can refuse.
        debug_assert!(
            result.is_ok() || self.manager.stats().live_allocations == 0,
            "PoolBuffer free failed: {result:?}"
        );
    }
}

impl<T: PoolElement + std::fmt::Debug> std::fmt::Debug for PoolBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolBuffer")
            .field("len", &self.len)
            .field("ptr", &self.ptr)
            .finish()
    }
}
