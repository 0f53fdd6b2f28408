//! [`DeviceVec`]: a typed device array from a [`DevicePool`] (so its statistics, limit and tags
//! count it), freed when dropped, with whole-array and per-range copies to and from the host.

use super::pool::DevicePool;
use crate::error::{Error, ErrorKind, Result};
use crate::memory::PoolElement;

/// `len` elements of `T` in device memory from `pool`, uninitialised until written.
pub struct DeviceVec<'p, T> {
    pool: &'p DevicePool,
    address: u64,
    len: usize,
    _marker: std::marker::PhantomData<T>,
}

impl<T> std::fmt::Debug for DeviceVec<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceVec")
            .field("address", &format_args!("{:#x}", self.address))
            .field("len", &self.len)
            .finish()
    }
}

/// The bytes of a slice of plain numbers.
pub(crate) fn bytes_of<T: PoolElement>(values: &[T]) -> &[u8] {
    // SAFETY: pool elements are plain numbers without padding or invalid bit patterns.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), std::mem::size_of_val(values)) }
}

/// The bytes of a mutable slice of plain numbers.
pub(crate) fn bytes_of_mut<T: PoolElement>(values: &mut [T]) -> &mut [u8] {
    let len = std::mem::size_of_val(values);
    // SAFETY: as above; every bit pattern is a valid f64/i32/i64/Complex64, so writes of any
    // bytes leave valid values.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), len) }
}

impl<'p, T: PoolElement> DeviceVec<'p, T> {
    /// `len` (≥ 1) uninitialised elements, tagged `tag`.
    pub fn uninit(pool: &'p DevicePool, len: usize, tag: &str) -> Result<Self> {
        let bytes = len.checked_mul(size_of::<T>()).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("{len} elements of {} bytes overflow", size_of::<T>()),
            )
        })?;
        let address = pool.alloc_owned(bytes, tag)?;
        Ok(Self {
            pool,
            address,
            len,
            _marker: std::marker::PhantomData,
        })
    }

    /// A copy of `values` (at least one) on the device, tagged `tag`.
    pub fn from_host(pool: &'p DevicePool, values: &[T], tag: &str) -> Result<Self> {
        let v = Self::uninit(pool, values.len(), tag)?;
        v.write(0, values)?;
        Ok(v)
    }

    /// Writes `values` at element `offset`; complete on return.
    pub fn write(&self, offset: usize, values: &[T]) -> Result<()> {
        self.check(offset, values.len())?;
        self.pool
            .copy_to_device(self.address_at(offset), bytes_of(values))
    }

    /// Reads `out.len()` elements from element `offset`; complete on return.
    pub fn read(&self, offset: usize, out: &mut [T]) -> Result<()> {
        self.check(offset, out.len())?;
        self.pool
            .copy_to_host(bytes_of_mut(out), self.address_at(offset))
    }

    /// The whole array on the host.
    pub fn to_host(&self) -> Result<Vec<T>> {
        let mut out = vec![T::ZERO; self.len];
        self.read(0, &mut out)?;
        Ok(out)
    }

    fn check(&self, offset: usize, count: usize) -> Result<()> {
        if offset.checked_add(count).is_none_or(|end| end > self.len) {
            return Err(Error::invalid_argument(format!(
                "elements {offset}..{offset}+{count} of a device array of {} elements",
                self.len
            )));
        }
        Ok(())
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false (a device array has at least one element).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device address of the first element.
    pub fn address(&self) -> u64 {
        self.address
    }

    /// The device address of element `offset` (not checked: for kernels and library calls).
    pub fn address_at(&self, offset: usize) -> u64 {
        self.address + (offset * size_of::<T>()) as u64
    }

    /// The pool the array came from.
    pub fn pool(&self) -> &'p DevicePool {
        self.pool
    }
}

impl<T> Drop for DeviceVec<'_, T> {
    fn drop(&mut self) {
        // Stream-ordered: kernels queued on the pool's stream that use the array finish first.
        if let Err(e) = self.pool.free_owned(self.address) {
            eprintln!(
                "qdsim-mem: freeing a device array at {:#x}: {}",
                self.address,
                e.message()
            );
        }
    }
}
