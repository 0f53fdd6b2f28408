//! The memory table (issue 6): peak resident memory and time of the lowest 10 states of the 2D
//! GaAs dot (ħω = 10 meV, 120 nm box) by
//!
//! - the **standard path**: the Hamiltonian assembled as CSR with 64-bit indices, a sparse
//!   Cholesky factorisation of H − σ (AMD ordering) and the lowest states of (H − σ)⁻¹ (LOBPCG
//!   on the exact inverse, which converges like shift-invert Lanczos), and
//! - **our default path**: the matrix-free stencil, multigrid-preconditioned LOBPCG started
//!   coarse-to-fine, everything in core,
//!
//! on 1000² and 2000² grids, and with `--large` (or QDSIM_BENCH_LARGE=1) also 5000² and the
//! 10000² grid (100 M unknowns) that neither path can hold in core on a 24 GiB machine, solved
//! **out of core** under an 8 GiB memory budget (blocks in scratch files in
//! `$QDSIM_SCRATCH_DIR`, default the temporary directory; the 10 eigenvectors, 8 GB, stay in an
//! unlinked mapped file). The standard path runs only where its factor fits the memory
//! available now (the symbolic factorisation says how much it needs); otherwise the row says
//! what it would need.
//!
//! Each solve runs in its own process (peak RSS = its `ru_maxrss`), timed from the potential
//! to the eigenpairs (assembly and factorisation included). Reductions are the standard
//! path's time and peak RSS divided by ours, in the same run.
//!
//! `cargo bench --bench memory_table [-- --large] [--grids 1000,5000] [--dry]` (`--grids`
//! picks the grids, `--dry` prints the standard path's estimates and runs no solve).
//!
//! One out-of-core solve under another budget, e.g. 2000² under 256 MiB:
//! `QDSIM_BENCH_BUDGET_MIB=256 cargo bench --bench memory_table -- --child out-of-core 2000`
//! (prints `seconds applications max_error_meV converged scratch_bytes vectors_mapped`; run
//! it under `/usr/bin/time -v` for the peak RSS).

mod common;

use common::{
    K, Measured, available_memory, dot, gib, max_error_mev, measure_self, serve_measure_mode,
};
use qdsim_mem::memory::MemoryManager;
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{HamiltonianSpec, StencilOperator};
use qdsim_mem::solver::{
    EigenOptions, Method, Progress, lowest_states, shift_invert_lowest,
    shift_invert_memory_estimate,
};
use std::time::Instant;

/// The out-of-core row's memory budget: 8 GiB.
const BUDGET: u64 = 8 << 30;

/// The out-of-core budget: [`BUDGET`], or `QDSIM_BENCH_BUDGET_MIB` MiB.
fn budget() -> u64 {
    std::env::var("QDSIM_BENCH_BUDGET_MIB")
        .ok()
        .map(|v| {
            v.parse::<u64>()
                .expect("QDSIM_BENCH_BUDGET_MIB: a whole number of MiB")
                << 20
        })
        .unwrap_or(BUDGET)
}

/// The largest grid, solved out of core.
const HUGE: usize = 10_000;

/// Bytes of the dot's Hamiltonian as CSR with 64-bit indices: row pointers, and a column index
/// and a value per entry (5 per interior row of the 5-point stencil, fewer at the walls).
fn csr64_bytes(n: usize) -> u64 {
    let (rows, nnz) = ((n * n) as u64, (5 * n * n - 4 * n) as u64);
    (rows + 1) * 8 + nnz * 16
}

fn solve_options() -> EigenOptions {
    EigenOptions {
        k: K,
        ..EigenOptions::default()
    }
}

/// Child: one solve; prints `seconds applications max_error_meV converged scratch_bytes
/// vectors_mapped`.
fn child(mode: &str, n: usize) {
    let manager = MemoryManager::with_defaults().unwrap();
    let (grid, v) = dot(&manager, n);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let start = Instant::now();
    let r = match mode {
        "standard" => {
            let h = StencilOperator::<f64>::new(&manager, &spec, "h")
                .unwrap()
                .to_csr_with_index_bits("h", Some(64))
                .unwrap();
            shift_invert_lowest(&manager, &h, None, &solve_options(), None).unwrap()
        }
        "default" => {
            let options = EigenOptions {
                method: Method::Lobpcg,
                ..solve_options()
            };
            lowest_states::<f64>(&manager, &spec, &options, None).unwrap()
        }
        "out-of-core" => {
            let options = EigenOptions {
                method: Method::Lobpcg,
                memory_budget: Some(budget()),
                scratch_dir: std::env::var_os("QDSIM_SCRATCH_DIR").map(Into::into),
                ..solve_options()
            };
            // A long solve: say where it is (stderr, the table stays on stdout).
            let mut report = |p: &Progress| {
                eprintln!(
                    "  [{:7.1} s] level {}/{} iteration {:3}: {}/{} converged, max residual {:.1e}",
                    start.elapsed().as_secs_f64(),
                    p.level,
                    p.levels,
                    p.iteration,
                    p.converged,
                    p.wanted,
                    p.max_residual
                );
                false
            };
            lowest_states::<f64>(&manager, &spec, &options, Some(&mut report)).unwrap()
        }
        other => panic!("unknown mode {other}"),
    };
    println!(
        "{} {} {} {} {} {}",
        start.elapsed().as_secs_f64(),
        r.applications,
        max_error_mev(&r.values),
        r.converged,
        r.scratch_bytes,
        u8::from(r.vectors.is_mapped())
    );
}

