//! The solvers from Python: `Manager.solve_lowest` (the lowest states of the closed system) and
//! `Manager.solve_resonances` (complex energies of the open system near a target), with the
//! GIL released during the solve, progress reports handed to a Python callback, and Ctrl-C
//! (KeyboardInterrupt) cancelling the solve through the library's cancellation path.
//!
//! The results keep their eigenvectors where the solver left them (pool blocks, or a mapped
//! file for out-of-core results); `vectors` and `state(j)` are read-only numpy views of that
//! memory, valid as long as any of them or the result lives.

use crate::arrays::{matrix_view, reshape_fortran};
use crate::errors::{IntoPyResult, InvalidArgument, NotConverged};
use crate::hamiltonian::Hamiltonian;
use crate::manager::Manager;
use crate::tracemalloc;
use num_complex::Complex64;
use numpy::{Element, PyArray1};
use pyo3::prelude::*;
use qdsim_mem::matrix::Scalar;
use qdsim_mem::solver::{
    EigenOptions, EigenResult, Method, Progress as RustProgress, Resonances as RustResonances,
    grid_resonances, lowest_states,
};

/// One progress report of a solve, handed to the `progress` callback.
#[pyclass(module = "qdsim_mem", frozen, get_all)]
pub struct Progress {
    /// Grid level, 0 = the finest.
    level: usize,
    /// Grid levels of the solve.
    levels: usize,
    /// Iteration on this level.
    iteration: usize,
    /// Pairs that met the tolerance.
    converged: usize,
    /// Pairs asked for.
    wanted: usize,
    /// Largest relative residual of the wanted pairs.
    max_residual: f64,
    /// Operator applications so far.
    applications: u64,
}

#[pymethods]
impl Progress {
    fn __repr__(&self) -> String {
        format!(
            "<qdsim_mem.Progress level {}/{} iteration {} converged {}/{} residual {:.2e}>",
            self.levels - self.level,
            self.levels,
            self.iteration,
            self.converged,
            self.wanted,
            self.max_residual
        )
    }
}

impl From<&RustProgress> for Progress {
    fn from(p: &RustProgress) -> Self {
        Self {
            level: p.level,
            levels: p.levels,
            iteration: p.iteration,
            converged: p.converged,
            wanted: p.wanted,
            max_residual: p.max_residual,
            applications: p.applications,
        }
    }
}

fn method_named(name: &str) -> PyResult<Method> {
    match name {
        "auto" => Ok(Method::Auto),
        "lobpcg" => Ok(Method::Lobpcg),
        "shift-invert" | "shift_invert" => Ok(Method::ShiftInvert),
        other => Err(InvalidArgument::new_err(format!(
            "method {other:?}: use \"auto\", \"lobpcg\" or \"shift-invert\""
        ))),
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Auto => "auto",
        Method::Lobpcg => "lobpcg",
        Method::ShiftInvert => "shift-invert",
    }
}

/// Runs `solve` with the GIL released and a progress callback that takes the GIL back for
/// each report: it checks for signals (Ctrl-C raises KeyboardInterrupt there, which cancels
/// the solve) and calls `callback` (a true return value cancels). An exception from either is
/// raised once the solve has unwound.
fn run_solve<R: Send>(
    py: Python<'_>,
    callback: Option<Py<PyAny>>,
    solve: impl FnOnce(&mut qdsim_mem::solver::ProgressFn<'_>) -> qdsim_mem::Result<R> + Send,
) -> PyResult<R> {
    let mut raised: Option<PyErr> = None;
    let result = {
        let mut report = |p: &RustProgress| -> bool {
            Python::attach(|py| {
                if let Err(e) = py.check_signals() {
                    raised = Some(e);
                    return true;
                }
                let Some(callback) = &callback else {
                    return false;
                };
                match callback
                    .call1(py, (Progress::from(p),))
                    .and_then(|answer| answer.is_truthy(py))
                {
                    Ok(cancel) => cancel,
                    Err(e) => {
                        raised = Some(e);
                        true
                    }
                }
            })
        };
        py.detach(|| solve(&mut report))
    };
    if let Some(e) = raised {
        return Err(e);
    }
    result.py()
}

/// Raises `NotConverged(message, result)` when `result` is partial, else returns it.
fn check_converged<'py, T>(
    py: Python<'py>,
    result: T,
    converged: usize,
    count: usize,
) -> PyResult<Bound<'py, T>>
where
    T: pyo3::PyClass + Into<pyo3::PyClassInitializer<T>>,
{
    let result = Bound::new(py, result)?;
    if converged < count {
        return Err(NotConverged::new_err((
            format!(
                "{converged} of {count} pairs met the tolerance; the exception's `result` holds \
                 the partial result (converged pairs first)"
            ),
            result.clone().unbind(),
        )));
    }
    Ok(result)
}

