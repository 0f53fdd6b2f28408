//! The `qdsim_mapped` handle: a dense or CSR matrix in a memory-mapped file (format in
//! `src/matrix/mapped/header.rs`): create, open, read and write columns or use the mapping
//! directly, grow, flush, finalize, and convert from and to `qdsim_csr` / `qdsim_matrix`.
//!
//! A file must be finalized (`qdsim_mapped_finalize`) before its handle is destroyed. A new file
//! (`qdsim_mapped_create_dense`, `qdsim_mapped_from_*`) is written under a temporary name beside
//! its path and renamed over it by the first finalize: destroyed before that, or after a failure,
//! it is removed and whatever the path held stays. A file opened writable and changed but not
//! finalized again is refused on the next open (`QDSIM_ERR_CORRUPT_FILE`), exactly as after a
//! crash mid-write.
//! Writing through a read-only handle returns `QDSIM_ERR_INVALID_ARGUMENT`.
//!
//! Thread safety: a handle may be used from several threads. Calls that only read it (info,
//! arrays, verify, copies out, the mapped solve) share it; calls that change it (writes, grow,
//! finalize) have it to themselves and wait for the others. A solve runs its progress callback
//! while it shares the handle: from there the reading calls work, and the changing ones are
//! refused at once with `QDSIM_ERR_INVALID_ARGUMENT` (they would wait for the solve, which
//! waits for the callback). Pointers from `qdsim_mapped_data*` stay valid until the handle is
//! destroyed or grown.

use super::boundary::{
    check_disjoint, guard, in_slice, optional_str, out_param, out_slice, write_out,
};
use super::csr::{csr_arg, new_csr_handle, qdsim_csr};
use super::handles::{self, HandleKind};
use super::manager::{manager_arg, qdsim_manager};
use super::matrix::{matrix_arg, qdsim_matrix};
use super::status::qdsim_status;
use super::types::{qdsim_scalar, scalar_kind, scalar_value};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::mapped::{AnyMapped, Layout, MappedCsr, MappedDense, MappedIndices};
use crate::matrix::{Scalar, by_scalar};
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::ffi::{c_char, c_void};
use std::path::Path;
use std::sync::Arc;

/// A matrix in a memory-mapped file. Create with `qdsim_mapped_create_dense`,
/// `qdsim_mapped_open`, `qdsim_mapped_from_csr` or `qdsim_mapped_from_matrix`; destroy with
/// `qdsim_mapped_destroy`.
#[allow(non_camel_case_types)]
pub struct qdsim_mapped {
    mapped: RwLock<AnyMapped>,
}

impl qdsim_mapped {
    /// Shared access; never waits for a writer while this thread already shares the handle (a
    /// call from the progress callback of a solve on it).
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, AnyMapped> {
        self.mapped.read_recursive()
    }

    /// Exclusive access for `function`; refused at once when a call further up this thread's
    /// stack (a solve whose progress callback made this call) shares the handle.
    pub(crate) fn write(&self, function: &str) -> Result<RwLockWriteGuard<'_, AnyMapped>> {
        let key = self as *const Self as usize;
        if handles::held_here(key) {
            return Err(Error::invalid_argument(format!(
                "the qdsim_mapped {key:#x} is in use by a solve on this thread (this call comes \
                 from its progress callback); {function} changes the handle and must wait until \
                 the solve returns"
            )));
        }
        Ok(self.mapped.write())
    }

    /// Shared access for a call that runs user code (a solve with a progress callback): until
    /// the guard is dropped, this thread's [`write`](Self::write)s are refused instead of
    /// waiting for themselves.
    pub(crate) fn read_running_callbacks(
        &self,
    ) -> (RwLockReadGuard<'_, AnyMapped>, handles::HeldHere) {
        let held = handles::HeldHere::new(self as *const Self as usize);
        (self.read(), held)
    }
}

/// How a mapped matrix is stored: one of the `QDSIM_MAPPED_*` values.
#[allow(non_camel_case_types)]
pub type qdsim_mapped_layout = i32;