/// Child: what the standard path would hold at its peak — the CSR matrix, the potential, the
/// Cholesky factor and shifted values (exact, from the symbolic factorisation) and the blocks;
/// prints it in bytes.
fn child_estimate(n: usize) {
    let manager = MemoryManager::with_defaults().unwrap();
    let (grid, v) = dot(&manager, n);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let h = StencilOperator::<f64>::new(&manager, &spec, "h")
        .unwrap()
        .to_csr_with_index_bits("h", Some(64))
        .unwrap();
    let factor = shift_invert_memory_estimate(&h, K).unwrap();
    println!("{}", factor + h.memory_bytes() as u64 + (n * n * 8) as u64);
}

fn standard_estimate(n: usize) -> Option<u64> {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--child-estimate", &n.to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn row(n: usize, path: &str, m: &Measured, reduction: &str) {
    println!(
        "{:>6} {:>11} {:<34} {:>9.1} {:>9.2} {:>11.2e} {:>5} {:>9.1} {}",
        n,
        n * n,
        path,
        m.seconds,
        m.rss_mib / 1024.0,
        m.max_error_mev,
        m.converged,
        m.extra
            .first()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(0.0, gib),
        reduction
    );
}

fn main() {
    serve_measure_mode();
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], args[i + 2].parse().unwrap());
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child-estimate") {
        child_estimate(args[i + 1].parse().unwrap());
        return;
    }
    let large =
        args.iter().any(|a| a == "--large") || std::env::var_os("QDSIM_BENCH_LARGE").is_some();
    let mut sizes = vec![1000, 2000];
    if large {
        sizes.extend([5000, HUGE]);
    }
    if let Some(i) = args.iter().position(|a| a == "--grids") {
        sizes = args[i + 1]
            .split(',')
            .map(|g| g.parse().expect("--grids 1000,2000,…"))
            .collect();
    }
    // Estimates only: no solve runs (to see what the standard path would need).
    let dry = args.iter().any(|a| a == "--dry");
    println!(
        "lowest {K} states of the 2D GaAs dot, {} threads, {:.1} GiB available; each solve in its own process",
        rayon::current_num_threads(),
        gib(available_memory() as f64)
    );
    println!(
        "{:>6} {:>11} {:<34} {:>9} {:>9} {:>11} {:>5} {:>9} reduction (time, memory)",
        "N", "unknowns", "path", "time s", "RSS GiB", "max err meV", "conv", "scratch"
    );
    // The standard path's need at the largest grid where it was estimated, for extrapolation.
    let mut last_estimate: Option<(usize, u64)> = None;
    for n in sizes {
        let standard_label = "standard: CSR int64 + shift-invert";
        let standard = if n < HUGE {
            let need = standard_estimate(n);
            if let Some(need) = need {
                last_estimate = Some((n, need));
            }
            match need {
                // Room for the allocator's slack and the rest of the system.
                Some(need) if dry => {
                    println!(
                        "{:>6} {:>11} {:<34} needs {:.1} GiB (not run: --dry)",
                        n,
                        n * n,
                        standard_label,
                        gib(need as f64)
                    );
                    None
                }
                Some(need) if (need as f64) < 0.85 * available_memory() as f64 => {
                    measure_self(&["--child", "standard", &n.to_string()])
                }
                Some(need) => {
                    println!(
                        "{:>6} {:>11} {:<34} does not fit: needs {:.1} GiB (CSR, factor, blocks), {:.1} GiB available",
                        n,
                        n * n,
                        standard_label,
                        gib(need as f64),
                        gib(available_memory() as f64)
                    );
                    None
                }
                None => {
                    println!(
                        "{:>6} {:>11} {standard_label:<34} estimate failed",
                        n,
                        n * n
                    );
                    None
                }
            }
        } else {
            // Too large even to estimate on this machine (the symbolic factorisation of 100 M
            // unknowns): the CSR alone, and the factor extrapolated as n·log n.
            let known = last_estimate.or_else(|| standard_estimate(2000).map(|b| (2000, b)));
            let extrapolated = known.map(|(m, need)| {
                let (a, b) = ((m * m) as f64, (n * n) as f64);
                need as f64 * (b * b.ln()) / (a * a.ln())
            });
            println!(
                "{:>6} {:>11} {:<34} does not fit: the CSR alone is {:.1} GiB; with its factor ≈ {} GiB (n·log n from {}²)",
                n,
                n * n,
                standard_label,
                gib(csr64_bytes(n) as f64),
                extrapolated.map_or("?".into(), |b| format!("{:.0}", gib(b))),
                known.map_or(0, |k| k.0)
            );
            None
        };
        if let Some(m) = &standard {
            row(n, standard_label, m, "1");
        }
        let (mode, label) = if n < HUGE {
            ("default", "ours: stencil + multigrid LOBPCG")
        } else {
            ("out-of-core", "ours, out of core, 8 GiB budget")
        };
        if dry {
            continue;
        }
        let ours = measure_self(&["--child", mode, &n.to_string()]);
        match (&ours, &standard) {
            (Some(o), Some(s)) => row(
                n,
                label,
                o,
                &format!(
                    "{:.1}× faster, {:.1}× less memory",
                    s.seconds / o.seconds,
                    s.rss_mib / o.rss_mib
                ),
            ),
            (Some(o), None) => row(n, label, o, "—"),
            (None, _) => println!("{:>6} {:>11} {label:<34} failed", n, n * n),
        }
    }
    println!(
        "RSS: the solve's process peak resident memory (file pages of mapped scratch included); \
         scratch: GiB of scratch files (blocks and, out of core, the eigenvectors)"
    );
}
