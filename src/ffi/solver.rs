//! The eigensolvers from C: options (`qdsim_eigen_options`, with an optional progress callback
//! that can cancel), the solve entry points (grid, CSR, mapped CSR, resonances, dense), and the
//! `qdsim_eigen_result` handle whose eigenvectors live in the manager's pool or in a mapped file.
//!
//! Convention exception: when a solve stops before every requested pair met the tolerance it
//! returns `QDSIM_ERR_NOT_CONVERGED` **and still writes `*out`** with the partial result (its
//! `converged` count says how many pairs are good), so no work is lost. A failure before there
//! is any result (a breakdown: `no_result`) is never `QDSIM_ERR_NOT_CONVERGED`.
//!
//! Thread safety: a solve runs on the calling thread (and the library's worker threads); the
//! progress callback is called on the calling thread. Results are immutable and may be read
//! from any thread.

use super::boundary::{guard, in_param, out_param, out_slice, write_out};
use super::csr::{csr_arg, qdsim_csr};
use super::hamiltonian::{qdsim_hamiltonian_desc, with_spec};
use super::handles::{self, HandleKind};
use super::manager::{manager_arg, qdsim_manager};
use super::mapped::{mapped_arg, qdsim_mapped};
use super::matrix::{check_manager_alive, matrix_arg, qdsim_matrix};
use super::status::qdsim_status;
use super::types::{QDSIM_SCALAR_COMPLEX, qdsim_complex, qdsim_scalar, scalar_kind, scalar_value};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::mapped::AnyMapped;
use crate::matrix::{AnyMatrix, ByScalar, Scalar, by_scalar, require_square};
use crate::memory::MemoryManager;
use crate::solver::{
    EigenOptions, EigenResult, Eigenvectors, Method, Placement, Progress, ProgressFn, Resonances,
    csr_lowest, dense_general, dense_hermitian, lowest_states, mapped_csr_lowest, resonances,
};
use num_complex::Complex64;
use std::ffi::{CStr, c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Let the library choose the method.
pub const QDSIM_METHOD_AUTO: i32 = 0;
/// Block LOBPCG (multigrid-preconditioned on grids, Jacobi on plain CSR).
pub const QDSIM_METHOD_LOBPCG: i32 = 1;
/// Shift-invert: LOBPCG preconditioned by an exact sparse Cholesky factor of H − σ.
pub const QDSIM_METHOD_SHIFT_INVERT: i32 = 2;

/// Blocks out of core when `memory_budget` is set and the in-core estimate exceeds it.
pub const QDSIM_PLACEMENT_AUTO: i32 = 0;
/// Blocks in the manager's pools.
pub const QDSIM_PLACEMENT_IN_CORE: i32 = 1;
/// Blocks in memory-mapped scratch files in `scratch_dir`, resident part kept near the budget.
pub const QDSIM_PLACEMENT_OUT_OF_CORE: i32 = 2;

/// Called after every solver iteration with `user` and the report; return non-zero to stop the
/// solve (it then returns `QDSIM_ERR_CANCELLED`).
#[allow(non_camel_case_types)]
pub type qdsim_progress_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, progress: *const Progress) -> i32>;

