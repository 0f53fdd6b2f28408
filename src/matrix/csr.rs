//! `CsrMatrix<T>`: a sparse matrix in compressed-sparse-row form whose three arrays live in a
//! manager's pools (tagged), with 32-bit indices when they fit and 64-bit otherwise, a parallel
//! SpMV `y = αAx + βy`, and zero-copy views as faer sparse matrices and operators.
//!
//! Invariants (established by [`CsrBuilder`](super::CsrBuilder) and the Hamiltonian assembly,
//! the only constructors): `row_ptr` has `nrows + 1` non-decreasing entries from 0 to `nnz`, and
//! within each row the column indices are strictly increasing and below `ncols`.

use super::scalar::{Load, Scalar};
use crate::error::{Error, Result};
use crate::memory::PoolBuffer;
use faer::dyn_stack::{MemStack, StackReq};
use faer::matrix_free::LinOp;
use faer::reborrow::ReborrowMut;
use faer::sparse::{SparseRowMatRef, SymbolicSparseRowMatRef};
use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;
use std::ops::Mul;

/// Rows handled by one parallel task in SpMV (enough work to amortise scheduling).
const ROWS_PER_TASK: usize = 4096;

/// The index arrays, in the narrowest width that holds `nnz` and `ncols`.
pub enum CsrIndices {
    /// 32-bit row pointers and column indices.
    I32 {
        /// `nrows + 1` offsets into `col_idx` / values.
        row_ptr: PoolBuffer<i32>,
        /// Column of each stored entry.
        col_idx: PoolBuffer<i32>,
    },
    /// 64-bit row pointers and column indices.
    I64 {
        /// `nrows + 1` offsets into `col_idx` / values.
        row_ptr: PoolBuffer<i64>,
        /// Column of each stored entry.
        col_idx: PoolBuffer<i64>,
    },
}

/// A sparse matrix in CSR form.
pub struct CsrMatrix<T: Scalar> {
    nrows: usize,
    ncols: usize,
    indices: CsrIndices,
    values: PoolBuffer<T>,
}

