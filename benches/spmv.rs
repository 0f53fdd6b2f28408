//! SpMV throughput of the two Hamiltonian representations on a 2000×2000 grid (the 2D GaAs dot):
//! assembled CSR (32-bit indices) and the matrix-free stencil, for a real Hamiltonian and for a
//! complex one (magnetic field), with the memory each holds. Throughput is in GB/s of minimal
//! traffic: every array the product must read once, plus y written once.
//!
//! Run with `cargo bench --bench spmv`.

use num_complex::Complex64;
use qdsim_mem::matrix::{CsrMatrix, Scalar};
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::physics::constants::{GAAS_MASS, HBAR2_OVER_2M0};
use qdsim_mem::physics::{Grid, HamiltonianSpec, StencilOperator};
use std::time::Instant;

const N: usize = 2000;
const REPS: usize = 20;

/// Median seconds of `a` and of `b`, measured alternately (a, b, a, b, …) so that both see the
/// same background load on a shared machine.
fn interleaved_medians(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    a(); // warm-up (first touch of y)
    b();
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64()
    };
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        ta.push(time(&mut a));
        tb.push(time(&mut b));
    }
    let median = |mut t: Vec<f64>| {
        t.sort_by(f64::total_cmp);
        t[REPS / 2]
    };
    (median(ta), median(tb))
}

fn csr_traffic<T: Scalar>(csr: &CsrMatrix<T>) -> usize {
    let n = csr.nrows();
    csr.memory_bytes() + 2 * n * size_of::<T>()
}

fn run<T: Scalar>(label: &str, spec: &HamiltonianSpec<'_>) {
    let manager = MemoryManager::with_defaults().unwrap();
    let op = StencilOperator::<T>::new(&manager, spec, "op").unwrap();
    let csr = op.to_csr("csr").unwrap();
    let n = op.dim();
    let x: Vec<T> = (0..n)
        .map(|p| T::from_real(((p % 97) as f64 - 48.0) / 48.0))
        .collect();
    let mut y1 = vec![T::ZERO_VALUE; n];
    let mut y2 = vec![T::ZERO_VALUE; n];
    let (t_csr, t_op) = interleaved_medians(
        || csr.spmv(T::ONE, &x, T::ZERO_VALUE, &mut y1).unwrap(),
        || op.apply(T::ONE, &x, T::ZERO_VALUE, &mut y2).unwrap(),
    );
    let op_traffic = op.memory_bytes() + 2 * n * size_of::<T>();
    let gb = |bytes: usize, t: f64| bytes as f64 / t / 1e9;
    println!(
        "{:<26} {:<13} {:>10.2} {:>12.1} {:>10.1} {:>12.0}",
        label,
        "CSR (i32)",
        t_csr * 1e3,
        gb(csr_traffic(&csr), t_csr),
        csr.memory_bytes() as f64 / (1 << 20) as f64,
        1.0
    );
    println!(
        "{:<26} {:<13} {:>10.2} {:>12.1} {:>10.1} {:>12.2}",
        label,
        "matrix-free",
        t_op * 1e3,
        gb(op_traffic, t_op),
        op.memory_bytes() as f64 / (1 << 20) as f64,
        t_csr / t_op
    );
}

fn main() {
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[N, N]).unwrap();
    let c = HBAR2_OVER_2M0 / GAAS_MASS;
    let h = grid.axes()[0].spacing;
    let v: Vec<f64> = (0..N * N)
        .map(|p| {
            let (x, y) = (
                ((p % N) as f64 + 1.0) * h - 60.0,
                ((p / N) as f64 + 1.0) * h - 60.0,
            );
            1e-4 * (x * x + y * y) / (4.0 * c)
        })
        .collect();
    println!(
        "y = H·x on a {N}×{N} grid ({} unknowns), {} threads, median of {REPS} alternating runs",
        N * N,
        rayon::current_num_threads()
    );
    println!(
        "{:<26} {:<13} {:>10} {:>12} {:>10} {:>12}",
        "Hamiltonian", "storage", "ms/apply", "GB/s (min)", "MiB held", "speed vs CSR"
    );
    let real = HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(&v));
    run::<f64>("real (dot, B = 0)", &real);
    let field = HamiltonianSpec {
        magnetic_field: 2.0,
        ..real.clone()
    };
    run::<Complex64>("complex (dot, B = 2 T)", &field);
}
