//! What the solver benchmarks share: the 2D GaAs parabolic dot they solve, the error of its
//! lowest levels against the exact oscillator spectrum, and one solve per child process so that
//! its peak resident memory (`wait4`'s `ru_maxrss`) is its own — our solvers as children of the
//! benchmark itself, the external baselines (scipy) as `python3` children.

// Each benchmark uses a subset of these.
#![allow(dead_code)]

use qdsim_mem::memory::{MemoryManager, PoolBuffer};
use qdsim_mem::physics::constants::GAAS_MASS;
use qdsim_mem::physics::{Grid, parabolic_potential};
use std::io::Read;
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

/// Runs `command` to its end and returns what it printed on stdout with its peak resident
/// memory (MiB, `wait4`'s `ru_maxrss`: the child's own, not the benchmark's). `None` when it
/// cannot start or exits with a failure. For benchmarks whose children print lines of their
/// own format.
// The child is reaped by `libc::wait4` (which also returns its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn run_measured(mut command: Command) -> Option<(String, f64)> {
    let mut child = command.stdout(Stdio::piped()).spawn().ok()?;
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child (not waited for elsewhere) and writes into locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    if pid < 0 || status != 0 {
        return None;
    }
    Some((out, usage.ru_maxrss as f64 / 1024.0))
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
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(args);
    measure_command(command)
}

/// Memory the system could give a new process now (`MemAvailable`), bytes.
pub fn available_memory() -> u64 {
    qdsim_mem::memory::os::system_available_memory()
}

/// Bytes as GiB.
pub fn gib(bytes: f64) -> f64 {
    bytes / (1u64 << 30) as f64
}