/// Solver settings; fill with `qdsim_eigen_options_default` and change what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct qdsim_eigen_options {
    /// Number of lowest eigenpairs (default 10).
    pub k: usize,
    /// Relative residual tolerance ‖Hx − λx‖ ≤ tol·max(|λ|, 10⁻³·spread) (default 1e-6).
    pub tolerance: f64,
    /// Iterations at most per grid level (default 500).
    pub max_iterations: usize,
    /// Extra block vectors beyond k; negative for the default max(1, k/10), which a grid solve
    /// drops on its finest grid when the k-th state lies clearly below the next.
    pub block_extra: i64,
    /// Seed of the random start vectors.
    pub seed: u64,
    /// `QDSIM_METHOD_AUTO`, `QDSIM_METHOD_LOBPCG` or `QDSIM_METHOD_SHIFT_INVERT`.
    pub method: i32,
    /// Non-zero: start from coarser grids (grid Hamiltonians; default on).
    pub coarse_to_fine: i32,
    /// Bytes the solver may use: for the automatic method choice (0: the manager's available)
    /// and for `QDSIM_PLACEMENT_AUTO` (0: never out of core).
    pub memory_budget: u64,
    /// Progress callback, or NULL.
    pub progress: qdsim_progress_fn,
    /// Passed to the callback unchanged.
    pub progress_user: *mut c_void,
    /// Directory of the out-of-core scratch files (NUL-terminated; NULL: the system's temporary
    /// directory, `$TMPDIR` or /tmp). The files are unlinked at once: none is left behind. The
    /// string is read during the solve call only.
    pub scratch_dir: *const c_char,
    /// `QDSIM_PLACEMENT_AUTO` (default), `QDSIM_PLACEMENT_IN_CORE` or
    /// `QDSIM_PLACEMENT_OUT_OF_CORE`.
    pub placement: i32,
    /// Write the eigenvectors to this file (NUL-terminated path; the mapped dense format of
    /// `qdsim_mapped_open`, finalized when the solve returns; an existing file is replaced)
    /// instead of the pool: for results larger than memory, and to keep them. NULL (default): in
    /// the pool, except that an out-of-core solve whose vectors do not fit the memory budget
    /// keeps them in an unlinked file in `scratch_dir`. Either way
    /// `qdsim_eigen_result_vectors` gives their address. Read during the solve call only.
    pub vectors_file: *const c_char,
}

/// What a result holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_eigen_info {
    /// Number of eigenpairs.
    pub count: usize,
    /// Length of each eigenvector.
    pub dim: usize,
    /// Pairs that met the tolerance.
    pub converged: usize,
    /// Iterations (summed over grid levels).
    pub iterations: usize,
    /// Operator applications (vectors).
    pub applications: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Highest bytes in use in the manager during the solve: the pools, and memory counted
    /// outside them (the resonance solver's LU factor).
    pub peak_pool_bytes: u64,
    /// The method that ran (`QDSIM_METHOD_*`; 0 for the dense and resonance solvers).
    pub method: i32,
    /// Eigenvector elements: `QDSIM_SCALAR_REAL` or `QDSIM_SCALAR_COMPLEX`.
    pub vector_scalar: qdsim_scalar,
    /// 1 when the eigenvalues are complex (resonances, general dense), else 0.
    pub complex_values: i32,
    /// Grid levels used.
    pub levels: i32,
    /// Bytes of scratch files the solve used (0 in core).
    pub scratch_bytes: u64,
}

/// The eigenvalues of a result: real or complex.
/// cbindgen:ignore
type Values = ByScalar<Vec<f64>, Vec<Complex64>>;

/// The eigenvectors of a result, of either scalar type.
/// cbindgen:ignore
type ResultVectors = ByScalar<Eigenvectors<f64>, Eigenvectors<Complex64>>;

/// The lowest-states result of either scalar type.
/// cbindgen:ignore
pub(super) type AnyEigenResult = ByScalar<EigenResult<f64>, EigenResult<Complex64>>;

/// Eigenvalues, eigenvectors (in the manager's pool, or in a mapped file: see
/// `qdsim_eigen_options.vectors_file`) and solve statistics.
#[allow(non_camel_case_types)]
pub struct qdsim_eigen_result {
    values: Values,
    residuals: Vec<f64>,
    vectors: ResultVectors,
    info: qdsim_eigen_info,
    manager: MemoryManager,
}

impl qdsim_eigen_result {
    /// True when `addr` is this result's eigenvector block.
    pub(crate) fn owns_block(&self, addr: usize) -> bool {
        by_scalar!(&self.vectors, v => v.data_ptr() as usize) == addr
    }
}

fn method_value(m: Method) -> i32 {
    match m {
        Method::Auto => QDSIM_METHOD_AUTO,
        Method::Lobpcg => QDSIM_METHOD_LOBPCG,
        Method::ShiftInvert => QDSIM_METHOD_SHIFT_INVERT,
    }
}

/// The C description of a lowest-states result (its vectors' scalar type is the caller's).
fn lowest_info<T: Scalar>(r: &EigenResult<T>) -> qdsim_eigen_info {
    qdsim_eigen_info {
        count: r.values.len(),
        dim: r.vectors.nrows(),
        converged: r.converged,
        iterations: r.iterations,
        applications: r.applications,
        seconds: r.seconds,
        peak_pool_bytes: r.peak_pool_bytes,
        method: method_value(r.method),
        vector_scalar: scalar_value(T::KIND),
        complex_values: 0,
        levels: r.levels as i32,
        scratch_bytes: r.scratch_bytes,
    }
}

