//! CSR matrices built entry by entry: both index widths, SpMV against a dense product, real
//! matrices with complex vectors, the zero-copy faer view, and exact memory accounting.

use num_complex::Complex64;
use qdsim_mem::matrix::{CsrBuilder, CsrIndices, CsrMatrix, FaerCsr, Scalar};
use qdsim_mem::memory::MemoryManager;

/// A random sparse matrix (with duplicates) from a fixed seed, as a builder and as dense rows.
fn random_matrix<T: Scalar>(
    m: &MemoryManager,
    rows: usize,
    cols: usize,
    seed: u64,
) -> (CsrBuilder<T>, Vec<Vec<T>>) {
    let mut b = CsrBuilder::<T>::new(m, rows, cols, "rand").unwrap();
    let mut dense = vec![vec![T::ZERO_VALUE; cols]; rows];
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..(rows * 4) {
        let (r, c) = (next() as usize % rows, next() as usize % cols);
        let re = (next() % 1000) as f64 / 100.0 - 5.0;
        let im = (next() % 1000) as f64 / 100.0 - 5.0;
        let v = T::from_complex(Complex64::new(re, im)).unwrap_or_else(|| T::from_real(re));
        b.add_element(r, c, v).unwrap();
        dense[r][c] += v;
    }
    (b, dense)
}

fn check_spmv<T: Scalar>(csr: &CsrMatrix<T>, dense: &[Vec<T>]) {
    let x: Vec<T> = (0..csr.ncols())
        .map(|j| T::from_real(1.0 + j as f64 * 0.25))
        .collect();
    let mut y: Vec<T> = (0..csr.nrows()).map(|i| T::from_real(i as f64)).collect();
    let (alpha, beta) = (T::from_real(2.0), T::from_real(-0.5));
    let expected: Vec<T> = dense
        .iter()
        .zip(&y)
        .map(|(row, &y0)| {
            let mut acc = T::ZERO_VALUE;
            for (&a, &xv) in row.iter().zip(&x) {
                acc += a * xv;
            }
            alpha * acc + beta * y0
        })
        .collect();
    csr.spmv(alpha, &x, beta, &mut y).unwrap();
    for (i, (a, b)) in y.iter().zip(&expected).enumerate() {
        // Sums of ≤ 40 products of O(10) numbers: 1e-12 absolute is ~100 ulps of slack.
        assert!((*a - *b).abs_sq().sqrt() < 1e-12, "row {i}: {a:?} vs {b:?}");
    }
}

#[test]
fn both_index_widths_multiply_like_the_dense_matrix() {
    let m = MemoryManager::with_defaults().unwrap();
    for bits in [None, Some(32), Some(64)] {
        let (mut b, dense) = random_matrix::<f64>(&m, 300, 200, 42);
        let csr = b.finalize_with_index_bits(bits).unwrap();
        assert_eq!(csr.index_bits(), bits.unwrap_or(32));
        check_spmv(&csr, &dense);
        let (mut b, dense) = random_matrix::<Complex64>(&m, 150, 170, 7);
        let csr = b.finalize_with_index_bits(bits).unwrap();
        check_spmv(&csr, &dense);
        // the faer view is the same matrix
        let faer_dense = match csr.as_faer() {
            FaerCsr::U32(v) => v.to_dense(),
            FaerCsr::U64(v) => v.to_dense(),
        };
        assert_eq!(faer_dense, csr.to_dense());
    }
    let (mut b, _) = random_matrix::<f64>(&m, 10, 10, 3);
    assert!(b.finalize_with_index_bits(Some(16)).is_err());
}

#[test]
fn real_matrix_times_complex_vectors() {
    let m = MemoryManager::with_defaults().unwrap();
    let (mut b, dense) = random_matrix::<f64>(&m, 50, 60, 11);
    let csr = b.finalize().unwrap();
    let x: Vec<Complex64> = (0..60)
        .map(|j| Complex64::new(j as f64, -(j as f64) / 3.0))
        .collect();
    let mut y = vec![Complex64::new(f64::NAN, f64::NAN); 50];
    csr.spmv(
        Complex64::new(0.0, 1.0),
        &x,
        Complex64::new(0.0, 0.0),
        &mut y,
    )
    .unwrap();
    for (i, row) in dense.iter().enumerate() {
        let acc: Complex64 = row.iter().zip(&x).map(|(&a, &xv)| xv * a).sum();
        let expected = Complex64::new(0.0, 1.0) * acc;
        assert!(
            (y[i] - expected).norm() < 1e-10,
            "row {i}: β = 0 must ignore the NaNs in y"
        );
    }
    let err = csr.spmv(1.0, &[0.0; 59], 0.0, &mut [0.0; 50]).unwrap_err();
    assert!(
        err.message().contains("x of length 60"),
        "{}",
        err.message()
    );
}

#[test]
fn memory_is_reported_exactly_and_returned() {
    let m = MemoryManager::with_defaults().unwrap();
    let (mut b, _) = random_matrix::<Complex64>(&m, 1000, 1000, 5);
    let csr = b.finalize_with_index_bits(Some(64)).unwrap();
    let CsrIndices::I64 { row_ptr, .. } = csr.indices() else {
        panic!("asked for 64-bit indices")
    };
    assert_eq!(row_ptr.len(), 1001);
    let expected = csr.nnz() * (16 + 8) + 1001 * 8;
    assert_eq!(csr.memory_bytes(), expected);
    let tagged: u64 = ["rand.values", "rand.col_idx", "rand.row_ptr"]
        .iter()
        .map(|t| m.tag_stats(t).unwrap().bytes_in_use)
        .sum();
    assert_eq!(tagged, expected as u64);
    drop(csr);
    drop(b);
    assert_eq!(m.stats().bytes_in_use, 0);
}
