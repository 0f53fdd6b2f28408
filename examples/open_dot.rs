//! The open-dot example: a GaAs disc well (20 nm radius) inside a thin ring barrier (4 nm,
//! 150 meV), open to the outside, in a 240 nm box whose faces absorb (a quadratic complex
//! potential over the outer 60 nm). Its states tunnel out through the ring: they are resonances
//! E − iΓ/2, found by the matrix-free coarse-to-fine grid solver. It prints E and Γ in meV with
//! each state's weight inside the ring (1 for a well-confined state, small for the continuum
//! states of the box) and writes an SVG picture of |ψ|² of the sharpest resonance.
//!
//! ```text
//! cargo run --release --example open_dot                       # 500 × 500 grid, 4 states near 15 meV
//! cargo run --release --example open_dot -- --n 1000 --k 6 --target-mev 20 --svg dot.svg
//! cargo run --release --example open_dot -- --dims 3 --n 80 --method shift-invert
//! cargo run --release --example open_dot -- --n 1000 --out-of-core   # search space in a scratch file
//! ```

use num_complex::Complex64;
use qdsim_mem::memory::{ManagerConfig, MemoryManager, PoolBuffer};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Absorber, Grid, HamiltonianSpec, open_dot_potential};
use qdsim_mem::solver::{EigenOptions, Method, Placement, Progress, grid_resonances};
use std::io::Write;

struct Args {
    dims: usize,
    n: usize,
    k: usize,
    target: f64,
    tol: f64,
    method: Method,
    svg: String,
    out_of_core: bool,
}

/// The geometry (nm, eV): box, well radius, barrier thickness and height, absorber.
const BOX: f64 = 240.0;
const RADIUS: f64 = 20.0;
const BARRIER: f64 = 4.0;
const HEIGHT: f64 = 0.150;
const ABSORBER: Absorber = Absorber {
    faces: 0, // all faces of the grid, set in main
    width: 60.0,
    strength: 0.05,
    order: 2,
};

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        dims: 2,
        n: 500,
        k: 4,
        target: 0.015,
        tol: 1e-6,
        method: Method::Auto,
        svg: "open_dot.svg".into(),
        out_of_core: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--dims" => a.dims = value()?.parse().map_err(|e| format!("--dims: {e}"))?,
            "--n" => a.n = value()?.parse().map_err(|e| format!("--n: {e}"))?,
            "--k" => a.k = value()?.parse().map_err(|e| format!("--k: {e}"))?,
            "--target-mev" => {
                a.target = value()?
                    .parse::<f64>()
                    .map_err(|e| format!("--target-mev: {e}"))?
                    * 1e-3
            }
            "--tol" => a.tol = value()?.parse().map_err(|e| format!("--tol: {e}"))?,
            "--svg" => a.svg = value()?,
            "--out-of-core" => a.out_of_core = true,
            "--method" => {
                a.method = match value()?.as_str() {
                    "auto" => Method::Auto,
                    "shift-invert" => Method::ShiftInvert,
                    other => return Err(format!("--method {other}: use auto or shift-invert")),
                }
            }
            "--help" | "-h" => {
                return Err(
                    "usage: open_dot [--dims 2|3] [--n points-per-axis] [--k states] \
                            [--target-mev meV] [--tol relative-residual] \
                            [--method auto|shift-invert] [--svg file] [--out-of-core]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    if !(2..=3).contains(&a.dims) {
        return Err(format!("--dims {}: use 2 or 3", a.dims));
    }
    Ok(a)
}

/// The fraction of |ψ|² inside the barrier's outer radius.
fn weight_inside(grid: &Grid, psi: &[Complex64]) -> f64 {
    let axes = grid.axes();
    let (mut inside, mut total) = (0.0, 0.0);
    for (p, v) in psi.iter().enumerate() {
        let (mut rest, mut r2) = (p, 0.0);
        for axis in axes {
            let d = axis.coordinate(rest % axis.points) - axis.extent() / 2.0;
            r2 += d * d;
            rest /= axis.points;
        }
        total += v.norm_sqr();
        if r2 < (RADIUS + BARRIER) * (RADIUS + BARRIER) {
            inside += v.norm_sqr();
        }
    }
    inside / total
}

