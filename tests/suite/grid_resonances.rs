//! The grid resonance solver (`grid_resonances`: matrix-free, coarse-to-fine block Davidson with
//! a shifted multigrid) against independent references: the dense complex eigensolver on small
//! grids, the sparse-LU CSR solver on a grid large enough for several levels, the 1D double
//! barrier's transmission peak; degenerate pairs, partial results, bad options and the memory
//! budget (the C entry point is tested in c-tests/test_solver.c).

use crate::common::manager;
use num_complex::Complex64;
use qdsim_mem::ErrorKind;
use qdsim_mem::matrix::ManagedMatrix;
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::*;
use qdsim_mem::solver::*;

/// The open dot of `examples/open_dot.rs` (a 20 nm well in a 4 nm × 150 meV ring barrier,
/// 240 nm box, 60 nm quadratic absorber of 50 meV on every face) on an `n`-point-per-axis grid.
fn open_dot(dims: usize, n: usize) -> (Grid, Vec<f64>, Absorber) {
    let grid = Grid::dirichlet_box(&vec![240.0; dims], &vec![n; dims]).unwrap();
    let mut v = vec![0.0; grid.len()];
    open_dot_potential(&grid, 20.0, 4.0, 0.150, &mut v).unwrap();
    let absorber = Absorber {
        faces: (1 << (2 * dims)) - 1,
        width: 60.0,
        strength: 0.05,
        order: 2,
    };
    (grid, v, absorber)
}

fn spec<'a>(grid: &Grid, v: &'a [f64], absorber: Absorber) -> HamiltonianSpec<'a> {
    HamiltonianSpec {
        absorber: Some(absorber),
        ..HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(v))
    }
}

/// Every eigenvalue of the spec's H, by faer's dense complex eigensolver.
fn dense_spectrum(m: &MemoryManager, spec: &HamiltonianSpec<'_>) -> Vec<Complex64> {
    let h = StencilOperator::<Complex64>::new(m, spec, "h")
        .unwrap()
        .to_csr("h")
        .unwrap();
    let dense = h.to_dense();
    let n = h.nrows();
    let mut mm = ManagedMatrix::<Complex64>::zeros(m, n, n, "dense").unwrap();
    mm.copy_from(dense.as_ref()).unwrap();
    dense_general(m, &mm).unwrap().values
}

/// ‖Hx − Ex‖ / ‖x‖ recomputed from scratch for every returned pair.
fn true_residuals(m: &MemoryManager, spec: &HamiltonianSpec<'_>, r: &Resonances) -> Vec<f64> {
    let h = StencilOperator::<Complex64>::new(m, spec, "check").unwrap();
    let n = h.dim();
    let mut hx = vec![Complex64::new(0.0, 0.0); n];
    (0..r.values.len())
        .map(|j| {
            let x = r.vectors.col(j);
            h.apply(
                Complex64::new(1.0, 0.0),
                x,
                Complex64::new(0.0, 0.0),
                &mut hx,
            )
            .unwrap();
            let num: f64 = hx
                .iter()
                .zip(x)
                .map(|(a, b)| (a - r.values[j] * b).norm_sqr())
                .sum();
            let den: f64 = x.iter().map(|b| b.norm_sqr()).sum();
            (num / den).sqrt()
        })
        .collect()
}

/// Value j of `r` is the j-th nearest to `target` of the dense spectrum `all`, in ascending
/// distance. Both solvers are backward stable, and these eigenvalues are well conditioned (the
/// dense twins agree with them to ~1e-13 relative), so a residual tolerance of 1e-10 gives
/// agreement far inside 1e-9.
fn assert_nearest_dense(r: &Resonances, all: &[Complex64], target: Complex64) {
    let mut nearest = all.to_vec();
    nearest.sort_by(|a, b| (a - target).norm().total_cmp(&(b - target).norm()));
    for (j, e) in r.values.iter().enumerate() {
        assert!(
            (e - nearest[j]).norm() < 1e-9 * e.norm(),
            "value {j}: {e} vs dense {}",
            nearest[j]
        );
        if j > 0 {
            assert!((r.values[j - 1] - target).norm() <= (e - target).norm() * (1.0 + 1e-12));
        }
    }
}

