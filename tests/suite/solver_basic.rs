//! LOBPCG on operators with known spectra: the 2D box (exact discrete formula), complex
//! Hermitian matrices against the dense solver, bad options; the dense solvers' residuals and
//! wall time (Rust and C).

use crate::common::mode;
use faer::Side;
use num_complex::Complex64;
use qdsim_mem::ErrorKind;
use qdsim_mem::matrix::ManagedMatrix;
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::physics::constants::{GAAS_MASS, HBAR2_OVER_2M0};
use qdsim_mem::physics::*;
use qdsim_mem::solver::*;

/// The 16 levels (p, q ≤ 4) of the empty GaAs box of n × n points, spacing `h`, ascending:
/// the exact discrete spectrum.
fn box_levels(n: usize, h: f64) -> Vec<f64> {
    let c = HBAR2_OVER_2M0 / GAAS_MASS;
    let mut exact: Vec<f64> = (1..=4)
        .flat_map(|p| (1..=4).map(move |q| c * (mode(n, h, p) + mode(n, h, q))))
        .collect();
    exact.sort_by(f64::total_cmp);
    exact
}

#[test]
fn jacobi_lobpcg_finds_the_box_spectrum_with_multiplicities() {
    let n = 40;
    let grid = Grid::dirichlet_box(&[20.0, 20.0], &[n, n]).unwrap();
    let h = grid.axes()[0].spacing;
    let m = MemoryManager::with_defaults().unwrap();
    let op =
        StencilOperator::<f64>::new(&m, &HamiltonianSpec::new(grid, GAAS_MASS, None), "h").unwrap();
    let options = EigenOptions {
        k: 6,
        tol: 1e-9,
        ..EigenOptions::default()
    };
    let result = lowest_eigenpairs(&m, &op, None, &options, None).unwrap();
    assert!(result.is_converged(), "{result:?}");
    let exact = box_levels(n, h);
    for (e, x) in result.values.iter().zip(&exact) {
        // residual 1e-9·λ bounds the eigenvalue error by ~(1e-9·λ)²/gap: far below 1e-10.
        assert!((e - x).abs() < 1e-10 * x, "{e} vs {x}");
    }
    // (1,2) and (2,1): a doubly degenerate pair, both found.
    assert!((result.values[1] - result.values[2]).abs() < 1e-10 * result.values[1]);
    // Orthonormal eigenvectors.
    let v = result.vectors.as_ref();
    let g = v.adjoint() * v;
    for i in 0..6 {
        for j in 0..6 {
            let expected = if i == j { 1.0 } else { 0.0 };
            assert!(
                (g[(i, j)] - expected).abs() < 1e-10,
                "VᴴV[{i},{j}] = {}",
                g[(i, j)]
            );
        }
    }
}

#[test]
fn complex_hermitian_matches_the_dense_solver() {
    let n = 24;
    let grid = Grid::dirichlet_box(&[60.0, 60.0], &[n, n]).unwrap();
    let v: Vec<f64> = (0..n * n).map(|p| 0.002 * ((p * 37) % 11) as f64).collect();
    let spec = HamiltonianSpec {
        magnetic_field: 6.0,
        ..HamiltonianSpec::new(grid, GAAS_MASS, Some(&v))
    };
    let m = MemoryManager::with_defaults().unwrap();
    let op = StencilOperator::<Complex64>::new(&m, &spec, "h").unwrap();
    let csr = op.to_csr("csr").unwrap();
    let dense = csr
        .to_dense()
        .self_adjoint_eigenvalues(Side::Lower)
        .unwrap();
    let options = EigenOptions {
        k: 8,
        tol: 1e-10,
        ..EigenOptions::default()
    };
    for result in [
        lowest_eigenpairs(&m, &op, None, &options, None).unwrap(),
        lowest_eigenpairs(&m, &csr, None, &options, None).unwrap(),
    ] {
        assert!(result.is_converged());
        for (e, x) in result.values.iter().zip(&dense) {
            // docs/validation.md case 4: sparse and dense agree to 1e-9 relative.
            assert!((e - x).abs() < 1e-9 * x.abs(), "{e} vs dense {x}");
        }
    }
}

