//! The host's side of LOBPCG: the blocks X, W, P (`n × m` each, in the manager's pools, or in
//! scratch files for out-of-core solves, `out_of_core.rs`), the backend that applies the
//! operator and the preconditioner to them in row chunks (so that `H·[X, W, P]` is never
//! stored), and [`HostLevels`], the host's [`Levels`] for the coarse-to-fine driver: a
//! multigrid hierarchy of a grid Hamiltonian, or one operator with its preconditioner (CSR,
//! mapped CSR, shift-invert). [`solve`] runs a whole host solve, from the blocks to the result;
//! [`single_level`] is it for one operator.
//!
//! Memory: the three blocks (W and P in single precision where the operator and the
//! preconditioner work on them in place: [`SearchBlocks`]; on the finest level of a
//! coarse-to-fine solve W and P only as wide as the block's widest group, and P only if LOBPCG
//! needs it, [`Directions::Deferred`]) and a few chunks
//! of rows per thread; the result's vectors are stored where [`Destination`] says once W and P
//! (and the hierarchy) are freed.

use super::block::{
    Cols, ColumnMut, XGrams, gram_op, gram_op_with_x_grams, kernel_bytes, residuals,
    residuals_and_x_grams, rows_for_single,
};
use super::driver::{GUARD_NOISE, Levels, SolveClock, coarse_to_fine};
use super::{
    BlockBackend, Directions, DirectionsSource, LobpcgOutcome, LobpcgParams, Locked, block_lobpcg,
};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::ManagedMatrix;
use crate::matrix::{Scalar, single_range};
use crate::memory::MemoryManager;
use crate::solver::operator::Operator;
use crate::solver::options::{EigenOptions, Method, Placement};
use crate::solver::out_of_core::{Block, BlockPlan, block_bytes};
use crate::solver::precond::{Multigrid, Preconditioner};
use crate::solver::progress::ProgressFn;
use crate::solver::random::{add_random, fill_random};
use crate::solver::result::EigenResult;
use crate::solver::threads::solver_threads;
use crate::solver::vectors::{Destination, destination, store};
use faer::Mat;
use parking_lot::Mutex;
use std::ops::Range;

/// The three blocks of LOBPCG. A coarse-to-fine solve has one for the finest level and one
/// or two for the coarser levels, each made as the one before is given back ([`HostLevels`]);
/// a one-level solve has only the finest.
///
/// W and P are stored in single precision (`T::Single`, half the bytes of X) when the
/// operator reads such vectors in place ([`Operator::fast_single_input`]: the stencil and CSR
/// matrices): they only span the search space, and the Rayleigh–Ritz step solves the pencil
/// with the Gram matrix of the rounded columns, so the Ritz vectors X (and the residuals,
/// computed from X in `T`) keep full precision. The multigrid V-cycle (and Jacobi) precondition
/// W's columns in place, in core or out of core (scratch files of half the size, half the
/// I/O); other preconditioners get them widened into one column of `T`, in core only (out of
/// core that column would be one more vector in core, and all three stay in `T`).
pub(crate) struct Workspace<T: Scalar> {
    /// Current approximations (the result).
    pub x: Block<T>,
    /// Preconditioned residuals.
    pub w: Block<T>,
    /// Search directions: `None` on the finest level of a coarse-to-fine solve until LOBPCG
    /// needs them in a block of their own ([`Directions::Deferred`]), which it often never does.
    pub p: Option<Block<T>>,
    /// How W and P are stored.
    search: SearchBlocks,
    /// Where the blocks are (a deferred P block is made there too).
    plan: BlockPlan,
    /// The preconditioner's column for [`SearchBlocks::SingleWithColumn`].
    column: Option<ManagedMatrix<T>>,
}

/// How LOBPCG's W and P are stored (see [`Workspace`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SearchBlocks {
    /// In `T`, like X.
    Full,
    /// In single precision; the preconditioner works on W's columns in place.
    Single,
    /// In single precision, with a column of `T` the preconditioner widens each of W's into.
    SingleWithColumn,
}