/// The lowest `k` states of the closed system (the absorber is ignored) by
/// multigrid-preconditioned block LOBPCG started coarse-to-fine (or shift-invert), every
/// byte from this manager. Returns `LowestStates`; raises `NotConverged` (with `.result`,
/// the partial result) when some pairs miss the tolerance, `LimitExceeded` up front when
/// the solve cannot fit the limit, `Cancelled` when `progress` returns True, and
/// `KeyboardInterrupt` on Ctrl-C (the solve stops and frees everything it held).
#[pyfunction]
#[pyo3(signature = (manager, hamiltonian, k=10, *, tol=1e-6, method="auto", max_iterations=500, memory_budget=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_lowest<'py>(
    py: Python<'py>,
    manager: &Manager,
    hamiltonian: &Hamiltonian,
    k: usize,
    tol: f64,
    method: &str,
    max_iterations: usize,
    memory_budget: Option<u64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, LowestStates>> {
    let options = EigenOptions {
        k,
        tol,
        method: method_named(method)?,
        max_iterations,
        memory_budget,
        ..EigenOptions::default()
    };
    let complex = hamiltonian
        .with_spec(py, |spec| spec.solve_scalar_kind(None))
        .py()?
        == qdsim_mem::matrix::ScalarKind::Complex;
    let manager = &manager.inner;
    let states = hamiltonian.with_spec(py, |spec| {
        run_solve(py, progress, |report| {
            Ok(if complex {
                Lowest::Complex(lowest_states::<Complex64>(
                    manager,
                    spec,
                    &options,
                    Some(report),
                )?)
            } else {
                Lowest::Real(lowest_states::<f64>(manager, spec, &options, Some(report))?)
            })
        })
    })?;
    let (converged, count) = match &states {
        Lowest::Real(r) => (r.converged, r.values.len()),
        Lowest::Complex(r) => (r.converged, r.values.len()),
    };
    let result = LowestStates::new(states, hamiltonian.shape());
    check_converged(py, result, converged, count)
}

/// The `k` resonances (complex energies E − iΓ/2, eV) nearest `target` (eV, a number or a
/// complex) of the open system, by the matrix-free coarse-to-fine block Davidson solver
/// (method "auto") or shift-invert on the assembled matrix ("shift-invert"). Converged
/// pairs come first, each group nearest the target first. With a `memory_budget` below the
/// in-core estimate the search space goes to an unlinked scratch file in the system's temporary
/// directory. Raises as `solve_lowest`.
#[pyfunction]
#[pyo3(signature = (manager, hamiltonian, target, k=4, *, tol=1e-8, method="auto", max_iterations=500, memory_budget=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_resonances<'py>(
    py: Python<'py>,
    manager: &Manager,
    hamiltonian: &Hamiltonian,
    target: Complex64,
    k: usize,
    tol: f64,
    method: &str,
    max_iterations: usize,
    memory_budget: Option<u64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, Resonances>> {
    let options = EigenOptions {
        k,
        tol,
        method: method_named(method)?,
        max_iterations,
        memory_budget,
        ..EigenOptions::default()
    };
    let manager = &manager.inner;
    let found = hamiltonian.with_spec(py, |spec| {
        run_solve(py, progress, |report| {
            grid_resonances(manager, spec, target, &options, Some(report))
        })
    })?;
    let (converged, count) = (found.converged, found.values.len());
    let result = Resonances::new(found, hamiltonian.shape());
    check_converged(py, result, converged, count)
}

enum Lowest {
    Real(EigenResult<f64>),
    Complex(EigenResult<Complex64>),
}

/// Reports the result's eigenvector block to tracemalloc for as long as it lives.
struct Traced(usize);

impl Traced {
    fn new(address: usize, bytes: usize) -> Self {
        tracemalloc::track(address, bytes);
        Self(address)
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        tracemalloc::untrack(self.0);
    }
}

/// The lowest states of a closed system (`Manager.solve_lowest`): `values` (eV, ascending,
/// every member of each multiplet), `vectors` (n × k, one normalised state per column, a
/// read-only view of the result's memory), `state(j)` (state j shaped like the grid),
/// residuals and the solve's counters.
#[pyclass(module = "qdsim_mem", frozen)]
pub struct LowestStates {
    states: Lowest,
    shape: Vec<usize>,
    _traced: Option<Traced>,
}

