//! Version queries: the ABI version the header was generated for, and the library's version.

use std::ffi::c_char;

/// ABI version of this header. Compare with `qdsim_abi_version()` at run time: a program built
/// against one header must only run with a library that reports the same value.
pub const QDSIM_MEM_ABI_VERSION: u32 = 3;

/// The ABI version of the loaded library (see `QDSIM_MEM_ABI_VERSION`). Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_abi_version() -> u32 {
    QDSIM_MEM_ABI_VERSION
}

/// The library's version as text, e.g. "0.1.0". Static: never free it. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
