//! The GPU operators and eigensolver (issue 9): the NVRTC stencil and cuSPARSE SpMV against the
//! CPU operators, and `gpu::lowest_states` against the CPU solver and the analytic spectrum of
//! the parabolic dot (docs/validation.md case 2), degenerate shells included. Every test needs
//! a device and prints `skipped: <reason>` without one; the library probe is checked
//! everywhere.

use crate::common::manager;
use num_complex::Complex64;
use qdsim_mem::ErrorKind;
use qdsim_mem::gpu::libraries::{Library, require};
use qdsim_mem::gpu::{
    Device, DeviceCsr, DeviceMultigrid, DeviceOperator, DevicePool, DeviceStencil, DeviceVec,
    GpuPreconditioner, csr_lowest_states, lowest_states, lowest_states_with,
};
use qdsim_mem::matrix::{CsrBuilder, Scalar};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Axis, Grid, HamiltonianSpec, Mass, StencilOperator, parabolic_potential};
use qdsim_mem::solver::{
    self, EigenOptions, Method, Multigrid, Operator, Placement, Preconditioner,
};

/// A pool on device 0, or `None` after printing `skipped: <test>: <reason>` when this machine
/// has no usable device or lacks the CUDA libraries the test needs. Any other failure fails.
fn pool_or_skip(test: &str, libraries: &[Library]) -> Option<DevicePool> {
    let opened = require(libraries).and_then(|()| Device::open(0));
    match opened {
        Ok(device) => {
            eprintln!("{test}: device 0: {device:?}");
            Some(DevicePool::new(device, None).unwrap())
        }
        Err(e) if e.kind() == ErrorKind::NoDevice => {
            eprintln!("skipped: {test}: {}", e.message());
            None
        }
        Err(e) => panic!("{test}: opening device 0 failed: {e}"),
    }
}

#[test]
fn missing_cuda_libraries_are_no_device_never_a_panic() {
    for library in [Library::Cublas, Library::Cusparse, Library::Nvrtc] {
        if let Err(e) = require(&[library]) {
            assert_eq!(e.kind(), ErrorKind::NoDevice, "{}", e.message());
            assert!(
                e.message().starts_with("no usable CUDA device: "),
                "{}",
                e.message()
            );
        }
    }
}

#[test]
fn c_solve_entry_point_checks_its_arguments_first() {
    use qdsim_mem::ffi::boundary::qdsim_last_error_message;
    use qdsim_mem::ffi::manager::{qdsim_manager_create, qdsim_manager_destroy};
    use qdsim_mem::ffi::solver::qdsim_eigen_result;
    use qdsim_mem::ffi::solver_gpu::qdsim_gpu_solve_lowest;
    use qdsim_mem::ffi::status::qdsim_status::*;
    use qdsim_mem::ffi::types::QDSIM_SCALAR_AUTO;
    use std::ptr::{null, null_mut};
    let message = || {
        // SAFETY: this thread's NUL-terminated message, read before the next call.
        unsafe { std::ffi::CStr::from_ptr(qdsim_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    };
    let mut manager = null_mut();
    // SAFETY: valid out-pointer; NULL options are the defaults.
    assert_eq!(
        unsafe { qdsim_manager_create(null(), &mut manager) },
        QDSIM_OK
    );
    let mut result: *mut qdsim_eigen_result = null_mut();
    // SAFETY: each call is refused before any pointer is dereferenced.
    unsafe {
        assert_eq!(
            qdsim_gpu_solve_lowest(
                null_mut(),
                manager,
                null(),
                QDSIM_SCALAR_AUTO,
                null(),
                null_mut()
            ),
            QDSIM_ERR_NULL_ARGUMENT
        );
        assert!(message().contains("out is NULL"), "{}", message());
        assert_eq!(
            qdsim_gpu_solve_lowest(
                null_mut(),
                manager,
                null(),
                QDSIM_SCALAR_AUTO,
                null(),
                &mut result
            ),
            QDSIM_ERR_NULL_ARGUMENT
        );
        assert!(message().contains("pool is NULL"), "{}", message());
        assert_eq!(
            qdsim_gpu_solve_lowest(
                manager.cast(),
                manager,
                null(),
                QDSIM_SCALAR_AUTO,
                null(),
                &mut result
            ),
            QDSIM_ERR_INVALID_HANDLE
        );
        assert!(
            message().contains("is a qdsim_manager, not a qdsim_gpu_pool"),
            "{}",
            message()
        );
        assert!(result.is_null());
        assert_eq!(qdsim_manager_destroy(manager), QDSIM_OK);
    }
}

fn random_vector<T: Scalar>(n: usize, seed: u64) -> Vec<T> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            let mut next = || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            };
            let (re, im) = (next(), next());
            T::from_complex(Complex64::new(re, im)).unwrap_or_else(|| T::from_real(re))
        })
        .collect()
}

