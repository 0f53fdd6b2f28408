//! `MappedDense<T>`: a dense `rows × cols` matrix (or a block of `cols` vectors of length
//! `rows`) stored in a file and mapped into memory: column-major, leading dimension
//! [`aligned_ld`] (every column 64-byte aligned, as in [`ManagedMatrix`]), viewed without copying
//! as slices and faer `MatRef` / `MatMut`.
//!
//! A read-only mapping has no way to write: every mutable accessor returns an
//! `InvalidArgument` error. Growing adds columns (vectors) at the end: the leading dimension
//! does not depend on the number of columns, so the existing columns stay where they are.

use super::file::{Expect, MappedFile};
use super::header::{Header, Layout};
use crate::error::{Error, Result};
use crate::matrix::{ManagedMatrix, Scalar, aligned_ld};
use crate::memory::MemoryManager;
use faer::{MatMut, MatRef};
use std::marker::PhantomData;
use std::path::Path;

/// A dense matrix in a memory-mapped file.
pub struct MappedDense<T: Scalar> {
    file: MappedFile,
    _scalar: PhantomData<T>,
}

fn ld_for<T: Scalar>(rows: usize, cols: usize) -> Result<usize> {
    aligned_ld::<T>(rows).ok_or_else(|| {
        Error::invalid_argument(format!(
            "a {rows}×{cols} matrix does not fit in the address space"
        ))
    })
}

impl<T: Scalar> MappedDense<T> {
    /// Creates a zero `rows × cols` matrix that replaces file `path` at its first
    /// [`finalize`](Self::finalize), mapped writable: write the data, then finalize. Until then
    /// it lives under a temporary name beside `path` (whatever `path` held stays); dropped
    /// before `finalize`, or on any error, the temporary file is removed.
    pub fn create(path: impl AsRef<Path>, rows: usize, cols: usize) -> Result<Self> {
        let header = Self::new_header(rows, cols)?;
        Self::wrap(MappedFile::create(path.as_ref(), header)?)
    }

    /// Like [`create`](Self::create), but writes `path` itself (truncating it): for scratch
    /// files that the caller unlinks at once and never finalizes.
    pub(crate) fn create_scratch(path: &Path, rows: usize, cols: usize) -> Result<Self> {
        let header = Self::new_header(rows, cols)?;
        Self::wrap(MappedFile::create_in_place(path, header)?)
    }

    fn new_header(rows: usize, cols: usize) -> Result<Header> {
        let ld = ld_for::<T>(rows, cols)?;
        let header = Header::dense(T::KIND, rows as u64, cols as u64, ld as u64)?;
        if usize::try_from(header.file_len).is_err() {
            return Err(Error::invalid_argument(format!(
                "a {rows}×{cols} matrix does not fit in the address space"
            )));
        }
        Ok(header)
    }

