//! `qdsim_solve_resonances`: the resonances E − iΓ/2 of a grid Hamiltonian with an absorbing
//! potential, nearest a target energy, by the matrix-free coarse-to-fine solver (or by sparse-LU
//! shift-invert on the assembled matrix when `options->method` asks for it). The result is a
//! `qdsim_eigen_result` with complex values and vectors (`solver.rs` documents its
//! accessors); the CSR counterpart is `qdsim_csr_solve_resonances`.
//!
//! Thread safety: as every solve — it runs on the calling thread and the library's workers; the
//! progress callback is called on the calling thread.

use super::boundary::{guard, out_param};
use super::hamiltonian::{qdsim_hamiltonian_desc, with_spec};
use super::manager::{manager_arg, qdsim_manager};
use super::solver::{
    finish, no_result, options_arg, options_from_c, qdsim_eigen_options, qdsim_eigen_result,
    with_progress,
};
use super::status::qdsim_status;
use super::types::qdsim_complex;
use crate::solver::grid_resonances;

/// The `options->k` eigenvalues E − iΓ/2 of the grid Hamiltonian `desc` (its absorber
/// included) nearest `target` (eV), with eigenvectors normalised by xᵀx = 1 (unconjugated).
///
/// `QDSIM_METHOD_AUTO`: matrix-free and coarse-to-fine — an exact sparse-LU solve on a coarse
/// grid, then block Davidson with a multigrid preconditioner of H − target on every finer grid;
/// memory O(n·k), no fine-grid factorisation. Wanted values clearly farther from the target than
/// the nearest get a second preconditioner shift beside them (a second coarse-grid factor, taken
/// only where `memory_budget` and the manager's limit leave room for it). `QDSIM_METHOD_SHIFT_INVERT`: sparse LU of the
/// assembled H − target (as `qdsim_csr_solve_resonances`). Used options: `k`, `tolerance`
/// (‖Hx − Ex‖ ≤ tolerance · max(|E|, 10⁻³·‖H‖) with ‖x‖₂ = 1), `max_iterations` (per grid
/// level), `block_extra` (pairs kept beyond k; default max(2, k/4); a larger value keeps more
/// pairs, but only the leading k + max(2, k/4) expand the search space, and on the finest grid
/// of a coarse-to-fine solve only the k wanted), `seed`, `coarse_to_fine`,
/// `placement` and `scratch_dir` (`QDSIM_PLACEMENT_OUT_OF_CORE`, or `_AUTO` with a
/// `memory_budget` below the in-core estimate: the search space goes to an unlinked scratch
/// file, `qdsim_eigen_info.scratch_bytes` its size; a grid no larger than the factored bottom
/// grid is solved in core by sparse LU), `memory_budget` (refused up front when even the
/// out-of-core need exceeds it, or the in-core need under `QDSIM_PLACEMENT_IN_CORE`),
/// `progress`. Values come converged first, each group nearest the target first;
/// `qdsim_eigen_info.converged` counts the converged ones and `levels` the grid levels used.
/// `options` may be NULL for the defaults.
///
/// Errors: the description errors of `qdsim_hamiltonian_csr`; `QDSIM_ERR_INVALID_ARGUMENT` for
/// k = 0, k ≥ grid points, a tolerance outside (0, 1), a non-finite target,
/// `QDSIM_METHOD_LOBPCG`, a `vectors_file` (the vectors come back in the pool), out-of-core
/// placement with `QDSIM_METHOD_SHIFT_INVERT` (its factor stays in core), or H − target
/// singular on the factored grid; `QDSIM_ERR_LIMIT_EXCEEDED` when the solve's estimate exceeds
/// `memory_budget` (the message names both) or an allocation exceeds the manager's limit;
/// `QDSIM_ERR_IO` when the scratch file cannot be created or read back (path and size in the
/// message); `QDSIM_ERR_CANCELLED`; `QDSIM_ERR_NOT_CONVERGED` with `*out` written: the partial
/// result, its first `converged` pairs met the tolerance.
///
/// # Safety
/// As for `qdsim_hamiltonian_csr`; `options` is NULL or valid; `out` points to writable memory
/// for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_solve_resonances(
    manager: *mut qdsim_manager,
    desc: *const qdsim_hamiltonian_desc,
    target: qdsim_complex,
    options: *const qdsim_eigen_options,
    out: *mut *mut qdsim_eigen_result,
) -> qdsim_status {
    guard("qdsim_solve_resonances", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?.manager.clone();
        // SAFETY: NULL or valid per the contract.
        let c_options = unsafe { options_arg(options)? };
        // SAFETY: the caller's options, valid per the contract.
        let opts = unsafe { options_from_c(&c_options)? };
        // SAFETY: per the contract.
        let result = unsafe {
            with_spec(desc, |spec| {
                with_progress(&c_options, |progress| {
                    let r = grid_resonances(&manager, spec, target.into(), &opts, progress)
                        .map_err(no_result)?;
                    Ok(qdsim_eigen_result::from_resonances(r, manager.clone()))
                })
            })?
        };
        finish(result, out)
    })
}