/// max |a − b| / max |b|.
fn relative_difference<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    let scale = b.iter().map(|v| v.abs_sq().sqrt()).fold(0.0, f64::max);
    let diff = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x - y).abs_sq().sqrt())
        .fold(0.0, f64::max);
    diff / scale
}

/// `H·x` on the device (the stencil kernel, and cuSPARSE on the assembled CSR) against the CPU
/// operator for a random `x`.
fn compare_operators<T: Scalar>(pool: &DevicePool, what: &str, spec: &HamiltonianSpec<'_>) {
    let m = manager();
    let op = StencilOperator::<T>::new(&m, spec, "h").unwrap();
    let n = op.dim();
    let x = random_vector::<T>(n, 42);
    let mut expected = vec![T::ZERO_VALUE; n];
    Operator::apply(&op, &x, &mut expected);
    let dx = DeviceVec::from_host(pool, &x, "test.x").unwrap();
    let mut dy = DeviceVec::<T>::uninit(pool, n, "test.y").unwrap();
    let stencil = DeviceStencil::new(pool, &op).unwrap();
    stencil.apply(&dx, &mut dy).unwrap();
    let got = dy.to_host().unwrap();
    // Same elements, summed in the CPU's order up to FMA contraction on the device: a few
    // ulps of the largest term (hoppings ~40 eV times |x| ≤ 0.7).
    let d = relative_difference(&got, &expected);
    assert!(d < 1e-13, "{what}: stencil kernel differs by {d:e}");
    let csr = op.to_csr("h.csr").unwrap();
    let device_csr = DeviceCsr::new(pool, &csr).unwrap();
    device_csr.apply(&dx, &mut dy).unwrap();
    let got = dy.to_host().unwrap();
    let d = relative_difference(&got, &expected);
    assert!(d < 1e-13, "{what}: cuSPARSE SpMV differs by {d:e}");
    eprintln!("{what}: n = {n}, stencil and cuSPARSE agree with the CPU");
}

