//! Seeded random start vectors (SplitMix64): solvers never start from a structured vector, which
//! can be orthogonal to the wanted states or make a Krylov method stagnate.

use crate::matrix::Scalar;
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

/// Fills `x` with seeded random values; column `j` uses its own stream so the result does not
/// depend on the number of threads.
pub(crate) fn fill_random<T: Scalar>(x: &mut [T], seed: u64, column: usize) {
    let mut rng = SplitMix::new(seed ^ (column as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    for v in x {
        *v = rng.scalar();
    }
}
