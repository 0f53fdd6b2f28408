//! Finite-difference Hamiltonians checked against independent references: the exact discrete
//! spectrum of the box (docs/validation.md case 1) in 2D and 3D, the periodic ring, a
//! BenDaniel–Duke two-mass well solved from its matching condition, and the Fock–Darwin spectrum
//! of a parabolic dot in a magnetic field; plus nnz counts, Hermiticity / complex symmetry, and
//! the equality of the matrix-free operator with CSR SpMV for every combination of options.

use crate::common::{manager, mode};
use faer::Side;
use num_complex::Complex64;
use qdsim_mem::matrix::{CsrMatrix, Scalar};
use qdsim_mem::physics::constants::{E_OVER_HBAR, GAAS_MASS, HBAR2_OVER_2M0};
use qdsim_mem::physics::*;

fn sorted_real_eigenvalues(h: &CsrMatrix<f64>) -> Vec<f64> {
    h.to_dense().self_adjoint_eigenvalues(Side::Lower).unwrap()
}

#[test]
fn box_2d_matches_the_exact_discrete_spectrum() {
    let (nx, ny, lx, ly) = (12, 9, 20.0, 15.0);
    let grid = Grid::dirichlet_box(&[lx, ly], &[nx, ny]).unwrap();
    let (hx, hy) = (grid.axes()[0].spacing, grid.axes()[1].spacing);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, None);
    let m = manager();
    let h = StencilOperator::<f64>::new(&m, &spec, "h")
        .unwrap()
        .to_csr("h")
        .unwrap();
    assert_eq!(h.nnz(), 5 * nx * ny - 2 * nx - 2 * ny);
    let c = HBAR2_OVER_2M0 / GAAS_MASS;
    let mut exact: Vec<f64> = (1..=nx)
        .flat_map(|p| (1..=ny).map(move |q| c * (mode(nx, hx, p) + mode(ny, hy, q))))
        .collect();
    exact.sort_by(f64::total_cmp);
    let computed = sorted_real_eigenvalues(&h);
    // The dense solver is backward stable: errors ~ n·ε·‖H‖ ≈ 1e-13 relative; 1e-10 leaves margin.
    for (e, x) in computed.iter().zip(&exact) {
        assert!((e - x).abs() <= 1e-10 * x.abs(), "{e} vs exact {x}");
    }
}

#[test]
fn design_validation_case_1_values_and_nnz() {
    // docs/validation.md case 1: 20×20 nm, GaAs, 49² interior points.
    let (n, h) = (49, 20.0 / 50.0);
    let c = HBAR2_OVER_2M0 / GAAS_MASS;
    let level = |p, q| 1e3 * c * (mode(n, h, p) + mode(n, h, q));
    let expected = [
        (1, 1, 28.05272),
        (1, 2, 70.07645),
        (2, 2, 112.10018),
        (1, 3, 139.93169),
    ];
    for (p, q, mev) in expected {
        // docs/validation.md quotes 5 decimals: agreement to 5e-6 meV.
        assert!(
            (level(p, q) - mev).abs() < 5e-6,
            "({p},{q}): {} vs {mev}",
            level(p, q)
        );
    }
    let grid = Grid::dirichlet_box(&[20.0, 20.0], &[n, n]).unwrap();
    let m = manager();
    let csr = StencilOperator::<f64>::new(&m, &HamiltonianSpec::new(grid, GAAS_MASS, None), "h")
        .unwrap()
        .to_csr("h")
        .unwrap();
    assert_eq!(csr.nnz(), 5 * n * n - 4 * n);
    // Row 0 starts with the diagonal 4C/h² (no potential).
    assert!((csr.values()[0] - 4.0 * c / (h * h)).abs() < 1e-12);
}

