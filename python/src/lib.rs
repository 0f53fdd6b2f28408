//! `qdsim_mem._qdsim_mem`: the Python extension over the qdsim-mem library (PyO3 + rust-numpy),
//! re-exported by the pure-Python package `qdsim_mem` (python/qdsim_mem/__init__.py).
//!
//! | module | what lives there |
//! |---|---|
//! | [`manager`] | `Manager`: arrays in the pools, statistics, reports, checkpoints, scopes |
//! | [`arrays`] | `Block`: the pool block behind a numpy array (its base object) |
//! | [`hamiltonian`] | `Grid`, `Absorber`, `Hamiltonian`, the CSR matrix for scipy |
//! | [`solve`] | the solvers, their results and progress reports |
//! | [`profiler`] | `Profiler` |
//! | [`errors`] | the exception classes |
//! | [`tracemalloc`] | pool blocks reported to Python's tracemalloc |

// The unsafe discipline of the library: every unsafe block says why it is sound.
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

mod arrays;
mod errors;
mod hamiltonian;
mod manager;
mod profiler;
mod solve;
mod tracemalloc;

use pyo3::prelude::*;

/// Sets the number of solver threads (0: the number of cores).
#[pyfunction]
fn set_solver_threads(count: usize) -> PyResult<()> {
    use errors::IntoPyResult;
    qdsim_mem::solver::set_solver_threads(count).py()
}

/// The number of threads the solvers use.
#[pyfunction]
fn solver_threads() -> usize {
    qdsim_mem::solver::solver_threads()
}

#[pymodule]
fn _qdsim_mem(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<manager::Manager>()?;
    m.add_class::<manager::Scope>()?;
    m.add_class::<arrays::Block>()?;
    m.add_class::<hamiltonian::Grid>()?;
    m.add_class::<hamiltonian::Absorber>()?;
    m.add_class::<hamiltonian::Hamiltonian>()?;
    m.add_class::<hamiltonian::CsrBlocks>()?;
    m.add_class::<solve::Progress>()?;
    m.add_class::<solve::LowestStates>()?;
    m.add_class::<solve::Resonances>()?;
    m.add_class::<profiler::Profiler>()?;
    m.add_function(wrap_pyfunction!(solve::solve_lowest, m)?)?;
    m.add_function(wrap_pyfunction!(solve::solve_resonances, m)?)?;
    m.add_function(wrap_pyfunction!(set_solver_threads, m)?)?;
    m.add_function(wrap_pyfunction!(solver_threads, m)?)?;
    errors::register(m)?;
    m.add("TRACEMALLOC_DOMAIN", tracemalloc::DOMAIN)?;
    m.add(
        "HBAR2_OVER_2M0",
        qdsim_mem::physics::constants::HBAR2_OVER_2M0,
    )?;
    m.add("GAAS_MASS", qdsim_mem::physics::constants::GAAS_MASS)?;
    m.add("INAS_MASS", qdsim_mem::physics::constants::INAS_MASS)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