#[test]
fn small_open_dot_equals_the_dense_spectrum_nearest_the_target() {
    let m = manager();
    let (grid, v, cap) = open_dot(2, 35);
    let spec = spec(&grid, &v, cap);
    let all = dense_spectrum(&m, &spec);
    let target = Complex64::new(0.020, 0.0);
    let options = EigenOptions {
        k: 5,
        tol: 1e-10,
        ..EigenOptions::default()
    };
    let r = grid_resonances(&m, &spec, target, &options, None).unwrap();
    assert!(r.is_converged(), "{r:?}");
    assert_nearest_dense(&r, &all, target);
    // Residuals are true ones (recomputed here), and vectors carry xᵀx = 1.
    for (j, (&ours, check)) in r
        .residuals
        .iter()
        .zip(true_residuals(&m, &spec, &r))
        .enumerate()
    {
        assert!(
            check <= 1e-10 * r.values[j].norm().max(1e-3) * 1.01,
            "{j}: {check}"
        );
        assert!(
            (ours - check).abs() <= 1e-12 + 1e-6 * check,
            "{ours} vs {check}"
        );
        let xtx: Complex64 = r.vectors.col(j).iter().map(|x| x * x).sum();
        assert!((xtx - 1.0).norm() < 1e-10, "{xtx}");
    }
}

/// A 3D grid small enough to be its own bottom grid is solved by the sparse LU in the grid's
/// nested-dissection column order (`src/solver/nested_dissection.rs`): the values must be the
/// dense spectrum's nearest ones.
#[test]
fn small_3d_open_dot_in_nested_dissection_order_equals_the_dense_spectrum() {
    let m = manager();
    let (grid, v, cap) = open_dot(3, 11);
    let spec = spec(&grid, &v, cap);
    let all = dense_spectrum(&m, &spec);
    let target = Complex64::new(0.030, -0.002);
    let options = EigenOptions {
        k: 4,
        tol: 1e-10,
        ..EigenOptions::default()
    };
    let r = grid_resonances(&m, &spec, target, &options, None).unwrap();
    assert!(r.is_converged(), "{r:?}");
    assert_nearest_dense(&r, &all, target);
    for (j, check) in true_residuals(&m, &spec, &r).into_iter().enumerate() {
        assert!(
            check <= 1e-10 * r.values[j].norm().max(1e-3) * 1.01,
            "{j}: {check}"
        );
    }
}

/// The 3 resonances nearest 17 meV of `spec` (a grid solved on `levels` levels, `size` names it
/// for messages) to 1e-9, checked against the sparse LU of the assembled matrix and by their
/// true residuals; returned for the caller's own checks.
fn coarse_to_fine_solve_equal_to_sparse_lu(
    m: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    size: &str,
    levels: usize,
) -> Resonances {
    let target = Complex64::new(0.017, 0.0);
    let options = EigenOptions {
        k: 3,
        tol: 1e-9,
        ..EigenOptions::default()
    };
    let grid_r = grid_resonances(m, spec, target, &options, None).unwrap();
    assert!(grid_r.is_converged(), "{grid_r:?}");
    assert_eq!(
        grid_r.levels, levels,
        "a {size} grid is solved on {levels} levels"
    );
    let h = StencilOperator::<Complex64>::new(m, spec, "h")
        .unwrap()
        .to_csr("h")
        .unwrap();
    let lu = resonances(m, &h, target, 3, 1e-11, 5).unwrap();
    for (j, (a, b)) in grid_r.values.iter().zip(&lu.values).enumerate() {
        // Residual 1e-9·|E| and a well-conditioned eigenvalue: agreement to ~1e-9 relative.
        assert!(
            (a - b).norm() < 1e-8 * b.norm(),
            "value {j}: grid {a} vs LU {b}"
        );
    }
    let res = true_residuals(m, spec, &grid_r);
    assert!(
        res.iter()
            .zip(&grid_r.values)
            .all(|(r, e)| *r <= 1e-9 * e.norm() * 1.01),
        "{res:?}"
    );
    grid_r
}

