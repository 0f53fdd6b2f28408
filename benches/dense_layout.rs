//! The seed's "cache-friendly layout": transposing and conjugate-transposing a complex matrix
//! with the cache-blocked kernel against the naive double loop (and faer's own copy of a
//! transposed view), same run. Prints the time and the blocked kernel's speed-up.
//!
//! Run with `cargo bench --bench dense_layout`.

use num_complex::Complex64;
use qdsim_mem::matrix::{ManagedMatrix, blocked};
use qdsim_mem::memory::MemoryManager;
use std::time::Instant;

/// Median milliseconds of each closure, run in turn (one of each per round) so that all see
/// the same background load on a shared machine.
fn interleaved_medians_ms(reps: usize, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    for f in fs.iter_mut() {
        f();
    }
    let mut t = vec![Vec::new(); fs.len()];
    for _ in 0..reps {
        for (f, times) in fs.iter_mut().zip(&mut t) {
            let s = Instant::now();
            f();
            times.push(s.elapsed().as_secs_f64() * 1e3);
        }
    }
    t.into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            v[reps / 2]
        })
        .collect()
}

/// The naive loop: walk the destination column by column, reading the source across a row.
fn naive_adjoint(src: &ManagedMatrix<Complex64>, dst: &mut ManagedMatrix<Complex64>) {
    let (m, n) = (src.nrows(), src.ncols());
    let (sld, dld) = (src.ld(), dst.ld());
    let s = src.data_ptr();
    let d = dst.data_ptr();
    for i in 0..m {
        for j in 0..n {
            // SAFETY: i < m, j < n; dst is n×m with ld dld, src is m×n with ld sld.
            unsafe { *d.add(j + i * dld) = (*s.add(i + j * sld)).conj() };
        }
    }
}

fn main() {
    let manager = MemoryManager::with_defaults().unwrap();
    println!("B = Aᴴ for a complex n×n ManagedMatrix; median of alternating runs");
    println!(
        "{:>6} {:>14} {:>14} {:>14} {:>10}",
        "n", "naive ms", "faer copy ms", "blocked ms", "speed-up"
    );
    for (n, reps) in [(500, 41), (2000, 11), (4000, 7), (6000, 5)] {
        let mut a = ManagedMatrix::<Complex64>::zeros(&manager, n, n, "a").unwrap();
        for j in 0..n {
            for (i, z) in a.col_mut(j).iter_mut().enumerate() {
                *z = Complex64::new(i as f64, j as f64);
            }
        }
        let mut b1 = ManagedMatrix::<Complex64>::zeros(&manager, n, n, "b").unwrap();
        let mut b2 = ManagedMatrix::<Complex64>::zeros(&manager, n, n, "b").unwrap();
        let mut b3 = ManagedMatrix::<Complex64>::zeros(&manager, n, n, "b").unwrap();
        let t = interleaved_medians_ms(
            reps,
            &mut [
                &mut || naive_adjoint(&a, &mut b1),
                &mut || b2.as_mut().copy_from(a.as_ref().adjoint()),
                &mut || blocked::adjoint(a.as_ref(), b3.as_mut()).unwrap(),
            ],
        );
        let (naive, faer_copy, tiled) = (t[0], t[1], t[2]);
        for b in [&b1, &b2, &b3] {
            assert_eq!(b.as_ref()[(3, 7)], a.as_ref()[(7, 3)].conj());
        }
        println!(
            "{n:>6} {naive:>14.2} {faer_copy:>14.2} {tiled:>14.2} {:>9.1}×",
            naive / tiled
        );
    }
}
