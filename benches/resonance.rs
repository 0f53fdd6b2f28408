//! Resonance benchmark: the k = 4 complex eigenvalues E − iΓ/2 nearest 15 meV of the 2D GaAs
//! open dot of `examples/open_dot.rs` (20 nm well inside a 4 nm × 150 meV ring, 240 nm box, a
//! quadratic 0.05 eV absorber over the outer 60 nm of every face) on 250² and 500² grids
//! (`--large`: also 1000² and 2000²; `--3d`: also the 3D dot on 60³, `--3d 60,100` on those
//! grids; `--grids 250,1000` picks the 2D grids), three solvers on the same matrix in the same run:
//!
//! - **grid**: our matrix-free coarse-to-fine block Davidson (`grid_resonances`, the default
//!   path of `qdsim_solve_resonances`). Up to 70 000 points (250² included) a grid is its own
//!   bottom grid and this *is* the sparse-LU solve, so its row repeats the CSR one;
//! - **CSR**: our sparse-LU shift-invert block Krylov–Schur on the assembled matrix
//!   (`solver::resonances`);
//! - **scipy**: `scipy.sparse.linalg.eigs(A, k=4, sigma=0.015)` (ARPACK shift-invert Arnoldi on
//!   a SuperLU factor, `benches/external/scipy_eigs.py`) on that matrix, written by this
//!   benchmark as MatrixMarket (bit-exact values). Skipped, with the reason printed, when
//!   python3 with scipy is missing or its estimated memory would not fit.
//!
//! Each solve runs in a child process so that its peak resident memory (`wait4`'s
//! `ru_maxrss`) is its own. Printed per solve: wall time (ours: the solver's own clock, the
//! grid solver's hierarchy included, the CSR assembly not; scipy: `eigs` only, the file read
//! not), peak RSS, the manager's peak during the solve (`Resonances::peak_pool_bytes`: pools
//! and the LU factor's external account) and RSS ÷ manager, converged/k, the largest
//! |E_grid − E_other| over our grid solver's values (each matched to the nearest value of the
//! other list) in meV and relative to |E|, and scipy's time and RSS divided by this solver's.
//!
//! Run with `cargo bench --bench resonance [-- --large] [--3d [60,100]] [--grids 250,500,1000]
//! [--solvers grid,scipy]` (`--solvers` picks which of grid, csr and scipy run: the CSR solve
//! is the slowest of the three from 500² on).

mod common;

use common::{available_memory, gib, measured, python_has, run_measured, serve_measure_mode};
use num_complex::Complex64;
use qdsim_mem::io::write_matrix_market;
use qdsim_mem::memory::{MemoryManager, PoolBuffer};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Absorber, Grid, HamiltonianSpec, StencilOperator, open_dot_potential};
use qdsim_mem::solver::{
    EigenOptions, Resonances, grid_resonances, resonances, resonances_factor_estimate,
    sparse_lu_factor_estimate,
};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Resonances wanted.
const K: usize = 4;
/// Target energy, eV: between the dot's lowest resonances (see `examples/open_dot.rs`).
const TARGET: f64 = 0.017;
/// Relative residual tolerance of all three solvers: ‖Hx − Ex‖ ≤ TOL·|E| (ours; ARPACK's is the
/// same bound on (H − σ)⁻¹). An eigenvalue's error is at most its condition number times the
/// residual, and these resonances are well conditioned (|xᴴx| / |xᵀx| near 1 for states that
/// live in the dot), so 1e-8 pins every value to ~1e-8 relative — two orders below the 1e-6
/// agreement the comparison checks — without the stall of tighter tolerances near rounding.
const TOL: f64 = 1e-8;
/// Seed of our solvers' random start blocks.
const SEED: u64 = 0x5eed_cafe;

/// The geometry of `examples/open_dot.rs` (nm, eV).
const BOX: f64 = 240.0;
const RADIUS: f64 = 20.0;
const BARRIER: f64 = 4.0;
const HEIGHT: f64 = 0.150;
const ABSORBER_WIDTH: f64 = 60.0;
const ABSORBER_STRENGTH: f64 = 0.05;
const ABSORBER_ORDER: u32 = 2;

/// scipy's peak RSS per byte of our LU factor estimate (`sparse_lu_factor_estimate`, which has
/// a slack of 4 on the symbolic fill) — which dominates our CSR solver's manager peak. In
/// `cargo bench --bench resonance` on the 2-core machine of docs/benchmarks.md, scipy's RSS
/// was 0.52 (250²) and 0.40 (500²) of that peak (SuperLU with COLAMD ordering; interpreter,
/// numpy and the matrix included); 0.6 decides, before starting it, whether scipy fits the
/// memory available.
const SCIPY_RSS_PER_ESTIMATE: f64 = 0.6;

