//! Eigensolvers: the lowest states of closed systems (block LOBPCG with geometric multigrid and
//! a coarse-to-fine start, or LOBPCG with an exact shifted inverse), resonances of open systems
//! (block shift-invert subspace iteration on a sparse LU), and dense solvers for small
//! matrices.
//!
//! | file | what lives there |
//! |---|---|
//! | `dense.rs` | [`dense_hermitian`], [`dense_general`] for small matrices |
//! | `open_system.rs` | [`resonances`]: E − iΓ/2 near a target, sparse LU shift-invert subspace iteration |
//! | `operator.rs` | [`Operator`]: what a solver needs from H (row-range products, bounds) |
//! | `block.rs` | row-chunked tall-skinny kernels: Gram matrices, `SᴴHS`, combinations |
//! | `small.rs` | eigen-decomposition of projected matrices, SVQB orthonormalisation |
//! | `block_lobpcg.rs` | the LOBPCG iteration with locking, once, over a block backend (host or GPU) |
//! | `lobpcg.rs` | the host's blocks (pool or scratch files) and kernels for it |
//! | `grid_solver.rs` | [`lowest_states`] of a grid Hamiltonian: multigrid + coarse-to-fine |
//! | `lowest.rs` | [`lowest_eigenpairs`] of any operator (random start, Jacobi); CSR and mapped-CSR entry points |
//! | `options.rs` | [`EigenOptions`], [`EigenResult`], [`Method`], [`Placement`] |
//! | `out_of_core.rs` | solver blocks in the pool or in unlinked, mapped scratch files; residency advice |
//! | `random.rs` | seeded random start vectors |
//! | `shift_invert.rs` | [`shift_invert_lowest`]: sparse Cholesky + LOBPCG with the exact shifted inverse |
//! | `preconditioner.rs` | [`Preconditioner`], Jacobi |
//! | `multigrid.rs` | [`Multigrid`]: rediscretised hierarchy, Chebyshev smoothing, V-cycles |
//! | `transfer.rs` | linear interpolation and full weighting between grids |
//! | `vectors.rs` | [`Eigenvectors`]: the result vectors in the pool or in a mapped file |
//! | `progress.rs` | [`Progress`] reports and cancellation |
//!
//! The C API uses [`Progress`] as it is (`qdsim_progress`); every other module line carries
//! `/// cbindgen:ignore` to keep Rust-only items out of the C header.

/// cbindgen:ignore
mod block;
/// cbindgen:ignore
mod block_lobpcg;
/// cbindgen:ignore
mod dense;
/// cbindgen:ignore
mod grid_solver;
/// cbindgen:ignore
mod lobpcg;
/// cbindgen:ignore
mod lowest;
/// cbindgen:ignore
mod multigrid;
/// cbindgen:ignore
mod open_system;
/// cbindgen:ignore
mod operator;
/// cbindgen:ignore
mod options;
/// cbindgen:ignore
mod out_of_core;
/// cbindgen:ignore
mod preconditioner;
mod progress;
/// cbindgen:ignore
mod random;
/// cbindgen:ignore
mod shift_invert;
/// cbindgen:ignore
mod small;
/// cbindgen:ignore
mod transfer;
/// cbindgen:ignore
mod vectors;

pub use dense::{dense_general, dense_hermitian};
pub use grid_solver::{lowest_states, lowest_states_memory_estimate};
pub use lowest::{csr_lowest, lowest_eigenpairs, mapped_csr_lowest};
pub use multigrid::{Multigrid, MultigridPreconditioner};
pub use open_system::{Resonances, resonances};
pub use operator::Operator;
pub use options::{EigenOptions, EigenResult, Method, Placement};
pub use preconditioner::{Identity, Jacobi, Preconditioner};
pub use progress::{Progress, ProgressFn};
pub use shift_invert::{shift_invert_lowest, shift_invert_memory_estimate};
pub use vectors::Eigenvectors;

// What the GPU eigensolver (src/gpu/) shares with the host solver: the LOBPCG iteration over a
// block backend, its parameters and outcome, the option checks, the random start, and the column
// blocks the small dense math (Rayleigh–Ritz, SVQB) is written over.
#[cfg(feature = "gpu")]
pub(crate) use {
    block_lobpcg::{BlockBackend, block_lobpcg},
    lobpcg::{LobpcgOutcome, LobpcgParams},
    lowest::check_options,
    random::fill_random,
    small::ColumnBlock,
    transfer::Map1d,
};
