//! `qdsim_pool` (which typed pool an allocation comes from) and `qdsim_complex` (the ABI's complex
//! number, layout-compatible with C `double _Complex`, C++ `std::complex<double>` and Fortran
//! `complex(c_double_complex)`).

use crate::error::{Error, Result};
use crate::memory::PoolKind;
use num_complex::Complex64;
use std::ffi::{CStr, c_char};

/// Selects a typed pool: one of the `QDSIM_POOL_*` values. A plain `int32_t` so that any value
/// a caller passes is checked, never trusted.
#[allow(non_camel_case_types)]
pub type qdsim_pool = i32;

/// Pool of `double` arrays.
pub const QDSIM_POOL_F64: qdsim_pool = 0;
/// Pool of `qdsim_complex` (two `double`s) arrays.
pub const QDSIM_POOL_COMPLEX: qdsim_pool = 1;
/// Pool of `int32_t` arrays.
pub const QDSIM_POOL_I32: qdsim_pool = 2;
/// Pool of `int64_t` arrays.
pub const QDSIM_POOL_I64: qdsim_pool = 3;
/// Pool of raw bytes.
pub const QDSIM_POOL_BYTES: qdsim_pool = 4;
/// Number of pools (valid values are 0 … QDSIM_POOL_COUNT−1).
pub const QDSIM_POOL_COUNT: qdsim_pool = 5;

/// A complex number, `re + i·im`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_complex {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

const _: () = assert!(size_of::<qdsim_complex>() == size_of::<Complex64>());
const _: () = assert!(align_of::<qdsim_complex>() == align_of::<Complex64>());

/// The pool named by C value `pool`.
pub(crate) fn pool_kind(pool: qdsim_pool) -> Result<PoolKind> {
    usize::try_from(pool)
        .ok()
        .and_then(PoolKind::from_index)
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "pool {pool} is not a QDSIM_POOL_* value (0 to {})",
                QDSIM_POOL_COUNT - 1
            ))
        })
}

/// The short name of pool `pool` ("f64", "complex64", "i32", "i64", "bytes"), or "unknown".
///
/// The string is static: never free it. Thread safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_pool_name(pool: qdsim_pool) -> *const c_char {
    const NAMES: [&CStr; 5] = [c"f64", c"complex64", c"i32", c"i64", c"bytes"];
    match pool_kind(pool) {
        Ok(kind) => {
            debug_assert_eq!(NAMES[kind.index()].to_str(), Ok(kind.name()));
            NAMES[kind.index()].as_ptr()
        }
        Err(_) => c"unknown".as_ptr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_pool_values_match_the_rust_pools() {
        for (value, kind) in [
            (QDSIM_POOL_F64, PoolKind::F64),
            (QDSIM_POOL_COMPLEX, PoolKind::Complex64),
            (QDSIM_POOL_I32, PoolKind::I32),
            (QDSIM_POOL_I64, PoolKind::I64),
            (QDSIM_POOL_BYTES, PoolKind::Bytes),
        ] {
            assert_eq!(pool_kind(value).unwrap(), kind);
            // SAFETY: static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(qdsim_pool_name(value)) };
            assert_eq!(name.to_str().unwrap(), kind.name());
        }
        assert!(pool_kind(QDSIM_POOL_COUNT).is_err());
        assert!(pool_kind(-1).is_err());
    }
}
