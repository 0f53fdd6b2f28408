//! What the iterative solvers need from a Hamiltonian: its dimension, its action on a range of
//! rows (so that products with a block of vectors can be fused with the reductions that follow,
//! one cache-sized chunk of rows at a time), its diagonal and Gershgorin bounds of its spectrum.
//! Implemented by the matrix-free stencil and by CSR matrices, in the pool or memory-mapped.

use crate::matrix::mapped::MappedCsr;
use crate::matrix::{CsrMatrix, Load, Scalar, vectorized};
use crate::physics::StencilOperator;
use rayon::prelude::*;
use std::ops::Range;

/// A square Hermitian (or, for open systems, complex-symmetric) operator.
pub trait Operator<T: Scalar>: Sync {
    /// Number of rows and columns.
    fn dim(&self) -> usize;
    /// Row ranges given to [`apply_rows`](Self::apply_rows) start on multiples of this.
    fn row_granularity(&self) -> usize {
        1
    }
    /// `y = (A·x)[rows]`, sequentially; `x` has `dim` entries and `y` `rows.len()`.
    fn apply_rows(&self, x: &[T], rows: Range<usize>, y: &mut [T]);
    /// The same for `x` stored in single precision (widened as it is read; the arithmetic is
    /// in `T`). This default widens all of `x` into a temporary on every call; operators that
    /// read `x` in place say so with [`fast_single_input`](Self::fast_single_input), and only
    /// for them do the solvers keep their search blocks (LOBPCG's W and P) in single precision.
    fn apply_rows_single(&self, x: &[T::Single], rows: Range<usize>, y: &mut [T]) {
        let wide: Vec<T> = x.iter().map(|&v| v.load()).collect();
        self.apply_rows(&wide, rows, y);
    }
    /// True when [`apply_rows_single`](Self::apply_rows_single) reads `x` in place (no
    /// temporary).
    fn fast_single_input(&self) -> bool {
        false
    }
    /// The diagonal.
    fn diagonal(&self) -> Vec<T>;
    /// `(lower, upper)` bounds of the real parts of the spectrum (Gershgorin discs).
    fn gershgorin_bounds(&self) -> (f64, f64);

    /// `y = A·x`, in parallel over chunks of rows.
    fn apply(&self, x: &[T], y: &mut [T]) {
        apply_then(self, x, y, |_, _, _| {});
    }
}

/// `y = A·x` in parallel chunks of rows ([`chunk_rows`]), each chunk finished by
/// `then(y_chunk, x_chunk, rows)` while it is in cache: a product and what follows it (a
/// shift, a residual, a smoothing step) in one pass over `y`.
pub(crate) fn apply_then<T: Scalar, A: Operator<T> + ?Sized>(
    op: &A,
    x: &[T],
    y: &mut [T],
    then: impl Fn(&mut [T], &[T], Range<usize>) + Sync,
) {
    let chunk = chunk_rows(op.dim(), op.row_granularity());
    y.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(c, y_chunk)| {
            vectorized(
                #[inline(always)]
                || {
                    let rows = c * chunk..c * chunk + y_chunk.len();
                    op.apply_rows(x, rows.clone(), y_chunk);
                    then(y_chunk, &x[rows.clone()], rows);
                },
            )
        });
}

/// Rows per parallel chunk: about 8192, rounded to the operator's granularity.
pub(crate) fn chunk_rows(dim: usize, granularity: usize) -> usize {
    rows_near(dim, granularity, 8192)
}

/// About `target` rows (at least one granule, rounded up to a whole number of them), at most
/// `dim` rounded up likewise.
pub(crate) fn rows_near(dim: usize, granularity: usize, target: usize) -> usize {
    let g = granularity.max(1);
    (target.div_ceil(g) * g).min(dim.max(1).next_multiple_of(g))
}

