//! LOBPCG on operators with known spectra: the 2D box (exact discrete formula), complex
//! Hermitian matrices against the dense solver, bad options.

use crate::common::mode;
use faer::Side;
use num_complex::Complex64;
use qdsim_mem::ErrorKind;
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::physics::constants::{GAAS_MASS, HBAR2_OVER_2M0};
use qdsim_mem::physics::*;
use qdsim_mem::solver::*;

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
    let c = HBAR2_OVER_2M0 / GAAS_MASS;
    let mut exact: Vec<f64> = (1..=4)
        .flat_map(|p| (1..=4).map(move |q| c * (mode(n, h, p) + mode(n, h, q))))
        .collect();
    exact.sort_by(f64::total_cmp);
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
