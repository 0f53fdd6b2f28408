//! Tall-skinny block kernels for the eigensolvers, computed one chunk of rows at a time in
//! parallel: Gram matrices `AᴴB`, Gram matrices through the operator `Sᴴ·H·S` (the operator is
//! applied to a chunk and reduced at once, so `H·S` is never stored), linear combinations
//! `Y = S·C` that may overwrite their own inputs, and residuals `H·x − λx`.
//!
//! Blocks are sets of `n`-long columns ([`Cols`]) that may come from several pool matrices, so
//! that `[X, W, P]` needs no copy. Memory beyond the blocks themselves: one chunk of rows per
//! thread (≈ 8192 rows × block width).
//!
//! Columns in scratch files (out-of-core solves, `out_of_core.rs`) are processed in chunks of
//! the height their block asks for; each chunk reads ahead the next one and drops its own rows
//! from the resident memory when done, and every kernel drops its blocks' pages at the end.

use crate::error::Result;
use crate::matrix::Scalar;
use crate::solver::operator::{Operator, chunk_rows};
use crate::solver::out_of_core::{Advice, Block, advise};
use crate::solver::scratch_faults::check_address;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;
use std::ops::Range;

/// A run of columns with a common stride: columns `j` of the run start at `ptr + j·ld`.
#[derive(Clone, Copy)]
struct Segment<T> {
    ptr: *mut T,
    ncols: usize,
    ld: usize,
    /// In a scratch-file mapping: residency advice applies.
    mapped: bool,
}

/// Columns of length `n` in pool matrices: a list of strided segments, so that a block such as
/// `[X, W, P]` is used in place, and chunks of its rows are faer views (no copies).
pub(crate) struct Cols<T> {
    segments: Vec<Segment<T>>,
    n: usize,
    /// Rows per kernel chunk at most (`usize::MAX`: the default chunking).
    chunk_limit: usize,
}

// SAFETY: the kernels below only read whole columns that no one writes during the call, or
// read and write disjoint row ranges from different threads; the pointed-to matrices outlive
// every kernel call (callers keep them borrowed).
unsafe impl<T: Send> Send for Cols<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Cols<T> {}

impl<T: Scalar> Cols<T> {
    /// Columns `range` of `m`.
    pub(crate) fn of(m: &mut Block<T>, range: Range<usize>) -> Self {
        assert!(range.end <= m.ncols());
        // SAFETY: range.start ≤ ncols, so the offset stays inside (or one past) the block.
        let ptr = unsafe { m.data_ptr().add(range.start * m.ld()) };
        let segment = Segment {
            ptr,
            ncols: range.len(),
            ld: m.ld(),
            mapped: m.is_mapped(),
        };
        Self {
            segments: if range.is_empty() {
                Vec::new()
            } else {
                vec![segment]
            },
            n: m.nrows(),
            chunk_limit: m.chunk_rows(),
        }
    }

    /// The leading `n` rows of columns `range` of `m` (a smaller problem in a larger workspace).
    pub(crate) fn of_rows(m: &mut Block<T>, range: Range<usize>, n: usize) -> Self {
        assert!(n <= m.nrows());
        let mut cols = Self::of(m, range);
        cols.n = n;
        cols
    }

    /// The columns of `parts`, in order.
    pub(crate) fn concat(parts: &[&Cols<T>]) -> Self {
        let n = parts.first().map_or(0, |p| p.n);
        Self {
            segments: parts
                .iter()
                .flat_map(|p| p.segments.iter().copied())
                .collect(),
            n,
            chunk_limit: parts
                .iter()
                .map(|p| p.chunk_limit)
                .min()
                .unwrap_or(usize::MAX),
        }
    }

    /// Columns `range`.
    pub(crate) fn slice(&self, range: Range<usize>) -> Self {
        let mut segments = Vec::new();
        let mut first = 0;
        for seg in &self.segments {
            let (lo, hi) = (range.start.max(first), range.end.min(first + seg.ncols));
            if lo < hi {
                // SAFETY: lo − first < seg.ncols: the column lies inside the segment's matrix.
                let ptr = unsafe { seg.ptr.add((lo - first) * seg.ld) };
                segments.push(Segment {
                    ptr,
                    ncols: hi - lo,
                    ld: seg.ld,
                    mapped: seg.mapped,
                });
            }
            first += seg.ncols;
        }
        Self {
            segments,
            n: self.n,
            chunk_limit: self.chunk_limit,
        }
    }