impl SearchBlocks {
    /// The storage for a solve with blocks where `plan` says, on an operator that reads
    /// single-precision vectors in place or not (`fast_single_input`) and whose spectrum lies
    /// in `bounds`, with a preconditioner that works on them in place or not.
    pub(crate) fn choose(
        plan: &BlockPlan,
        fast_single_input: bool,
        bounds: (f64, f64),
        preconditioner_in_place: bool,
    ) -> Self {
        let in_core = matches!(plan, BlockPlan::InCore);
        if !(fast_single_input && single_range(bounds)) {
            Self::Full
        } else if preconditioner_in_place {
            Self::Single
        } else if in_core {
            Self::SingleWithColumn
        } else {
            // Out of core the column would be one more vector in core.
            Self::Full
        }
    }
}

impl<T: Scalar> Workspace<T> {
    /// Blocks of `n × m` in `manager`'s pool or in scratch files, as `plan` says (W and P in
    /// single precision in core); their contents start undefined. A failure frees (or
    /// unlinks) what was created.
    pub(crate) fn new(
        manager: &MemoryManager,
        n: usize,
        m: usize,
        plan: &BlockPlan,
        search: SearchBlocks,
    ) -> Result<Self> {
        let x = Block::new(manager, plan, n, m, "solver.block")?;
        Self::around(manager, x, n, plan, search, (m, true))
    }

    /// W (and the preconditioner's column) of `n` rows and `columns` columns (the widest group
    /// of X's) for the block `x`, stored as `search` says, and P too if `directions`.
    fn around(
        manager: &MemoryManager,
        x: Block<T>,
        n: usize,
        plan: &BlockPlan,
        search: SearchBlocks,
        (columns, directions): (usize, bool),
    ) -> Result<Self> {
        let new_block = || search_block(manager, plan, n, columns, search);
        Ok(Self {
            w: new_block()?,
            p: directions.then(new_block).transpose()?,
            column: (search == SearchBlocks::SingleWithColumn)
                .then(|| ManagedMatrix::uninit_values(manager, n, 1, "solver.block"))
                .transpose()?,
            search,
            plan: plan.clone(),
            x,
        })
    }

    /// Bytes of scratch files the blocks use (0 in core).
    pub(crate) fn scratch_bytes(&self) -> u64 {
        self.x.scratch_bytes()
            + self.w.scratch_bytes()
            + self.p.as_ref().map_or(0, |p| p.scratch_bytes())
    }
}

/// Rows of a W or P block for vectors of `n` rows stored as `search` says (a single-precision
/// block stores its values in the bytes of fewer rows of `T`).
fn search_rows<T: Scalar>(n: usize, search: SearchBlocks) -> usize {
    if search == SearchBlocks::Full {
        n
    } else {
        rows_for_single::<T>(n)
    }
}

/// A W or P block of `m` columns for vectors of `n` rows stored as `search` says, where `plan`
/// says; its contents are undefined.
fn search_block<T: Scalar>(
    manager: &MemoryManager,
    plan: &BlockPlan,
    n: usize,
    m: usize,
    search: SearchBlocks,
) -> Result<Block<T>> {
    Block::new(
        manager,
        plan,
        search_rows::<T>(n, search),
        m,
        "solver.block",
    )
}

/// Bytes of the workspace of `n × m` blocks: X, W and P stored as `search` says.
pub(crate) fn workspace_bytes<T: Scalar>(n: usize, m: usize, search: SearchBlocks) -> u64 {
    grouped_workspace_bytes::<T>(n, m, m, search)
}

/// [`workspace_bytes`] of a block of `m` columns whose W and P hold `group` (the widest group
/// the finest level runs, see [`group_ends`](super::driver::group_ends)).
fn grouped_workspace_bytes<T: Scalar>(
    n: usize,
    m: usize,
    group: usize,
    search: SearchBlocks,
) -> u64 {
    let x = block_bytes::<T>(n, m);
    let wp = block_bytes::<T>(search_rows::<T>(n, search), group);
    let column = match search {
        SearchBlocks::SingleWithColumn => block_bytes::<T>(n, 1),
        _ => 0,
    };
    x + 2 * wp + column
}