/// A CSR matrix viewed as faer's sparse type (faer indexes with unsigned integers; ours are
/// never negative, so the same memory is reinterpreted).
pub enum FaerCsr<'a, T> {
    /// 32-bit indices.
    U32(SparseRowMatRef<'a, u32, T>),
    /// 64-bit indices.
    U64(SparseRowMatRef<'a, u64, T>),
}

/// An integer type used for CSR indices.
pub(crate) trait CsrIndex: crate::memory::PoolElement + TryFrom<usize> {
    /// The value as an index (never negative by the invariants).
    fn to_usize(self) -> usize;
    /// `x` in this type; callers pick the width so that it fits.
    fn narrow(x: usize) -> Self {
        Self::try_from(x).ok().expect("index width chosen to fit")
    }
    /// Wraps arrays of this width.
    fn into_indices(row_ptr: PoolBuffer<Self>, col_idx: PoolBuffer<Self>) -> CsrIndices;
}
impl CsrIndex for i32 {
    #[inline(always)]
    fn to_usize(self) -> usize {
        self as u32 as usize
    }
    fn into_indices(row_ptr: PoolBuffer<Self>, col_idx: PoolBuffer<Self>) -> CsrIndices {
        CsrIndices::I32 { row_ptr, col_idx }
    }
}
impl CsrIndex for i64 {
    #[inline(always)]
    fn to_usize(self) -> usize {
        self as u64 as usize
    }
    fn into_indices(row_ptr: PoolBuffer<Self>, col_idx: PoolBuffer<Self>) -> CsrIndices {
        CsrIndices::I64 { row_ptr, col_idx }
    }
}

/// True when every index of a matrix with `nnz` entries and `ncols` columns fits in an `i32`.
pub(crate) fn fits_i32(nnz: usize, ncols: usize) -> bool {
    nnz <= i32::MAX as usize && ncols <= i32::MAX as usize
}

impl<T: Scalar> CsrMatrix<T> {
    /// Assembles a matrix from arrays that already satisfy the module's invariants.
    pub(crate) fn from_valid_parts(
        nrows: usize,
        ncols: usize,
        indices: CsrIndices,
        values: PoolBuffer<T>,
    ) -> Self {
        let m = Self {
            nrows,
            ncols,
            indices,
            values,
        };
        debug_assert!(m.invariants_hold(), "CSR invariants violated");
        m
    }

    fn invariants_hold(&self) -> bool {
        fn check<I: CsrIndex>(rp: &[I], ci: &[I], nrows: usize, ncols: usize, nnz: usize) -> bool {
            rp.len() == nrows + 1
                && rp[0].to_usize() == 0
                && rp[nrows].to_usize() == nnz
                && ci.len() == nnz
                && (0..nrows).all(|r| {
                    let (s, e) = (rp[r].to_usize(), rp[r + 1].to_usize());
                    s <= e
                        && ci[s..e].iter().all(|c| c.to_usize() < ncols)
                        && ci[s..e]
                            .windows(2)
                            .all(|w| w[0].to_usize() < w[1].to_usize())
                })
        }
        let nnz = self.values.len();
        match &self.indices {
            CsrIndices::I32 { row_ptr, col_idx } => {
                check(row_ptr, col_idx, self.nrows, self.ncols, nnz)
            }
            CsrIndices::I64 { row_ptr, col_idx } => {
                check(row_ptr, col_idx, self.nrows, self.ncols, nnz)
            }
        }
    }

    /// Rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// 32 or 64.
    pub fn index_bits(&self) -> u32 {
        match self.indices {
            CsrIndices::I32 { .. } => 32,
            CsrIndices::I64 { .. } => 64,
        }
    }

    /// The index arrays.
    pub fn indices(&self) -> &CsrIndices {
        &self.indices
    }

    /// The stored values, row by row.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// Exact bytes held by the three arrays.
    pub fn memory_bytes(&self) -> usize {
        self.values.size_bytes()
            + match &self.indices {
                CsrIndices::I32 { row_ptr, col_idx } => row_ptr.size_bytes() + col_idx.size_bytes(),
                CsrIndices::I64 { row_ptr, col_idx } => row_ptr.size_bytes() + col_idx.size_bytes(),
            }
    }

    /// Writes the values of `A − σ·I` into `out` (same pattern). Every row must store its
    /// diagonal entry (grid Hamiltonians always do).
    pub(crate) fn shifted_values(&self, sigma: T, out: &mut [T]) -> Result<()> {
        fn shift<I: CsrIndex, T: Scalar>(
            rp: &[I],
            ci: &[I],
            v: &[T],
            sigma: T,
            out: &mut [T],
        ) -> Result<()> {
            out.copy_from_slice(v);
            for r in 0..rp.len() - 1 {
                let row = rp[r].to_usize()..rp[r + 1].to_usize();
                let d = row
                    .clone()
                    .find(|&p| ci[p].to_usize() == r)
                    .ok_or_else(|| {
                        Error::invalid_argument(format!(
                            "row {r} stores no diagonal entry; a shift needs the full diagonal"
                        ))
                    })?;
                out[d] -= sigma;
            }
            Ok(())
        }
        match &self.indices {
            CsrIndices::I32 { row_ptr, col_idx } => {
                shift(row_ptr, col_idx, &self.values, sigma, out)
            }
            CsrIndices::I64 { row_ptr, col_idx } => {
                shift(row_ptr, col_idx, &self.values, sigma, out)
            }
        }
    }

    /// The stored entries of row `r` as `(col, value)`, by increasing column.
    pub fn row(&self, r: usize) -> Vec<(usize, T)> {
        match &self.indices {
            CsrIndices::I32 { row_ptr, col_idx } => row_entries(row_ptr, col_idx, &self.values, r),
            CsrIndices::I64 { row_ptr, col_idx } => row_entries(row_ptr, col_idx, &self.values, r),
        }
    }

    /// Every stored entry as `(row, col, value)`, row by row.
    pub fn entries(&self) -> Vec<(usize, usize, T)> {
        fn collect<I: CsrIndex, T: Copy>(rp: &[I], ci: &[I], v: &[T]) -> Vec<(usize, usize, T)> {
            (0..rp.len() - 1)
                .flat_map(|r| {
                    (rp[r].to_usize()..rp[r + 1].to_usize())
                        .map(move |p| (r, ci[p].to_usize(), v[p]))
                })
                .collect()
        }
        match &self.indices {
            CsrIndices::I32 { row_ptr, col_idx } => collect(row_ptr, col_idx, &self.values),
            CsrIndices::I64 { row_ptr, col_idx } => collect(row_ptr, col_idx, &self.values),
        }
    }

    /// The matrix as a dense faer matrix (for tests and small problems).
    pub fn to_dense(&self) -> faer::Mat<T> {
        let mut dense = faer::Mat::<T>::zeros(self.nrows, self.ncols);
        for (r, c, v) in self.entries() {
            dense[(r, c)] = v;
        }
        dense
    }

    /// A zero-copy faer view.
    pub fn as_faer(&self) -> FaerCsr<'_, T> {
        match &self.indices {
            CsrIndices::I32 { row_ptr, col_idx } => FaerCsr::U32(faer_view::<i32, u32, T>(
                self.nrows,
                self.ncols,
                row_ptr,
                col_idx,
                &self.values,
            )),
            CsrIndices::I64 { row_ptr, col_idx } => FaerCsr::U64(faer_view::<i64, u64, T>(
                self.nrows,
                self.ncols,
                row_ptr,
                col_idx,
                &self.values,
            )),
        }
    }

    /// `y = α·A·x + β·y`, in parallel over rows. With `β = 0`, `y` is not read (NaNs in it do
    /// not propagate). The vectors may be complex when the matrix is real.
    pub fn spmv<V>(&self, alpha: V, x: &[V], beta: V, y: &mut [V]) -> Result<()>
    where
        V: Scalar + Mul<T, Output = V>,
    {
        self.check_vectors(x.len(), y.len())?;
        self.spmv_unchecked::<V, V, false>(alpha, x, beta, y, 0, true);
        Ok(())
    }

    /// `y = (A·x)[rows]`, sequentially (x has `ncols` entries, y `rows.len()`): the building
    /// block of the solvers' row-chunked kernels.
    pub(crate) fn apply_rows(&self, x: &[T], rows: std::ops::Range<usize>, y: &mut [T]) {
        debug_assert!(x.len() == self.ncols && y.len() == rows.len() && rows.end <= self.nrows);
        self.spmv_unchecked::<T, T, false>(T::ONE, x, T::ZERO_VALUE, y, rows.start, false);
    }

    /// [`apply_rows`](Self::apply_rows) of a vector stored in single precision, widened as it
    /// is read (the arithmetic is in `T`).
    pub(crate) fn apply_rows_single(
        &self,
        x: &[T::Single],
        rows: std::ops::Range<usize>,
        y: &mut [T],
    ) {
        debug_assert!(x.len() == self.ncols && y.len() == rows.len() && rows.end <= self.nrows);
        self.spmv_unchecked::<T, T::Single, false>(T::ONE, x, T::ZERO_VALUE, y, rows.start, false);
    }

    fn check_vectors(&self, x: usize, y: usize) -> Result<()> {
        if x != self.ncols || y != self.nrows {
            return Err(Error::invalid_argument(format!(
                "SpMV with a {}×{} matrix needs x of length {} and y of length {}, got {x} and {y}",
                self.nrows, self.ncols, self.ncols, self.nrows
            )));
        }
        Ok(())
    }

    /// SpMV with lengths already checked, for rows `first_row .. first_row + y.len()`; `CONJ`
    /// multiplies by the conjugated matrix.
    fn spmv_unchecked<V, X: Load<V>, const CONJ: bool>(
        &self,
        alpha: V,
        x: &[X],
        beta: V,
        y: &mut [V],
        first_row: usize,
        parallel: bool,
    ) where
        V: Scalar + Mul<T, Output = V>,
    {
        match &self.indices {
            CsrIndices::I32 { row_ptr, col_idx } => spmv_kernel::<i32, T, V, X, CONJ>(
                &row_ptr[first_row..],
                col_idx,
                &self.values,
                alpha,
                x,
                beta,
                y,
                parallel,
            ),
            CsrIndices::I64 { row_ptr, col_idx } => spmv_kernel::<i64, T, V, X, CONJ>(
                &row_ptr[first_row..],
                col_idx,
                &self.values,
                alpha,
                x,
                beta,
                y,
                parallel,
            ),
        }
    }
}

