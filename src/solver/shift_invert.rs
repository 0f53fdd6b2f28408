//! Shift-invert for the lowest eigenpairs of a sparse Hermitian matrix: a sparse Cholesky
//! factor of H − σ (σ below the spectrum, so H − σ is positive definite; AMD ordering, faer's
//! supernodal factorisation with its values held in the manager's pool), then block LOBPCG on
//! H with the exact inverse (H − σ)⁻¹ as its preconditioner. With an exact shifted inverse,
//! LOBPCG converges like a block shift-invert Krylov method (≈ 15–20 iterations for 10 states
//! of a quantum dot) and, being a block method, finds every member of a degenerate multiplet
//! that fits in the block. Memory: the factor's fill-in plus the three LOBPCG blocks.
//!
//! (faer's own Krylov–Schur, used here before, can spin forever in its re-orthogonalisation
//! loop when the rounding of a long dot product exceeds its fixed threshold: seen on a
//! 200 × 200 grid.)

use super::lobpcg::driver::SolveClock;
use super::lobpcg::host::single_level;
use super::operator::Operator;
use super::options::{EigenOptions, Method};
use super::precond::Preconditioner;
use super::progress::ProgressFn;
use super::result::EigenResult;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{CsrMatrix, FaerCsr, Scalar, require_square};
use crate::memory::{MemoryManager, PoolBuffer};
use crate::solver::threads::on_solver_threads;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::sparse::linalg::cholesky::{LltRef, SymbolicCholesky, factorize_symbolic_cholesky};
use faer::sparse::{SparseColMatRef, SparseRowMatRef, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par, Side};

/// The inverse of a factored H − σ, as a preconditioner.
struct Inverse<'a, I: faer::Index, T: Scalar> {
    llt: LltRef<'a, I, T>,
    n: usize,
}

impl<I: faer::Index, T: Scalar> Preconditioner<T> for Inverse<'_, I, T> {
    fn apply_in_place(&self, r: &mut [T]) {
        let par = Par::Seq;
        let mut scratch = MemBuffer::new(self.llt.symbolic().solve_in_place_scratch::<T>(1, par));
        let rhs = MatMut::from_column_major_slice_mut(r, self.n, 1);
        // The factor is of the CSR arrays read column-major, i.e. of (H − σ)ᵀ = conj(H − σ):
        // solving with the conjugate solves (H − σ)·x = b.
        self.llt
            .solve_in_place_with_conj(Conj::Yes, rhs, par, MemStack::new(&mut scratch));
    }
}

/// The symbolic factorisation (AMD ordering) of a CSR pattern and its factor size in values.
pub(crate) struct Symbolic<I: faer::Index> {
    symbolic: SymbolicCholesky<I>,
}

impl<I: faer::Index> Symbolic<I> {
    /// The fill-reducing (AMD) order of the pattern: `order[e]` is the column eliminated
    /// `e`-th.
    pub(crate) fn order(&self) -> Vec<usize> {
        match self.symbolic.perm() {
            Some(perm) => perm.arrays().0.iter().map(|p| p.zx()).collect(),
            None => (0..self.symbolic.nrows()).collect(),
        }
    }

    /// Values in the Cholesky factor L of the pattern (diagonal included).
    pub(crate) fn len_val(&self) -> usize {
        self.symbolic.len_val()
    }
}

/// The pattern of the square `view` read column-major: its transpose (the same pattern for a
/// symmetric or Hermitian H), with the values in the same order.
pub(crate) fn transposed_pattern<'a, I: faer::Index, T>(
    view: SparseRowMatRef<'a, I, T>,
) -> SymbolicSparseColMatRef<'a, I> {
    let (sym, _) = view.parts();
    let n = sym.nrows();
    // SAFETY: the CSR invariants (sorted, in-range, monotone) are the CSC invariants of the
    // transposed pattern.
    unsafe { SymbolicSparseColMatRef::new_unchecked(n, n, sym.row_ptr(), None, sym.col_idx()) }
}

/// The symbolic Cholesky factorisation of the pattern of `view` (AMD ordering).
pub(crate) fn symbolic_of<I: faer::Index, T>(
    view: SparseRowMatRef<'_, I, T>,
) -> Result<Symbolic<I>> {
    let csc = transposed_pattern(view);
    let symbolic =
        factorize_symbolic_cholesky(csc, Side::Lower, Default::default(), Default::default())
            .map_err(|e| {
                Error::new(
                    ErrorKind::OutOfMemory,
                    format!("symbolic Cholesky failed: {e:?}"),
                )
            })?;
    Ok(Symbolic { symbolic })
}