#[test]
fn assembly_index_width_can_be_chosen() {
    let grid = Grid::dirichlet_box(&[20.0, 20.0], &[30, 30]).unwrap();
    let m = manager();
    let op =
        StencilOperator::<f64>::new(&m, &HamiltonianSpec::new(grid, GAAS_MASS, None), "h").unwrap();
    let narrow = op.to_csr("h").unwrap();
    assert_eq!(narrow.index_bits(), 32, "32 bits when they fit");
    let wide = op.to_csr_with_index_bits("h", Some(64)).unwrap();
    assert_eq!(wide.index_bits(), 64);
    // The same matrix, stored wider.
    assert_eq!(wide.entries(), narrow.entries());
    assert_eq!(
        op.to_csr_with_index_bits("h", Some(32))
            .unwrap()
            .index_bits(),
        32
    );
    let err = op.to_csr_with_index_bits("h", Some(16)).unwrap_err();
    assert_eq!(err.kind(), qdsim_mem::ErrorKind::InvalidArgument, "{err}");
}

#[test]
fn box_3d_seven_point_spectrum_and_nnz() {
    let (nx, ny, nz) = (6, 5, 4);
    let grid = Grid::dirichlet_box(&[10.0, 9.0, 8.0], &[nx, ny, nz]).unwrap();
    let hs: Vec<f64> = grid.axes().iter().map(|a| a.spacing).collect();
    let mass = 0.026;
    let m = manager();
    let h = StencilOperator::<f64>::new(&m, &HamiltonianSpec::new(grid, mass, None), "h")
        .unwrap()
        .to_csr("h")
        .unwrap();
    assert_eq!(
        h.nnz(),
        7 * nx * ny * nz - 2 * (ny * nz + nx * nz + nx * ny)
    );
    let c = HBAR2_OVER_2M0 / mass;
    let mut exact = Vec::new();
    for p in 1..=nx {
        for q in 1..=ny {
            for r in 1..=nz {
                exact.push(c * (mode(nx, hs[0], p) + mode(ny, hs[1], q) + mode(nz, hs[2], r)));
            }
        }
    }
    exact.sort_by(f64::total_cmp);
    for (e, x) in sorted_real_eigenvalues(&h).iter().zip(&exact) {
        assert!((e - x).abs() <= 1e-10 * x.abs(), "{e} vs exact {x}");
    }
}