impl qdsim_eigen_result {
    pub(super) fn from_lowest(r: AnyEigenResult, manager: MemoryManager) -> Self {
        let ((info, values, residuals), vectors) =
            by_scalar!(map r, r => ((lowest_info(&r), r.values, r.residuals), r.vectors))
                .split_first();
        Self {
            values: Values::Real(values),
            residuals,
            vectors,
            info,
            manager,
        }
    }
}

impl qdsim_eigen_result {
    /// The result of a resonance solve (CSR or grid): complex values, complex vectors, the
    /// solve's statistics; method 0, as the resonance solvers are not `QDSIM_METHOD_*` choices.
    pub(super) fn from_resonances(r: Resonances, manager: MemoryManager) -> Self {
        let info = qdsim_eigen_info {
            count: r.values.len(),
            dim: r.vectors.nrows(),
            converged: r.converged,
            iterations: r.iterations,
            applications: r.applications,
            seconds: r.seconds,
            peak_pool_bytes: r.peak_pool_bytes,
            vector_scalar: QDSIM_SCALAR_COMPLEX,
            complex_values: 1,
            levels: r.levels as i32,
            scratch_bytes: r.scratch_bytes,
            ..Default::default()
        };
        Self {
            values: Values::Complex(r.values),
            residuals: r.residuals,
            vectors: ByScalar::Complex(r.vectors.into()),
            info,
            manager,
        }
    }
}

/// A path of the C options (`None` for NULL); `name` and `null_means` for the message about an
/// empty string.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
unsafe fn path_arg(path: *const c_char, name: &str, null_means: &str) -> Result<Option<PathBuf>> {
    if path.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid_argument(format!(
            "{name} is an empty string: pass NULL for {null_means}"
        )));
    }
    Ok(Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes))))
}

/// # Safety
/// `o.scratch_dir` and `o.vectors_file` are NULL or NUL-terminated strings.
pub(super) unsafe fn options_from_c(o: &qdsim_eigen_options) -> Result<EigenOptions> {
    let method = match o.method {
        QDSIM_METHOD_AUTO => Method::Auto,
        QDSIM_METHOD_LOBPCG => Method::Lobpcg,
        QDSIM_METHOD_SHIFT_INVERT => Method::ShiftInvert,
        other => {
            return Err(Error::invalid_argument(format!(
                "method {other} is not a QDSIM_METHOD_* value"
            )));
        }
    };
    let placement = match o.placement {
        QDSIM_PLACEMENT_AUTO => Placement::Auto,
        QDSIM_PLACEMENT_IN_CORE => Placement::InCore,
        QDSIM_PLACEMENT_OUT_OF_CORE => Placement::OutOfCore,
        other => {
            return Err(Error::invalid_argument(format!(
                "placement {other} is not a QDSIM_PLACEMENT_* value"
            )));
        }
    };
    Ok(EigenOptions {
        k: o.k,
        tol: o.tolerance,
        max_iterations: o.max_iterations,
        block_extra: usize::try_from(o.block_extra).ok(),
        seed: o.seed,
        method,
        memory_budget: (o.memory_budget != 0).then_some(o.memory_budget),
        placement,
        // SAFETY: per the contract.
        scratch_dir: unsafe { path_arg(o.scratch_dir, "scratch_dir", "the default directory")? },
        coarse_to_fine: o.coarse_to_fine != 0,
        // SAFETY: per the contract.
        vectors_file: unsafe { path_arg(o.vectors_file, "vectors_file", "the pool")? },
    })
}

/// The caller's options, or the defaults for NULL.
///
/// # Safety
/// `options` is NULL or points to a valid `qdsim_eigen_options`.
pub(super) unsafe fn options_arg(
    options: *const qdsim_eigen_options,
) -> Result<qdsim_eigen_options> {
    if options.is_null() {
        let mut o = std::mem::MaybeUninit::uninit();
        // SAFETY: a valid out-pointer to local memory; the call initialises it (it cannot fail).
        unsafe {
            qdsim_eigen_options_default(o.as_mut_ptr());
            Ok(o.assume_init())
        }
    } else {
        // SAFETY: non-null and valid per the contract.
        Ok(*unsafe { in_param(options, "options")? })
    }
}

