//! The `qdsim_matrix` handle: a dense real or complex matrix in a manager's pool (column-major,
//! leading dimension `ld` keeping every column 64-byte aligned), usable directly by LAPACK-style
//! code through its data pointer, with cache-blocked copy / transpose / conjugate transpose.
//!
//! Thread safety: a matrix may be used from several threads; `qdsim_matrix_copy` and friends
//! lock the matrices they touch. Writing through the data pointer while another thread copies
//! the same matrix is the program's race to avoid.
//!
//! A matrix keeps its manager's pools alive in Rust, but `qdsim_manager_destroy` frees every
//! block anyway: afterwards the matrix's functions return `QDSIM_ERR_INVALID_HANDLE` (and
//! `qdsim_matrix_destroy` still works).

use super::boundary::{guard, optional_str, out_param, write_out};
use super::handles::{self, HandleKind};
use super::manager::{manager_arg, qdsim_manager};
use super::status::qdsim_status;
use super::types::{qdsim_scalar, scalar_kind, scalar_value};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{AnyMatrix, DenseOp};
use crate::memory::MemoryManager;
use parking_lot::Mutex;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// A dense matrix. Create with `qdsim_matrix_create`, destroy with `qdsim_matrix_destroy`.
#[allow(non_camel_case_types)]
pub struct qdsim_matrix {
    pub(crate) matrix: Mutex<AnyMatrix>,
    pub(crate) manager: MemoryManager,
}

/// Shape and storage of a dense matrix.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_matrix_info {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Leading dimension: element (i, j) is at data[i + j·ld].
    pub ld: usize,
    /// `QDSIM_SCALAR_REAL` (double) or `QDSIM_SCALAR_COMPLEX` (qdsim_complex).
    pub scalar: qdsim_scalar,
    /// Bytes held in the pool, padding included.
    pub bytes: u64,
}

impl qdsim_matrix {
    /// True when `addr` is this matrix's array (not blocking: a matrix locked by another call
    /// is reported as not owning it).
    pub(crate) fn owns_block(&self, addr: usize) -> bool {
        self.matrix
            .try_lock()
            .is_some_and(|m| m.data_ptr() as usize == addr)
    }
}

