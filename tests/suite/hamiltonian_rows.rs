//! Row-range assembly (`HamiltonianSpec::csr_rows`, `qdsim_hamiltonian_assemble_rows`): the
//! slabs of several splits, stacked, equal the global CSR of `HamiltonianSpec::csr` bit for bit
//! (columns and every value's bits: both read the same element functions, so no tolerance is
//! needed), for real and complex descriptions (field, absorber, position-dependent mass,
//! periodic axes) and both index widths; the slab holds only O(rows) memory; bad ranges and
//! widths are refused with nothing allocated and `*out` untouched.

use crate::common::{dot_potential, manager};
use num_complex::Complex64;
use qdsim_mem::ErrorKind;
use qdsim_mem::ffi::csr::{
    qdsim_csr, qdsim_csr_arrays, qdsim_csr_destroy, qdsim_csr_get_info, qdsim_csr_info,
};
use qdsim_mem::ffi::hamiltonian::{
    qdsim_grid_box, qdsim_hamiltonian_csr, qdsim_hamiltonian_desc, qdsim_hamiltonian_desc_default,
};
use qdsim_mem::ffi::hamiltonian_rows::qdsim_hamiltonian_assemble_rows;
use qdsim_mem::ffi::manager::{qdsim_manager, qdsim_manager_create, qdsim_manager_destroy};
use qdsim_mem::ffi::manager_report::qdsim_manager_stats;
use qdsim_mem::ffi::status::qdsim_status;
use qdsim_mem::ffi::types::{QDSIM_SCALAR_AUTO, QDSIM_SCALAR_COMPLEX};
use qdsim_mem::matrix::{AnyCsr, ByScalar, CsrMatrix, Scalar};
use qdsim_mem::memory::{MemoryManager, Stats};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::*;
use std::ffi::c_void;
use std::ops::Range;

/// Every stored entry as (row, column, bits of re, bits of im).
fn entry_bits(h: &AnyCsr) -> Vec<(usize, usize, u64, u64)> {
    fn bits<T: Scalar>(
        m: &CsrMatrix<T>,
        f: impl Fn(T) -> (u64, u64),
    ) -> Vec<(usize, usize, u64, u64)> {
        m.entries()
            .into_iter()
            .map(|(r, c, v)| {
                let (re, im) = f(v);
                (r, c, re, im)
            })
            .collect()
    }
    match h {
        ByScalar::Real(m) => bits(m, |v: f64| (v.to_bits(), 0)),
        ByScalar::Complex(m) => bits(m, |v: Complex64| (v.re.to_bits(), v.im.to_bits())),
    }
}

/// Splits of `n` rows: whole, halves, an uneven three-way split, a 1-row slab first and last,
/// and 7 parts.
fn splits(n: usize) -> Vec<Vec<Range<usize>>> {
    let parts =
        |k: usize| -> Vec<Range<usize>> { (0..k).map(|i| i * n / k..(i + 1) * n / k).collect() };
    vec![
        parts(1),
        parts(2),
        vec![0..n / 5, n / 5..n / 5 + 1, n / 5 + 1..n],
        vec![0..1, 1..n - 1, n - 1..n],
        parts(7),
    ]
}

/// Checks every split of `spec` at both widths against its global CSR.
fn check_all_splits(spec: &HamiltonianSpec<'_>, kind: Option<qdsim_mem::matrix::ScalarKind>) {
    let m = manager();
    let global = spec.csr(&m, kind, "global").unwrap();
    let reference = entry_bits(&global);
    let n = spec.grid.len();
    for split in splits(n) {
        for bits in [32, 64] {
            let mut stacked = Vec::with_capacity(reference.len());
            for rows in &split {
                let slab = spec.csr_rows(&m, kind, rows.clone(), bits, "slab").unwrap();
                let info = slab.info();
                assert_eq!(
                    (info.nrows, info.ncols, info.index_bits),
                    (rows.len(), n, bits)
                );
                assert_eq!(slab.kind(), global.kind());
                stacked.extend(
                    entry_bits(&slab)
                        .into_iter()
                        .map(|(r, c, re, im)| (rows.start + r, c, re, im)),
                );
            }
            assert_eq!(
                stacked.len(),
                reference.len(),
                "split {split:?}, {bits} bits"
            );
            assert!(
                stacked == reference,
                "split {split:?}, {bits} bits: entries differ"
            );
        }
    }
}

