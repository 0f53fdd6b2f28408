//! The GPU eigensolver from C: `qdsim_gpu_solve_lowest`, the lowest states of a grid
//! Hamiltonian computed on the device of a `qdsim_gpu_pool`, with the options and the result
//! handle of the CPU solve (`solver.rs`): eigenvalues and eigenvectors come back in a
//! `qdsim_eigen_result` whose vectors live in the manager's (host) pool, read with
//! `qdsim_eigen_result_values` / `_vectors` as usual.
//!
//! It exists in every build (one header); built without the `gpu` feature it returns
//! `QDSIM_ERR_NO_DEVICE` ("built without the gpu feature"). As for `qdsim_solve_lowest`, a solve
//! that stops before every pair met the tolerance returns `QDSIM_ERR_NOT_CONVERGED` and still
//! writes `*out`.
//!
//! Thread safety: the solve runs on the calling thread and uses the pool's stream; other
//! threads may use the pool meanwhile (its allocations are serialised), but two solves on one
//! pool at the same time share its stream and are serialised by it.

use super::boundary::guard;
use super::gpu::qdsim_gpu_pool;
use super::hamiltonian::qdsim_hamiltonian_desc;
use super::manager::qdsim_manager;
use super::solver::{qdsim_eigen_options, qdsim_eigen_result};
use super::status::qdsim_status;
use super::types::qdsim_scalar;

/// The lowest `options->k` states of the grid Hamiltonian `desc` (the absorber, if any, is
/// ignored) computed on the GPU of `pool`: block LOBPCG with the blocks in the pool's device
/// memory, the NVRTC stencil kernel for H, cuBLAS for the block products, and the CPU solver's
/// multigrid preconditioning (V-cycles on the device) and coarse-to-fine start. The eigenvectors are copied
/// into `manager`'s pool. `scalar` is `QDSIM_SCALAR_AUTO` (real unless there is a magnetic
/// field) or forces a type; `options` may be NULL for the defaults.
///
/// Errors: those of `qdsim_solve_lowest`, except that `QDSIM_METHOD_SHIFT_INVERT`,
/// `QDSIM_PLACEMENT_OUT_OF_CORE` and a `vectors_file` are `QDSIM_ERR_INVALID_ARGUMENT`
/// (memory_budget and scratch_dir do not apply: the pool's limit bounds device memory); `QDSIM_ERR_NO_DEVICE`
/// without the gpu feature or when libcublas / libnvrtc cannot be loaded;
/// `QDSIM_ERR_LIMIT_EXCEEDED` / `QDSIM_ERR_OUT_OF_MEMORY` when the pool's limit or the device
/// is too small (about 11·n·(k + extra) scalars for a 2D grid of n points).
///
/// # Safety
/// `pool`, `manager` are live handles (checked); `desc` as for `qdsim_hamiltonian_csr`;
/// `options` is NULL or valid; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_gpu_solve_lowest(
    pool: *mut qdsim_gpu_pool,
    manager: *mut qdsim_manager,
    desc: *const qdsim_hamiltonian_desc,
    scalar: qdsim_scalar,
    options: *const qdsim_eigen_options,
    out: *mut *mut qdsim_eigen_result,
) -> qdsim_status {
    guard("qdsim_gpu_solve_lowest", || {
        imp::solve_lowest(pool, manager, desc, scalar, options, out)
    })
}

#[cfg(feature = "gpu")]
mod imp {
    use super::super::boundary::out_param;
    use super::super::handles::{self, HandleKind};
    use super::super::manager::manager_arg;
    use super::super::solver::{finish, no_result, options_arg, options_from_c, with_progress};
    use super::super::types::scalar_kind;
    use super::*;
    use crate::error::Result;
    use crate::gpu::lowest_states;
    use crate::matrix::by_scalar;
    use std::sync::Arc;

    pub(super) fn solve_lowest(
        pool: *mut qdsim_gpu_pool,
        manager: *mut qdsim_manager,
        desc: *const qdsim_hamiltonian_desc,
        scalar: qdsim_scalar,
        options: *const qdsim_eigen_options,
        out: *mut *mut qdsim_eigen_result,
    ) -> Result<()> {
        let out = out_param(out, "out")?;
        let pool: Arc<qdsim_gpu_pool> =
            handles::lookup(pool as usize, HandleKind::GpuPool, "pool")?;
        let manager = manager_arg(manager)?.manager.clone();
        // SAFETY: NULL or valid per the contract.
        let c_options = unsafe { options_arg(options)? };
        // SAFETY: the caller's options, valid per the contract.
        let opts = unsafe { options_from_c(&c_options)? };
        let requested = scalar_kind(scalar, true)?;
        // SAFETY: per the contract.
        let result = unsafe {
            super::super::hamiltonian::with_spec(desc, |spec| {
                let kind = spec.solve_scalar_kind(requested)?;
                with_progress(&c_options, |progress| {
                    let r = by_scalar!(new kind, T =>
                        lowest_states::<T>(&pool.pool, &manager, spec, &opts, progress)
                            .map_err(no_result)?);
                    Ok(qdsim_eigen_result::from_lowest(r, manager.clone()))
                })
            })?
        };
        finish(result, out)
    }
}

#[cfg(not(feature = "gpu"))]
mod imp {
    use super::*;
    use crate::error::{Error, ErrorKind, Result};

    pub(super) fn solve_lowest(
        _: *mut qdsim_gpu_pool,
        _: *mut qdsim_manager,
        _: *const qdsim_hamiltonian_desc,
        _: qdsim_scalar,
        _: *const qdsim_eigen_options,
        _: *mut *mut qdsim_eigen_result,
    ) -> Result<()> {
        Err(Error::new(
            ErrorKind::NoDevice,
            "built without the gpu feature",
        ))
    }
}
