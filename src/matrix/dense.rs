//! `ManagedMatrix<T>`: a dense real or complex matrix in a manager's pool, column-major with a
//! leading dimension that keeps every column 64-byte aligned, freed when dropped, and viewed
//! without copying as `faer::MatRef` / `MatMut`.

use super::blocked;
use super::scalar::Scalar;
use crate::error::{Error, Result};
use crate::memory::{MemoryManager, PoolBuffer};
use faer::{MatMut, MatRef};

/// A dense `nrows × ncols` matrix, column-major, column `j` starting at element `j × ld`.
pub struct ManagedMatrix<T: Scalar> {
    buffer: PoolBuffer<T>,
    nrows: usize,
    ncols: usize,
    ld: usize,
}

/// The leading dimension for `nrows` rows of `T`: rounded up to a whole number of 64-byte
/// lines, and at least one line (LAPACK requires `ld ≥ max(1, nrows)`).
pub fn aligned_ld<T>(nrows: usize) -> Option<usize> {
    let per_line = (64 / size_of::<T>()).max(1);
    Some(nrows.checked_next_multiple_of(per_line)?.max(per_line))
}

impl<T: Scalar> ManagedMatrix<T> {
    /// A zero matrix of `nrows × ncols` from `manager`, tagged `tag`.
    pub fn zeros(manager: &MemoryManager, nrows: usize, ncols: usize, tag: &str) -> Result<Self> {
        let ld = aligned_ld::<T>(nrows).ok_or_else(|| overflow(nrows, ncols))?;
        let len = ld
            .checked_mul(ncols)
            .ok_or_else(|| overflow(nrows, ncols))?;
        let buffer = PoolBuffer::zeroed(manager, len, tag)?;
        Ok(Self {
            buffer,
            nrows,
            ncols,
            ld,
        })
    }

    /// An `nrows × ncols` matrix whose entries are whatever the pool block held (zero for fresh
    /// pages): for matrices that are written before they are read.
    pub fn uninit_values(
        manager: &MemoryManager,
        nrows: usize,
        ncols: usize,
        tag: &str,
    ) -> Result<Self> {
        let ld = aligned_ld::<T>(nrows).ok_or_else(|| overflow(nrows, ncols))?;
        let len = ld
            .checked_mul(ncols)
            .ok_or_else(|| overflow(nrows, ncols))?;
        let buffer = PoolBuffer::uninit_values(manager, len, tag)?;
        Ok(Self {
            buffer,
            nrows,
            ncols,
            ld,
        })
    }

    /// Keeps only the first `ncols` columns (the memory of the others stays allocated until
    /// the matrix is dropped).
    pub fn truncate_cols(&mut self, ncols: usize) {
        self.ncols = self.ncols.min(ncols);
    }

    /// Rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Leading dimension (elements between the starts of two columns).
    pub fn ld(&self) -> usize {
        self.ld
    }

    /// Bytes the matrix holds, padding included.
    pub fn size_bytes(&self) -> usize {
        self.buffer.size_bytes()
    }

    /// A read-only faer view (no copy).
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef::from_column_major_slice_with_stride(&self.buffer, self.nrows, self.ncols, self.ld)
    }

    /// A mutable faer view (no copy).
    pub fn as_mut(&mut self) -> MatMut<'_, T> {
        MatMut::from_column_major_slice_with_stride_mut(
            &mut self.buffer,
            self.nrows,
            self.ncols,
            self.ld,
        )
    }

    /// Column `j` as a slice.
    pub fn col(&self, j: usize) -> &[T] {
        &self.buffer[j * self.ld..j * self.ld + self.nrows]
    }

    /// Column `j` as a mutable slice.
    pub fn col_mut(&mut self, j: usize) -> &mut [T] {
        let ld = self.ld;
        &mut self.buffer[j * ld..j * ld + self.nrows]
    }

    /// The first element, as a raw pointer for C (writes through it are allowed while no
    /// Rust reference to the matrix is in use).
    pub fn data_ptr(&self) -> *mut T {
        self.buffer.as_raw_ptr()
    }

    /// `self = src` (same shape), column by column.
    pub fn copy_from(&mut self, src: MatRef<'_, T>) -> Result<()> {
        blocked::copy(src, self.as_mut())
    }

    /// `self = srcᵀ` with the cache-blocked kernel.
    pub fn transpose_from(&mut self, src: MatRef<'_, T>) -> Result<()> {
        blocked::transpose(src, self.as_mut())
    }

    /// `self = srcᴴ` with the cache-blocked kernel.
    pub fn adjoint_from(&mut self, src: MatRef<'_, T>) -> Result<()> {
        blocked::adjoint(src, self.as_mut())
    }
}

fn overflow(nrows: usize, ncols: usize) -> Error {
    Error::invalid_argument(format!(
        "a {nrows}×{ncols} matrix does not fit in the address space"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    #[test]
    fn columns_are_aligned_and_views_share_memory() {
        let manager = MemoryManager::with_defaults().unwrap();
        let mut a = ManagedMatrix::<Complex64>::zeros(&manager, 5, 3, "a").unwrap();
        assert_eq!(a.ld(), 8);
        for j in 0..3 {
            assert_eq!(a.col(j).as_ptr() as usize % 64, 0);
        }
        a.as_mut()[(4, 2)] = Complex64::new(1.0, 2.0);
        assert_eq!(a.col(2)[4], Complex64::new(1.0, 2.0));
        // SAFETY: element (4, 2) is at 2·ld + 4 inside the matrix's block.
        let element = unsafe { *a.data_ptr().add(2 * a.ld() + 4) };
        assert_eq!(element, Complex64::new(1.0, 2.0));
        let mut t = ManagedMatrix::<Complex64>::zeros(&manager, 3, 5, "t").unwrap();
        t.adjoint_from(a.as_ref()).unwrap();
        assert_eq!(t.as_ref()[(2, 4)], Complex64::new(1.0, -2.0));
        assert_eq!(manager.tag_stats("a").unwrap().bytes_in_use, 8 * 3 * 16);
        assert!(ManagedMatrix::<f64>::zeros(&manager, usize::MAX, 2, "x").is_err());
        assert_eq!(
            ManagedMatrix::<f64>::zeros(&manager, 0, 4, "e")
                .unwrap()
                .ld(),
            8
        );
    }
}