#[test]
fn real_dot_slabs_stack_to_the_global_matrix() {
    let grid = Grid::dirichlet_box(&[60.0, 50.0], &[23, 17]).unwrap();
    let v = dot_potential(&grid, 0.010);
    check_all_splits(&HamiltonianSpec::new(grid, GAAS_MASS, Some(&v)), None);
}

#[test]
fn complex_slabs_with_field_absorber_and_mass_field_stack_to_the_global_matrix() {
    let grid = Grid::dirichlet_box(&[60.0, 50.0], &[21, 19]).unwrap();
    let v = dot_potential(&grid, 0.010);
    // A heterostructure: InAs-like mass in the left third, GaAs elsewhere.
    let mass: Vec<f64> = (0..grid.len())
        .map(|p| if p % 21 < 7 { 0.026 } else { GAAS_MASS })
        .collect();
    let spec = HamiltonianSpec {
        grid,
        potential: Some(&v),
        mass: Mass::PerPoint(&mass),
        magnetic_field: 3.0,
        absorber: Some(Absorber {
            faces: FACE_X_MIN | FACE_Y_MAX,
            width: 8.0,
            strength: 0.05,
            order: 2,
        }),
    };
    check_all_splits(&spec, None);
    // The closed real Hamiltonian built with complex scalars on request.
    let closed = HamiltonianSpec {
        magnetic_field: 0.0,
        absorber: None,
        ..spec.clone()
    };
    check_all_splits(&closed, Some(qdsim_mem::matrix::ScalarKind::Complex));
    check_all_splits(&closed, None);
}

#[test]
fn three_d_periodic_and_mass_field_slabs_stack_to_the_global_matrix() {
    let axes = [
        Axis::dirichlet_box(20.0, 7),
        Axis::periodic(15.0, 5),
        Axis::periodic(12.0, 4),
    ];
    let grid = Grid::new(&axes).unwrap();
    let v: Vec<f64> = (0..grid.len()).map(|p| 0.001 * (p % 11) as f64).collect();
    let mass: Vec<f64> = (0..grid.len())
        .map(|p| 0.03 + 0.01 * (p % 5) as f64)
        .collect();
    let spec = HamiltonianSpec {
        mass: Mass::PerPoint(&mass),
        ..HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(&v))
    };
    check_all_splits(&spec, None);
    let open = HamiltonianSpec {
        absorber: Some(Absorber {
            faces: FACE_X_MIN | FACE_X_MAX,
            width: 5.0,
            strength: 0.02,
            order: 3,
        }),
        ..HamiltonianSpec::new(grid, 0.05, Some(&v))
    };
    check_all_splits(&open, None);
}

/// The slab's peak pool memory is the slab's own arrays: a 300² grid's 100-row slab never
/// allocates a whole-grid array (one such array of doubles would be 720 000 bytes).
#[test]
fn a_slab_allocates_only_its_own_rows() {
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[300, 300]).unwrap();
    let v = dot_potential(&grid, 0.010);
    let mass = vec![GAAS_MASS; grid.len()];
    let spec = HamiltonianSpec {
        mass: Mass::PerPoint(&mass),
        magnetic_field: 2.0,
        ..HamiltonianSpec::new(grid, GAAS_MASS, Some(&v))
    };
    let m = manager();
    let slab = spec.csr_rows(&m, None, 45_001..45_101, 32, "slab").unwrap();
    let bytes = slab.info().memory_bytes as u64;
    // 100 interior rows of 5 entries: 101 + 500 indices of 4 bytes, 500 complex values.
    assert_eq!(bytes, (101 + 500) * 4 + 500 * 16);
    let stats: Stats = m.stats();
    assert_eq!(stats.bytes_in_use, bytes);
    assert_eq!(stats.peak_bytes_in_use, bytes);
}

fn expect_refused(
    m: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    rows: Range<usize>,
    bits: u32,
    needle: &str,
) {
    let before = m.stats();
    let err = spec
        .csr_rows(m, None, rows.clone(), bits, "slab")
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidArgument,
        "{rows:?}: {}",
        err.message()
    );
    assert!(
        err.message().contains(needle),
        "{rows:?}: {}",
        err.message()
    );
    let after = m.stats();
    assert_eq!(
        (after.bytes_in_use, after.peak_bytes_in_use),
        (before.bytes_in_use, before.peak_bytes_in_use),
        "a refused call allocated"
    );
}