/// 300² has a bottom grid of 75² and two multigrid levels above it (150², 300²): the Davidson
/// refinement with V-cycle preconditioners must reproduce what the sparse LU of the whole
/// matrix gives. Target 17 meV: the dot's m = ±1 pair (exactly degenerate by symmetry) and
/// the nearest continuum state of the absorbing box, 5 meV away, whose corrections go through
/// the V-cycles of the far group's shift.
#[test]
fn coarse_to_fine_equals_sparse_lu_and_keeps_the_degenerate_pair() {
    let m = manager();
    let (grid, v, cap) = open_dot(2, 300);
    let spec = spec(&grid, &v, cap);
    let grid_r = coarse_to_fine_solve_equal_to_sparse_lu(&m, &spec, "300²", 3);
    // The bottom grid's LU (faer's memory) was counted in the manager, and given back.
    let factor = m.tag_stats("solver.resonance.bottom.factor").unwrap();
    assert!(factor.peak_bytes_in_use > 0 && factor.bytes_in_use == 0);
    assert!(grid_r.peak_pool_bytes >= factor.peak_bytes_in_use);
    // Three factors: the target's, the far group's (placed after the bottom grid's first
    // rough pass: the continuum state lies 20 times farther from the target than the pair)
    // and the target's again at the finer levels' shift.
    assert_eq!(factor.allocation_count, 3, "{factor:?}");
    // So were the Davidson's chunk buffers and small matrices.
    let kernels = m.tag_stats("solver.resonance.kernels").unwrap();
    assert!(kernels.peak_bytes_in_use > 0 && kernels.bytes_in_use == 0);
    // The pair: both members, equal (to the solve's accuracy) and both in the well.
    let (e0, e1) = (grid_r.values[0], grid_r.values[1]);
    assert!((e0 - e1).norm() < 1e-8 * e0.norm(), "{e0} vs {e1}");
    assert!(
        -e0.im > 0.0 && -2e3 * e0.im < 1.0,
        "a sharp resonance: Γ = {} meV",
        -2e3 * e0.im
    );
}

/// Two solves of the same problem give the same bits (with the solver's threads, 2 on the CI
/// machine): the Davidson's reductions add their row chunks in fixed groups
/// (`src/solver/reduce.rs`), not in the order rayon's work stealing split them. The 2D bottom factor is single precision, which turns a
/// rounding-level difference into a different trajectory (before the ordered sums, the 500²
/// open dot took 89–91 iterations from run to run).
#[test]
fn repeated_grid_solves_are_bit_identical() {
    let m = manager();
    let (grid, v, cap) = open_dot(2, 270);
    let spec = spec(&grid, &v, cap);
    let options = EigenOptions {
        k: 3,
        tol: 1e-9,
        ..EigenOptions::default()
    };
    let target = Complex64::new(0.017, 0.0);
    let a = grid_resonances(&m, &spec, target, &options, None).unwrap();
    let b = grid_resonances(&m, &spec, target, &options, None).unwrap();
    assert_eq!(a.levels, 2);
    assert_eq!(
        (a.iterations, a.applications),
        (b.iterations, b.applications)
    );
    assert_eq!(a.values, b.values);
    assert_eq!(a.residuals, b.residuals);
    for j in 0..a.values.len() {
        assert_eq!(a.vectors.col(j), b.vectors.col(j), "vector {j}");
    }
}

/// With a magnetic field H is neither Hermitian nor complex-symmetric (Peierls phases in the
/// hops, the absorber on the diagonal). The Davidson never stores `(H − σ)V` and builds its
/// projections with `(H − σ)ᴴ`, the stencil with its diagonal conjugated: on 270² (two levels)
/// the values must still be the sparse LU's of the assembled matrix, which uses no adjoint.
#[test]
fn coarse_to_fine_in_a_magnetic_field_equals_sparse_lu() {
    let m = manager();
    let (grid, v, cap) = open_dot(2, 270);
    let spec = HamiltonianSpec {
        magnetic_field: 2.0,
        ..spec(&grid, &v, cap)
    };
    let grid_r = coarse_to_fine_solve_equal_to_sparse_lu(&m, &spec, "270²", 2);
    // The field lifts the m = ±1 degeneracy (by ħω_c ≈ 3.5 meV at 2 T): the two nearest values
    // are no longer a pair.
    assert!((grid_r.values[0] - grid_r.values[1]).norm() > 1e-4);
}

