//! Memory-mapped matrices: round trips for every element type, layout and index width; every
//! kind of damaged file refused with `CorruptFile` and a message naming the damage; read-only
//! mappings refusing writes; growing a block of vectors; flush, finalize and reopen.

use crate::common::TempFile;
use faer::Mat;
use num_complex::Complex64;
use qdsim_mem::matrix::mapped::{AnyMapped, Layout, MappedCsr, MappedDense, MappedIndices};
use qdsim_mem::matrix::{CsrBuilder, CsrMatrix, FaerCsr, ManagedMatrix, Scalar};
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::{Error, ErrorKind};
use std::path::Path;

fn value<T: Scalar>(i: usize, j: usize) -> T {
    let z = Complex64::new(
        i as f64 + 0.25 * j as f64,
        1.0 / (1.0 + i as f64 + j as f64),
    );
    T::from_complex(z).unwrap_or_else(|| T::from_real(z.re))
}

/// A sparse matrix from a fixed seed, with `bits`-bit indices.
fn random_csr<T: Scalar>(m: &MemoryManager, rows: usize, cols: usize, bits: u32) -> CsrMatrix<T> {
    let mut b = CsrBuilder::<T>::new(m, rows, cols, "rand").unwrap();
    let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ rows as u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..rows * 3 {
        let (r, c) = (next() as usize % rows, next() as usize % cols);
        b.add_element(r, c, value(r, c)).unwrap();
    }
    b.finalize_with_index_bits(Some(bits)).unwrap()
}

fn assert_corrupt(result: Result<impl Sized, Error>, needle: &str) {
    let Err(e) = result else {
        panic!("expected CorruptFile containing {needle:?}, got success")
    };
    assert_eq!(e.kind(), ErrorKind::CorruptFile, "{e}");
    assert!(e.message().contains(needle), "{needle:?} not in: {e}");
}

fn patch(path: &Path, at: usize, bytes: &[u8]) {
    let mut data = std::fs::read(path).unwrap();
    data[at..at + bytes.len()].copy_from_slice(bytes);
    std::fs::write(path, data).unwrap();
}

fn dense_round_trip<T: Scalar>() {
    let manager = MemoryManager::with_defaults().unwrap();
    let file = TempFile::new("dense.qdm");
    let (rows, cols) = (37, 5);
    {
        let mut m = MappedDense::<T>::create(file.path(), rows, cols).unwrap();
        assert!(m.is_writable() && !m.header().finalized);
        assert_eq!(m.ld(), aligned(rows, size_of::<T>()));
        let mut view = m.as_mut().unwrap();
        for j in 0..cols {
            for i in 0..rows {
                view[(i, j)] = value(i, j);
            }
        }
        m.finalize().unwrap();
        assert!(m.header().finalized);
    }
    let m = MappedDense::<T>::open(file.path()).unwrap();
    assert!(!m.is_writable());
    assert_eq!((m.nrows(), m.ncols()), (rows, cols));
    assert_eq!(
        m.as_slice().as_ptr() as usize % 4096,
        0,
        "data is page-aligned"
    );
    for j in 0..cols {
        assert_eq!(
            m.col(j).as_ptr() as usize % 64,
            0,
            "columns are 64-byte aligned"
        );
        for i in 0..rows {
            assert_eq!(m.as_ref()[(i, j)], value::<T>(i, j));
            assert_eq!(m.col(j)[i], value::<T>(i, j));
        }
    }
    // to and from the pools
    let managed = m.to_managed(&manager, "copy").unwrap();
    assert_eq!(managed.as_ref(), m.as_ref());
    let file2 = TempFile::new("dense2.qdm");
    let mut src = ManagedMatrix::<T>::zeros(&manager, 9, 4, "src").unwrap();
    src.as_mut()[(8, 3)] = value(8, 3);
    src.as_mut()[(0, 1)] = value(0, 1);
    drop(MappedDense::from_managed(file2.path(), &src).unwrap());
    let back = MappedDense::<T>::open(file2.path()).unwrap();
    assert_eq!(back.as_ref(), src.as_ref());
    // the untyped opener sees the same thing
    let any = AnyMapped::open(file2.path(), false).unwrap();
    assert_eq!(any.header().layout, Layout::Dense);
    assert_eq!(any.header().scalar, T::KIND);
    assert_eq!((any.header().rows, any.header().cols), (9, 4));
}

fn aligned(rows: usize, elem: usize) -> usize {
    let per_line = 64 / elem;
    rows.div_ceil(per_line).max(1) * per_line
}

#[test]
fn dense_round_trips_for_both_element_types() {
    dense_round_trip::<f64>();
    dense_round_trip::<Complex64>();
}

