//! [`Blas`]: a cuBLAS handle on a [`DevicePool`]'s stream, with the two calls the eigensolver
//! needs for `f64` and `Complex64` (chosen at run time from [`Scalar::KIND`]): `gemm` (with the
//! conjugate transpose for Gram matrices) and `axpy`. Scalars α, β are passed from the host
//! (cuBLAS's default pointer mode), so they may be temporaries.
//!
//! cuBLAS takes 32-bit sizes: callers check that their dimensions fit (`dim_i32`).

use super::driver_error;
use super::libraries::{Library, require};
use super::pool::DevicePool;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{Scalar, ScalarKind};
use cudarc::cublas::result::{self as blas, CublasError};
use cudarc::cublas::sys::{self, cublasOperation_t, cublasStatus_t};
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A matrix operand's transposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// As stored.
    None,
    /// Conjugate transpose (plain transpose for real matrices).
    Adjoint,
}

impl Op {
    fn cublas(self) -> cublasOperation_t {
        match self {
            Op::None => cublasOperation_t::CUBLAS_OP_N,
            Op::Adjoint => cublasOperation_t::CUBLAS_OP_C,
        }
    }
}

/// A host scalar handed to cuBLAS or cuSPARSE by pointer, aligned as `cuDoubleComplex` (16
/// bytes: the libraries may load it with aligned vector instructions; `Complex64` alone is only
/// 8-byte aligned).
#[repr(C, align(16))]
pub(crate) struct HostScalar<T>(pub T);

impl<T> HostScalar<T> {
    /// The pointer the libraries take.
    pub(crate) fn ptr<U>(&self) -> *const U {
        (&self.0 as *const T).cast()
    }
}

/// `value` as a cuBLAS/cuSPARSE 32-bit dimension, or an error naming `what`.
pub(crate) fn dim_i32(value: usize, what: &str) -> Result<c_int> {
    c_int::try_from(value).map_err(|_| {
        Error::invalid_argument(format!(
            "{what} = {value} exceeds the 32-bit sizes of the GPU BLAS calls (at most {})",
            c_int::MAX
        ))
    })
}

/// The library error for cuBLAS status `e` while doing `what`.
pub(crate) fn blas_error(what: &str, e: CublasError) -> Error {
    let kind = match e.0 {
        cublasStatus_t::CUBLAS_STATUS_ALLOC_FAILED => ErrorKind::OutOfMemory,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("{what} failed: {:?}", e.0))
}

/// A cuBLAS handle bound to a pool's stream.
pub struct Blas {
    handle: sys::cublasHandle_t,
}

// SAFETY: a cuBLAS handle may be used from any thread as long as calls are not concurrent;
// `Blas` methods take `&self` but the solver using it runs on one thread (it is not Sync).
unsafe impl Send for Blas {}

