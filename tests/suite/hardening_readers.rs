//! Issue 16, the readers of untrusted input (MatrixMarket, PETSc binary, mapped-matrix files,
//! event logs): never crash, never hang, never lie.
//!
//! - no abort on absurd sizes: endless lines, huge headers and products give `CorruptFile` or
//!   `OutOfMemory`, never "memory allocation of … failed";
//! - no hang: a FIFO without a writer, a directory or `/dev/zero` is refused at once with `Io`;
//! - statuses the C header documents: bad file content is `CorruptFile`, never
//!   `InvalidArgument`;
//! - PETSc files stream into the final CSR arrays (bounded peak);
//! - the seed files of the fuzzer (`fuzz_readers.rs`) live in `tests/corpus/<reader>/`;
//!   `cargo test --test suite hardening_readers -- --ignored regenerate_corpus` rewrites the
//!   binary ones.

use qdsim_mem::ErrorKind;
use qdsim_mem::io::{
    read_matrix_market, read_matrix_market_from, read_petsc, read_petsc_from, write_petsc,
    write_petsc_with_int_bits,
};
use qdsim_mem::matrix::mapped::{AnyMapped, MappedCsr, MappedDense};
use qdsim_mem::matrix::{AnyCsr, CsrBuilder, ScalarKind};
use qdsim_mem::memory::{MemoryManager, events_from_csv, read_event_log, replay};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A directory removed (with its contents) on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("qdsim-hardening-{}-{n}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn corpus_dir(reader: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(reader)
}

/// The seed files of `reader`, sorted by name.
pub(crate) fn corpus(reader: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir(reader))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<_> = files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    assert!(!seeds.is_empty(), "no seed files for {reader}");
    seeds
}

/// Runs `f` on another thread and fails (instead of hanging) if it takes longer than `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("the reader blocked: it did not return within the time limit")
}

fn assert_error<T>(result: qdsim_mem::Result<T>, kind: ErrorKind, needles: &[&str]) {
    let Err(e) = result else {
        panic!("expected a {kind:?} error containing {needles:?}, got Ok");
    };
    assert_eq!(e.kind(), kind, "{e}");
    for needle in needles {
        assert!(e.message().contains(needle), "{needle:?} not in {e}");
    }
}

/// What a reader of untrusted bytes may answer: success or one of these.
pub(crate) fn documented(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::CorruptFile | ErrorKind::Io | ErrorKind::OutOfMemory | ErrorKind::LimitExceeded
    )
}

pub(crate) fn mm(manager: &MemoryManager, text: &[u8]) -> qdsim_mem::Result<AnyCsr> {
    read_matrix_market_from(manager, text, "mm")
}

// ---------------------------------------------------------------------------------------------
// Item 3: regular files only

#[test]
fn every_reader_refuses_a_fifo_at_once() {
    let dir = TempDir::new("fifo");
    let fifo = dir.join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a NUL-terminated path that lives across the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let path = fifo.clone();
    let errors = within(Duration::from_secs(20), move || {
        let manager = MemoryManager::with_defaults().unwrap();
        vec![
            read_matrix_market(&manager, &path, "f").err(),
            read_petsc(&manager, &path, "f").err(),
            AnyMapped::open(&path, false).err(),
            AnyMapped::open(&path, true).err(),
            MappedDense::<f64>::open(&path).err(),
            read_event_log(&path).err(),
        ]
    });
    for e in errors {
        let e = e.expect("a FIFO must be refused");
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert!(e.message().contains("FIFO"), "{e}");
        assert!(e.message().contains(fifo.to_str().unwrap()), "{e}");
    }
}

