//! Dense eigensolvers for small matrices (up to a few thousand rows), through faer: Hermitian
//! (all or the lowest k eigenpairs) and general complex. Results land in the manager's pool,
//! with the wall time and the true residual ‖Ax − λx‖ / ‖x‖ of every pair (one matrix product
//! with a copy of A in the pool: O(n²k) work, small next to the O(n³) solve).

use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{ManagedMatrix, Scalar, require_square};
use crate::memory::MemoryManager;
use crate::solver::threads::on_solver_threads;
use faer::{Accum, MatRef, Side};
use num_complex::Complex64;
use std::time::Instant;

/// What a dense eigensolver returns.
pub struct DenseEigen<V, T: Scalar> {
    /// Eigenvalues.
    pub values: Vec<V>,
    /// Eigenvectors (column j belongs to `values[j]`), in the manager's pool.
    pub vectors: ManagedMatrix<T>,
    /// ‖Ax − λx‖ / ‖x‖ of every pair, computed from A after the solve.
    pub residuals: Vec<f64>,
    /// Wall time of the call (solve and residuals), seconds.
    pub seconds: f64,
}

impl<V: std::fmt::Debug, T: Scalar> std::fmt::Debug for DenseEigen<V, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseEigen")
            .field("values", &self.values)
            .field("residuals", &self.residuals)
            .field("seconds", &self.seconds)
            .finish_non_exhaustive()
    }
}

/// ‖(AX)_j − λ_j X_j‖ / ‖X_j‖ for every column j, given AX.
fn residuals<T: Scalar>(ax: MatRef<'_, T>, x: MatRef<'_, T>, values: &[T]) -> Vec<f64> {
    values
        .iter()
        .enumerate()
        .map(|(j, &lambda)| {
            let (mut r, mut norm) = (0.0, 0.0);
            for (&a, &v) in ax.col(j).iter().zip(x.col(j).iter()) {
                r += (a - lambda * v).abs_sq();
                norm += v.abs_sq();
            }
            (r / norm).sqrt()
        })
        .collect()
}

/// The result, with the residuals of `vectors` and `lambdas` (the values as `T`) against `a`
/// (freed once used) and the time since `start`.
fn with_residuals<V, T: Scalar>(
    manager: &MemoryManager,
    a: ManagedMatrix<T>,
    values: Vec<V>,
    lambdas: &[T],
    vectors: ManagedMatrix<T>,
    start: Instant,
) -> Result<DenseEigen<V, T>> {
    let ax = product(manager, a.as_ref(), vectors.as_ref())?;
    drop(a);
    let residuals = residuals(ax.as_ref(), vectors.as_ref(), lambdas);
    Ok(DenseEigen {
        values,
        vectors,
        residuals,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// A·X into a pool matrix.
fn product<T: Scalar>(
    manager: &MemoryManager,
    a: MatRef<'_, T>,
    x: MatRef<'_, T>,
) -> Result<ManagedMatrix<T>> {
    let mut ax =
        ManagedMatrix::<T>::uninit_values(manager, a.nrows(), x.ncols(), "solver.dense.work")?;
    faer::linalg::matmul::matmul(
        ax.as_mut(),
        Accum::Replace,
        a,
        x,
        T::from_real(1.0),
        faer::get_global_parallelism(),
    );
    Ok(ax)
}

fn square<T: Scalar>(a: &ManagedMatrix<T>) -> Result<usize> {
    require_square(a.nrows(), a.ncols(), "the matrix")?;
    if a.as_ref()
        .col_iter()
        .any(|c| c.iter().any(|v| !v.is_finite_value()))
    {
        return Err(Error::invalid_argument("the matrix has a non-finite entry"));
    }
    Ok(a.nrows())
}

/// The lowest `k` (all when `None`) eigenvalues, ascending, and orthonormal eigenvectors of the
/// Hermitian matrix `a` (only its lower triangle is read; the residuals are those of the
/// Hermitian matrix it defines).
pub fn dense_hermitian<T: Scalar>(
    manager: &MemoryManager,
    a: &ManagedMatrix<T>,
    k: Option<usize>,
) -> Result<DenseEigen<f64, T>> {
    on_solver_threads(None, |_| dense_hermitian_here::<T>(manager, a, k))
}

/// [`dense_hermitian`] on the calling thread's pool.
fn dense_hermitian_here<T: Scalar>(
    manager: &MemoryManager,
    a: &ManagedMatrix<T>,
    k: Option<usize>,
) -> Result<DenseEigen<f64, T>> {
    let start = Instant::now();
    let n = square(a)?;
    let k = k.unwrap_or(n);
    if k > n {
        return Err(Error::invalid_argument(format!(
            "k = {k} exceeds the dimension {n}"
        )));
    }
    let evd = a.as_ref().self_adjoint_eigen(Side::Lower).map_err(|e| {
        Error::new(
            ErrorKind::NotConverged,
            format!("dense Hermitian eigensolver: {e:?}"),
        )
    })?;
    let values: Vec<f64> = (0..k).map(|i| evd.S()[i].to_complex().re).collect();
    let mut vectors = ManagedMatrix::<T>::uninit_values(manager, n, k, "solver.dense.vectors")?;
    vectors.copy_from(evd.U().subcols(0, k))?;
    drop(evd);
    // The Hermitian matrix the lower triangle defines.
    let mut full = ManagedMatrix::<T>::uninit_values(manager, n, n, "solver.dense.work")?;
    full.as_mut().copy_from_triangular_lower(a.as_ref());
    full.as_mut()
        .copy_from_strict_triangular_upper(a.as_ref().adjoint());
    let lambdas: Vec<T> = values.iter().map(|&v| T::from_real(v)).collect();
    with_residuals(manager, full, values, &lambdas, vectors, start)
}

/// All eigenvalues and (unit-norm) eigenvectors of the general square matrix `a`, sorted by
/// real part.
pub fn dense_general<T: Scalar>(
    manager: &MemoryManager,
    a: &ManagedMatrix<T>,
) -> Result<DenseEigen<Complex64, Complex64>> {
    on_solver_threads(None, |_| dense_general_here::<T>(manager, a))
}

/// [`dense_general`] on the calling thread's pool.
fn dense_general_here<T: Scalar>(
    manager: &MemoryManager,
    a: &ManagedMatrix<T>,
) -> Result<DenseEigen<Complex64, Complex64>> {
    let start = Instant::now();
    let n = square(a)?;
    let evd = a.as_ref().eigen().map_err(|e| {
        Error::new(
            ErrorKind::NotConverged,
            format!("dense general eigensolver: {e:?}"),
        )
    })?;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| {
        evd.S()[i]
            .re
            .total_cmp(&evd.S()[j].re)
            .then(evd.S()[i].im.total_cmp(&evd.S()[j].im))
    });
    let values: Vec<Complex64> = order.iter().map(|&i| evd.S()[i]).collect();
    let mut vectors =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, n, "solver.dense.vectors")?;
    for (j, &i) in order.iter().enumerate() {
        for (dst, src) in vectors.col_mut(j).iter_mut().zip(evd.U().col(i).iter()) {
            *dst = *src;
        }
    }
    drop(evd);
    // A as complex numbers, for the product with the complex eigenvectors.
    let mut complex =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, n, "solver.dense.work")?;
    for j in 0..n {
        for (dst, src) in complex.col_mut(j).iter_mut().zip(a.col(j)) {
            *dst = src.to_complex();
        }
    }
    let lambdas = values.clone();
    with_residuals(manager, complex, values, &lambdas, vectors, start)
}
