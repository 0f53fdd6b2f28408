//! Shift-invert Krylov–Schur for the lowest eigenpairs of a sparse Hermitian matrix: a sparse
//! Cholesky factor of H − σ (σ below the spectrum, so H − σ is positive definite; AMD ordering,
//! faer's supernodal factorisation with its values held in the manager's pool), then faer's
//! Krylov–Schur on (H − σ)⁻¹, whose largest eigenvalues 1/(λ − σ) give the λ nearest σ. This is
//! what scipy's `eigsh(sigma=σ)` does; it is exact-factor robust but its memory grows with the
//! fill-in of the factor (and 64 Krylov vectors).

use super::lowest::check_options;
use super::operator::Operator;
use super::options::{EigenOptions, EigenResult, Method};
use super::random::fill_random;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{CsrMatrix, FaerCsr, ManagedMatrix, Scalar};
use crate::memory::{MemoryManager, PoolBuffer};
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::matrix_free::LinOp;
use faer::matrix_free::eigen::{
    PartialEigenParams, partial_self_adjoint_eigen, partial_self_adjoint_eigen_scratch,
};
use faer::sparse::linalg::cholesky::{LltRef, SymbolicCholesky, factorize_symbolic_cholesky};
use faer::sparse::{SparseColMatRef, SparseRowMatRef, SymbolicSparseColMatRef};
use faer::{Conj, Mat, MatMut, MatRef, Par, Side};
use std::time::Instant;

/// The inverse of a factored H − σ as a faer operator.
struct Inverse<'a, I: faer::Index, T: Scalar> {
    llt: LltRef<'a, I, T>,
    n: usize,
}

impl<I: faer::Index, T: Scalar> std::fmt::Debug for Inverse<'_, I, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inverse").field("n", &self.n).finish()
    }
}

impl<I: faer::Index, T: Scalar> LinOp<T> for Inverse<'_, I, T> {
    fn apply_scratch(&self, rhs_ncols: usize, par: Par) -> StackReq {
        self.llt
            .symbolic()
            .solve_in_place_scratch::<T>(rhs_ncols, par)
    }
    fn nrows(&self) -> usize {
        self.n
    }
    fn ncols(&self) -> usize {
        self.n
    }
    fn apply(&self, mut out: MatMut<'_, T>, rhs: MatRef<'_, T>, par: Par, stack: &mut MemStack) {
        out.copy_from(rhs);
        // The factor is of the CSR arrays read column-major, i.e. of (H − σ)ᵀ = conj(H − σ):
        // solving with the conjugate solves (H − σ)·x = b.
        self.llt
            .solve_in_place_with_conj(Conj::Yes, out, par, stack);
    }
    fn conj_apply(
        &self,
        mut out: MatMut<'_, T>,
        rhs: MatRef<'_, T>,
        par: Par,
        stack: &mut MemStack,
    ) {
        out.copy_from(rhs);
        self.llt.solve_in_place_with_conj(Conj::No, out, par, stack);
    }
}

/// The symbolic factorisation (AMD ordering) of a CSR pattern and its factor size in values.
pub(crate) struct Symbolic<I: faer::Index> {
    symbolic: SymbolicCholesky<I>,
}

