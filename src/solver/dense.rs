//! Dense eigensolvers for small matrices (up to a few thousand rows), through faer: Hermitian
//! (all or the lowest k eigenpairs) and general complex. Results land in the manager's pool.

use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{ManagedMatrix, Scalar, require_square};
use crate::memory::MemoryManager;
use faer::Side;
use num_complex::Complex64;

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
/// Hermitian matrix `a` (only its lower triangle is read).
pub fn dense_hermitian<T: Scalar>(
    manager: &MemoryManager,
    a: &ManagedMatrix<T>,
    k: Option<usize>,
) -> Result<(Vec<f64>, ManagedMatrix<T>)> {
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
    let values = (0..k).map(|i| evd.S()[i].to_complex().re).collect();
    let mut vectors = ManagedMatrix::<T>::uninit_values(manager, n, k, "solver.dense.vectors")?;
    vectors.copy_from(evd.U().subcols(0, k))?;
    Ok((values, vectors))
}

/// All eigenvalues and (unit-norm) eigenvectors of the general square matrix `a`, sorted by
/// real part.
pub fn dense_general<T: Scalar>(
    manager: &MemoryManager,
    a: &ManagedMatrix<T>,
) -> Result<(Vec<Complex64>, ManagedMatrix<Complex64>)> {
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
    let values = order.iter().map(|&i| evd.S()[i]).collect();
    let mut vectors =
        ManagedMatrix::<Complex64>::uninit_values(manager, n, n, "solver.dense.vectors")?;
    for (j, &i) in order.iter().enumerate() {
        for (dst, src) in vectors.col_mut(j).iter_mut().zip(evd.U().col(i).iter()) {
            *dst = *src;
        }
    }
    Ok((values, vectors))
}
