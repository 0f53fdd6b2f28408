//! Issue 16 ("never crash, never hang, never lie") for memory-mapped matrices: a mapped CSR file
//! changed by another writer after it was opened and validated is reported as `CorruptFile`
//! (copies validated, in-place kernels checked, the mapped solve fails) instead of a wild read;
//! version-2 files checksum their data (every one-byte flip found by verification, version-1
//! files still read and reported "not checksummed"); a new file replaces its path only when
//! finalized, so a failed or abandoned write keeps what was there and leaves no temporary file.

use num_complex::Complex64;
use qdsim_mem::matrix::mapped::header::{FORMAT_VERSION, fnv1a64};
use qdsim_mem::matrix::mapped::{AnyMapped, MappedCsr, MappedDense};
use qdsim_mem::matrix::{CsrBuilder, CsrMatrix, Scalar};
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::solver::{EigenOptions, mapped_csr_lowest};
use qdsim_mem::{Error, ErrorKind};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory under the temporary directory, removed with its contents on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "qdsim-hardening-mapped-{}-{n}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_kind(result: Result<impl Sized, Error>, kind: ErrorKind, needles: &[&str]) {
    let Err(e) = result else {
        panic!("expected {kind:?} containing {needles:?}, got success")
    };
    assert_eq!(e.kind(), kind, "{e}");
    for needle in needles {
        assert!(e.message().contains(needle), "{needle:?} not in: {e}");
    }
}

/// Writes `bytes` at `at` in place (no truncation: the file may be mapped).
fn poke(path: &Path, at: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, at).unwrap();
}

fn flip(path: &Path, at: u64) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0x01], at).unwrap();
}

/// An `n × n` tridiagonal matrix (diagonal 2 + i, off-diagonal −1: well separated, quick to
/// solve) with `bits`-bit indices.
fn laplacian<T: Scalar>(m: &MemoryManager, n: usize, bits: u32) -> CsrMatrix<T> {
    let mut b = CsrBuilder::<T>::new(m, n, n, "lap").unwrap();
    for i in 0..n {
        b.add_element(i, i, T::from_real(2.0 + i as f64)).unwrap();
        if i > 0 {
            b.add_element(i, i - 1, T::from_real(-1.0)).unwrap();
        }
        if i + 1 < n {
            b.add_element(i, i + 1, T::from_real(-1.0)).unwrap();
        }
    }
    b.finalize_with_index_bits(Some(bits)).unwrap()
}

fn index_bytes(bits: u32, v: i64) -> Vec<u8> {
    if bits == 32 {
        (v as i32).to_le_bytes().to_vec()
    } else {
        v.to_le_bytes().to_vec()
    }
}

fn changed_under_us<T: Scalar>(bits: u32) {
    let manager = MemoryManager::with_defaults().unwrap();
    let dir = TempDir::new("changed");
    let path = dir.join("lap.qdm");
    let n = 60;
    drop(MappedCsr::from_csr(&path, &laplacian::<T>(&manager, n, bits)).unwrap());
    let ib = u64::from(bits / 8);

    // A column index set to 2³¹ − 1 after the open validated the file.
    let m = MappedCsr::<T>::open(&path).unwrap();
    let entry = 2 + 3 * 9 + 2; // row 10: entries 29, 30, 31 (columns 9, 10, 11)
    let ci_at = m.header().sections[1].offset + ib * entry;
    poke(&path, ci_at, &index_bytes(bits, i32::MAX as i64));
    let shown = path.display().to_string();
    assert_kind(
        m.to_csr(&manager, "copy"),
        ErrorKind::CorruptFile,
        &[&shown, "row 10", "2147483647"],
    );
    let x = vec![T::from_real(1.0); n];
    let mut y = vec![T::from_real(7.0); n];
    assert_kind(
        m.apply(&x, &mut y),
        ErrorKind::CorruptFile,
        &[
            &shown,
            "row 10",
            "column index 2147483647",
            "changed after it was opened",
        ],
    );
    // the row is read without the bad entry, and the damage is recorded, not lost
    assert_eq!(m.row(10).len(), 2);
    assert_kind(m.take_read_damage(), ErrorKind::CorruptFile, &["row 10"]);
    assert!(m.take_read_damage().is_ok(), "reported once");
    let options = EigenOptions {
        k: 2,
        ..EigenOptions::default()
    };
    assert_kind(
        mapped_csr_lowest(&manager, &m, &options, None),
        ErrorKind::CorruptFile,
        &[&shown, "2147483647"],
    );
    drop(m);
    // restored: everything works again
    poke(&path, ci_at, &index_bytes(bits, 11));
    let m = MappedCsr::<T>::open(&path).unwrap();
    m.apply(&x, &mut y).unwrap();
    assert!(m.to_csr(&manager, "copy").is_ok());

    // A row pointer past the end of the entries.
    let rp_at = m.header().sections[0].offset + ib * 20;
    poke(&path, rp_at, &index_bytes(bits, 1 << 40));
    assert_kind(
        m.to_csr(&manager, "copy"),
        ErrorKind::CorruptFile,
        &[&shown, "row_ptr[20]"],
    );
    assert_kind(
        m.apply(&x, &mut y),
        ErrorKind::CorruptFile,
        &[&shown, "row pointers"],
    );
    assert_kind(
        mapped_csr_lowest(&manager, &m, &options, None),
        ErrorKind::CorruptFile,
        &[&shown, "row pointers"],
    );
}