fn bounds_from_rows<T: Scalar>(n: usize, row: impl Fn(usize) -> (T, f64) + Sync) -> (f64, f64) {
    (0..n)
        .into_par_iter()
        .map(|p| {
            let (d, off) = row(p);
            let re = d.to_complex().re;
            (re - off, re + off)
        })
        .reduce(
            || (f64::INFINITY, f64::NEG_INFINITY),
            |a, b| (a.0.min(b.0), a.1.max(b.1)),
        )
}

impl<T: Scalar> Operator<T> for StencilOperator<T> {
    fn dim(&self) -> usize {
        StencilOperator::dim(self)
    }

    fn row_granularity(&self) -> usize {
        self.grid().shape()[0]
    }

    fn apply_rows(&self, x: &[T], rows: Range<usize>, y: &mut [T]) {
        StencilOperator::apply_rows(self, x, rows, y)
    }

    fn apply_rows_single(&self, x: &[T::Single], rows: Range<usize>, y: &mut [T]) {
        StencilOperator::apply_rows_single(self, x, rows, y)
    }

    fn fast_single_input(&self) -> bool {
        true
    }

    fn diagonal(&self) -> Vec<T> {
        StencilOperator::diagonal(self).to_vec()
    }

    fn gershgorin_bounds(&self) -> (f64, f64) {
        bounds_from_rows(self.dim(), |p| self.row_disc(p))
    }
}

/// The diagonal of a CSR matrix given its rows (duplicates summed).
fn csr_diagonal<T: Scalar>(n: usize, row: impl Fn(usize) -> Vec<(usize, T)> + Sync) -> Vec<T> {
    (0..n)
        .into_par_iter()
        .map(|r| {
            row(r)
                .into_iter()
                .filter(|&(c, _)| c == r)
                .fold(T::ZERO_VALUE, |acc, (_, v)| acc + v)
        })
        .collect()
}

/// Gershgorin bounds of a CSR matrix given its rows.
fn csr_bounds<T: Scalar>(n: usize, row: impl Fn(usize) -> Vec<(usize, T)> + Sync) -> (f64, f64) {
    bounds_from_rows(n, |r| {
        let (mut d, mut off) = (T::ZERO_VALUE, 0.0);
        for (c, v) in row(r) {
            if c == r {
                d += v
            } else {
                off += v.abs_sq().sqrt()
            }
        }
        (d, off)
    })
}

impl<T: Scalar> Operator<T> for CsrMatrix<T> {
    fn dim(&self) -> usize {
        self.nrows()
    }

    fn apply_rows(&self, x: &[T], rows: Range<usize>, y: &mut [T]) {
        CsrMatrix::apply_rows(self, x, rows, y)
    }

    fn apply_rows_single(&self, x: &[T::Single], rows: Range<usize>, y: &mut [T]) {
        CsrMatrix::apply_rows_single(self, x, rows, y)
    }

    fn fast_single_input(&self) -> bool {
        true
    }

    fn diagonal(&self) -> Vec<T> {
        csr_diagonal(self.nrows(), |r| self.row(r))
    }

    fn gershgorin_bounds(&self) -> (f64, f64) {
        csr_bounds(self.nrows(), |r| self.row(r))
    }
}

/// A CSR matrix in a memory-mapped file, used where it lies: the Hamiltonian need not fit in
/// memory (its pages are file-backed, read in as the row chunks reach them, and reclaimable).
impl<T: Scalar> Operator<T> for MappedCsr<T> {
    fn dim(&self) -> usize {
        self.nrows()
    }

    fn apply_rows(&self, x: &[T], rows: Range<usize>, y: &mut [T]) {
        MappedCsr::apply_rows(self, x, rows, y)
    }

    fn apply_rows_single(&self, x: &[T::Single], rows: Range<usize>, y: &mut [T]) {
        MappedCsr::apply_rows_single(self, x, rows, y)
    }

    fn fast_single_input(&self) -> bool {
        true
    }

    fn diagonal(&self) -> Vec<T> {
        csr_diagonal(self.nrows(), |r| self.row(r))
    }

    fn gershgorin_bounds(&self) -> (f64, f64) {
        csr_bounds(self.nrows(), |r| self.row(r))
    }
}
