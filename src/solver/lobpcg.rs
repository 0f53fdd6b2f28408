//! LOBPCG (Knyazev's locally optimal block preconditioned conjugate gradient) for the lowest
//! eigenpairs of a Hermitian operator, with hard locking of converged pairs, SVQB
//! orthonormalisation of every search block, and Rayleigh–Ritz on `[X, W, P]` computed in
//! row chunks so that `H·[X, W, P]` is never stored.
//!
//! Memory: the three blocks X, W, P (`n × m` each, in the manager's pools, or in scratch files
//! for out-of-core solves) and one chunk of rows per thread. Because whole blocks are projected at once, every member of a degenerate
//! multiplet that fits in the block is found (single-vector Lanczos misses copies).

use super::block::{Cols, gram_op, residuals};
use super::block_lobpcg::{BlockBackend, block_lobpcg};
use super::operator::Operator;
use super::options::{EigenResult, Method};
use super::out_of_core::{Block, BlockPlan};
use super::preconditioner::Preconditioner;
use super::progress::ProgressFn;
use super::vectors::{Destination, store};
use crate::error::Result;
use crate::matrix::Scalar;
use crate::memory::MemoryManager;
use faer::Mat;

/// What LOBPCG is asked to do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LobpcgParams {
    /// Pairs that must converge (the lowest `k`; the block may hold more).
    pub k: usize,
    /// Relative residual tolerance: ‖Hx − λx‖ ≤ tol · max(|λ|, scale).
    pub tol: f64,
    /// Iterations at most.
    pub max_iter: usize,
    /// The `scale` above (a spectrum width estimate) so that λ ≈ 0 does not demand the impossible.
    pub scale: f64,
    /// Level reported to the progress callback.
    pub level: usize,
    /// Number of levels reported to the progress callback.
    pub levels: usize,
}

/// What LOBPCG did.
#[derive(Clone, Debug, Default)]
pub(crate) struct LobpcgOutcome {
    /// Ritz values of every block column, ascending.
    pub values: Vec<f64>,
    /// Final residual norms ‖Hx − λx‖ of every block column.
    pub residuals: Vec<f64>,
    /// Leading pairs that met the tolerance.
    pub converged: usize,
    /// Iterations done.
    pub iterations: usize,
    /// Operator applications (vectors).
    pub applications: u64,
    /// Preconditioner applications (vectors).
    pub preconditionings: u64,
}

/// The three blocks of LOBPCG, allocated once for the largest problem of a solve and used by
/// every smaller one (a coarse grid uses the leading rows), so coarse-to-fine leaves no freed
/// blocks behind.
pub(crate) struct Workspace<T: Scalar> {
    /// Current approximations (the result).
    pub x: Block<T>,
    /// Preconditioned residuals (also a spare block between solves).
    pub w: Block<T>,
    /// Search directions.
    pub p: Block<T>,
}

impl<T: Scalar> Workspace<T> {
    /// Blocks of `n × m` in `manager`'s pool or in scratch files, as `plan` says; their
    /// contents start undefined. A failure frees (or unlinks) what was created.
    pub(crate) fn new(
        manager: &MemoryManager,
        n: usize,
        m: usize,
        plan: &BlockPlan,
    ) -> Result<Self> {
        Ok(Self {
            x: Block::new(manager, plan, n, m, "solver.block")?,
            w: Block::new(manager, plan, n, m, "solver.block")?,
            p: Block::new(manager, plan, n, m, "solver.block")?,
        })
    }

    /// Bytes of scratch files the blocks use (0 in core).
    pub(crate) fn scratch_bytes(&self) -> u64 {
        self.x.scratch_bytes() + self.w.scratch_bytes() + self.p.scratch_bytes()
    }
}

impl<T: Scalar> Workspace<T> {
    /// The solve's result: the first `k` columns of X at `destination` (in the pool: in core
    /// the guard columns stay allocated with them, out of core they are copied; in a file:
    /// copied column by column) and the first `k` values and residuals of `outcome`; W and P
    /// are freed first.
    pub(crate) fn into_result(
        self,
        manager: &MemoryManager,
        outcome: &LobpcgOutcome,
        k: usize,
        totals: SolveTotals,
        destination: &Destination,
    ) -> Result<EigenResult<T>> {
        let blocks_scratch = self.scratch_bytes();
        let Workspace { x, w, p } = self;
        drop((w, p));
        let vectors = store(manager, x, k, destination)?;
        let scratch_bytes = blocks_scratch + vectors.scratch_bytes();
        Ok(EigenResult {
            values: outcome.values[..k].to_vec(),
            vectors,
            residuals: outcome.residuals[..k].to_vec(),
            converged: outcome.converged.min(k),
            iterations: totals.iterations,
            applications: totals.applications,
            seconds: totals.seconds,
            peak_pool_bytes: totals.peak_pool_bytes,
            method: Method::Lobpcg,
            scratch_bytes,
            levels: totals.levels,
        })
    }
}

/// Totals of a whole solve (all levels) for [`Workspace::into_result`].
pub(crate) struct SolveTotals {
    pub iterations: usize,
    pub applications: u64,
    pub seconds: f64,
    pub peak_pool_bytes: u64,
    pub levels: usize,
}

/// The host's blocks and kernels for [`block_lobpcg`]: row-chunked products with `op`, the
/// preconditioner one column at a time (out of core, each column is dropped from the resident
/// memory once done).
struct HostBackend<'a, A: ?Sized, P: ?Sized> {
    op: &'a A,
    prec: &'a P,
}

impl<T: Scalar, A: Operator<T> + ?Sized, P: Preconditioner<T> + ?Sized> BlockBackend<T>
    for HostBackend<'_, A, P>
{
    type Cols = Cols<T>;

    fn gram_op(&self, s: &Cols<T>) -> Result<Mat<T>> {
        Ok(gram_op(self.op, s))
    }

    fn residuals(&self, x: &Cols<T>, lambda: &[f64], r: &Cols<T>) -> Result<Vec<f64>> {
        Ok(residuals(self.op, x, lambda, r))
    }

    fn precondition(&self, w: &Cols<T>) -> Result<()> {
        let n = self.op.dim();
        for j in 0..w.len() {
            // SAFETY: the loop writes W's columns and nothing else reads them meanwhile.
            self.prec.apply_in_place(unsafe { w.rows_mut(j, 0..n) });
            // Out of core: one column at a time is resident.
            w.slice(j..j + 1).release_all();
        }
        Ok(())
    }
}

/// Runs LOBPCG on the leading `op.dim()` rows of the workspace's X block (`m` columns,
/// m ≥ k), overwriting it with Ritz vectors.
pub(crate) fn lobpcg<T: Scalar, A: Operator<T> + ?Sized, P: Preconditioner<T> + ?Sized>(
    ws: &mut Workspace<T>,
    op: &A,
    prec: &P,
    params: LobpcgParams,
    applications_before: u64,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<LobpcgOutcome> {
    let (n, m) = (op.dim(), ws.x.ncols());
    assert!(
        params.k <= m && m <= n,
        "block size {m} must lie between k = {} and n = {n}",
        params.k
    );
    // W and P are always written before they are read.
    let blocks = [
        Cols::of_rows(&mut ws.x, 0..m, n),
        Cols::of_rows(&mut ws.w, 0..m, n),
        Cols::of_rows(&mut ws.p, 0..m, n),
    ];
    block_lobpcg(
        &HostBackend { op, prec },
        [&blocks[0], &blocks[1], &blocks[2]],
        params,
        applications_before,
        progress,
    )
}
