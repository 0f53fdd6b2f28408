//! [`DeviceCsr`]: a CSR matrix on the device, multiplied through cuSPARSE's generic API
//! (`cusparseSpMV` on a `cusparseCreateCsr` descriptor) for `f64` and `Complex64`, with the
//! 32- or 64-bit indices of the host [`CsrMatrix`].
//!
//! The three arrays are copied into the [`DevicePool`] (tags `gpu.csr.*`); the work buffer
//! cuSPARSE asks for (`cusparseSpMV_bufferSize`) is allocated from the pool on the first product
//! and grown when needed. All work is queued on the pool's stream (`cusparseSetStream`); α and
//! β are host scalars (cuSPARSE's default pointer mode). Algorithm: `CUSPARSE_SPMV_ALG_DEFAULT`.

use super::blas::{HostScalar, dim_i32};
use super::buffer::DeviceVec;
use super::libraries::{Library, require};
use super::operator::DeviceOperator;
use super::pool::DevicePool;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{CsrIndices, CsrMatrix, Scalar, ScalarKind, require_square};
use cudarc::cusparse::sys::{
    self, cudaDataType, cusparseIndexBase_t, cusparseIndexType_t, cusparseOperation_t,
    cusparseSpMVAlg_t, cusparseStatus_t,
};
use parking_lot::Mutex;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The library error for cuSPARSE status `status` while doing `what`.
fn check(status: cusparseStatus_t, what: &str) -> Result<()> {
    match status {
        cusparseStatus_t::CUSPARSE_STATUS_SUCCESS => Ok(()),
        cusparseStatus_t::CUSPARSE_STATUS_ALLOC_FAILED => Err(Error::new(
            ErrorKind::OutOfMemory,
            format!("{what} failed: {status:?}"),
        )),
        other => Err(Error::new(
            ErrorKind::Internal,
            format!("{what} failed: {other:?}"),
        )),
    }
}

/// The index arrays on the device.
enum DeviceIndices<'p> {
    I32(DeviceVec<'p, i32>, DeviceVec<'p, i32>),
    I64(DeviceVec<'p, i64>, DeviceVec<'p, i64>),
}

/// A CSR matrix on the device with a cuSPARSE handle and descriptor.
pub struct DeviceCsr<'p, T: Scalar> {
    pool: &'p DevicePool,
    nrows: usize,
    ncols: usize,
    nnz: usize,
    handle: sys::cusparseHandle_t,
    descriptor: sys::cusparseSpMatDescr_t,
    work: Mutex<Option<DeviceVec<'p, u8>>>,
    // The arrays the descriptor points into.
    _indices: DeviceIndices<'p>,
    _values: DeviceVec<'p, T>,
}

fn value_type<T: Scalar>() -> cudaDataType {
    match T::KIND {
        ScalarKind::Real => cudaDataType::CUDA_R_64F,
        ScalarKind::Complex => cudaDataType::CUDA_C_64F,
    }
}