#[test]
fn stencil_kernel_and_cusparse_match_the_cpu_operator() {
    let Some(pool) = pool_or_skip(
        "stencil_kernel_and_cusparse_match_the_cpu_operator",
        &[Library::Nvrtc, Library::Cusparse],
    ) else {
        return;
    };
    // 2D GaAs dot: uniform mass, potential, Dirichlet (the validation case).
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[67, 53]).unwrap();
    let mut v = vec![0.0; grid.len()];
    parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v).unwrap();
    let dot = HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(&v));
    compare_operators::<f64>(&pool, "2D dot, f64", &dot);
    compare_operators::<Complex64>(&pool, "2D dot, complex vectors", &dot);
    // The same with a magnetic field (Peierls phases) and a position-dependent mass.
    let mass: Vec<f64> = (0..grid.len())
        .map(|p| 0.067 + 0.02 * ((p % 7) as f64))
        .collect();
    let field = HamiltonianSpec {
        mass: Mass::PerPoint(&mass),
        magnetic_field: 3.0,
        ..dot.clone()
    };
    compare_operators::<Complex64>(&pool, "2D, field and per-point mass", &field);
    // 3D: periodic x, Dirichlet y and z, per-point mass.
    let grid3 = Grid::new(&[
        Axis::periodic(12.0, 17),
        Axis::dirichlet_box(10.0, 9),
        Axis::dirichlet_box(8.0, 11),
    ])
    .unwrap();
    let mass3: Vec<f64> = (0..grid3.len())
        .map(|p| 0.026 + 0.04 * ((p % 5) as f64))
        .collect();
    let mut v3 = vec![0.0; grid3.len()];
    parabolic_potential(&grid3, 0.026, 0.02, &mut v3).unwrap();
    let cube = HamiltonianSpec {
        mass: Mass::PerPoint(&mass3),
        ..HamiltonianSpec::new(grid3, 0.026, Some(&v3))
    };
    compare_operators::<f64>(&pool, "3D, periodic x, per-point mass", &cube);
    // 1D ring.
    let ring = HamiltonianSpec::new(Grid::new(&[Axis::periodic(50.0, 101)]).unwrap(), 0.05, None);
    compare_operators::<Complex64>(&pool, "1D ring", &ring);
    let s = pool.stats().unwrap();
    assert_eq!(s.live_allocations, 0, "every device array was freed");
}

#[test]
fn cusparse_spmv_with_64_bit_indices_and_alpha_beta() {
    let Some(pool) = pool_or_skip(
        "cusparse_spmv_with_64_bit_indices_and_alpha_beta",
        &[Library::Cusparse],
    ) else {
        return;
    };
    let m = manager();
    // A non-symmetric complex 300 × 200 matrix with 64-bit indices, y = αAx + βy.
    let (rows, cols) = (300, 200);
    let mut b = CsrBuilder::<Complex64>::new(&m, rows, cols, "a").unwrap();
    for r in 0..rows {
        for c in [(r * 7) % cols, (r * 13 + 5) % cols, (r + 1) % cols] {
            b.add_element(r, c, Complex64::new(r as f64 + 1.0, c as f64 - 2.0))
                .unwrap();
        }
    }
    let a = b.finalize_with_index_bits(Some(64)).unwrap();
    assert_eq!(a.index_bits(), 64);
    let x = random_vector::<Complex64>(cols, 1);
    let y0 = random_vector::<Complex64>(rows, 2);
    let (alpha, beta) = (Complex64::new(0.5, -1.0), Complex64::new(2.0, 0.25));
    let mut expected = y0.clone();
    a.spmv(alpha, &x, beta, &mut expected).unwrap();
    let dx = DeviceVec::from_host(&pool, &x, "test.x").unwrap();
    let dy = DeviceVec::from_host(&pool, &y0, "test.y").unwrap();
    let device = DeviceCsr::new(&pool, &a).unwrap();
    assert_eq!(device.nnz(), a.nnz());
    // SAFETY: x and y are live, distinct device arrays of cols and rows elements; the pool is
    // synchronized (by the read) before they are dropped.
    unsafe {
        device
            .spmv(alpha, dx.address(), beta, dy.address())
            .unwrap()
    };
    let got = dy.to_host().unwrap();
    let d = relative_difference(&got, &expected);
    // Sums of 3 products in a possibly different order: rounding only.
    assert!(d < 1e-14, "cuSPARSE differs by {d:e}");
}

fn dot_spec(points: usize, v: &mut Vec<f64>) -> HamiltonianSpec<'_> {
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[points, points]).unwrap();
    v.resize(grid.len(), 0.0);
    parabolic_potential(&grid, GAAS_MASS, 0.010, v).unwrap();
    HamiltonianSpec::new(grid, GAAS_MASS, Some(v))
}

