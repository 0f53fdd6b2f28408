//! What the solver benchmarks share: the 2D GaAs parabolic dot they solve, the error of its
//! lowest levels against the exact oscillator spectrum, and one solve per child process so that
//! its peak resident memory (`wait4`'s `ru_maxrss`) is its own — our solvers as children of the
//! benchmark itself, the external baselines (scipy) as `python3` children.
//!
//! Each child is started by a *measuring parent* ([`measured`], [`serve_measure_mode`]): a
//! fresh exec of the benchmark binary that starts the child and reports its peak. Linux
//! carries a process's peak RSS across `exec` (the image it replaced is counted), so a child
//! spawned straight from a benchmark whose own memory has grown — it assembled a matrix and
//! wrote it for scipy, estimated a factor — reports at least that memory: a `/bin/true` started
//! by a process holding 1 GiB has a `ru_maxrss` of 1 GiB, and the 3D grid solve of the
//! resonance benchmark read 1072 MiB after a 2000² case where alone it peaks at 263 MiB. The
//! measuring parent holds a few MiB, and that is all its children start from.

// Each benchmark uses a subset of these.
#![allow(dead_code)]

use qdsim_mem::memory::{MemoryManager, PoolBuffer};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Grid, parabolic_potential};
use std::ffi::{OsStr, OsString};
use std::process::{Command, Stdio};

/// States wanted.
pub const K: usize = 10;
/// Oscillator energy of the dot, eV.
pub const HW: f64 = 0.010;

/// The dot's grid (`n × n` interior points of a 120 nm hard-wall box) and its potential, in
/// `manager`'s pool.
pub fn dot(manager: &MemoryManager, n: usize) -> (Grid, PoolBuffer<f64>) {
    let grid = Grid::dirichlet_box(&[120.0, 120.0], &[n, n]).unwrap();
    let mut v = PoolBuffer::<f64>::uninit_values(manager, n * n, "potential").unwrap();
    parabolic_potential(&grid, GAAS_MASS, HW, &mut v).unwrap();
    (grid, v)
}

/// Largest |E − ħω(s + 1)| over the computed levels (s-th shell degenerate s + 1 times), meV:
/// the discretisation error (plus the solver's, far smaller).
pub fn max_error_mev(values: &[f64]) -> f64 {
    let exact = (0..).flat_map(|s: usize| std::iter::repeat_n(HW * (s + 1) as f64, s + 1));
    values
        .iter()
        .zip(exact)
        .map(|(e, x)| (e - x).abs())
        .fold(0.0, f64::max)
        * 1e3
}

/// What a child process measured: it prints `seconds applications max_error_meV converged`
/// and any further fields; the parent adds the peak RSS.
pub struct Measured {
    pub seconds: f64,
    pub rss_mib: f64,
    pub applications: u64,
    pub max_error_mev: f64,
    pub converged: usize,
    /// Fields after the first four.
    pub extra: Vec<String>,
}

/// Runs `command` (one solve that prints the line [`Measured`] reads) and measures its peak
/// resident memory. `None` when it fails or prints something else.
pub fn measure_command(command: Command) -> Option<Measured> {
    let (out, rss_mib) = run_measured(command)?;
    let f: Vec<&str> = out.split_whitespace().collect();
    Some(Measured {
        seconds: f.first()?.parse().ok()?,
        rss_mib,
        applications: f.get(1)?.parse().ok()?,
        max_error_mev: f.get(2)?.parse().ok()?,
        converged: f.get(3)?.parse().ok()?,
        extra: f.iter().skip(4).map(|s| s.to_string()).collect(),
    })
}

/// Runs `command` (made by [`measured`]) to its end and returns what its program printed on
/// stdout with the program's peak resident memory (MiB, its own: see the module notes). `None`
/// when it cannot start or exits with a failure. For benchmarks whose children print lines of
/// their own format.
pub fn run_measured(mut command: Command) -> Option<(String, f64)> {
    let output = command.stdout(Stdio::piped()).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let (out, report) = text.trim_end().rsplit_once('\n')?;
    let kib: f64 = report.strip_prefix(PEAK_TAG)?.trim().parse().ok()?;
    Some((out.to_string(), kib / 1024.0))
}

/// Whether `python3` can import `module` (the external baselines need numpy and scipy).
pub fn python_has(module: &str) -> bool {
    interpreter_has("python3", module)
}

/// Whether the Python interpreter `python` can import `module`.
pub fn interpreter_has(python: &str, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// This benchmark's own executable run with `args` (its child mode).
pub fn measure_self(args: &[&str]) -> Option<Measured> {
    let mut command = measured(std::env::current_exe().unwrap());
    command.args(args);
    measure_command(command)
}

/// The argument of the measuring-parent mode: `bench --measure PROGRAM ARGS…`.
const MEASURE: &str = "--measure";

/// What the measuring parent prints after its child's output: this tag and the child's peak
/// resident memory in KiB.
const PEAK_TAG: &str = "measured-peak-rss-kib";

/// A command that runs `program` (its arguments, stderr and environment to be added as for
/// `Command::new(program)`) under a measuring parent, for [`run_measured`].
pub fn measured(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.arg(MEASURE).arg(program);
    command
}

/// The measuring-parent mode, which every benchmark's `main` enters first: when this process
/// was started as `bench --measure PROGRAM ARGS…` ([`measured`]), runs PROGRAM with this
/// process's stdio, waits for it, prints [`PEAK_TAG`] and its peak resident memory on a line
/// of its own after PROGRAM's output, and exits with PROGRAM's success or failure. Otherwise
/// returns at once.
pub fn serve_measure_mode() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.len() < 3 || args[1] != MEASURE {
        return;
    }
    let Ok(child) = Command::new(&args[2]).args(&args[3..]).spawn() else {
        std::process::exit(1);
    };
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child (not waited for elsewhere) and writes into locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    if pid < 0 || status != 0 {
        std::process::exit(1);
    }
    println!("\n{PEAK_TAG} {}", usage.ru_maxrss);
    std::process::exit(0);
}

/// Memory the system could give a new process now (`MemAvailable`), bytes.
pub fn available_memory() -> u64 {
    qdsim_mem::memory::os::system_available_memory()
}

/// Bytes as GiB.
pub fn gib(bytes: f64) -> f64 {
    bytes / (1u64 << 30) as f64
}