impl<'p, T: Scalar> DeviceCsr<'p, T> {
    /// Copies `a` into `pool` and describes it to cuSPARSE. [`ErrorKind::NoDevice`] when
    /// libcusparse cannot be loaded.
    pub fn new(pool: &'p DevicePool, a: &CsrMatrix<T>) -> Result<Self> {
        require(&[Library::Cusparse])?;
        let (nrows, ncols, nnz) = (a.nrows(), a.ncols(), a.nnz());
        if nrows == 0 || nnz == 0 {
            return Err(Error::invalid_argument(format!(
                "a {nrows}×{ncols} CSR matrix with {nnz} entries: nothing to put on the GPU"
            )));
        }
        let (indices, index_type) = match a.indices() {
            CsrIndices::I32 { row_ptr, col_idx } => (
                DeviceIndices::I32(
                    DeviceVec::from_host(pool, row_ptr, "gpu.csr.row_ptr")?,
                    DeviceVec::from_host(pool, col_idx, "gpu.csr.col_idx")?,
                ),
                cusparseIndexType_t::CUSPARSE_INDEX_32I,
            ),
            CsrIndices::I64 { row_ptr, col_idx } => (
                DeviceIndices::I64(
                    DeviceVec::from_host(pool, row_ptr, "gpu.csr.row_ptr")?,
                    DeviceVec::from_host(pool, col_idx, "gpu.csr.col_idx")?,
                ),
                cusparseIndexType_t::CUSPARSE_INDEX_64I,
            ),
        };
        let (row_ptr, col_idx) = match &indices {
            DeviceIndices::I32(r, c) => (r.address(), c.address()),
            DeviceIndices::I64(r, c) => (r.address(), c.address()),
        };
        let values = DeviceVec::from_host(pool, a.values(), "gpu.csr.values")?;
        pool.device().bind()?;
        let created = catch_unwind(AssertUnwindSafe(|| -> Result<_> {
            let mut handle: sys::cusparseHandle_t = std::ptr::null_mut();
            // SAFETY: a valid out-pointer.
            let status = unsafe { sys::cusparseCreate(&mut handle) };
            check(status, "cusparseCreate")?;
            let destroy_handle = |h| {
                // SAFETY: a live handle, not used afterwards.
                let _ = unsafe { sys::cusparseDestroy(h) };
            };
            // SAFETY: a live handle and the pool's live stream.
            let set = unsafe {
                sys::cusparseSetStream(handle, pool.stream().cu_stream() as sys::cudaStream_t)
            };
            if let Err(e) = check(set, "cusparseSetStream") {
                destroy_handle(handle);
                return Err(e);
            }
            let mut descriptor: sys::cusparseSpMatDescr_t = std::ptr::null_mut();
            // SAFETY: the arrays are live device memory of the documented sizes (nrows + 1
            // offsets, nnz indices and values, zero-based) and outlive the descriptor (both are
            // fields of the result, the descriptor destroyed first in Drop).
            let status = unsafe {
                sys::cusparseCreateCsr(
                    &mut descriptor,
                    nrows as i64,
                    ncols as i64,
                    nnz as i64,
                    row_ptr as *mut c_void,
                    col_idx as *mut c_void,
                    values.address() as *mut c_void,
                    index_type,
                    index_type,
                    cusparseIndexBase_t::CUSPARSE_INDEX_BASE_ZERO,
                    value_type::<T>(),
                )
            };
            if let Err(e) = check(
                status,
                &format!("cusparseCreateCsr ({nrows}×{ncols}, {nnz} entries, {index_type:?})"),
            ) {
                destroy_handle(handle);
                return Err(e);
            }
            Ok((handle, descriptor))
        }));
        let (handle, descriptor) = created.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Internal,
                "cudarc panicked while creating the cuSPARSE handle",
            ))
        })?;
        Ok(Self {
            pool,
            nrows,
            ncols,
            nnz,
            handle,
            descriptor,
            work: Mutex::new(None),
            _indices: indices,
            _values: values,
        })
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.nnz
    }

    /// Bytes the minimal SpMV traffic moves: the values and column indices once, the row
    /// pointers, `x` once and `y` once (for effective-bandwidth figures).
    pub fn minimal_traffic_bytes(&self) -> usize {
        let index = match self._indices {
            DeviceIndices::I32(..) => 4,
            DeviceIndices::I64(..) => 8,
        };
        self.nnz * (size_of::<T>() + index)
            + (self.nrows + 1) * index
            + (self.ncols + self.nrows) * size_of::<T>()
    }

    /// `y = α·A·x + β·y` for one pair of device vectors (`x` has `ncols`, `y` `nrows`
    /// elements), queued on the pool's stream.
    ///
    /// # Safety
    /// `x` and `y` are live, distinct device arrays of those lengths that stay live until the
    /// stream has run the product.
    pub unsafe fn spmv(&self, alpha: T, x: u64, beta: T, y: u64) -> Result<()> {
        dim_i32(self.nrows, "rows")?; // the dense vectors' sizes are 64-bit, but stay modest
        let mut vx: sys::cusparseDnVecDescr_t = std::ptr::null_mut();
        let mut vy: sys::cusparseDnVecDescr_t = std::ptr::null_mut();
        // SAFETY: out-pointers, and device arrays of the stated sizes per the contract.
        unsafe {
            check(
                sys::cusparseCreateDnVec(
                    &mut vx,
                    self.ncols as i64,
                    x as *mut c_void,
                    value_type::<T>(),
                ),
                "cusparseCreateDnVec(x)",
            )?;
            if let Err(e) = check(
                sys::cusparseCreateDnVec(
                    &mut vy,
                    self.nrows as i64,
                    y as *mut c_void,
                    value_type::<T>(),
                ),
                "cusparseCreateDnVec(y)",
            ) {
                let _ = sys::cusparseDestroyDnVec(vx);
                return Err(e);
            }
        }
        let result = self.spmv_described(alpha, vx, beta, vy);
        // SAFETY: descriptors created above, no longer used (the product only needs the
        // arrays, which the caller keeps alive).
        unsafe {
            let _ = sys::cusparseDestroyDnVec(vx);
            let _ = sys::cusparseDestroyDnVec(vy);
        }
        result
    }

    fn spmv_described(
        &self,
        alpha: T,
        vx: sys::cusparseDnVecDescr_t,
        beta: T,
        vy: sys::cusparseDnVecDescr_t,
    ) -> Result<()> {
        let op = cusparseOperation_t::CUSPARSE_OPERATION_NON_TRANSPOSE;
        let alg = cusparseSpMVAlg_t::CUSPARSE_SPMV_ALG_DEFAULT;
        let (alpha, beta) = (HostScalar(alpha), HostScalar(beta));
        let (pa, pb) = (alpha.ptr::<c_void>(), beta.ptr::<c_void>());
        let mut size = 0usize;
        // SAFETY: live handle and descriptors; α, β host scalars of the value type.
        let status = unsafe {
            sys::cusparseSpMV_bufferSize(
                self.handle,
                op,
                pa,
                self.descriptor,
                vx,
                pb,
                vy,
                value_type::<T>(),
                alg,
                &mut size,
            )
        };
        check(status, "cusparseSpMV_bufferSize")?;
        let mut work = self.work.lock();
        if size > 0 && work.as_ref().is_none_or(|w| w.len() < size) {
            *work = None; // stream-ordered free of the smaller buffer first
            *work = Some(DeviceVec::uninit(self.pool, size, "gpu.csr.work")?);
        }
        let buffer = work
            .as_ref()
            .map_or(std::ptr::null_mut(), |w| w.address() as *mut c_void);
        // SAFETY: as above; the work buffer holds at least `size` bytes and lives in self.
        check(
            unsafe {
                sys::cusparseSpMV(
                    self.handle,
                    op,
                    pa,
                    self.descriptor,
                    vx,
                    pb,
                    vy,
                    value_type::<T>(),
                    alg,
                    buffer,
                )
            },
            &format!(
                "cusparseSpMV ({}×{}, {} entries)",
                self.nrows, self.ncols, self.nnz
            ),
        )
    }
}