/// Fails when the manager that owns an object's memory was destroyed.
pub(crate) fn check_manager_alive(manager: &MemoryManager, what: &str) -> Result<()> {
    if manager.is_closed() {
        return Err(Error::new(
            ErrorKind::InvalidHandle,
            format!(
                "the manager of this {what} was destroyed, and with it the {what}'s memory; destroy the {what}"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn matrix_arg(matrix: *const qdsim_matrix, name: &str) -> Result<Arc<qdsim_matrix>> {
    let handle: Arc<qdsim_matrix> = handles::lookup(matrix as usize, HandleKind::Matrix, name)?;
    check_manager_alive(&handle.manager, "qdsim_matrix")?;
    Ok(handle)
}

/// Creates a zero `rows × cols` matrix of `scalar` (`QDSIM_SCALAR_REAL` or
/// `QDSIM_SCALAR_COMPLEX`) in `manager`'s pool, tagged `tag` (NULL for untagged).
///
/// Errors: `QDSIM_ERR_INVALID_ARGUMENT` (bad scalar, rows × cols overflow), the allocation
/// errors of `qdsim_manager_alloc`.
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_create(
    manager: *mut qdsim_manager,
    scalar: qdsim_scalar,
    rows: usize,
    cols: usize,
    tag: *const c_char,
    out: *mut *mut qdsim_matrix,
) -> qdsim_status {
    guard("qdsim_matrix_create", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?.manager.clone();
        let kind = scalar_kind(scalar, false)?.expect("AUTO not allowed");
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("");
        let matrix = AnyMatrix::zeros(&manager, kind, rows, cols, tag)?;
        let ptr = handles::new_handle(
            HandleKind::Matrix,
            qdsim_matrix {
                matrix: Mutex::new(matrix),
                manager,
            },
        );
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Destroys a matrix and gives its memory back to the pool. NULL is a no-op; a destroyed
/// handle gives `QDSIM_ERR_INVALID_HANDLE`.
///
/// # Safety
/// The matrix's data pointer is not used after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_destroy(matrix: *mut qdsim_matrix) -> qdsim_status {
    guard("qdsim_matrix_destroy", || {
        if !matrix.is_null() {
            handles::unregister::<qdsim_matrix>(matrix as usize, HandleKind::Matrix, "matrix")?;
        }
        Ok(())
    })
}

/// Writes the matrix's shape, leading dimension, scalar type and size to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_matrix_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_get_info(
    matrix: *const qdsim_matrix,
    out: *mut qdsim_matrix_info,
) -> qdsim_status {
    guard("qdsim_matrix_get_info", || {
        let out = out_param(out, "out")?;
        let handle = matrix_arg(matrix, "matrix")?;
        let m = handle.matrix.lock();
        let (rows, cols, ld) = m.shape();
        let info = qdsim_matrix_info {
            rows,
            cols,
            ld,
            scalar: scalar_value(m.kind()),
            bytes: m.size_bytes() as u64,
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, info) };
        Ok(())
    })
}

/// Writes the address of element (0, 0) to `*data` (a `double *` or `qdsim_complex *`
/// according to the scalar type; element (i, j) is at `data[i + j·ld]`, every column 64-byte
/// aligned). The pointer stays valid until the matrix or its manager is destroyed.
///
/// # Safety
/// `data` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_data(
    matrix: *const qdsim_matrix,
    data: *mut *mut c_void,
) -> qdsim_status {
    guard("qdsim_matrix_data", || {
        let out = out_param(data, "data")?;
        let ptr = matrix_arg(matrix, "matrix")?.matrix.lock().data_ptr();
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr.cast()) };
        Ok(())
    })
}

fn dense_op(src: *const qdsim_matrix, dst: *mut qdsim_matrix, op: DenseOp) -> Result<()> {
    let src_handle = matrix_arg(src, "src")?;
    let dst_handle = matrix_arg(dst, "dst")?;
    if Arc::ptr_eq(&src_handle, &dst_handle) {
        return Err(Error::invalid_argument(
            "src and dst are the same matrix; the operation needs a separate destination",
        ));
    }
    // Lock in address order so that two threads copying A→B and B→A cannot deadlock.
    let (first, second) = if (src as usize) < (dst as usize) {
        (&src_handle, &dst_handle)
    } else {
        (&dst_handle, &src_handle)
    };
    let mut a = first.matrix.lock();
    let mut b = second.matrix.lock();
    let (src_m, dst_m) = if (src as usize) < (dst as usize) {
        (&*a, &mut *b)
    } else {
        (&*b, &mut *a)
    };
    dst_m.assign_from(src_m, op)
}

/// `dst = src` (same shape and scalar type), column by column.
///
/// # Safety
/// Always safe to call; both handles are checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_copy(
    src: *const qdsim_matrix,
    dst: *mut qdsim_matrix,
) -> qdsim_status {
    guard("qdsim_matrix_copy", || dense_op(src, dst, DenseOp::Copy))
}

/// `dst = srcᵀ` with the cache-blocked kernel (`dst` is `cols × rows` of `src`).
///
/// # Safety
/// Always safe to call; both handles are checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_transpose(
    src: *const qdsim_matrix,
    dst: *mut qdsim_matrix,
) -> qdsim_status {
    guard("qdsim_matrix_transpose", || {
        dense_op(src, dst, DenseOp::Transpose)
    })
}

/// `dst = srcᴴ` (conjugate transpose; the transpose for real matrices), cache-blocked.
///
/// # Safety
/// Always safe to call; both handles are checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_matrix_adjoint(
    src: *const qdsim_matrix,
    dst: *mut qdsim_matrix,
) -> qdsim_status {
    guard("qdsim_matrix_adjoint", || {
        dense_op(src, dst, DenseOp::Adjoint)
    })
}