/// A grid of the benchmark: `n` points per axis in `dims` dimensions.
#[derive(Clone, Copy)]
struct Case {
    dims: usize,
    n: usize,
}

impl Case {
    fn label(self) -> String {
        format!("{}{}", self.n, if self.dims == 2 { "²" } else { "³" })
    }
}

/// The open dot's grid and potential in `manager`'s pool.
fn open_dot(manager: &MemoryManager, case: Case) -> (Grid, PoolBuffer<f64>) {
    let grid = Grid::dirichlet_box(&vec![BOX; case.dims], &vec![case.n; case.dims]).unwrap();
    let mut v = PoolBuffer::<f64>::uninit_values(manager, grid.len(), "potential").unwrap();
    open_dot_potential(&grid, RADIUS, BARRIER, HEIGHT, &mut v).unwrap();
    (grid, v)
}

/// The open dot's Hamiltonian: the potential plus the absorber on every face.
fn spec<'a>(grid: &Grid, potential: &'a [f64]) -> HamiltonianSpec<'a> {
    HamiltonianSpec {
        absorber: Some(Absorber {
            faces: (1 << (2 * grid.dims())) - 1,
            width: ABSORBER_WIDTH,
            strength: ABSORBER_STRENGTH,
            order: ABSORBER_ORDER,
        }),
        ..HamiltonianSpec::new(grid.clone(), GAAS_MASS, Some(potential))
    }
}

/// The assembled (complex symmetric) Hamiltonian, CSR, in `manager`'s pools.
fn assemble(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
) -> qdsim_mem::matrix::CsrMatrix<Complex64> {
    StencilOperator::<Complex64>::new(manager, spec, "hamiltonian")
        .unwrap()
        .to_csr("hamiltonian")
        .unwrap()
}

/// Child mode: one solve by `solver` ("grid" or "csr"), printed as
/// `seconds manager_peak_bytes converged re_1 im_1 … re_k im_k`.
fn child(solver: &str, case: Case) {
    let manager = MemoryManager::with_defaults().unwrap();
    let (grid, v) = open_dot(&manager, case);
    let spec = spec(&grid, &v);
    let target = Complex64::new(TARGET, 0.0);
    let result = if solver == "grid" {
        let options = EigenOptions {
            k: K,
            tol: TOL,
            seed: SEED,
            ..EigenOptions::default()
        };
        grid_resonances(&manager, &spec, target, &options, None)
    } else {
        let h = assemble(&manager, &spec);
        resonances(&manager, &h, target, K, TOL, SEED)
    };
    let r: Resonances = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{solver} solve on {} failed: {e}", case.label());
            std::process::exit(1);
        }
    };
    // Only the converged values: those are the ones compared.
    let values: Vec<String> = r.values[..r.converged]
        .iter()
        .map(|e| format!("{:e} {:e}", e.re, e.im))
        .collect();
    println!(
        "{} {} {} {}",
        r.seconds,
        r.peak_pool_bytes,
        r.converged,
        values.join(" ")
    );
}

/// One solve as measured from outside.
struct Row {
    seconds: f64,
    rss_mib: f64,
    /// The manager's peak (ours only).
    manager_mib: Option<f64>,
    converged: usize,
    /// The converged eigenvalues, eV.
    values: Vec<Complex64>,
}

/// Reads `seconds [manager_bytes] converged re im …` (the manager field when `with_manager`).
fn parse_row(out: &str, rss_mib: f64, with_manager: bool) -> Option<Row> {
    let mut f = out.split_whitespace();
    let seconds = f.next()?.parse().ok()?;
    let manager_mib = if with_manager {
        Some(f.next()?.parse::<f64>().ok()? / 1048576.0)
    } else {
        None
    };
    let converged = f.next()?.parse().ok()?;
    let numbers: Vec<f64> = f.map(|s| s.parse().ok()).collect::<Option<_>>()?;
    if numbers.len() != 2 * converged {
        return None;
    }
    Some(Row {
        seconds,
        rss_mib,
        manager_mib,
        converged,
        values: numbers
            .chunks(2)
            .map(|c| Complex64::new(c[0], c[1]))
            .collect(),
    })
}