#[test]
fn a_mapped_csr_changed_after_open_is_corrupt_not_a_crash() {
    for bits in [32, 64] {
        changed_under_us::<f64>(bits);
        changed_under_us::<Complex64>(bits);
    }
}

#[test]
fn data_checksums_find_every_one_byte_flip() {
    let manager = MemoryManager::with_defaults().unwrap();
    let dir = TempDir::new("flips");
    let path = dir.join("lap.qdm");
    drop(MappedCsr::from_csr(&path, &laplacian::<Complex64>(&manager, 500, 64)).unwrap());
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(
        AnyMapped::open_verified(&path, false)
            .unwrap()
            .verify()
            .unwrap()
            > 0
    );
    // Positions in the header's fields and everywhere after the header page.
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut undetected = Vec::new();
    for _ in 0..1000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let at = if s % 8 == 0 {
            s / 8 % 192
        } else {
            4096 + s / 8 % (len - 4096)
        };
        flip(&path, at);
        match AnyMapped::open_verified(&path, false) {
            Err(e) if e.kind() == ErrorKind::CorruptFile => {}
            other => undetected.push((at, other.err())),
        }
        flip(&path, at);
    }
    assert!(undetected.is_empty(), "{undetected:?}");
    assert!(AnyMapped::open_verified(&path, false).is_ok());
}

#[test]
fn verify_finds_data_changed_after_open_and_names_the_block() {
    let dir = TempDir::new("verify");
    let path = dir.join("big.qdm");
    // 300 columns of 600 rows: 1.4 MB of data, two checksum blocks
    let mut m = MappedDense::<f64>::create(&path, 600, 300).unwrap();
    for j in 0..300 {
        m.col_mut(j).unwrap().fill(j as f64);
    }
    m.finalize().unwrap();
    assert_eq!(m.header().version, FORMAT_VERSION);
    assert!(m.header().is_checksummed());
    assert_eq!(m.verify().unwrap(), m.header().checksum_table.offset - 4096);
    drop(m);
    let r = MappedDense::<f64>::open(&path).unwrap();
    let at = 4096 + (1 << 20) + 100;
    flip(&path, at);
    // the open did not read the data; an explicit verify does
    assert_kind(
        r.verify(),
        ErrorKind::CorruptFile,
        &[
            &path.display().to_string(),
            "data block 1 (bytes 1052672..",
            "1 of 2 blocks",
        ],
    );
    assert!(
        MappedDense::<f64>::open(&path).is_ok(),
        "open alone does not check the data"
    );
    assert_kind(
        MappedDense::<f64>::open_verified(&path, false),
        ErrorKind::CorruptFile,
        &["data block 1"],
    );
    flip(&path, at);
    r.verify().unwrap();
    // the table itself is covered
    let table_at = r.header().checksum_table.offset;
    flip(&path, table_at);
    assert_kind(r.verify(), ErrorKind::CorruptFile, &["checksum table"]);
    flip(&path, table_at);

    // a writable mapping changed since its last finalize has no current checksums
    let mut w = MappedDense::<f64>::open_rw(&path).unwrap();
    w.col_mut(0).unwrap()[0] = -1.0;
    assert_kind(w.verify(), ErrorKind::InvalidArgument, &["finalize"]);
    w.finalize().unwrap();
    w.verify().unwrap();
    drop(w);
    MappedDense::<f64>::open_verified(&path, false).unwrap();
}