    /// Opens a finalized file read-only. A file of another layout or element type, or a
    /// damaged, truncated or unfinalized file, is refused with `CorruptFile`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), false)
    }

    /// Opens a finalized file for reading and writing. The first mutable access marks it
    /// unfinalized until the next [`finalize`](Self::finalize).
    pub fn open_rw(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), true)
    }

    /// Opens a finalized file (writable or not) and [`verify`](Self::verify)s its data
    /// checksums before returning it: damage is `CorruptFile`, a file without checksums
    /// (format version 1) is refused with `InvalidArgument`.
    pub fn open_verified(path: impl AsRef<Path>, writable: bool) -> Result<Self> {
        Self::open_checked(path.as_ref(), writable, true)
    }

    fn open_with(path: &Path, writable: bool) -> Result<Self> {
        Self::open_checked(path, writable, false)
    }

    fn open_checked(path: &Path, writable: bool, verify: bool) -> Result<Self> {
        let expect = Expect {
            layout: Some(Layout::Dense),
            scalar: Some(T::KIND),
            verify,
        };
        Self::wrap(MappedFile::open(path, writable, expect)?)
    }

    /// Checks the data against the file's checksums (reading all of it) and returns the number
    /// of bytes verified. `CorruptFile` names the first damaged block; a file without
    /// checksums (format version 1) or changed since its last finalize is refused with
    /// `InvalidArgument`.
    pub fn verify(&self) -> Result<u64> {
        self.file.verify()
    }

    /// Wraps an opened file known to hold a dense matrix of `T`.
    pub(crate) fn wrap(file: MappedFile) -> Result<Self> {
        let h = file.header();
        debug_assert!(h.layout == Layout::Dense && h.scalar == T::KIND);
        // The mapping exists, so the file (and every size in it) fits in the address space.
        if h.ld as usize != ld_for::<T>(h.rows as usize, h.cols as usize)? {
            return Err(Error::new(
                crate::error::ErrorKind::CorruptFile,
                format!(
                    "{}: leading dimension {} is not the aligned one for {} rows ({})",
                    file.path().display(),
                    h.ld,
                    h.rows,
                    ld_for::<T>(h.rows as usize, h.cols as usize)?
                ),
            ));
        }
        Ok(Self {
            file,
            _scalar: PhantomData,
        })
    }

    /// Writes `src` to a new file `path` (replacing it), finalizes it and returns it mapped
    /// writable.
    pub fn from_mat(path: impl AsRef<Path>, src: MatRef<'_, T>) -> Result<Self> {
        let mut m = Self::create(path, src.nrows(), src.ncols())?;
        m.as_mut()?.copy_from(src);
        m.finalize()?;
        Ok(m)
    }

    /// Writes an in-memory matrix to a new file `path` (same layout, so one copy per column).
    pub fn from_managed(path: impl AsRef<Path>, src: &ManagedMatrix<T>) -> Result<Self> {
        Self::from_mat(path, src.as_ref())
    }

    /// Copies the matrix into a new [`ManagedMatrix`] of `manager`, tagged `tag`.
    pub fn to_managed(&self, manager: &MemoryManager, tag: &str) -> Result<ManagedMatrix<T>> {
        let mut m = ManagedMatrix::uninit_values(manager, self.nrows(), self.ncols(), tag)?;
        m.copy_from(self.as_ref())?;
        Ok(m)
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        self.file.header()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// True when mapped for writing.
    pub fn is_writable(&self) -> bool {
        self.file.is_writable()
    }

    /// Refuses a read-only mapping with the error every write gives (for callers that check
    /// before preparing what to write).
    pub fn require_writable(&self) -> Result<()> {
        self.file.require_writable()
    }

    /// Rows.
    pub fn nrows(&self) -> usize {
        self.header().rows as usize
    }

    /// Columns.
    pub fn ncols(&self) -> usize {
        self.header().cols as usize
    }

    /// Leading dimension (elements between the starts of two columns).
    pub fn ld(&self) -> usize {
        self.header().ld as usize
    }

    /// All `ld × ncols` elements, padding rows included.
    pub fn as_slice(&self) -> &[T] {
        self.file.slice(0)
    }

    /// All elements, writable; refused for a read-only mapping.
    pub fn as_mut_slice(&mut self) -> Result<&mut [T]> {
        self.file.slice_mut(0)
    }

    /// A read-only faer view (no copy).
    pub fn as_ref(&self) -> MatRef<'_, T> {
        let (rows, cols, ld) = (self.nrows(), self.ncols(), self.ld());
        MatRef::from_column_major_slice_with_stride(self.as_slice(), rows, cols, ld)
    }

    /// A mutable faer view (no copy); refused for a read-only mapping.
    pub fn as_mut(&mut self) -> Result<MatMut<'_, T>> {
        let (rows, cols, ld) = (self.nrows(), self.ncols(), self.ld());
        let data = self.as_mut_slice()?;
        Ok(MatMut::from_column_major_slice_with_stride_mut(
            data, rows, cols, ld,
        ))
    }

    /// Column `j` (panics when `j ≥ ncols`).
    pub fn col(&self, j: usize) -> &[T] {
        let (rows, ld) = (self.nrows(), self.ld());
        &self.as_slice()[j * ld..j * ld + rows]
    }

    /// Column `j`, writable; refused for a read-only mapping (panics when `j ≥ ncols`).
    pub fn col_mut(&mut self, j: usize) -> Result<&mut [T]> {
        let (rows, ld) = (self.nrows(), self.ld());
        Ok(&mut self.as_mut_slice()?[j * ld..j * ld + rows])
    }

    /// Writes column `j` from `from`'s bytes at `from_offset` (a column of this length stored in
    /// another file) inside the kernel, without faulting either into the process; refused for
    /// a read-only mapping. The inner `Err` is the system's refusal or failure to copy (part
    /// of the column may be written): the column can still be written through
    /// [`col_mut`](Self::col_mut). Panics when `j ≥ ncols`.
    pub(crate) fn copy_col_from_file(
        &mut self,
        j: usize,
        from: &std::fs::File,
        from_offset: u64,
    ) -> Result<std::io::Result<()>> {
        assert!(j < self.ncols(), "column {j} of {}", self.ncols());
        let at = (j * self.ld() * size_of::<T>()) as u64;
        let len = self.nrows() * size_of::<T>();
        self.file.copy_into_section(0, at, from, from_offset, len)
    }

    /// Extends the matrix to `cols` columns (the new ones zero); the file is unfinalized until
    /// the next [`finalize`](Self::finalize). Fewer columns than now is refused.
    pub fn grow_cols(&mut self, cols: usize) -> Result<()> {
        if cols < self.ncols() {
            return Err(Error::invalid_argument(format!(
                "cannot grow a {}×{} mapped matrix to {cols} columns (fewer)",
                self.nrows(),
                self.ncols()
            )));
        }
        let header = Header::dense(T::KIND, self.nrows() as u64, cols as u64, self.ld() as u64)?;
        if usize::try_from(header.file_len).is_err() {
            return Err(Error::invalid_argument(format!(
                "{cols} columns of {} rows do not fit in the address space",
                self.nrows()
            )));
        }
        self.file.grow(header)
    }

    /// Writes modified pages back to the file without changing its state.
    pub fn flush(&self) -> Result<()> {
        self.file.flush()
    }

    /// Makes the data durable and marks the file finalized, so that it can be opened again.
    /// Refused for a read-only mapping.
    pub fn finalize(&mut self) -> Result<()> {
        self.file.finalize()
    }
}