/// Dense, column-major: element (i, j) at `data[i + j·ld]`, every column 64-byte aligned.
pub const QDSIM_MAPPED_DENSE: qdsim_mapped_layout = 0;
/// Compressed sparse rows.
pub const QDSIM_MAPPED_CSR: qdsim_mapped_layout = 1;

/// What a mapped file holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_mapped_info {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Stored entries (CSR; 0 for dense).
    pub nnz: usize,
    /// Leading dimension in elements (dense; 0 for CSR).
    pub ld: usize,
    /// Length of the file in bytes.
    pub file_bytes: u64,
    /// `QDSIM_MAPPED_DENSE` or `QDSIM_MAPPED_CSR`.
    pub layout: qdsim_mapped_layout,
    /// `QDSIM_SCALAR_REAL` or `QDSIM_SCALAR_COMPLEX`.
    pub scalar: qdsim_scalar,
    /// 32 or 64 for CSR (`int32_t` / `int64_t` arrays), 0 for dense.
    pub index_bits: i32,
    /// 1 when mapped writable, 0 when read-only.
    pub writable: i32,
    /// 1 when the file is finalized now, 0 while it is being written.
    pub finalized: i32,
}

/// The UTF-8 path at `path` (required).
///
/// # Safety
/// When not NULL, `path` points to a NUL-terminated string.
pub(crate) unsafe fn path_arg<'a>(path: *const c_char) -> Result<&'a Path> {
    // SAFETY: NULL or NUL-terminated per the caller's contract.
    unsafe { optional_str(path, "path")? }
        .map(Path::new)
        .ok_or_else(|| Error::new(ErrorKind::NullArgument, "path is NULL"))
}

pub(crate) fn mapped_arg(mapped: *const qdsim_mapped) -> Result<Arc<qdsim_mapped>> {
    handles::lookup(mapped as usize, HandleKind::Mapped, "mapped")
}

fn new_mapped_handle(mapped: AnyMapped) -> *mut qdsim_mapped {
    handles::new_handle(
        HandleKind::Mapped,
        qdsim_mapped {
            mapped: RwLock::new(mapped),
        },
    )
}

fn not_dense(what: &str) -> Error {
    Error::invalid_argument(format!(
        "the file holds a CSR matrix; {what} needs a dense one (use qdsim_mapped_csr_arrays or \
         qdsim_mapped_to_csr)"
    ))
}

