//! The two scalar types matrices hold: `f64` (real Hamiltonians) and `Complex64` (magnetic field,
//! absorbing potentials), with the few operations the kernels need.

use crate::memory::PoolElement;
use num_complex::{Complex32, Complex64};
use std::ops::{Add, AddAssign, Mul, Sub, SubAssign};

/// Real or complex, as a run-time tag (the C API's `qdsim_scalar`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarKind {
    /// `f64`.
    Real,
    /// `Complex64` (two `f64`: re, im).
    Complex,
}

impl ScalarKind {
    /// Short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ScalarKind::Real => "real (f64)",
            ScalarKind::Complex => "complex (complex128)",
        }
    }
}

/// A matrix element type: `f64` or `Complex64`.
pub trait Scalar:
    PoolElement
    + faer::traits::ComplexField<Real = f64>
    + Copy
    + Default
    + PartialEq
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + AddAssign
    + SubAssign
{
    /// Which of the two this is.
    const KIND: ScalarKind;
    /// Zero.
    const ZERO_VALUE: Self;
    /// One.
    const ONE: Self;
    /// `x` as this type.
    fn from_real(x: f64) -> Self;
    /// `z` as this type, or `None` if this type is real and `z` has an imaginary part.
    fn from_complex(z: Complex64) -> Option<Self>;
    /// The value as a complex number.
    fn to_complex(self) -> Complex64;
    /// Complex conjugate (identity for real).
    fn conj_value(self) -> Self;
    /// Both parts finite.
    fn is_finite_value(self) -> bool;
    /// |x|².
    fn abs_sq(self) -> f64;
    /// `self · s` for a real `s` (two multiplications for a complex value, not four).
    fn scale(self, s: f64) -> Self;

    /// The same kind of value in single precision (`f32`, `Complex32`): how the solvers store
    /// vectors that only span a search space (LOBPCG's W and P), at half the memory and
    /// traffic; kernels widen it as they read it ([`Load`]) and round to it as they write it
    /// ([`Store`]).
    type Single: Store<Self> + Default + PartialEq + std::fmt::Debug + 'static;
}

/// A value a kernel reads from a vector and computes with as `V`: `V` itself, or `V`'s
/// single-precision storage, widened exactly.
pub trait Load<V>: Copy + Send + Sync {
    /// The value as `V`.
    fn load(self) -> V;
}

/// A value a kernel writes to a vector from a `V`: `V` itself, or `V`'s single-precision
/// storage (the nearest value).
pub trait Store<V>: Load<V> {
    /// The nearest value of this type to `v`.
    fn store(v: V) -> Self;
}

/// True when vectors of an operator with spectrum in `bounds` fit single precision's range:
/// a search vector holds residuals `Hx − λx` of unit vectors (entries up to about ‖H‖) before
/// it is normalised, a V-cycle iterate entries down to about 1/‖H‖ of its right-hand side's,
/// and f32 overflows above 3.4·10³⁸ and loses precision below 1.2·10⁻³⁸, so ‖H‖ must lie well
/// inside (within 10⁻²⁰ … 10²⁰; a Hamiltonian in eV is around 10⁻³ … 10³).
pub(crate) fn single_range((lower, upper): (f64, f64)) -> bool {
    let norm = lower.abs().max(upper.abs());
    (1e-20..=1e20).contains(&norm)
}

/// `dst[i] = src[i]` widened to `V` (the common length of the two).
#[inline]
pub(crate) fn widen_into<V, X: Load<V>>(src: &[X], dst: &mut [V]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s.load();
    }
}

/// `dst[i] = src[i]` rounded to the storage type `X` (the common length of the two).
#[inline]
pub(crate) fn narrow_into<V: Copy, X: Store<V>>(src: &[V], dst: &mut [X]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = X::store(s);
    }
}

impl<V: Scalar> Load<V> for V {
    #[inline(always)]
    fn load(self) -> V {
        self
    }
}

impl<V: Scalar> Store<V> for V {
    #[inline(always)]
    fn store(v: V) -> V {
        v
    }
}

impl Store<f64> for f32 {
    #[inline(always)]
    fn store(v: f64) -> f32 {
        v as f32
    }
}

impl Store<Complex64> for Complex32 {
    #[inline(always)]
    fn store(v: Complex64) -> Complex32 {
        Complex32::new(v.re as f32, v.im as f32)
    }
}

impl Load<f64> for f32 {
    #[inline(always)]
    fn load(self) -> f64 {
        self as f64
    }
}

impl Load<Complex64> for Complex32 {
    #[inline(always)]
    fn load(self) -> Complex64 {
        Complex64::new(self.re as f64, self.im as f64)
    }
}

impl Scalar for f64 {
    const KIND: ScalarKind = ScalarKind::Real;
    const ZERO_VALUE: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_real(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn from_complex(z: Complex64) -> Option<Self> {
        (z.im == 0.0).then_some(z.re)
    }
    #[inline(always)]
    fn to_complex(self) -> Complex64 {
        Complex64::new(self, 0.0)
    }
    #[inline(always)]
    fn conj_value(self) -> Self {
        self
    }
    #[inline(always)]
    fn is_finite_value(self) -> bool {
        self.is_finite()
    }
    #[inline(always)]
    fn abs_sq(self) -> f64 {
        self * self
    }
    #[inline(always)]
    fn scale(self, s: f64) -> Self {
        self * s
    }
    type Single = f32;
}

impl Scalar for Complex64 {
    const KIND: ScalarKind = ScalarKind::Complex;
    const ZERO_VALUE: Self = Complex64::new(0.0, 0.0);
    const ONE: Self = Complex64::new(1.0, 0.0);
    #[inline(always)]
    fn from_real(x: f64) -> Self {
        Complex64::new(x, 0.0)
    }
    #[inline(always)]
    fn from_complex(z: Complex64) -> Option<Self> {
        Some(z)
    }
    #[inline(always)]
    fn to_complex(self) -> Complex64 {
        self
    }
    #[inline(always)]
    fn conj_value(self) -> Self {
        self.conj()
    }
    #[inline(always)]
    fn is_finite_value(self) -> bool {
        self.re.is_finite() && self.im.is_finite()
    }
    #[inline(always)]
    fn abs_sq(self) -> f64 {
        self.norm_sqr()
    }
    #[inline(always)]
    fn scale(self, s: f64) -> Self {
        Complex64::new(self.re * s, self.im * s)
    }
    type Single = Complex32;
}
