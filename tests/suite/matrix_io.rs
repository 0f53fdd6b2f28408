//! CSR matrices to and from PETSc binary and MatrixMarket files: bit-exact round trips (real
//! and complex, both PETSc integer widths), the PETSc bytes checked against the format,
//! MatrixMarket symmetry expansion and array files, and malformed input refused with its line.

use crate::common::TempFile;
use num_complex::Complex64;
use qdsim_mem::io::{
    MAT_FILE_CLASSID, read_matrix_market, read_matrix_market_from, read_petsc, read_petsc_from,
    write_matrix_market, write_matrix_market_to, write_petsc, write_petsc_with_int_bits,
};
use qdsim_mem::matrix::{AnyCsr, CsrBuilder, CsrMatrix, Scalar, ScalarKind};
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::{Error, ErrorKind};

/// Values that are hard to print and read back exactly.
const AWKWARD: [f64; 10] = [
    0.1,
    1.0 / 3.0,
    -2.0 / 7.0,
    1e-300,
    -1.2345678901234567e300,
    f64::MIN_POSITIVE,
    5e-324,
    -0.0,
    123_456_789.123_456_79,
    std::f64::consts::PI,
];

fn awkward_csr<T: Scalar>(m: &MemoryManager, rows: usize, cols: usize) -> CsrMatrix<T> {
    let mut b = CsrBuilder::<T>::new(m, rows, cols, "awkward").unwrap();
    let mut k = 0;
    for r in 0..rows {
        for c in [r % cols, (3 * r + 1) % cols, (7 * r + 5) % cols] {
            let z = Complex64::new(AWKWARD[k % 10], AWKWARD[(k + 3) % 10]);
            k += 1;
            b.add_element(
                r,
                c,
                T::from_complex(z).unwrap_or_else(|| T::from_real(z.re)),
            )
            .unwrap();
        }
    }
    b.finalize().unwrap()
}

/// Entries as bit patterns, so that -0.0 ≠ 0.0 and every ulp counts.
fn bits<T: Scalar>(m: &CsrMatrix<T>) -> Vec<(usize, usize, u64, u64)> {
    m.entries()
        .into_iter()
        .map(|(r, c, v)| {
            let z = v.to_complex();
            (r, c, z.re.to_bits(), z.im.to_bits())
        })
        .collect()
}

fn real(a: AnyCsr) -> CsrMatrix<f64> {
    match a {
        AnyCsr::Real(m) => m,
        AnyCsr::Complex(_) => panic!("expected a real matrix"),
    }
}

fn complex(a: AnyCsr) -> CsrMatrix<Complex64> {
    match a {
        AnyCsr::Complex(m) => m,
        AnyCsr::Real(_) => panic!("expected a complex matrix"),
    }
}

fn corrupt_at(result: Result<AnyCsr, Error>, needle: &str) {
    let Err(e) = result else {
        panic!("expected CorruptFile containing {needle:?}, got success")
    };
    assert_eq!(e.kind(), ErrorKind::CorruptFile, "{e}");
    assert!(e.message().contains(needle), "{needle:?} not in: {e}");
}

fn mm(manager: &MemoryManager, text: &str) -> Result<AnyCsr, Error> {
    read_matrix_market_from(manager, text.as_bytes(), "mm")
}

#[test]
fn matrix_market_round_trips_are_bit_exact() {
    let manager = MemoryManager::with_defaults().unwrap();
    let file = TempFile::new("real.mtx");
    let a = awkward_csr::<f64>(&manager, 40, 30);
    write_matrix_market(&a, file.path()).unwrap();
    let text = std::fs::read_to_string(file.path()).unwrap();
    assert!(text.starts_with("%%MatrixMarket matrix coordinate real general\n"));
    assert!(text.contains(&format!("\n40 30 {}\n", a.nnz())));
    let back = real(read_matrix_market(&manager, file.path(), "back").unwrap());
    assert_eq!(bits(&back), bits(&a));

    let file = TempFile::new("complex.mtx");
    let z = awkward_csr::<Complex64>(&manager, 25, 41);
    write_matrix_market(&z, file.path()).unwrap();
    let text = std::fs::read_to_string(file.path()).unwrap();
    assert!(text.starts_with("%%MatrixMarket matrix coordinate complex general\n"));
    let back = complex(read_matrix_market(&manager, file.path(), "back").unwrap());
    assert_eq!(bits(&back), bits(&z));
    // both matrices read back live in the pools under the tag given to the reader
    assert_eq!(
        manager.tag_stats("back.values").unwrap().live_allocations,
        2
    );
}

