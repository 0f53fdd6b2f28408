//! # qdsim-mem
//!
//! Memory management for large effective-mass quantum-device simulations, with a C ABI
//! (`libqdsim_mem.so`, `include/qdsim_mem.h`) for C, C++ and Fortran codes.
//!
//! The Rust API is the real API; [`ffi`] is a thin translation of it.
//!
//! ```
//! use qdsim_mem::memory::{MemoryManager, PoolBuffer};
//! use num_complex::Complex64;
//!
//! let manager = MemoryManager::with_defaults()?;
//! let mut psi = PoolBuffer::<Complex64>::zeroed(&manager, 100 * 100, "psi")?;
//! psi[0] = Complex64::new(1.0, 0.0);
//! assert_eq!(manager.stats().bytes_in_use, 100 * 100 * 16);
//! assert_eq!(manager.tag_stats("psi").unwrap().live_allocations, 1);
//! # Ok::<(), qdsim_mem::Error>(())
//! ```
//!
//! | module | what lives there |
//! |---|---|
//! | [`memory`] | the memory manager, its pools, statistics, reports and RAII buffers |
//! | [`matrix`] | dense and CSR matrices in the pools, blocked kernels, memory-mapped files |
//! | [`io`] | CSR matrices to and from PETSc binary and MatrixMarket files |
//! | [`physics`] | grids and finite-difference Hamiltonians (CSR or matrix-free) |
//! | [`profiler`] | the sampling profiler, its history and plots |
//! | [`solver`] | eigensolvers: lowest states, resonances, dense |
//! | `gpu` | (feature `gpu`) CUDA device detection, device memory pool, pinned host memory |
//! | [`ffi`] | the C ABI |
//! | [`error`] | [`Error`], [`ErrorKind`], [`Result`] |

// The unsafe discipline: every unsafe block says why it is sound, every unsafe fn when it may
// be called.
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod error;
pub mod ffi;
/// cbindgen:ignore
#[cfg(feature = "gpu")]
pub mod gpu;
/// cbindgen:ignore
pub mod io;
/// cbindgen:ignore
pub mod matrix;
pub mod memory;
/// cbindgen:ignore
pub mod physics;
/// cbindgen:ignore
pub mod profiler;
pub mod solver;

pub use error::{Error, ErrorKind, Result};