/// One of our solvers in a child process of this benchmark.
fn measure_ours(solver: &str, case: Case) -> Option<Row> {
    let mut command = measured(std::env::current_exe().unwrap());
    command.args([
        "--child",
        solver,
        &case.dims.to_string(),
        &case.n.to_string(),
    ]);
    let (out, rss) = run_measured(command)?;
    parse_row(&out, rss, true)
}

/// scipy's `eigs(sigma = TARGET)` on the matrix in `path`.
fn measure_scipy(path: &Path) -> Option<Row> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/external/scipy_eigs.py"
    );
    let mut command = measured("python3");
    command
        .arg(script)
        .arg(path)
        .args([K.to_string(), TARGET.to_string(), TOL.to_string()])
        .stderr(Stdio::null());
    let (out, rss) = run_measured(command)?;
    parse_row(&out, rss, false)
}

/// Largest distance from one of `ours` to the nearest of `other`, eV, and that distance
/// relative to |E|. `None` when either list is empty.
fn max_difference(ours: &[Complex64], other: &[Complex64]) -> Option<(f64, f64)> {
    if ours.is_empty() || other.is_empty() {
        return None;
    }
    ours.iter()
        .map(|e| {
            let d = other
                .iter()
                .map(|o| (e - o).norm())
                .fold(f64::MAX, f64::min);
            (d, d / e.norm())
        })
        .reduce(|a, b| if b.0 > a.0 { b } else { a })
}

/// What the parent knows before the children run: the matrix file for scipy (or why scipy does
/// not run) and whether our CSR solve's factor fits (or why not).
struct Plan {
    matrix_file: Result<PathBuf, String>,
    csr: Result<(), String>,
}

/// Assembles the Hamiltonian once in this process to estimate the factors and, when scipy
/// runs, write the matrix it reads. The memory is returned before the children start.
fn plan(case: Case, scipy: &Result<(), String>) -> Plan {
    let manager = MemoryManager::with_defaults().unwrap();
    let (grid, v) = open_dot(&manager, case);
    let h = assemble(&manager, &spec(&grid, &v));
    let factor = resonances_factor_estimate(&h).unwrap() as f64;
    let lu = sparse_lu_factor_estimate(&h).unwrap() as f64;
    // Leave a tenth of the memory to the system and to this process.
    let available = 0.9 * available_memory() as f64;
    let csr = if factor + h.memory_bytes() as f64 > available {
        Err(format!(
            "skipped (factor estimated at {:.1} GiB, {:.1} GiB available)",
            gib(factor),
            gib(available)
        ))
    } else {
        Ok(())
    };
    let scipy_bytes = SCIPY_RSS_PER_ESTIMATE * lu;
    let matrix_file = match scipy {
        Err(why) => Err(why.clone()),
        Ok(()) if scipy_bytes > available => Err(format!(
            "skipped (estimated {:.1} GiB, {:.1} GiB available)",
            gib(scipy_bytes),
            gib(available)
        )),
        Ok(()) => {
            let path = std::env::temp_dir().join(format!(
                "qdsim-resonance-{}-{}d-{}.mtx",
                std::process::id(),
                case.dims,
                case.n
            ));
            write_matrix_market(&h, &path)
                .map(|()| path)
                .map_err(|e| format!("failed (cannot write the matrix: {e})"))
        }
    };
    Plan { matrix_file, csr }
}

/// Prints one solve's row; `grid` holds our grid solver's values (the comparison's reference)
/// and `scipy` scipy's row (the ratios' reference).
fn print_row(name: &str, case: Case, row: &Row, grid: Option<&Row>, scipy: Option<&Row>) {
    let dash = || String::from("—");
    let manager = row.manager_mib.map_or_else(dash, |m| format!("{m:.1}"));
    let ratio = row
        .manager_mib
        .map_or_else(dash, |m| format!("{:.2}", row.rss_mib / m));
    let difference = match grid {
        Some(g) if name != "grid" => max_difference(&g.values, &row.values),
        _ => None,
    };
    let (abs, rel) = difference.map_or_else(
        || (dash(), dash()),
        |(d, r)| (format!("{:.1e}", d * 1e3), format!("{r:.1e}")),
    );
    let (speed, memory) = match scipy {
        Some(s) if name != "scipy" => (
            format!("{:.1}×", s.seconds / row.seconds),
            format!("{:.1}×", s.rss_mib / row.rss_mib),
        ),
        _ => (dash(), dash()),
    };
    println!(
        "{:<6} {:>6} {:>8.2} {:>9.0} {:>9} {:>7} {:>5} {:>11} {:>8} {:>9} {:>9}",
        name,
        case.label(),
        row.seconds,
        row.rss_mib,
        manager,
        ratio,
        format!("{}/{K}", row.converged),
        abs,
        rel,
        speed,
        memory
    );
}

