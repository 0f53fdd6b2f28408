//! Issue 16, "make it stay fixed": fuzzing of every reader of untrusted bytes (MatrixMarket,
//! PETSc binary, mapped-matrix files, event logs) on stable Rust.
//!
//! Inputs are seed files from `tests/corpus/<reader>/` changed by a few mutations (bit flips,
//! truncations, numbers that break size arithmetic, random bytes). Every reader must return
//! `Ok` or a documented error (`CorruptFile`, `Io`, `OutOfMemory`, `LimitExceeded`) with a
//! message, within 10 s, and never crash, abort or hang.
//!
//! - `fuzz_<reader>`: 256 proptest cases each, every run (shrunk to a minimal mutation list on
//!   failure);
//! - `fuzz_time_boxed`: random cases through all readers in turn for `QDSIM_FUZZ_SECONDS`
//!   (default 20; CI runs the default); a failing input is written to
//!   `target/fuzz-failures/<reader>/` and the test fails naming it;
//! - `regressions`: every file in `tests/corpus/regressions/<reader>/` — each input that ever
//!   broke a reader (from the outside harness of issue 16, or from this fuzzer: copy the file
//!   written to `target/fuzz-failures/` there) — goes through its reader on every run.

use crate::hardening_readers::{TempDir, corpus, corpus_dir, documented, mm};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use qdsim_mem::io::{read_petsc, read_petsc_from};
use qdsim_mem::matrix::ScalarKind;
use qdsim_mem::matrix::mapped::{AnyMapped, header::fnv1a64};
use qdsim_mem::memory::{MemoryManager, events_from_csv, read_event_log, replay};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The readers of untrusted bytes.
#[derive(Clone, Copy, Debug)]
enum Reader {
    MatrixMarket,
    Petsc,
    Mapped,
    EventLog,
}

impl Reader {
    const ALL: [Reader; 4] = [
        Reader::MatrixMarket,
        Reader::Petsc,
        Reader::Mapped,
        Reader::EventLog,
    ];

    /// Its folder under `tests/corpus/` (and `regressions/`).
    fn dir(self) -> &'static str {
        match self {
            Reader::MatrixMarket => "matrix_market",
            Reader::Petsc => "petsc",
            Reader::Mapped => "mapped",
            Reader::EventLog => "event_log",
        }
    }

    /// Text formats get textual huge numbers, binary ones binary integers.
    fn text(self) -> bool {
        matches!(self, Reader::MatrixMarket | Reader::EventLog)
    }
}

/// Feeds `input` (called `name`) to `reader` — from memory and from a file where the reader
/// has both — and checks every outcome. `variant` picks the scalar type a PETSc file is read
/// as, and for mapped files whether the header checksum is recomputed after mutation (so that
/// the checks behind it are reached).
fn exercise(reader: Reader, name: &str, input: &[u8], variant: bool) {
    let manager = MemoryManager::with_defaults().unwrap();
    match reader {
        Reader::MatrixMarket => timed(name, || check(name, mm(&manager, input))),
        Reader::Petsc => {
            let kind = if variant {
                ScalarKind::Complex
            } else {
                ScalarKind::Real
            };
            timed(name, || {
                check(name, read_petsc_from(&manager, input, kind, "f"))
            });
            let dir = TempDir::new("fuzz-petsc");
            let path = dir.join("input.petsc");
            std::fs::write(&path, input).unwrap();
            timed(name, || check(name, read_petsc(&manager, &path, "f")));
        }
        Reader::Mapped => {
            let mut input = input.to_vec();
            if variant {
                fix_header_checksum(&mut input);
            }
            let dir = TempDir::new("fuzz-mapped");
            let path = dir.join("input.qdm");
            std::fs::write(&path, &input).unwrap();
            timed(name, || check(name, AnyMapped::open(&path, false)));
        }
        Reader::EventLog => {
            let dir = TempDir::new("fuzz-events");
            let path = dir.join("input.csv");
            std::fs::write(&path, input).unwrap();
            timed(name, || match read_event_log(&path) {
                Ok(events) => check(name, replay(&events)),
                Err(e) => check(name, Err::<(), _>(e)),
            });
        }
    }
}

/// Recomputes the FNV-1a header checksum of a mapped file (bytes 0..184 into 184..192 for
/// format 2, 0..120 into 120..128 for format 1), so that a mutated header reaches the checks
/// behind the checksum.
fn fix_header_checksum(input: &mut [u8]) {
    let version = input
        .get(8..12)
        .map(|v| u32::from_le_bytes(v.try_into().unwrap()));
    let end = if version == Some(1) { 120 } else { 184 };
    if input.len() >= end + 8 {
        let sum = fnv1a64(&input[..end]);
        input[end..end + 8].copy_from_slice(&sum.to_le_bytes());
    }
}

/// A random case: a seed (by index), the variant flag and a few mutations.
fn case(text: bool) -> impl Strategy<Value = (usize, bool, Vec<Mutation>)> {
    (
        0usize..64,
        any::<bool>(),
        proptest::collection::vec(mutation(text), 1..4),
    )
}

/// Runs `cases` random cases of `reader` (no shrinking when `keep_failure`: the failing input is
/// written to `target/fuzz-failures/<reader>/` as it is).
fn fuzz(reader: Reader, cases: u32, keep_failure: bool) {
    let seeds = corpus(reader.dir());
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: if keep_failure { 0 } else { 1024 },
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(reader.text()), |(seed, variant, mutations)| {
        let (name, bytes) = &seeds[seed % seeds.len()];
        let input = apply(bytes, &mutations);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            exercise(reader, name, &input, variant);
        }));
        if let Err(panic) = outcome {
            if keep_failure {
                let saved = save_failure(reader, &input);
                eprintln!("fuzz failure on {name} (variant {variant}): input saved as {saved:?}");
            }
            resume_unwind(panic);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{reader:?}: {e}");
    }
}