/// The C callback as a Rust progress closure.
struct CallbackCell {
    f: unsafe extern "C" fn(*mut c_void, *const Progress) -> i32,
    user: *mut c_void,
}

// SAFETY: the callback and its user pointer are only used on the thread that called the solve
// (the LOBPCG loop runs there); Send is needed only to satisfy the closure type.
unsafe impl Send for CallbackCell {}

impl CallbackCell {
    /// Calls the C callback; true means "cancel".
    fn call(&self, report: &Progress) -> bool {
        // SAFETY: the caller supplied a valid function; the report lives for the call.
        unsafe { (self.f)(self.user, report) != 0 }
    }
}

pub(super) fn with_progress<R>(
    o: &qdsim_eigen_options,
    run: impl FnOnce(Option<&mut ProgressFn<'_>>) -> R,
) -> R {
    match o.progress {
        None => run(None),
        Some(f) => {
            let cell = CallbackCell {
                f,
                user: o.progress_user,
            };
            let mut closure = move |p: &Progress| cell.call(p);
            run(Some(&mut closure))
        }
    }
}

/// A solver's failure before it had a result. `NotConverged` from there (a breakdown of a
/// projected eigenproblem on a matrix whose entries overflow its arithmetic, say) would tell a
/// C caller that `*out` holds a partial result, which does not exist: it becomes
/// `InvalidArgument`, with the reason, and `*out` stays untouched. Other errors pass unchanged.
pub(super) fn no_result(error: Error) -> Error {
    if error.kind() != ErrorKind::NotConverged {
        return error;
    }
    Error::invalid_argument(format!(
        "the solver broke down before it had any result ({}); the matrix is likely out of its \
         reach (entries near the overflow range of double precision: scale it); *out is \
         untouched",
        error.message()
    ))
}

/// Registers `result` and writes it to `out`; NOT_CONVERGED when it is partial.
pub(super) fn finish(
    result: qdsim_eigen_result,
    out: std::ptr::NonNull<*mut qdsim_eigen_result>,
) -> Result<()> {
    let (count, converged) = (result.info.count, result.info.converged);
    let ptr = handles::new_handle(HandleKind::EigenResult, result);
    // SAFETY: checked by out_param; writable per the contract.
    unsafe { write_out(out, ptr) };
    if converged < count {
        return Err(Error::new(
            ErrorKind::NotConverged,
            format!(
                "{converged} of {count} eigenpairs met the tolerance; *out holds the partial result"
            ),
        ));
    }
    Ok(())
}

/// Writes the default options (k = 10, tolerance 1e-6, automatic method, coarse-to-fine on, no
/// callback) to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_eigen_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_eigen_options_default(
    out: *mut qdsim_eigen_options,
) -> qdsim_status {
    guard("qdsim_eigen_options_default", || {
        let out = out_param(out, "out")?;
        let d = EigenOptions::default();
        let o = qdsim_eigen_options {
            k: d.k,
            tolerance: d.tol,
            max_iterations: d.max_iterations,
            block_extra: -1,
            seed: d.seed,
            method: QDSIM_METHOD_AUTO,
            coarse_to_fine: 1,
            memory_budget: 0,
            progress: None,
            progress_user: std::ptr::null_mut(),
            scratch_dir: std::ptr::null(),
            placement: QDSIM_PLACEMENT_AUTO,
            vectors_file: std::ptr::null(),
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, o) };
        Ok(())
    })
}