    /// Number of columns.
    pub(crate) fn len(&self) -> usize {
        self.segments.iter().map(|s| s.ncols).sum()
    }

    /// Column length.
    pub(crate) fn rows(&self) -> usize {
        self.n
    }

    /// Residency advice on rows `rows` (clipped to the column length) of every column that
    /// lies in a scratch file; nothing for pool memory.
    pub(crate) fn advise_rows(&self, rows: Range<usize>, advice: Advice) {
        let (lo, hi) = (rows.start.min(self.n), rows.end.min(self.n));
        if lo >= hi {
            return;
        }
        for seg in self.segments.iter().filter(|s| s.mapped) {
            for j in 0..seg.ncols {
                // SAFETY: rows lo..hi of column j lie inside the segment's mapping.
                let start = unsafe { seg.ptr.add(j * seg.ld + lo) };
                advise(start.cast(), (hi - lo) * size_of::<T>(), advice);
            }
        }
    }

    /// Reads ahead the rows after `rows` (the next chunk's).
    fn prefetch_after(&self, rows: &Range<usize>) {
        self.advise_rows(rows.end..rows.end + rows.len(), Advice::WillNeed);
    }

    /// Drops rows `rows` from the resident memory (scratch-file columns only), with a margin of
    /// a chunk (at least 64 KiB) on both sides: the kernel's fault-around maps up to 64 KiB of
    /// cached pages around every read fault, and operators read halo rows, so a chunk's faults
    /// also map pages of its neighbours, which were released already or are about to be.
    /// Releasing pages another thread is using is safe for a shared file mapping (they are
    /// faulted in again from the page cache), only a little slower.
    fn release(&self, rows: &Range<usize>) {
        let margin = rows.len().max((64 << 10) / size_of::<T>().max(1));
        self.advise_rows(
            rows.start.saturating_sub(margin)..rows.end + margin,
            Advice::Release,
        );
    }

    /// Drops every scratch-file column from the resident memory.
    pub(crate) fn release_all(&self) {
        self.advise_rows(0..self.n, Advice::Release);
    }

    /// `ErrorKind::Io` when the system failed to read back a page of a scratch file holding
    /// some of the columns (the kernel that touched it ran on zeros; see `scratch_faults.rs`).
    /// Called after every kernel on the blocks.
    pub(crate) fn check_faults(&self) -> Result<()> {
        self.segments
            .iter()
            .filter(|s| s.mapped)
            .try_for_each(|s| check_address(s.ptr as usize))
    }

    /// True when some column lies in a scratch file.
    fn any_mapped(&self) -> bool {
        self.segments.iter().any(|s| s.mapped)
    }

    fn col_ptr(&self, mut j: usize) -> *mut T {
        for seg in &self.segments {
            if j < seg.ncols {
                // SAFETY: j < ncols of this segment.
                return unsafe { seg.ptr.add(j * seg.ld) };
            }
            j -= seg.ncols;
        }
        panic!("column index out of range");
    }

    /// Column `j`, whole.
    ///
    /// # Safety
    /// Nobody writes the column while the slice is alive.
    pub(crate) unsafe fn col(&self, j: usize) -> &[T] {
        // SAFETY: the column has n elements; no concurrent writer per the contract.
        unsafe { std::slice::from_raw_parts(self.col_ptr(j), self.n) }
    }

    /// Rows `rows` of column `j`, mutably.
    ///
    /// # Safety
    /// Nobody else reads or writes those rows of the column while the slice is alive.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn rows_mut(&self, j: usize, rows: Range<usize>) -> &mut [T] {
        assert!(rows.end <= self.n);
        // SAFETY: in bounds (checked); exclusive per the contract.
        unsafe { std::slice::from_raw_parts_mut(self.col_ptr(j).add(rows.start), rows.len()) }
    }

    /// Rows `rows` of each segment as faer views, with the index of its first column.
    ///
    /// # Safety
    /// Nobody writes those rows while the views are alive.
    unsafe fn chunk_views(&self, rows: &Range<usize>) -> Vec<(usize, MatRef<'_, T>)> {
        let mut first = 0;
        self.segments
            .iter()
            .map(|seg| {
                // SAFETY: rows ⊂ 0..n and the segment's columns are ld apart inside its matrix.
                let view = unsafe {
                    MatRef::from_raw_parts(
                        seg.ptr.add(rows.start),
                        rows.len(),
                        seg.ncols,
                        1,
                        seg.ld as isize,
                    )
                };
                first += seg.ncols;
                (first - seg.ncols, view)
            })
            .collect()
    }

    /// Writes `src` (rows.len() × len, contiguous columns) into rows `rows` of every column.
    fn scatter(&self, rows: &Range<usize>, src: &Mat<T>) {
        for j in 0..self.len() {
            // SAFETY: rows ⊂ 0..n; concurrent calls use disjoint row ranges.
            let dst = unsafe { self.rows_mut(j, rows.clone()) };
            let col = src
                .as_ref()
                .col(j)
                .try_as_col_major()
                .expect("faer Mat columns are contiguous");
            dst.copy_from_slice(col.as_slice());
        }
    }
}

