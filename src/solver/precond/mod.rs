//! Preconditioners for the block eigensolver: `z ≈ (H − σ)⁻¹·r` for a shift σ below the
//! spectrum, applied in place — the trait, diagonal (Jacobi) scaling for matrices without a
//! grid, and geometric multigrid for grid Hamiltonians.
//!
//! | file | what lives there |
//! |---|---|
//! | `mod.rs` | [`Preconditioner`], [`Jacobi`], [`Identity`]; what both multigrids' V-cycles share: a level's work vectors and the chunked `H·x`-then-update pass |
//! | `multigrid.rs` | [`Multigrid`]: rediscretised hierarchy, damped-Jacobi smoothing, V-cycles |
//! | `coarse.rs` | the exact solve at the bottom of a V-cycle: sparse Cholesky of the coarsest grid's H + s |
//! | `hierarchy.rs` | the levels' grids and interpolated fields, shared by both multigrids |
//! | `shifted.rs` | [`ShiftedMultigrid`]: V-cycles for the complex H − σ of open systems, sparse LU at the bottom |
//! | `transfer.rs` | linear interpolation and full weighting between grids |

mod coarse;
mod hierarchy;
mod multigrid;
mod shifted;
mod transfer;

pub use multigrid::{Multigrid, MultigridPreconditioner};
pub use shifted::ShiftedMultigrid;
#[cfg(feature = "gpu")]
pub(crate) use transfer::Map1d;

use super::operator::{Operator, chunk_rows};
use crate::matrix::vectorized;
use crate::matrix::{Load, Scalar, Store, narrow_into, widen_into};
use crate::physics::StencilOperator;
use crate::solver::threads::solver_threads;
use faer::MatMut;
use faer::reborrow::ReborrowMut;
use rayon::prelude::*;
use std::ops::Range;

/// An approximate inverse of `H − σ`, applied in place to one vector or a block.
pub trait Preconditioner<T: Scalar>: Sync {
    /// `r ← T·r`.
    fn apply_in_place(&self, r: &mut [T]);

    /// `R ← T·R` for the columns of a block (each column contiguous). The default applies
    /// [`apply_in_place`](Self::apply_in_place) column by column; a preconditioner that reads a
    /// large operand per application (a sparse factor) overrides it to read it once per block.
    fn apply_block_in_place(&self, block: MatMut<'_, T>) {
        apply_by_columns(self, block);
    }

    /// `r ← T·r` for `r` stored in single precision (LOBPCG's W): widened as it is read, the
    /// result rounded as it is written, the arithmetic in `T`. This default widens `r` into
    /// `work` (at least as long as `r`), applies [`apply_in_place`](Self::apply_in_place) there
    /// and rounds back; a preconditioner that works on `r` itself ignores `work` and says so
    /// with [`single_in_place`](Self::single_in_place).
    fn apply_in_place_single(&self, r: &mut [T::Single], work: &mut [T]) {
        let work = &mut work[..r.len()];
        widen_into(r, work);
        self.apply_in_place(work);
        narrow_into(work, r);
    }

    /// True when [`apply_in_place_single`](Self::apply_in_place_single) needs no `work`.
    fn single_in_place(&self) -> bool {
        false
    }
}

/// `R ← T·R` column by column through [`Preconditioner::apply_in_place`].
fn apply_by_columns<T: Scalar, P: Preconditioner<T> + ?Sized>(prec: &P, mut block: MatMut<'_, T>) {
    for j in 0..block.ncols() {
        prec.apply_in_place(column_mut(block.rb_mut(), j));
    }
}

/// Column `j` of a block whose columns are contiguous, as a slice.
pub(super) fn column_mut<T>(block: MatMut<'_, T>, j: usize) -> &mut [T] {
    block
        .col_mut(j)
        .try_as_col_major_mut()
        .expect("contiguous columns")
        .as_slice_mut()
}

/// Diagonal scaling by `1 / (H_ii − σ)`.
pub struct Jacobi {
    inverse: Vec<f64>,
}