/// Bytes an in-core multigrid solve on `mg` holds at its finest level: the hierarchy, a
/// workspace of `width` columns whose W and P hold `group` (stored as `search` says) and the
/// block kernels' buffers. `Placement::Auto` compares it with the memory budget: at full width
/// before the solve ([`lowest_states_memory_estimate`](crate::solver::lowest_states_memory_estimate)),
/// with the settled width and groups on reaching the finest level ([`HostLevels::finest_plan`]).
pub(crate) fn grid_in_core_bytes<T: Scalar>(
    mg: &Multigrid<T>,
    width: usize,
    group: usize,
    search: SearchBlocks,
) -> u64 {
    let finest = mg.operator(0);
    let n = finest.dim();
    mg.memory_bytes()
        + grouped_workspace_bytes::<T>(n, width, group, search)
        + kernels_estimate::<T>(n, width, finest.row_granularity())
}

/// The tag of the block kernels' chunk buffers and partial results ([`kernel_bytes`]).
const KERNELS_TAG: &str = "solver.kernels";

/// Bytes the block kernels hold besides the blocks in an in-core solve of `n` rows in blocks of
/// `m` columns (chunks of the operator's `granularity`) on the solver threads, at most: part of
/// a solve's estimate.
pub(crate) fn kernels_estimate<T: Scalar>(n: usize, m: usize, granularity: usize) -> u64 {
    kernel_bytes::<T>(n, 3 * m, granularity, usize::MAX, solver_threads())
}

/// What the host solves level by level.
pub(crate) enum Hierarchy<'a, T: Scalar> {
    /// A grid Hamiltonian's multigrid hierarchy: the levels' stencils, V-cycles as
    /// preconditioners, interpolation between levels.
    Grid(Multigrid<T>),
    /// One operator with its preconditioner.
    Single {
        /// The operator.
        op: &'a dyn Operator<T>,
        /// Its preconditioner.
        prec: &'a dyn Preconditioner<T>,
    },
}

/// The host's [`Levels`]: the workspace, the hierarchy and the vectors interpolation needs.
///
/// A coarse-to-fine solve runs a group of coarser levels in one workspace of the group's
/// finest size (a coarse grid uses the leading rows: interpolation works in place), and
/// allocates the finest level's (as wide as the driver asks) as it interpolates to it: block
/// columns it drops are never allocated at full size, and each workspace is given back as the
/// next one is made (W and P first, X once interpolated), so the peak is the finest
/// workspace's. In core every coarser level is in one group. Out of core, the levels whose
/// in-core workspace fits the plan's working-set budget form a group in core (their blocks
/// would otherwise go through scratch-file pages that the budget has room to keep), and the
/// levels between it and the finest a second group in scratch files ([`coarse_in_core`]).
///
/// [`coarse_in_core`]: HostLevels::coarse_in_core
pub(crate) struct HostLevels<'a, T: Scalar> {
    manager: &'a MemoryManager,
    /// Where the finest level's blocks go (and the coarser levels' that do not fit in core).
    plan: &'a BlockPlan,
    /// Columns of the blocks the solve starts with.
    width: usize,
    /// How W and P are stored.
    search: SearchBlocks,
    /// Made by [`Levels::random_start`]; empty inside the finest level's [`Levels::prolong`]
    /// (and after it failed, when the solve ends).
    ws: Option<Workspace<T>>,
    hierarchy: Hierarchy<'a, T>,
    /// The memory budget of an automatic placement that chose scratch files from the estimate
    /// of full-width blocks: the finest level's blocks go in core after all when the width and
    /// groups that level 1's values settled fit it ([`HostLevels::finest_plan`]).
    recheck_within: Option<u64>,
}

/// Bytes of the vectors that interpolation from level `level + 1` to `level` holds: the
/// transfer's intermediate arrays and, in place (within a group's workspace), a copy of the
/// coarse column, which the interpolation reads while it writes the column's longer leading
/// rows.
fn prolong_bytes<T: Scalar>(mg: &Multigrid<T>, level: usize, in_place: bool) -> u64 {
    let copy = if in_place {
        mg.operator(level + 1).dim()
    } else {
        0
    };
    ((mg.prolong_temp_len(level) + copy) * size_of::<T>()) as u64
}

