//! [`ByScalar`]: one value whose type depends on the scalar type chosen at run time, and the
//! crate-internal `by_scalar!` macro, the one way the crate dispatches on it. Every
//! "real or complex" type ([`AnyMatrix`](super::AnyMatrix), [`AnyCsr`](super::AnyCsr),
//! [`AnyOperator`](crate::physics::AnyOperator), the mapped and C API types) is a
//! `ByScalar<X<f64>, X<Complex64>>`, so one macro call replaces the pair of match arms that
//! would otherwise repeat the same code for `f64` and `Complex64`.

use super::scalar::ScalarKind;

/// A value of type `R` (real scalars, `f64`) or `C` (complex scalars, `Complex64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByScalar<R, C> {
    /// Real.
    Real(R),
    /// Complex.
    Complex(C),
}

impl<R, C> ByScalar<R, C> {
    /// The scalar type.
    pub fn kind(&self) -> ScalarKind {
        match self {
            ByScalar::Real(_) => ScalarKind::Real,
            ByScalar::Complex(_) => ScalarKind::Complex,
        }
    }
}

impl<A, R, C> ByScalar<(A, R), (A, C)> {
    /// Splits off the part whose type does not depend on the scalar: `(a, ByScalar<R, C>)`.
    pub fn split_first(self) -> (A, ByScalar<R, C>) {
        match self {
            ByScalar::Real((a, r)) => (a, ByScalar::Real(r)),
            ByScalar::Complex((a, c)) => (a, ByScalar::Complex(c)),
        }
    }
}

/// Dispatches on a [`ByScalar`] (or a [`ScalarKind`]) with one expression written once, for
/// both scalar types:
///
/// - `by_scalar!(value, m => expr)`: `expr` with `m` bound to the value inside (a pattern);
///   both arms give the same type.
/// - `by_scalar!(map value, m => expr)`: as above, the result put back in the same variant (a
///   [`ByScalar`] of the two result types).
/// - `by_scalar!(new kind, T => expr)`: for a [`ScalarKind`], `expr` with the type `T` being
///   `f64` or `Complex64`, in the variant of `kind`.
///
/// `expr` may use `?` and `return` as in the enclosing function.
macro_rules! by_scalar {
    (map $value:expr, $m:pat => $body:expr) => {
        match $value {
            $crate::matrix::ByScalar::Real($m) => $crate::matrix::ByScalar::Real($body),
            $crate::matrix::ByScalar::Complex($m) => $crate::matrix::ByScalar::Complex($body),
        }
    };
    (new $kind:expr, $t:ident => $body:expr) => {
        match $kind {
            $crate::matrix::ScalarKind::Real => $crate::matrix::ByScalar::Real({
                #[allow(dead_code)]
                type $t = f64;
                $body
            }),
            $crate::matrix::ScalarKind::Complex => $crate::matrix::ByScalar::Complex({
                #[allow(dead_code)]
                type $t = ::num_complex::Complex64;
                $body
            }),
        }
    };
    ($value:expr, $m:pat => $body:expr) => {
        match $value {
            $crate::matrix::ByScalar::Real($m) => $body,
            $crate::matrix::ByScalar::Complex($m) => $body,
        }
    };
}
pub(crate) use by_scalar;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;
    use num_complex::Complex64;

    type Pair = ByScalar<Vec<f64>, Vec<Complex64>>;

    #[test]
    fn one_expression_serves_both_scalar_types() {
        let real: Pair = ByScalar::Real(vec![1.0, 2.0]);
        let complex: Pair = ByScalar::Complex(vec![Complex64::new(0.0, 1.0)]);
        assert_eq!(by_scalar!(&real, v => v.len()), 2);
        assert_eq!(by_scalar!(&complex, v => v.len()), 1);
        assert_eq!(real.kind(), ScalarKind::Real);
        assert_eq!(complex.kind(), ScalarKind::Complex);
        let doubled =
            by_scalar!(map complex, v => v.into_iter().map(|x| x + x).collect::<Vec<_>>());
        assert_eq!(doubled, ByScalar::Complex(vec![Complex64::new(0.0, 2.0)]));
    }

    #[test]
    fn new_names_the_scalar_type_and_passes_errors_on() {
        fn zeros(kind: ScalarKind, n: usize) -> Result<Pair> {
            Ok(by_scalar!(new kind, T => vec![<T as crate::matrix::Scalar>::ZERO_VALUE; n]))
        }
        assert_eq!(
            zeros(ScalarKind::Real, 2).unwrap(),
            ByScalar::Real(vec![0.0; 2])
        );
        assert_eq!(
            zeros(ScalarKind::Complex, 1).unwrap().kind(),
            ScalarKind::Complex
        );
        let (n, v) =
            by_scalar!(map zeros(ScalarKind::Real, 3).unwrap(), v => (v.len(), v)).split_first();
        assert_eq!((n, v.kind()), (3, ScalarKind::Real));
    }
}