/// Bytes the shift-invert solve of `h` for `k` states would need: the factor's values, a
/// shifted copy of H's values and the three LOBPCG blocks.
pub fn shift_invert_memory_estimate<T: Scalar>(h: &CsrMatrix<T>, k: usize) -> Result<u64> {
    let len_val = match h.as_faer() {
        FaerCsr::U32(v) => symbolic_of(v)?.symbolic.len_val(),
        FaerCsr::U64(v) => symbolic_of(v)?.symbolic.len_val(),
    };
    let t = size_of::<T>() as u64;
    let block = EigenOptions {
        k,
        ..EigenOptions::default()
    }
    .block_size(h.nrows()) as u64;
    Ok(len_val as u64 * t + 3 * block * h.nrows() as u64 * t + h.nnz() as u64 * t)
}

/// The lowest `options.k` eigenpairs of the Hermitian CSR matrix `h` by shift-invert around
/// `sigma` (`None`: just below the Gershgorin lower bound). σ must lie below the spectrum, so
/// that H − σ is positive definite; otherwise the factorisation fails with
/// `InvalidArgument`.
pub fn shift_invert_lowest<T: Scalar>(
    manager: &MemoryManager,
    h: &CsrMatrix<T>,
    sigma: Option<f64>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    on_solver_threads(progress, |progress| {
        shift_invert_lowest_here::<T>(manager, h, sigma, options, progress)
    })
}

/// [`shift_invert_lowest`] on the calling thread's pool.
fn shift_invert_lowest_here<T: Scalar>(
    manager: &MemoryManager,
    h: &CsrMatrix<T>,
    sigma: Option<f64>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    let n = h.nrows();
    require_square(n, h.ncols(), "H")?;
    options.check(n)?;
    let clock = SolveClock::start(manager);
    let (lower, upper) = h.gershgorin_bounds();
    let sigma = sigma.unwrap_or(lower - 1e-9 * (upper - lower).abs().max(1.0));
    match h.as_faer() {
        FaerCsr::U32(v) => solve(manager, h, v, sigma, options, progress, clock),
        FaerCsr::U64(v) => solve(manager, h, v, sigma, options, progress, clock),
    }
}

#[allow(clippy::too_many_arguments)]
fn solve<I: faer::Index, T: Scalar>(
    manager: &MemoryManager,
    h: &CsrMatrix<T>,
    view: SparseRowMatRef<'_, I, T>,
    sigma: f64,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
    clock: SolveClock,
) -> Result<EigenResult<T>> {
    let n = h.nrows();
    let Symbolic { symbolic } = symbolic_of(view)?;
    // H − σ: the values with the shift on the stored diagonal, in the pool.
    let (_, vals) = view.parts();
    let mut shifted =
        PoolBuffer::<T>::uninit_values(manager, vals.len(), "solver.shift_invert.matrix")?;
    h.shifted_values(T::from_real(sigma), &mut shifted)?;
    let csc = transposed_pattern(view);
    let a = SparseColMatRef::new(csc, &shifted);
    let mut factor =
        PoolBuffer::<T>::uninit_values(manager, symbolic.len_val(), "solver.shift_invert.factor")?;
    let par = faer::get_global_parallelism();
    let mut mem =
        MemBuffer::try_new(symbolic.factorize_numeric_llt_scratch::<T>(par, Default::default()))
            .map_err(|_| {
                Error::new(
                    ErrorKind::OutOfMemory,
                    "no memory for the factorisation workspace",
                )
            })?;
    let llt = symbolic
        .factorize_numeric_llt(
            &mut factor,
            a,
            Side::Lower,
            Default::default(),
            par,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "H − σ is not positive definite for σ = {sigma} eV ({e:?}); is H Hermitian \
                     and σ below its spectrum?"
                ),
            )
        })?;
    drop(mem);
    drop(shifted);
    let inverse = Inverse { llt, n };
    // Held in core besides the blocks: the matrix and the factor.
    let resident = (h.memory_bytes() + symbolic.len_val() * size_of::<T>()) as u64;
    single_level(
        manager,
        h,
        &inverse,
        options,
        Method::ShiftInvert,
        clock,
        resident,
        progress,
    )
}