impl LowestStates {
    fn new(states: Lowest, shape: Vec<usize>) -> Self {
        let traced = match &states {
            Lowest::Real(r) => traced_vectors(&r.vectors),
            Lowest::Complex(r) => traced_vectors(&r.vectors),
        };
        Self {
            states,
            shape,
            _traced: traced,
        }
    }
}

fn traced_vectors<T: Scalar>(v: &qdsim_mem::solver::Eigenvectors<T>) -> Option<Traced> {
    (!v.is_mapped())
        .then(|| Traced::new(v.data_ptr() as usize, v.ld() * v.ncols() * size_of::<T>()))
}

/// Dispatches over the real and complex results.
macro_rules! each {
    ($states:expr, $r:ident => $body:expr) => {
        match $states {
            Lowest::Real($r) => $body,
            Lowest::Complex($r) => $body,
        }
    };
}

/// The `nrows × ncols` column-major matrix at `ptr` (leading dimension `ld`) as a read-only
/// numpy view kept alive by `owner`: all of it, or column `j` shaped like the grid (`shape`).
///
/// # Safety
/// `ptr` must point to `ld × (ncols − 1) + nrows` initialised elements that `owner` owns and
/// keeps unchanged for its lifetime (a result's eigenvectors: a pool block or a mapping).
unsafe fn vectors_view<'py, T: Element>(
    owner: Bound<'py, PyAny>,
    (ptr, nrows, ncols, ld): (*const T, usize, usize, usize),
    column: Option<usize>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    match column {
        // SAFETY: per the function's contract.
        None => unsafe { matrix_view(owner, ptr, nrows, ncols, ld) },
        Some(j) => {
            if j >= ncols {
                return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                    "state {j} of {ncols}"
                )));
            }
            // SAFETY: per the function's contract; column j starts `j × ld` elements in.
            let col = unsafe { matrix_view(owner, ptr.add(j * ld), nrows, 1, ld)? };
            reshape_fortran(col, shape)
        }
    }
}

/// The layout of a result's eigenvector block, for [`vectors_view`].
fn layout<T: Scalar>(v: &qdsim_mem::solver::Eigenvectors<T>) -> (*const T, usize, usize, usize) {
    (v.data_ptr(), v.nrows(), v.ncols(), v.ld())
}

#[pymethods]
impl LowestStates {
    /// Eigenvalues, eV, ascending.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        each!(&self.states, r => PyArray1::from_slice(py, &r.values))
    }

    /// Relative residuals ‖Hx − Ex‖ / ‖x‖.
    #[getter]
    fn residuals<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        each!(&self.states, r => PyArray1::from_slice(py, &r.residuals))
    }

    /// The states as the columns of an n × k read-only array (x fastest within a column).
    #[getter]
    fn vectors(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        let owner = slf.clone().into_any();
        // SAFETY: the result that `owner` holds owns its vectors, unchanged for its lifetime.
        let view = each!(&this.states, r => unsafe {
            vectors_view(owner, layout(&r.vectors), None, &this.shape)
        });
        Ok(view?.unbind())
    }

    /// State `j` shaped like the grid (x first), read-only, without a copy.
    fn state(slf: &Bound<'_, Self>, j: usize) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        let owner = slf.clone().into_any();
        // SAFETY: as in `vectors`.
        let view = each!(&this.states, r => unsafe {
            vectors_view(owner, layout(&r.vectors), Some(j), &this.shape)
        });
        Ok(view?.unbind())
    }

    /// Pairs that met the tolerance.
    #[getter]
    fn converged(&self) -> usize {
        each!(&self.states, r => r.converged)
    }

    /// Iterations (all grid levels).
    #[getter]
    fn iterations(&self) -> usize {
        each!(&self.states, r => r.iterations)
    }

    /// Operator applications.
    #[getter]
    fn applications(&self) -> u64 {
        each!(&self.states, r => r.applications)
    }

    /// Wall time of the solve, seconds.
    #[getter]
    fn seconds(&self) -> f64 {
        each!(&self.states, r => r.seconds)
    }

    /// The highest bytes in use in the manager during the solve.
    #[getter]
    fn peak_pool_bytes(&self) -> u64 {
        each!(&self.states, r => r.peak_pool_bytes)
    }

    /// Bytes of scratch files the solve used (0 in core).
    #[getter]
    fn scratch_bytes(&self) -> u64 {
        each!(&self.states, r => r.scratch_bytes)
    }

    /// The method that ran ("lobpcg" or "shift-invert").
    #[getter]
    fn method(&self) -> &'static str {
        each!(&self.states, r => method_name(r.method))
    }

    /// Grid levels of the coarse-to-fine solve.
    #[getter]
    fn levels(&self) -> usize {
        each!(&self.states, r => r.levels)
    }

    /// True when every pair met the tolerance.
    #[getter]
    fn is_converged(&self) -> bool {
        each!(&self.states, r => r.is_converged())
    }

    fn __len__(&self) -> usize {
        each!(&self.states, r => r.values.len())
    }

    fn __repr__(&self) -> String {
        let values: Vec<String> =
            each!(&self.states, r => r.values.iter().map(|e| format!("{:.6}", e * 1e3)).collect());
        format!(
            "<qdsim_mem.LowestStates {} values (meV): {}; {} converged, {:.2} s>",
            values.len(),
            values.join(", "),
            self.converged(),
            self.seconds()
        )
    }
}