/// The 1D double barrier (docs/validation.md case 5): the grid solver's resonance equals the
/// sparse-LU one, and it does not move with the absorber's strength (the mark of a
/// reflection-free absorber: E within 1e-5 eV for η from 0.05 to 0.2 eV).
#[test]
fn double_barrier_resonance_is_stable_in_the_absorber() {
    let (v0, b, w, lead) = (0.3, 3.0, 6.0, 100.0);
    let total = 2.0 * lead + 2.0 * b + w;
    let n = 4239;
    let grid = Grid::dirichlet_box(&[total], &[n]).unwrap();
    let ax = grid.axes()[0];
    let v: Vec<f64> = (0..n)
        .map(|i| {
            let x = ax.coordinate(i);
            if (lead..lead + b).contains(&x) || (lead + b + w..lead + 2.0 * b + w).contains(&x) {
                v0
            } else {
                0.0
            }
        })
        .collect();
    let m = manager();
    // The transmission peak of this structure is at 70.4 meV (case 5's transfer matrix).
    let target = Complex64::new(0.0704, 0.0);
    let options = EigenOptions {
        k: 4,
        tol: 1e-10,
        ..EigenOptions::default()
    };
    let in_well = |r: &Resonances| {
        (0..r.values.len())
            .max_by(|&a, &c| {
                let w = |j: usize| -> f64 {
                    let col = r.vectors.col(j);
                    (0..n)
                        .filter(|&i| (lead + b..lead + b + w).contains(&ax.coordinate(i)))
                        .map(|i| col[i].norm_sqr())
                        .sum::<f64>()
                        / col.iter().map(|x| x.norm_sqr()).sum::<f64>()
                };
                w(a).total_cmp(&w(c))
            })
            .map(|j| r.values[j])
            .unwrap()
    };
    let mut energies = Vec::new();
    for eta in [0.05, 0.1, 0.2] {
        let cap = Absorber {
            faces: FACE_X_MIN | FACE_X_MAX,
            width: 90.0,
            strength: eta,
            order: 2,
        };
        let spec = spec(&grid, &v, cap);
        let r = grid_resonances(&m, &spec, target, &options, None).unwrap();
        assert!(r.is_converged());
        let e = in_well(&r);
        if eta == 0.1 {
            let h = StencilOperator::<Complex64>::new(&m, &spec, "h")
                .unwrap()
                .to_csr("h")
                .unwrap();
            let lu = in_well(&resonances(&m, &h, target, 4, 1e-11, 3).unwrap());
            assert!((e - lu).norm() < 1e-9 * e.norm(), "grid {e} vs LU {lu}");
        }
        energies.push(e);
    }
    for e in &energies[1..] {
        assert!((e - energies[0]).norm() < 1e-5, "{energies:?}");
    }
    // Near the transfer-matrix peak (case 5 checks peak and width against it to 0.5 % and 3 %).
    assert!(
        (energies[1].re - 0.0704).abs() < 0.005 * 0.0704,
        "{energies:?}"
    );
}