fn csr_round_trip<T: Scalar>(bits: u32) {
    let manager = MemoryManager::with_defaults().unwrap();
    let file = TempFile::new("csr.qdm");
    let original = random_csr::<T>(&manager, 120, 90, bits);
    drop(MappedCsr::from_csr(file.path(), &original).unwrap());
    let m = MappedCsr::<T>::open(file.path()).unwrap();
    assert_eq!(m.index_bits(), bits);
    assert_eq!((m.nrows(), m.ncols(), m.nnz()), (120, 90, original.nnz()));
    assert_eq!(m.values(), original.values());
    match (m.indices(), bits) {
        (MappedIndices::I32 { row_ptr, .. }, 32) => assert_eq!(row_ptr.len(), 121),
        (MappedIndices::I64 { row_ptr, .. }, 64) => assert_eq!(row_ptr.len(), 121),
        _ => panic!("index width not kept"),
    }
    // SAFETY: nobody changes the file while the view is used.
    let faer_dense = match unsafe { m.as_faer() } {
        FaerCsr::U32(v) => v.to_dense(),
        FaerCsr::U64(v) => v.to_dense(),
    };
    assert_eq!(faer_dense, original.to_dense());
    let back = m.to_csr(&manager, "back").unwrap();
    assert_eq!(back.index_bits(), bits);
    assert_eq!(back.entries(), original.entries());
    assert_eq!(
        manager.tag_stats("back.values").unwrap().bytes_in_use,
        (original.nnz() * size_of::<T>()) as u64
    );
    let any = AnyMapped::open(file.path(), false).unwrap();
    assert_eq!(
        (any.header().layout, any.header().index_bits),
        (Layout::Csr, bits)
    );
}

#[test]
fn csr_round_trips_for_every_element_type_and_index_width() {
    for bits in [32, 64] {
        csr_round_trip::<f64>(bits);
        csr_round_trip::<Complex64>(bits);
    }
}

/// A small finalized real dense file.
fn good_dense(name: &str) -> TempFile {
    let file = TempFile::new(name);
    let mut m = MappedDense::<f64>::create(file.path(), 10, 3).unwrap();
    m.col_mut(1).unwrap()[2] = 7.0;
    m.finalize().unwrap();
    file
}

