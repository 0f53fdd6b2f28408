//! The `qdsim_csr_builder` and `qdsim_csr` handles: assemble a sparse matrix entry by entry
//! (any order, duplicates summed), then read its arrays or multiply with it.
//!
//! Thread safety: a builder may be shared, each call locks it (entries from several threads
//! arrive in an unspecified order, which only changes the summation order of duplicates). A CSR
//! matrix is immutable: any number of threads may multiply with it at once.

use super::boundary::{
    check_disjoint, guard, in_slice, optional_str, out_param, out_slice, write_out,
};
use super::handles::{self, HandleKind};
use super::manager::{manager_arg, qdsim_manager};
use super::matrix::check_manager_alive;
use super::status::qdsim_status;
use super::types::{qdsim_complex, qdsim_scalar, scalar_kind, scalar_value};
use crate::error::{Error, Result};
use crate::matrix::{AnyCsr, ByScalar, CsrBuilder, CsrIndices, CsrInfo, Scalar, by_scalar};
use crate::memory::MemoryManager;
use num_complex::Complex64;
use parking_lot::Mutex;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// A builder of either scalar type.
/// cbindgen:ignore
type AnyBuilder = ByScalar<CsrBuilder<f64>, CsrBuilder<Complex64>>;

/// A sparse matrix under construction.
#[allow(non_camel_case_types)]
pub struct qdsim_csr_builder {
    builder: Mutex<AnyBuilder>,
    manager: MemoryManager,
}

/// A sparse matrix in CSR form (arrays in the manager's pools).
#[allow(non_camel_case_types)]
pub struct qdsim_csr {
    pub(crate) csr: AnyCsr,
    pub(crate) manager: MemoryManager,
}

/// Shape and storage of a CSR matrix.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_csr_info {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Stored entries.
    pub nnz: usize,
    /// 32 (`int32_t` row pointers and column indices) or 64 (`int64_t`).
    pub index_bits: i32,
    /// `QDSIM_SCALAR_REAL` (double values) or `QDSIM_SCALAR_COMPLEX` (qdsim_complex values).
    pub scalar: qdsim_scalar,
    /// Exact bytes of the three arrays.
    pub bytes: u64,
}

impl qdsim_csr {
    /// True when `addr` is one of this matrix's three arrays.
    pub(crate) fn owns_block(&self, addr: usize) -> bool {
        let (rp, ci) = match by_scalar!(&self.csr, m => m.indices()) {
            CsrIndices::I32 { row_ptr, col_idx } => {
                (row_ptr.as_ptr() as usize, col_idx.as_ptr() as usize)
            }
            CsrIndices::I64 { row_ptr, col_idx } => {
                (row_ptr.as_ptr() as usize, col_idx.as_ptr() as usize)
            }
        };
        let values = by_scalar!(&self.csr, m => m.values().as_ptr() as usize);
        [rp, ci, values].contains(&addr)
    }
}

fn builder_arg(builder: *const qdsim_csr_builder) -> Result<Arc<qdsim_csr_builder>> {
    let handle: Arc<qdsim_csr_builder> =
        handles::lookup(builder as usize, HandleKind::CsrBuilder, "builder")?;
    check_manager_alive(&handle.manager, "qdsim_csr_builder")?;
    Ok(handle)
}

pub(crate) fn csr_arg(csr: *const qdsim_csr) -> Result<Arc<qdsim_csr>> {
    let handle: Arc<qdsim_csr> = handles::lookup(csr as usize, HandleKind::Csr, "csr")?;
    check_manager_alive(&handle.manager, "qdsim_csr")?;
    Ok(handle)
}

/// Registers `csr` as a new handle.
pub(crate) fn new_csr_handle(csr: AnyCsr, manager: MemoryManager) -> *mut qdsim_csr {
    handles::new_handle(HandleKind::Csr, qdsim_csr { csr, manager })
}