/// Creates a zero `rows × cols` dense matrix of `scalar` that replaces file `path` at its first
/// `qdsim_mapped_finalize`, mapped writable, and writes its handle to `*out`. Fill it (through
/// `qdsim_mapped_data_mut` or `qdsim_mapped_write_columns`), then finalize. Until then it lives
/// under a temporary name in the same directory: a failure, or destroying the handle before
/// finalize, removes it and leaves whatever `path` held untouched.
///
/// Errors: `QDSIM_ERR_INVALID_ARGUMENT` (bad scalar, size overflow), `QDSIM_ERR_IO`.
///
/// # Safety
/// `path` is NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_create_dense(
    path: *const c_char,
    scalar: qdsim_scalar,
    rows: usize,
    cols: usize,
    out: *mut *mut qdsim_mapped,
) -> qdsim_status {
    guard("qdsim_mapped_create_dense", || {
        let out = out_param(out, "out")?;
        // SAFETY: NUL-terminated per the contract.
        let path = unsafe { path_arg(path)? };
        let kind = scalar_kind(scalar, false)?.expect("AUTO not allowed");
        let ptr = new_mapped_handle(AnyMapped::create_dense(path, kind, rows, cols)?);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Opens a finalized mapped-matrix file (dense or CSR, real or complex, as its header says),
/// read-only when `writable` is 0, and writes its handle to `*out`. CSR files are validated.
///
/// Errors: `QDSIM_ERR_CORRUPT_FILE` with what is wrong (unfinalized, truncated, bad magic,
/// header checksum, version, sizes, CSR structure), `QDSIM_ERR_IO` (cannot open or map it, or
/// it is not a regular file: a FIFO, a directory, a device).
///
/// # Safety
/// `path` is NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_open(
    path: *const c_char,
    writable: i32,
    out: *mut *mut qdsim_mapped,
) -> qdsim_status {
    guard("qdsim_mapped_open", || {
        let out = out_param(out, "out")?;
        // SAFETY: NUL-terminated per the contract.
        let path = unsafe { path_arg(path)? };
        let ptr = new_mapped_handle(AnyMapped::open(path, writable != 0)?);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Opens a file as `qdsim_mapped_open` does, after checking its data against its checksums
/// (reading all of it; see `qdsim_mapped_verify`).
///
/// Errors: those of `qdsim_mapped_open`; `QDSIM_ERR_CORRUPT_FILE` naming the first damaged
/// block; `QDSIM_ERR_INVALID_ARGUMENT` ("not checksummed") for a file of format version 1, which
/// has no data checksums.
///
/// # Safety
/// `path` is NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_open_verified(
    path: *const c_char,
    writable: i32,
    out: *mut *mut qdsim_mapped,
) -> qdsim_status {
    guard("qdsim_mapped_open_verified", || {
        let out = out_param(out, "out")?;
        // SAFETY: NUL-terminated per the contract.
        let path = unsafe { path_arg(path)? };
        let ptr = new_mapped_handle(AnyMapped::open_verified(path, writable != 0)?);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Checks the data of a mapped file against its per-block CRC-32C checksums (written by
/// finalize; format version 2), reading all of it. This is the only way to detect data changed
/// after the file was opened (opening checks only the header and CSR structure, unless opened
/// with `qdsim_mapped_open_verified`).
///
/// Errors: `QDSIM_ERR_CORRUPT_FILE` naming the first damaged block and its byte range (or a
/// damaged checksum table); `QDSIM_ERR_INVALID_ARGUMENT` ("not checksummed") for a file of format
/// version 1, and for a writable file changed since its last finalize (finalize first).
///
/// # Safety
/// Always safe to call; the handle is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_verify(mapped: *const qdsim_mapped) -> qdsim_status {
    guard("qdsim_mapped_verify", || {
        mapped_arg(mapped)?.read().verify().map(drop)
    })
}

/// Unmaps the file and destroys the handle. NULL is a no-op. Modified pages reach the file,
/// but a file not finalized since its last change is refused by the next open.
///
/// # Safety
/// Pointers from `qdsim_mapped_data*` and `qdsim_mapped_csr_arrays` are not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_destroy(mapped: *mut qdsim_mapped) -> qdsim_status {
    guard("qdsim_mapped_destroy", || {
        if !mapped.is_null() {
            handles::unregister::<qdsim_mapped>(mapped as usize, HandleKind::Mapped, "mapped")?;
        }
        Ok(())
    })
}

/// Writes what the file holds (layout, scalar type, shape, state) to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_mapped_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_get_info(
    mapped: *const qdsim_mapped,
    out: *mut qdsim_mapped_info,
) -> qdsim_status {
    guard("qdsim_mapped_get_info", || {
        let out = out_param(out, "out")?;
        let handle = mapped_arg(mapped)?;
        let m = handle.read();
        let h = m.header();
        let info = qdsim_mapped_info {
            rows: h.rows as usize,
            cols: h.cols as usize,
            nnz: h.nnz as usize,
            ld: h.ld as usize,
            file_bytes: h.file_len,
            layout: match h.layout {
                Layout::Dense => QDSIM_MAPPED_DENSE,
                Layout::Csr => QDSIM_MAPPED_CSR,
            },
            scalar: scalar_value(h.scalar),
            index_bits: h.index_bits as i32,
            writable: i32::from(m.is_writable()),
            finalized: i32::from(h.finalized),
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, info) };
        Ok(())
    })
}

/// Writes the address of element (0, 0) of a dense mapped matrix to `*data` (`const double *`
/// or `const qdsim_complex *`; element (i, j) at `data[i + j·ld]`) and its leading dimension to
/// `*ld`. Read-only access: never write through this pointer (a read-only mapping would fault).
///
/// # Safety
/// `data` and `ld` point to writable memory for a pointer and a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_data(
    mapped: *const qdsim_mapped,
    data: *mut *const c_void,
    ld: *mut usize,
) -> qdsim_status {
    guard("qdsim_mapped_data", || {
        let (data_out, ld_out) = (out_param(data, "data")?, out_param(ld, "ld")?);
        let handle = mapped_arg(mapped)?;
        let m = handle.read();
        let AnyMapped::Dense(d) = &*m else {
            return Err(not_dense("qdsim_mapped_data"));
        };
        let (ptr, stride) = by_scalar!(d, d => (d.as_slice().as_ptr().cast::<c_void>(), d.ld()));
        // SAFETY: both checked by out_param; writable per the contract.
        unsafe {
            write_out(data_out, ptr);
            write_out(ld_out, stride);
        }
        Ok(())
    })
}

/// Like `qdsim_mapped_data`, for writing through the pointer: refused with
/// `QDSIM_ERR_INVALID_ARGUMENT` for a read-only mapping. Marks the file unfinalized until the
/// next `qdsim_mapped_finalize`.
///
/// # Safety
/// `data` and `ld` point to writable memory for a pointer and a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_data_mut(
    mapped: *mut qdsim_mapped,
    data: *mut *mut c_void,
    ld: *mut usize,
) -> qdsim_status {
    guard("qdsim_mapped_data_mut", || {
        let (data_out, ld_out) = (out_param(data, "data")?, out_param(ld, "ld")?);
        let handle = mapped_arg(mapped)?;
        let mut m = handle.write("qdsim_mapped_data_mut")?;
        let AnyMapped::Dense(d) = &mut *m else {
            return Err(not_dense("qdsim_mapped_data_mut"));
        };
        let (ptr, stride) = by_scalar!(d, d => {
            let ld = d.ld();
            (d.as_mut_slice()?.as_mut_ptr().cast::<c_void>(), ld)
        });
        // SAFETY: both checked by out_param; writable per the contract.
        unsafe {
            write_out(data_out, ptr);
            write_out(ld_out, stride);
        }
        Ok(())
    })
}

/// Writes the addresses of a mapped CSR matrix's arrays (read-only; `int32_t`/`int64_t` per
/// `index_bits`, values `double`/`qdsim_complex` per `scalar`; see `qdsim_csr_arrays`).
///
/// # Safety
/// The three out-pointers point to writable memory for a pointer each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_csr_arrays(
    mapped: *const qdsim_mapped,
    row_ptr: *mut *const c_void,
    col_idx: *mut *const c_void,
    values: *mut *const c_void,
) -> qdsim_status {
    guard("qdsim_mapped_csr_arrays", || {
        let (rp_out, ci_out, v_out) = (
            out_param(row_ptr, "row_ptr")?,
            out_param(col_idx, "col_idx")?,
            out_param(values, "values")?,
        );
        let handle = mapped_arg(mapped)?;
        let m = handle.read();
        fn ptrs(i: MappedIndices<'_>) -> (*const c_void, *const c_void) {
            match i {
                MappedIndices::I32 { row_ptr, col_idx } => {
                    (row_ptr.as_ptr().cast(), col_idx.as_ptr().cast())
                }
                MappedIndices::I64 { row_ptr, col_idx } => {
                    (row_ptr.as_ptr().cast(), col_idx.as_ptr().cast())
                }
            }
        }
        let AnyMapped::Csr(c) = &*m else {
            return Err(Error::invalid_argument(
                "the file holds a dense matrix; use qdsim_mapped_data",
            ));
        };
        let ((rp, ci), v) =
            by_scalar!(c, c => (ptrs(c.indices()), c.values().as_ptr().cast::<c_void>()));
        // SAFETY: all three checked by out_param; writable per the contract.
        unsafe {
            write_out(rp_out, rp);
            write_out(ci_out, ci);
            write_out(v_out, v);
        }
        Ok(())
    })
}

/// Columns `first .. first + count` and a caller's buffer with leading dimension `buffer_ld`.
struct Columns {
    first: usize,
    count: usize,
    buffer_ld: usize,
}

/// Copies columns between a dense mapped matrix and a caller's buffer (`to_file`: buffer → file).
fn copy_columns<T: Scalar>(
    m: &mut MappedDense<T>,
    c: &Columns,
    buffer: *mut c_void,
    to_file: bool,
) -> Result<()> {
    if to_file {
        // The same refusal as any other write, even for zero columns, before the range checks.
        m.require_writable()?;
    }
    let len = m.columns_buffer_len(c.first, c.count, c.buffer_ld)?;
    let data = m.as_slice();
    check_disjoint(buffer.cast::<T>(), len, data.as_ptr(), data.len())?;
    if to_file {
        // SAFETY: `len` readable elements per the caller's contract; disjoint from the mapping.
        let src = unsafe { in_slice(buffer.cast::<T>().cast_const(), len, "src")? };
        m.write_columns(c.first, c.count, src, c.buffer_ld)
    } else {
        // SAFETY: `len` writable elements per the caller's contract; disjoint from the mapping.
        let dst = unsafe { out_slice(buffer.cast::<T>(), len, "dst")? };
        m.read_columns(c.first, c.count, dst, c.buffer_ld)
    }
}

fn columns_call(
    mapped: *const qdsim_mapped,
    scalar: qdsim_scalar,
    c: Columns,
    buffer: *mut c_void,
    to_file: bool,
) -> Result<()> {
    let kind = scalar_kind(scalar, false)?.expect("AUTO not allowed");
    let handle = mapped_arg(mapped)?;
    let what = if to_file {
        "qdsim_mapped_write_columns"
    } else {
        "qdsim_mapped_read_columns"
    };
    let mut m = handle.write(what)?;
    let file_kind = m.header().scalar;
    if kind != file_kind {
        return Err(Error::invalid_argument(format!(
            "the buffer is {} but the file holds {} elements",
            kind.name(),
            file_kind.name()
        )));
    }
    let AnyMapped::Dense(d) = &mut *m else {
        return Err(not_dense(what));
    };
    by_scalar!(d, d => copy_columns(d, &c, buffer, to_file))
}

/// Copies columns `first .. first + count` of a dense mapped matrix into `dst` (column k at
/// `dst + k·ld_dst`, `ld_dst ≥ rows`); `scalar` must be the file's element type.
///
/// # Safety
/// `dst` points to `ld_dst·(count − 1) + rows` writable elements of the scalar type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_read_columns(
    mapped: *const qdsim_mapped,
    scalar: qdsim_scalar,
    first: usize,
    count: usize,
    dst: *mut c_void,
    ld_dst: usize,
) -> qdsim_status {
    guard("qdsim_mapped_read_columns", || {
        let c = Columns {
            first,
            count,
            buffer_ld: ld_dst,
        };
        columns_call(mapped, scalar, c, dst, false)
    })
}

