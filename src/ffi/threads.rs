//! `qdsim_set_solver_threads`, `qdsim_solver_threads`: how many threads a solve uses.
//!
//! Thread safety: both may be called from any thread at any time; a new setting applies to
//! solves started afterwards (a running solve keeps its threads).

use super::boundary::{guard, out_param, write_out};
use super::status::qdsim_status;
use crate::solver::{set_solver_threads, solver_threads};

/// Makes every solve started from now on (`qdsim_solve_*`, `qdsim_csr_solve_*`,
/// `qdsim_mapped_solve_lowest`, `qdsim_dense_*`, on any thread) use `threads` threads; 0 (the
/// default) uses one per core, or `RAYON_NUM_THREADS` when it is set in the environment before
/// the first solve. Under MPI give each rank the cores it owns (e.g. 1 with one rank per core);
/// with OpenMP, the solver's threads are separate from OpenMP's, so keep their sum within the
/// cores. The threads of a count are started once and kept for later solves. A solve's
/// progress callback still runs on the thread that called the solve.
///
/// Errors: `QDSIM_ERR_INVALID_ARGUMENT` for more than 4096 threads; `QDSIM_ERR_OUT_OF_MEMORY`
/// when the system cannot start them. The setting is unchanged on error.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_set_solver_threads(threads: usize) -> qdsim_status {
    guard("qdsim_set_solver_threads", || set_solver_threads(threads))
}

/// Writes into `*threads` the number of threads a solve started now would use (the setting of
/// `qdsim_set_solver_threads`, or the default's count).
///
/// # Safety
/// `threads` points to writable memory for a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_solver_threads(threads: *mut usize) -> qdsim_status {
    guard("qdsim_solver_threads", || {
        let out = out_param(threads, "threads")?;
        // SAFETY: checked non-null and aligned; writable per the contract.
        unsafe { write_out(out, solver_threads()) };
        Ok(())
    })
}
