//! Build script: gives the shared library its versioned SONAME, `libqdsim_mem.so.<ABI>` (the ABI
//! version is `QDSIM_MEM_ABI_VERSION` in `src/ffi/version.rs`, also the package's major
//! version), so that C, C++ and Fortran programs record that name — not a cargo-internal path —
//! as their run-time dependency; and puts the `libqdsim_mem.so.<ABI>` → `libqdsim_mem.so`
//! symlink beside cargo's output, so that programs linked against `target/release` run from
//! there as they do from an installed tree.

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

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