/// Row `r`'s `(column, value)` pairs of CSR arrays (shared with the memory-mapped CSR matrices).
pub(crate) fn row_entries<I: CsrIndex, T: Copy>(
    row_ptr: &[I],
    col_idx: &[I],
    values: &[T],
    r: usize,
) -> Vec<(usize, T)> {
    (row_ptr[r].to_usize()..row_ptr[r + 1].to_usize())
        .map(|p| (col_idx[p].to_usize(), values[p]))
        .collect()
}

/// Arrays satisfying the module's invariants viewed as faer's CSR type with unsigned indices of
/// the same width (shared with the memory-mapped CSR matrices, which validate on open).
pub(crate) fn faer_view<'a, I: CsrIndex, U: faer::Index, T>(
    nrows: usize,
    ncols: usize,
    rp: &'a [I],
    ci: &'a [I],
    values: &'a [T],
) -> SparseRowMatRef<'a, U, T> {
    const { assert!(size_of::<I>() == size_of::<U>() && align_of::<I>() == align_of::<U>()) };
    // SAFETY: I and U have the same size and alignment (checked above), and every index
    // is non-negative, so reading it as the unsigned type gives the same value.
    let (rp, ci) = unsafe {
        (
            std::slice::from_raw_parts(rp.as_ptr().cast::<U>(), rp.len()),
            std::slice::from_raw_parts(ci.as_ptr().cast::<U>(), ci.len()),
        )
    };
    // SAFETY: the caller's arrays satisfy the module invariants (CsrMatrix establishes them,
    // MappedCsr validates them on open and its `as_faer` is unsafe: the file must not change), which
    // are exactly faer's CSR invariants.
    let symbolic = unsafe { SymbolicSparseRowMatRef::new_unchecked(nrows, ncols, rp, None, ci) };
    SparseRowMatRef::new(symbolic, values)
}

