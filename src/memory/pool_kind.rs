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
    /// `Complex64` arrays (complex wavefunctions, complex Hamiltonian values).
    Complex64,
    /// `i32` arrays (32-bit sparse indices).
    I32,
    /// `i64` arrays (64-bit sparse indices).
    I64,
    /// Untyped bytes.
    Bytes,
}

impl PoolKind {
    /// Every pool, in the order used for reports and for locking.
    pub const ALL: [PoolKind; 5] = [
        PoolKind::F64,
        PoolKind::Complex64,
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
            PoolKind::Complex64 => size_of::<Complex64>(),
            PoolKind::I32 => size_of::<i32>(),
            PoolKind::I64 => size_of::<i64>(),
            PoolKind::Bytes => 1,
        }
    }

    /// Short name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::F64 => "f64",
            PoolKind::Complex64 => "complex64",
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
pool_element!(Complex64, PoolKind::Complex64, Complex64::new(0.0, 0.0));
pool_element!(i32, PoolKind::I32, 0);
pool_element!(i64, PoolKind::I64, 0);
pool_element!(u8, PoolKind::Bytes, 0);