/// Creates a builder for a `rows × cols` matrix of `scalar`; the final arrays are tagged
/// `tag.row_ptr`, `tag.col_idx` and `tag.values` (entries being collected: `tag.entries`).
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_builder_create(
    manager: *mut qdsim_manager,
    scalar: qdsim_scalar,
    rows: usize,
    cols: usize,
    tag: *const c_char,
    out: *mut *mut qdsim_csr_builder,
) -> qdsim_status {
    guard("qdsim_csr_builder_create", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?.manager.clone();
        let kind = scalar_kind(scalar, false)?.expect("AUTO not allowed");
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("csr");
        let builder: AnyBuilder =
            by_scalar!(new kind, T => CsrBuilder::<T>::new(&manager, rows, cols, tag)?);
        let ptr = handles::new_handle(
            HandleKind::CsrBuilder,
            qdsim_csr_builder {
                builder: Mutex::new(builder),
                manager,
            },
        );
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Destroys a builder and the entries it holds. NULL is a no-op.
///
/// # Safety
/// Always safe to call; the handle is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_builder_destroy(
    builder: *mut qdsim_csr_builder,
) -> qdsim_status {
    guard("qdsim_csr_builder_destroy", || {
        if !builder.is_null() {
            handles::unregister::<qdsim_csr_builder>(
                builder as usize,
                HandleKind::CsrBuilder,
                "builder",
            )?;
        }
        Ok(())
    })
}

fn add(builder: *mut qdsim_csr_builder, row: usize, col: usize, value: Complex64) -> Result<()> {
    let handle = builder_arg(builder)?;
    let mut b = handle.builder.lock();
    by_scalar!(&mut *b, b => {
        let value = Scalar::from_complex(value).ok_or_else(|| {
            Error::invalid_argument(format!(
                "entry ({row}, {col}) = {value} has an imaginary part but the builder is real"
            ))
        })?;
        b.add_element(row, col, value)
    })
}

/// Adds the real `value` at (`row`, `col`) (0-based); entries at the same position are summed.
/// Refused (nothing added): position out of range, non-finite value.
///
/// # Safety
/// Always safe to call; the handle is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_builder_add(
    builder: *mut qdsim_csr_builder,
    row: usize,
    col: usize,
    value: f64,
) -> qdsim_status {
    guard("qdsim_csr_builder_add", || {
        add(builder, row, col, Complex64::new(value, 0.0))
    })
}

/// Adds the complex `value` at (`row`, `col`); a real builder accepts it only when the imaginary
/// part is 0.
///
/// # Safety
/// Always safe to call; the handle is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_builder_add_complex(
    builder: *mut qdsim_csr_builder,
    row: usize,
    col: usize,
    value: qdsim_complex,
) -> qdsim_status {
    guard("qdsim_csr_builder_add_complex", || {
        add(builder, row, col, value.into())
    })
}

/// Sorts the entries, sums duplicates and writes the new CSR matrix to `*out`. The builder is
/// emptied (and may be reused) on success, unchanged on failure; it must still be destroyed.
///
/// # Safety
/// `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_builder_finalize(
    builder: *mut qdsim_csr_builder,
    out: *mut *mut qdsim_csr,
) -> qdsim_status {
    guard("qdsim_csr_builder_finalize", || {
        let out = out_param(out, "out")?;
        let handle = builder_arg(builder)?;
        let csr = by_scalar!(map &mut *handle.builder.lock(), b => b.finalize()?);
        let ptr = new_csr_handle(csr, handle.manager.clone());
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Destroys a CSR matrix and gives its arrays back to the pools. NULL is a no-op.
///
/// # Safety
/// Pointers from `qdsim_csr_arrays` are not used after the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_destroy(csr: *mut qdsim_csr) -> qdsim_status {
    guard("qdsim_csr_destroy", || {
        if !csr.is_null() {
            handles::unregister::<qdsim_csr>(csr as usize, HandleKind::Csr, "csr")?;
        }
        Ok(())
    })
}

/// Writes the matrix's shape, nnz, index width, scalar type and exact size to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_csr_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_get_info(
    csr: *const qdsim_csr,
    out: *mut qdsim_csr_info,
) -> qdsim_status {
    guard("qdsim_csr_get_info", || {
        let out = out_param(out, "out")?;
        let handle = csr_arg(csr)?;
        let i = handle.csr.info();
        let info = qdsim_csr_info {
            rows: i.nrows,
            cols: i.ncols,
            nnz: i.nnz,
            index_bits: i.index_bits as i32,
            scalar: scalar_value(handle.csr.kind()),
            bytes: i.memory_bytes as u64,
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, info) };
        Ok(())
    })
}

