//! The lowest eigenpairs of any [`Operator`] with LOBPCG from a seeded random block: the
//! general-purpose entry point (user CSR matrices, in the pool or memory-mapped; Jacobi
//! preconditioning by default). Grid Hamiltonians get multigrid and a coarse-to-fine start in
//! `grid_solver.rs`.

use super::lobpcg::{LobpcgParams, SolveTotals, Workspace, lobpcg};
use super::operator::Operator;
use super::options::{EigenOptions, EigenResult, Method};
use super::out_of_core::{BlockPlan, block_bytes};
use super::preconditioner::{Jacobi, Preconditioner};
use super::progress::ProgressFn;
use super::random::fill_random;
use super::vectors::destination;
use crate::error::{Error, Result};
use crate::matrix::Scalar;
use crate::matrix::mapped::MappedCsr;
use crate::memory::{MemoryManager, PeakTracker};
use std::time::Instant;

/// Checks `options` against a problem of dimension `n`.
pub(crate) fn check_options(options: &EigenOptions, n: usize) -> Result<()> {
    if options.k == 0 {
        return Err(Error::invalid_argument(
            "k = 0: ask for at least one eigenpair",
        ));
    }
    if options.k >= n {
        return Err(Error::invalid_argument(format!(
            "k = {} must be smaller than the dimension {n} (use the dense solver for all eigenpairs)",
            options.k
        )));
    }
    if !(options.tol.is_finite() && options.tol > 0.0 && options.tol < 1.0) {
        return Err(Error::invalid_argument(format!(
            "tolerance {} must be in (0, 1)",
            options.tol
        )));
    }
    if options.max_iterations == 0 {
        return Err(Error::invalid_argument("max_iterations = 0"));
    }
    Ok(())
}

/// The lowest `options.k` eigenpairs of the Hermitian `op` by LOBPCG, preconditioned by `prec`
/// (Jacobi when `None`).
pub fn lowest_eigenpairs<T: Scalar, A: Operator<T> + ?Sized>(
    manager: &MemoryManager,
    op: &A,
    prec: Option<&dyn Preconditioner<T>>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    let n = op.dim();
    check_options(options, n)?;
    let start = Instant::now();
    let peak = manager.track_peak();
    let jacobi;
    let prec: &dyn Preconditioner<T> = match prec {
        Some(p) => p,
        None => {
            jacobi = Jacobi::new(op);
            &jacobi
        }
    };
    random_start_lobpcg(manager, op, prec, options, progress, start, &peak, 0)
}

/// LOBPCG for `options.k` pairs of `op` from a seeded random block of `options.block_size`
/// columns, preconditioned by `prec`; `start` and `peak` time and measure the whole solve
/// (including what the caller did before, e.g. a factorisation); `resident_bytes` is what the
/// caller holds in core besides the operator (for the out-of-core decision, see
/// [`BlockPlan::choose`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn random_start_lobpcg<T: Scalar, A: Operator<T> + ?Sized>(
    manager: &MemoryManager,
    op: &A,
    prec: &(impl Preconditioner<T> + ?Sized),
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
    start: Instant,
    peak: &PeakTracker,
    resident_bytes: u64,
) -> Result<EigenResult<T>> {
    let n = op.dim();
    let (lower, upper) = op.gershgorin_bounds();
    let m = options.block_size(n);
    // In core: the blocks, and the operator and preconditioner (a few vectors' worth; the
    // caller adds what it holds besides, e.g. a factor).
    let blocks = 3 * block_bytes::<T>(n, m);
    let resident = resident_bytes + 4 * (n * size_of::<T>()) as u64;
    let plan = BlockPlan::choose(options, blocks.saturating_add(resident), resident);
    let destination = destination::<T>(options, &plan, n, resident);
    let mut ws = Workspace::<T>::new(manager, n, m, &plan)?;
    for j in 0..m {
        fill_random(ws.x.col_mut(j), options.seed, j);
        ws.x.release_col(j);
    }
    let params = LobpcgParams {
        k: options.k,
        tol: options.tol,
        max_iter: options.max_iterations,
        scale: 1e-3 * (upper - lower).abs(),
        level: 0,
        levels: 1,
    };
    let outcome = lobpcg(&mut ws, op, prec, params, 0, progress)?;
    ws.into_result(
        manager,
        &outcome,
        options.k,
        SolveTotals {
            iterations: outcome.iterations,
            applications: outcome.applications,
            seconds: start.elapsed().as_secs_f64(),
            peak_pool_bytes: peak.peak(),
            levels: 1,
        },
        &destination,
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
    check_options(options, h.nrows())?;
    let shift_invert = match options.method {
        Method::ShiftInvert => true,
        Method::Lobpcg => false,
        Method::Auto => {
            let budget = options
                .memory_budget
                .unwrap_or_else(|| manager.stats().available_bytes);
            super::shift_invert::shift_invert_memory_estimate(h, options.k)? <= budget
        }
    };
    if shift_invert {
        super::shift_invert::shift_invert_lowest(manager, h, None, options, progress)
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
    if h.nrows() != h.ncols() {
        return Err(Error::invalid_argument(format!(
            "{}: the matrix is {}×{}, not square",
            h.path().display(),
            h.nrows(),
            h.ncols()
        )));
    }
    let result = lowest_eigenpairs(manager, h, None, options, progress);
    // The file may have changed under the solve: every index it read was checked, and a bad one
    // makes the whole result a CorruptFile error, whatever the solve returned.
    h.take_read_damage()?;
    result
}