#[test]
fn periodic_ring_spectrum() {
    let n = 11;
    let grid = Grid::new(&[Axis::periodic(33.0, n)]).unwrap();
    let h = grid.axes()[0].spacing;
    let v0 = vec![0.05; n];
    let m = manager();
    let csr = StencilOperator::<f64>::new(
        &m,
        &HamiltonianSpec::new(grid, GAAS_MASS, Some(&v0)),
        "ring",
    )
    .unwrap()
    .to_csr("ring")
    .unwrap();
    assert_eq!(csr.nnz(), 3 * n);
    let t = HBAR2_OVER_2M0 / (GAAS_MASS * h * h);
    let mut exact: Vec<f64> = (0..n)
        .map(|k| 0.05 + 2.0 * t * (1.0 - (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos()))
        .collect();
    exact.sort_by(f64::total_cmp);
    for (e, x) in sorted_real_eigenvalues(&csr).iter().zip(&exact) {
        assert!((e - x).abs() <= 1e-10 * x.abs(), "{e} vs exact {x}");
    }
}

/// Ground state of a hard-wall well with mass m1 on [0, a] and m2 on [a, a+b]: ψ = sin(k1·x) and
/// A·sin(k2·(a+b−x)), with ψ and ψ′/m continuous at x = a, i.e. the first root of
/// g(E) = (m1/k1)·sin(k1·a)·cos(k2·b) + (m2/k2)·sin(k2·b)·cos(k1·a), found by scanning then
/// bisection.
fn two_mass_ground_state(a: f64, b: f64, m1: f64, m2: f64) -> f64 {
    let g = |e: f64| {
        let (k1, k2) = (
            (e * m1 / HBAR2_OVER_2M0).sqrt(),
            (e * m2 / HBAR2_OVER_2M0).sqrt(),
        );
        (m1 / k1) * (k1 * a).sin() * (k2 * b).cos() + (m2 / k2) * (k2 * b).sin() * (k1 * a).cos()
    };
    // The ground state lies below the lightest mass's ground state of the whole well, times 4.
    let e_max = 4.0 * HBAR2_OVER_2M0 / m1.min(m2) * (std::f64::consts::PI / (a + b)).powi(2);
    let steps = 100_000;
    let (mut lo, mut hi) = (e_max * 1e-9, e_max);
    for s in 1..=steps {
        let e = e_max * s as f64 / steps as f64;
        if g(lo) * g(e) <= 0.0 {
            hi = e;
            break;
        }
        lo = e;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if g(lo) * g(mid) <= 0.0 {
            hi = mid
        } else {
            lo = mid
        }
    }
    0.5 * (lo + hi)
}

#[test]
fn ben_daniel_duke_two_mass_well() {
    // 20 nm hard-wall well: 7.5 nm with m = 0.067 (GaAs), then 12.5 nm with m = 0.092, V = 0.
    // With h = 20/(n+1) and n+1 ∈ {196, 396, 796}, the interface falls exactly midway between two
    // points, where the link's averaged inverse mass is the consistent choice: the scheme is then
    // second order, so the error must drop ≈ 4× per halving of h.
    let (a, b, m1, m2) = (7.5, 12.5, 0.067, 0.092);
    let exact = two_mass_ground_state(a, b, m1, m2);
    let mut errors = Vec::new();
    for n in [195, 395, 795] {
        let h = (a + b) / (n as f64 + 1.0);
        assert!(
            ((a / h) - (a / h).floor() - 0.5).abs() < 1e-9,
            "interface not midway for n={n}"
        );
        let masses: Vec<f64> = (0..n)
            .map(|i| if (i as f64 + 1.0) * h < a { m1 } else { m2 })
            .collect();
        let grid = Grid::new(&[Axis::dirichlet_box(a + b, n)]).unwrap();
        let spec = HamiltonianSpec {
            mass: Mass::PerPoint(&masses),
            ..HamiltonianSpec::new(grid, 1.0, None)
        };
        let mgr = manager();
        let csr = StencilOperator::<f64>::new(&mgr, &spec, "bdd")
            .unwrap()
            .to_csr("bdd")
            .unwrap();
        let e0 = sorted_real_eigenvalues(&csr)[0];
        errors.push((e0 - exact).abs() / exact);
    }
    for w in errors.windows(2) {
        assert!(w[0] / w[1] > 3.5, "not second order: errors {errors:?}");
    }
    assert!(errors[2] < 1e-5, "final relative error {errors:?}");
}

#[test]
fn fock_darwin_levels_in_a_magnetic_field() {
    // GaAs dot, ħω0 = 10 meV, B = 3 T, box 80 nm (±3.7 oscillator lengths), 44² points.
    let (hw0, b, n, l) = (0.010, 3.0, 44, 80.0);
    let grid = Grid::dirichlet_box(&[l, l], &[n, n]).unwrap();
    let c = HBAR2_OVER_2M0 / GAAS_MASS;
    let centre = l / 2.0;
    let axis = grid.axes()[0];
    let v: Vec<f64> = (0..n * n)
        .map(|p| {
            let (x, y) = (
                axis.coordinate(p % n) - centre,
                axis.coordinate(p / n) - centre,
            );
            hw0 * hw0 * (x * x + y * y) / (4.0 * c)
        })
        .collect();
    let spec = HamiltonianSpec {
        magnetic_field: b,
        ..HamiltonianSpec::new(grid, GAAS_MASS, Some(&v))
    };
    let mgr = manager();
    let h = StencilOperator::<Complex64>::new(&mgr, &spec, "fd")
        .unwrap()
        .to_csr("fd")
        .unwrap();
    let levels = h.to_dense().self_adjoint_eigenvalues(Side::Lower).unwrap();
    // ħω_c = ħ·eB/m* = 2·(ħ²/2m*)·(e/ħ)·B.
    let hwc = 2.0 * c * E_OVER_HBAR * b;
    let hw = (hw0 * hw0 + hwc * hwc / 4.0).sqrt();
    let mut exact: Vec<f64> = Vec::new();
    for nr in 0..4i32 {
        for ml in -6i32..=6 {
            exact.push((2 * nr + ml.abs() + 1) as f64 * hw - 0.5 * ml as f64 * hwc);
        }
    }
    exact.sort_by(f64::total_cmp);
    // h = 1.78 nm against an oscillator/magnetic length ≈ 9 nm: discretisation errors ≲ 0.5%.
    for (k, (e, x)) in levels.iter().zip(&exact).take(6).enumerate() {
        assert!(
            (e - x).abs() < 0.01 * x,
            "level {k}: {e} vs Fock–Darwin {x}"
        );
    }
}

fn entries_map<T: Scalar>(h: &CsrMatrix<T>) -> std::collections::HashMap<(usize, usize), T> {
    h.entries()
        .into_iter()
        .map(|(r, c, v)| ((r, c), v))
        .collect()
}

#[test]
fn closed_systems_are_hermitian_and_absorbers_complex_symmetric() {
    let mgr = manager();
    let grid = Grid::dirichlet_box(&[30.0, 25.0], &[9, 7]).unwrap();
    let masses: Vec<f64> = (0..63).map(|p| 0.05 + 0.001 * p as f64).collect();
    let field = HamiltonianSpec {
        magnetic_field: 5.0,
        mass: Mass::PerPoint(&masses),
        ..HamiltonianSpec::new(grid.clone(), 1.0, None)
    };
    let h = StencilOperator::<Complex64>::new(&mgr, &field, "b")
        .unwrap()
        .to_csr("b")
        .unwrap();
    let map = entries_map(&h);
    for (&(r, c), &v) in &map {
        assert_eq!(map[&(c, r)], v.conj(), "H[{c},{r}] ≠ conj H[{r},{c}]");
    }
    assert!(
        map.values().any(|v| v.im != 0.0),
        "the field gives complex hoppings"
    );
    let cap = Absorber {
        faces: FACE_X_MIN | FACE_Y_MAX,
        width: 8.0,
        strength: 0.05,
        order: 2,
    };
    let open = HamiltonianSpec {
        absorber: Some(cap),
        ..HamiltonianSpec::new(grid, GAAS_MASS, None)
    };
    assert!(!open.is_hermitian());
    let h = StencilOperator::<Complex64>::new(&mgr, &open, "cap")
        .unwrap()
        .to_csr("cap")
        .unwrap();
    let map = entries_map(&h);
    for (&(r, c), &v) in &map {
        assert_eq!(map[&(c, r)], v, "H[{c},{r}] ≠ H[{r},{c}]");
    }
    let absorbing = map
        .iter()
        .filter(|&(&(r, c), v)| r == c && v.im < 0.0)
        .count();
    assert!(absorbing > 0);
    // Every eigenvalue of the open system decays: Im E ≤ 0 (−iηW is negative semi-definite).
    for e in h.to_dense().eigenvalues().unwrap() {
        assert!(e.im <= 1e-12, "eigenvalue {e} grows");
    }
}

#[test]
fn real_scalars_are_refused_for_complex_hamiltonians() {
    let grid = Grid::dirichlet_box(&[10.0, 10.0], &[4, 4]).unwrap();
    let spec = HamiltonianSpec {
        magnetic_field: 1.0,
        ..HamiltonianSpec::new(grid, GAAS_MASS, None)
    };
    let err = StencilOperator::<f64>::new(&manager(), &spec, "x").unwrap_err();
    assert!(
        err.message().contains("complex scalars"),
        "{}",
        err.message()
    );
}

#[test]
fn bad_descriptions_are_refused_with_clear_messages() {
    let grid = Grid::dirichlet_box(&[10.0, 10.0], &[4, 4]).unwrap();
    let short = vec![0.0; 15];
    let nan = {
        let mut v = vec![0.0; 16];
        v[7] = f64::NAN;
        v
    };
    let negative = vec![-0.1; 16];
    let cases: Vec<(HamiltonianSpec, &str)> = vec![
        (
            HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(&short)),
            "potential has 15 values but the grid has 16",
        ),
        (
            HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(&nan)),
            "potential[7] = NaN",
        ),
        (
            HamiltonianSpec::new(grid.clone(), -1.0, None),
            "effective mass -1 must be finite and positive",
        ),
        (
            HamiltonianSpec {
                mass: Mass::PerPoint(&negative),
                ..HamiltonianSpec::new(grid.clone(), 1.0, None)
            },
            "mass[0] = -0.1",
        ),
        (
            HamiltonianSpec {
                magnetic_field: f64::INFINITY,
                ..HamiltonianSpec::new(grid.clone(), GAAS_MASS, None)
            },
            "not finite",
        ),
        (
            HamiltonianSpec {
                absorber: Some(Absorber {
                    faces: FACE_Z_MIN,
                    width: 1.0,
                    strength: 0.1,
                    order: 2,
                }),
                ..HamiltonianSpec::new(grid.clone(), GAAS_MASS, None)
            },
            "faces 0x10",
        ),
    ];
    for (spec, needle) in cases {
        let err = spec.validate().unwrap_err();
        assert!(
            err.message().contains(needle),
            "{needle:?} not in {:?}",
            err.message()
        );
    }
    let ring = Grid::new(&[Axis::periodic(10.0, 5), Axis::dirichlet_box(10.0, 5)]).unwrap();
    let spec = HamiltonianSpec {
        magnetic_field: 1.0,
        ..HamiltonianSpec::new(ring, GAAS_MASS, None)
    };
    assert!(
        spec.validate()
            .unwrap_err()
            .message()
            .contains("Dirichlet boundaries")
    );
}