/// Copies `count` columns from `src` (column k at `src + k·ld_src`) into columns
/// `first .. first + count` of a writable dense mapped matrix (refused with
/// `QDSIM_ERR_INVALID_ARGUMENT` when read-only). Marks the file unfinalized.
///
/// # Safety
/// `src` points to `ld_src·(count − 1) + rows` elements of the scalar type.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_write_columns(
    mapped: *mut qdsim_mapped,
    scalar: qdsim_scalar,
    first: usize,
    count: usize,
    src: *const c_void,
    ld_src: usize,
) -> qdsim_status {
    guard("qdsim_mapped_write_columns", || {
        let c = Columns {
            first,
            count,
            buffer_ld: ld_src,
        };
        columns_call(mapped, scalar, c, src.cast_mut(), true)
    })
}

/// Grows a writable dense mapped matrix to `cols` columns (new columns zero; existing data
/// stays). Earlier data pointers are invalid afterwards. Marks the file unfinalized.
///
/// # Safety
/// Always safe to call; the handle is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_grow(mapped: *mut qdsim_mapped, cols: usize) -> qdsim_status {
    guard("qdsim_mapped_grow", || {
        let handle = mapped_arg(mapped)?;
        let mut m = handle.write("qdsim_mapped_grow")?;
        let AnyMapped::Dense(d) = &mut *m else {
            return Err(not_dense("qdsim_mapped_grow"));
        };
        by_scalar!(d, d => d.grow_cols(cols))
    })
}