#[test]
fn damaged_headers_are_refused_with_what_is_wrong() {
    // truncated inside the data, and inside the header page
    let file = good_dense("trunc.qdm");
    let len = std::fs::metadata(file.path()).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(file.path())
        .unwrap()
        .set_len(len - 8)
        .unwrap();
    assert_corrupt(MappedDense::<f64>::open(file.path()), "truncated");
    std::fs::OpenOptions::new()
        .write(true)
        .open(file.path())
        .unwrap()
        .set_len(100)
        .unwrap();
    assert_corrupt(
        MappedDense::<f64>::open(file.path()),
        "shorter than the 4096-byte header",
    );

    // bytes appended
    let file = good_dense("long.qdm");
    let mut data = std::fs::read(file.path()).unwrap();
    data.extend([0u8; 16]);
    std::fs::write(file.path(), &data).unwrap();
    assert_corrupt(
        MappedDense::<f64>::open(file.path()),
        "extra bytes at the end",
    );

    // bad magic
    let file = good_dense("magic.qdm");
    patch(file.path(), 0, b"NOTQDSIM");
    assert_corrupt(MappedDense::<f64>::open(file.path()), "bad magic");

    // a flipped bit in the rows field: only the checksum can tell
    let file = good_dense("sum.qdm");
    let mut data = std::fs::read(file.path()).unwrap();
    data[32] ^= 0x01;
    std::fs::write(file.path(), &data).unwrap();
    assert_corrupt(MappedDense::<f64>::open(file.path()), "checksum mismatch");
    assert_corrupt(AnyMapped::open(file.path(), true), "checksum mismatch");

    // another format version
    let file = good_dense("version.qdm");
    patch(file.path(), 8, &3u32.to_le_bytes());
    assert_corrupt(MappedDense::<f64>::open(file.path()), "format version 3");

    // not a file at all: an I/O error, not a corrupt file
    let missing = TempFile::new("missing.qdm");
    let e = MappedDense::<f64>::open(missing.path()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
}

#[test]
fn an_unfinalized_file_is_refused() {
    let file = TempFile::new("unfinalized.qdm");
    {
        let mut m = MappedDense::<Complex64>::create(file.path(), 4, 4).unwrap();
        m.col_mut(0).unwrap()[0] = Complex64::new(1.0, 1.0);
        m.flush().unwrap();
        // dropped without finalize: a new file never replaces its path
    }
    assert!(!file.path().exists(), "a new file appears only at finalize");
    {
        let mut m = MappedDense::<Complex64>::create(file.path(), 4, 4).unwrap();
        m.finalize().unwrap();
        let mut m = MappedDense::<Complex64>::open_rw(file.path()).unwrap();
        m.col_mut(0).unwrap()[0] = Complex64::new(1.0, 1.0);
        m.flush().unwrap();
        // changed in place and dropped without finalize: as after a crash mid-write
    }
    assert_corrupt(
        MappedDense::<Complex64>::open(file.path()),
        "never finalized",
    );
    assert_corrupt(AnyMapped::open(file.path(), true), "never finalized");
}

#[test]
fn the_wrong_element_type_or_layout_is_refused() {
    let manager = MemoryManager::with_defaults().unwrap();
    let dense = good_dense("type.qdm");
    assert_corrupt(
        MappedDense::<Complex64>::open(dense.path()),
        "holds real (f64) elements, but complex (complex128) was asked for",
    );
    assert_corrupt(
        MappedCsr::<f64>::open(dense.path()),
        "holds a dense matrix, but a CSR one was asked for",
    );
    let csr = TempFile::new("type-csr.qdm");
    let original = random_csr::<Complex64>(&manager, 10, 10, 32);
    drop(MappedCsr::from_csr(csr.path(), &original).unwrap());
    assert_corrupt(MappedCsr::<f64>::open(csr.path()), "holds complex");
    assert_corrupt(
        MappedDense::<Complex64>::open(csr.path()),
        "holds a CSR matrix",
    );
}

/// The 3×3 matrix [[1, 2, 0], [0, 3, 4], [5, 0, 6]] in a file with `bits`-bit indices.
fn small_csr_file(name: &str, bits: u32) -> TempFile {
    let manager = MemoryManager::with_defaults().unwrap();
    let mut b = CsrBuilder::<f64>::new(&manager, 3, 3, "small").unwrap();
    for (r, c, v) in [
        (0, 0, 1.0),
        (0, 1, 2.0),
        (1, 1, 3.0),
        (1, 2, 4.0),
        (2, 0, 5.0),
        (2, 2, 6.0),
    ] {
        b.add_element(r, c, v).unwrap();
    }
    let file = TempFile::new(name);
    let m = b.finalize_with_index_bits(Some(bits)).unwrap();
    drop(MappedCsr::from_csr(file.path(), &m).unwrap());
    file
}

fn index_bytes(bits: u32, x: i64) -> Vec<u8> {
    if bits == 32 {
        (x as i32).to_le_bytes().to_vec()
    } else {
        x.to_le_bytes().to_vec()
    }
}

#[test]
fn damaged_csr_structure_is_refused() {
    for bits in [32u32, 64] {
        let ib = (bits / 8) as usize;
        // row_ptr = [0, 2, 4, 6] at 4096; col_idx = [0, 1, 1, 2, 0, 2] at 8192
        let file = small_csr_file("monotone.qdm", bits);
        assert!(MappedCsr::<f64>::open(file.path()).is_ok());
        patch(file.path(), 4096 + ib, &index_bytes(bits, 5));
        assert_corrupt(
            MappedCsr::<f64>::open(file.path()),
            "row pointers are not monotone: row_ptr[1] = 5 > row_ptr[2] = 4",
        );

        let file = small_csr_file("first.qdm", bits);
        patch(file.path(), 4096, &index_bytes(bits, 1));
        assert_corrupt(
            MappedCsr::<f64>::open(file.path()),
            "row_ptr[0] is 1, not 0",
        );

        let file = small_csr_file("last.qdm", bits);
        patch(file.path(), 4096 + 3 * ib, &index_bytes(bits, 7));
        assert_corrupt(
            MappedCsr::<f64>::open(file.path()),
            "row_ptr[3] (the last) is 7",
        );

        let file = small_csr_file("range.qdm", bits);
        patch(file.path(), 8192 + 3 * ib, &index_bytes(bits, 3));
        assert_corrupt(
            AnyMapped::open(file.path(), false),
            "column index 3 of entry 3 (row 1) is out of range for 3 columns",
        );

        let file = small_csr_file("negative.qdm", bits);
        patch(file.path(), 8192, &index_bytes(bits, -1));
        assert_corrupt(MappedCsr::<f64>::open(file.path()), "column index -1");

        let file = small_csr_file("order.qdm", bits);
        patch(file.path(), 8192 + ib, &index_bytes(bits, 0));
        assert_corrupt(
            MappedCsr::<f64>::open(file.path()),
            "column indices of row 0 are not strictly increasing",
        );
    }
}

#[test]
fn read_only_mappings_refuse_every_write() {
    let file = good_dense("ro.qdm");
    let before = std::fs::read(file.path()).unwrap();
    let mut m = MappedDense::<f64>::open(file.path()).unwrap();
    for e in [
        m.as_mut().err().unwrap(),
        m.col_mut(0).err().unwrap(),
        m.as_mut_slice().err().unwrap(),
        m.grow_cols(5).err().unwrap(),
        m.finalize().err().unwrap(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("mapped read-only"), "{e}");
    }
    m.flush().unwrap(); // nothing to write back
    assert_eq!(m.col(1)[2], 7.0);
    drop(m);
    assert_eq!(
        std::fs::read(file.path()).unwrap(),
        before,
        "file untouched"
    );

    let csr = small_csr_file("ro-csr.qdm", 32);
    let mut c = MappedCsr::<f64>::open(csr.path()).unwrap();
    let e = c.values_mut().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("read-only"), "{e}");
    // a writable CSR mapping may change values (structure stays)
    drop(c);
    let mut c = MappedCsr::<f64>::open_rw(csr.path()).unwrap();
    c.values_mut().unwrap()[5] = -6.5;
    c.finalize().unwrap();
    drop(c);
    assert_eq!(
        MappedCsr::<f64>::open(csr.path()).unwrap().values()[5],
        -6.5
    );
}