/// ‖Hx_j − λ_j x_j‖ on the host for the returned vectors, and max |XᴴX − I|.
fn host_checks<T: Scalar>(op: &StencilOperator<T>, r: &solver::EigenResult<T>) -> (Vec<f64>, f64) {
    let n = op.dim();
    let k = r.values.len();
    let mut hx = vec![T::ZERO_VALUE; n];
    let residuals = (0..k)
        .map(|j| {
            let x = r.vectors.col(j);
            Operator::apply(op, x, &mut hx);
            hx.iter()
                .zip(x)
                .map(|(&h, &v)| (h - v.scale(r.values[j])).abs_sq())
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let mut worst: f64 = 0.0;
    for i in 0..k {
        for j in 0..k {
            let dot = r
                .vectors
                .col(i)
                .iter()
                .zip(r.vectors.col(j))
                .fold(T::ZERO_VALUE, |acc, (&a, &b)| acc + a.conj_value() * b);
            let target = if i == j { 1.0 } else { 0.0 };
            worst = worst.max((dot - T::from_real(target)).abs_sq().sqrt());
        }
    }
    (residuals, worst)
}

/// The GPU's eigenvalues equal the CPU's to `tol` eV.
fn assert_same_values<T: Scalar>(
    gpu: &solver::EigenResult<T>,
    cpu: &solver::EigenResult<T>,
    tol: f64,
) {
    assert_eq!(gpu.values.len(), cpu.values.len());
    for (j, (g, c)) in gpu.values.iter().zip(&cpu.values).enumerate() {
        assert!((g - c).abs() < tol, "state {j}: GPU {g} eV, CPU {c} eV");
    }
}

#[test]
fn gpu_solver_matches_the_cpu_solver_and_the_analytic_dot() {
    let Some(pool) = pool_or_skip(
        "gpu_solver_matches_the_cpu_solver_and_the_analytic_dot",
        &[Library::Nvrtc, Library::Cublas],
    ) else {
        return;
    };
    let m = manager();
    let mut v = Vec::new();
    let spec = dot_spec(99, &mut v);
    let options = EigenOptions {
        k: 10,
        ..EigenOptions::default()
    };
    let gpu = lowest_states::<f64>(&pool, &m, &spec, &options, None).unwrap();
    eprintln!(
        "99² dot on the GPU: {:.4?} meV, {} iterations, {} levels, {:.3} s",
        gpu.values.iter().map(|e| e * 1e3).collect::<Vec<_>>(),
        gpu.iterations,
        gpu.levels,
        gpu.seconds
    );
    assert!(gpu.is_converged(), "{gpu:?}");
    let cpu = solver::lowest_states::<f64>(&m, &spec, &options, None).unwrap();
    // Both meet ‖r‖ ≤ 1e-6·max(|λ|, s) ≤ 4e-8 eV (s = 1e-3 of the spectrum width ≈ 3.5 meV);
    // every shell lies inside the block (11 columns, shells of 1+2+3+4), so the Ritz values
    // converge quadratically: errors ≤ ‖r‖²/gap ≈ 2e-13 eV with the 10 meV gap to the next
    // shell, and 1e-9 eV leaves room for rounding.
    assert_same_values(&gpu, &cpu, 1e-9);
    // docs/validation.md case 2, as in tests/suite/solver_validation.rs: 9.9921, 19.9762 (×2),
    // 29.94–29.96 (×3), four states within 0.15 meV of 40.
    let mev: Vec<f64> = gpu.values.iter().map(|e| e * 1e3).collect();
    assert!((mev[0] - 9.9921).abs() < 5e-4, "{mev:?}");
    assert!((mev[1] - 19.9762).abs() < 5e-4 && (mev[2] - 19.9762).abs() < 5e-4);
    assert!(
        mev[3..6].iter().all(|e| (29.935..29.965).contains(e)),
        "{mev:?}"
    );
    assert_eq!(
        mev[6..10]
            .iter()
            .filter(|e| (*e - 40.0).abs() < 0.15)
            .count(),
        4,
        "{mev:?}"
    );
    // The returned vectors are eigenvectors (checked on the host) and orthonormal.
    let op = StencilOperator::<f64>::new(&m, &spec, "check").unwrap();
    let (residuals, orthogonality) = host_checks(&op, &gpu);
    let (lower, upper) = op.gershgorin_bounds();
    let s = 1e-3 * (upper - lower);
    for (j, r) in residuals.iter().enumerate() {
        // The tolerance the solver certified, with a factor 2 for rounding in the check itself.
        assert!(
            *r <= 2.0 * options.tol * gpu.values[j].abs().max(s),
            "state {j}: host residual {r:e}"
        );
    }
    assert!(orthogonality < 1e-10, "XᴴX − I: {orthogonality:e}");
    assert_eq!(gpu.vectors.nrows(), spec.grid.len());
    drop(gpu);
    let stats = pool.stats().unwrap();
    assert_eq!(
        stats.live_allocations, 0,
        "the solve freed its device memory"
    );
    assert!(stats.peak_bytes_in_use > 0);
}

#[test]
fn gpu_solver_with_a_field_matches_the_cpu_solver() {
    let Some(pool) = pool_or_skip(
        "gpu_solver_with_a_field_matches_the_cpu_solver",
        &[Library::Nvrtc, Library::Cublas],
    ) else {
        return;
    };
    let m = manager();
    let mut v = Vec::new();
    let spec = HamiltonianSpec {
        magnetic_field: 2.0,
        ..dot_spec(63, &mut v)
    };
    let options = EigenOptions {
        k: 6,
        tol: 1e-8,
        ..EigenOptions::default()
    };
    let gpu = lowest_states::<Complex64>(&pool, &m, &spec, &options, None).unwrap();
    assert!(gpu.is_converged(), "{gpu:?}");
    let cpu = solver::lowest_states::<Complex64>(&m, &spec, &options, None).unwrap();
    // ‖r‖ ≤ 1e-8·max(|λ|, s) ≈ 3e-10 eV on both: the eigenvalue errors are below that even by
    // the linear bound (the field splits the shells into close pairs), so 1e-9 eV.
    assert_same_values(&gpu, &cpu, 1e-9);
    let op = StencilOperator::<Complex64>::new(&m, &spec, "check").unwrap();
    let (_, orthogonality) = host_checks(&op, &gpu);
    assert!(orthogonality < 1e-10, "XᴴX − I: {orthogonality:e}");
}

#[test]
fn gpu_solver_refuses_what_it_does_not_do_and_reports_progress() {
    let Some(pool) = pool_or_skip(
        "gpu_solver_refuses_what_it_does_not_do_and_reports_progress",
        &[Library::Nvrtc, Library::Cublas],
    ) else {
        return;
    };
    let m = manager();
    let mut v = Vec::new();
    let spec = dot_spec(31, &mut v);
    for (options, needle) in [
        (
            EigenOptions {
                k: 4,
                method: Method::ShiftInvert,
                ..EigenOptions::default()
            },
            "shift-invert is not available on the GPU",
        ),
        (
            EigenOptions {
                k: 4,
                placement: Placement::OutOfCore,
                ..EigenOptions::default()
            },
            "out-of-core placement is for the CPU solver",
        ),
        (
            EigenOptions {
                k: 4,
                vectors_file: Some("gpu_vectors.bin".into()),
                ..EigenOptions::default()
            },
            "the GPU solver returns its eigenvectors in the manager's pool",
        ),
        (
            EigenOptions {
                k: 0,
                ..EigenOptions::default()
            },
            "k = 0",
        ),
    ] {
        let e = lowest_states::<f64>(&pool, &m, &spec, &options, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains(needle), "{}", e.message());
    }
    // Progress reports arrive, and a callback that returns true cancels cleanly (at the second
    // report: a random start cannot converge in one iteration).
    let mut calls = 0;
    let mut cancel = |p: &solver::Progress| {
        calls += 1;
        assert_eq!((p.wanted, p.iteration), (4, calls));
        calls >= 2
    };
    let e = lowest_states::<f64>(
        &pool,
        &m,
        &spec,
        &EigenOptions {
            k: 4,
            coarse_to_fine: false,
            ..EigenOptions::default()
        },
        Some(&mut cancel),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{}", e.message());
    assert_eq!(calls, 2);
    assert_eq!(pool.stats().unwrap().live_allocations, 0);
    // A limit too small for the blocks is the pool's LimitExceeded, with nothing left behind.
    let small = DevicePool::new(pool.device().clone(), Some(64 << 10)).unwrap();
    let e = lowest_states::<f64>(
        &small,
        &m,
        &spec,
        &EigenOptions {
            k: 4,
            ..EigenOptions::default()
        },
        None,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{}", e.message());
    assert_eq!(small.stats().unwrap().live_allocations, 0);
}

/// One V-cycle on the device against `MultigridPreconditioner::apply_in_place` on the host, for
/// three random columns, starting at `level`.
fn compare_vcycles<T: Scalar>(pool: &DevicePool, what: &str, spec: &HamiltonianSpec<'_>) {
    let m = manager();
    let mg = Multigrid::<T>::new(&m, spec).unwrap();
    assert!(mg.levels() >= 3, "{what}: {} levels", mg.levels());
    let device = DeviceMultigrid::new(pool, &mg, 3).unwrap();
    for level in [0, 1] {
        let n = mg.operator(level).dim();
        let columns: Vec<Vec<T>> = (0..3).map(|j| random_vector::<T>(n, 10 + j)).collect();
        let block = DeviceVec::<T>::uninit(pool, 3 * n, "test.w").unwrap();
        for (j, c) in columns.iter().enumerate() {
            block.write(j * n, c).unwrap();
        }
        // SAFETY: three live columns of n elements; read back (synchronizing) before the drop.
        unsafe { device.precondition(level, (block.address(), n), 3).unwrap() };
        let got = block.to_host().unwrap();
        let host = mg.preconditioner(level);
        for (j, c) in columns.iter().enumerate() {
            let mut expected = c.clone();
            host.apply_in_place(&mut expected);
            // The same linear operations (smoothing, stencil, transfers, the same dense coarse
            // factor) in the same order up to FMA contraction: rounding-level differences.
            let d = relative_difference(&got[j * n..(j + 1) * n], &expected);
            assert!(
                d < 1e-11,
                "{what}, level {level}, column {j}: differs by {d:e}"
            );
        }
    }
    eprintln!(
        "{what}: device V-cycles agree with the CPU ({} levels)",
        mg.levels()
    );
}

#[test]
fn device_vcycle_matches_the_cpu_vcycle() {
    let Some(pool) = pool_or_skip("device_vcycle_matches_the_cpu_vcycle", &[Library::Nvrtc]) else {
        return;
    };
    let mut v = Vec::new();
    let dot = dot_spec(127, &mut v);
    compare_vcycles::<f64>(&pool, "2D dot 127²", &dot);
    let field = HamiltonianSpec {
        magnetic_field: 1.5,
        ..dot.clone()
    };
    compare_vcycles::<Complex64>(&pool, "2D dot 127², field", &field);
    let grid3 = Grid::new(&[
        Axis::dirichlet_box(10.0, 27),
        Axis::periodic(12.0, 24),
        Axis::dirichlet_box(8.0, 19),
    ])
    .unwrap();
    let mass3: Vec<f64> = (0..grid3.len())
        .map(|p| 0.03 + 0.01 * ((p % 3) as f64))
        .collect();
    let cube = HamiltonianSpec {
        mass: Mass::PerPoint(&mass3),
        ..HamiltonianSpec::new(grid3, 0.03, None)
    };
    compare_vcycles::<f64>(&pool, "3D, periodic y, per-point mass", &cube);
    assert_eq!(pool.stats().unwrap().live_allocations, 0);
}

#[test]
fn gpu_solver_with_jacobi_matches_the_cpu_solver() {
    let Some(pool) = pool_or_skip(
        "gpu_solver_with_jacobi_matches_the_cpu_solver",
        &[Library::Nvrtc, Library::Cublas],
    ) else {
        return;
    };
    let m = manager();
    let mut v = Vec::new();
    let spec = dot_spec(63, &mut v);
    let options = EigenOptions {
        k: 6,
        ..EigenOptions::default()
    };
    let gpu =
        lowest_states_with::<f64>(&pool, &m, &spec, &options, GpuPreconditioner::Jacobi, None)
            .unwrap();
    eprintln!(
        "63² dot on the GPU (Jacobi): {} iterations, {:.3} s",
        gpu.iterations, gpu.seconds
    );
    assert!(gpu.is_converged(), "{gpu:?}");
    let cpu = solver::lowest_states::<f64>(&m, &spec, &options, None).unwrap();
    // As in gpu_solver_matches_the_cpu_solver_and_the_analytic_dot.
    assert_same_values(&gpu, &cpu, 1e-9);
}

#[test]
fn gpu_csr_solver_finds_the_discrete_box_spectrum() {
    let Some(pool) = pool_or_skip(
        "gpu_csr_solver_finds_the_discrete_box_spectrum",
        &[Library::Nvrtc, Library::Cublas, Library::Cusparse],
    ) else {
        return;
    };
    // docs/validation.md case 1 on a 30² box, assembled to CSR: the 5-point stencil's exact
    // levels.
    let m = manager();
    let (points, l) = (30usize, 20.0);
    let grid = Grid::dirichlet_box(&[l, l], &[points, points]).unwrap();
    let op =
        StencilOperator::<f64>::new(&m, &HamiltonianSpec::new(grid, GAAS_MASS, None), "h").unwrap();
    let h = op.to_csr("h.csr").unwrap();
    let options = EigenOptions {
        k: 6,
        ..EigenOptions::default()
    };
    let r = csr_lowest_states::<f64>(&pool, &m, &h, &options, None).unwrap();
    eprintln!(
        "30² box as CSR on the GPU: {} iterations, {:.3} s",
        r.iterations, r.seconds
    );
    assert!(r.is_converged(), "{r:?}");
    let c = qdsim_mem::physics::constants::HBAR2_OVER_2M0 / GAAS_MASS;
    let hh = l / (points as f64 + 1.0);
    let s = |p: usize| {
        (4.0 / (hh * hh))
            * (p as f64 * std::f64::consts::PI / (2.0 * (points as f64 + 1.0)))
                .sin()
                .powi(2)
    };
    let mut exact: Vec<f64> = (1..5)
        .flat_map(|p| (1..5).map(move |q| c * (s(p) + s(q))))
        .collect();
    exact.sort_by(f64::total_cmp);
    for (j, (e, x)) in r.values.iter().zip(&exact).enumerate() {
        // ‖r‖ ≤ 1e-6·max(|λ|, s) ≈ 1e-8 eV; every multiplet (the pairs) lies inside the block,
        // so the error is ~‖r‖²/gap ≪ 1e-9 eV.
        assert!((e - x).abs() < 1e-9, "state {j}: {e} eV vs exact {x} eV");
    }
    // The same matrix on the CPU agrees.
    let cpu = solver::csr_lowest(&m, &h, &options, None).unwrap();
    assert_same_values(&r, &cpu, 1e-9);
    assert_eq!(pool.stats().unwrap().live_allocations, 0);
}
