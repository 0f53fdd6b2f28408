//! The C ABI: a thin, total, panic-free translation of the Rust API, one file per handle type.
//!
//! Conventions (docs/c-api.md), which every function here follows:
//!
//! - **Status codes.** Every fallible function returns `qdsim_status`; `QDSIM_OK` (0) is
//!   success. On failure `qdsim_last_error_message()` gives this thread's explanation.
//! - **Out-parameters** are written only on success. A failing call leaves them untouched.
//! - **Panics never cross the ABI**: each entry point runs inside `boundary::guard`, which maps
//!   a panic to `QDSIM_ERR_INTERNAL`.
//! - **Handles** are opaque and live in a registry (`handles.rs`): NULL gives
//!   `QDSIM_ERR_NULL_ARGUMENT`, a destroyed or wrong-type handle `QDSIM_ERR_INVALID_HANDLE`,
//!   and neither is dereferenced. `qdsim_*_destroy(NULL)` is a no-op.
//! - **Strings** returned by the library are freed with `qdsim_string_free`; strings returned as
//!   `const char *` are static or thread-local and are never freed.
//! - **Sizes** are `size_t`/`uint64_t`, and every product is overflow-checked.
//! - **Enumerations passed in** (`qdsim_pool`) are plain `int32_t` so any value is checked.
//! - **Thread safety** is stated per file and per function.
//!
//! | file | what lives there |
//! |---|---|
//! | `status.rs` | `qdsim_status`, `qdsim_status_string` |
//! | `boundary.rs` | panic boundary, last-error message, argument checks |
//! | `last_error.rs` | `qdsim_set_last_error_message`, for bindings that refuse a call themselves |
//! | `handles.rs` | the registry of live handles |
//! | `handle_cache.rs` | per-thread cache of recent lookups (the hot entry points) |
//! | `version.rs` | `QDSIM_MEM_ABI_VERSION`, `qdsim_abi_version`, `qdsim_version_string` |
//! | `types.rs` | `qdsim_pool`, `qdsim_scalar`, `qdsim_complex` |
//! | `manager.rs` | `qdsim_manager`: create, destroy, alloc, free, trim, check |
//! | `manager_lane.rs` | the fast lane of alloc and free: the thread's last manager and its heap |
//! | `manager_report.rs` | statistics, tags, leak summary, reports |
//! | `matrix.rs` | `qdsim_matrix`: dense matrices, blocked copy / transpose / adjoint |
//! | `csr.rs` | `qdsim_csr_builder`, `qdsim_csr`: sparse assembly, arrays, SpMV |
//! | `matrix_io.rs` | `qdsim_csr` to and from PETSc binary and MatrixMarket files |
//! | `mapped.rs` | `qdsim_mapped`: dense and CSR matrices in memory-mapped files |
//! | `hamiltonian.rs` | `qdsim_hamiltonian_desc` → `qdsim_csr` or `qdsim_operator`; apply |
//! | `hamiltonian_rows.rs` | `qdsim_hamiltonian_assemble_rows`: one MPI rank's rows of a `qdsim_hamiltonian_desc`, global columns, as a `qdsim_csr` |
//! | `physics.rs` | `QDSIM_HBAR2_OVER_2M0`, `QDSIM_E_OVER_HBAR`, `QDSIM_MASS_*`; `qdsim_parabolic_potential`, `qdsim_open_dot_potential` on a `qdsim_grid` |
//! | `profiler.rs` | `qdsim_profiler`, scopes, checkpoints and leaks, the event log and replay |
//! | `solver.rs` | `qdsim_eigen_options`, solves, `qdsim_eigen_result` |
//! | `gpu.rs` | `qdsim_gpu_*`: device count, `qdsim_gpu_pool` (device memory, copies, pinned host buffers, statistics, tags, leak report); `QDSIM_ERR_NO_DEVICE` without the `gpu` feature |
//! | `solver_resonances.rs` | `qdsim_solve_resonances`: resonances of a grid Hamiltonian with an absorber, matrix-free |
//! | `solver_gpu.rs` | `qdsim_gpu_solve_lowest`: the lowest states of a grid Hamiltonian on a GPU, results in a `qdsim_eigen_result` |
//! | `threads.rs` | `qdsim_set_solver_threads`, `qdsim_solver_threads` |
//! | `string.rs` | `qdsim_string_free` |

pub mod boundary;
pub mod csr;
pub mod gpu;

pub mod hamiltonian;
pub mod hamiltonian_rows;
pub(crate) mod handle_cache;
pub(crate) mod handles;
pub mod last_error;
pub mod manager;
pub(crate) mod manager_lane;
pub mod manager_report;
pub mod mapped;
pub mod matrix;
pub mod matrix_io;
pub mod physics;
pub mod profiler;
pub mod solver;
pub mod solver_gpu;
pub mod solver_resonances;
pub mod status;
pub mod string;
pub mod threads;
pub mod types;
pub mod version;
