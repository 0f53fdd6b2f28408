//! The quantum-dot example: a 2D GaAs parabolic dot (ħω = 10 meV) in a 120 nm hard-wall box,
//! the lowest states by the multigrid block eigensolver, printed against the exact oscillator
//! levels ħω·(n + 1) (n + 1-fold degenerate), with residuals, time, a progress bar and the
//! memory report. `--dims 3` solves the 3D dot instead (100³ grid and 20 states unless told):
//! levels ħω·(n + 3/2), (n + 1)(n + 2)/2-fold.
//!
//! ```text
//! cargo run --release --example quantum_dot                  # 1000 × 1000 grid, 10 states
//! cargo run --release --example quantum_dot -- --n 500 --k 15 --method shift-invert
//! cargo run --release --example quantum_dot -- --dims 3       # 100³ grid, 20 states (4 shells)
//! ```

use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolBuffer};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Grid, HamiltonianSpec, parabolic_potential};
use qdsim_mem::solver::{EigenOptions, Method, Progress, lowest_states};
use std::io::Write;

struct Args {
    dims: usize,
    n: Option<usize>,
    k: Option<usize>,
    length: f64,
    hw: f64,
    method: Method,
    tol: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        dims: 2,
        n: None,
        k: None,
        length: 120.0,
        hw: 0.010,
        method: Method::Auto,
        tol: 1e-6,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--dims" => {
                a.dims = match value()?.as_str() {
                    "2" => 2,
                    "3" => 3,
                    other => return Err(format!("--dims {other}: use 2 or 3")),
                }
            }
            "--n" => a.n = Some(value()?.parse().map_err(|e| format!("--n: {e}"))?),
            "--k" => a.k = Some(value()?.parse().map_err(|e| format!("--k: {e}"))?),
            "--box" => a.length = value()?.parse().map_err(|e| format!("--box: {e}"))?,
            "--hw-mev" => {
                a.hw = value()?
                    .parse::<f64>()
                    .map_err(|e| format!("--hw-mev: {e}"))?
                    * 1e-3
            }
            "--tol" => a.tol = value()?.parse().map_err(|e| format!("--tol: {e}"))?,
            "--method" => {
                a.method = match value()?.as_str() {
                    "auto" => Method::Auto,
                    "lobpcg" => Method::Lobpcg,
                    "shift-invert" => Method::ShiftInvert,
                    other => {
                        return Err(format!(
                            "--method {other}: use auto, lobpcg or shift-invert"
                        ));
                    }
                }
            }
            "--help" | "-h" => {
                return Err("usage: quantum_dot [--dims 2|3] [--n points-per-axis] [--k states] [--box nm] [--hw-mev meV] \
                            [--tol relative-residual] [--method auto|lobpcg|shift-invert]"
                    .into());
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    Ok(a)
}

/// The exact oscillator levels, the lowest `k`: in 2D ħω(N + 1), N + 1 times each; in 3D
/// ħω(N + 3/2), (N + 1)(N + 2)/2 times each.
fn exact_levels(dims: usize, hw: f64, k: usize) -> Vec<f64> {
    (0..)
        .flat_map(|shell: usize| {
            let (energy, times) = if dims == 3 {
                (hw * (shell as f64 + 1.5), (shell + 1) * (shell + 2) / 2)
            } else {
                (hw * (shell + 1) as f64, shell + 1)
            };
            std::iter::repeat_n(energy, times)
        })
        .take(k)
        .collect()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let manager = MemoryManager::new(ManagerConfig::default()).expect("memory manager");
    let (n, k) = if args.dims == 3 {
        (args.n.unwrap_or(100), args.k.unwrap_or(20))
    } else {
        (args.n.unwrap_or(1000), args.k.unwrap_or(10))
    };
    let grid =
        Grid::dirichlet_box(&vec![args.length; args.dims], &vec![n; args.dims]).expect("grid");
    let unknowns = grid.len();
    // V = (ħω)² r² / (4 ħ²/2m*), in the manager's pool like every other array.
    let mut potential =
        PoolBuffer::<f64>::uninit_values(&manager, unknowns, "potential").expect("potential");
    parabolic_potential(&grid, GAAS_MASS, args.hw, &mut potential).expect("potential");
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&potential));
    let options = EigenOptions {
        k,
        tol: args.tol,
        method: args.method,
        ..EigenOptions::default()
    };
    println!(
        "{}D GaAs parabolic dot: ħω = {} meV, {} nm box, {} grid ({unknowns} unknowns), lowest {} states",
        args.dims,
        args.hw * 1e3,
        args.length,
        vec![n.to_string(); args.dims].join(" × "),
        k
    );
    let mut progress = |p: &Progress| {
        let width = 20;
        let done = width * p.converged / p.wanted.max(1);
        eprint!(
            "\r  level {}/{}  iteration {:>3}  [{}{}] {:>2}/{} converged  residual {:.1e}   ",
            p.levels - p.level,
            p.levels,
            p.iteration,
            "#".repeat(done),
            "-".repeat(width - done),
            p.converged,
            p.wanted,
            p.max_residual
        );
        let _ = std::io::stderr().flush();
        false
    };
    let result = match lowest_states::<f64>(&manager, &spec, &options, Some(&mut progress)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("\nsolve failed: {e}");
            std::process::exit(1);
        }
    };
    eprintln!();
    println!(
        "{:>4} {:>14} {:>12} {:>12} {:>12}",
        "n", "E (meV)", "exact (meV)", "error (meV)", "residual"
    );
    for (i, ((e, x), r)) in result
        .values
        .iter()
        .zip(exact_levels(args.dims, args.hw, k))
        .zip(&result.residuals)
        .enumerate()
    {
        println!(
            "{:>4} {:>14.6} {:>12.3} {:>12.2e} {:>12.2e}",
            i,
            e * 1e3,
            x * 1e3,
            (e - x) * 1e3,
            r
        );
    }
    println!(
        "{} in {:.2} s: {} iterations over {} grid levels, {} operator applications, {}/{} converged",
        match result.method {
            Method::ShiftInvert => "shift-invert",
            _ => "multigrid LOBPCG",
        },
        result.seconds,
        result.iterations,
        result.levels,
        result.applications,
        result.converged,
        k
    );
    println!(
        "peak pool memory during the solve: {:.1} MiB",
        result.peak_pool_bytes as f64 / (1 << 20) as f64
    );
    println!();
    print!("{}", manager.allocation_report());
    if !result.is_converged() {
        std::process::exit(1);
    }
}
