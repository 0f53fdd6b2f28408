//! Options of the lowest-eigenpair solvers: [`EigenOptions`] (with the checks every solver runs
//! on them), [`Method`] and [`Placement`].

use crate::error::{Error, Result};

/// Which algorithm computes the lowest eigenpairs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Method {
    /// Block LOBPCG with multigrid, unless shift-invert is expected to be faster and its factor
    /// fits the memory budget.
    #[default]
    Auto,
    /// Block LOBPCG (multigrid-preconditioned for grid Hamiltonians, Jacobi otherwise).
    Lobpcg,
    /// Shift-invert: LOBPCG preconditioned by an exact sparse Cholesky factor of H − σ.
    ShiftInvert,
}

/// Where the solver keeps its `n × m` blocks (the LOBPCG iterates X, W, P).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// Out of core when a memory budget is set and the in-core estimate of the solve (blocks,
    /// operator, multigrid levels) exceeds it; otherwise in core. A multigrid solve checks
    /// again on its finest level, whose blocks stay in core when the width and groups its
    /// coarser levels settled fit the budget.
    #[default]
    Auto,
    /// In the manager's pools.
    InCore,
    /// In memory-mapped scratch files in `scratch_dir`, with the resident part kept near the
    /// memory budget.
    OutOfCore,
}

/// What to compute and how hard to try.
#[derive(Clone, Debug, PartialEq)]
pub struct EigenOptions {
    /// Number of lowest eigenpairs wanted.
    pub k: usize,
    /// Relative residual tolerance: every returned pair has ‖Hx − λx‖ ≤ tol·max(|λ|, s), with
    /// s ≈ 10⁻³ of the spectrum width (so λ ≈ 0 is not held to an impossible standard). The
    /// eigenvalue error is then below ‖r‖²/gap: with the default 10⁻⁶, about 10⁻¹²·λ²/gap.
    pub tol: f64,
    /// Iterations at most (per grid level for the coarse-to-fine solver).
    pub max_iterations: usize,
    /// Extra block vectors beyond `k` (they speed up convergence and complete multiplets that
    /// straddle the k-th state); `None` picks `max(1, k/10)` — each one costs three vectors of
    /// memory — and lets a coarse-to-fine grid solve drop them on the finest grid when the
    /// next-coarser grid's values show the k-th state clearly below the next (a relative gap of
    /// at least 0.2: then they hold only part of the next multiplet and do not speed it up).
    pub block_extra: Option<usize>,
    /// Seed of the random start vectors.
    pub seed: u64,
    /// Algorithm.
    pub method: Method,
    /// Bytes the solver may use: for `Method::Auto`'s choice (`None`: the manager's available
    /// memory) and for `Placement::Auto` (`None`: never out of core); out of core, the blocks'
    /// working set is sized so that the resident memory stays near it.
    pub memory_budget: Option<u64>,
    /// Where the blocks live (default: decided from `memory_budget`).
    pub placement: Placement,
    /// Directory of the out-of-core scratch files (`None`: `std::env::temp_dir()`). The files
    /// are unlinked as soon as they are created, so none is ever left behind.
    pub scratch_dir: Option<std::path::PathBuf>,
    /// Start from the solution on coarser grids (grid Hamiltonians only).
    pub coarse_to_fine: bool,
    /// Write the eigenvectors to this file (the [`MappedDense`](crate::matrix::mapped::MappedDense)
    /// format, finalized when the solve returns; an existing file is replaced) rather than to the
    /// pool: for results larger than memory, and to keep them. `None`: in the pool — except for
    /// an out-of-core solve whose `k` vectors do not fit the memory budget beside what must stay
    /// in core, which keeps them in an unlinked scratch file in `scratch_dir` instead.
    /// (LOBPCG-based solvers: grid, CSR, shift-invert.)
    pub vectors_file: Option<std::path::PathBuf>,
}

impl Default for EigenOptions {
    fn default() -> Self {
        Self {
            k: 10,
            tol: 1e-6,
            max_iterations: 500,
            block_extra: None,
            seed: 0x5eed_cafe,
            method: Method::Auto,
            memory_budget: None,
            placement: Placement::Auto,
            scratch_dir: None,
            coarse_to_fine: true,
            vectors_file: None,
        }
    }
}

impl EigenOptions {
    /// Checks the options against a problem of dimension `n`: `1 ≤ k < n`, a tolerance in
    /// (0, 1), at least one iteration.
    pub fn check(&self, n: usize) -> Result<()> {
        if self.k == 0 {
            return Err(Error::invalid_argument(
                "k = 0: ask for at least one eigenpair",
            ));
        }
        if self.k >= n {
            return Err(Error::invalid_argument(format!(
                "k = {} must be smaller than the dimension {n} (use the dense solver for all eigenpairs)",
                self.k
            )));
        }
        if !(self.tol.is_finite() && self.tol > 0.0 && self.tol < 1.0) {
            return Err(Error::invalid_argument(format!(
                "tolerance {} must be in (0, 1)",
                self.tol
            )));
        }
        if self.max_iterations == 0 {
            return Err(Error::invalid_argument("max_iterations = 0"));
        }
        Ok(())
    }

    /// The block size for `k` wanted pairs in an `n`-dimensional problem.
    pub(crate) fn block_size(&self, n: usize) -> usize {
        let extra = self.block_extra.unwrap_or((self.k / 10).max(1));
        (self.k + extra).min(n)
    }
}
