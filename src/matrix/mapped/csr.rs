//! `MappedCsr<T>`: a CSR matrix stored in a memory-mapped file, with the index width of the
//! [`CsrMatrix`] it came from (32 or 64 bits).
//!
//! Every open validates the structure in one sequential pass over the index arrays — row
//! pointers from 0 to nnz and non-decreasing, column indices in range and strictly increasing
//! within each row — so the zero-copy views (slices, faer) can rely on `CsrMatrix`'s invariants.
//! The structure is fixed once written; a writable mapping may change the values.

use super::file::{Expect, MappedFile};
use super::header::{Header, Layout};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::csr::{csr_rows_product, faer_view, row_entries};
use crate::matrix::{CsrIndex, CsrIndices, CsrMatrix, FaerCsr, Scalar};
use crate::memory::{MemoryManager, PoolBuffer};
use std::marker::PhantomData;
use std::path::Path;

/// A CSR matrix in a memory-mapped file.
pub struct MappedCsr<T: Scalar> {
    file: MappedFile,
    _scalar: PhantomData<T>,
}

/// The index arrays of a mapped CSR matrix, borrowed from the mapping.
#[derive(Clone, Copy, Debug)]
pub enum MappedIndices<'a> {
    /// 32-bit.
    I32 {
        /// `rows + 1` offsets.
        row_ptr: &'a [i32],
        /// Column of each entry.
        col_idx: &'a [i32],
    },
    /// 64-bit.
    I64 {
        /// `rows + 1` offsets.
        row_ptr: &'a [i64],
        /// Column of each entry.
        col_idx: &'a [i64],
    },
}

/// Checks the CSR invariants of `rp`/`ci` for `ncols` columns, naming the first violation.
fn validate<I: CsrIndex + Into<i64>>(rp: &[I], ci: &[I], ncols: usize) -> Result<()> {
    let corrupt = |message: String| Error::new(ErrorKind::CorruptFile, message);
    let nnz = ci.len() as i64;
    let first: i64 = rp[0].into();
    if first != 0 {
        return Err(corrupt(format!("row_ptr[0] is {first}, not 0")));
    }
    let last: i64 = rp[rp.len() - 1].into();
    if last != nnz {
        return Err(corrupt(format!(
            "row_ptr[{}] (the last) is {last}, but the file holds {nnz} entries",
            rp.len() - 1
        )));
    }
    for (r, w) in rp.windows(2).enumerate() {
        let (s, e): (i64, i64) = (w[0].into(), w[1].into());
        if s > e {
            return Err(corrupt(format!(
                "row pointers are not monotone: row_ptr[{r}] = {s} > row_ptr[{}] = {e}",
                r + 1
            )));
        }
    }
    // Row pointers are now known to run monotonically from 0 to nnz.
    for (r, w) in rp.windows(2).enumerate() {
        let (s, e) = (w[0].to_usize(), w[1].to_usize());
        let mut previous: Option<i64> = None;
        for (p, &c) in ci[s..e].iter().enumerate() {
            let c: i64 = c.into();
            let p = s + p;
            if c < 0 || c as u64 >= ncols as u64 {
                return Err(corrupt(format!(
                    "column index {c} of entry {p} (row {r}) is out of range for {ncols} columns"
                )));
            }
            if previous.is_some_and(|q| q >= c) {
                return Err(corrupt(format!(
                    "column indices of row {r} are not strictly increasing (entry {p}: {} then {c})",
                    previous.expect("checked")
                )));
            }
            previous = Some(c);
        }
    }
    Ok(())
}

fn copy_to_pool<I: CsrIndex>(
    manager: &MemoryManager,
    src: &[I],
    tag: &str,
) -> Result<PoolBuffer<I>> {
    let mut b = PoolBuffer::<I>::uninit_values(manager, src.len(), tag)?;
    b.copy_from_slice(src);
    Ok(b)
}