/// The lowest `options->k` states of the grid Hamiltonian `desc` (the absorber, if any, is
/// ignored): multigrid-preconditioned LOBPCG started coarse-to-fine, or shift-invert when asked.
/// `scalar` is `QDSIM_SCALAR_AUTO` (real unless there is a magnetic field), or forces a type.
/// `options` may be NULL for the defaults.
///
/// Errors: the description errors of `qdsim_hamiltonian_csr`; `QDSIM_ERR_INVALID_ARGUMENT` for
/// k = 0, k ≥ grid points, tolerance outside (0, 1), an unknown method or placement, an empty
/// `scratch_dir`; `QDSIM_ERR_IO` when an out-of-core solve cannot create, size or map its
/// scratch files (missing or read-only directory, disk full: the message names the file and
/// the size; no file is left behind), or when the system cannot read a scratch page back
/// mid-solve (a disk error, a file truncated by another program: a SIGBUS that the library
/// catches for its own scratch mappings, docs/out-of-core.md); `QDSIM_ERR_CANCELLED`;
/// `QDSIM_ERR_NOT_CONVERGED` (with `*out` written, see the file notes). A solver that breaks
/// down before it has any result returns `QDSIM_ERR_INVALID_ARGUMENT` with the reason and
/// leaves `*out` untouched (never `QDSIM_ERR_NOT_CONVERGED` without a result).
///
/// # Safety
/// As for `qdsim_hamiltonian_csr`; `options` is NULL or valid; `out` points to writable memory
/// for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_solve_lowest(
    manager: *mut qdsim_manager,
    desc: *const qdsim_hamiltonian_desc,
    scalar: qdsim_scalar,
    options: *const qdsim_eigen_options,
    out: *mut *mut qdsim_eigen_result,
) -> qdsim_status {
    guard("qdsim_solve_lowest", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?.manager.clone();
        // SAFETY: NULL or valid per the contract.
        let c_options = unsafe { options_arg(options)? };
        // SAFETY: the caller's options, valid per the contract.
        let opts = unsafe { options_from_c(&c_options)? };
        let kind = scalar_kind(scalar, true)?;
        // SAFETY: per the contract.
        let result = unsafe {
            with_spec(desc, |spec| {
                let kind = spec.solve_scalar_kind(kind)?;
                with_progress(&c_options, |progress| {
                    let r = by_scalar!(new kind, T =>
                        lowest_states::<T>(&manager, spec, &opts, progress).map_err(no_result)?);
                    Ok(qdsim_eigen_result::from_lowest(r, manager.clone()))
                })
            })?
        };
        finish(result, out)
    })
}

/// The lowest `options->k` eigenpairs of the Hermitian CSR matrix `h` (no grid: shift-invert
/// when its factor fits the memory budget, else Jacobi-preconditioned LOBPCG).
///
/// Errors: `QDSIM_ERR_INVALID_ARGUMENT` for a non-square matrix, a non-finite stored value
/// (checked before solving), the option errors of `qdsim_solve_lowest`, and a solver that broke
/// down before it had any result (entries near the overflow range of double precision, say:
/// the message says why; `*out` untouched); `QDSIM_ERR_CANCELLED`; `QDSIM_ERR_NOT_CONVERGED`
/// (with `*out` written: only this failure writes it).
///
/// # Safety
/// `options` is NULL or valid; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_solve_lowest(
    h: *const qdsim_csr,
    options: *const qdsim_eigen_options,
    out: *mut *mut qdsim_eigen_result,
) -> qdsim_status {
    guard("qdsim_csr_solve_lowest", || {
        let out = out_param(out, "out")?;
        let handle = csr_arg(h)?;
        // SAFETY: NULL or valid per the contract.
        let c_options = unsafe { options_arg(options)? };
        // SAFETY: the caller's options, valid per the contract.
        let opts = unsafe { options_from_c(&c_options)? };
        let info = handle.csr.info();
        require_square(info.nrows, info.ncols, "the matrix")?;
        let manager = handle.manager.clone();
        let result = with_progress(&c_options, |progress| {
            let r = by_scalar!(map &handle.csr, m => csr_lowest(&manager, m, &opts, progress).map_err(no_result)?);
            Ok::<_, Error>(qdsim_eigen_result::from_lowest(r, manager.clone()))
        })?;
        finish(result, out)
    })
}