/// Random vector with a fixed seed (xorshift), complex or real.
fn random_vector<V: Scalar>(n: usize, seed: u64) -> Vec<V> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    (0..n)
        .map(|_| {
            let (re, im) = (next(), next());
            V::from_complex(Complex64::new(re, im)).unwrap_or_else(|| V::from_real(re))
        })
        .collect()
}

fn check_stencil_equals_csr<T: Scalar>(spec: &HamiltonianSpec, label: &str) {
    let mgr = manager();
    let op = StencilOperator::<T>::new(&mgr, spec, "op").unwrap();
    let csr = op.to_csr("csr").unwrap();
    let n = op.dim();
    let x: Vec<T> = random_vector(n, 0x5eed + n as u64);
    let y0: Vec<T> = random_vector(n, 0xbeef);
    let (alpha, beta) = (T::from_real(0.7), T::from_real(-1.3));
    let (mut y_op, mut y_csr) = (y0.clone(), y0.clone());
    op.apply(alpha, &x, beta, &mut y_op).unwrap();
    csr.spmv(alpha, &x, beta, &mut y_csr).unwrap();
    let norm: f64 = y_csr.iter().map(|v| v.abs_sq()).sum::<f64>().sqrt();
    for (p, (a, b)) in y_op.iter().zip(&y_csr).enumerate() {
        // Same products summed in another order: a few ulps of the row's magnitude.
        assert!(
            ((*a - *b).abs_sq()).sqrt() <= 1e-13 * norm,
            "{label}: row {p}: {a:?} vs {b:?}"
        );
    }
    // Through faer's LinOp interface too (2 right-hand sides).
    use faer::matrix_free::LinOp;
    let rhs = faer::Mat::<T>::from_fn(n, 2, |i, j| x[(i + 7 * j) % n]);
    let mut out_op = faer::Mat::<T>::zeros(n, 2);
    let mut out_csr = faer::Mat::<T>::zeros(n, 2);
    let mut mem = faer::dyn_stack::MemBuffer::new(faer::dyn_stack::StackReq::EMPTY);
    let stack = faer::dyn_stack::MemStack::new(&mut mem);
    op.conj_apply(out_op.as_mut(), rhs.as_ref(), faer::Par::Seq, stack);
    csr.conj_apply(out_csr.as_mut(), rhs.as_ref(), faer::Par::rayon(0), stack);
    let mut diff: f64 = 0.0;
    let mut scale: f64 = 1.0;
    for j in 0..2 {
        for i in 0..n {
            diff = diff.max((out_op[(i, j)] - out_csr[(i, j)]).abs_sq().sqrt());
            scale = scale.max(out_csr[(i, j)].abs_sq().sqrt());
        }
    }
    assert!(
        diff <= 1e-13 * scale,
        "{label}: LinOp conj_apply differs by {diff}"
    );
}