impl<T: Scalar> Levels<T> for HostLevels<'_, T> {
    fn count(&self) -> usize {
        match &self.hierarchy {
            Hierarchy::Grid(mg) => mg.levels(),
            Hierarchy::Single { .. } => 1,
        }
    }

    fn dim(&self, level: usize) -> usize {
        match &self.hierarchy {
            Hierarchy::Grid(mg) => mg.operator(level).dim(),
            Hierarchy::Single { op, .. } => op.dim(),
        }
    }

    fn random_start(&mut self, level: usize, seed: u64) -> Result<()> {
        debug_assert!(self.ws.is_none(), "one start per solve");
        let (capacity, plan) = self.workspace_for(level);
        let ws = Workspace::new(self.manager, capacity, self.width, &plan, self.search)?;
        let rows = self.dim(level);
        let ws = self.ws.insert(ws);
        for j in 0..ws.x.ncols() {
            fill_random(&mut ws.x.col_mut(j)[..rows], seed, j);
            ws.x.release_col(j);
        }
        ws.x.check_faults()
    }

    fn prolong(&mut self, level: usize, width: usize, group: usize) -> Result<()> {
        let Hierarchy::Grid(mg) = &self.hierarchy else {
            unreachable!("a single level is never interpolated to");
        };
        // The transfer's intermediates (and the coarse column's copy) are `Vec`s, counted
        // while they live: from before they are made, and after the blocks given back first.
        let account = |in_place| {
            self.manager
                .external_account("solver.prolong", prolong_bytes(mg, level, in_place))
        };
        let (mut column, mut temp) = (Vec::new(), [Vec::new(), Vec::new()]);
        let ws = self.ws.as_mut().expect("the workspace");
        if level > 0 && ws.x.nrows() >= mg.operator(level).dim() {
            // A coarser level of the same group: interpolate X's leading rows into its longer
            // leading rows.
            let _account = account(true)?;
            let columns = ws.x.ncols();
            return interpolate(mg, level, None, &mut ws.x, columns, &mut column, &mut temp);
        }
        // The first level of a group (the finest level is one of its own): new blocks of
        // `width` columns (all of them above the finest level), interpolated straight into X.
        // The coarser blocks go back as the new ones come (W and P first, X once read), their
        // pages to the system: the pool would keep them resident beside the new blocks (2000²:
        // 1.41 GB peak RSS with them kept, 1.15 GB given back).
        let (capacity, plan) = self.workspace_for(level);
        let Workspace {
            x: coarse, w, p, ..
        } = self.ws.take().expect("the workspace");
        let plan = if level == 0 {
            self.finest_plan(plan, width.min(coarse.ncols()), group)
        } else {
            plan
        };
        w.discard();
        if let Some(p) = p {
            p.discard();
        }
        let account = account(false)?;
        let width = if level == 0 {
            width.min(coarse.ncols())
        } else {
            coarse.ncols()
        };
        let mut x = Block::new(self.manager, &plan, capacity, width, "solver.block")?;
        interpolate(
            mg,
            level,
            Some(&coarse),
            &mut x,
            width,
            &mut column,
            &mut temp,
        )?;
        coarse.discard();
        // The transfer vectors go back before the new blocks and the V-cycles allocate their
        // own.
        drop((column, temp, account));
        // P comes only if the finest level's LOBPCG needs it (deferred directions); W and P
        // of the widest group's columns.
        let search_width = if level == 0 { group.min(width) } else { width };
        self.ws = Some(Workspace::around(
            self.manager,
            x,
            capacity,
            &plan,
            self.search,
            (search_width, level > 0),
        )?);
        Ok(())
    }

    fn perturb(&mut self, level: usize, columns: Range<usize>, seed: u64) -> Result<()> {
        let rows = self.dim(level);
        let ws = self.ws.as_mut().expect("the workspace");
        for j in columns {
            add_random(&mut ws.x.col_mut(j)[..rows], GUARD_NOISE, seed, j);
            ws.x.release_col(j);
        }
        ws.x.check_faults()
    }

    fn lobpcg(
        &mut self,
        params: LobpcgParams,
        ends: &[usize],
        progress: Option<&mut ProgressFn<'_>>,
    ) -> Result<LobpcgOutcome> {
        let manager = self.manager;
        match &self.hierarchy {
            Hierarchy::Grid(mg) => {
                let level = params.level;
                let prec = mg.preconditioner(level);
                let ws = self.ws.as_mut().expect("the workspace");
                lobpcg(
                    manager,
                    ws,
                    (mg.operator(level), &prec),
                    params,
                    ends,
                    progress,
                )
            }
            Hierarchy::Single { op, prec } => {
                let ws = self.ws.as_mut().expect("the workspace");
                lobpcg(manager, ws, (*op, *prec), params, ends, progress)
            }
        }
    }

    fn runs_groups(&self) -> bool {
        true
    }
}