/// Writes modified pages back to the file (`msync`) without finalizing it. No-op when
/// read-only.
///
/// # Safety
/// Always safe to call; the handle is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_flush(mapped: *mut qdsim_mapped) -> qdsim_status {
    guard("qdsim_mapped_flush", || mapped_arg(mapped)?.read().flush())
}

/// Makes the data durable, then marks the file finalized so that it can be opened again.
/// Refused (`QDSIM_ERR_INVALID_ARGUMENT`) for a read-only mapping.
///
/// # Safety
/// Always safe to call; the handle is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_finalize(mapped: *mut qdsim_mapped) -> qdsim_status {
    guard("qdsim_mapped_finalize", || {
        mapped_arg(mapped)?
            .write("qdsim_mapped_finalize")?
            .finalize()
    })
}

/// Writes CSR matrix `csr` (same index width) to a new file `path` (replacing it), finalized,
/// and writes the writable handle to `*out`.
///
/// # Safety
/// `path` is NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_from_csr(
    csr: *const qdsim_csr,
    path: *const c_char,
    out: *mut *mut qdsim_mapped,
) -> qdsim_status {
    guard("qdsim_mapped_from_csr", || {
        let out = out_param(out, "out")?;
        // SAFETY: NUL-terminated per the contract.
        let path = unsafe { path_arg(path)? };
        let handle = csr_arg(csr)?;
        let mapped =
            AnyMapped::Csr(by_scalar!(map &handle.csr, m => MappedCsr::from_csr(path, m)?));
        let ptr = new_mapped_handle(mapped);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Copies a mapped CSR matrix into a new `qdsim_csr` of `manager` (arrays tagged `tag.*`;
/// NULL tag: "csr").
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_to_csr(
    mapped: *const qdsim_mapped,
    manager: *mut qdsim_manager,
    tag: *const c_char,
    out: *mut *mut qdsim_csr,
) -> qdsim_status {
    guard("qdsim_mapped_to_csr", || {
        let out = out_param(out, "out")?;
        let handle = mapped_arg(mapped)?;
        let manager = manager_arg(manager)?.manager.clone();
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("csr");
        let csr = match &*handle.read() {
            AnyMapped::Csr(c) => by_scalar!(map c, c => c.to_csr(&manager, tag)?),
            AnyMapped::Dense(_) => {
                return Err(Error::invalid_argument(
                    "the file holds a dense matrix; use qdsim_mapped_to_matrix",
                ));
            }
        };
        let ptr = new_csr_handle(csr, manager);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Writes dense matrix `matrix` to a new file `path` (replacing it), finalized, and writes the
/// writable handle to `*out`.
///
/// # Safety
/// `path` is NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_from_matrix(
    matrix: *const qdsim_matrix,
    path: *const c_char,
    out: *mut *mut qdsim_mapped,
) -> qdsim_status {
    guard("qdsim_mapped_from_matrix", || {
        let out = out_param(out, "out")?;
        // SAFETY: NUL-terminated per the contract.
        let path = unsafe { path_arg(path)? };
        let handle = matrix_arg(matrix, "matrix")?;
        let mapped = AnyMapped::Dense(
            by_scalar!(map &*handle.matrix.lock(), m => MappedDense::from_managed(path, m)?),
        );
        let ptr = new_mapped_handle(mapped);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Copies a dense mapped matrix into a new `qdsim_matrix` of `manager`, tagged `tag`.
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_mapped_to_matrix(
    mapped: *const qdsim_mapped,
    manager: *mut qdsim_manager,
    tag: *const c_char,
    out: *mut *mut qdsim_matrix,
) -> qdsim_status {
    guard("qdsim_mapped_to_matrix", || {
        let out = out_param(out, "out")?;
        let handle = mapped_arg(mapped)?;
        let manager = manager_arg(manager)?.manager.clone();
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("");
        let matrix = match &*handle.read() {
            AnyMapped::Dense(d) => by_scalar!(map d, d => d.to_managed(&manager, tag)?),
            AnyMapped::Csr(_) => return Err(not_dense("qdsim_mapped_to_matrix")),
        };
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