/// Writes the addresses of the three CSR arrays: `row_ptr` (rows + 1 entries) and `col_idx`
/// (nnz entries) are `int32_t` or `int64_t` per `index_bits`, `values` (nnz entries) `double` or
/// `qdsim_complex` per `scalar`. Column indices are sorted within each row. The arrays are
/// read-only and live as long as the matrix.
///
/// # Safety
/// The three out-pointers point to writable memory for a pointer each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_arrays(
    csr: *const qdsim_csr,
    row_ptr: *mut *const c_void,
    col_idx: *mut *const c_void,
    values: *mut *const c_void,
) -> qdsim_status {
    guard("qdsim_csr_arrays", || {
        let (rp_out, ci_out, v_out) = (
            out_param(row_ptr, "row_ptr")?,
            out_param(col_idx, "col_idx")?,
            out_param(values, "values")?,
        );
        let handle = csr_arg(csr)?;
        fn index_ptrs(indices: &CsrIndices) -> (*const c_void, *const c_void) {
            match indices {
                CsrIndices::I32 { row_ptr, col_idx } => {
                    (row_ptr.as_ptr().cast(), col_idx.as_ptr().cast())
                }
                CsrIndices::I64 { row_ptr, col_idx } => {
                    (row_ptr.as_ptr().cast(), col_idx.as_ptr().cast())
                }
            }
        }
        let ((rp, ci), v) = by_scalar!(&handle.csr, m => (
            index_ptrs(m.indices()),
            m.values().as_ptr().cast::<c_void>(),
        ));
        // SAFETY: all three checked by out_param; writable per the contract.
        unsafe {
            write_out(rp_out, rp);
            write_out(ci_out, ci);
            write_out(v_out, v);
        }
        Ok(())
    })
}

/// `y = α·A·x + β·y` for a real matrix and real vectors (x: cols entries, y: rows entries,
/// not overlapping). With β = 0, y is only written. In parallel over rows.
///
/// # Safety
/// `x` points to `cols` doubles and `y` to `rows` writable doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_spmv(
    csr: *const qdsim_csr,
    alpha: f64,
    x: *const f64,
    beta: f64,
    y: *mut f64,
) -> qdsim_status {
    guard("qdsim_csr_spmv", || {
        let handle = csr_arg(csr)?;
        let ByScalar::Real(m) = &handle.csr else {
            return Err(Error::invalid_argument(
                "the matrix is complex: use qdsim_csr_spmv_complex with complex vectors",
            ));
        };
        check_disjoint(x, m.ncols(), y, m.nrows())?;
        // SAFETY: lengths per the contract; y does not overlap x (checked).
        let (x, y) = unsafe { (in_slice(x, m.ncols(), "x")?, out_slice(y, m.nrows(), "y")?) };
        m.spmv(alpha, x, beta, y)
    })
}

/// `y = α·A·x + β·y` with complex vectors, for a complex or a real matrix.
///
/// # Safety
/// `x` points to `cols` and `y` to `rows` writable `qdsim_complex`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_csr_spmv_complex(
    csr: *const qdsim_csr,
    alpha: qdsim_complex,
    x: *const qdsim_complex,
    beta: qdsim_complex,
    y: *mut qdsim_complex,
) -> qdsim_status {
    guard("qdsim_csr_spmv_complex", || {
        let handle = csr_arg(csr)?;
        let CsrInfo {
            nrows: rows,
            ncols: cols,
            ..
        } = handle.csr.info();
        check_disjoint(x, cols, y, rows)?;
        // SAFETY: lengths per the contract; qdsim_complex has Complex64's layout; no overlap.
        let (x, y) = unsafe {
            (
                in_slice(x.cast::<Complex64>(), cols, "x")?,
                out_slice(y.cast::<Complex64>(), rows, "y")?,
            )
        };
        handle.csr.spmv_complex(alpha.into(), x, beta.into(), y)
    })
}