#[test]
fn directories_and_devices_are_refused() {
    let dir = TempDir::new("dir");
    let manager = MemoryManager::with_defaults().unwrap();
    assert_error(
        read_matrix_market(&manager, &dir.0, "d"),
        ErrorKind::Io,
        &["a directory", "not a regular file"],
    );
    assert_error(read_event_log(&dir.0), ErrorKind::Io, &["a directory"]);
    let zero = Path::new("/dev/zero");
    if zero.exists() {
        let m = manager.clone();
        let results = within(Duration::from_secs(20), move || {
            vec![
                read_matrix_market(&m, zero, "z").err(),
                read_petsc(&m, zero, "z").err(),
                AnyMapped::open(zero, false).err(),
                read_event_log(zero).err(),
            ]
        });
        for e in results {
            let e = e.unwrap();
            assert_eq!(e.kind(), ErrorKind::Io, "{e}");
            assert!(e.message().contains("/dev/zero: cannot read"), "{e}");
            assert!(e.message().contains("a character device"), "{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Items 1, 7, 8: MatrixMarket

#[test]
fn an_endless_comment_line_is_corrupt_not_an_abort() {
    let manager = MemoryManager::with_defaults().unwrap();
    let mut text = b"%%MatrixMarket matrix coordinate real general\n%".to_vec();
    text.extend(std::iter::repeat_n(b'x', 3 << 20));
    assert_error(
        mm(&manager, &text),
        ErrorKind::CorruptFile,
        &["line 2 is longer than the limit of 1048576 bytes"],
    );
    // the same through a file (the path is named)
    let dir = TempDir::new("long");
    let path = dir.join("long.mtx");
    std::fs::write(&path, &text).unwrap();
    assert_error(
        read_matrix_market(&manager, &path, "l"),
        ErrorKind::CorruptFile,
        &[path.to_str().unwrap(), "longer than the limit"],
    );
    // an endless first line too
    let header = vec![b'%'; 2 << 20];
    assert_error(mm(&manager, &header), ErrorKind::CorruptFile, &["line 1"]);
}

#[test]
fn matrix_market_bytes_that_are_not_text_are_corrupt() {
    let manager = MemoryManager::with_defaults().unwrap();
    let text = b"%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 \xff\n";
    assert_error(
        mm(&manager, text),
        ErrorKind::CorruptFile,
        &["line 3 is not UTF-8"],
    );
}

#[test]
fn an_array_header_whose_product_overflows_is_corrupt() {
    let manager = MemoryManager::with_defaults().unwrap();
    for (symmetry, n) in [("general", 1u64 << 32), ("symmetric", 1 << 33)] {
        let text = format!("%%MatrixMarket matrix array real {symmetry}\n{n} {n}\n1.0\n");
        assert_error(
            mm(&manager, text.as_bytes()),
            ErrorKind::CorruptFile,
            &["line 2", &format!("{n}×{n} array file"), "entries"],
        );
    }
    // a product that fits but is not backed by data: truncated, before any large allocation
    let text = "%%MatrixMarket matrix array real general\n65536 65536\n1.0\n";
    assert_error(
        mm(&manager, text.as_bytes()),
        ErrorKind::CorruptFile,
        &["ends after 1 of the 4294967296 entries"],
    );
    assert!(manager.stats().peak_bytes_in_use < 1 << 20);
}

#[test]
fn matrix_market_sizes_beyond_64_bit_indices_are_corrupt() {
    let manager = MemoryManager::with_defaults().unwrap();
    for size in [
        "18446744073709551615 1 0",
        "1 18446744073709551615 0",
        "9223372036854775807 9223372036854775807 0",
    ] {
        let text = format!("%%MatrixMarket matrix coordinate real general\n{size}\n");
        assert_error(
            mm(&manager, text.as_bytes()),
            ErrorKind::CorruptFile,
            &["line 2", "too large", "64-bit indices"],
        );
    }
    let text = "%%MatrixMarket matrix coordinate real general\n18446744073709551616 1 0\n";
    assert_error(
        mm(&manager, text.as_bytes()),
        ErrorKind::CorruptFile,
        &["not a non-negative integer"],
    );
}

#[test]
fn matrix_market_rows_beyond_memory_are_out_of_memory_not_a_crash() {
    let manager = MemoryManager::with_defaults().unwrap();
    let text = "%%MatrixMarket matrix coordinate real general\n1000000000000000 2 0\n";
    assert_error(
        mm(&manager, text.as_bytes()),
        ErrorKind::OutOfMemory,
        &[
            "line 2",
            "1000000000000000 rows",
            "bytes of memory the system has available",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Items 1, 7, 13: PETSc

fn petsc_header(rows: i32, cols: i32, nnz: i32) -> Vec<u8> {
    [1_211_216, rows, cols, nnz]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect()
}

#[test]
fn petsc_headers_beyond_memory_or_data_are_refused_before_allocating() {
    let manager = MemoryManager::with_defaults().unwrap();
    let mut huge = vec![0u8, 0, 0, 0];
    huge.extend(1_211_216i32.to_be_bytes());
    for x in [1i64 << 60, 3, 1 << 60] {
        huge.extend(x.to_be_bytes());
    }
    assert_error(
        read_petsc_from(&manager, &huge[..], ScalarKind::Real, "h"),
        ErrorKind::OutOfMemory,
        &[
            "1152921504606846976×3 matrix",
            "bytes of memory the system has available",
        ],
    );
    let mut max = vec![0u8, 0, 0, 0];
    max.extend(1_211_216i32.to_be_bytes());
    for x in [i64::MAX, 1, 0] {
        max.extend(x.to_be_bytes());
    }
    assert_error(
        read_petsc_from(&manager, &max[..], ScalarKind::Real, "h"),
        ErrorKind::CorruptFile,
        &["row pointers"],
    );
    // a plausible header without the data: truncated while streaming
    let short = petsc_header(1000, 1000, 5000);
    assert_error(
        read_petsc_from(&manager, &short[..], ScalarKind::Complex, "s"),
        ErrorKind::CorruptFile,
        &["truncated", "row lengths"],
    );
    assert_eq!(manager.stats().bytes_in_use, 0);
}

#[test]
fn petsc_rows_out_of_order_are_sorted_and_duplicates_summed() {
    let manager = MemoryManager::with_defaults().unwrap();
    let mut bytes = petsc_header(2, 3, 4);
    for x in [3i32, 1, 2, 0, 2, 1] {
        bytes.extend(x.to_be_bytes());
    }
    for v in [1.0f64, 2.0, 4.0, 8.0] {
        bytes.extend(v.to_be_bytes());
    }
    let AnyCsr::Real(a) = read_petsc_from(&manager, &bytes[..], ScalarKind::Real, "u").unwrap()
    else {
        panic!("real")
    };
    assert_eq!(a.entries(), [(0, 0, 2.0), (0, 2, 5.0), (1, 1, 8.0)]);
    assert_eq!(a.values().len(), 3);
    assert_eq!(manager.tag_stats("u.values").unwrap().bytes_in_use, 3 * 8);
}

fn test_matrix(manager: &MemoryManager, n: usize) -> qdsim_mem::matrix::CsrMatrix<f64> {
    let mut b = CsrBuilder::<f64>::new(manager, n, n, "src").unwrap();
    for i in 0..n {
        for d in [0usize, 1, 7, 100] {
            if i + d < n {
                b.add_element(i, i + d, 1.0 + (i * d) as f64).unwrap();
            }
        }
    }
    b.finalize().unwrap()
}

#[test]
fn reading_petsc_peaks_at_the_matrix_itself() {
    let source = MemoryManager::with_defaults().unwrap();
    let a = test_matrix(&source, 200_000);
    let dir = TempDir::new("peak");
    let path = dir.join("a.petsc");
    for bits in [32, 64] {
        write_petsc_with_int_bits(&a, &path, bits).unwrap();
        let manager = MemoryManager::with_defaults().unwrap();
        let AnyCsr::Real(back) = read_petsc(&manager, &path, "back").unwrap() else {
            panic!("real")
        };
        assert_eq!(back.entries(), a.entries());
        let matrix = back.memory_bytes() as u64;
        let peak = manager.stats().peak_bytes_in_use;
        assert!(
            peak * 10 <= matrix * 13,
            "{bits}-bit: the peak {peak} is more than 1.3 × the matrix's {matrix} bytes"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Items 1, 8: event logs

#[test]
fn event_log_content_errors_are_corrupt_file() {
    let head = "seq,op,id,bytes,pool,tag\n";
    let dir = TempDir::new("events");
    let path = dir.join("log.csv");
    let huge = format!("{head}0,alloc,1,{},bytes,\"x\"\n", 1u64 << 62);
    std::fs::write(&path, &huge).unwrap();
    let events = read_event_log(&path).unwrap();
    assert_error(
        replay(&events),
        ErrorKind::CorruptFile,
        &["event 0", "4611686018427387904 bytes"],
    );
    let long_tag = format!("{head}0,alloc,1,8,bytes,\"{}\"\n", "t".repeat(96));
    assert_error(
        events_from_csv(&long_tag),
        ErrorKind::CorruptFile,
        &["line 2", "tag is 96 bytes long", "at most 63"],
    );
    let mut endless = head.as_bytes().to_vec();
    endless.extend(std::iter::repeat_n(b'0', 2 << 20));
    std::fs::write(&path, &endless).unwrap();
    assert_error(
        read_event_log(&path),
        ErrorKind::CorruptFile,
        &[path.to_str().unwrap(), "line 2 is longer than the limit"],
    );
    std::fs::write(&path, b"seq,op,id,bytes,pool,tag\n\xfe\n").unwrap();
    assert_error(
        read_event_log(&path),
        ErrorKind::CorruptFile,
        &["not UTF-8"],
    );
}

/// Rewrites the binary seed files (PETSc, mapped) from small matrices.
#[test]
#[ignore = "writes into tests/corpus; run by hand when the formats change"]
fn regenerate_corpus() {
    let manager = MemoryManager::with_defaults().unwrap();
    let mut b = CsrBuilder::<f64>::new(&manager, 4, 5, "c").unwrap();
    for (r, c, v) in [(0, 0, 1.5), (0, 4, -2.0), (2, 1, 3.25), (3, 3, 1e-300)] {
        b.add_element(r, c, v).unwrap();
    }
    let real = b.finalize().unwrap();
    let mut z = CsrBuilder::<num_complex::Complex64>::new(&manager, 3, 3, "z").unwrap();
    for (r, c) in [(0, 0), (1, 2), (2, 1), (2, 2)] {
        z.add_element(r, c, num_complex::Complex64::new(r as f64, -(c as f64)))
            .unwrap();
    }
    let complex = z.finalize().unwrap();
    let petsc = corpus_dir("petsc");
    std::fs::create_dir_all(&petsc).unwrap();
    write_petsc(&real, petsc.join("real32.petsc")).unwrap();
    write_petsc_with_int_bits(&real, petsc.join("real64.petsc"), 64).unwrap();
    write_petsc(&complex, petsc.join("complex32.petsc")).unwrap();
    let mapped = corpus_dir("mapped");
    std::fs::create_dir_all(&mapped).unwrap();
    MappedCsr::from_csr(mapped.join("csr_real.qdm"), &real).unwrap();
    MappedCsr::from_csr(mapped.join("csr_complex.qdm"), &complex).unwrap();
    let mut d = MappedDense::<f64>::create(mapped.join("dense_real.qdm"), 3, 2).unwrap();
    d.finalize().unwrap();
}

/// Peak resident memory while reading a PETSc file of about `QDSIM_PROBE_MB` MiB (default 64):
/// the high-water mark is reset (`/proc/self/clear_refs`) after the file is written, so
/// `VmHWM` afterwards is the read's peak. Prints the numbers; run by hand.
#[test]
#[ignore = "measurement, prints the peak RSS of a large PETSc read"]
fn petsc_read_rss_probe() {
    let mb: usize = std::env::var("QDSIM_PROBE_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let dir = TempDir::new("probe");
    let path = dir.join("big.petsc");
    {
        let source = MemoryManager::with_defaults().unwrap();
        // 4 entries per row, 12 bytes each (32-bit index + f64) plus 4 per row
        let a = test_matrix(&source, (mb << 20) / 52);
        write_petsc(&a, &path).unwrap();
    }
    let file_bytes = std::fs::metadata(&path).unwrap().len();
    let hwm = || -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    let rss = || -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = rss();
    let manager = MemoryManager::with_defaults().unwrap();
    let m = read_petsc(&manager, &path, "big").unwrap();
    let matrix = match &m {
        AnyCsr::Real(a) => a.memory_bytes(),
        AnyCsr::Complex(a) => a.memory_bytes(),
    } as u64;
    let peak = hwm();
    println!(
        "PETSc file {file_bytes} bytes, matrix {matrix} bytes; RSS before {before}, peak \
         {peak}: the read added {} bytes = {:.3} × the matrix; manager peak {}",
        peak - before,
        (peak - before) as f64 / matrix as f64,
        manager.stats().peak_bytes_in_use
    );
}