/// Resonances of an open system (`Manager.solve_resonances`): `values` E − iΓ/2 (eV,
/// complex), `energies_mev`, `widths_mev` (Γ), `vectors` (n × k, xᵀx = 1, read-only view),
/// `state(j)`, residuals and counters.
#[pyclass(module = "qdsim_mem", frozen)]
pub struct Resonances {
    found: RustResonances,
    shape: Vec<usize>,
    _traced: Traced,
}

impl Resonances {
    /// The layout of the eigenvector block, for [`vectors_view`].
    fn layout(&self) -> (*const Complex64, usize, usize, usize) {
        let v = &self.found.vectors;
        (v.data_ptr().cast_const(), v.nrows(), v.ncols(), v.ld())
    }

    fn new(found: RustResonances, shape: Vec<usize>) -> Self {
        let v = &found.vectors;
        let traced = Traced::new(v.data_ptr() as usize, v.size_bytes());
        Self {
            found,
            shape,
            _traced: traced,
        }
    }
}

#[pymethods]
impl Resonances {
    /// Complex energies E − iΓ/2, eV: converged first, each group nearest the target first.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<Complex64>> {
        PyArray1::from_slice(py, &self.found.values)
    }

    /// Re E in meV.
    #[getter]
    fn energies_mev<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_iter(py, self.found.values.iter().map(|e| e.re * 1e3))
    }

    /// Γ = −2 Im E in meV (the resonance's width; ħ/Γ its lifetime).
    #[getter]
    fn widths_mev<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_iter(py, self.found.values.iter().map(|e| -2.0 * e.im * 1e3))
    }

    /// Relative residuals.
    #[getter]
    fn residuals<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.found.residuals)
    }

    /// The eigenvectors as the columns of an n × k read-only complex array.
    #[getter]
    fn vectors(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        // SAFETY: the result that `slf` holds owns the vectors' pool block, unchanged for its
        // lifetime.
        let view =
            unsafe { vectors_view(slf.clone().into_any(), this.layout(), None, &this.shape) };
        Ok(view?.unbind())
    }

    /// Eigenvector `j` shaped like the grid (x first), read-only, without a copy.
    fn state(slf: &Bound<'_, Self>, j: usize) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        // SAFETY: as in `vectors`.
        let view =
            unsafe { vectors_view(slf.clone().into_any(), this.layout(), Some(j), &this.shape) };
        Ok(view?.unbind())
    }

    #[getter]
    fn converged(&self) -> usize {
        self.found.converged
    }

    #[getter]
    fn iterations(&self) -> usize {
        self.found.iterations
    }

    #[getter]
    fn applications(&self) -> u64 {
        self.found.applications
    }

    #[getter]
    fn levels(&self) -> usize {
        self.found.levels
    }

    #[getter]
    fn seconds(&self) -> f64 {
        self.found.seconds
    }

    #[getter]
    fn peak_pool_bytes(&self) -> u64 {
        self.found.peak_pool_bytes
    }

    /// Bytes of the scratch file the search space used (0 in core).
    #[getter]
    fn scratch_bytes(&self) -> u64 {
        self.found.scratch_bytes
    }

    #[getter]
    fn is_converged(&self) -> bool {
        self.found.is_converged()
    }

    fn __len__(&self) -> usize {
        self.found.values.len()
    }

    fn __repr__(&self) -> String {
        let values: Vec<String> = self
            .found
            .values
            .iter()
            .map(|e| format!("{:.4} meV (Γ {:.3e} meV)", e.re * 1e3, -2.0 * e.im * 1e3))
            .collect();
        format!(
            "<qdsim_mem.Resonances {}; {} converged, {:.2} s>",
            values.join(", "),
            self.found.converged,
            self.found.seconds
        )
    }
}