/// `acc += Lᴴ·R` over one chunk of rows, segment by segment (`r` given as a contiguous matrix or
/// as segment views).
fn accumulate_gram<T: Scalar>(
    acc: &mut Mat<T>,
    left: &[(usize, MatRef<'_, T>)],
    right: &[(usize, MatRef<'_, T>)],
) {
    for &(i0, l) in left {
        for &(j0, r) in right {
            let block = acc.as_mut().submatrix_mut(i0, j0, l.ncols(), r.ncols());
            matmul(block, Accum::Add, l.adjoint(), r, T::ONE, Par::Seq);
        }
    }
}

/// The row chunks of a kernel: about 8192 rows, or at most `limit` (rounded down to the
/// granularity, at least one granule) when the blocks ask for less or more.
fn chunks(
    n: usize,
    granularity: usize,
    limit: usize,
) -> impl IndexedParallelIterator<Item = Range<usize>> {
    let size = if limit == usize::MAX {
        chunk_rows(n, granularity)
    } else {
        let g = granularity.max(1);
        ((limit / g).max(1) * g).min(n.max(1).next_multiple_of(g))
    };
    (0..n.div_ceil(size))
        .into_par_iter()
        .map(move |c| c * size..((c + 1) * size).min(n))
}

/// Sums per-chunk partial results in chunk order: the reductions are deterministic whatever the
/// number of threads or how rayon split the work (the language bindings' results must agree
/// bit for bit).
fn ordered_sum<T: Scalar>(parts: Vec<Mat<T>>, nrows: usize, ncols: usize) -> Mat<T> {
    parts
        .into_iter()
        .fold(Mat::zeros(nrows, ncols), |acc, part| acc + part)
}

/// `Aᴴ·B`.
pub(crate) fn gram<T: Scalar>(a: &Cols<T>, b: &Cols<T>) -> Mat<T> {
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 {
        return Mat::zeros(na, nb);
    }
    let limit = a.chunk_limit.min(b.chunk_limit);
    let parts = chunks(a.rows(), 1, limit)
        .map(|rows| {
            a.prefetch_after(&rows);
            b.prefetch_after(&rows);
            let mut part = Mat::<T>::zeros(na, nb);
            // SAFETY: A and B are only read during this kernel.
            let (va, vb) = unsafe { (a.chunk_views(&rows), b.chunk_views(&rows)) };
            accumulate_gram(&mut part, &va, &vb);
            a.release(&rows);
            b.release(&rows);
            part
        })
        .collect();
    a.release_all();
    b.release_all();
    ordered_sum(parts, na, nb)
}

/// `Sᴴ·H·S`, applying `op` chunk by chunk (H·S is never stored).
pub(crate) fn gram_op<T: Scalar, A: Operator<T> + ?Sized>(op: &A, s: &Cols<T>) -> Mat<T> {
    let b = s.len();
    if b == 0 {
        return Mat::zeros(0, 0);
    }
    let parts = chunks(s.rows(), op.row_granularity(), s.chunk_limit)
        .map_init(
            || Mat::<T>::zeros(0, 0),
            |th, rows| {
                s.prefetch_after(&rows);
                th.resize_with(rows.len(), b, |_, _| T::ZERO_VALUE);
                for j in 0..b {
                    // SAFETY: S is only read during this kernel.
                    let x = unsafe { s.col(j) };
                    let y = th
                        .as_mut()
                        .col_mut(j)
                        .try_as_col_major_mut()
                        .expect("contiguous");
                    op.apply_rows(x, rows.clone(), y.as_slice_mut());
                }
                let mut part = Mat::<T>::zeros(b, b);
                // SAFETY: S is only read during this kernel.
                let vs = unsafe { s.chunk_views(&rows) };
                // Sᴴ·H·S is Hermitian: each segment's rows only up to its last column (the
                // block lower triangle, two thirds of the products for [X, W, P]); the rest is
                // mirrored once the chunks are summed.
                for &(i0, l) in &vs {
                    let end = i0 + l.ncols();
                    let block = part.as_mut().submatrix_mut(i0, 0, l.ncols(), end);
                    matmul(
                        block,
                        Accum::Add,
                        l.adjoint(),
                        th.as_ref().subcols(0, end),
                        T::ONE,
                        Par::Seq,
                    );
                }
                drop(vs);
                s.release(&rows);
                part
            },
        )
        .collect();
    // The operator read halo rows of neighbouring chunks: drop those pages too.
    s.release_all();
    let mut g = ordered_sum(parts, b, b);
    // Mirror the block upper triangle: (i, j) right of i's segment is conj((j, i)).
    let mut start = 0;
    for seg in &s.segments {
        let end = start + seg.ncols;
        for j in end..b {
            for i in start..end {
                g[(i, j)] = g[(j, i)].conj_value();
            }
        }
        start = end;
    }
    g
}

/// `outputs = inputs·coeff` (`coeff` is inputs × outputs). The outputs may be some of the inputs:
/// each chunk of rows is computed into a buffer before it is written.
pub(crate) fn combine<T: Scalar>(inputs: &Cols<T>, coeff: MatRef<'_, T>, outputs: &Cols<T>) {
    assert!(coeff.nrows() == inputs.len() && coeff.ncols() == outputs.len());
    if outputs.len() == 0 {
        return;
    }
    let limit = inputs.chunk_limit.min(outputs.chunk_limit);
    chunks(inputs.rows(), 1, limit).for_each_init(
        || Mat::<T>::zeros(0, 0),
        |to, rows| {
            inputs.prefetch_after(&rows);
            outputs.prefetch_after(&rows);
            to.resize_with(rows.len(), outputs.len(), |_, _| T::ZERO_VALUE);
            // SAFETY: within this chunk the inputs are only read until the buffer is complete;
            // other chunks touch other rows.
            let views = unsafe { inputs.chunk_views(&rows) };
            for (k, &(i0, v)) in views.iter().enumerate() {
                let c = coeff.subrows(i0, v.ncols());
                let accum = if k == 0 { Accum::Replace } else { Accum::Add };
                matmul(to.as_mut(), accum, v, c, T::ONE, Par::Seq);
            }
            drop(views);
            outputs.scatter(&rows, to);
            inputs.release(&rows);
            outputs.release(&rows);
        },
    );
    if inputs.any_mapped() || outputs.any_mapped() {
        inputs.release_all();
        outputs.release_all();
    }
}

/// `r_j = H·x_j − λ_j·x_j` for every column; returns `‖r_j‖`. `r` must not alias `x`.
pub(crate) fn residuals<T: Scalar, A: Operator<T> + ?Sized>(
    op: &A,
    x: &Cols<T>,
    lambda: &[f64],
    r: &Cols<T>,
) -> Vec<f64> {
    let b = x.len();
    assert!(r.len() == b && lambda.len() == b);
    let limit = x.chunk_limit.min(r.chunk_limit);
    let parts: Vec<Vec<f64>> = chunks(x.rows(), op.row_granularity(), limit)
        .map_init(Vec::new, |hx, rows| {
            x.prefetch_after(&rows);
            r.prefetch_after(&rows);
            hx.resize(rows.len(), T::ZERO_VALUE);
            let mut part = vec![0.0; b];
            for j in 0..b {
                // SAFETY: X is only read; R's rows `rows` are written by this chunk alone.
                let (xj, rj) = unsafe { (x.col(j), r.rows_mut(j, rows.clone())) };
                op.apply_rows(xj, rows.clone(), hx);
                for ((ri, &h), &xi) in rj.iter_mut().zip(hx.iter()).zip(&xj[rows.clone()]) {
                    *ri = h - xi.scale(lambda[j]);
                    part[j] += ri.abs_sq();
                }
            }
            x.release(&rows);
            r.release(&rows);
            part
        })
        .collect();
    // The operator read halo rows of neighbouring chunks: drop those pages too.
    x.release_all();
    r.release_all();
    // In chunk order, for determinism (see `ordered_sum`).
    let sq = parts.iter().fold(vec![0.0; b], |acc, p| {
        acc.iter().zip(p).map(|(a, b)| a + b).collect()
    });
    sq.into_iter().map(f64::sqrt).collect()
}
