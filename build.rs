//! Build script: gives the shared library its versioned SONAME, `libqdsim_mem.so.<ABI>` (the ABI
//! version is `QDSIM_MEM_ABI_VERSION` in `src/ffi/version.rs`, also the package's major
//! version), so that C, C++ and Fortran programs record that name — not a cargo-internal path —
//! as their run-time dependency; and puts the `libqdsim_mem.so.<ABI>` → `libqdsim_mem.so`
//! symlink beside cargo's output, so that programs linked against `target/release` run from
//! there as they do from an installed tree.
//!
//! It also compiles `src/memory/debug/valgrind_requests.c` (valgrind client requests for the
//! manager's debug mode) and sets cfg `qdsim_valgrind` when valgrind's headers are installed;
//! without them the requests are left out and the library builds all the same.

use std::path::{Path, PathBuf};

/// `QDSIM_MEM_ABI_VERSION` as written in `src/ffi/version.rs`.
fn abi_version() -> u32 {
    let source = std::fs::read_to_string("src/ffi/version.rs").expect("src/ffi/version.rs");
    source
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("pub const QDSIM_MEM_ABI_VERSION: u32 = ")?
                .strip_suffix(';')?
                .parse()
                .ok()
        })
        .expect("src/ffi/version.rs defines `pub const QDSIM_MEM_ABI_VERSION: u32 = N;`")
}

/// The profile directory cargo writes the libraries to (`target/release`): `OUT_DIR` is
/// `<profile dir>/build/<package>-<hash>/out`.
fn profile_dir() -> Option<PathBuf> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR")?);
    Some(out.ancestors().nth(3)?.to_path_buf())
}

fn link_soname(dir: &Path, soname: &str) {
    let link = dir.join(soname);
    if std::fs::read_link(&link).is_ok_and(|target| target == Path::new("libqdsim_mem.so")) {
        return;
    }
    let _ = std::fs::remove_file(&link);
    if let Err(e) = std::os::unix::fs::symlink("libqdsim_mem.so", &link) {
        println!("cargo:warning=cannot create {}: {e}", link.display());
    }
}

/// Compiles the valgrind client requests when `<valgrind/memcheck.h>` is found.
fn valgrind_requests() {
    const SOURCE: &str = "src/memory/debug/valgrind_requests.c";
    println!("cargo:rustc-check-cfg=cfg(qdsim_valgrind)");
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=QDSIM_VALGRIND_INCLUDE");
    let include = std::env::var_os("QDSIM_VALGRIND_INCLUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/include"));
    let header = include.join("valgrind/memcheck.h");
    println!("cargo:rerun-if-changed={}", header.display());
    if !header.is_file() {
        println!(
            "cargo:warning=valgrind headers not found ({}): pool blocks will be invisible to \
             memcheck (apt-get install valgrind, or set QDSIM_VALGRIND_INCLUDE)",
            header.display()
        );
        return;
    }
    cc::Build::new()
        .file(SOURCE)
        .include(&include)
        .opt_level(2)
        .warnings(true)
        .compile("qdsim_valgrind_requests");
    println!("cargo:rustc-cfg=qdsim_valgrind");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    valgrind_requests();
    println!("cargo:rerun-if-changed=src/ffi/version.rs");
    let abi = abi_version();
    let major: u32 = std::env::var("CARGO_PKG_VERSION_MAJOR")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        major, abi,
        "the package's major version (Cargo.toml) must equal QDSIM_MEM_ABI_VERSION"
    );
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        let soname = format!("libqdsim_mem.so.{abi}");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
        if let Some(dir) = profile_dir() {
            link_soname(&dir, &soname);
        }
    }
}