#[test]
fn bad_ranges_and_widths_are_refused_with_nothing_allocated() {
    let grid = Grid::dirichlet_box(&[10.0, 10.0], &[4, 5]).unwrap(); // 20 rows
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, None);
    let m = manager();
    let not_range = "not a non-empty range within the grid's 20 rows";
    expect_refused(&m, &spec, 5..5, 32, not_range);
    #[allow(clippy::reversed_empty_ranges)]
    expect_refused(&m, &spec, 7..3, 32, not_range);
    expect_refused(&m, &spec, 0..21, 32, not_range);
    expect_refused(&m, &spec, 20..21, 64, not_range);
    expect_refused(&m, &spec, usize::MAX - 1..usize::MAX, 64, not_range);
    expect_refused(&m, &spec, 0..20, 16, "only 32 and 64 bits exist");
    // A grid of 2³¹ points (nothing is allocated to check it: no potential given).
    let huge = Grid::dirichlet_box(&[1.0, 1.0], &[1 << 16, 1 << 15]).unwrap();
    let huge = HamiltonianSpec::new(huge, GAAS_MASS, None);
    expect_refused(&m, &huge, 0..10, 32, "do not fit 32 bits");
    // ... while 64-bit indices take it: 10 rows of the first grid line.
    let slab = huge.csr_rows(&m, None, 0..10, 64, "slab").unwrap();
    assert_eq!(slab.info().ncols, 1 << 31);
    // A complex description with real scalars is refused as for the global matrix.
    let field = HamiltonianSpec {
        magnetic_field: 1.0,
        ..spec.clone()
    };
    let err = field
        .csr_rows(
            &m,
            Some(qdsim_mem::matrix::ScalarKind::Real),
            0..20,
            32,
            "x",
        )
        .unwrap_err();
    assert!(err.message().contains("complex"), "{}", err.message());
}

