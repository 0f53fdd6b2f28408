//! Out-of-core solve under a memory budget: the parabolic dot of docs/validation.md case 2 on a medium grid,
//! solved once in core and once out of core with a budget of a third of the in-core estimate;
//! each solve runs in its own process so that its peak resident memory (VmHWM) is its own.
//!
//! ```text
//! cargo run --release --example out_of_core [points per axis = 600] [k = 10] [scratch dir]
//! ```

use qdsim_mem::memory::MemoryManager;
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Grid, HamiltonianSpec, parabolic_potential};
use qdsim_mem::solver::{EigenOptions, Placement, lowest_states, lowest_states_memory_estimate};
use std::process::Command;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// A `kB` field of /proc/self/status, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn problem(points: usize) -> (Grid, Vec<f64>) {
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[points, points]).expect("grid");
    let mut v = vec![0.0; grid.len()];
    parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v).expect("potential");
    (grid, v)
}

/// One solve in this process; prints `peak_before peak_after scratch seconds iterations E0..`.
fn child(mode: &str, points: usize, k: usize, budget: u64, dir: Option<String>) {
    let (grid, v) = problem(points);
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
    let manager = MemoryManager::with_defaults().expect("manager");
    let options = EigenOptions {
        k,
        placement: if mode == "out" {
            Placement::OutOfCore
        } else {
            Placement::InCore
        },
        memory_budget: Some(budget),
        scratch_dir: dir.map(Into::into),
        ..EigenOptions::default()
    };
    let before = status_bytes("VmHWM:");
    let r = lowest_states::<f64>(&manager, &spec, &options, None).expect("solve");
    let after = status_bytes("VmHWM:");
    let values: Vec<String> = r.values.iter().map(|e| format!("{:.6}", e * 1e3)).collect();
    println!(
        "{before} {after} {} {:.2} {} {}",
        r.scratch_bytes,
        r.seconds,
        r.iterations,
        values.join(",")
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let parse = |i: usize| args[i].parse().expect("number");
        child(
            &args[2],
            parse(3),
            parse(4),
            args[5].parse().expect("budget"),
            args.get(6).cloned(),
        );
        return;
    }
    let points: usize = args.get(1).map_or(600, |a| a.parse().expect("points"));
    let k: usize = args.get(2).map_or(10, |a| a.parse().expect("k"));
    let dir = args.get(3).cloned();
    let estimate = {
        let (grid, v) = problem(points);
        let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
        let manager = MemoryManager::with_defaults().expect("manager");
        let options = EigenOptions {
            k,
            ..EigenOptions::default()
        };
        lowest_states_memory_estimate::<f64>(&manager, &spec, &options).expect("estimate")
    };
    let budget = estimate / 3;
    println!(
        "parabolic dot {points}², k = {k}: in-core estimate {:.1} MiB, budget {:.1} MiB",
        mib(estimate),
        mib(budget)
    );
    println!(
        "{:<12} {:>14} {:>14} {:>14} {:>12} {:>8} {:>6}  lowest states (meV)",
        "placement", "RSS before", "peak RSS", "solve's peak", "scratch", "seconds", "iter"
    );
    let mut energies = Vec::new();
    for mode in ["in", "out"] {
        let exe = std::env::current_exe().expect("current exe");
        let mut cmd = Command::new(exe);
        cmd.args([
            "--child",
            mode,
            &points.to_string(),
            &k.to_string(),
            &budget.to_string(),
        ]);
        if let Some(d) = &dir {
            cmd.arg(d);
        }
        let out = cmd.output().expect("run the child");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f[i].parse::<u64>().expect("number");
        let (before, after, scratch) = (num(0), num(1), num(2));
        println!(
            "{:<12} {:>10.1} MiB {:>10.1} MiB {:>10.1} MiB {:>8.1} MiB {:>8} {:>6}  {}",
            if mode == "in" {
                "in core"
            } else {
                "out of core"
            },
            mib(before),
            mib(after),
            mib(after.saturating_sub(before)),
            mib(scratch),
            f[3],
            f[4],
            f[5]
        );
        energies.push(f[5].to_string());
    }
    println!(
        "same energies (to the printed digits): {}",
        energies[0] == energies[1]
    );
}