#[test]
fn a_block_of_vectors_grows_by_columns() {
    let file = TempFile::new("grow.qdm");
    let rows = 1000;
    {
        let mut m = MappedDense::<Complex64>::create(file.path(), rows, 2).unwrap();
        for j in 0..2 {
            for (i, x) in m.col_mut(j).unwrap().iter_mut().enumerate() {
                *x = value(i, j);
            }
        }
        m.finalize().unwrap();
    }
    let mut m = MappedDense::<Complex64>::open_rw(file.path()).unwrap();
    let e = m.grow_cols(1).err().unwrap();
    assert!(e.message().contains("fewer"), "{e}");
    m.grow_cols(5).unwrap();
    assert_eq!(m.ncols(), 5);
    assert!(!m.header().finalized, "growing unfinalizes");
    for j in 0..2 {
        for i in 0..rows {
            assert_eq!(m.col(j)[i], value::<Complex64>(i, j), "old data kept");
        }
    }
    assert!(m.col(4).iter().all(|z| *z == Complex64::new(0.0, 0.0)));
    m.col_mut(4).unwrap()[999] = Complex64::new(4.0, -4.0);
    m.finalize().unwrap();
    drop(m);
    let m = MappedDense::<Complex64>::open(file.path()).unwrap();
    assert_eq!((m.nrows(), m.ncols()), (rows, 5));
    assert_eq!(m.col(4)[999], Complex64::new(4.0, -4.0));
    assert_eq!(m.col(1)[3], value::<Complex64>(3, 1));
    assert_eq!(
        std::fs::metadata(file.path()).unwrap().len(),
        // the data, then (page-aligned) the checksum table: one CRC per MiB of data
        (4096 + 5 * m.ld() * 16).next_multiple_of(4096) as u64 + 4
    );
}

#[test]
fn flush_writes_through_and_finalize_makes_the_file_openable_again() {
    let file = good_dense("flush.qdm");
    let mut m = MappedDense::<f64>::open_rw(file.path()).unwrap();
    assert!(
        m.header().finalized,
        "opening writable alone changes nothing"
    );
    assert!(MappedDense::<f64>::open(file.path()).is_ok());
    m.col_mut(2).unwrap()[9] = 42.5;
    assert!(!m.header().finalized, "the first write unfinalizes");
    m.flush().unwrap();
    // the bytes are in the file (element (9, 2) at 4096 + 8·(2·ld + 9))
    let raw = std::fs::read(file.path()).unwrap();
    let at = 4096 + 8 * (2 * m.ld() + 9);
    assert_eq!(
        f64::from_le_bytes(raw[at..at + 8].try_into().unwrap()),
        42.5
    );
    // … but a reader is refused until the writer finalizes
    assert_corrupt(MappedDense::<f64>::open(file.path()), "never finalized");
    m.finalize().unwrap();
    let reader = MappedDense::<f64>::open(file.path()).unwrap();
    assert_eq!(reader.col(2)[9], 42.5);
    assert_eq!(reader.col(1)[2], 7.0);
    // a faer product straight from the mapping
    let x = Mat::<f64>::from_fn(3, 1, |i, _| 1.0 + i as f64);
    let y = reader.as_ref() * &x;
    assert_eq!(y[(9, 0)], 3.0 * 42.5);
    assert_eq!(y[(2, 0)], 2.0 * 7.0);
}