/// Writes a failing input to `target/fuzz-failures/<reader>/<checksum>` and returns the path.
fn save_failure(reader: Reader, input: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/fuzz-failures")
        .join(reader.dir());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:016x}", fnv1a64(input)));
    std::fs::write(&path, input).unwrap();
    path
}

#[test]
fn fuzz_matrix_market() {
    fuzz(Reader::MatrixMarket, 256, false);
}

#[test]
fn fuzz_petsc() {
    fuzz(Reader::Petsc, 256, false);
}

#[test]
fn fuzz_mapped() {
    fuzz(Reader::Mapped, 256, false);
}

#[test]
fn fuzz_event_log() {
    fuzz(Reader::EventLog, 256, false);
}

/// Random cases through every reader in turn until the time box (`QDSIM_FUZZ_SECONDS`,
/// default 20) is used up; prints how many ran.
#[test]
fn fuzz_time_boxed() {
    let seconds: u64 = std::env::var("QDSIM_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rounds = 0;
    while Instant::now() < deadline {
        for reader in Reader::ALL {
            fuzz(reader, 32, true);
        }
        rounds += 1;
    }
    println!(
        "fuzz_time_boxed: {} cases per reader in {seconds} s",
        rounds * 32
    );
}

/// Every input that ever broke a reader still gets `Ok` or a documented error, in time.
#[test]
fn regressions() {
    let mut count = 0;
    for reader in Reader::ALL {
        let dir = corpus_dir("regressions").join(reader.dir());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.map(|e| e.unwrap().path()) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let input = std::fs::read(&path).unwrap();
            exercise(reader, &name, &input, false);
            exercise(reader, &name, &input, true);
            count += 1;
        }
    }
    assert!(count >= 4, "only {count} regression inputs found");
}

/// One change to a seed file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Flip bit `bit` of the byte at (position modulo length).
    FlipBit(usize, u8),
    /// Keep only the first (position modulo length + 1) bytes.
    Truncate(usize),
    /// Write `bytes` over the file at (position modulo length), extending it if needed.
    Overwrite(usize, Vec<u8>),
    /// Insert `bytes` at (position modulo length).
    Insert(usize, Vec<u8>),
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in mutations {
        let at = |p: usize, b: &Vec<u8>| if b.is_empty() { 0 } else { p % b.len() };
        match m {
            Mutation::FlipBit(p, bit) if !b.is_empty() => {
                let i = at(*p, &b);
                b[i] ^= 1 << (bit % 8);
            }
            Mutation::FlipBit(..) => {}
            Mutation::Truncate(p) => {
                let n = at(*p, &b);
                b.truncate(n);
            }
            Mutation::Overwrite(p, bytes) => {
                let i = at(*p, &b);
                let end = i + bytes.len();
                if b.len() < end {
                    b.resize(end, 0);
                }
                b[i..end].copy_from_slice(bytes);
            }
            Mutation::Insert(p, bytes) => {
                let i = at(*p, &b);
                b.splice(i..i, bytes.iter().copied());
            }
        }
    }
    b
}

/// Numbers that break naive size arithmetic, as text.
const HUGE_TEXT: [&str; 9] = [
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "4294967295",
    "2147483648",
    "-1",
    "0",
    "99999999999999999999999",
];

/// Numbers that break naive size arithmetic, as binary integers of both byte orders.
fn huge_binary() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for x in [
        u64::MAX,
        1 << 63,
        1 << 62,
        1 << 32,
        (1 << 31) - 1,
        1 << 31,
        0,
    ] {
        out.push(x.to_be_bytes().to_vec());
        out.push(x.to_le_bytes().to_vec());
    }
    for x in [u32::MAX, i32::MAX as u32, 1 << 31, 0] {
        out.push(x.to_be_bytes().to_vec());
        out.push(x.to_le_bytes().to_vec());
    }
    out
}

fn mutation(text: bool) -> impl Strategy<Value = Mutation> {
    let huge = if text {
        HUGE_TEXT.iter().map(|s| s.as_bytes().to_vec()).collect()
    } else {
        huge_binary()
    };
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::sample::select(huge.clone()))
            .prop_map(|(p, b)| Mutation::Overwrite(p, b)),
        (any::<usize>(), proptest::sample::select(huge)).prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(p, b)| Mutation::Overwrite(p, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
    ]
}

/// Fails a case that takes too long (a hang or a huge allocation being filled).
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{what} took {:?}",
        start.elapsed()
    );
    out
}

fn check<T>(what: &str, result: qdsim_mem::Result<T>) {
    if let Err(e) = result {
        assert!(documented(e.kind()), "{what}: undocumented error {e}");
        assert!(!e.message().is_empty());
    }
}

/// Every seed file is accepted as it is, so the fuzzing starts from valid inputs.
#[test]
fn seeds_are_valid() {
    let manager = MemoryManager::with_defaults().unwrap();
    for (name, bytes) in corpus("matrix_market") {
        mm(&manager, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, bytes) in corpus("petsc") {
        let kind = if name.contains("complex") {
            ScalarKind::Complex
        } else {
            ScalarKind::Real
        };
        read_petsc_from(&manager, &bytes[..], kind, "s").unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, _) in corpus("mapped") {
        AnyMapped::open(corpus_dir("mapped").join(&name), false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, bytes) in corpus("event_log") {
        let events = events_from_csv(std::str::from_utf8(&bytes).unwrap()).unwrap();
        replay(&events).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