#[allow(clippy::too_many_arguments)]
fn spmv_kernel<
    I: CsrIndex,
    T: Scalar,
    V: Scalar + Mul<T, Output = V>,
    X: Load<V>,
    const CONJ: bool,
>(
    row_ptr: &[I],
    col_idx: &[I],
    values: &[T],
    alpha: V,
    x: &[X],
    beta: V,
    y: &mut [V],
    parallel: bool,
) {
    let rows = |(task, chunk): (usize, &mut [V])| {
        let first = task * ROWS_PER_TASK;
        for (k, yi) in chunk.iter_mut().enumerate() {
            let r = first + k;
            let (start, end) = (row_ptr[r].to_usize(), row_ptr[r + 1].to_usize());
            let mut acc = V::ZERO_VALUE;
            for p in start..end {
                // SAFETY: p < nnz = len(values) = len(col_idx) (row_ptr is monotone up to nnz),
                // and every column index is < ncols = len(x) (checked by the caller); these are
                // the CSR invariants established at construction.
                let (c, v) = unsafe {
                    (
                        col_idx.get_unchecked(p).to_usize(),
                        *values.get_unchecked(p),
                    )
                };
                let v = if CONJ { v.conj_value() } else { v };
                // SAFETY: c < ncols = len(x), see above.
                acc += unsafe { *x.get_unchecked(c) }.load() * v;
            }
            *yi = if beta == V::ZERO_VALUE {
                alpha * acc
            } else {
                alpha * acc + beta * *yi
            };
        }
    };
    if parallel {
        crate::solver::threads::in_pool(|| {
            y.par_chunks_mut(ROWS_PER_TASK).enumerate().for_each(rows)
        });
    } else {
        y.chunks_mut(ROWS_PER_TASK).enumerate().for_each(rows);
    }
}

impl<T: Scalar> std::fmt::Debug for CsrMatrix<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrMatrix")
            .field("nrows", &self.nrows)
            .field("ncols", &self.ncols)
            .field("nnz", &self.nnz())
            .field("index_bits", &self.index_bits())
            .field("scalar", &T::KIND)
            .finish()
    }
}

/// The body of a `LinOp::apply`: runs `kernel(x, y, parallel)` for every column of `rhs`,
/// writing the matching column of `out`; columns that are not contiguous are staged through a
/// contiguous copy.
pub(crate) fn apply_columns<T: Scalar>(
    mut out: MatMut<'_, T>,
    rhs: MatRef<'_, T>,
    par: Par,
    kernel: impl Fn(&[T], &mut [T], bool),
) {
    let parallel = !matches!(par, Par::Seq);
    let mut x_tmp: Vec<T> = Vec::new();
    let mut y_tmp: Vec<T> = Vec::new();
    for j in 0..rhs.ncols() {
        let x: &[T] = match rhs.col(j).try_as_col_major() {
            Some(col) => col.as_slice(),
            None => {
                x_tmp.clear();
                x_tmp.extend(rhs.col(j).iter().copied());
                &x_tmp
            }
        };
        let out_j = out.rb_mut().col_mut(j);
        if out_j.row_stride() == 1 {
            kernel(
                x,
                out_j
                    .try_as_col_major_mut()
                    .expect("unit stride")
                    .as_slice_mut(),
                parallel,
            );
        } else {
            y_tmp.clear();
            y_tmp.resize(out_j.nrows(), T::ZERO_VALUE);
            kernel(x, &mut y_tmp, parallel);
            for (dst, &src) in out_j.iter_mut().zip(&y_tmp) {
                *dst = src;
            }
        }
    }
}

impl<T: Scalar> LinOp<T> for CsrMatrix<T> {
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }

    fn nrows(&self) -> usize {
        self.nrows
    }

    fn ncols(&self) -> usize {
        self.ncols
    }

    fn apply(&self, out: MatMut<'_, T>, rhs: MatRef<'_, T>, par: Par, _stack: &mut MemStack) {
        apply_columns(out, rhs, par, |x, y, parallel| {
            self.spmv_unchecked::<T, T, false>(T::ONE, x, T::ZERO_VALUE, y, 0, parallel)
        });
    }

    fn conj_apply(&self, out: MatMut<'_, T>, rhs: MatRef<'_, T>, par: Par, _stack: &mut MemStack) {
        apply_columns(out, rhs, par, |x, y, parallel| {
            self.spmv_unchecked::<T, T, true>(T::ONE, x, T::ZERO_VALUE, y, 0, parallel)
        });
    }
}