#[test]
fn an_iteration_limit_gives_a_flagged_partial_result() {
    let m = manager();
    // Two levels: the bottom grid is solved exactly, the finest is cut after two iterations.
    let (grid, v, cap) = open_dot(2, 280);
    let spec = spec(&grid, &v, cap);
    let options = EigenOptions {
        k: 4,
        tol: 1e-12,
        max_iterations: 2,
        ..EigenOptions::default()
    };
    let r = grid_resonances(&m, &spec, Complex64::new(0.015, 0.0), &options, None).unwrap();
    assert_eq!(r.values.len(), 4);
    assert!(!r.is_converged(), "{r:?}");
    // The limit holds on every level, the bottom grid's scouting pass included.
    assert_eq!(r.levels, 2);
    assert!(r.iterations <= 2 * options.max_iterations, "{r:?}");
    // Converged pairs first, the others after them, flagged by the count.
    let scale = 1e-3
        * StencilOperator::<Complex64>::new(&m, &spec, "b")
            .unwrap()
            .gershgorin_bounds()
            .1;
    for (j, (e, res)) in r.values.iter().zip(&r.residuals).enumerate() {
        let ok = *res <= 1e-12 * e.norm().max(scale);
        assert_eq!(ok, j < r.converged, "pair {j}: residual {res}");
    }
}

