//! Resonances of open systems: the eigenvalues E − iΓ/2 nearest a target energy of a complex-
//! symmetric Hamiltonian (a closed one plus a complex absorbing potential), by block
//! shift-invert subspace iteration on a sparse LU factor of H − σ. Eigenvectors are normalised with the
//! unconjugated product (xᵀx = 1), the natural inner product of complex-symmetric problems.

use super::random::fill_random;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{CsrMatrix, FaerCsr, ManagedMatrix};
use crate::memory::MemoryManager;
use faer::linalg::solvers::Solve;
use faer::sparse::SparseRowMatRef;
use faer::{Mat, Par};
use num_complex::Complex64;
use std::time::Instant;

/// Resonances and how they were obtained (by the CSR solver here or the grid solver,
/// `resonance/`).
pub struct Resonances {
    /// Complex eigenvalues E − iΓ/2 (eV): the converged pairs first, then the others, each group
    /// nearest the target first.
    pub values: Vec<Complex64>,
    /// Eigenvectors with xᵀx = 1 (unconjugated), in the manager's pool.
    pub vectors: ManagedMatrix<Complex64>,
    /// ‖Hx − Ex‖ / ‖x‖ of every pair.
    pub residuals: Vec<f64>,
    /// How many leading pairs met the tolerance (all of them when it equals `values.len()`).
    pub converged: usize,
    /// Outer iterations (summed over grid levels).
    pub iterations: usize,
    /// Operator applications to a vector (factor solves for the CSR solver).
    pub applications: u64,
    /// Grid levels used (1 for the CSR solver).
    pub levels: usize,
    /// Highest bytes in use in the manager's pools during the solve.
    pub peak_pool_bytes: u64,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl Resonances {
    /// True when every returned pair met the tolerance.
    pub fn is_converged(&self) -> bool {
        self.converged >= self.values.len()
    }
}

impl std::fmt::Debug for Resonances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resonances")
            .field("values", &self.values)
            .field("residuals", &self.residuals)
            .field("converged", &self.converged)
            .field("iterations", &self.iterations)
            .field("levels", &self.levels)
            .finish_non_exhaustive()
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
    let peak = manager.track_peak();
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
        converged: k,
        iterations: 1,
        applications: 0,
        levels: 1,
        peak_pool_bytes: peak.peak(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Iterations of subspace iteration at most (each gains a factor |λ_k − σ| / |λ_{m+1} − σ|).
const MAX_ITERATIONS: usize = 1000;

/// Block shift-invert subspace iteration with Rayleigh–Ritz on (H − σ)⁻¹: Y = (H − σ)⁻¹Q,
/// G = QᴴY (exterior Ritz values μ of the inverse, θ = σ + 1/μ: no spurious interior Ritz
/// values), Q ← qr(Y), until the `k` Ritz pairs nearest σ have
/// ‖Hx − θx‖ ≤ tol · max(|θ|, 10⁻³‖H‖∞). Each iteration is m solves, k products and an m × m
/// eigenproblem; a block (m = max(2k, k + 8)) finds every member of a degenerate multiplet.
///
/// (faer's Krylov–Schur is not used: its re-orthogonalisation loop can spin forever when the
/// rounding of a long dot product exceeds its fixed threshold.)
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
    let zero = Complex64::new(0.0, 0.0);
    let one = Complex64::new(1.0, 0.0);
    let m = (2 * k).max(k + 8).min(n);
    let norm_inf = (0..n)
        .map(|i| view.val_of_row(i).iter().map(|v| v.norm()).sum::<f64>())
        .fold(0.0, f64::max);
    let scale = 1e-3 * norm_inf;
    let mut y = Mat::<Complex64>::zeros(n, m);
    for j in 0..m {
        let mut col = vec![zero; n];
        fill_random(&mut col, seed, j);
        for (dst, v) in y.col_mut(j).iter_mut().zip(col) {
            *dst = v;
        }
    }
    let mut q = y.qr().compute_thin_Q();
    let mut hx = vec![zero; n];
    let mut best = 0;
    for _ in 0..MAX_ITERATIONS {
        y.copy_from(&q);
        lu.solve_in_place(y.as_mut());
        let g = q.adjoint() * &y;
        let evd = g.eigen().map_err(|e| {
            Error::new(
                ErrorKind::NotConverged,
                format!("projected eigenproblem: {e:?}"),
            )
        })?;
        let mut order: Vec<usize> = (0..m).filter(|&i| evd.S()[i].norm() > 0.0).collect();
        order.sort_by(|&i, &j| evd.S()[j].norm().total_cmp(&evd.S()[i].norm()));
        if order.len() >= k {
            let thetas: Vec<Complex64> = order[..k]
                .iter()
                .map(|&i| target + one / evd.S()[i])
                .collect();
            let mut x = Mat::<Complex64>::zeros(n, k);
            for (c, &i) in order[..k].iter().enumerate() {
                faer::linalg::matmul::matmul(
                    x.col_mut(c).as_mat_mut(),
                    faer::Accum::Replace,
                    q.as_ref(),
                    evd.U().col(i).as_mat(),
                    one,
                    Par::Seq,
                );
            }
            let mut converged = 0;
            for (c, &theta) in thetas.iter().enumerate() {
                let col: Vec<Complex64> = x.col(c).iter().copied().collect();
                h.spmv(one, &col, zero, &mut hx)?;
                let r: f64 = hx
                    .iter()
                    .zip(&col)
                    .map(|(&a, &v)| (a - theta * v).norm_sqr())
                    .sum();
                let norm: f64 = col.iter().map(|v| v.norm_sqr()).sum();
                if (r / norm).sqrt() <= tol * theta.norm().max(scale) {
                    converged += 1;
                } else {
                    break;
                }
            }
            best = best.max(converged);
            if converged == k {
                let mus = thetas.iter().map(|&t| one / (t - target)).collect();
                return Ok((mus, x));
            }
        }
        q = y.qr().compute_thin_Q();
    }
    Err(Error::new(
        ErrorKind::NotConverged,
        format!(
            "shift-invert subspace iteration converged {best} of {k} eigenvalues near {target} \
             in {MAX_ITERATIONS} iterations (tolerance {tol}); try a larger tolerance or a target \
             nearer the wanted states"
        ),
    ))
}