#[test]
fn matrix_free_equals_csr_for_every_option_combination() {
    let shapes: [&[usize]; 3] = [&[17], &[9, 7], &[5, 4, 6]];
    let mut cases = 0;
    for shape in shapes {
        let d = shape.len();
        for periodic_mask in 0..(1u32 << d) {
            let axes: Vec<Axis> = shape
                .iter()
                .enumerate()
                .map(|(a, &n)| {
                    if periodic_mask >> a & 1 == 1 {
                        Axis::periodic(3.0 * n as f64, n)
                    } else {
                        Axis::dirichlet_box(2.5 * (n + 1) as f64, n)
                    }
                })
                .collect();
            let grid = Grid::new(&axes).unwrap();
            let n = grid.len();
            let v: Vec<f64> = (0..n).map(|p| 0.01 * ((p * 7919) % 13) as f64).collect();
            let masses: Vec<f64> = (0..n)
                .map(|p| 0.04 + 0.002 * ((p * 31) % 17) as f64)
                .collect();
            let dirichlet_faces: u32 = (0..d)
                .filter(|&a| periodic_mask >> a & 1 == 0)
                .map(|a| 3u32 << (2 * a))
                .sum();
            for variable_mass in [false, true] {
                for field in [0.0, 4.0] {
                    if field != 0.0 && (d != 2 || periodic_mask != 0) {
                        continue;
                    }
                    for absorber in [false, true] {
                        if absorber && dirichlet_faces == 0 {
                            continue;
                        }
                        let spec = HamiltonianSpec {
                            grid: grid.clone(),
                            potential: Some(&v),
                            mass: if variable_mass {
                                Mass::PerPoint(&masses)
                            } else {
                                Mass::Uniform(0.067)
                            },
                            magnetic_field: field,
                            absorber: absorber.then_some(Absorber {
                                faces: dirichlet_faces,
                                width: 6.0,
                                strength: 0.08,
                                order: 3,
                            }),
                        };
                        let label = format!(
                            "{d}D periodic={periodic_mask:b} mass={variable_mass} B={field} cap={absorber}"
                        );
                        check_stencil_equals_csr::<Complex64>(&spec, &label);
                        if spec.scalar_kind() == qdsim_mem::matrix::ScalarKind::Real {
                            check_stencil_equals_csr::<f64>(&spec, &label);
                        }
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases >= 40, "only {cases} combinations exercised");
}

#[test]
fn uniform_mass_equals_per_point_mass_of_the_same_value() {
    let grid = Grid::new(&[Axis::dirichlet_box(20.0, 8), Axis::periodic(15.0, 6)]).unwrap();
    let masses = vec![GAAS_MASS; 48];
    let mgr = manager();
    let a = StencilOperator::<f64>::new(
        &mgr,
        &HamiltonianSpec::new(grid.clone(), GAAS_MASS, None),
        "a",
    )
    .unwrap()
    .to_csr("a")
    .unwrap();
    let spec = HamiltonianSpec {
        mass: Mass::PerPoint(&masses),
        ..HamiltonianSpec::new(grid, 1.0, None)
    };
    let b = StencilOperator::<f64>::new(&mgr, &spec, "b")
        .unwrap()
        .to_csr("b")
        .unwrap();
    for ((ra, ca, va), (rb, cb, vb)) in a.entries().into_iter().zip(b.entries()) {
        assert_eq!((ra, ca), (rb, cb));
        assert!(
            (va - vb).abs() <= 1e-14 * va.abs(),
            "({ra},{ca}): {va} vs {vb}"
        );
    }
}

#[test]
fn operator_memory_is_a_fraction_of_csr() {
    let grid = Grid::dirichlet_box(&[100.0, 100.0], &[200, 200]).unwrap();
    let mgr = manager();
    let op = StencilOperator::<f64>::new(&mgr, &HamiltonianSpec::new(grid, GAAS_MASS, None), "op")
        .unwrap();
    let csr = op.to_csr("csr").unwrap();
    assert_eq!(op.memory_bytes(), 200 * 200 * 8);
    assert_eq!(
        csr.memory_bytes(),
        csr.nnz() * (8 + 4) + (200 * 200 + 1) * 4
    );
    assert_eq!(
        mgr.tag_stats("csr.values").unwrap().bytes_in_use
            + mgr.tag_stats("csr.col_idx").unwrap().bytes_in_use
            + mgr.tag_stats("csr.row_ptr").unwrap().bytes_in_use,
        csr.memory_bytes() as u64
    );
}