impl<T: Scalar> HostLevels<'_, T> {
    /// The finest level of the group of coarser levels whose blocks are in core: level 1 in
    /// core; out of core the finest level above the finest whose whole in-core workspace
    /// (blocks and the kernels' buffers) fits the room the memory budget leaves, which the
    /// chunks would otherwise fill with pages of scratch files; `None` when none fits (always
    /// without a budget: forced out-of-core placement keeps every level's blocks in files).
    fn coarse_in_core(&self) -> Option<usize> {
        let BlockPlan::OutOfCore { room, .. } = self.plan else {
            return Some(1);
        };
        let Hierarchy::Grid(mg) = &self.hierarchy else {
            return None;
        };
        (1..mg.levels()).find(|&level| {
            let (n, op) = (self.dim(level), mg.operator(level));
            // The group's workspace, beside the kernels' buffers while a level runs, or the
            // vectors of an interpolation into its finest level from the next coarser one.
            let inward = if level + 1 < mg.levels() {
                prolong_bytes(mg, level, true)
            } else {
                0
            };
            let running = workspace_bytes::<T>(n, self.width, self.search)
                + kernels_estimate::<T>(n, self.width, op.row_granularity()).max(inward);
            // Interpolating out of the group keeps its X beside the transfer's vectors of the
            // next finer level (W and P are given back first).
            let leaving = block_bytes::<T>(n, self.width) + prolong_bytes(mg, level - 1, false);
            running.max(leaving) <= *room
        })
    }

    /// Where the finest level's blocks of `width` columns go, W and P of `group` columns:
    /// `plan`, or in core where an automatic placement chose scratch files for full-width
    /// blocks and the in-core estimate of these ([`grid_in_core_bytes`]) fits its budget (the
    /// 3D dot at 128³, lowest 20: W and P of 10 columns instead of 20, 160 MiB less).
    fn finest_plan(&self, plan: BlockPlan, width: usize, group: usize) -> BlockPlan {
        let (Some(budget), Hierarchy::Grid(mg)) = (self.recheck_within, &self.hierarchy) else {
            return plan;
        };
        if grid_in_core_bytes(mg, width, group.min(width), self.search) <= budget {
            BlockPlan::InCore
        } else {
            plan
        }
    }

    /// The rows and the plan of the workspace that runs `level`: the finest level's own; for
    /// a coarser level, that of its group (see [`HostLevels`]): in core, as many rows as the
    /// group's finest level has.
    fn workspace_for(&self, level: usize) -> (usize, BlockPlan) {
        if level == 0 {
            return (self.dim(0), self.plan.clone());
        }
        match self.coarse_in_core() {
            Some(first) if level >= first => (self.dim(first), BlockPlan::InCore),
            _ => (self.dim(1), self.plan.clone()),
        }
    }
}

/// Interpolates the leading `columns` columns of `from` (level `level + 1`'s rows) into the
/// leading rows of `to`'s (level `level`'s), or those of `to` itself in place when `from` is
/// `None` (each column is read whole before it is written, through `column`), a column at a
/// time with `temp` between the axes.
fn interpolate<T: Scalar>(
    mg: &Multigrid<T>,
    level: usize,
    from: Option<&Block<T>>,
    to: &mut Block<T>,
    columns: usize,
    column: &mut Vec<T>,
    temp: &mut [Vec<T>; 2],
) -> Result<()> {
    let (nc, nf) = (mg.operator(level + 1).dim(), mg.operator(level).dim());
    for j in 0..columns {
        match from {
            // From another block: the last axis's pass writes the column itself (in parallel,
            // so a fresh block's pages are first touched by both threads; no copy).
            Some(f) => {
                mg.prolong_into(level, &f.col(j)[..nc], &mut to.col_mut(j)[..nf], temp);
                f.release_col(j);
            }
            // In place, the column's leading rows growing: from a copy of its coarse rows.
            None => {
                column.clear();
                column.reserve_exact(nc);
                column.extend_from_slice(&to.col(j)[..nc]);
                mg.prolong_into(level, column, &mut to.col_mut(j)[..nf], temp);
            }
        }
        to.release_col(j);
    }
    if let Some(f) = from {
        f.check_faults()?;
    }
    to.check_faults()
}