#[test]
fn bad_options_are_refused() {
    let grid = Grid::dirichlet_box(&[10.0], &[20]).unwrap();
    let m = MemoryManager::with_defaults().unwrap();
    let op =
        StencilOperator::<f64>::new(&m, &HamiltonianSpec::new(grid, GAAS_MASS, None), "h").unwrap();
    for (options, needle) in [
        (
            EigenOptions {
                k: 0,
                ..EigenOptions::default()
            },
            "k = 0",
        ),
        (
            EigenOptions {
                k: 20,
                ..EigenOptions::default()
            },
            "must be smaller than the dimension 20",
        ),
        (
            EigenOptions {
                k: 3,
                tol: -1.0,
                ..EigenOptions::default()
            },
            "tolerance -1",
        ),
        (
            EigenOptions {
                k: 3,
                max_iterations: 0,
                ..EigenOptions::default()
            },
            "max_iterations = 0",
        ),
    ] {
        let err = lowest_eigenpairs(&m, &op, None, &options, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(
            err.message().contains(needle),
            "{needle:?} not in {:?}",
            err.message()
        );
    }
}

#[test]
fn cancellation_and_non_convergence_are_reported() {
    let grid = Grid::dirichlet_box(&[20.0, 20.0], &[30, 30]).unwrap();
    let m = MemoryManager::with_defaults().unwrap();
    let op =
        StencilOperator::<f64>::new(&m, &HamiltonianSpec::new(grid, GAAS_MASS, None), "h").unwrap();
    let options = EigenOptions {
        k: 4,
        ..EigenOptions::default()
    };
    let mut calls = 0;
    let mut cancel = |p: &Progress| {
        calls += 1;
        p.iteration >= 3
    };
    let err = lowest_eigenpairs(&m, &op, None, &options, Some(&mut cancel)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(calls, 3);
    let few = EigenOptions {
        k: 4,
        max_iterations: 2,
        ..EigenOptions::default()
    };
    let partial = lowest_eigenpairs(&m, &op, None, &few, None).unwrap();
    assert!(!partial.is_converged());
    assert_eq!(partial.values.len(), 4);
    assert_eq!(
        m.stats().live_allocations,
        1 + 1,
        "operator diag + partial result vectors"
    );
}

#[test]
fn progress_counts_a_level_s_iterations_on_across_the_finest_block_s_groups() {
    // The 2D dot's lowest 10 (shells of 1, 2, 3, 4): the finest block runs in two groups (6
    // and 4, split at the 30 → 40 meV gap). The callback must still see one run per level:
    // iterations 1, 2, 3, … and 10 wanted pairs throughout, converged pairs never falling.
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[99, 99]).unwrap();
    let v = crate::common::dot_potential(&grid, 0.010);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let mut seen = Vec::new();
    let mut record = |p: &Progress| {
        seen.push(*p);
        false
    };
    let options = EigenOptions {
        k: 10,
        ..EigenOptions::default()
    };
    let r = lowest_states::<f64>(&m, &spec, &options, Some(&mut record)).unwrap();
    assert!(r.is_converged());
    let finest: Vec<&Progress> = seen.iter().filter(|p| p.level == 0).collect();
    assert!(finest.len() >= 2, "{finest:?}");
    for (i, p) in finest.iter().enumerate() {
        assert_eq!((p.iteration, p.wanted), (i + 1, 10), "{finest:?}");
    }
    assert!(
        finest.windows(2).all(|w| w[0].converged <= w[1].converged),
        "{finest:?}"
    );
    // The second group starts with the first's 6 pairs converged.
    assert!(finest.iter().any(|p| p.converged == 6), "{finest:?}");
}

/// A deterministic, irregular complex entry (no structure for the solver to exploit).
fn entry(i: usize, j: usize) -> Complex64 {
    Complex64::new(
        ((i * 7 + j * 13) as f64).sin(),
        ((i * 3 + j * 5 + 1) as f64).cos(),
    )
}

/// ‖A‖_F of the n × n matrix `a(i, j)`.
fn frobenius(n: usize, a: &dyn Fn(usize, usize) -> Complex64) -> f64 {
    (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| a(i, j).norm_sqr())
        .sum::<f64>()
        .sqrt()
}

/// ‖Ax − λx‖ / ‖x‖ by plain loops over `a(i, j)` (the independent reference).
fn loop_residual(
    n: usize,
    a: impl Fn(usize, usize) -> Complex64,
    x: &[Complex64],
    lambda: Complex64,
) -> f64 {
    let mut r = 0.0;
    for i in 0..n {
        let ax: Complex64 = (0..n).map(|j| a(i, j) * x[j]).sum();
        r += (ax - lambda * x[i]).norm_sqr();
    }
    (r / x.iter().map(|v| v.norm_sqr()).sum::<f64>()).sqrt()
}

/// Issue 15 (3): the dense solvers report their wall time and the true residuals. Both solvers
/// are backward stable, so ‖Ax − λx‖ ≤ c·n·ε·‖A‖ with c of order 1: for n = 60, ε = 2.2e-16,
/// that is ~1.3e-14·‖A‖_F, and 1e-13·‖A‖_F leaves a factor 7. The reported residual and the
/// loop-computed one are both rounding-level numbers: they may differ by the rounding of the
/// two products, again ≤ n·ε·‖A‖, so the same bound applies to their difference. A residual of
/// exactly 0 everywhere would be the old placeholder: at least one must be positive. The upper
/// triangle of the Hermitian input holds garbage (1e3): a residual that read it would be O(1e3).
#[test]
fn dense_solvers_report_true_residuals_and_seconds() {
    let m = MemoryManager::with_defaults().unwrap();
    let n = 60;
    let herm = |i: usize, j: usize| {
        if i == j {
            Complex64::new(entry(i, i).re, 0.0)
        } else if i > j {
            entry(i, j)
        } else {
            entry(j, i).conj()
        }
    };
    let mut a = ManagedMatrix::<Complex64>::zeros(&m, n, n, "a").unwrap();
    for j in 0..n {
        for (i, v) in a.col_mut(j).iter_mut().enumerate() {
            *v = if i >= j {
                herm(i, j)
            } else {
                Complex64::new(1e3, 1e3)
            };
        }
    }
    let bound = 1e-13 * frobenius(n, &herm);
    let r = dense_hermitian(&m, &a, Some(10)).unwrap();
    assert!(r.seconds > 0.0);
    assert_eq!(r.residuals.len(), 10);
    for (j, &res) in r.residuals.iter().enumerate() {
        let reference = loop_residual(n, herm, r.vectors.col(j), r.values[j].into());
        assert!(
            res <= bound && (res - reference).abs() <= bound,
            "{res} vs {reference}"
        );
    }
    assert!(r.residuals.iter().any(|&x| x > 0.0));

    let general = |i: usize, j: usize| entry(i, j);
    let mut g = ManagedMatrix::<Complex64>::zeros(&m, n, n, "g").unwrap();
    for j in 0..n {
        for (i, v) in g.col_mut(j).iter_mut().enumerate() {
            *v = general(i, j);
        }
    }
    let bound = 1e-13 * frobenius(n, &general);
    let r = dense_general(&m, &g).unwrap();
    assert!(r.seconds > 0.0);
    assert_eq!(r.residuals.len(), n);
    for (j, &res) in r.residuals.iter().enumerate() {
        let reference = loop_residual(n, general, r.vectors.col(j), r.values[j]);
        assert!(
            res <= bound && (res - reference).abs() <= bound,
            "{res} vs {reference}"
        );
    }
    assert!(r.residuals.iter().any(|&x| x > 0.0));
}

/// The same through the C API (a real general matrix and a real symmetric one): the result's
/// `info.seconds` is positive and its residuals are the loop-computed ones (bounds as above).
#[test]
fn dense_solvers_c_api_report_residuals_and_seconds() {
    use qdsim_mem::ffi::manager::{qdsim_manager_create, qdsim_manager_destroy};
    use qdsim_mem::ffi::matrix::{
        qdsim_matrix_create, qdsim_matrix_data, qdsim_matrix_get_info, qdsim_matrix_info,
    };
    use qdsim_mem::ffi::solver::*;
    use qdsim_mem::ffi::status::qdsim_status::QDSIM_OK;
    use qdsim_mem::ffi::types::{QDSIM_SCALAR_REAL, qdsim_complex};
    let n = 40;
    let general = |i: usize, j: usize| Complex64::new(entry(i, j).re, 0.0);
    let symmetric = |i: usize, j: usize| general(i.max(j), i.min(j));
    // SAFETY: every pointer is to live local memory of the right type or a live handle; the
    // matrix data is written within rows × cols at leading dimension ld.
    unsafe {
        let mut cm = std::ptr::null_mut();
        assert_eq!(qdsim_manager_create(std::ptr::null(), &mut cm), QDSIM_OK);
        let mut a = std::ptr::null_mut();
        assert_eq!(
            qdsim_matrix_create(cm, QDSIM_SCALAR_REAL, n, n, c"a".as_ptr(), &mut a),
            QDSIM_OK
        );
        let mut info = std::mem::MaybeUninit::<qdsim_matrix_info>::uninit();
        assert_eq!(qdsim_matrix_get_info(a, info.as_mut_ptr()), QDSIM_OK);
        let ld = info.assume_init().ld;
        let mut data = std::ptr::null_mut();
        assert_eq!(qdsim_matrix_data(a, &mut data), QDSIM_OK);
        let fill = |f: &dyn Fn(usize, usize) -> Complex64| {
            for j in 0..n {
                for i in 0..n {
                    *data.cast::<f64>().add(i + j * ld) = f(i, j).re;
                }
            }
        };
        let check = |r: *mut qdsim_eigen_result, f: &dyn Fn(usize, usize) -> Complex64| {
            let mut info = qdsim_eigen_info::default();
            assert_eq!(qdsim_eigen_result_info(r, &mut info), QDSIM_OK);
            assert!(info.seconds > 0.0 && info.converged == info.count);
            let mut values = vec![qdsim_complex::default(); info.count];
            assert_eq!(
                qdsim_eigen_result_complex_values(r, values.as_mut_ptr()),
                QDSIM_OK
            );
            let mut residuals = vec![0.0; info.count];
            assert_eq!(
                qdsim_eigen_result_residuals(r, residuals.as_mut_ptr()),
                QDSIM_OK
            );
            let (mut vptr, mut vld) = (std::ptr::null(), 0);
            assert_eq!(qdsim_eigen_result_vectors(r, &mut vptr, &mut vld), QDSIM_OK);
            let bound = 1e-13 * frobenius(n, f);
            for j in 0..info.count {
                let x: Vec<Complex64> = (0..n)
                    .map(|i| {
                        if info.vector_scalar == QDSIM_SCALAR_REAL {
                            Complex64::new(*vptr.cast::<f64>().add(i + j * vld), 0.0)
                        } else {
                            *vptr.cast::<Complex64>().add(i + j * vld)
                        }
                    })
                    .collect();
                let lambda = Complex64::new(values[j].re, values[j].im);
                let reference = loop_residual(n, f, &x, lambda);
                assert!(
                    residuals[j] <= bound && (residuals[j] - reference).abs() <= bound,
                    "{} vs {reference}",
                    residuals[j]
                );
            }
            assert!(residuals.iter().any(|&x| x > 0.0));
            assert_eq!(qdsim_eigen_result_destroy(r), QDSIM_OK);
        };
        fill(&general);
        let mut r = std::ptr::null_mut();
        assert_eq!(qdsim_matrix_eigen_general(a, &mut r), QDSIM_OK);
        check(r, &general);
        fill(&symmetric);
        let mut r = std::ptr::null_mut();
        assert_eq!(qdsim_matrix_eigen_hermitian(a, 0, &mut r), QDSIM_OK);
        check(r, &symmetric);
        assert_eq!(qdsim_mem::ffi::matrix::qdsim_matrix_destroy(a), QDSIM_OK);
        assert_eq!(qdsim_manager_destroy(cm), QDSIM_OK);
    }
}

/// An operator that records, for every application, the size of the rayon pool it runs in and
/// the name of its thread.
struct Recording<'a> {
    inner: &'a StencilOperator<f64>,
    seen: std::sync::Mutex<std::collections::BTreeSet<(usize, Option<String>)>>,
}

