//! The profiler example: a small quantum-dot solve (2D GaAs parabolic dot, ħω = 10 meV) done
//! twice — matrix-free multigrid LOBPCG, then an assembled CSR Hamiltonian with shift-invert —
//! with the sampling profiler on, marks at every phase and grid level, scoped statistics per
//! phase and a leak check at the end. Writes `profile.svg`, `profile.csv` and `profile.json`.
//!
//! ```text
//! cargo run --release --example profile_solve                 # 400 × 400 grid, files in .
//! cargo run --release --example profile_solve -- --n 600 --out /tmp
//! ```
//! Open `profile.svg` in a browser.

use qdsim_mem::matrix::AnyCsr;
use qdsim_mem::memory::{MemoryManager, PoolBuffer};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Grid, HamiltonianSpec, parabolic_potential};
use qdsim_mem::profiler::{ExportFormat, Profiler, ProfilerConfig};
use qdsim_mem::solver::{EigenOptions, Method, Progress, csr_lowest, lowest_states};
use std::path::PathBuf;
use std::time::Duration;

fn parse_args() -> Result<(usize, PathBuf), String> {
    let (mut n, mut out) = (400usize, PathBuf::from("."));
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--n" => n = value()?.parse().map_err(|e| format!("--n: {e}"))?,
            "--out" => out = PathBuf::from(value()?),
            _ => return Err("usage: profile_solve [--n points-per-axis] [--out directory]".into()),
        }
    }
    if n < 16 {
        return Err("--n must be at least 16".into());
    }
    Ok((n, out))
}

fn run() -> qdsim_mem::Result<()> {
    let (n, out) = parse_args().map_err(qdsim_mem::Error::invalid_argument)?;
    let manager = MemoryManager::with_defaults()?;
    let profiler = Profiler::new(
        &manager,
        ProfilerConfig {
            interval: Duration::from_millis(10),
            ..ProfilerConfig::default()
        },
    )?;
    profiler.start()?;
    let start = manager.checkpoint();

    let (length, hw) = (120.0, 0.010);
    let grid = Grid::dirichlet_box(&[length, length], &[n, n])?;
    let mut potential = PoolBuffer::<f64>::uninit_values(&manager, n * n, "potential")?;
    parabolic_potential(&grid, GAAS_MASS, hw, &mut potential)?;
    let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&potential));
    profiler.mark("potential ready")?;
    let options = EigenOptions {
        k: 10,
        ..EigenOptions::default()
    };

    // Phase 1: matrix-free, coarse to fine; a mark each time the solver moves to a finer level.
    manager.push_scope("multigrid LOBPCG");
    let mut level = usize::MAX;
    let mut on_progress = |p: &Progress| {
        if p.level != level {
            level = p.level;
            let _ = profiler.mark(&format!("level {}/{}", p.levels - p.level, p.levels));
        }
        false
    };
    let lobpcg = lowest_states::<f64>(&manager, &spec, &options, Some(&mut on_progress))?;
    profiler.mark("LOBPCG done")?;
    drop(lobpcg.vectors);
    let phase1 = manager.pop_scope()?;

    // Phase 2: assemble CSR, factor, shift-invert Lanczos.
    manager.push_scope("CSR + shift-invert");
    let AnyCsr::Real(h) = spec.csr(&manager, None, "hamiltonian")? else {
        unreachable!("this Hamiltonian is real")
    };
    profiler.mark("CSR assembled")?;
    let shift_invert = csr_lowest::<f64>(
        &manager,
        &h,
        &EigenOptions {
            method: Method::ShiftInvert,
            ..options.clone()
        },
        None,
    )?;
    profiler.mark("shift-invert done")?;
    drop(shift_invert.vectors);
    drop(h);
    let phase2 = manager.pop_scope()?;
    drop(potential);
    profiler.mark("freed")?;
    std::thread::sleep(Duration::from_millis(30));
    profiler.stop();

    println!(
        "{n} × {n} grid, lowest 10 states of a 10 meV GaAs dot (exact: 10, 20, 20, 30, 30, 30, … meV)"
    );
    println!(
        "{:>4} {:>16} {:>16}",
        "n", "LOBPCG (meV)", "shift-inv (meV)"
    );
    for (i, (a, b)) in lobpcg.values.iter().zip(&shift_invert.values).enumerate() {
        println!("{i:>4} {:>16.6} {:>16.6}", a * 1e3, b * 1e3);
    }
    for s in [&phase1, &phase2] {
        println!(
            "phase {:<20} {:>6.2} s  peak {:>8.1} MiB  {:>6} allocations  net {} bytes",
            s.name,
            s.seconds,
            s.peak_bytes_in_use as f64 / (1 << 20) as f64,
            s.allocations,
            s.net_bytes
        );
    }
    print!("{}", manager.leaks_since(start, 1 << 20).text());

    std::fs::create_dir_all(&out).map_err(|e| {
        qdsim_mem::Error::new(
            qdsim_mem::ErrorKind::Io,
            format!("cannot create {}: {e}", out.display()),
        )
    })?;
    let history = profiler.history();
    for (format, name) in [
        (ExportFormat::Svg, "profile.svg"),
        (ExportFormat::Csv, "profile.csv"),
        (ExportFormat::Json, "profile.json"),
    ] {
        history.write(format, &out.join(name))?;
    }
    std::fs::write(
        out.join("profile.svg"),
        history.to_svg(&format!("qdsim-mem: {n} × {n} quantum dot, two solvers")),
    )
    .map_err(|e| qdsim_mem::Error::new(qdsim_mem::ErrorKind::Io, e.to_string()))?;
    println!(
        "{} samples, {} marks; sampled peak {:.1} MiB at {:.2} s (exact peak {:.1} MiB); wrote {}/profile.{{svg,csv,json}}",
        history.samples.len(),
        history.marks.len(),
        history.peak_bytes as f64 / (1 << 20) as f64,
        history.peak_time,
        history.exact_peak_bytes as f64 / (1 << 20) as f64,
        out.display()
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("profile_solve: {e}");
        std::process::exit(1);
    }
}