/// A whole host solve of `options.k` pairs on `hierarchy` (blocks of `options.block_size`
/// columns where `plan` says), timed by `clock`: the coarse-to-fine run, then the result's
/// vectors stored at `destination` once W, P and the hierarchy are freed. `bounds` are the
/// finest operator's Gershgorin bounds.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve<T: Scalar>(
    manager: &MemoryManager,
    hierarchy: Hierarchy<'_, T>,
    bounds: (f64, f64),
    options: &EigenOptions,
    plan: &BlockPlan,
    destination: &Destination,
    method: Method,
    clock: SolveClock,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    let n = match &hierarchy {
        Hierarchy::Grid(mg) => mg.operator(0).dim(),
        Hierarchy::Single { op, .. } => op.dim(),
    };
    let m = options.block_size(n);
    let (fast_single_input, preconditioner_in_place) = match &hierarchy {
        Hierarchy::Grid(mg) => (
            Operator::fast_single_input(mg.operator(0)),
            mg.preconditioner(0).single_in_place(),
        ),
        Hierarchy::Single { op, prec } => (op.fast_single_input(), prec.single_in_place()),
    };
    let recheck_within = match (plan, options.placement) {
        (BlockPlan::OutOfCore { .. }, Placement::Auto) => options.memory_budget,
        _ => None,
    };
    let mut levels = HostLevels {
        manager,
        plan,
        width: m,
        search: SearchBlocks::choose(plan, fast_single_input, bounds, preconditioner_in_place),
        ws: None,
        hierarchy,
        recheck_within,
    };
    let run = coarse_to_fine(&mut levels, options, m, bounds, progress)?;
    let HostLevels { ws, hierarchy, .. } = levels;
    drop(hierarchy);
    let ws = ws.expect("the workspace after a successful run");
    let blocks_scratch = ws.scratch_bytes();
    let Workspace {
        x, w, p, column, ..
    } = ws;
    drop((w, p, column));
    let vectors = store(manager, x, options.k, destination)?;
    let scratch = blocks_scratch + vectors.scratch_bytes();
    Ok(clock.result(&run, options.k, vectors, method, scratch))
}

/// LOBPCG for `options.k` pairs of `op` from a seeded random block, preconditioned by `prec`:
/// the driver with one level. `clock` times and measures the whole solve (including what the
/// caller did before, e.g. a factorisation); `resident_bytes` is what the caller holds in core
/// besides the operator (for the out-of-core decision, see [`BlockPlan::choose`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn single_level<T: Scalar>(
    manager: &MemoryManager,
    op: &dyn Operator<T>,
    prec: &dyn Preconditioner<T>,
    options: &EigenOptions,
    method: Method,
    clock: SolveClock,
    resident_bytes: u64,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    let n = op.dim();
    let m = options.block_size(n);
    // In core: the blocks, and the operator and preconditioner (a few vectors' worth; the
    // caller adds what it holds besides, e.g. a factor).
    let bounds = op.gershgorin_bounds();
    let search = SearchBlocks::choose(
        &BlockPlan::InCore,
        op.fast_single_input(),
        bounds,
        prec.single_in_place(),
    );
    let blocks =
        workspace_bytes::<T>(n, m, search) + kernels_estimate::<T>(n, m, op.row_granularity());
    let resident = resident_bytes + 4 * (n * size_of::<T>()) as u64;
    let plan = BlockPlan::choose(options, blocks.saturating_add(resident), resident);
    let destination = destination::<T>(options, &plan, n, resident);
    solve(
        manager,
        Hierarchy::Single { op, prec },
        bounds,
        options,
        &plan,
        &destination,
        method,
        clock,
        progress,
    )
}

/// The host's kernels for [`block_lobpcg`]: row-chunked products with `op`, the
/// preconditioner one column at a time (out of core, each column is dropped from the resident
/// memory once done).
struct HostBackend<'a, T, A: ?Sized, P: ?Sized> {
    op: &'a A,
    prec: &'a P,
    /// The preconditioner's column for [`SearchBlocks::SingleWithColumn`].
    column: Option<Mutex<&'a mut [T]>>,
}

