//! Eigensolver benchmark: the lowest 10 states of the 2D GaAs parabolic dot (ħω = 10 meV,
//! 120 nm box) on 250², 500², 1000² and 2000² grids (5000² with `--large` or
//! QDSIM_BENCH_LARGE=1), for our default solver (multigrid LOBPCG, coarse-to-fine) and a
//! shift-invert baseline (sparse Cholesky of H − σ with AMD ordering, then the lowest states of
//! (H − σ)⁻¹ — here by LOBPCG with the exact inverse as preconditioner, which converges like
//! scipy's `eigsh(sigma=σ)` shift-invert Lanczos), in the same run.
//!
//! When `python3` with scipy is installed, scipy's own `eigsh(sigma=0)` (ARPACK shift-invert
//! Lanczos on a SuperLU factor, `benches/external/scipy_eigsh.py`) runs on the same matrix as
//! the external reference, and the ratios are against it.
//!
//! Each solve runs in a child process so that its peak resident memory (getrusage/wait4
//! `ru_maxrss`) is its own. Prints wall time, peak RSS, operator applications, the largest
//! error against the exact levels ħω(n + 1) (discretisation included), and the ratios.
//!
//! Run with `cargo bench --bench solver` (add `-- --large` for 5000²).

mod common;

use common::{K, Measured, dot, max_error_mev, measure_command, measure_self, python_has};
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::physics::HamiltonianSpec;
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::solver::{EigenOptions, Method, lowest_states};
use std::process::{Command, Stdio};

/// Runs one solve and prints `seconds applications max_error_meV converged`.
fn child(method: &str, n: usize) {
    let manager = MemoryManager::with_defaults().unwrap();
    let (grid, v) = dot(&manager, n);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let method = if method == "shift-invert" {
        Method::ShiftInvert
    } else {
        Method::Lobpcg
    };
    let options = EigenOptions {
        k: K,
        method,
        ..EigenOptions::default()
    };
    let r = lowest_states::<f64>(&manager, &spec, &options, None).unwrap();
    println!(
        "{} {} {} {}",
        r.seconds,
        r.applications,
        max_error_mev(&r.values),
        r.converged
    );
}

/// One of our solvers in a child process of this benchmark.
fn measure(method: &str, n: usize) -> Option<Measured> {
    measure_self(&["--child", method, &n.to_string()])
}

/// scipy's `eigsh(sigma=0)` (benches/external/scipy_eigsh.py), when python3 with scipy is
/// installed; `None` otherwise.
fn measure_scipy(n: usize) -> Option<Measured> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/external/scipy_eigsh.py"
    );
    let mut command = Command::new("python3");
    command.arg(script).arg(n.to_string()).stderr(Stdio::null());
    measure_command(command)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], args[i + 2].parse().unwrap());
        return;
    }
    let large =
        args.iter().any(|a| a == "--large") || std::env::var_os("QDSIM_BENCH_LARGE").is_some();
    let mut sizes = vec![250, 500, 1000, 2000];
    if large {
        sizes.push(5000);
    }
    println!(
        "lowest {K} states of the 2D GaAs dot (ħω = 10 meV), {} threads; each solve in its own process",
        rayon::current_num_threads()
    );
    println!(
        "{:>6} {:>10} {:<22} {:>9} {:>10} {:>8} {:>14} {:>6} {:>9} {:>9}",
        "N",
        "unknowns",
        "solver",
        "time s",
        "RSS MiB",
        "H·x",
        "max err meV",
        "conv",
        "speed-up",
        "memory"
    );
    let scipy_available = python_has("scipy");
    for n in sizes {
        // The factorisations at 5000² would need tens of GiB: skipped there.
        let small = n <= 2000;
        let scipy = (small && scipy_available)
            .then(|| measure_scipy(n))
            .flatten();
        let shift_invert = small.then(|| measure("shift-invert", n)).flatten();
        let ours = measure("lobpcg", n);
        // Ratios against scipy when it ran, else against our own shift-invert.
        let reference = scipy.as_ref().or(shift_invert.as_ref());
        for (name, m, is_ours) in [
            ("scipy eigsh σ=0", &scipy, false),
            ("qdsim shift-invert", &shift_invert, false),
            ("multigrid LOBPCG", &ours, true),
        ] {
            let Some(m) = m else {
                let why = if !small {
                    "skipped (factor too large)"
                } else if name.starts_with("scipy") && !scipy_available {
                    "skipped (no python3 with scipy)"
                } else {
                    "failed"
                };
                println!("{:>6} {:>10} {:<22} {why}", n, n * n, name);
                continue;
            };
            let (speed, memory) = match (reference, is_ours) {
                (Some(b), true) => (
                    format!("{:.1}×", b.seconds / m.seconds),
                    format!("{:.1}×", b.rss_mib / m.rss_mib),
                ),
                _ => (String::from("—"), String::from("—")),
            };
            // H·x only: factor solves ((H − σ)⁻¹·x) are not counted; ARPACK's are not exposed.
            let apps = if m.applications > 0 {
                m.applications.to_string()
            } else {
                "—".into()
            };
            println!(
                "{:>6} {:>10} {:<22} {:>9.2} {:>10.0} {:>8} {:>14.2e} {:>6} {:>9} {:>9}",
                n,
                n * n,
                name,
                m.seconds,
                m.rss_mib,
                apps,
                m.max_error_mev,
                m.converged,
                speed,
                memory
            );
        }
    }
    println!(
        "speed-up and memory: scipy's (else our shift-invert's) time and peak RSS divided by ours \
         (same run, same machine); scipy's RSS includes the Python interpreter (~60 MiB)"
    );
}