#[test]
fn matrix_market_entries_are_one_based() {
    let manager = MemoryManager::with_defaults().unwrap();
    let mut b = CsrBuilder::<f64>::new(&manager, 2, 3, "t").unwrap();
    b.add_element(0, 0, 1.5).unwrap();
    b.add_element(1, 2, -2.0).unwrap();
    let mut out = Vec::new();
    write_matrix_market_to(&b.finalize().unwrap(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let data: Vec<&str> = text.lines().filter(|l| !l.starts_with('%')).collect();
    assert_eq!(data, ["2 3 2", "1 1 1.5e0", "2 3 -2e0"]);
}

#[test]
fn symmetric_skew_and_hermitian_files_are_expanded() {
    let manager = MemoryManager::with_defaults().unwrap();
    let sym = real(
        mm(
            &manager,
            "%%MatrixMarket matrix coordinate real symmetric\n% lower triangle\n3 3 4\n\
             1 1 2.0\n2 1 -1\n3 2 -1.5\n3 3 4\n",
        )
        .unwrap(),
    );
    assert_eq!(
        sym.entries(),
        [
            (0, 0, 2.0),
            (0, 1, -1.0),
            (1, 0, -1.0),
            (1, 2, -1.5),
            (2, 1, -1.5),
            (2, 2, 4.0)
        ]
    );
    let skew = real(
        mm(
            &manager,
            "%%MatrixMarket matrix coordinate integer skew-symmetric\n2 2 1\n2 1 3\n",
        )
        .unwrap(),
    );
    assert_eq!(skew.entries(), [(0, 1, -3.0), (1, 0, 3.0)]);
    let herm = complex(
        mm(
            &manager,
            "%%MatrixMarket matrix coordinate complex hermitian\n2 2 2\n1 1 1 0\n2 1 2 0.5\n",
        )
        .unwrap(),
    );
    assert_eq!(
        herm.entries(),
        [
            (0, 0, Complex64::new(1.0, 0.0)),
            (0, 1, Complex64::new(2.0, -0.5)),
            (1, 0, Complex64::new(2.0, 0.5))
        ]
    );
    let pattern = real(
        mm(
            &manager,
            "%%MATRIXMARKET Matrix Coordinate Pattern General\n2 3 2\n\n1 3\n2 1\n",
        )
        .unwrap(),
    );
    assert_eq!(pattern.entries(), [(0, 2, 1.0), (1, 0, 1.0)]);
}

#[test]
fn array_files_are_read_column_by_column() {
    let manager = MemoryManager::with_defaults().unwrap();
    let general = real(
        mm(
            &manager,
            "%%MatrixMarket matrix array real general\n2 3\n1\n4\n0\n5\n3\n6\n",
        )
        .unwrap(),
    );
    assert_eq!(
        general.entries(),
        [
            (0, 0, 1.0),
            (0, 2, 3.0),
            (1, 0, 4.0),
            (1, 1, 5.0),
            (1, 2, 6.0)
        ]
    );
    // symmetric: the lower triangle column by column (a11 a21 a31 a22 a32 a33)
    let sym = real(
        mm(
            &manager,
            "%%MatrixMarket matrix array real symmetric\n3 3\n1\n2\n3\n4\n5\n6\n",
        )
        .unwrap(),
    );
    let d = sym.to_dense();
    let expected = [[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]];
    for (i, row) in expected.iter().enumerate() {
        for (j, &x) in row.iter().enumerate() {
            assert_eq!(d[(i, j)], x, "({i}, {j})");
        }
    }
    let z = complex(
        mm(
            &manager,
            "%%MatrixMarket matrix array complex general\n1 2\n1 2\n3 -4\n",
        )
        .unwrap(),
    );
    assert_eq!(
        z.entries(),
        [
            (0, 0, Complex64::new(1.0, 2.0)),
            (0, 1, Complex64::new(3.0, -4.0))
        ]
    );
}

#[test]
fn malformed_matrix_market_is_refused_with_the_line() {
    let manager = MemoryManager::with_defaults().unwrap();
    let cases = [
        ("", "line 1: the input is empty"),
        (
            "%MatrixMarket matrix coordinate real general\n",
            "line 1: not a MatrixMarket file",
        ),
        (
            "%%MatrixMarket matrix coordinate real\n",
            "line 1: the header needs 4 words",
        ),
        (
            "%%MatrixMarket vector coordinate real general\n",
            "line 1: object \"vector\"",
        ),
        (
            "%%MatrixMarket matrix sparse real general\n",
            "line 1: format \"sparse\"",
        ),
        (
            "%%MatrixMarket matrix coordinate quaternion general\n",
            "line 1: field \"quaternion\"",
        ),
        (
            "%%MatrixMarket matrix coordinate real hermitian\n",
            "line 1: a Hermitian file must",
        ),
        (
            "%%MatrixMarket matrix array pattern general\n",
            "line 1: an array file cannot",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n% c\n",
            "line 2: the input ends before the size line",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2\n",
            "line 2: the size line needs 3 integers",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 x 1\n",
            "line 2: size \"x\"",
        ),
        (
            "%%MatrixMarket matrix coordinate real symmetric\n2 3 1\n",
            "line 2: a symmetric, skew-symmetric or Hermitian matrix must be square, not 2×3",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n% c\n2 2 abc\n",
            "line 5: \"abc\" is not a real number",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1\n",
            "line 3: row index 3 is out of range 1..=2",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 0 1\n",
            "line 3: column index 0 is out of range",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1\n",
            "line 3: an entry needs 3 numbers (row, column, value), found 2",
        ),
        (
            "%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1\n",
            "line 3: an entry needs 4 numbers",
        ),
        (
            "%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 1.5\n",
            "line 3: \"1.5\" is not an integer",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 inf\n",
            "line 3: value \"inf\" is not finite",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 1\n2 2 2\n",
            "line 4: the input ends after 2 of the 3 entries announced by the size line (line 2)",
        ),
        (
            "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1\n2 2 2\n",
            "line 4: unexpected data \"2 2 2\" after the 1 entries",
        ),
        (
            "%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 2 1\n",
            "line 3: entry (1, 2) is above the diagonal",
        ),
        (
            "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n1 1 1\n",
            "line 3: entry (1, 1) is on the diagonal",
        ),
        (
            "%%MatrixMarket matrix coordinate complex hermitian\n2 2 1\n2 2 1 1\n",
            "line 3: diagonal entry (2, 2) of a Hermitian matrix has the imaginary part 1",
        ),
        (
            "%%MatrixMarket matrix array real general\n1 2\n1\n",
            "line 3: the input ends after 1 of the 2 entries",
        ),
        (
            "%%MatrixMarket matrix array real general\n1 1\n1 2\n",
            "line 3: an array entry needs 1 number, found 2",
        ),
    ];
    for (text, needle) in cases {
        corrupt_at(mm(&manager, text), needle);
    }
    // from a file, the message starts with the path
    let file = TempFile::new("bad.mtx");
    std::fs::write(
        file.path(),
        "%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 x\n",
    )
    .unwrap();
    let e = read_matrix_market(&manager, file.path(), "bad").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CorruptFile);
    assert!(
        e.message()
            .starts_with(&format!("{}: line 3:", file.path().display())),
        "{e}"
    );
    let missing = TempFile::new("missing.mtx");
    let e = read_matrix_market(&manager, missing.path(), "x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
}

fn be32(b: &[u8], k: usize) -> i32 {
    i32::from_be_bytes(b[4 * k..4 * k + 4].try_into().unwrap())
}

#[test]
fn petsc_files_follow_the_format_byte_for_byte() {
    let manager = MemoryManager::with_defaults().unwrap();
    // [[1, 0, 2], [0, 0, 0], [0, -3.5, 0], [4, 0, 0]]
    let mut b = CsrBuilder::<f64>::new(&manager, 4, 3, "p").unwrap();
    for (r, c, v) in [(0, 0, 1.0), (0, 2, 2.0), (2, 1, -3.5), (3, 0, 4.0)] {
        b.add_element(r, c, v).unwrap();
    }
    let a = b.finalize().unwrap();
    let file = TempFile::new("a.petsc");
    write_petsc(&a, file.path()).unwrap();
    let raw = std::fs::read(file.path()).unwrap();
    assert_eq!(&raw[0..4], &1_211_216i32.to_be_bytes());
    assert_eq!(be32(&raw, 0), MAT_FILE_CLASSID);
    let ints: Vec<i32> = (0..4 + 4 + 4).map(|k| be32(&raw, k)).collect();
    assert_eq!(
        ints,
        [
            MAT_FILE_CLASSID,
            4,
            3,
            4,
            /* row lengths */ 2,
            0,
            1,
            1,
            /* columns */ 0,
            2,
            1,
            0
        ]
    );
    let values: Vec<f64> = raw[48..]
        .chunks(8)
        .map(|c| f64::from_be_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values, [1.0, 2.0, -3.5, 4.0]);
    assert_eq!(raw.len(), 48 + 4 * 8);

    // complex: (re, im) pairs of big-endian doubles
    let mut b = CsrBuilder::<Complex64>::new(&manager, 1, 2, "p").unwrap();
    b.add_element(0, 1, Complex64::new(0.5, -2.0)).unwrap();
    let z = b.finalize().unwrap();
    write_petsc(&z, file.path()).unwrap();
    let raw = std::fs::read(file.path()).unwrap();
    assert_eq!(
        (0..6).map(|k| be32(&raw, k)).collect::<Vec<_>>(),
        [MAT_FILE_CLASSID, 1, 2, 1, 1, 1]
    );
    assert_eq!(&raw[24..32], &0.5f64.to_be_bytes());
    assert_eq!(&raw[32..40], &(-2.0f64).to_be_bytes());
    assert_eq!(raw.len(), 40);

    // 64-bit integers (PETSc --with-64-bit-indices)
    write_petsc_with_int_bits(&a, file.path(), 64).unwrap();
    let raw = std::fs::read(file.path()).unwrap();
    assert_eq!(&raw[0..8], &1_211_216i64.to_be_bytes());
    assert_eq!(&raw[8..16], &4i64.to_be_bytes());
    assert_eq!(raw.len(), 8 * (4 + 4 + 4) + 4 * 8);
    let e = write_petsc_with_int_bits(&a, file.path(), 16).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn petsc_round_trips_are_bit_exact() {
    let manager = MemoryManager::with_defaults().unwrap();
    let file = TempFile::new("rt.petsc");
    let a = awkward_csr::<f64>(&manager, 50, 61);
    let z = awkward_csr::<Complex64>(&manager, 33, 20);
    for int_bits in [32, 64] {
        write_petsc_with_int_bits(&a, file.path(), int_bits).unwrap();
        let back = real(read_petsc(&manager, file.path(), "back").unwrap());
        assert_eq!(bits(&back), bits(&a));
        write_petsc_with_int_bits(&z, file.path(), int_bits).unwrap();
        let back = complex(read_petsc(&manager, file.path(), "back").unwrap());
        assert_eq!(bits(&back), bits(&z));
    }
    // a stream, whose scalar type the caller names
    let raw = std::fs::read(file.path()).unwrap();
    let back = complex(read_petsc_from(&manager, &raw[..], ScalarKind::Complex, "s").unwrap());
    assert_eq!(bits(&back), bits(&z));
}

#[test]
fn malformed_petsc_files_are_refused() {
    let manager = MemoryManager::with_defaults().unwrap();
    let mut b = CsrBuilder::<f64>::new(&manager, 3, 3, "p").unwrap();
    for (r, c, v) in [(0, 0, 1.0), (1, 2, 2.0), (2, 1, 3.0)] {
        b.add_element(r, c, v).unwrap();
    }
    let a = b.finalize().unwrap();
    let file = TempFile::new("bad.petsc");
    write_petsc(&a, file.path()).unwrap();
    let good = std::fs::read(file.path()).unwrap();
    let read = |bytes: &[u8]| {
        std::fs::write(file.path(), bytes).unwrap();
        read_petsc(&manager, file.path(), "bad")
    };
    // a PETSc Vec file (class id 1211214) is not a matrix
    let mut vec = good.clone();
    vec[0..4].copy_from_slice(&1_211_214i32.to_be_bytes());
    corrupt_at(read(&vec), "not a PETSc matrix file");
    corrupt_at(
        read(&good[..10]),
        "truncated: the file ends inside the header",
    );
    corrupt_at(
        read(&good[..good.len() - 8]),
        "takes 64 bytes (real) or 88 bytes (complex)",
    );
    let mut lengths = good.clone();
    lengths[16..20].copy_from_slice(&2i32.to_be_bytes()); // rows 2+1+1 = 4 > 3
    corrupt_at(
        read(&lengths),
        "row 2 has length 1, but only 0 of the 3 entries are left",
    );
    let mut column = good.clone();
    column[28..32].copy_from_slice(&3i32.to_be_bytes());
    corrupt_at(
        read(&column),
        "column index 3 of entry 0 is out of range for 3 columns",
    );
    let mut negative = good.clone();
    negative[4..8].copy_from_slice(&(-3i32).to_be_bytes());
    corrupt_at(read(&negative), "negative size");
    let mut nan = good.clone();
    nan[40..48].copy_from_slice(&f64::NAN.to_be_bytes());
    corrupt_at(read(&nan), "entry 0 (row 0, column 0) is not finite");
    // the stream reader notices truncation in the values
    let e = read_petsc_from(&manager, &good[..good.len() - 4], ScalarKind::Real, "s").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CorruptFile);
    assert!(e.message().contains("ends inside the values"), "{e}");
}