fn symbolic_of<I: faer::Index, T>(view: SparseRowMatRef<'_, I, T>) -> Result<Symbolic<I>> {
    // A row-major pattern read column-major is its transpose: the same pattern for H = Hᴴ.
    let (sym, _) = view.parts();
    let n = sym.nrows();
    // SAFETY: the CSR invariants (sorted, in-range, monotone) are the CSC invariants of the
    // transposed pattern.
    let csc =
        unsafe { SymbolicSparseColMatRef::new_unchecked(n, n, sym.row_ptr(), None, sym.col_idx()) };
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

/// Bytes the shift-invert solve of `h` would need: the factor's values plus 65 Krylov vectors
/// (faer's minimum subspace) plus a shifted copy of H's values.
pub fn shift_invert_memory_estimate<T: Scalar>(h: &CsrMatrix<T>) -> Result<u64> {
    let len_val = match h.as_faer() {
        FaerCsr::U32(v) => symbolic_of(v)?.symbolic.len_val(),
        FaerCsr::U64(v) => symbolic_of(v)?.symbolic.len_val(),
    };
    let t = size_of::<T>() as u64;
    Ok(len_val as u64 * t + 65 * h.nrows() as u64 * t + h.nnz() as u64 * t)
}

/// The lowest `options.k` eigenpairs of the Hermitian CSR matrix `h` by shift-invert around
/// `sigma` (`None`: just below the Gershgorin lower bound, where H − σ is positive definite).
pub fn shift_invert_lowest<T: Scalar>(
    manager: &MemoryManager,
    h: &CsrMatrix<T>,
    sigma: Option<f64>,
    options: &EigenOptions,
) -> Result<EigenResult<T>> {
    let n = h.nrows();
    if h.ncols() != n {
        return Err(Error::invalid_argument(format!(
            "H is {n}×{}, not square",
            h.ncols()
        )));
    }
    check_options(options, n)?;
    let start = Instant::now();
    let peak = manager.track_peak();
    let (lower, upper) = h.gershgorin_bounds();
    let sigma = sigma.unwrap_or(lower - 1e-9 * (upper - lower).abs().max(1.0));
    let (values, vectors, applications) = match h.as_faer() {
        FaerCsr::U32(v) => solve(manager, h, v, sigma, options)?,
        FaerCsr::U64(v) => solve(manager, h, v, sigma, options)?,
    };
    // Our own residuals, with our own criterion.
    let scale = 1e-3 * (upper - lower).abs();
    let mut residuals = Vec::with_capacity(options.k);
    let mut hx = vec![T::ZERO_VALUE; n];
    for (j, &lambda) in values.iter().enumerate() {
        Operator::apply(h, vectors.col(j), &mut hx);
        let r: f64 = hx
            .iter()
            .zip(vectors.col(j))
            .map(|(&a, &x)| (a - x.scale(lambda)).abs_sq())
            .sum();
        residuals.push(r.sqrt());
    }
    let converged = values
        .iter()
        .zip(&residuals)
        .take_while(|&(&l, &r)| r <= options.tol * l.abs().max(scale))
        .count();
    Ok(EigenResult {
        values,
        vectors,
        residuals,
        converged,
        iterations: 1,
        applications,
        seconds: start.elapsed().as_secs_f64(),
        peak_pool_bytes: peak.peak(),
        method: Method::ShiftInvert,
        levels: 1,
    })
}

type Solution<T> = (Vec<f64>, ManagedMatrix<T>, u64);

fn solve<I: faer::Index, T: Scalar>(
    manager: &MemoryManager,
    h: &CsrMatrix<T>,
    view: SparseRowMatRef<'_, I, T>,
    sigma: f64,
    options: &EigenOptions,
) -> Result<Solution<T>> {
    let n = h.nrows();
    let Symbolic { symbolic } = symbolic_of(view)?;
    // H − σ: the values with the shift on the stored diagonal, in the pool.
    let (sym, vals) = view.parts();
    let mut shifted =
        PoolBuffer::<T>::uninit_values(manager, vals.len(), "solver.shift_invert.matrix")?;
    h.shifted_values(T::from_real(sigma), &mut shifted)?;
    // SAFETY: the CSR invariants are the CSC invariants of the transposed pattern.
    let csc =
        unsafe { SymbolicSparseColMatRef::new_unchecked(n, n, sym.row_ptr(), None, sym.col_idx()) };
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
                    "H − σ is not positive definite for σ = {sigma} eV ({e:?}); is H Hermitian?"
                ),
            )
        })?;
    drop(mem);
    let inverse = Inverse { llt, n };
    let k = options.k;
    let mut v0 = vec![T::ZERO_VALUE; n];
    fill_random(&mut v0, options.seed, 0);
    let mut vecs = Mat::<T>::zeros(n, k);
    let mut mus = vec![T::ZERO_VALUE; k];
    let params = PartialEigenParams {
        max_restarts: options.max_iterations,
        ..Default::default()
    };
    let mut mem = MemBuffer::try_new(partial_self_adjoint_eigen_scratch::<T>(
        &inverse, k, par, params,
    ))
    .map_err(|_| Error::new(ErrorKind::OutOfMemory, "no memory for the Krylov subspace"))?;
    // faer's tolerance is on the Ritz residual of (H − σ)⁻¹; ours is checked afterwards.
    let info = partial_self_adjoint_eigen(
        vecs.as_mut(),
        &mut mus,
        &inverse,
        faer::ColRef::from_slice(&v0),
        options.tol * 1e-3,
        par,
        MemStack::new(&mut mem),
        params,
    );
    drop(mem);
    let mut order: Vec<(f64, usize)> = mus
        .iter()
        .enumerate()
        .map(|(i, mu)| (sigma + 1.0 / mu.to_complex().re, i))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut vectors = ManagedMatrix::<T>::uninit_values(manager, n, k, "solver.eigenvectors")?;
    for (j, &(_, i)) in order.iter().enumerate() {
        let col = vecs.col(i);
        for (dst, &src) in vectors.col_mut(j).iter_mut().zip(col.iter()) {
            *dst = src;
        }
    }
    let _ = info;
    Ok((order.into_iter().map(|(l, _)| l).collect(), vectors, 0))
}
