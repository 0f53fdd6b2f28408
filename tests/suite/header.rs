//! The committed C header must be exactly what cbindgen generates from the sources.
//! `QDSIM_BLESS=1 cargo test --test suite header::` rewrites it (so does any `cargo test` run
//! with QDSIM_BLESS set that includes these tests).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Held by each test of this module: with QDSIM_BLESS set, one of them rewrites the header that
/// the others read.
fn lock_header() -> MutexGuard<'static, ()> {
    static HEADER: Mutex<()> = Mutex::new(());
    HEADER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn committed_header_matches_the_sources() {
    let _header = lock_header();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = root.join("include/qdsim_mem.h");
    if std::env::var_os("QDSIM_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/qdsim_mem.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "include/qdsim_mem.h is out of date (first difference at line {}).\n\
             Run `QDSIM_BLESS=1 cargo test --test suite header::` and commit the result.\n\
             committed: {:?}\ngenerated: {:?}",
            first + 1,
            committed.lines().nth(first),
            generated.lines().nth(first)
        );
    }
}

#[test]
fn header_declares_the_abi_version_of_the_library() {
    let _header = lock_header();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = std::fs::read_to_string(root.join("include/qdsim_mem.h")).unwrap();
    let expected = format!(
        "#define QDSIM_MEM_ABI_VERSION {}",
        qdsim_mem::ffi::version::QDSIM_MEM_ABI_VERSION
    );
    assert!(header.contains(&expected), "header lacks `{expected}`");
}

#[test]
fn header_exports_only_qdsim_names() {
    let _header = lock_header();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = std::fs::read_to_string(root.join("include/qdsim_mem.h")).unwrap();
    for line in header.lines() {
        let name = if let Some(rest) = line.strip_prefix("#define ") {
            rest.split_whitespace().next()
        } else if let Some(rest) = line.strip_prefix("typedef struct ") {
            rest.split_whitespace().next()
        } else if line.starts_with("typedef") && line.contains("(*") {
            // a function-pointer type: typedef R (*name)(args);
            line.split("(*").nth(1).and_then(|r| r.split(')').next())
        } else {
            line.find('(')
                .filter(|_| {
                    !line.starts_with(' ') && !line.starts_with('/') && !line.starts_with('#')
                })
                .and_then(|open| line[..open].rsplit([' ', '*']).next())
        };
        if let Some(name) = name {
            assert!(
                name.starts_with("qdsim_") || name.starts_with("QDSIM_"),
                "header exports {name:?}, which is not a qdsim_/QDSIM_ name (line: {line:?})"
            );
        }
    }
}