impl Operator<f64> for Recording<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn row_granularity(&self) -> usize {
        self.inner.row_granularity()
    }
    fn apply_rows(&self, x: &[f64], rows: std::ops::Range<usize>, y: &mut [f64]) {
        let thread = std::thread::current().name().map(str::to_string);
        self.seen
            .lock()
            .unwrap()
            .insert((rayon::current_num_threads(), thread));
        self.inner.apply_rows(x, rows, y);
    }
    fn diagonal(&self) -> Vec<f64> {
        Operator::diagonal(self.inner)
    }
    fn gershgorin_bounds(&self) -> (f64, f64) {
        self.inner.gershgorin_bounds()
    }
}

/// Issue 18: `set_solver_threads` — a solve runs on exactly that many threads (its operator
/// applications all happen on the one solver thread) and finds the same states, while the
/// progress callback still runs on the calling thread; too many is refused and changes
/// nothing; 0 goes back to the default.
#[test]
fn the_number_of_solver_threads_is_a_setting() {
    use qdsim_mem::solver::{set_solver_threads, solver_threads};
    let default = solver_threads();
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[63, 63]).unwrap();
    let mut v = vec![0.0; grid.len()];
    parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v).unwrap();
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let m = MemoryManager::with_defaults().unwrap();
    let options = EigenOptions {
        k: 4,
        tol: 1e-9,
        ..EigenOptions::default()
    };
    let reference = lowest_states::<f64>(&m, &spec, &options, None).unwrap();
    let stencil = StencilOperator::<f64>::new(&m, &spec, "h").unwrap();
    let recording = Recording {
        inner: &stencil,
        seen: Default::default(),
    };
    set_solver_threads(1).unwrap();
    assert_eq!(solver_threads(), 1);
    assert_eq!(
        set_solver_threads(qdsim_mem::solver::MAX_SOLVER_THREADS + 1)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(solver_threads(), 1);
    let caller = std::thread::current().id();
    let mut callback_threads = Vec::new();
    let mut record = |_: &Progress| {
        callback_threads.push(std::thread::current().id());
        false
    };
    let one = lowest_states::<f64>(&m, &spec, &options, Some(&mut record));
    let operator_run = lowest_eigenpairs::<f64, _>(&m, &recording, None, &options, None);
    set_solver_threads(0).unwrap();
    let (one, operator_run) = (one.unwrap(), operator_run.unwrap());
    assert!(
        !callback_threads.is_empty() && callback_threads.iter().all(|&t| t == caller),
        "{callback_threads:?}"
    );
    let seen = recording.seen.into_inner().unwrap();
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [(1, Some("qdsim-solver-0".to_string()))]
    );
    assert_eq!(solver_threads(), default);
    for (a, b) in one.values.iter().zip(&reference.values) {
        // Both converged to 1e-9 relative residual: the eigenvalues agree far below 1e-10.
        assert!((a - b).abs() <= 1e-10 * b.abs(), "{a} vs {b}");
    }
    assert!(operator_run.is_converged(), "{operator_run:?}");
    for (a, b) in operator_run.values.iter().zip(&reference.values) {
        // Converged to 1e-9 relative residual (Jacobi instead of multigrid): same bound.
        assert!((a - b).abs() <= 1e-10 * b.abs(), "{a} vs {b}");
    }
}

