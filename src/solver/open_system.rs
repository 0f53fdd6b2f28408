//! Resonances of open systems: the eigenvalues E − iΓ/2 nearest a target energy of a complex-
//! symmetric Hamiltonian (a closed one plus a complex absorbing potential), by block
//! shift-invert subspace iteration with locking on a sparse LU factor of H − σ. Eigenvectors are
//! normalised with the unconjugated product (xᵀx = 1), the natural inner product of
//! complex-symmetric problems.
//!
//! Memory: the factor (`sparse_lu.rs`) lives in faer's own `Vec`s, so it is counted in an
//! [`ExternalAccount`](crate::memory::ExternalAccount) (tag `solver.resonances.factor`) opened
//! with an estimate before factorising — a solve whose factor cannot fit the manager's limit is
//! refused up front with `LimitExceeded` — and faer's factorisation and solve workspace in
//! another (`solver.resonances.workspace`). The shifted matrix, the iteration blocks, the locked
//! vectors and the result are in the pools.

use super::random::fill_random;
use super::sparse_lu::ShiftedLu;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{CsrMatrix, FaerCsr, ManagedMatrix};
use crate::memory::{MemoryManager, PoolBuffer};
use faer::linalg::solvers::DenseSolveCore;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::sparse::SparseRowMatRef;
use faer::{Accum, Mat, MatMut};
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
    /// Highest bytes in use in the manager during the solve (pools and external accounts such
    /// as the CSR solver's LU factor).
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
///
/// When the iteration limit is reached before all `k` pairs meet the tolerance the result is
/// still `Ok`: it holds `k` Ritz pairs, the `converged` ones first, and
/// [`Resonances::is_converged`] is false. A target exactly on an eigenvalue is fine: that pair
/// converges at once and is locked (deflated), and the others converge as usual.
///
/// Errors: `InvalidArgument` for k = 0 or k ≥ n, a tolerance outside (0, 1), a non-finite
/// target, or a structurally singular H; `LimitExceeded` when the estimated LU factor (or any
/// pool block) does not fit the manager's limit (the message names the estimate in MiB);
/// `OutOfMemory`; `NotConverged` only when no `k` Ritz pairs can be formed at all (fewer than
/// `k` non-zero Ritz values, linearly dependent locked vectors, a self-orthogonal xᵀx = 0
/// eigenvector).
pub fn resonances(
    manager: &MemoryManager,
    h: &CsrMatrix<Complex64>,
    target: Complex64,
    k: usize,
    tol: f64,
    seed: u64,
) -> Result<Resonances> {
    let n = h.nrows();
    super::sparse::require_finite_values(h.values(), "H")?;
    if k == 0 || k >= n {
        return Err(Error::invalid_argument(format!(
            "k = {k} must be between 1 and {}",
            n.saturating_sub(1)
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
    let raw = match h.as_faer() {
        FaerCsr::U32(v) => solve(manager, h, v, target, k, tol, seed)?,
        FaerCsr::U64(v) => solve(manager, h, v, target, k, tol, seed)?,
    };
    // Converged pairs first, each group nearest the target first.
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        raw.converged[b].cmp(&raw.converged[a]).then(
            (raw.values[a] - target)
                .norm()
                .total_cmp(&(raw.values[b] - target).norm()),
        )
    });
    let mut vectors =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, k, "solver.resonances.vectors")?;
    let mut residuals = Vec::with_capacity(k);
    let mut hx = PoolBuffer::<Complex64>::uninit_values(manager, n, "solver.resonances.work")?;
    for (j, &i) in order.iter().enumerate() {
        let e = raw.values[i];
        let x = raw.vectors.col(i);
        // xᵀx (no conjugation); its square root normalises the vector.
        let xtx: Complex64 = x.iter().map(|v| v * v).sum();
        if xtx.norm() == 0.0 {
            return Err(Error::new(
                ErrorKind::NotConverged,
                format!("eigenvector {j} is self-orthogonal (xᵀx = 0)"),
            ));
        }
        let scale = 1.0 / xtx.sqrt();
        for (dst, &v) in vectors.col_mut(j).iter_mut().zip(x) {
            *dst = v * scale;
        }
        residuals.push(residual(h, vectors.col(j), e, &mut hx)?);
    }
    drop(raw.vectors);
    Ok(Resonances {
        values: order.iter().map(|&i| raw.values[i]).collect(),
        vectors,
        residuals,
        converged: raw.converged.iter().filter(|&&c| c).count(),
        iterations: raw.iterations,
        applications: raw.applications,
        levels: 1,
        peak_pool_bytes: peak.peak(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// ‖Hx − θx‖ / ‖x‖, with `hx` as scratch.
fn residual(
    h: &CsrMatrix<Complex64>,
    x: &[Complex64],
    theta: Complex64,
    hx: &mut [Complex64],
) -> Result<f64> {
    h.spmv(ONE, x, ZERO, hx)?;
    let r: f64 = hx
        .iter()
        .zip(x)
        .map(|(&a, &v)| (a - theta * v).norm_sqr())
        .sum();
    let norm: f64 = x.iter().map(|v| v.norm_sqr()).sum();
    Ok((r / norm).sqrt())
}

/// What the iteration found: `k` pairs (unsorted, unnormalised) and which of them converged.
struct Raw {
    values: Vec<Complex64>,
    vectors: ManagedMatrix<Complex64>,
    converged: Vec<bool>,
    iterations: usize,
    applications: u64,
}

/// Iterations of subspace iteration at most (each gains a factor |λ_k − σ| / |λ_{m+1} − σ|).
const MAX_ITERATIONS: usize = 1000;

/// Tag prefix of the factor's accounts and of the solve's blocks.
const TAG: &str = "solver.resonances";

const ZERO: Complex64 = Complex64::new(0.0, 0.0);
const ONE: Complex64 = Complex64::new(1.0, 0.0);

/// The locked (converged) pairs and the oblique projector P = I − X(XᵀX)⁻¹Xᵀ that removes them.
///
/// For complex-symmetric H the left eigenvectors are the right ones, so P is the spectral
/// projector onto the other eigenvectors: it commutes with (H − σ)⁻¹, and P(H − σ)⁻¹P has the
/// same eigenpairs as (H − σ)⁻¹ except that the locked ones get eigenvalue 0. Applying P before
/// and after each solve keeps a locked pair with a huge 1/(λ − σ) (a target on, or within
/// rounding of, an eigenvalue) out of the Rayleigh–Ritz matrix, where it would otherwise swamp
/// the accuracy of every other Ritz value.
struct Locked {
    x: ManagedMatrix<Complex64>,
    values: Vec<Complex64>,
    /// (XᵀX)⁻¹ (the unconjugated Gram matrix: the locked vectors need not be xᵀx-orthogonal,
    /// e.g. two members of a degenerate pair).
    gram_inv: Mat<Complex64>,
}

impl Locked {
    fn count(&self) -> usize {
        self.values.len()
    }

    /// Adds the pair (θ, x).
    fn push(&mut self, theta: Complex64, x: &[Complex64]) -> Result<()> {
        let p = self.count();
        self.x.col_mut(p).copy_from_slice(x);
        self.values.push(theta);
        let xs = self.x.as_ref().subcols(0, p + 1);
        let gram = xs.transpose() * xs;
        let lu = gram.partial_piv_lu();
        let inv = lu.inverse();
        if !inv.col_iter().all(|c| c.iter().all(|v| v.is_finite())) {
            return Err(Error::new(
                ErrorKind::NotConverged,
                "locked resonance vectors are linearly dependent under xᵀy",
            ));
        }
        self.gram_inv = inv;
        Ok(())
    }

    /// v ← P v.
    fn deflate(&self, mut v: MatMut<'_, Complex64>) {
        let p = self.count();
        if p == 0 {
            return;
        }
        let xs = self.x.as_ref().subcols(0, p);
        let par = faer::get_global_parallelism();
        let c = xs.transpose() * v.rb();
        let z = &self.gram_inv * c;
        faer::linalg::matmul::matmul(v.rb_mut(), Accum::Add, xs, z.as_ref(), -ONE, par);
    }
}

/// Orthonormalises the columns of `q` in place (classical Gram–Schmidt, twice); a column that
/// is (numerically) in the span of the previous ones is replaced by a random one.
fn orthonormalise(q: &mut ManagedMatrix<Complex64>, seed: u64, salt: &mut usize) {
    let m = q.ncols();
    let par = faer::get_global_parallelism();
    for j in 0..m {
        for attempt in 0..4 {
            let before = q.as_ref().col(j).norm_l2();
            let (done, mut rest) = q.as_mut().split_at_col_mut(j);
            let mut col = rest.rb_mut().col_mut(0);
            for _ in 0..2 {
                let h = done.rb().adjoint() * col.rb();
                faer::linalg::matmul::matmul(
                    col.rb_mut().as_mat_mut(),
                    Accum::Add,
                    done.rb(),
                    h.as_mat(),
                    -ONE,
                    par,
                );
            }
            let after = col.norm_l2();
            if after > 1e-8 * before && after.is_finite() || attempt == 3 {
                let inv = 1.0 / after;
                for v in col.iter_mut() {
                    *v *= inv;
                }
                break;
            }
            *salt += 1;
            fill_random(q.col_mut(j), seed, m + *salt);
        }
    }
}

/// Block shift-invert subspace iteration with Rayleigh–Ritz and locking on (H − σ)⁻¹:
/// Y = P(H − σ)⁻¹PQ (P removes the locked pairs, see [`Locked`]), G = QᴴY (exterior Ritz values
/// μ of the inverse, θ = σ + 1/μ: no spurious interior Ritz values), Q ← orth(Y). The leading
/// run (nearest the target first) of Ritz pairs with ‖Hx − θx‖ ≤ tol · max(|θ|, 10⁻³‖H‖∞) is
/// locked each iteration, until `k` are. Each iteration is m solves, up to k products and an
/// m × m eigenproblem; a block of m = max(2k, k + 8) finds every member of a degenerate
/// multiplet. σ starts at the target; it moves off an exactly singular pivot (non-finite
/// solves) or off a locked eigenvalue that it sits on (see the comments in the loop).
///
/// Returns the locked pairs and, when the iteration limit comes first, the nearest unconverged
/// Ritz pairs of the last iteration after them.
///
/// (faer's Krylov–Schur is not used: its re-orthogonalisation loop can spin forever when the
/// rounding of a long dot product exceeds its fixed threshold.)
fn solve<I: faer::Index>(
    manager: &MemoryManager,
    h: &CsrMatrix<Complex64>,
    view: SparseRowMatRef<'_, I, Complex64>,
    target: Complex64,
    k: usize,
    tol: f64,
    seed: u64,
) -> Result<Raw> {
    let n = view.nrows();
    let m = (2 * k).max(k + 8).min(n);
    let norm_inf = (0..n)
        .map(|i| view.val_of_row(i).iter().map(|v| v.norm()).sum::<f64>())
        .fold(0.0, f64::max);
    let scale = 1e-3 * norm_inf;
    let mut factor = ShiftedLu::new(manager, h, view, target, m, TAG)?;
    let mut q =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, m, "solver.resonances.block")?;
    let mut y =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, m, "solver.resonances.block")?;
    let mut ritz =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, k, "solver.resonances.block")?;
    let mut hx = PoolBuffer::<Complex64>::uninit_values(manager, n, "solver.resonances.work")?;
    let mut locked = Locked {
        x: ManagedMatrix::<Complex64>::uninit_values(manager, n, k, "solver.resonances.locked")?,
        values: Vec::with_capacity(k),
        gram_inv: Mat::zeros(0, 0),
    };
    for j in 0..m {
        fill_random(q.col_mut(j), seed, j);
    }
    let mut salt = 0;
    orthonormalise(&mut q, seed, &mut salt);
    let mut applications = 0u64;
    let mut nudges = 0;
    let mut moves = 0;
    // The unconverged Ritz pairs of the last iteration (values; vectors in `ritz`).
    let mut pending: Vec<Complex64> = Vec::new();
    // How many leading `pending` pairs met the tolerance.
    let mut pending_converged = 0;
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        y.copy_from(q.as_ref())?;
        locked.deflate(y.as_mut());
        factor.solve_in_place(y.as_mut());
        applications += m as u64;
        if !y
            .as_ref()
            .col_iter()
            .all(|c| c.iter().all(|v| v.is_finite()))
        {
            // An exactly zero pivot: σ sits on an eigenvalue to the last bit. Nudge σ off it
            // by 10⁻¹⁰ of the spectrum's scale: 1/(λ − σ) stays huge, which locking handles,
            // and the factor becomes usable. The distances to the caller's target decide the
            // order.
            nudges += 1;
            if nudges > 3 {
                return Err(Error::invalid_argument(format!(
                    "H − σ is numerically singular at and near σ = {target}"
                )));
            }
            let delta = 1e-10 * nudges as f64 * target.norm().max(scale);
            let sigma = target + Complex64::new(delta, delta);
            drop(factor);
            factor = ShiftedLu::new(manager, h, view, sigma, m, TAG)?;
            continue;
        }
        locked.deflate(y.as_mut());
        let sigma = factor.sigma();
        let g = q.as_ref().adjoint() * y.as_ref();
        let evd = g.eigen().map_err(|e| {
            Error::new(
                ErrorKind::NotConverged,
                format!("projected eigenproblem: {e:?}"),
            )
        })?;
        let mus = evd.S();
        // Exterior Ritz values of the inverse (|μ| > 0) as energies θ = σ + 1/μ, nearest the
        // caller's target first (σ may have been moved off it, see below).
        let mut order: Vec<(usize, Complex64)> = (0..m)
            .filter(|&i| mus[i].norm() > 0.0 && mus[i].is_finite())
            .map(|i| (i, sigma + ONE / mus[i]))
            .collect();
        order.sort_by(|a, b| (a.1 - target).norm().total_cmp(&(b.1 - target).norm()));
        let wanted = k - locked.count();
        order.truncate(wanted);
        // How far from σ the wanted Ritz values reach.
        let reach = order
            .iter()
            .map(|&(_, theta)| (theta - sigma).norm())
            .fold(0.0, f64::max);
        pending.clear();
        // The leading run of converged pairs (nearest the target first).
        let mut run = 0;
        for (c, &(i, theta)) in order.iter().enumerate() {
            faer::linalg::matmul::matmul(
                ritz.as_mut().col_mut(c).as_mat_mut(),
                Accum::Replace,
                q.as_ref(),
                evd.U().col(i).as_mat(),
                ONE,
                faer::get_global_parallelism(),
            );
            let r = residual(h, ritz.col(c), theta, &mut hx)?;
            if run == c && r <= tol * theta.norm().max(scale) {
                run += 1;
            }
        }
        // Which converged pairs to lock (deflate). All of them once the whole wanted set has
        // converged. Before that only those within 10⁻⁶ of the others' distance from σ (the
        // target on an eigenvalue, or within rounding of one): their huge 1/(λ − σ) would
        // swamp every other Ritz value. The others stay in the block, where Rayleigh–Ritz
        // keeps them exact: deflating them with the oblique projector would leave their
        // residual error δ in P, a floor above tight tolerances (seen: a 1D double barrier at
        // tol 1e-10 stalled at 2 of 8 pairs).
        let lock = if run == order.len() {
            run
        } else {
            order[..run]
                .iter()
                .take_while(|&&(_, theta)| (theta - sigma).norm() < 1e-6 * reach)
                .count()
        };
        let near_singular = lock > 0 && lock < order.len();
        for (c, &(_, theta)) in order[..lock].iter().enumerate() {
            locked.push(theta, ritz.col(c))?;
        }
        pending.extend(order[lock..].iter().map(|&(_, theta)| theta));
        pending_converged = run - lock;
        if locked.count() == k {
            break;
        }
        if near_singular && moves < 3 && reach.is_finite() && reach > 0.0 {
            // A pair just locked lies within 10⁻⁶ of the others' distance from σ (the target on
            // an eigenvalue, or within rounding of one). P removes it only as well as the
            // locked vector is converged (error δ ~ residual/gap), and (H − σ)⁻¹ multiplies
            // what is left by 1/|λ − σ|: the others' Ritz vectors would carry noise of relative
            // size δ²·gap/|λ − σ|, and stall at a residual floor far above rounding (seen:
            // 10⁻¹² on the 2D open dot of tests/suite/resonances.rs). Moving σ by a tenth of
            // the wanted values' reach bounds that amplification by 10/reach, like theirs, and
            // changes their convergence rates by at most 10 %; the wanted set is still chosen
            // by distance to the caller's target.
            moves += 1;
            let moved = sigma + Complex64::new(0.0, 0.1 * reach);
            drop(factor);
            factor = ShiftedLu::new(manager, h, view, moved, m, TAG)?;
        }
        // The pending vectors follow the locked ones in `ritz`: move them to the front.
        let first = order.len() - pending.len();
        if first > 0 {
            for c in 0..pending.len() {
                let (head, tail) = ritz.as_mut().split_at_col_mut(first + c);
                head.col_mut(c).copy_from(tail.col(0));
            }
        }
        // The next basis: the new block without the pairs locked just now.
        locked.deflate(y.as_mut());
        std::mem::swap(&mut q, &mut y);
        orthonormalise(&mut q, seed, &mut salt);
    }
    let p = locked.count();
    if p + pending.len() < k {
        return Err(Error::new(
            ErrorKind::NotConverged,
            format!(
                "shift-invert subspace iteration found only {} of {k} Ritz pairs near {target}",
                p + pending.len()
            ),
        ));
    }
    let mut vectors =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, k, "solver.resonances.locked")?;
    for j in 0..p {
        vectors.col_mut(j).copy_from_slice(locked.x.col(j));
    }
    for j in p..k {
        vectors.col_mut(j).copy_from_slice(ritz.col(j - p));
    }
    let mut values = locked.values;
    values.extend_from_slice(&pending[..k - p]);
    let mut converged = vec![true; p];
    converged.resize(p + pending_converged, true);
    converged.resize(k, false);
    Ok(Raw {
        values,
        vectors,
        converged,
        iterations,
        applications,
    })
}