/// An SVG heat map of |ψ|² on the plane z = middle (2D: the grid), at most 160 cells a side.
fn svg_picture(grid: &Grid, psi: &[Complex64], title: &str) -> String {
    let [nx, ny, nz] = grid.shape();
    let plane = (nz / 2) * nx * ny;
    let cells = nx.min(160);
    let step = nx.div_ceil(cells);
    let (cx, cy) = (nx.div_ceil(step), ny.div_ceil(step));
    let mut density = vec![0.0; cx * cy];
    for j in 0..ny {
        for i in 0..nx {
            density[(j / step) * cx + i / step] += psi[plane + j * nx + i].norm_sqr();
        }
    }
    let max = density.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
    let size = 4;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         shape-rendering=\"crispEdges\">\n<title>{title}</title>\n",
        w = cx * size,
        h = cy * size + 24
    );
    for j in 0..cy {
        for i in 0..cx {
            // White → blue → dark red as |ψ|² rises.
            let t = (density[j * cx + i] / max).sqrt();
            let (r, g, b) = if t < 0.5 {
                let s = 2.0 * t;
                (255.0 * (1.0 - s), 255.0 * (1.0 - 0.6 * s), 255.0)
            } else {
                let s = 2.0 * t - 1.0;
                (160.0 * s, 102.0 * (1.0 - s), 255.0 * (1.0 - s))
            };
            svg += &format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{size}\" height=\"{size}\" fill=\"rgb({},{},{})\"/>\n",
                i * size,
                (cy - 1 - j) * size,
                r as u8,
                g as u8,
                b as u8
            );
        }
    }
    svg += &format!(
        "<text x=\"4\" y=\"{}\" font-family=\"sans-serif\" font-size=\"14\">{title}</text>\n</svg>\n",
        cy * size + 18
    );
    svg
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
    let n = args.n;
    let grid = Grid::dirichlet_box(&vec![BOX; args.dims], &vec![n; args.dims]).expect("grid");
    let mut potential =
        PoolBuffer::<f64>::uninit_values(&manager, grid.len(), "potential").expect("potential");
    open_dot_potential(&grid, RADIUS, BARRIER, HEIGHT, &mut potential).expect("potential");
    let spec = HamiltonianSpec {
        absorber: Some(Absorber {
            faces: (1 << (2 * args.dims)) - 1,
            ..ABSORBER
        }),
        ..HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(&potential))
    };
    let options = EigenOptions {
        k: args.k,
        tol: args.tol,
        method: args.method,
        placement: if args.out_of_core {
            Placement::OutOfCore
        } else {
            Placement::Auto
        },
        ..EigenOptions::default()
    };
    println!(
        "{}D GaAs open dot: {RADIUS} nm well, {BARRIER} nm × {} meV barrier, {BOX} nm box with a \
         {} nm absorber; {n}^{} grid ({} unknowns); {} resonances nearest {} meV",
        args.dims,
        HEIGHT * 1e3,
        ABSORBER.width,
        args.dims,
        grid.len(),
        args.k,
        args.target * 1e3
    );
    // One line per level, rewritten at each iteration.
    let start = std::time::Instant::now();
    let mut last_level = usize::MAX;
    let mut progress = |p: &Progress| {
        if p.level != last_level {
            if last_level != usize::MAX {
                eprintln!();
            }
            last_level = p.level;
        }
        eprint!(
            "\r  level {}/{}  iteration {:>3}  {}/{} converged  residual {:.1e}  {:.1} s   ",
            p.levels - p.level,
            p.levels,
            p.iteration,
            p.converged,
            p.wanted,
            p.max_residual,
            start.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
        false
    };
    let target = Complex64::new(args.target, 0.0);
    let result = match grid_resonances(&manager, &spec, target, &options, Some(&mut progress)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("\nsolve failed: {e}");
            std::process::exit(1);
        }
    };
    eprintln!();
    println!(
        "{:>3} {:>12} {:>12} {:>10} {:>10} {:>10}",
        "", "E (meV)", "Γ (meV)", "in dot", "residual", "converged"
    );
    for (j, (e, r)) in result.values.iter().zip(&result.residuals).enumerate() {
        println!(
            "{:>3} {:>12.6} {:>12.6} {:>10.3} {:>10.1e} {:>10}",
            j,
            e.re * 1e3,
            -2.0 * e.im * 1e3,
            weight_inside(&grid, result.vectors.col(j)),
            r,
            if j < result.converged { "yes" } else { "no" }
        );
    }
    println!(
        "{} in {:.2} s: {} iterations over {} grid levels, {} operator applications; manager \
         peak {:.1} MiB{}",
        match args.method {
            Method::ShiftInvert => "sparse-LU shift-invert",
            _ => "coarse-to-fine block Davidson",
        },
        result.seconds,
        result.iterations,
        result.levels,
        result.applications,
        result.peak_pool_bytes as f64 / 1048576.0,
        if result.scratch_bytes > 0 {
            format!(
                ", scratch file {:.1} MiB (search space)",
                result.scratch_bytes as f64 / 1048576.0
            )
        } else {
            String::new()
        }
    );
    // The sharpest resonance: the converged state with the smallest Γ that lives in the dot.
    let sharpest = (0..result.converged)
        .filter(|&j| weight_inside(&grid, result.vectors.col(j)) > 0.5)
        .min_by(|&a, &b| (-result.values[a].im).total_cmp(&-result.values[b].im));
    if let Some(j) = sharpest {
        let e = result.values[j];
        let title = format!(
            "|ψ|² of the resonance E = {:.4} meV, Γ = {:.2e} meV",
            e.re * 1e3,
            -2.0 * e.im * 1e3
        );
        match std::fs::write(&args.svg, svg_picture(&grid, result.vectors.col(j), &title)) {
            Ok(()) => println!("picture of state {j}: {}", args.svg),
            Err(e) => eprintln!("cannot write {}: {e}", args.svg),
        }
    }
    if !result.is_converged() {
        std::process::exit(1);
    }
}
