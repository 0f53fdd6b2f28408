//! `MappedCsr<T>`: a CSR matrix stored in a memory-mapped file, with the index width of the
//! [`CsrMatrix`] it came from (32 or 64 bits).
//!
//! Every open validates the structure in one sequential pass over the index arrays — row
//! pointers from 0 to nnz and non-decreasing, column indices in range and strictly increasing
//! within each row. The structure is fixed once written; a writable mapping may change the
//! values.
//!
//! But the mapping is shared with the file, and another program may write the file after the
//! open validated it. Nothing read from the mapping is trusted: [`MappedCsr::to_csr`] validates
//! the copy it makes, and the kernels that read the file in place (rows, products, the solvers'
//! operator) check every row pointer and column index as they read it; an index out of range is
//! skipped and recorded, and [`MappedCsr::take_read_damage`] (which the mapped solve calls at its
//! end) turns it into `CorruptFile` naming the file, the row and the value. Only the faer view
//! ([`MappedCsr::as_faer`]) relies on the validation, and is `unsafe` for that reason.

use super::file::{Expect, MappedFile};
use super::header::{Header, Layout};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::csr::faer_view;
use crate::matrix::{CsrIndex, CsrIndices, CsrMatrix, FaerCsr, Load, Scalar};
use crate::memory::{MemoryManager, PoolBuffer};
use parking_lot::Mutex;
use std::marker::PhantomData;
use std::ops::Range;
use std::path::Path;

