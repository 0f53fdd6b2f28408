//! Progress reports from long solves, and cancellation: the callback sees every iteration and
//! returns `true` to stop the solve cleanly (`ErrorKind::Cancelled`).

/// One progress report (C: `qdsim_progress`, the same `#[repr(C)]` struct).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Grid level being solved (0 is the finest; coarse-to-fine starts at the coarsest).
    pub level: usize,
    /// Number of levels.
    pub levels: usize,
    /// Iteration on this level (from 1).
    pub iteration: usize,
    /// Eigenpairs converged (locked) so far on this level.
    pub converged: usize,
    /// Eigenpairs wanted.
    pub wanted: usize,
    /// Largest relative residual ‖Hx − λx‖ / max(|λ|, scale) among the wanted, unconverged pairs.
    pub max_residual: f64,
    /// Operator applications so far (all levels).
    pub applications: u64,
}

/// A progress callback: return `true` to cancel.
pub type ProgressFn<'a> = dyn FnMut(&Progress) -> bool + Send + 'a;
