//! Seeded random start vectors (SplitMix64): solvers never start from a structured vector, which
//! can be orthogonal to the wanted states or make a Krylov method stagnate.

use crate::matrix::{Scalar, ScalarKind};
use num_complex::Complex64;

/// A SplitMix64 stream.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [−0.5, 0.5).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    /// A random scalar (complex when `T` is).
    pub(crate) fn scalar<T: Scalar>(&mut self) -> T {
        let re = self.next_f64();
        let im = self.next_f64();
        T::from_complex(Complex64::new(re, im)).unwrap_or_else(|| T::from_real(re))
    }
}

/// The stream of column `column` of a block seeded with `seed` (each column its own, so a
/// result does not depend on the number of threads).
fn column_stream(seed: u64, column: usize) -> SplitMix {
    SplitMix::new(seed ^ (column as u64).wrapping_mul(0xA076_1D64_78BD_642F))
}

/// Fills `x` with seeded random values, from column `column`'s stream.
pub(crate) fn fill_random<T: Scalar>(x: &mut [T], seed: u64, column: usize) {
    let mut rng = column_stream(seed, column);
    for v in x {
        *v = rng.scalar();
    }
}

/// Adds to `x` seeded random values of about `relative` times its norm (in its stream for
/// column `column`, as [`fill_random`]): the values are uniform in [−½, ½) per component, so
/// their root mean square is 1/√12 (real) or 1/√6 (complex).
pub(crate) fn add_random<T: Scalar>(x: &mut [T], relative: f64, seed: u64, column: usize) {
    let norm = x
        .iter()
        .map(|v| v.to_complex().norm_sqr())
        .sum::<f64>()
        .sqrt();
    let rms = if T::KIND == ScalarKind::Complex {
        (1.0f64 / 6.0).sqrt()
    } else {
        (1.0f64 / 12.0).sqrt()
    };
    let scale = relative * norm / (rms * (x.len().max(1) as f64).sqrt());
    let mut rng = column_stream(seed, column);
    for v in x {
        *v += rng.scalar::<T>().scale(scale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm<T: Scalar>(x: &[T]) -> f64 {
        x.iter()
            .map(|v| v.to_complex().norm_sqr())
            .sum::<f64>()
            .sqrt()
    }

    /// The noise is about the asked part of the column's norm (within 2 % for 10⁵ values: the
    /// sum of squares of uniform values has a relative spread of 0.9/√n), the same for the same
    /// seed and column, and another for another column.
    #[test]
    fn added_noise_has_the_asked_size_and_its_own_stream_per_column() {
        fn check<T: Scalar>() {
            let n = 100_000;
            let base: Vec<T> = (0..n)
                .map(|i| T::from_real(((i as f64) * 0.001).sin() * 3.0))
                .collect();
            let noisy = |column| {
                let mut x = base.clone();
                add_random(&mut x, 1e-2, 42, column);
                x
            };
            let (a, b) = (noisy(3), noisy(4));
            let noise: Vec<T> = a.iter().zip(&base).map(|(&p, &q)| p - q).collect();
            let ratio = norm(&noise) / norm(&base);
            assert!((ratio / 1e-2 - 1.0).abs() < 0.02, "{ratio}");
            assert_eq!(a, noisy(3));
            assert_ne!(a, b);
        }
        check::<f64>();
        check::<Complex64>();
    }
}