impl Blas {
    /// A handle whose work is queued on `pool`'s stream. [`ErrorKind::NoDevice`] when
    /// libcublas cannot be loaded.
    pub fn new(pool: &DevicePool) -> Result<Self> {
        require(&[Library::Cublas])?;
        pool.device().bind()?;
        let created = catch_unwind(AssertUnwindSafe(|| -> Result<Self> {
            let handle = blas::create_handle().map_err(|e| blas_error("cublasCreate", e))?;
            let blas = Self { handle };
            // SAFETY: a live handle and the pool's live stream.
            unsafe { blas::set_stream(handle, pool.stream().cu_stream() as sys::cudaStream_t) }
                .map_err(|e| blas_error("cublasSetStream", e))?;
            Ok(blas)
        }));
        created.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Internal,
                "cudarc panicked while creating a cuBLAS handle",
            ))
        })
    }

    /// `C = α·op(A)·op(B) + β·C` (column-major; `C` is `m × n`, the inner dimension `k`).
    ///
    /// # Safety
    /// The device addresses hold matrices of the given shapes and leading dimensions, of
    /// scalar type `T`, live until the pool's stream has run the call; `C` does not overlap
    /// `A` or `B`.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn gemm<T: Scalar>(
        &self,
        op_a: Op,
        op_b: Op,
        (m, n, k): (usize, usize, usize),
        alpha: T,
        (a, lda): (u64, usize),
        (b, ldb): (u64, usize),
        beta: T,
        (c, ldc): (u64, usize),
    ) -> Result<()> {
        let (m, n, k) = (dim_i32(m, "m")?, dim_i32(n, "n")?, dim_i32(k, "k")?);
        let (lda, ldb, ldc) = (
            dim_i32(lda, "lda")?,
            dim_i32(ldb, "ldb")?,
            dim_i32(ldc, "ldc")?,
        );
        let (ta, tb) = (op_a.cublas(), op_b.cublas());
        let (alpha, beta) = (HostScalar(alpha), HostScalar(beta));
        // SAFETY: per the contract; α, β live on the host for the duration of the call, and
        // T is f64 or Complex64 (two f64, the layout of cuDoubleComplex) as KIND says.
        let status = unsafe {
            match T::KIND {
                ScalarKind::Real => sys::cublasDgemm_v2(
                    self.handle,
                    ta,
                    tb,
                    m,
                    n,
                    k,
                    alpha.ptr(),
                    a as *const f64,
                    lda,
                    b as *const f64,
                    ldb,
                    beta.ptr(),
                    c as *mut f64,
                    ldc,
                ),
                ScalarKind::Complex => sys::cublasZgemm_v2(
                    self.handle,
                    ta,
                    tb,
                    m,
                    n,
                    k,
                    alpha.ptr(),
                    a as *const sys::cuDoubleComplex,
                    lda,
                    b as *const sys::cuDoubleComplex,
                    ldb,
                    beta.ptr(),
                    c as *mut sys::cuDoubleComplex,
                    ldc,
                ),
            }
        };
        status.result().map_err(|e| {
            blas_error(
                &format!("cublas gemm ({m}×{n}×{k}, lda {lda}, ldb {ldb}, ldc {ldc})"),
                e,
            )
        })
    }

    /// `y = α·x + y` for `n` contiguous elements.
    ///
    /// # Safety
    /// `x` and `y` hold `n` elements of `T` each, live until the stream has run the call.
    pub unsafe fn axpy<T: Scalar>(&self, n: usize, alpha: T, x: u64, y: u64) -> Result<()> {
        let len = dim_i32(n, "n")?;
        let alpha = HostScalar(alpha);
        // SAFETY: per the contract; α is read during the call (host pointer mode).
        let status = unsafe {
            match T::KIND {
                ScalarKind::Real => sys::cublasDaxpy_v2(
                    self.handle,
                    len,
                    alpha.ptr(),
                    x as *const f64,
                    1,
                    y as *mut f64,
                    1,
                ),
                ScalarKind::Complex => sys::cublasZaxpy_v2(
                    self.handle,
                    len,
                    alpha.ptr(),
                    x as *const sys::cuDoubleComplex,
                    1,
                    y as *mut sys::cuDoubleComplex,
                    1,
                ),
            }
        };
        status
            .result()
            .map_err(|e| blas_error(&format!("cublas axpy of {n} elements"), e))
    }
}

impl Drop for Blas {
    fn drop(&mut self) {
        // SAFETY: the handle is live and not used after this.
        if let Err(e) = unsafe { blas::destroy_handle(self.handle) } {
            eprintln!("qdsim-mem: cublasDestroy failed: {:?}", e.0);
        }
    }
}

/// Copies `count` elements of `T` from device address `src` to `dst` on the pool's stream.
///
/// # Safety
/// Both ranges lie in live device allocations that stay live until the stream has run the copy,
/// and they do not overlap.
pub(crate) unsafe fn copy_device<T>(
    pool: &DevicePool,
    dst: u64,
    src: u64,
    count: usize,
) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let bytes = count * size_of::<T>();
    // SAFETY: per the contract.
    unsafe { cudarc::driver::result::memcpy_dtod_async(dst, src, bytes, pool.stream().cu_stream()) }
        .map_err(|e| driver_error(&format!("cuMemcpyDtoDAsync of {bytes} bytes"), e))
}