/// One level, Jacobi preconditioner, a tight tolerance: LOBPCG runs many iterations, so its
/// basis must stay orthonormal all the way (a variant that built P in Rayleigh–Ritz
/// coordinates without re-orthonormalising it converged none of these pairs). The empty 49²
/// box against its exact discrete spectrum, degenerate pairs included.
#[test]
fn a_long_single_level_solve_to_a_tight_tolerance_converges() {
    let m = MemoryManager::with_defaults().unwrap();
    let (n, length) = (49usize, 20.0);
    let grid = Grid::dirichlet_box(&[length, length], &[n, n]).unwrap();
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, None);
    let csr = StencilOperator::<f64>::new(&m, &spec, "h")
        .unwrap()
        .to_csr("h")
        .unwrap();
    let options = EigenOptions {
        k: 6,
        tol: 1e-9,
        method: Method::Lobpcg,
        ..EigenOptions::default()
    };
    let r = csr_lowest(&m, &csr, &options, None).unwrap();
    assert_eq!(r.converged, 6, "{r:?}");
    let exact = box_levels(n, length / (n + 1) as f64);
    for (j, (&e, &x)) in r.values.iter().zip(&exact).enumerate() {
        // Residual 1e-9·λ: the eigenvalue error is ~‖r‖²/gap, far below 1e-10 relative.
        assert!((e - x).abs() <= 1e-10 * x, "state {j}: {e} vs exact {x}");
    }
}