/// A CSR matrix in a memory-mapped file.
pub struct MappedCsr<T: Scalar> {
    file: MappedFile,
    /// The first inconsistency an in-place read found since the last
    /// [`take_read_damage`](Self::take_read_damage).
    read_damage: Mutex<Option<String>>,
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

/// Row `r`'s entry range read from `rp`, checked: `0 ≤ rp[r] ≤ rp[r + 1] ≤ nnz` (`rp` has
/// `rows + 1` entries and `r < rows`: the lengths come from the header, not from the data).
fn checked_row_range<I: CsrIndex + Into<i64>>(
    rp: &[I],
    nnz: usize,
    r: usize,
) -> std::result::Result<Range<usize>, String> {
    let (s, e): (i64, i64) = (rp[r].into(), rp[r + 1].into());
    if s < 0 || s > e || e as u64 > nnz as u64 {
        return Err(format!(
            "row {r}: row pointers {s} .. {e} are out of order or outside 0 ..= {nnz} entries"
        ));
    }
    Ok(s as usize..e as usize)
}

/// Column index `ci[p]` of row `r`, checked against `ncols`.
fn checked_col<I: CsrIndex + Into<i64>>(
    ci: &[I],
    p: usize,
    r: usize,
    ncols: usize,
) -> std::result::Result<usize, String> {
    let c: i64 = ci[p].into();
    if c < 0 || c as u64 >= ncols as u64 {
        return Err(format!(
            "row {r}: column index {c} of entry {p} is out of range for {ncols} columns"
        ));
    }
    Ok(c as usize)
}

/// Calls `f(row, column, value)` for every entry of `rows`, checking each index as it is read;
/// stops a row at its first bad index and returns the first problem (after visiting every row).
fn for_each_checked<I: CsrIndex + Into<i64>, T: Copy>(
    rp: &[I],
    ci: &[I],
    values: &[T],
    ncols: usize,
    rows: Range<usize>,
    mut f: impl FnMut(usize, usize, T),
) -> std::result::Result<(), String> {
    let mut first = None;
    for r in rows {
        let row = checked_row_range(rp, ci.len(), r).and_then(|range| {
            for p in range {
                f(r, checked_col(ci, p, r, ncols)?, values[p]);
            }
            Ok(())
        });
        if let Err(e) = row {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
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

    /// Opens a finalized file, verifies its data checksums (see [`verify`](Self::verify)), then
    /// validates its structure.
    pub fn open_verified(path: impl AsRef<Path>, writable: bool) -> Result<Self> {
        Self::open_checked(path.as_ref(), writable, true)
    }

    fn open_with(path: &Path, writable: bool) -> Result<Self> {
        Self::open_checked(path, writable, false)
    }

    fn open_checked(path: &Path, writable: bool, verify: bool) -> Result<Self> {
        let expect = Expect {
            layout: Some(Layout::Csr),
            scalar: Some(T::KIND),
            verify,
        };
        Self::wrap(MappedFile::open(path, writable, expect)?)
    }

    /// Checks the data against the file's checksums; see
    /// [`MappedDense::verify`](super::MappedDense::verify).
    pub fn verify(&self) -> Result<u64> {
        self.file.verify()
    }

    /// Reports, and forgets, the first inconsistency that an in-place read ([`row`](Self::row),
    /// [`apply`](Self::apply), the solvers' products) found since the last call: the file was
    /// changed after it was opened and validated. `CorruptFile` names the file, row and value.
    pub fn take_read_damage(&self) -> Result<()> {
        match self.read_damage.lock().take() {
            None => Ok(()),
            Some(what) => Err(Error::new(
                ErrorKind::CorruptFile,
                format!(
                    "{}: {what}: the file was changed after it was opened and validated (every \
                     entry with a bad index was skipped, so results computed since are wrong)",
                    self.path().display()
                ),
            )),
        }
    }

    fn record_damage(&self, what: String) {
        self.read_damage.lock().get_or_insert(what);
    }

    /// Wraps an opened file known to hold a CSR matrix of `T`, after validating its structure.
    pub(crate) fn wrap(file: MappedFile) -> Result<Self> {
        debug_assert!(file.header().layout == Layout::Csr && file.header().scalar == T::KIND);
        let m = Self::new(file);
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
        Ok(Self::new(file))
    }

    fn new(file: MappedFile) -> Self {
        Self {
            file,
            read_damage: Mutex::new(None),
            _scalar: PhantomData,
        }
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
        // Validated on open, but the file may have changed since: validate the copy, which
        // nobody else can change.
        match &indices {
            CsrIndices::I32 { row_ptr, col_idx } => validate(row_ptr, col_idx, self.ncols()),
            CsrIndices::I64 { row_ptr, col_idx } => validate(row_ptr, col_idx, self.ncols()),
        }
        .map_err(|e| {
            e.context(&format!(
                "{} (changed after it was opened and validated)",
                self.path().display()
            ))
        })?;
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

    /// Calls `f(row, column, value)` for the entries of `rows` read from the file, checking
    /// every index; a bad one is skipped (with the rest of its row) and recorded for
    /// [`take_read_damage`](Self::take_read_damage).
    fn for_each_entry(&self, rows: Range<usize>, f: impl FnMut(usize, usize, T)) {
        let (values, ncols) = (self.values(), self.ncols());
        let checked = match self.indices() {
            MappedIndices::I32 { row_ptr, col_idx } => {
                for_each_checked(row_ptr, col_idx, values, ncols, rows, f)
            }
            MappedIndices::I64 { row_ptr, col_idx } => {
                for_each_checked(row_ptr, col_idx, values, ncols, rows, f)
            }
        };
        if let Err(what) = checked {
            self.record_damage(what);
        }
    }

    /// Row `r`'s `(column, value)` pairs (panics when `r ≥ nrows`), read from the file with every
    /// index checked: entries with a bad index (the file changed since it was opened) are left
    /// out and recorded, see [`take_read_damage`](Self::take_read_damage).
    pub fn row(&self, r: usize) -> Vec<(usize, T)> {
        assert!(r < self.nrows(), "row {r} of {} rows", self.nrows());
        let mut entries = Vec::new();
        self.for_each_entry(r..r + 1, |_, c, v| entries.push((c, v)));
        entries
    }

    /// `y = A·x` straight from the file, sequentially, every index checked: a file changed
    /// since it was opened is `CorruptFile` (naming the row and value), never a wild read.
    pub fn apply(&self, x: &[T], y: &mut [T]) -> Result<()> {
        if x.len() != self.ncols() || y.len() != self.nrows() {
            return Err(Error::invalid_argument(format!(
                "mapped CSR product: x has {} entries and y {}, but the matrix is {}×{}",
                x.len(),
                y.len(),
                self.nrows(),
                self.ncols()
            )));
        }
        // Damage found before this call is not this call's business: keep it for its owner.
        let earlier = self.read_damage.lock().take();
        self.apply_rows(x, 0..self.nrows(), y);
        let result = self.take_read_damage();
        if let Some(what) = earlier {
            self.record_damage(what);
        }
        result
    }

    /// `y = (A·x)[rows]`, sequentially, straight from the file (`x` has `ncols` entries): the
    /// solvers' row-chunked kernels use this. Every index is checked as it is read; entries
    /// with a bad one are skipped and recorded (see [`take_read_damage`](Self::take_read_damage)).
    pub(crate) fn apply_rows(&self, x: &[T], rows: Range<usize>, y: &mut [T]) {
        self.apply_rows_of(x, rows, y);
    }

    /// [`apply_rows`](Self::apply_rows) of a vector stored in single precision, widened as it
    /// is read (the arithmetic is in `T`).
    pub(crate) fn apply_rows_single(&self, x: &[T::Single], rows: Range<usize>, y: &mut [T]) {
        self.apply_rows_of(x, rows, y);
    }

    fn apply_rows_of<X: Load<T>>(&self, x: &[X], rows: Range<usize>, y: &mut [T]) {
        assert!(
            x.len() == self.ncols() && y.len() == rows.len() && rows.end <= self.nrows(),
            "mapped CSR product: x {} (ncols {}), rows {rows:?} (nrows {}), y {}",
            x.len(),
            self.ncols(),
            self.nrows(),
            y.len()
        );
        let first = rows.start;
        y.fill(T::ZERO_VALUE);
        self.for_each_entry(rows, |r, c, v| y[r - first] += v * x[c].load());
    }

    /// The values, row by row (zero-copy).
    pub fn values(&self) -> &[T] {
        self.file.slice(2)
    }

    /// The values, writable; refused for a read-only mapping.
    pub fn values_mut(&mut self) -> Result<&mut [T]> {
        self.file.slice_mut(2)
    }

    /// A zero-copy faer view (e.g. for SpMV straight from the file). faer trusts the
    /// structure without checking it; [`apply`](Self::apply) is the checked product.
    ///
    /// # Safety
    /// The file must not be changed by anyone while the view is used: the structure was
    /// validated on open, and faer reads indices without bounds checks, so an index changed
    /// since is undefined behaviour.
    pub unsafe fn as_faer(&self) -> FaerCsr<'_, T> {
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
