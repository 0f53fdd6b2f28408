//! Value types shared by the whole C API: `qdsim_pool` (which typed pool an allocation comes
//! from), `qdsim_scalar` (real or complex matrices), and `qdsim_complex` (the ABI's complex
//! number, layout-compatible with C `double _Complex`, C++ `std::complex<double>` and Fortran
//! `complex(c_double_complex)`).

use crate::error::{Error, Result};
use crate::matrix::ScalarKind;
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

/// Selects real (`double`) or complex (`qdsim_complex`) matrix elements: one of the
/// `QDSIM_SCALAR_*` values.
#[allow(non_camel_case_types)]
pub type qdsim_scalar = i32;

/// Let the library choose: real whenever the Hamiltonian allows it (Hamiltonian builders only).
pub const QDSIM_SCALAR_AUTO: qdsim_scalar = 2;
/// Real elements (`double`).
pub const QDSIM_SCALAR_REAL: qdsim_scalar = 0;
/// Complex elements (`qdsim_complex`).
pub const QDSIM_SCALAR_COMPLEX: qdsim_scalar = 1;

/// The scalar kind named by C value `scalar`; `QDSIM_SCALAR_AUTO` gives `None` when allowed.
pub(crate) fn scalar_kind(scalar: qdsim_scalar, allow_auto: bool) -> Result<Option<ScalarKind>> {
    match scalar {
        QDSIM_SCALAR_REAL => Ok(Some(ScalarKind::Real)),
        QDSIM_SCALAR_COMPLEX => Ok(Some(ScalarKind::Complex)),
        QDSIM_SCALAR_AUTO if allow_auto => Ok(None),
        _ => Err(Error::invalid_argument(format!(
            "scalar {scalar} is not {}QDSIM_SCALAR_REAL (0) or QDSIM_SCALAR_COMPLEX (1)",
            if allow_auto {
                "QDSIM_SCALAR_AUTO (-1), "
            } else {
                ""
            }
        ))),
    }
}

/// The C value of `kind`.
pub(crate) fn scalar_value(kind: ScalarKind) -> qdsim_scalar {
    match kind {
        ScalarKind::Real => QDSIM_SCALAR_REAL,
        ScalarKind::Complex => QDSIM_SCALAR_COMPLEX,
    }
}

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

impl From<qdsim_complex> for Complex64 {
    fn from(z: qdsim_complex) -> Self {
        Complex64::new(z.re, z.im)
    }
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

/// The short name of pool `pool` ("f64", "complex128", "i32", "i64", "bytes"; "complex128" is
/// numpy's name for double-precision complex, the elements of `QDSIM_POOL_COMPLEX`), or "unknown".
///
/// The string is static: never free it. Thread safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn qdsim_pool_name(pool: qdsim_pool) -> *const c_char {
    const NAMES: [&CStr; 5] = [c"f64", c"complex128", c"i32", c"i64", c"bytes"];
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
            (QDSIM_POOL_COMPLEX, PoolKind::Complex128),
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