/// Out of core the search space lives in an unlinked scratch file: the same arithmetic on the
/// same numbers, so the same bits as in core, and none of the basis in the manager's pools.
/// Under `Placement::Auto` a budget below the in-core estimate sends the basis to a file, and
/// one below even what stays in core is refused up front, naming it. (Budgets between the two
/// are not tested here: both needs include the bottom factor, counted by the growth of the
/// process's resident set, which the other tests' threads move.)
#[test]
fn out_of_core_grid_solves_equal_in_core_ones_bit_for_bit() {
    let (grid, v, cap) = open_dot(2, 270);
    let spec = spec(&grid, &v, cap);
    let n = 270 * 270;
    let target = Complex64::new(0.017, 0.0);
    // The degenerate pair (k = 2: 14 iterations, with thick restarts, in 0.4 s).
    let options = EigenOptions {
        k: 2,
        tol: 1e-9,
        ..EigenOptions::default()
    };
    let (m_in, m_out) = (manager(), manager());
    let in_core = grid_resonances(&m_in, &spec, target, &options, None).unwrap();
    let forced = EigenOptions {
        placement: Placement::OutOfCore,
        scratch_dir: Some(std::env::temp_dir()),
        ..options.clone()
    };
    let out = grid_resonances(&m_out, &spec, target, &forced, None).unwrap();
    assert_eq!(in_core.scratch_bytes, 0);
    // k = 2: blocks of m = 4 and a search space of 4m = 16 vectors, in the pool or the file.
    let vector = (n * 16) as u64;
    let basis = |m: &MemoryManager| {
        m.tag_stats("solver.resonance.basis")
            .map_or(0, |t| t.peak_bytes_in_use)
    };
    assert!(basis(&m_in) >= 16 * vector, "{}", basis(&m_in));
    assert_eq!(basis(&m_out), 0);
    assert!(out.scratch_bytes >= 16 * vector, "{}", out.scratch_bytes);
    assert_eq!(
        (in_core.iterations, in_core.applications),
        (out.iterations, out.applications)
    );
    assert_eq!(in_core.values, out.values);
    assert_eq!(in_core.residuals, out.residuals);
    for j in 0..out.values.len() {
        assert_eq!(in_core.vectors.col(j), out.vectors.col(j), "vector {j}");
    }
    // Auto with a budget far below the in-core need: out of core, where what stays in core
    // (hierarchy, work block, interpolation) does not fit either — refused before the solve.
    let tight = EigenOptions {
        memory_budget: Some(1 << 20),
        scratch_dir: Some(std::env::temp_dir()),
        ..options.clone()
    };
    let e = grid_resonances(&m_out, &spec, target, &tight, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(e.message().contains("scratch file"), "{e}");
    // Under `Placement::InCore` the same budget is refused for the in-core need, and the
    // message names what out of core would need.
    let in_core_only = EigenOptions {
        placement: Placement::InCore,
        ..tight
    };
    let e = grid_resonances(&m_out, &spec, target, &in_core_only, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(
        e.message().contains("out-of-core placement would need"),
        "{e}"
    );
    // Auto with room for everything stays in core.
    let roomy = EigenOptions {
        memory_budget: Some(64 * in_core.peak_pool_bytes),
        ..options
    };
    assert_eq!(
        grid_resonances(&m_out, &spec, target, &roomy, None)
            .unwrap()
            .scratch_bytes,
        0
    );
    drop((in_core, out));
    for m in [m_in, m_out] {
        assert_eq!(m.stats().live_allocations, 0, "{}", m.leak_report());
    }
}

#[test]
fn bad_options_and_a_small_budget_are_refused_with_reasons() {
    let m = manager();
    let (grid, v, cap) = open_dot(2, 60);
    let small = spec(&grid, &v, cap);
    let target = Complex64::new(0.015, 0.0);
    let cases: Vec<(EigenOptions, Complex64, &str)> = vec![
        (
            EigenOptions {
                k: 0,
                ..EigenOptions::default()
            },
            target,
            "k = 0",
        ),
        (
            EigenOptions {
                k: 2,
                method: Method::Lobpcg,
                ..EigenOptions::default()
            },
            target,
            "LOBPCG",
        ),
        (
            EigenOptions {
                k: 2,
                placement: Placement::OutOfCore,
                method: Method::ShiftInvert,
                ..EigenOptions::default()
            },
            target,
            "out-of-core",
        ),
        (
            EigenOptions {
                k: 2,
                vectors_file: Some(std::env::temp_dir().join("qdsim-resonance-vectors")),
                ..EigenOptions::default()
            },
            target,
            "vectors_file",
        ),
        (
            EigenOptions {
                k: 2,
                ..EigenOptions::default()
            },
            Complex64::new(f64::NAN, 0.0),
            "not finite",
        ),
    ];
    for (options, t, needle) in cases {
        let e = grid_resonances(&m, &small, t, &options, None).unwrap_err();
        assert!(e.message().contains(needle), "{needle:?} not in {e}");
    }
    // A budget below the estimate is refused before the solve (a two-level grid).
    let (grid, v, cap) = open_dot(2, 280);
    let big = spec(&grid, &v, cap);
    let small_budget = EigenOptions {
        k: 2,
        memory_budget: Some(1 << 20),
        ..EigenOptions::default()
    };
    let e = grid_resonances(&m, &big, target, &small_budget, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(
        e.message().contains("memory budget") && e.message().contains("MiB"),
        "{e}"
    );
    // Nothing is left behind by the refusals.
    assert_eq!(m.stats().live_allocations, 0, "{}", m.leak_report());
}

#[test]
fn progress_reports_every_iteration_and_can_cancel() {
    let m = manager();
    let (grid, v, cap) = open_dot(2, 280);
    let spec = spec(&grid, &v, cap);
    let mut seen = Vec::new();
    let mut cb = |p: &Progress| {
        seen.push(*p);
        p.iteration >= 2 && p.level == 0
    };
    let e = grid_resonances(
        &m,
        &spec,
        Complex64::new(0.015, 0.0),
        &EigenOptions {
            k: 2,
            ..EigenOptions::default()
        },
        Some(&mut cb),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    assert!(
        seen.iter()
            .all(|p| p.wanted == 2 && p.levels == 2 && p.iteration >= 1)
    );
    assert!(
        seen.iter().any(|p| p.level == 1),
        "the bottom level reports too"
    );
}

/// A target exactly on an eigenvalue (the value a first solve returned) on a two-level grid:
/// that eigenvalue comes back first and converged (the fine-level H − σ is singular there; the
/// solver factors only the bottom grid and moves its shift off the target). The other pairs
/// may stop short at the iteration limit (a continuum state of the fine grid without a bottom-
/// grid counterpart): they are returned after it, flagged.
#[test]
fn target_exactly_on_an_eigenvalue_returns_it_converged() {
    let m = manager();
    let (grid, v, cap) = open_dot(2, 280);
    let spec = spec(&grid, &v, cap);
    let options = EigenOptions {
        k: 2,
        tol: 1e-9,
        ..EigenOptions::default()
    };
    let first = grid_resonances(&m, &spec, Complex64::new(0.017, 0.0), &options, None).unwrap();
    assert!(first.is_converged(), "{first:?}");
    let on = first.values[0];
    let options = EigenOptions { k: 3, ..options };
    let again = grid_resonances(&m, &spec, on, &options, None).unwrap();
    assert!(again.converged >= 1, "{again:?}");
    // Residual 1e-9·|E| on a well-conditioned eigenvalue: the same value to ~1e-9 relative.
    assert!(
        (again.values[0] - on).norm() < 1e-8 * on.norm(),
        "{again:?}"
    );
    assert_eq!(again.values.len(), 3);
    assert!(
        again.residuals[..again.converged]
            .iter()
            .all(|r| *r <= 1e-9 * on.norm() * 1.01)
    );
}

/// The 4 resonances nearest `target_mev` of the 270² open dot by the grid solver with
/// `block_extra` (at most 150 iterations per level), converged to 1e-8 and equal to the
/// sparse-LU solver's; the two sharp ones (Γ < 1 meV) are the dot's exact pair.
fn open_dot_270_equals_sparse_lu(target_mev: f64, block_extra: Option<usize>) {
    let m = manager();
    let (grid, v, cap) = open_dot(2, 270);
    let spec = spec(&grid, &v, cap);
    let target = Complex64::new(target_mev * 1e-3, 0.0);
    let options = EigenOptions {
        k: 4,
        tol: 1e-8,
        block_extra,
        max_iterations: 150,
        ..EigenOptions::default()
    };
    let r = grid_resonances(&m, &spec, target, &options, None).unwrap();
    assert!(r.is_converged(), "{r:?}");
    assert_eq!(r.values.len(), 4);
    let h = StencilOperator::<Complex64>::new(&m, &spec, "h")
        .unwrap()
        .to_csr("h")
        .unwrap();
    let lu = resonances(&m, &h, target, 4, 1e-10, 5).unwrap();
    assert!(lu.is_converged(), "{lu:?}");
    for (j, e) in lu.values.iter().enumerate() {
        // Residual 1e-8·|E| on these eigenvalues (none closer than 0.02 meV to another but
        // the exact pair): agreement to ~1e-8 relative; 1e-7 leaves room for the continuum
        // states' worse conditioning.
        let nearest = r
            .values
            .iter()
            .map(|x| (x - e).norm())
            .fold(f64::INFINITY, f64::min);
        assert!(
            nearest < 1e-7 * e.norm(),
            "LU value {j} {e} not found in {:?}",
            r.values
        );
    }
    // The pair: both members, sharp (Γ < 1 meV).
    let sharp: Vec<_> = r.values.iter().filter(|e| -2e3 * e.im < 1.0).collect();
    assert_eq!(sharp.len(), 2, "{:?}", r.values);
    assert!((sharp[0] - sharp[1]).norm() < 1e-8 * sharp[0].norm());
}

/// A target among the box's broad continuum states (22 meV on the 270² dot: the 4 nearest are
/// the dot's m = ±1 pair, 4.8 meV away, and continuum states with Γ ≈ 13 meV) must converge
/// without losing what has converged. The harmonic extraction used to solve its pencil
/// (WᴴW, WᴴV) by faer's QZ, which dropped the converged pair from the eigenvalues once the
/// space grew: the pair came and went, and the finest level took 265 iterations (at 500² it
/// never converged); in the standard form it takes 82. The iteration limit of 150 per
/// level separates the two; the values are checked against the sparse-LU solver's.
#[test]
fn a_target_among_continuum_states_converges_and_keeps_the_pair() {
    open_dot_270_equals_sparse_lu(22.0, None);
}

/// A `block_extra` above the default keeps more Ritz pairs, but only the default block's
/// leading pairs expand the search space (`expanded_pairs` in `src/solver/resonance/mod.rs`:
/// with every pair expanded, the 1000² open dot with `block_extra` = 6 stalled — too slow a
/// case for this suite). Here, 270² at 17 meV with 6 extra pairs instead of 2: the same
/// resonances as the sparse-LU solver, the degenerate pair included.
#[test]
fn a_larger_block_extra_finds_the_same_resonances() {
    open_dot_270_equals_sparse_lu(17.0, Some(6));
}