/// The lowest `options->k` eigenpairs of the Hermitian CSR matrix in the mapped file `h`
/// (`qdsim_mapped_open`, `qdsim_mapped_from_csr`), by Jacobi-preconditioned LOBPCG reading the
/// matrix where it lies — nothing of it is copied into memory. With a `memory_budget` (or
/// `QDSIM_PLACEMENT_OUT_OF_CORE`) the solver blocks go to scratch files, and with
/// `vectors_file` the eigenvectors: the whole solve can be larger than memory. The
/// eigenvectors' pool is `manager`'s. The solve shares the handle: calls that read it (info,
/// arrays, verify, flush, copies out) proceed, also from the progress callback; calls that change
/// it (write, grow, finalize) wait for the solve, and from its progress callback are refused at
/// once with `QDSIM_ERR_INVALID_ARGUMENT` instead of waiting for themselves.
///
/// Errors: `QDSIM_ERR_INVALID_ARGUMENT` for a dense file, a non-square matrix, a non-finite
/// stored value (checked before solving), the option errors of `qdsim_solve_lowest`, and a
/// solver that broke down before it had any result (`*out` untouched); `QDSIM_ERR_IO`;
/// `QDSIM_ERR_CANCELLED`; `QDSIM_ERR_NOT_CONVERGED` (with `*out` written).
///
/// # Safety
/// `options` is NULL or valid; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_solve_lowest(
    manager: *mut qdsim_manager,
    h: *const qdsim_mapped,
    options: *const qdsim_eigen_options,
    out: *mut *mut qdsim_eigen_result,
) -> qdsim_status {
    guard("qdsim_mapped_solve_lowest", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?.manager.clone();
        let handle = mapped_arg(h)?;
        // SAFETY: NULL or valid per the contract.
        let c_options = unsafe { options_arg(options)? };
        // SAFETY: the caller's options, valid per the contract.
        let opts = unsafe { options_from_c(&c_options)? };
        // Shared, not exclusive: the progress callback may read the handle; a call from it
        // that would change the handle is refused instead of waiting for this solve.
        let (mapped, held) = handle.read_running_callbacks();
        let result = with_progress(&c_options, |progress| {
            let AnyMapped::Csr(csr) = &*mapped else {
                return Err(Error::invalid_argument(
                    "the file holds a dense matrix; the mapped solver needs a CSR one \
                     (qdsim_mapped_from_csr)",
                ));
            };
            let r = by_scalar!(map csr, m => {
                mapped_csr_lowest(&manager, m, &opts, progress).map_err(no_result)?
            });
            Ok(qdsim_eigen_result::from_lowest(r, manager.clone()))
        })?;
        drop((mapped, held));
        finish(result, out)
    })
}

/// The `k` eigenvalues E − iΓ/2 of the complex-symmetric CSR matrix `h` (a Hamiltonian with an
/// absorbing potential) nearest `target` (eV), by shift-invert Krylov–Schur with
/// locking on a sparse factor of H − target (a symmetric `L·B·Lᵀ` factor of its real-equivalent
/// form in the pattern's AMD order when `h` is complex symmetric, as a Hamiltonian with an
/// absorber and no magnetic field is; else an LU); the converged pairs first, each group sorted by
/// distance to the target; eigenvectors normalised with xᵀx = 1. Converged means
/// ‖Hx − Ex‖ ≤ tolerance · max(|E|, 10⁻³‖H‖∞). A target exactly on an eigenvalue is allowed
/// (that pair converges at once and is deflated). `seed` seeds the random start block.
///
/// The factor, which faer allocates outside the pools, is counted in `h`'s manager under
/// the tag `solver.resonances.factor` (on Linux what the factorisation made resident, measured
/// around it; elsewhere an estimate) and its workspace under `solver.resonances.workspace`;
/// both count against the manager's limit and in `peak_pool_bytes`. The eigenvectors are in
/// `h`'s manager's pool.
///
/// Statuses:
/// - `QDSIM_OK`: all `k` pairs converged; `*out` written.
/// - `QDSIM_ERR_NOT_CONVERGED`: the iteration limit was reached first; `*out` is written
///   anyway and holds `k` pairs, of which the first `info.converged` met the tolerance
///   (`info.iterations`, `info.applications` say how much work was done).
/// - `QDSIM_ERR_INVALID_ARGUMENT`: `h` is real (no absorbing potential), k = 0 or k ≥ the
///   dimension, tolerance outside (0, 1), a non-finite target or stored value, H − target
///   singular even after nudging the shift, or a breakdown before any result (fewer than `k`
///   Ritz pairs, a failed projected eigenproblem: the message says which).
/// - `QDSIM_ERR_LIMIT_EXCEEDED`: the estimated factor (the message gives it in MiB), its
///   workspace or a block does not fit the manager's memory limit, checked before factorising;
///   or the factor turned out larger than the room left.
/// - `QDSIM_ERR_OUT_OF_MEMORY`: the system refused memory.
/// - `QDSIM_ERR_NULL_ARGUMENT` / `QDSIM_ERR_INVALID_HANDLE`: `out` is NULL, `h` is not a live
///   CSR handle or its manager was destroyed.
///
/// Only `QDSIM_OK` and `QDSIM_ERR_NOT_CONVERGED` write `*out`.
///
/// # Safety
/// `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_solve_resonances(
    h: *const qdsim_csr,
    target: qdsim_complex,
    k: usize,
    tolerance: f64,
    seed: u64,
    out: *mut *mut qdsim_eigen_result,
) -> qdsim_status {
    guard("qdsim_csr_solve_resonances", || {
        let out = out_param(out, "out")?;
        let handle = csr_arg(h)?;
        let ByScalar::Complex(m) = &handle.csr else {
            return Err(Error::invalid_argument(
                "the matrix is real (no absorbing potential): resonances need a complex-symmetric H",
            ));
        };
        let r =
            resonances(&handle.manager, m, target.into(), k, tolerance, seed).map_err(no_result)?;
        let result = qdsim_eigen_result::from_resonances(r, handle.manager.clone());
        finish(result, out)
    })
}

