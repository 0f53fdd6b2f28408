//! Eigensolvers: the lowest states of closed systems (block LOBPCG with geometric multigrid and
//! a coarse-to-fine start, or LOBPCG with an exact shifted inverse), resonances of open systems
//! (matrix-free coarse-to-fine block Davidson on grids; block shift-invert Krylov–Schur on a
//! sparse LU for CSR matrices), and dense solvers for small matrices.
//!
//! Every LOBPCG solve — grid or CSR, host or GPU, in core or out of core — runs through one
//! driver (`lobpcg/driver.rs`) over a backend that says where the blocks live and how a level
//! is solved.
//!
//! | path | what lives there |
//! |---|---|
//! | `grid.rs` | [`lowest_states`] of a grid Hamiltonian: multigrid + coarse-to-fine |
//! | `sparse.rs` | [`lowest_eigenpairs`] of any operator (random start, Jacobi); [`csr_lowest`], [`mapped_csr_lowest`] |
//! | `shift_invert.rs` | [`shift_invert_lowest`]: sparse Cholesky + LOBPCG with the exact shifted inverse |
//! | `open_system.rs` | [`resonances`]: E − iΓ/2 near a target, block Krylov–Schur on the sparse LU of H − σ |
//! | `krylov_schur.rs` | the block Krylov–Schur decomposition (expansion, Rayleigh–Ritz, thick restart) of a general operator |
//! | `resonance/` | [`grid_resonances`]: E − iΓ/2 of grid Hamiltonians, coarse-to-fine block Davidson with shifted multigrid |
//! | `sparse_lu.rs` | the sparse LU of H − σ (CSR resonances, the shifted multigrid's bottom), counted in the manager |
//! | `ordered_lu.rs` | faer's supernodal LU with a column order of the caller's |
//! | `nested_dissection.rs` | nested-dissection elimination orders of box grids (the LU of grid Hamiltonians) |
//! | `dense.rs` | [`dense_hermitian`], [`dense_general`] for small matrices |
//! | `lobpcg/` | the LOBPCG iteration over a backend, the coarse-to-fine driver, the host's blocks and kernels |
//! | `precond/` | [`Preconditioner`], [`Jacobi`], [`Multigrid`], [`ShiftedMultigrid`] and the grid transfers |
//! | `operator.rs` | [`Operator`]: what a solver needs from H (row-range products, bounds) |
//! | `options.rs` | [`EigenOptions`] (and their checks), [`Method`], [`Placement`] |
//! | `result.rs` | [`EigenResult`] |
//! | `vectors.rs` | [`Eigenvectors`]: the result vectors in the pool or in a mapped file |
//! | `out_of_core.rs` | solver blocks in the pool or in unlinked, mapped scratch files; residency advice |
//! | `random.rs` | seeded random start vectors |
//! | `threads.rs` | [`set_solver_threads`]: how many threads a solve uses |
//! | `scratch_faults.rs` | the SIGBUS handler that turns unreadable scratch pages into `ErrorKind::Io` |
//! | `progress.rs` | [`Progress`] reports and cancellation |
//! | `progress_relay.rs` | hands progress reports from the solving thread to the calling thread |
//!
//! Dependencies point one way: the entry points (`grid`, `sparse`, `shift_invert`) use
//! `lobpcg/` and `precond/`; `lobpcg/` uses `options`, `result`, `vectors`, `out_of_core`;
//! `result` uses `vectors`, which uses `out_of_core`, which uses `options`.
//!
//! The C API uses [`Progress`] as it is (`qdsim_progress`); every other module line carries
//! `/// cbindgen:ignore` to keep Rust-only items out of the C header.

/// cbindgen:ignore
mod dense;
/// cbindgen:ignore
mod grid;
/// cbindgen:ignore
mod krylov_schur;
/// cbindgen:ignore
mod lobpcg;
/// cbindgen:ignore
mod nested_dissection;
/// cbindgen:ignore
mod open_system;
/// cbindgen:ignore
mod operator;
/// cbindgen:ignore
mod options;
/// cbindgen:ignore
mod ordered_lu;
/// cbindgen:ignore
mod out_of_core;
/// cbindgen:ignore
mod precond;
mod progress;
/// cbindgen:ignore
mod progress_relay;
/// cbindgen:ignore
mod random;
/// cbindgen:ignore
mod reduce;
/// cbindgen:ignore
mod resonance;
/// cbindgen:ignore
mod result;
/// cbindgen:ignore
mod scratch_faults;
/// cbindgen:ignore
mod shift_invert;
/// cbindgen:ignore
mod sparse;
mod sparse_lu;
mod symmetric_lblt;
/// cbindgen:ignore
pub(crate) mod threads;
/// cbindgen:ignore
mod vectors;

pub use dense::{DenseEigen, dense_general, dense_hermitian};
pub use grid::{lowest_states, lowest_states_memory_estimate};
pub use open_system::{Resonances, resonances};
pub use operator::Operator;
pub use options::{EigenOptions, Method, Placement};
pub use precond::{
    Identity, Jacobi, Multigrid, MultigridPreconditioner, Preconditioner, ShiftedMultigrid,
};
pub use progress::{Progress, ProgressFn};
pub use resonance::grid_resonances;
pub use result::EigenResult;
pub use shift_invert::{shift_invert_lowest, shift_invert_memory_estimate};
pub use sparse::{csr_lowest, lowest_eigenpairs, mapped_csr_lowest};
pub use sparse_lu::{resonances_factor_estimate, sparse_lu_factor_estimate};
pub use threads::{MAX_SOLVER_THREADS, set_solver_threads, solver_threads};
pub use vectors::Eigenvectors;

// What the GPU eigensolver (src/gpu/) shares with the host solver: the coarse-to-fine driver and
// the LOBPCG iteration over a block backend, the random start and guard noise, the column blocks the small dense
// math (Rayleigh–Ritz, SVQB) is written over, and the grid transfers.
#[cfg(feature = "gpu")]
pub(crate) use {
    lobpcg::driver::{GUARD_NOISE, Levels, SolveClock, coarse_to_fine},
    lobpcg::small::ColumnBlock,
    lobpcg::{BlockBackend, Directions, LobpcgOutcome, LobpcgParams, Locked, block_lobpcg},
    precond::Map1d,
    random::{add_random, fill_random},
};
