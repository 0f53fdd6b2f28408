//! The GPU layer (cargo feature `gpu`), through cudarc with dynamic loading: the library builds
//! and runs without CUDA, and finds the driver at run time.
//!
//! What exists (issue 9, foundation):
//!
//! | item | what it is |
//! |---|---|
//! | [`device_count`], [`Device`] | run-time detection: no driver or no device is [`ErrorKind::NoDevice`] with the reason, never a panic ([`detect`]) |
//! | [`DevicePool`] | stream-ordered device allocation from a CUDA memory pool that keeps freed memory, with the host pools' statistics, a hard limit, tags, a leak report, and counted pinned host buffers ([`pool`]) |
//! | [`ledger`] | the pool's bookkeeping, independent of CUDA (tested without a device) |
//!
//! Not done yet: SpMV through cuSPARSE, the NVRTC stencil kernels, the GPU eigensolver.
//!
//! ```no_run
//! use qdsim_mem::gpu::{Device, DevicePool};
//!
//! let device = Device::open(0)?; // ErrorKind::NoDevice without a driver or device
//! let pool = DevicePool::new(device, Some(1 << 30))?;
//! let x = pool.alloc(1 << 20, "psi")?;
//! pool.copy_to_device(x, &vec![0u8; 1 << 20])?;
//! pool.free(x)?;
//! assert_eq!(pool.stats()?.bytes_in_use, 0);
//! # Ok::<(), qdsim_mem::Error>(())
//! ```

pub mod blas;
mod block;
pub mod buffer;
pub mod detect;
pub mod kernels;
pub mod ledger;
pub mod libraries;
mod lobpcg;
pub mod operator;
pub mod pool;
mod solve;
pub mod spmv;
pub mod stencil;

pub use buffer::DeviceVec;
pub use detect::{Device, device_count};
pub use ledger::{Allocation, MemoryKind};
pub use libraries::Library;
pub use operator::DeviceOperator;
pub use pool::DevicePool;
pub use solve::lowest_states;
pub use spmv::DeviceCsr;
pub use stencil::DeviceStencil;

use crate::error::{Error, ErrorKind};
use cudarc::driver::DriverError;
use cudarc::driver::sys::CUresult;

/// The library error for driver error `e` while doing `what`: out-of-memory and no-device
/// results keep their meaning, every other driver failure is [`ErrorKind::Internal`].
pub(crate) fn driver_error(what: &str, e: DriverError) -> Error {
    let kind = match e.0 {
        CUresult::CUDA_ERROR_OUT_OF_MEMORY => ErrorKind::OutOfMemory,
        CUresult::CUDA_ERROR_NO_DEVICE
        | CUresult::CUDA_ERROR_INVALID_DEVICE
        | CUresult::CUDA_ERROR_NOT_INITIALIZED
        | CUresult::CUDA_ERROR_DEINITIALIZED => ErrorKind::NoDevice,
        _ => ErrorKind::Internal,
    };
    let name = e
        .error_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|_| format!("{:?}", e.0));
    let text = e
        .error_string()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Error::new(kind, format!("{what} failed: {name} ({text})"))
}