impl<T: Scalar> MappedCsr<T> {
    /// Opens and validates a finalized file read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), false)
    }

    /// Opens and validates a finalized file whose values may be changed (the first change
    /// marks it unfinalized until the next [`finalize`](Self::finalize)).
    pub fn open_rw(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), true)
    }

    fn open_with(path: &Path, writable: bool) -> Result<Self> {
        let expect = Expect {
            layout: Some(Layout::Csr),
            scalar: Some(T::KIND),
        };
        Self::wrap(MappedFile::open(path, writable, expect)?)
    }

    /// Wraps an opened file known to hold a CSR matrix of `T`, after validating its structure.
    pub(crate) fn wrap(file: MappedFile) -> Result<Self> {
        debug_assert!(file.header().layout == Layout::Csr && file.header().scalar == T::KIND);
        let m = Self {
            file,
            _scalar: PhantomData,
        };
        let ncols = m.ncols();
        match m.indices() {
            MappedIndices::I32 { row_ptr, col_idx } => validate(row_ptr, col_idx, ncols),
            MappedIndices::I64 { row_ptr, col_idx } => validate(row_ptr, col_idx, ncols),
        }
        .map_err(|e| e.context(&m.path().display().to_string()))?;
        Ok(m)
    }

    /// Writes `src` (with its index width) to a new file `path` (replacing it), finalizes it and
    /// returns it mapped writable.
    pub fn from_csr(path: impl AsRef<Path>, src: &CsrMatrix<T>) -> Result<Self> {
        let header = Header::csr(
            T::KIND,
            src.index_bits(),
            src.nrows() as u64,
            src.ncols() as u64,
            src.nnz() as u64,
        )?;
        let mut file = MappedFile::create(path.as_ref(), header)?;
        match src.indices() {
            CsrIndices::I32 { row_ptr, col_idx } => {
                file.slice_mut::<i32>(0)?.copy_from_slice(row_ptr);
                file.slice_mut::<i32>(1)?.copy_from_slice(col_idx);
            }
            CsrIndices::I64 { row_ptr, col_idx } => {
                file.slice_mut::<i64>(0)?.copy_from_slice(row_ptr);
                file.slice_mut::<i64>(1)?.copy_from_slice(col_idx);
            }
        }
        file.slice_mut::<T>(2)?.copy_from_slice(src.values());
        file.finalize()?;
        Ok(Self {
            file,
            _scalar: PhantomData,
        })
    }

    /// Copies the matrix into a new [`CsrMatrix`] of `manager` (same index width), its arrays
    /// tagged `tag.row_ptr`, `tag.col_idx` and `tag.values`.
    pub fn to_csr(&self, manager: &MemoryManager, tag: &str) -> Result<CsrMatrix<T>> {
        let (rp_tag, ci_tag) = (format!("{tag}.row_ptr"), format!("{tag}.col_idx"));
        let indices = match self.indices() {
            MappedIndices::I32 { row_ptr, col_idx } => CsrIndices::I32 {
                row_ptr: copy_to_pool(manager, row_ptr, &rp_tag)?,
                col_idx: copy_to_pool(manager, col_idx, &ci_tag)?,
            },
            MappedIndices::I64 { row_ptr, col_idx } => CsrIndices::I64 {
                row_ptr: copy_to_pool(manager, row_ptr, &rp_tag)?,
                col_idx: copy_to_pool(manager, col_idx, &ci_tag)?,
            },
        };
        let mut values =
            PoolBuffer::<T>::uninit_values(manager, self.nnz(), &format!("{tag}.values"))?;
        values.copy_from_slice(self.values());
        // Validated on open: the invariants hold.
        Ok(CsrMatrix::from_valid_parts(
            self.nrows(),
            self.ncols(),
            indices,
            values,
        ))
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

    /// Rows.
    pub fn nrows(&self) -> usize {
        self.header().rows as usize
    }

    /// Columns.
    pub fn ncols(&self) -> usize {
        self.header().cols as usize
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.header().nnz as usize
    }

    /// 32 or 64.
    pub fn index_bits(&self) -> u32 {
        self.header().index_bits
    }

    /// The index arrays (zero-copy).
    pub fn indices(&self) -> MappedIndices<'_> {
        match self.index_bits() {
            32 => MappedIndices::I32 {
                row_ptr: self.file.slice(0),
                col_idx: self.file.slice(1),
            },
            _ => MappedIndices::I64 {
                row_ptr: self.file.slice(0),
                col_idx: self.file.slice(1),
            },
        }
    }

    /// Row `r`'s `(column, value)` pairs (panics when `r ≥ nrows`).
    pub fn row(&self, r: usize) -> Vec<(usize, T)> {
        match self.indices() {
            MappedIndices::I32 { row_ptr, col_idx } => {
                row_entries(row_ptr, col_idx, self.values(), r)
            }
            MappedIndices::I64 { row_ptr, col_idx } => {
                row_entries(row_ptr, col_idx, self.values(), r)
            }
        }
    }

    /// `y = (A·x)[rows]`, sequentially, straight from the file (`x` has `ncols` entries): the
    /// solvers' row-chunked kernels use this.
    pub(crate) fn apply_rows(&self, x: &[T], rows: std::ops::Range<usize>, y: &mut [T]) {
        assert!(
            x.len() == self.ncols() && y.len() == rows.len() && rows.end <= self.nrows(),
            "mapped CSR product: x {} (ncols {}), rows {rows:?} (nrows {}), y {}",
            x.len(),
            self.ncols(),
            self.nrows(),
            y.len()
        );
        match self.indices() {
            MappedIndices::I32 { row_ptr, col_idx } => {
                csr_rows_product(row_ptr, col_idx, self.values(), x, rows.start, y)
            }
            MappedIndices::I64 { row_ptr, col_idx } => {
                csr_rows_product(row_ptr, col_idx, self.values(), x, rows.start, y)
            }
        }
    }

    /// The values, row by row (zero-copy).
    pub fn values(&self) -> &[T] {
        self.file.slice(2)
    }

    /// The values, writable; refused for a read-only mapping.
    pub fn values_mut(&mut self) -> Result<&mut [T]> {
        self.file.slice_mut(2)
    }

    /// A zero-copy faer view (e.g. for SpMV straight from the file).
    pub fn as_faer(&self) -> FaerCsr<'_, T> {
        let (rows, cols, values) = (self.nrows(), self.ncols(), self.values());
        match self.indices() {
            MappedIndices::I32 { row_ptr, col_idx } => FaerCsr::U32(faer_view::<i32, u32, T>(
                rows, cols, row_ptr, col_idx, values,
            )),
            MappedIndices::I64 { row_ptr, col_idx } => FaerCsr::U64(faer_view::<i64, u64, T>(
                rows, cols, row_ptr, col_idx, values,
            )),
        }
    }

    /// Writes modified pages back to the file without changing its state.
    pub fn flush(&self) -> Result<()> {
        self.file.flush()
    }

    /// Makes the data durable and marks the file finalized. Refused for a read-only mapping.
    pub fn finalize(&mut self) -> Result<()> {
        self.file.finalize()
    }
}
