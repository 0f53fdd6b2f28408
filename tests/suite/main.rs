//! The Rust integration tests, one module a subject, built as one test binary (one link instead
//! of one a file); the helpers they share are in `common`.
//!
//! `tests/gpu.rs` (with `tests/gpu/`) stays a binary of its own: CTest also runs it alone,
//! `cargo test --release --test gpu` without the gpu feature in a target directory of its own
//! (`cargo_test_gpu_without_feature`), and that run must stay cheap: it must not build this
//! suite.
//!
//! Every test has its own manager, scratch directory and files, so the tests share no state
//! through the process: none sets an environment variable or builds the global rayon pool, and
//! the descriptor counts of `out_of_core` only count descriptors into that test's own directory.

mod common;

mod credit;
mod csr;
mod fortran;
mod fuzz_readers;
mod grid_resonances;
mod hamiltonian;
mod hamiltonian_rows;
mod handle_cache;
mod hardening_ffi;
mod hardening_mapped;
mod hardening_readers;
mod header;
mod manager;
mod mapped;
mod matrix_io;
mod misuse;
mod model;
mod out_of_core;
mod phases;
mod profiler;
mod red_zones;
mod resonances;
mod solver_basic;
mod solver_validation;
mod thread_cache;
mod threads;