impl Jacobi {
    /// The Jacobi preconditioner of `op` with σ a Gershgorin lower bound (so every scaled
    /// diagonal entry is positive).
    pub fn new<T: Scalar, A: Operator<T> + ?Sized>(op: &A) -> Self {
        let (lower, upper) = op.gershgorin_bounds();
        let floor = 1e-8 * (upper - lower).abs().max(f64::MIN_POSITIVE);
        let inverse = op
            .diagonal()
            .iter()
            .map(|d| 1.0 / (d.to_complex().re - lower).max(floor))
            .collect();
        Self { inverse }
    }
}

impl Jacobi {
    /// The scaling `1 / (H_ii − σ)` of every row (the GPU solver copies it to the device).
    #[cfg(feature = "gpu")]
    pub(crate) fn inverse(&self) -> &[f64] {
        &self.inverse
    }
}

impl<T: Scalar> Preconditioner<T> for Jacobi {
    fn apply_in_place(&self, r: &mut [T]) {
        for (v, &s) in r.iter_mut().zip(&self.inverse) {
            *v = v.scale(s);
        }
    }

    fn apply_in_place_single(&self, r: &mut [T::Single], _work: &mut [T]) {
        for (v, &s) in r.iter_mut().zip(&self.inverse) {
            *v = T::Single::store(v.load().scale(s));
        }
    }

    fn single_in_place(&self) -> bool {
        true
    }
}

/// No preconditioning.
pub struct Identity;

impl<T: Scalar> Preconditioner<T> for Identity {
    fn apply_in_place(&self, _r: &mut [T]) {}

    fn apply_in_place_single(&self, _r: &mut [T::Single], _work: &mut [T]) {}

    fn single_in_place(&self) -> bool {
        true
    }
}

/// Bytes of [`after_product`]'s work arrays on `op` at most: a chunk of `T` per solver thread.
pub(super) fn after_product_bytes<T: Scalar>(op: &StencilOperator<T>) -> u64 {
    let chunk = chunk_rows(op.dim(), op.grid().shape()[0]);
    (solver_threads() * chunk * size_of::<T>()) as u64
}

/// For each chunk of rows of `out` (in parallel): `H·x` of those rows into a work array of `T`,
/// then `then(out_chunk, hx, rows)` while both are in cache.
pub(super) fn after_product<T: Scalar, X: Load<T>, O: Send>(
    op: &StencilOperator<T>,
    x: &[X],
    out: &mut [O],
    then: impl Fn(&mut [O], &[T], Range<usize>) + Sync,
) {
    let chunk = chunk_rows(op.dim(), op.grid().shape()[0]);
    out.par_chunks_mut(chunk)
        .enumerate()
        .for_each_init(Vec::new, |hx, (c, oc)| {
            vectorized(
                #[inline(always)]
                || {
                    let rows = c * chunk..c * chunk + oc.len();
                    hx.resize(oc.len(), T::ZERO_VALUE);
                    op.apply_rows_from(x, rows.clone(), hx);
                    then(oc, hx, rows);
                },
            )
        });
}

/// Work vectors of one level of a V-cycle (both multigrids), stored as `S` (allocated on first
/// use, exactly as long as needed, reused by every V-cycle).
pub(super) struct Scratch<S> {
    /// Right-hand side of this level when it is visited as a coarse level, then its solution
    /// (the correction the finer level interpolates).
    pub(super) rhs: Vec<S>,
    /// The level's iterate.
    pub(super) x: Vec<S>,
    /// Residual, then the interpolated coarse correction.
    pub(super) r: Vec<S>,
    /// Intermediate arrays of the transfers to and from the next coarser level.
    pub(super) transfer: [Vec<S>; 2],
}

impl<S> Scratch<S> {
    pub(super) fn empty() -> Self {
        Self {
            rhs: Vec::new(),
            x: Vec::new(),
            r: Vec::new(),
            transfer: [Vec::new(), Vec::new()],
        }
    }
}
