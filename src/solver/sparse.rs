//! The lowest eigenpairs of any [`Operator`] with LOBPCG from a seeded random block: the
//! general-purpose entry point (user CSR matrices, in the pool or memory-mapped; Jacobi
//! preconditioning by default), run through the same driver as the grid solver with one level.
//! Grid Hamiltonians get multigrid and a coarse-to-fine start in `grid.rs`.

use super::lobpcg::driver::SolveClock;
use super::lobpcg::host::single_level;
use super::operator::Operator;
use super::options::{EigenOptions, Method};
use super::precond::{Jacobi, Preconditioner};
use super::progress::ProgressFn;
use super::result::EigenResult;
use super::shift_invert::{shift_invert_lowest, shift_invert_memory_estimate};
use crate::error::{Error, Result};
use crate::matrix::mapped::MappedCsr;
use crate::matrix::{Scalar, require_square};
use crate::memory::MemoryManager;
use crate::solver::threads::on_solver_threads;

/// The lowest `options.k` eigenpairs of the Hermitian `op` by LOBPCG, preconditioned by `prec`
/// (Jacobi when `None`).
pub fn lowest_eigenpairs<T: Scalar, A: Operator<T>>(
    manager: &MemoryManager,
    op: &A,
    prec: Option<&dyn Preconditioner<T>>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    on_solver_threads(progress, |progress| {
        lowest_eigenpairs_here::<T, A>(manager, op, prec, options, progress)
    })
}

/// [`lowest_eigenpairs`] on the calling thread's pool.
fn lowest_eigenpairs_here<T: Scalar, A: Operator<T>>(
    manager: &MemoryManager,
    op: &A,
    prec: Option<&dyn Preconditioner<T>>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    options.check(op.dim())?;
    let clock = SolveClock::start(manager);
    let jacobi;
    let prec: &dyn Preconditioner<T> = match prec {
        Some(p) => p,
        None => {
            jacobi = Jacobi::new(op);
            &jacobi
        }
    };
    single_level(
        manager,
        op,
        prec,
        options,
        Method::Lobpcg,
        clock,
        0,
        progress,
    )
}

/// The lowest `options.k` eigenpairs of a Hermitian CSR matrix (no grid known): shift-invert on
/// a sparse Cholesky factor when it fits the memory budget (`Method::Auto`, or always with
/// `Method::ShiftInvert`), otherwise Jacobi-preconditioned LOBPCG.
pub fn csr_lowest<T: Scalar>(
    manager: &MemoryManager,
    h: &crate::matrix::CsrMatrix<T>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    on_solver_threads(progress, |progress| {
        csr_lowest_here::<T>(manager, h, options, progress)
    })
}

/// [`csr_lowest`] on the calling thread's pool.
fn csr_lowest_here<T: Scalar>(
    manager: &MemoryManager,
    h: &crate::matrix::CsrMatrix<T>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    require_square(h.nrows(), h.ncols(), "H")?;
    options.check(h.nrows())?;
    require_finite_values(h.values(), "H")?;
    let shift_invert = match options.method {
        Method::ShiftInvert => true,
        Method::Lobpcg => false,
        Method::Auto => {
            let budget = options
                .memory_budget
                .unwrap_or_else(|| manager.stats().available_bytes);
            shift_invert_memory_estimate(h, options.k)? <= budget
        }
    };
    if shift_invert {
        shift_invert_lowest(manager, h, None, options, progress)
    } else {
        lowest_eigenpairs(manager, h, None, options, progress)
    }
}

/// The lowest `options.k` eigenpairs of a Hermitian CSR matrix in a memory-mapped file, by
/// Jacobi-preconditioned LOBPCG working on the file where it lies (nothing of the matrix is
/// copied into the pools). With `memory_budget` (and `Placement::Auto`) or
/// `Placement::OutOfCore`, the blocks go to scratch files too, and with `vectors_file` the
/// result: a Hamiltonian, blocks and eigenvectors larger than memory.
pub fn mapped_csr_lowest<T: Scalar>(
    manager: &MemoryManager,
    h: &MappedCsr<T>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    on_solver_threads(progress, |progress| {
        mapped_csr_lowest_here::<T>(manager, h, options, progress)
    })
}

/// [`mapped_csr_lowest`] on the calling thread's pool.
fn mapped_csr_lowest_here<T: Scalar>(
    manager: &MemoryManager,
    h: &MappedCsr<T>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    require_square(h.nrows(), h.ncols(), &h.path().display().to_string())?;
    require_finite_values(h.values(), &h.path().display().to_string())?;
    let result = lowest_eigenpairs(manager, h, None, options, progress);
    // The file may have changed under the solve: every index it read was checked, and a bad one
    // makes the whole result a CorruptFile error, whatever the solve returned.
    h.take_read_damage()?;
    result
}

/// Refuses a matrix (`what`) with a non-finite stored value: no eigenpair of it is finite, and
/// the solver would only find that out as a breakdown of its projected eigenproblem.
pub(crate) fn require_finite_values<T: Scalar>(values: &[T], what: &str) -> Result<()> {
    match values.iter().position(|v| !v.is_finite_value()) {
        Some(i) => Err(Error::invalid_argument(format!(
            "{what} holds the non-finite value {} (stored entry {i}); a solve needs finite \
             entries",
            values[i].to_complex()
        ))),
        None => Ok(()),
    }
}