impl<T: Scalar, A: Operator<T> + ?Sized, P: Preconditioner<T> + ?Sized> BlockBackend<T>
    for HostBackend<'_, T, A, P>
{
    type Cols = Cols<T>;

    fn gram_op(&self, s: &Cols<T>, overlap: bool) -> Result<(Mat<T>, Option<Mat<T>>)> {
        let g = gram_op(self.op, s, overlap);
        s.check_faults()?;
        Ok(g)
    }

    fn residuals(&self, x: &Cols<T>, lambda: &[f64], r: &Cols<T>) -> Result<Vec<f64>> {
        let norms = residuals(self.op, x, lambda, Some(r));
        x.check_faults()?;
        r.check_faults()?;
        Ok(norms)
    }

    fn residuals_with_x_grams(
        &self,
        x: &Cols<T>,
        lambda: &[f64],
        r: &Cols<T>,
    ) -> Result<(Vec<f64>, Option<XGrams<T>>)> {
        let (norms, grams) = residuals_and_x_grams(self.op, x, lambda, r);
        x.check_faults()?;
        r.check_faults()?;
        Ok((norms, Some(grams)))
    }

    fn gram_op_given_x(
        &self,
        s: &Cols<T>,
        x_count: usize,
        grams: &XGrams<T>,
    ) -> Result<(Mat<T>, Mat<T>)> {
        let g = gram_op_with_x_grams(self.op, s, x_count, grams);
        s.check_faults()?;
        Ok(g)
    }

    fn precondition(&self, w: &Cols<T>) -> Result<()> {
        let n = self.op.dim();
        for j in 0..w.len() {
            // SAFETY: the loop reads and writes W's columns and nothing else uses them
            // meanwhile.
            match unsafe { w.rows_mut(j, 0..n) } {
                ColumnMut::Full(v) => self.prec.apply_in_place(v),
                ColumnMut::Single(v) => match &self.column {
                    Some(column) => self.prec.apply_in_place_single(v, &mut column.lock()),
                    None => self.prec.apply_in_place_single(v, &mut []),
                },
            }
            // Out of core: one column at a time is resident.
            w.slice(j..j + 1).release_all();
        }
        w.check_faults()
    }
}

/// Runs LOBPCG on the leading `op.dim()` rows of the workspace's X block (`m` columns,
/// m ≥ k), overwriting it with Ritz vectors: one run per group of X's columns (`ends`, the
/// last one `m`), each with the groups before it locked, in W and P of the widest group's
/// columns. Without a P block wide enough for a group the directions are deferred: the block
/// is made (and kept in the workspace) only if the run needs it.
fn lobpcg<T: Scalar, A: Operator<T> + ?Sized, P: Preconditioner<T> + ?Sized>(
    manager: &MemoryManager,
    ws: &mut Workspace<T>,
    (op, prec): (&A, &P),
    params: LobpcgParams,
    ends: &[usize],
    mut progress: Option<&mut ProgressFn<'_>>,
) -> Result<LobpcgOutcome> {
    let (n, m) = (op.dim(), ws.x.ncols());
    assert!(
        params.k <= m && m <= n && ends.last() == Some(&m),
        "block size {m} must lie between k = {} and n = {n}, and end its groups {ends:?}",
        params.k
    );
    // The kernels' chunk buffers and partial results, for this level's run (a deferred P block
    // is made like W: the same chunk rows).
    let limit = [Some(&ws.x), Some(&ws.w), ws.p.as_ref()]
        .into_iter()
        .flatten()
        .map(|b| b.chunk_rows())
        .min()
        .unwrap_or(usize::MAX);
    let _kernels = manager.external_account(
        KERNELS_TAG,
        kernel_bytes::<T>(
            n,
            3 * m,
            op.row_granularity(),
            limit,
            rayon::current_num_threads(),
        ),
    )?;
    let mut total = LobpcgOutcome::default();
    let mut start = 0;
    for &end in ends {
        let last = end == m;
        let group = LobpcgParams {
            // A group before the last must converge whole: the next one locks it.
            k: if last { params.k } else { end },
            max_iter: params.max_iter.saturating_sub(total.iterations).max(1),
            // The callback sees one run per level: applications and iterations counted on
            // from the groups before, and the level's wanted pairs.
            applications_before: params.applications_before + total.applications,
            iterations_before: params.iterations_before + total.iterations,
            ..params
        };
        let locked = Locked {
            values: &total.values[..start],
            residuals: &total.residuals[..start],
        };
        let outcome = run_group(
            manager,
            ws,
            (op, prec),
            group,
            (end, locked),
            progress.as_deref_mut(),
        )?;
        total = LobpcgOutcome {
            iterations: total.iterations + outcome.iterations,
            applications: total.applications + outcome.applications,
            preconditionings: total.preconditionings + outcome.preconditionings,
            implicit_steps: total.implicit_steps + outcome.implicit_steps,
            // The first group's: the level's first step.
            first_step_residual: total.first_step_residual.or(outcome.first_step_residual),
            ..outcome
        };
        start = end;
    }
    Ok(total)
}

