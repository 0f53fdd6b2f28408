//! Version queries: the ABI version the header was generated for, and the library's version.

use std::ffi::c_char;

/// ABI version of this header. Compare with `qdsim_abi_version()` at run time: a program built
/// against one header must only run with a library that reports the same value.
pub const QDSIM_MEM_ABI_VERSION: u32 = 3;

/// Major version of the package this header belongs to (equal to the ABI version: the shared
/// library's SONAME is `libqdsim_mem.so.<major>`).
pub const QDSIM_MEM_VERSION_MAJOR: u32 = 3;
/// Minor version: additions that keep the ABI.
pub const QDSIM_MEM_VERSION_MINOR: u32 = 0;
/// Patch version: fixes.
pub const QDSIM_MEM_VERSION_PATCH: u32 = 0;

/// The ABI version of the loaded library (see `QDSIM_MEM_ABI_VERSION`). Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_abi_version() -> u32 {
    QDSIM_MEM_ABI_VERSION
}

/// The library's version as text, e.g. "3.0.0" (the `QDSIM_MEM_VERSION_*` macros of the header it
/// was built with). Static: never free it. Any thread.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_macros_are_the_package_version_and_the_major_is_the_abi() {
        let parse = |s: &str| s.parse::<u32>().unwrap();
        assert_eq!(
            QDSIM_MEM_VERSION_MAJOR,
            parse(env!("CARGO_PKG_VERSION_MAJOR"))
        );
        assert_eq!(
            QDSIM_MEM_VERSION_MINOR,
            parse(env!("CARGO_PKG_VERSION_MINOR"))
        );
        assert_eq!(
            QDSIM_MEM_VERSION_PATCH,
            parse(env!("CARGO_PKG_VERSION_PATCH"))
        );
        assert_eq!(QDSIM_MEM_VERSION_MAJOR, QDSIM_MEM_ABI_VERSION);
    }
}
