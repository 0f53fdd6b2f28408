//! Resonances of open systems: the eigenvalues E − iΓ/2 nearest a target energy of a complex-
//! symmetric Hamiltonian (a closed one plus a complex absorbing potential), by shift-invert
//! Krylov–Schur on a sparse LU factor of H − σ. Eigenvectors are normalised with the
//! unconjugated product (xᵀx = 1), the natural inner product of complex-symmetric problems.

use super::random::fill_random;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{CsrMatrix, FaerCsr, ManagedMatrix};
use crate::memory::MemoryManager;
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::solvers::Solve;
use faer::matrix_free::LinOp;
use faer::matrix_free::eigen::{PartialEigenParams, partial_eigen, partial_eigen_scratch};
use faer::sparse::SparseRowMatRef;
use faer::{Mat, MatMut, MatRef, Par};
use num_complex::Complex64;
use std::time::Instant;

/// Resonances and how they were obtained.
pub struct Resonances {
    /// Complex eigenvalues E − iΓ/2 (eV), nearest the target first.
    pub values: Vec<Complex64>,
    /// Eigenvectors with xᵀx = 1 (unconjugated), in the manager's pool.
    pub vectors: ManagedMatrix<Complex64>,
    /// ‖Hx − Ex‖ / ‖x‖ of every pair.
    pub residuals: Vec<f64>,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl std::fmt::Debug for Resonances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resonances")
            .field("values", &self.values)
            .field("residuals", &self.residuals)
            .finish_non_exhaustive()
    }
}

struct LuInverse<I: faer::Index> {
    lu: faer::sparse::linalg::solvers::Lu<I, Complex64>,
    n: usize,
}

impl<I: faer::Index> std::fmt::Debug for LuInverse<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuInverse").field("n", &self.n).finish()
    }
}

impl<I: faer::Index> LinOp<Complex64> for LuInverse<I> {
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }
    fn nrows(&self) -> usize {
        self.n
    }
    fn ncols(&self) -> usize {
        self.n
    }
    fn apply(
        &self,
        mut out: MatMut<'_, Complex64>,
        rhs: MatRef<'_, Complex64>,
        _par: Par,
        _stack: &mut MemStack,
    ) {
        out.copy_from(rhs);
        self.lu.solve_in_place(out);
    }
    fn conj_apply(
        &self,
        mut out: MatMut<'_, Complex64>,
        rhs: MatRef<'_, Complex64>,
        _par: Par,
        _stack: &mut MemStack,
    ) {
        out.copy_from(rhs);
        self.lu.solve_conjugate_in_place(out);
    }
}

/// The `k` eigenvalues of `h` nearest `target` (eV) with their eigenvectors.
pub fn resonances(
    manager: &MemoryManager,
    h: &CsrMatrix<Complex64>,
    target: Complex64,
    k: usize,
    tol: f64,
    seed: u64,
) -> Result<Resonances> {
    let n = h.nrows();
    if k == 0 || k >= n {
        return Err(Error::invalid_argument(format!(
            "k = {k} must be between 1 and {}",
            n - 1
        )));
    }
    if !(tol.is_finite() && tol > 0.0 && tol < 1.0) {
        return Err(Error::invalid_argument(format!(
            "tolerance {tol} must be in (0, 1)"
        )));
    }
    if !(target.re.is_finite() && target.im.is_finite()) {
        return Err(Error::invalid_argument(format!(
            "target {target} is not finite"
        )));
    }
    let start = Instant::now();
    let (mus, vecs) = match h.as_faer() {
        FaerCsr::U32(v) => solve(h, v, target, k, tol, seed)?,
        FaerCsr::U64(v) => solve(h, v, target, k, tol, seed)?,
    };
    let mut order: Vec<(Complex64, usize)> = mus
        .iter()
        .enumerate()
        .map(|(i, &mu)| (target + 1.0 / mu, i))
        .collect();
    order.sort_by(|a, b| (a.0 - target).norm().total_cmp(&(b.0 - target).norm()));
    let mut vectors =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, k, "solver.resonances.vectors")?;
    let mut residuals = Vec::with_capacity(k);
    let mut hx = vec![Complex64::new(0.0, 0.0); n];
    for (j, &(e, i)) in order.iter().enumerate() {
        let x: Vec<Complex64> = vecs.col(i).iter().copied().collect();
        // xᵀx (no conjugation); its square root normalises the vector.
        let xtx: Complex64 = x.iter().map(|v| v * v).sum();
        if xtx.norm() == 0.0 {
            return Err(Error::new(
                ErrorKind::NotConverged,
                format!("eigenvector {j} is self-orthogonal (xᵀx = 0)"),
            ));
        }
        let scale = 1.0 / xtx.sqrt();
        let col = vectors.col_mut(j);
        for (dst, &v) in col.iter_mut().zip(&x) {
            *dst = v * scale;
        }
        h.spmv(
            Complex64::new(1.0, 0.0),
            vectors.col(j),
            Complex64::new(0.0, 0.0),
            &mut hx,
        )?;
        let r: f64 = hx
            .iter()
            .zip(vectors.col(j))
            .map(|(&a, &v)| (a - e * v).norm_sqr())
            .sum();
        let norm: f64 = vectors.col(j).iter().map(|v| v.norm_sqr()).sum();
        residuals.push((r / norm).sqrt());
    }
    Ok(Resonances {
        values: order.iter().map(|&(e, _)| e).collect(),
        vectors,
        residuals,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn solve<I: faer::Index>(
    h: &CsrMatrix<Complex64>,
    view: SparseRowMatRef<'_, I, Complex64>,
    target: Complex64,
    k: usize,
    tol: f64,
    seed: u64,
) -> Result<(Vec<Complex64>, Mat<Complex64>)> {
    let n = view.nrows();
    // H − σ: a copy of the values with the shift on the diagonal.
    let (sym, vals) = view.parts();
    let mut shifted = vec![Complex64::new(0.0, 0.0); vals.len()];
    h.shifted_values(target, &mut shifted)?;
    let a = SparseRowMatRef::new(sym, &shifted);
    let lu = a.sp_lu().map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("H − σ is singular for σ = {target} ({e:?})"),
        )
    })?;
    drop(shifted);
    let inverse = LuInverse { lu, n };
    let mut v0 = vec![Complex64::new(0.0, 0.0); n];
    fill_random(&mut v0, seed, 0);
    let mut vecs = Mat::<Complex64>::zeros(n, k);
    let mut mus = vec![Complex64::new(0.0, 0.0); k];
    let par = faer::get_global_parallelism();
    let params = PartialEigenParams::default();
    let mut mem = MemBuffer::try_new(partial_eigen_scratch::<Complex64>(&inverse, k, par, params))
        .map_err(|_| Error::new(ErrorKind::OutOfMemory, "no memory for the Krylov subspace"))?;
    let info = partial_eigen(
        vecs.as_mut(),
        &mut mus,
        &inverse,
        faer::ColRef::from_slice(&v0),
        tol,
        par,
        MemStack::new(&mut mem),
        params,
    );
    if info.n_converged_eigen < k {
        return Err(Error::new(
            ErrorKind::NotConverged,
            format!(
                "Krylov–Schur converged {} of {k} eigenvalues near {target}",
                info.n_converged_eigen
            ),
        ));
    }
    Ok((mus, vecs))
}
