//! CSR matrices to and from files other programs read: PETSc binary (`MatLoad`, SLEPc's
//! `-file`) and MatrixMarket coordinate text. See `src/io/` for the formats.
//!
//! Thread safety: any thread; a CSR matrix may be written by several threads at once (to
//! different files).

use super::boundary::{guard, optional_str, out_param, write_out};
use super::csr::{csr_arg, new_csr_handle, qdsim_csr};
use super::manager::{manager_arg, qdsim_manager};
use super::mapped::path_arg;
use super::status::qdsim_status;
use crate::error::Result;
use crate::io;
use crate::matrix::{AnyCsr, by_scalar};
use crate::memory::MemoryManager;
use std::ffi::c_char;
use std::path::Path;

/// Writes `csr` to `path` (replacing it) in PETSc's binary format with 32-bit integers
/// (big-endian; real values for a real matrix, (re, im) pairs for a complex one — load it with
/// a PETSc built for that scalar type).
///
/// Errors: `QDSIM_ERR_IO`; `QDSIM_ERR_INVALID_ARGUMENT` when the sizes exceed 32-bit integers.
///
/// # Safety
/// `path` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_write_petsc(
    csr: *const qdsim_csr,
    path: *const c_char,
) -> qdsim_status {
    guard("qdsim_csr_write_petsc", || {
        // SAFETY: NUL-terminated per the contract.
        let path = unsafe { path_arg(path)? };
        by_scalar!(&csr_arg(csr)?.csr, m => io::write_petsc(m, path))
    })
}

/// Writes `csr` to `path` (replacing it) as a MatrixMarket coordinate file (`real` or
/// `complex`, `general`, 1-based, values that read back bit-identical).
///
/// # Safety
/// `path` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_write_matrix_market(
    csr: *const qdsim_csr,
    path: *const c_char,
) -> qdsim_status {
    guard("qdsim_csr_write_matrix_market", || {
        // SAFETY: NUL-terminated per the contract.
        let path = unsafe { path_arg(path)? };
        by_scalar!(&csr_arg(csr)?.csr, m => io::write_matrix_market(m, path))
    })
}

/// Reads `path` with `read` into a new CSR handle of `manager` written to `*out`.
///
/// # Safety
/// As for the public functions below.
unsafe fn read_into(
    manager: *mut qdsim_manager,
    path: *const c_char,
    tag: *const c_char,
    out: *mut *mut qdsim_csr,
    read: fn(&MemoryManager, &Path, &str) -> Result<AnyCsr>,
) -> Result<()> {
    let out = out_param(out, "out")?;
    // SAFETY: NUL-terminated per the caller's contract.
    let path = unsafe { path_arg(path)? };
    // SAFETY: NULL or NUL-terminated per the caller's contract.
    let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("csr");
    let manager = manager_arg(manager)?.manager.clone();
    let csr = read(&manager, path, tag)?;
    let ptr = new_csr_handle(csr, manager);
    // SAFETY: checked by out_param; writable per the contract.
    unsafe { write_out(out, ptr) };
    Ok(())
}

/// Reads a MatrixMarket file (coordinate or array; real, integer, pattern or complex; general,
/// symmetric, skew-symmetric or Hermitian, expanded to the full matrix) into a new CSR matrix
/// of `manager` (arrays tagged `tag.*`; NULL: "csr"), written to `*out`.
///
/// Errors: `QDSIM_ERR_CORRUPT_FILE` with the line number of what is malformed (including a
/// line longer than 1 MiB, text that is not UTF-8, sizes beyond 64-bit indices or whose product
/// overflows); `QDSIM_ERR_IO` when the file cannot be opened or read, or is not a regular file
/// (a FIFO, a directory, a device); `QDSIM_ERR_OUT_OF_MEMORY` when the sizes it announces need
/// more memory than the system has available; `QDSIM_ERR_LIMIT_EXCEEDED` past the manager's
/// limit.
///
/// # Safety
/// `path` is NUL-terminated, `tag` NULL or NUL-terminated; `out` points to writable memory for
/// a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_read_matrix_market(
    manager: *mut qdsim_manager,
    path: *const c_char,
    tag: *const c_char,
    out: *mut *mut qdsim_csr,
) -> qdsim_status {
    guard("qdsim_csr_read_matrix_market", || {
        // SAFETY: forwarded contract.
        unsafe {
            read_into(manager, path, tag, out, |m, p, t| {
                io::read_matrix_market(m, p, t)
            })
        }
    })
}

/// Reads a PETSc binary matrix file (32- or 64-bit integers, real or complex values, told apart
/// by the file's length) into a new CSR matrix of `manager`, written to `*out`.
///
/// Errors: `QDSIM_ERR_CORRUPT_FILE` (class id, sizes, indices, truncation); `QDSIM_ERR_IO`
/// when the file cannot be opened or read, or is not a regular file (a FIFO, a directory, a
/// device); `QDSIM_ERR_OUT_OF_MEMORY` when the matrix needs more memory than the system has
/// available; `QDSIM_ERR_LIMIT_EXCEEDED` past the manager's limit.
///
/// # Safety
/// `path` is NUL-terminated, `tag` NULL or NUL-terminated; `out` points to writable memory for
/// a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_read_petsc(
    manager: *mut qdsim_manager,
    path: *const c_char,
    tag: *const c_char,
    out: *mut *mut qdsim_csr,
) -> qdsim_status {
    guard("qdsim_csr_read_petsc", || {
        // SAFETY: forwarded contract.
        unsafe { read_into(manager, path, tag, out, |m, p, t| io::read_petsc(m, p, t)) }
    })
}