/// All (`k` = 0) or the lowest `k` eigenpairs of the Hermitian dense matrix `a` (lower triangle
/// read), by faer's dense solver. The result's `info.seconds` is the wall time and its
/// residuals are the true ‖Ax − λx‖ / ‖x‖ of the Hermitian matrix the lower triangle defines.
///
/// # Safety
/// `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_eigen_hermitian(
    a: *const qdsim_matrix,
    k: usize,
    out: *mut *mut qdsim_eigen_result,
) -> qdsim_status {
    guard("qdsim_matrix_eigen_hermitian", || {
        let out = out_param(out, "out")?;
        let handle = matrix_arg(a, "a")?;
        let m = handle.matrix.lock();
        let k = (k != 0).then_some(k);
        let ((values, residuals, seconds), vectors): (_, AnyMatrix) = by_scalar!(map &*m, a => {
            let r = dense_hermitian(&handle.manager, a, k).map_err(no_result)?;
            ((r.values, r.residuals, r.seconds), r.vectors)
        })
        .split_first();
        let (dim, count, _) = vectors.shape();
        let info = dense_info(count, dim, seconds, scalar_value(vectors.kind()), 0);
        finish(
            qdsim_eigen_result {
                values: Values::Real(values),
                residuals,
                vectors: by_scalar!(map vectors, x => x.into()),
                info,
                manager: handle.manager.clone(),
            },
            out,
        )
    })
}

/// The C description of a dense result (always converged; one level, no iterations).
fn dense_info(
    count: usize,
    dim: usize,
    seconds: f64,
    vector_scalar: qdsim_scalar,
    complex_values: i32,
) -> qdsim_eigen_info {
    qdsim_eigen_info {
        count,
        dim,
        converged: count,
        seconds,
        vector_scalar,
        complex_values,
        levels: 1,
        ..Default::default()
    }
}

/// All eigenpairs of the general dense matrix `a` (complex eigenvalues, sorted by real part;
/// unit-norm eigenvectors). The result's `info.seconds` is the wall time and its residuals are
/// the true ‖Ax − λx‖ / ‖x‖.
///
/// # Safety
/// `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_eigen_general(
    a: *const qdsim_matrix,
    out: *mut *mut qdsim_eigen_result,
) -> qdsim_status {
    guard("qdsim_matrix_eigen_general", || {
        let out = out_param(out, "out")?;
        let handle = matrix_arg(a, "a")?;
        let m = handle.matrix.lock();
        let r = by_scalar!(&*m, a => dense_general(&handle.manager, a).map_err(no_result)?);
        let info = dense_info(
            r.values.len(),
            r.vectors.nrows(),
            r.seconds,
            QDSIM_SCALAR_COMPLEX,
            1,
        );
        finish(
            qdsim_eigen_result {
                values: Values::Complex(r.values),
                residuals: r.residuals,
                vectors: ByScalar::Complex(r.vectors.into()),
                info,
                manager: handle.manager.clone(),
            },
            out,
        )
    })
}

fn result_arg(r: *const qdsim_eigen_result) -> Result<Arc<qdsim_eigen_result>> {
    let handle: Arc<qdsim_eigen_result> =
        handles::lookup(r as usize, HandleKind::EigenResult, "result")?;
    check_manager_alive(&handle.manager, "qdsim_eigen_result")?;
    Ok(handle)
}

