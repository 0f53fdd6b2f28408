//! The typed pools a manager keeps, and the element types that may live in them.
//!
//! Each element type has its own pool, so that e.g. complex wavefunctions and integer index
//! arrays never interleave in the same chunks and the statistics say which kind of data holds
//! the memory.

use num_complex::Complex64;

/// One of the manager's pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolKind {
    /// `f64` arrays (potentials, real wavefunctions, work arrays).
    F64,
    /// Double-precision complex arrays, `Complex64` (two `f64`; numpy's `complex128`): complex
    /// wavefunctions, complex Hamiltonian values. Named "complex128" in reports.
    Complex128,
    /// `i32` arrays (32-bit sparse indices).
    I32,
    /// `i64` arrays (64-bit sparse indices).
    I64,
    /// Untyped bytes.
    Bytes,
}

impl PoolKind {
    /// The double-precision complex pool's former name (it holds `Complex64`, two `f64`s).
    #[deprecated(note = "renamed PoolKind::Complex128 (numpy's name for double-precision complex)")]
    #[allow(non_upper_case_globals)]
    pub const Complex64: PoolKind = PoolKind::Complex128;

    /// Every pool, in the order used for reports and for locking.
    pub const ALL: [PoolKind; 5] = [
        PoolKind::F64,
        PoolKind::Complex128,
        PoolKind::I32,
        PoolKind::I64,
        PoolKind::Bytes,
    ];

    /// Position in [`PoolKind::ALL`] (and the C API's `qdsim_pool` value).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The pool with C API value `index`, if there is one.
    pub fn from_index(index: usize) -> Option<PoolKind> {
        Self::ALL.get(index).copied()
    }

    /// Size in bytes of one element of this pool's type.
    pub fn element_size(self) -> usize {
        match self {
            PoolKind::F64 => size_of::<f64>(),
            PoolKind::Complex128 => size_of::<Complex64>(),
            PoolKind::I32 => size_of::<i32>(),
            PoolKind::I64 => size_of::<i64>(),
            PoolKind::Bytes => 1,
        }
    }

    /// The pool named `name` in reports and event logs ([`PoolKind::name`]); "complex64", the
    /// double-precision complex pool's name in earlier releases, is still read as `Complex128`.
    pub fn from_name(name: &str) -> Option<PoolKind> {
        match name {
            "complex64" => Some(PoolKind::Complex128),
            _ => Self::ALL.into_iter().find(|p| p.name() == name),
        }
    }

    /// Short name used in reports ("f64", "complex128", "i32", "i64", "bytes").
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::F64 => "f64",
            PoolKind::Complex128 => "complex128",
            PoolKind::I32 => "i32",
            PoolKind::I64 => "i64",
            PoolKind::Bytes => "bytes",
        }
    }
}

impl std::fmt::Display for PoolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An element type that has a pool of its own.
///
/// Implemented only for plain-old-data types for which every bit pattern is a valid value and
/// which have no padding (`f64`, `Complex64`, `i32`, `i64`, `u8`): pool memory is always
/// initialized bytes (zero-filled by the kernel when mapped, or holding what a previous owner
/// wrote), so viewing it as a slice of such a type is sound.
pub trait PoolElement: sealed::Sealed + Copy + Send + Sync + 'static {
    /// The pool this type is allocated from.
    const POOL: PoolKind;
    /// The value whose bytes are all zero.
    const ZERO: Self;
}

macro_rules! pool_element {
    ($t:ty, $pool:expr, $zero:expr) => {
        impl sealed::Sealed for $t {}
        impl PoolElement for $t {
            const POOL: PoolKind = $pool;
            const ZERO: Self = $zero;
        }
    };
}

pool_element!(f64, PoolKind::F64, 0.0);
pool_element!(Complex64, PoolKind::Complex128, Complex64::new(0.0, 0.0));
pool_element!(i32, PoolKind::I32, 0);
pool_element!(i64, PoolKind::I64, 0);
pool_element!(u8, PoolKind::Bytes, 0);
