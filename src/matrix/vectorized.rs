//! Run-time CPU dispatch for the element-wise kernels (stencil lines, V-cycle passes, the
//! block eigensolver's chunk kernels): [`vectorized`] runs a kernel's body compiled for
//! AVX2 + FMA when the CPU has them, and for the baseline x86-64 (SSE2) otherwise.
//!
//! The library is built for the baseline so that it runs on any x86-64 machine (a binary built
//! for AVX2 dies with SIGILL on a node without it, which a C API that must never crash its
//! host cannot allow). faer's dense kernels already choose their instruction set at run time;
//! ours are plain loops, and with AVX2 the compiler vectorises them four doubles wide instead
//! of two and widens single-precision storage eight values at a time: the 1000² closed dot
//! and the 500² open dot solve about 16 % faster (measured by building the examples for
//! x86-64-v3; `docs/benchmarks.md`).
//!
//! The results are the same bits either way: Rust never contracts `a·b + c` into an FMA or
//! reorders floating-point sums, so a wider vector does each element's operations in the same
//! order.

/// Runs `kernel` compiled for AVX2 + FMA when this CPU has them (checked once, then a cached
/// load), else as built. `kernel` must be a leaf of the parallel work (a chunk's loop): the
/// instruction set applies to what the compiler inlines into it, not to work it hands to
/// other threads.
#[inline(always)]
pub(crate) fn vectorized<R>(kernel: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU was just found to support AVX2 and FMA, the only requirement of
            // a `#[target_feature(enable = "avx2,fma")]` function.
            return unsafe { with_avx2(kernel) };
        }
    }
    kernel()
}

/// `kernel()` in a function compiled for AVX2 + FMA: the kernel's body, inlined here, is too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn with_avx2<R>(kernel: impl FnOnce() -> R) -> R {
    kernel()
}

#[cfg(test)]
mod tests {
    use super::vectorized;

    #[test]
    fn a_kernel_gives_the_same_bits_dispatched_or_not() {
        // A loop the compiler vectorises (products, sums, f32 widening), run both ways.
        let x: Vec<f32> = (0..1003).map(|i| (i as f32 * 0.37).sin()).collect();
        let y: Vec<f64> = (0..1003).map(|i| (i as f64 * 0.11).cos()).collect();
        let body = || -> Vec<f64> {
            x.iter()
                .zip(&y)
                .map(|(&a, &b)| a as f64 * b + b * 0.5 - (a as f64) / (b + 3.0))
                .collect()
        };
        let plain = body();
        let dispatched = vectorized(body);
        assert!(
            plain
                .iter()
                .zip(&dispatched)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
