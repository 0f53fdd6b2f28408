//! The result of the lowest-eigenpair solvers: [`EigenResult`] (built for every LOBPCG solve,
//! host or GPU, in one place: `lobpcg/driver.rs`).

use super::options::Method;
use super::vectors::Eigenvectors;
use crate::matrix::Scalar;

/// The lowest eigenpairs and how they were obtained.
pub struct EigenResult<T: Scalar> {
    /// Eigenvalues, ascending (eV for Hamiltonians).
    pub values: Vec<f64>,
    /// Eigenvectors, one orthonormal column per value: in the manager's pool, or in a mapped
    /// file (`EigenOptions::vectors_file`, or an out-of-core result larger than the budget).
    pub vectors: Eigenvectors<T>,
    /// ‖Hx − λx‖ of every pair.
    pub residuals: Vec<f64>,
    /// Pairs that met the tolerance (all of them when `converged == values.len()`).
    pub converged: usize,
    /// Iterations (summed over grid levels).
    pub iterations: usize,
    /// Operator applications to a vector (summed over levels; factor solves for shift-invert).
    pub applications: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Highest bytes in use in the manager's pools during the solve (everything the manager
    /// holds, the caller's arrays included).
    pub peak_pool_bytes: u64,
    /// The algorithm that ran.
    pub method: Method,
    /// Bytes of scratch files the blocks used (0 for an in-core solve).
    pub scratch_bytes: u64,
    /// Grid levels used (1 without coarse-to-fine).
    pub levels: usize,
}

impl<T: Scalar> EigenResult<T> {
    /// True when every returned pair met the tolerance.
    pub fn is_converged(&self) -> bool {
        self.converged >= self.values.len()
    }
}

impl<T: Scalar> std::fmt::Debug for EigenResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EigenResult")
            .field("values", &self.values)
            .field("residuals", &self.residuals)
            .field("converged", &self.converged)
            .field("iterations", &self.iterations)
            .field("applications", &self.applications)
            .field("seconds", &self.seconds)
            .field("method", &self.method)
            .field("scratch_bytes", &self.scratch_bytes)
            .finish_non_exhaustive()
    }
}