impl<T: Scalar> DeviceOperator<T> for DeviceCsr<'_, T> {
    fn dim(&self) -> usize {
        self.nrows
    }

    fn pool(&self) -> &DevicePool {
        self.pool
    }

    unsafe fn apply_block(
        &self,
        (x, ldx): (u64, usize),
        (y, ldy): (u64, usize),
        columns: usize,
    ) -> Result<()> {
        require_square(self.nrows, self.ncols, "an eigenproblem operator")?;
        let size = size_of::<T>() as u64;
        for j in 0..columns as u64 {
            // SAFETY: column j of each block per the caller's contract.
            unsafe {
                self.spmv(
                    T::ONE,
                    x + j * ldx as u64 * size,
                    T::ZERO_VALUE,
                    y + j * ldy as u64 * size,
                )?
            };
        }
        Ok(())
    }
}

impl<T: Scalar> Drop for DeviceCsr<'_, T> {
    fn drop(&mut self) {
        let _ = self.pool.device().bind();
        // SAFETY: created in `new`, not used after this; the arrays are freed after (fields
        // drop after this body), stream-ordered behind any queued product.
        unsafe {
            let _ = sys::cusparseDestroySpMat(self.descriptor);
            let _ = sys::cusparseDestroy(self.handle);
        }
    }
}
