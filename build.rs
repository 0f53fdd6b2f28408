//! Build script: only gives the shared library its SONAME, so that C, C++ and Fortran programs
//! record `libqdsim_mem.so` (not a cargo-internal path) as their run-time dependency.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libqdsim_mem.so");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