/// One run of [`block_lobpcg`] on X's columns `0..end`, the `locked` ones converged in the
/// runs before (W and P hold the others).
fn run_group<T: Scalar, A: Operator<T> + ?Sized, P: Preconditioner<T> + ?Sized>(
    manager: &MemoryManager,
    ws: &mut Workspace<T>,
    (op, prec): (&A, &P),
    params: LobpcgParams,
    (end, locked): (usize, Locked<'_>),
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<LobpcgOutcome> {
    let n = op.dim();
    let width = end - locked.values.len();
    // W and P are always written before they are read.
    let x = Cols::of_rows(&mut ws.x, 0..end, n);
    let w = search_cols(&mut ws.w, ws.search, width, n);
    let column = ws.column.as_mut().map(|c| Mutex::new(c.col_mut(0)));
    let backend = HostBackend { op, prec, column };
    // A P block made by an earlier group's run is kept if it is wide enough, else given back
    // before this run may make its own.
    if ws.p.as_ref().is_some_and(|p| p.ncols() < width) {
        ws.p.take().expect("the narrow block").discard();
    }
    match &mut ws.p {
        Some(p) => {
            let p = search_cols(p, ws.search, width, n);
            block_lobpcg(
                &backend,
                [&x, &w],
                Directions::Block(&p),
                params,
                locked,
                progress,
            )
        }
        None => {
            let deferred = DeferredBlock {
                manager,
                plan: &ws.plan,
                op,
                search: ws.search,
                n,
                made: Mutex::new(None),
            };
            let outcome = block_lobpcg(
                &backend,
                [&x, &w],
                Directions::Deferred(&deferred),
                params,
                locked,
                progress,
            );
            ws.p = deferred.made.into_inner();
            outcome
        }
    }
}

/// The leading `n` rows of columns `0..m` of a W or P block stored as `search` says.
fn search_cols<T: Scalar>(b: &mut Block<T>, search: SearchBlocks, m: usize, n: usize) -> Cols<T> {
    if search == SearchBlocks::Full {
        Cols::of_rows(b, 0..m, n)
    } else {
        Cols::of_single_rows(b, 0..m, n)
    }
}

/// The P block of a run with deferred directions: made on demand, like W, and kept here until
/// the run ends (the columns handed out point into it).
struct DeferredBlock<'a, T: Scalar, A: ?Sized> {
    manager: &'a MemoryManager,
    plan: &'a BlockPlan,
    op: &'a A,
    search: SearchBlocks,
    n: usize,
    made: Mutex<Option<Block<T>>>,
}

impl<T: Scalar, A: Operator<T> + ?Sized> DirectionsSource<Cols<T>> for DeferredBlock<'_, T, A> {
    fn residual_norms(&self, x: &Cols<T>, lambda: &[f64]) -> Result<Vec<f64>> {
        let norms = residuals(self.op, x, lambda, None);
        x.check_faults()?;
        Ok(norms)
    }

    fn make_block(&self, columns: usize) -> Result<Cols<T>> {
        let mut made = self.made.lock();
        if made.is_some() {
            // The columns handed out before point into it: it must outlive the run.
            return Err(Error::new(
                ErrorKind::Internal,
                "LOBPCG asked twice for its deferred P block",
            ));
        }
        let mut block = search_block(self.manager, self.plan, self.n, columns, self.search)?;
        // The block's storage does not move with the `Block` handle.
        let cols = search_cols(&mut block, self.search, columns, self.n);
        *made = Some(block);
        Ok(cols)
    }
}