/// Writes what the result holds (counts, statistics, types) to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_eigen_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_eigen_result_info(
    r: *const qdsim_eigen_result,
    out: *mut qdsim_eigen_info,
) -> qdsim_status {
    guard("qdsim_eigen_result_info", || {
        let out = out_param(out, "out")?;
        let info = result_arg(r)?.info;
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, info) };
        Ok(())
    })
}

/// Copies the real eigenvalues (eV, ascending) into `values[0 .. count)`.
/// `QDSIM_ERR_INVALID_ARGUMENT` when the values are complex (use the complex accessor).
///
/// # Safety
/// `values` points to `count` writable doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_eigen_result_values(
    r: *const qdsim_eigen_result,
    values: *mut f64,
) -> qdsim_status {
    guard("qdsim_eigen_result_values", || {
        let handle = result_arg(r)?;
        let ByScalar::Real(v) = &handle.values else {
            return Err(Error::invalid_argument(
                "the eigenvalues are complex: use qdsim_eigen_result_complex_values",
            ));
        };
        // SAFETY: `count` writable doubles per the contract.
        unsafe { out_slice(values, v.len(), "values")? }.copy_from_slice(v);
        Ok(())
    })
}

/// Copies the eigenvalues as complex numbers (real ones with zero imaginary part) into
/// `values[0 .. count)`.
///
/// # Safety
/// `values` points to `count` writable `qdsim_complex`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_eigen_result_complex_values(
    r: *const qdsim_eigen_result,
    values: *mut qdsim_complex,
) -> qdsim_status {
    guard("qdsim_eigen_result_complex_values", || {
        let handle = result_arg(r)?;
        let as_complex: Vec<qdsim_complex> = by_scalar!(&handle.values, v => v
            .iter()
            .map(|&z| {
                let z = z.to_complex();
                qdsim_complex { re: z.re, im: z.im }
            })
            .collect());
        // SAFETY: `count` writable values per the contract.
        unsafe { out_slice(values, as_complex.len(), "values")? }.copy_from_slice(&as_complex);
        Ok(())
    })
}

/// Copies ‖Hx − λx‖ / ‖x‖ of every pair (computed after the solve for the dense solvers too)
/// into `residuals[0 .. count)`.
///
/// # Safety
/// `residuals` points to `count` writable doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_eigen_result_residuals(
    r: *const qdsim_eigen_result,
    residuals: *mut f64,
) -> qdsim_status {
    guard("qdsim_eigen_result_residuals", || {
        let handle = result_arg(r)?;
        // SAFETY: `count` writable doubles per the contract.
        unsafe { out_slice(residuals, handle.residuals.len(), "residuals")? }
            .copy_from_slice(&handle.residuals);
        Ok(())
    })
}

/// Writes the address of the eigenvector block (column j is eigenvector j, element i of it at
/// `data[i + j·ld]`; `double` or `qdsim_complex` per `vector_scalar`) and its leading dimension.
/// The block lives until the result is destroyed — in the manager's pool, or mapped from the
/// `vectors_file` (or an unlinked scratch file) of an out-of-core solve, read in as you touch
/// it; treat it as read-only.
///
/// # Safety
/// `data` and `ld` point to writable memory for a pointer and a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_eigen_result_vectors(
    r: *const qdsim_eigen_result,
    data: *mut *const c_void,
    ld: *mut usize,
) -> qdsim_status {
    guard("qdsim_eigen_result_vectors", || {
        let (data_out, ld_out) = (out_param(data, "data")?, out_param(ld, "ld")?);
        let handle = result_arg(r)?;
        let (ptr, l) = by_scalar!(&handle.vectors, v => (v.data_ptr().cast::<c_void>(), v.ld()));
        // SAFETY: both checked by out_param; writable per the contract.
        unsafe {
            write_out(data_out, ptr);
            write_out(ld_out, l);
        }
        Ok(())
    })
}

/// Destroys a result and gives its eigenvectors back to the pool. NULL is a no-op.
///
/// # Safety
/// The eigenvector pointer is not used after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_eigen_result_destroy(r: *mut qdsim_eigen_result) -> qdsim_status {
    guard("qdsim_eigen_result_destroy", || {
        if !r.is_null() {
            handles::unregister::<qdsim_eigen_result>(
                r as usize,
                HandleKind::EigenResult,
                "result",
            )?;
        }
        Ok(())
    })
}