fn main() {
    serve_measure_mode();
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let case = Case {
            dims: args[i + 2].parse().unwrap(),
            n: args[i + 3].parse().unwrap(),
        };
        child(&args[i + 1], case);
        return;
    }
    let large =
        args.iter().any(|a| a == "--large") || std::env::var_os("QDSIM_BENCH_LARGE").is_some();
    let mut sizes = vec![250, 500];
    if large {
        sizes.extend([1000, 2000]);
    }
    if let Some(i) = args.iter().position(|a| a == "--grids") {
        sizes = args[i + 1]
            .split(',')
            .map(|g| g.parse().expect("--grids 250,500,1000"))
            .collect();
    }
    let mut cases: Vec<Case> = sizes.into_iter().map(|n| Case { dims: 2, n }).collect();
    if let Some(i) = args.iter().position(|a| a == "--3d") {
        // `--3d` alone: 60³; `--3d 60,100`: those sizes.
        let sizes: Vec<usize> = args
            .get(i + 1)
            .and_then(|list| list.split(',').map(|n| n.parse().ok()).collect())
            .unwrap_or_else(|| vec![60]);
        cases.extend(sizes.into_iter().map(|n| Case { dims: 3, n }));
    }
    let solvers: Vec<String> = match args.iter().position(|a| a == "--solvers") {
        Some(i) => args[i + 1].split(',').map(str::to_lowercase).collect(),
        None => vec!["grid".into(), "csr".into(), "scipy".into()],
    };
    let runs = |name: &str| solvers.iter().any(|s| s == name);
    let not_asked = || Err::<(), String>("not run (not in --solvers)".into());
    let scipy: Result<(), String> = if !runs("scipy") {
        not_asked()
    } else if python_has("scipy") {
        Ok(())
    } else {
        Err("skipped (no python3 with scipy)".into())
    };
    println!(
        "{K} resonances nearest {} meV of the GaAs open dot, tol {TOL:e}, {} threads, {:.1} GiB \
         available; each solve in its own process",
        TARGET * 1e3,
        rayon::current_num_threads(),
        gib(available_memory() as f64)
    );
    println!(
        "{:<6} {:>6} {:>8} {:>9} {:>9} {:>7} {:>5} {:>11} {:>8} {:>9} {:>9}",
        "solver",
        "grid",
        "time s",
        "RSS MiB",
        "mgr MiB",
        "RSS/mgr",
        "conv",
        "ΔE meV",
        "ΔE rel",
        "scipy÷t",
        "scipy÷RSS"
    );
    for case in cases {
        let mut plan = plan(case, &scipy);
        if !runs("csr") {
            plan.csr = not_asked();
        }
        let scipy_row = match &plan.matrix_file {
            Ok(path) => {
                let row = measure_scipy(path).ok_or_else(|| "failed".to_string());
                let _ = std::fs::remove_file(path);
                row
            }
            Err(why) => Err(why.clone()),
        };
        let csr_row = match &plan.csr {
            Ok(()) => measure_ours("csr", case).ok_or_else(|| "failed".to_string()),
            Err(why) => Err(why.clone()),
        };
        let grid_row = if runs("grid") {
            measure_ours("grid", case).ok_or_else(|| "failed".to_string())
        } else {
            Err("not run (not in --solvers)".to_string())
        };
        let grid_ref = grid_row.as_ref().ok();
        let scipy_ref = scipy_row.as_ref().ok();
        for (name, row) in [
            ("scipy", &scipy_row),
            ("CSR", &csr_row),
            ("grid", &grid_row),
        ] {
            match row {
                Ok(row) => print_row(name, case, row, grid_ref, scipy_ref),
                Err(why) => println!("{:<6} {:>6} {why}", name, case.label()),
            }
        }
    }
    println!(
        "time: the solve (ours: hierarchy or LU included, CSR assembly not; scipy: eigs, file \
         read not); RSS: peak of the solve's own process (scipy's includes Python, numpy and \
         scipy); mgr: the manager's peak during the solve; ΔE: largest |E_grid − E| over our \
         grid solver's values, each matched to the nearest of this solver's; scipy÷: scipy's \
         time and RSS divided by this solver's (same run, same machine)"
    );
}