/// A version-1 (unchecksummed) real dense 2×1 file holding (1.5, −2.5), as earlier releases
/// wrote it.
fn version_1_file(path: &Path) {
    let mut b = vec![0u8; 4096 + 64];
    b[0..8].copy_from_slice(b"QDSIMMAT");
    for (at, v) in [
        (8, 1u32),
        (12, u32::from_le_bytes(*b"FINL")),
        (16, 1),
        (20, 1),
    ] {
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    for (k, w) in [2u64, 1, 0, 8, 4096, 64, 0, 0, 0, 0, 4096 + 64]
        .iter()
        .enumerate()
    {
        b[32 + 8 * k..40 + 8 * k].copy_from_slice(&w.to_le_bytes());
    }
    let sum = fnv1a64(&b[..120]);
    b[120..128].copy_from_slice(&sum.to_le_bytes());
    b[4096..4104].copy_from_slice(&1.5f64.to_le_bytes());
    b[4104..4112].copy_from_slice(&(-2.5f64).to_le_bytes());
    std::fs::write(path, b).unwrap();
}

#[test]
fn version_1_files_are_read_and_reported_not_checksummed() {
    let dir = TempDir::new("v1");
    let path = dir.join("old.qdm");
    version_1_file(&path);
    let m = MappedDense::<f64>::open(&path).unwrap();
    assert_eq!(m.col(0), &[1.5, -2.5]);
    assert_eq!(m.header().version, 1);
    assert!(!m.header().is_checksummed());
    assert_kind(
        m.verify(),
        ErrorKind::InvalidArgument,
        &["not checksummed", "version 1"],
    );
    assert_kind(
        AnyMapped::open_verified(&path, false),
        ErrorKind::InvalidArgument,
        &["not checksummed"],
    );
    drop(m);
    // changed in place and finalized: still version 1, still readable
    let mut w = MappedDense::<f64>::open_rw(&path).unwrap();
    w.col_mut(0).unwrap()[1] = 4.0;
    w.finalize().unwrap();
    drop(w);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 4096 + 64);
    let m = MappedDense::<f64>::open(&path).unwrap();
    assert_eq!((m.header().version, m.col(0)), (1, &[1.5, 4.0][..]));
}

#[test]
fn a_failed_or_abandoned_create_keeps_the_old_file_and_leaves_nothing() {
    let manager = MemoryManager::with_defaults().unwrap();
    let dir = TempDir::new("create");
    let path = dir.join("a.qdm");
    let mut m = MappedDense::<f64>::create(&path, 3, 2).unwrap();
    assert!(
        !path.exists(),
        "written under a temporary name until finalize"
    );
    m.col_mut(1).unwrap()[2] = 9.0;
    m.finalize().unwrap();
    drop(m);
    assert_eq!(dir.names(), ["a.qdm"]);

    // cannot be reserved (8 PiB): an I/O error naming the file; the old one untouched
    assert_kind(
        MappedDense::<f64>::create(&path, 1 << 30, 1 << 20),
        ErrorKind::Io,
        &[&path.display().to_string()],
    );
    assert_kind(
        AnyMapped::create_dense(
            &path,
            qdsim_mem::matrix::ScalarKind::Complex,
            1 << 30,
            1 << 20,
        ),
        ErrorKind::Io,
        &["reserve"],
    );
    assert_eq!(dir.names(), ["a.qdm"]);
    assert_eq!(MappedDense::<f64>::open(&path).unwrap().col(1)[2], 9.0);

    // created and dropped before finalize: the same
    let mut m = MappedDense::<f64>::create(&path, 5, 5).unwrap();
    m.col_mut(0).unwrap()[0] = 1.0;
    assert_eq!(
        dir.names().len(),
        2,
        "the temporary file, beside the old one"
    );
    drop(m);
    assert_eq!(dir.names(), ["a.qdm"]);
    let old = MappedDense::<f64>::open(&path).unwrap();
    assert_eq!((old.nrows(), old.ncols(), old.col(1)[2]), (3, 2, 9.0));

    // finalized: replaces the old file (which a reader may still have mapped)
    let csr = laplacian::<f64>(&manager, 4, 32);
    drop(MappedCsr::from_csr(&path, &csr).unwrap());
    assert_eq!(old.col(1)[2], 9.0, "an open mapping keeps the old data");
    assert_eq!(MappedCsr::<f64>::open(&path).unwrap().nnz(), 10);
    assert_eq!(dir.names(), ["a.qdm"]);
}

#[test]
fn a_vectors_file_that_cannot_be_written_leaves_nothing_behind() {
    let manager = MemoryManager::with_defaults().unwrap();
    let dir = TempDir::new("vectors");
    let h = laplacian::<f64>(&manager, 200, 32);
    let options = EigenOptions {
        k: 2,
        ..EigenOptions::default()
    };
    // the target is a directory: the rename at finalize fails; the directory stays and no
    // temporary file is left
    let target = dir.join("psi.qdm");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let err = qdsim_mem::solver::lowest_eigenpairs(
        &manager,
        &h,
        None,
        &EigenOptions {
            vectors_file: Some(target.clone()),
            ..options.clone()
        },
        None,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.message().contains("rename"), "{err}");
    assert_eq!(dir.names(), ["psi.qdm"]);
    assert!(target.join("keep").exists());
    std::fs::remove_dir_all(&target).unwrap();

    // an existing result is replaced only by a finished one
    let path = dir.join("psi.qdm");
    version_1_file(&path);
    let r = qdsim_mem::solver::lowest_eigenpairs(
        &manager,
        &h,
        None,
        &EigenOptions {
            vectors_file: Some(path.clone()),
            ..options
        },
        None,
    )
    .unwrap();
    assert_eq!(r.vectors.file_path(), Some(path.as_path()));
    drop(r);
    let m = MappedDense::<f64>::open_verified(&path, false).unwrap();
    assert_eq!((m.nrows(), m.ncols()), (200, 2));
    assert_eq!(dir.names(), ["psi.qdm"]);
}
