//! The GPU layer (cargo feature `gpu`), through cudarc with dynamic loading: the library builds
//! and runs without CUDA, and finds the driver at run time.
//!
//! What exists (issue 9). **None of the operator and solver paths has run on a GPU yet**: they
//! compile, the kernel source compiles with NVRTC, the LOBPCG iteration is tested on a host
//! backend, and the device tests skip without a device (`scripts/gpu-check.sh` runs them on one).
//!
//! | item | what it is |
//! |---|---|
//! | [`device_count`](crate::gpu::device_count), [`Device`](crate::gpu::Device) | run-time detection: no driver or no device is [`ErrorKind::NoDevice`] with the reason, never a panic ([`detect`](crate::gpu::detect)) |
//! | [`libraries`](crate::gpu::libraries) | the same for libcublas, libcusparse and libnvrtc (and every symbol used), before cudarc loads them |
//! | [`DevicePool`](crate::gpu::DevicePool) | stream-ordered device allocation from a CUDA memory pool that keeps freed memory, with the host pools' statistics, a hard limit, tags, a leak report, and counted pinned host buffers ([`pool`](crate::gpu::pool)) |
//! | [`ledger`](crate::gpu::ledger) | the pool's bookkeeping, independent of CUDA (tested without a device) |
//! | [`DeviceVec`](crate::gpu::DeviceVec) | a typed device array from a pool, freed on drop ([`buffer`](crate::gpu::buffer)) |
//! | [`kernels`](crate::gpu::kernels) | the CUDA C source (stencil, row scaling), compiled by NVRTC once per process |
//! | [`DeviceStencil`](crate::gpu::DeviceStencil) | the matrix-free grid Hamiltonian on the device: everything `StencilOperator` covers ([`stencil`](crate::gpu::stencil)) |
//! | [`DeviceCsr`](crate::gpu::DeviceCsr) | CSR SpMV through cuSPARSE's generic API, f64/complex, 32/64-bit indices ([`spmv`](crate::gpu::spmv)) |
//! | [`DeviceOperator`](crate::gpu::DeviceOperator) | `Y = H·X` on device blocks ([`operator`](crate::gpu::operator)) |
//! | [`blas`](crate::gpu::blas) | a cuBLAS handle on the pool's stream: `gemm` (with `Aᴴ`), `axpy` |
//! | `block.rs` | device blocks `[X, W, P]` without copies: Gram matrices, `SᴴHS`, combinations, residuals |
//! | [`DeviceMultigrid`](crate::gpu::DeviceMultigrid) | the CPU's multigrid V-cycle on device blocks (coarsest solve on the host) ([`multigrid`](crate::gpu::multigrid)) |
//! | [`lowest_states`](crate::gpu::lowest_states), [`lowest_states_with`](crate::gpu::lowest_states_with) | the lowest states of a grid Hamiltonian on the GPU: coarse-to-fine, multigrid (or Jacobi) on the device, results in the manager's pool (`solve.rs`) |
//!
//! | [`csr_lowest_states`](crate::gpu::csr_lowest_states) | the same LOBPCG for a plain CSR matrix: cuSPARSE products, Jacobi on the device |
//!
//! Not done yet: the performance targets, which are unmeasured.
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
pub mod multigrid;
pub mod operator;
pub mod pool;
mod solve;
pub mod spmv;
pub mod stencil;

pub use buffer::DeviceVec;
pub use detect::{Device, device_count};
pub use ledger::{Allocation, MemoryKind};
pub use libraries::Library;
pub use multigrid::DeviceMultigrid;
pub use operator::DeviceOperator;
pub use pool::DevicePool;
pub use solve::{GpuPreconditioner, csr_lowest_states, lowest_states, lowest_states_with};
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