/// The C entry point: slabs from `qdsim_hamiltonian_assemble_rows` stacked equal the arrays of
/// `qdsim_hamiltonian_csr` (for the complex open dot in a field, 64-bit indices); refusals
/// leave `*out` untouched and the manager's statistics unchanged.
#[test]
fn c_api_slabs_equal_the_global_csr_and_refusals_change_nothing() {
    let (nx, ny) = (16usize, 13usize);
    let grid = Grid::dirichlet_box(&[40.0, 30.0], &[nx, ny]).unwrap();
    let v = dot_potential(&grid, 0.010);
    let n = nx * ny;
    // SAFETY: every pointer below points to live local memory of the right type; handles are
    // used only while alive, and array reads stay within the lengths the info reports.
    unsafe {
        let mut cm: *mut qdsim_manager = std::ptr::null_mut();
        assert_eq!(
            qdsim_manager_create(std::ptr::null(), &mut cm),
            qdsim_status::QDSIM_OK
        );
        let mut desc = std::mem::MaybeUninit::<qdsim_hamiltonian_desc>::uninit();
        assert_eq!(
            qdsim_hamiltonian_desc_default(desc.as_mut_ptr()),
            qdsim_status::QDSIM_OK
        );
        let mut desc = desc.assume_init();
        let (lengths, points) = ([40.0, 30.0], [nx, ny]);
        assert_eq!(
            qdsim_grid_box(2, lengths.as_ptr(), points.as_ptr(), &mut desc.grid),
            qdsim_status::QDSIM_OK
        );
        desc.potential = v.as_ptr();
        desc.magnetic_field = 2.5;
        desc.absorber.faces = 1 | 8;
        desc.absorber.order = 2;
        desc.absorber.width = 6.0;
        desc.absorber.strength = 0.03;
        let arrays = |h: *mut qdsim_csr| -> (Vec<i64>, Vec<i64>, Vec<(u64, u64)>) {
            let mut info = qdsim_csr_info::default();
            assert_eq!(qdsim_csr_get_info(h, &mut info), qdsim_status::QDSIM_OK);
            assert_eq!(info.scalar, QDSIM_SCALAR_COMPLEX);
            let (mut rp, mut ci, mut vals) = (
                std::ptr::null::<c_void>(),
                std::ptr::null::<c_void>(),
                std::ptr::null::<c_void>(),
            );
            assert_eq!(
                qdsim_csr_arrays(h, &mut rp, &mut ci, &mut vals),
                qdsim_status::QDSIM_OK
            );
            let widen = |p: *const c_void, len: usize| -> Vec<i64> {
                if info.index_bits == 32 {
                    std::slice::from_raw_parts(p.cast::<i32>(), len)
                        .iter()
                        .map(|&x| x as i64)
                        .collect()
                } else {
                    std::slice::from_raw_parts(p.cast::<i64>(), len).to_vec()
                }
            };
            let values = std::slice::from_raw_parts(vals.cast::<[f64; 2]>(), info.nnz)
                .iter()
                .map(|z| (z[0].to_bits(), z[1].to_bits()))
                .collect();
            (widen(rp, info.rows + 1), widen(ci, info.nnz), values)
        };
        let mut global: *mut qdsim_csr = std::ptr::null_mut();
        assert_eq!(
            qdsim_hamiltonian_csr(cm, &desc, QDSIM_SCALAR_AUTO, std::ptr::null(), &mut global),
            qdsim_status::QDSIM_OK
        );
        let (g_rp, g_ci, g_v) = arrays(global);
        let (mut rp, mut ci, mut vals) = (vec![0i64], Vec::new(), Vec::new());
        for rows in [0..50, 50..51, 51..n] {
            let mut slab: *mut qdsim_csr = std::ptr::null_mut();
            assert_eq!(
                qdsim_hamiltonian_assemble_rows(
                    cm,
                    &desc,
                    QDSIM_SCALAR_AUTO,
                    rows.start,
                    rows.end,
                    64,
                    c"slab".as_ptr(),
                    &mut slab
                ),
                qdsim_status::QDSIM_OK
            );
            let (s_rp, s_ci, s_v) = arrays(slab);
            assert_eq!(s_rp[0], 0, "local row pointers start at 0");
            let offset = *rp.last().unwrap();
            rp.extend(s_rp[1..].iter().map(|&x| x + offset));
            ci.extend(s_ci);
            vals.extend(s_v);
            assert_eq!(qdsim_csr_destroy(slab), qdsim_status::QDSIM_OK);
        }
        assert_eq!((rp, ci), (g_rp, g_ci));
        assert!(vals == g_v, "values differ");

        let mut before = Stats::default();
        assert_eq!(qdsim_manager_stats(cm, &mut before), qdsim_status::QDSIM_OK);
        let sentinel = 0x5a5a_usize as *mut qdsim_csr;
        for (b, e, bits, want) in [
            (10, 10, 32, qdsim_status::QDSIM_ERR_INVALID_ARGUMENT),
            (10, 3, 32, qdsim_status::QDSIM_ERR_INVALID_ARGUMENT),
            (0, n + 1, 64, qdsim_status::QDSIM_ERR_INVALID_ARGUMENT),
            (0, n, 16, qdsim_status::QDSIM_ERR_INVALID_ARGUMENT),
            (0, n, -32, qdsim_status::QDSIM_ERR_INVALID_ARGUMENT),
        ] {
            let mut out = sentinel;
            let st = qdsim_hamiltonian_assemble_rows(
                cm,
                &desc,
                QDSIM_SCALAR_AUTO,
                b,
                e,
                bits,
                std::ptr::null(),
                &mut out,
            );
            assert_eq!(st, want, "[{b}, {e}) {bits} bits");
            assert_eq!(out, sentinel, "*out written on failure");
            let message =
                std::ffi::CStr::from_ptr(qdsim_mem::ffi::boundary::qdsim_last_error_message())
                    .to_string_lossy()
                    .into_owned();
            assert!(
                message.starts_with("qdsim_hamiltonian_assemble_rows: "),
                "{message}"
            );
        }
        let mut out = sentinel;
        assert_eq!(
            qdsim_hamiltonian_assemble_rows(
                cm,
                &desc,
                QDSIM_SCALAR_AUTO,
                0,
                n,
                32,
                std::ptr::null(),
                std::ptr::null_mut()
            ),
            qdsim_status::QDSIM_ERR_NULL_ARGUMENT
        );
        let mut no_potential = desc;
        no_potential.potential = std::ptr::null();
        assert_eq!(
            qdsim_hamiltonian_assemble_rows(
                cm,
                &no_potential,
                QDSIM_SCALAR_AUTO,
                0,
                n,
                32,
                std::ptr::null(),
                &mut out
            ),
            qdsim_status::QDSIM_ERR_NULL_ARGUMENT
        );
        assert_eq!(out, sentinel);
        let mut after = Stats::default();
        assert_eq!(qdsim_manager_stats(cm, &mut after), qdsim_status::QDSIM_OK);
        assert_eq!(
            (after.bytes_in_use, after.allocation_count),
            (before.bytes_in_use, before.allocation_count)
        );
        assert_eq!(qdsim_csr_destroy(global), qdsim_status::QDSIM_OK);
        assert_eq!(qdsim_manager_destroy(cm), qdsim_status::QDSIM_OK);
    }
}
