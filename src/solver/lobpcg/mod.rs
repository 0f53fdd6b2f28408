//! Block LOBPCG (Knyazev's locally optimal block preconditioned conjugate gradient), written
//! once over a [`BlockBackend`] — where the blocks live and how `H`, the preconditioner and the
//! block products are applied — so that the host (`host.rs`: blocks in the pool or in scratch
//! files) and the GPU (`gpu/solve.rs`) run the same iteration: hard locking of the leading
//! converged pairs (their X columns and their directions leave the iteration), Rayleigh–Ritz
//! on `[X_active, W, P]` with the small dense eigenproblem on the host, and `X ← S·C`,
//! `P ← [0; W; P]·C`. The Rayleigh–Ritz step takes W and P as they are, only projected off the
//! locked pairs ([`small::project_off`]), and solves the pencil with S's Gram matrix
//! ([`small::hermitian_pencil_eigen_conditioned`]); when S is ill-conditioned (see
//! [`IMPLICIT_CONDITION_LIMIT`]) it orthonormalises them first by SVQB
//! ([`small::orthonormalize`]) and solves the standard problem ([`small::hermitian_eigen`], or
//! the pencil when W and P are stored in single precision: [`small::hermitian_pencil_eigen`]).
//! Because whole blocks are projected at once, every member of a degenerate multiplet that fits
//! in the block is found (single-vector Lanczos misses copies). A run may start with leading
//! columns of X locked ([`Locked`]: the pairs of an earlier group of the block, see
//! [`driver::group_ends`]); W and P then hold only the others.
//!
//! | file | what lives there |
//! |---|---|
//! | `mod.rs` | [`LobpcgParams`], [`LobpcgOutcome`], [`BlockBackend`], the iteration [`block_lobpcg`] |
//! | `driver.rs` | the one coarse-to-fine driver every LOBPCG solve runs through (CPU grid and CSR, shift-invert, GPU) |
//! | `host.rs` | the host's blocks (pool or scratch files) and its backend; [`host::HostLevels`] |
//! | `block.rs` | row-chunked tall-skinny kernels: Gram matrices, `SᴴHS`, combinations, residuals; `block/ritz.rs`: those sharing one iteration's products (X's Grams from the residual pass, the Ritz combination) |
//! | `small.rs` | eigen-decomposition of projected matrices, SVQB orthonormalisation |
//!
//! The unit tests below also run the loop on a minimal backend of plain vectors and compare with
//! the dense solver and the full CPU solver.

pub(crate) mod block;
pub(crate) mod driver;
pub(crate) mod host;
pub(crate) mod small;

use super::options::EigenOptions;
use super::progress::{Progress, ProgressFn};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::Scalar;
use block::XGrams;
use faer::Mat;
use small::{
    ColumnBlock, hermitian_eigen, hermitian_pencil_eigen, hermitian_pencil_eigen_conditioned,
    orthonormalize, project_off,
};

/// The residual tolerance of the coarser levels of a coarse-to-fine solve unless the level
/// before shows the grids' discretisations to be far apart ([`coarse_tolerance`]; a looser
/// request applies as it is). A coarse level's iterations cost a quarter (2D) or an eighth (3D)
/// of the next finer level's, and the better its vectors, the fewer iterations the finest level
/// needs after interpolation. Measured with the 2D dot (lowest 10, tol 10⁻⁶; same host, same
/// run), coarse levels at 10⁻³ against 10⁻⁶: the finest level's iterations at 1000² 7 → 4, time
/// 1.82 → 1.54 s; 2000² 9.7 → 3.8 s (2 finest iterations); 3D 100³, lowest 20: 10.5 → 8.6 s.
/// 10⁻⁵ and 3·10⁻⁶ lay in between. A finer request (e.g. 10⁻⁸) still stops the coarse levels
/// at 10⁻⁶ (tighter coarse tolerances were not measured).
const COARSE_TOLERANCE: f64 = 1e-6;

/// The loosest tolerance [`coarse_tolerance`] gives a coarse level.
const LOOSEST_COARSE_TOLERANCE: f64 = 1e-4;

/// The share of the previous level's first-step residual at which a coarse level stops
/// ([`coarse_tolerance`]): 1/16 for the residual the next finer level's first step will leave
/// (the discretisation error falls as h², and the grids halve h twice between the level that
/// measured it and the one that will see it; measured ratios per level 3.5–7.5), and 1/100
/// of that, well below what that step leaves.
const FIRST_STEP_SHARE: f64 = 1.0 / 1600.0;

/// The tolerance of a coarse level whose next coarser level, itself started from interpolated
/// vectors, was left by its first step with relative residual `previous` (`None`: no such
/// level, or its first step converged it).
///
/// One step of LOBPCG on a level removes what interpolation adds (the high frequencies); what
/// it leaves is the difference between the coarse and the fine grid's eigenvectors, smooth,
/// which the level then removes at the rate the gap to the next shell allows. So a level's
/// first-step residual measures how far apart its discretisation and the coarser one are, and
/// the next pair of grids lies about 16 times closer (h²). Converging a coarse level far below
/// what the next level's first step will leave buys nothing: its vectors reach the finer level
/// with that difference anyway. Measured (the same finest iterations, 19, either way; same
/// host, alternated): the 3D dot at 128³, lowest 20, whose 32³ level's first step leaves
/// 5.9·10⁻² (the 64³ level then stops at 3.7·10⁻⁵ instead of 10⁻⁶), and the 2D dot at 1000²,
/// whose levels' first steps leave 9·10⁻⁴ at most, keeps 10⁻⁶ on every level — see
/// docs/benchmarks.md ("Coarse levels stop where the grids' difference shows").
pub(crate) fn coarse_tolerance(previous: Option<f64>) -> f64 {
    previous.map_or(COARSE_TOLERANCE, |r| {
        (r * FIRST_STEP_SHARE).clamp(COARSE_TOLERANCE, LOOSEST_COARSE_TOLERANCE)
    })
}

/// What LOBPCG is asked to do on one level.
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
    /// Operator applications on the levels before this one (progress reports count from it).
    pub applications_before: u64,
    /// Iterations of the earlier runs on this level (the groups before this one: progress
    /// reports count this level's iterations on from it).
    pub iterations_before: usize,
    /// The pairs progress reports call wanted: the level's, where `k` is a group's.
    pub wanted: usize,
}

impl LobpcgParams {
    /// The parameters of `level` (0 = finest) in a solve of `levels` levels for `options`, on an
    /// operator whose spectrum lies in `bounds` (Gershgorin, of the finest operator): the
    /// requested tolerance on the finest level, the looser of it and [`coarse_tolerance`] of
    /// `previous` above it (the first-step residual of the level before, see there), and a
    /// scale of 10⁻³ of the spectrum's width; `applications_before` as done on the coarser
    /// levels; one run on the level, for all `options.k` pairs.
    pub(crate) fn for_level(
        options: &EigenOptions,
        (lower, upper): (f64, f64),
        (level, levels): (usize, usize),
        applications_before: u64,
        previous: Option<f64>,
    ) -> Self {
        Self {
            k: options.k,
            tol: if level == 0 {
                options.tol
            } else {
                options.tol.max(coarse_tolerance(previous))
            },
            max_iter: options.max_iterations,
            scale: 1e-3 * (upper - lower).abs(),
            level,
            levels,
            applications_before,
            iterations_before: 0,
            wanted: options.k,
        }
    }
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
    /// Iterations whose Rayleigh–Ritz step ran on W and P as they were (see
    /// [`IMPLICIT_CONDITION_LIMIT`]).
    pub implicit_steps: usize,
    /// The largest relative residual of the wanted pairs not yet converged after the first
    /// step (at the second iteration; `None` when the run ended before it): how far the
    /// starting vectors were from the level's own pairs, once the first step took out what
    /// interpolation added ([`coarse_tolerance`]).
    pub first_step_residual: Option<f64>,
}

/// Where the blocks live and how the operator and preconditioner act on them.
pub(crate) trait BlockBackend<T: Scalar> {
    /// A set of columns.
    type Cols: ColumnBlock<T>;
    /// `Sᴴ·H·S`, and `Sᴴ·S` where `overlap` asks for it or S is stored inexactly
    /// (single-precision columns, whose rounding leaves them orthonormal only to single
    /// precision); `None`: S is orthonormal to working precision.
    fn gram_op(&self, s: &Self::Cols, overlap: bool) -> Result<(Mat<T>, Option<Mat<T>>)>;
    /// `r_j = H·x_j − λ_j·x_j`; returns `‖r_j‖`.
    fn residuals(&self, x: &Self::Cols, lambda: &[f64], r: &Self::Cols) -> Result<Vec<f64>>;
    /// [`residuals`](Self::residuals), and `Xᴴ·H·X` and `Xᴴ·X` from the same products where the
    /// backend computes them, for [`gram_op_given_x`](Self::gram_op_given_x) (this default:
    /// `None`, the Rayleigh–Ritz step computes them itself).
    fn residuals_with_x_grams(
        &self,
        x: &Self::Cols,
        lambda: &[f64],
        r: &Self::Cols,
    ) -> Result<(Vec<f64>, Option<XGrams<T>>)> {
        Ok((self.residuals(x, lambda, r)?, None))
    }
    /// `(Sᴴ·H·S, Sᴴ·S)` for `S = [X, R]` whose first `x_count` columns are X, whose Grams are
    /// `grams` (X has not changed since the residual pass made them). This default: `gram_op`
    /// with the overlap.
    fn gram_op_given_x(
        &self,
        s: &Self::Cols,
        x_count: usize,
        grams: &XGrams<T>,
    ) -> Result<(Mat<T>, Mat<T>)> {
        let _ = (x_count, grams);
        let (a, g) = self.gram_op(s, true)?;
        Ok((a, g.expect("the Gram matrix was asked for")))
    }
    /// `w_j ← T·w_j` for every column (T ≈ (H − σ)⁻¹).
    fn precondition(&self, w: &Self::Cols) -> Result<()>;
}

/// Where LOBPCG's search directions P live.
pub(crate) enum Directions<'a, C> {
    /// A block of as many columns as X, made before the run.
    Block(&'a C),
    /// A block made by `source` only when an iteration needs it (see [`block_lobpcg`]).
    Deferred(&'a dyn DirectionsSource<C>),
}

/// What a run with deferred search directions ([`Directions::Deferred`]) needs besides the
/// backend.
pub(crate) trait DirectionsSource<C> {
    /// `‖H·x_j − λ_j·x_j‖` for every column, the residuals not stored (the same bits as
    /// [`BlockBackend::residuals`] returns).
    fn residual_norms(&self, x: &C, lambda: &[f64]) -> Result<Vec<f64>>;
    /// A new block like W (stored the same way) of `columns` columns; its contents are
    /// undefined.
    fn make_block(&self, columns: usize) -> Result<C>;
}

/// The leading columns of X that hold converged pairs of an earlier run on the same level (a
/// group of the block, see [`driver::group_ends`]): a run keeps them as they are, their values
/// and residuals as given, and keeps its own columns orthogonal to them (hard locking from the
/// start). W and P then need columns only for the others.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Locked<'a> {
    /// Their Ritz values.
    pub values: &'a [f64],
    /// Their residual norms.
    pub residuals: &'a [f64],
}

/// Ritz values (ascending) and their coefficient vectors in the basis of a Rayleigh–Ritz step.
type RitzPairs<T> = (Vec<f64>, Mat<T>);

/// The Ritz values (ascending) and coefficient vectors from `(SᴴHS, SᴴS)`: the standard
/// problem for an orthonormal S, the pencil when the Gram matrix is given.
fn rayleigh_ritz<T: Scalar>((a, overlap): (Mat<T>, Option<Mat<T>>)) -> Result<RitzPairs<T>> {
    match overlap {
        None => hermitian_eigen(&a),
        Some(g) => hermitian_pencil_eigen(&a, &g),
    }
}

/// The largest condition number of the (column-scaled) Gram matrix of `S = [X_active, W, P]`
/// with which the Rayleigh–Ritz step runs on W and P as they are, not orthonormalised.
///
/// Orthonormalising W against X and P against `[X, W]` takes two passes over the blocks each
/// (a Gram matrix and a combination); the Rayleigh–Ritz step can do without them by solving
/// the pencil `(SᴴHS, SᴴS)` with the Gram matrix of S, which it computes in its own pass over
/// S (and computes anyway when W and P are stored in single precision). With a preconditioner
/// close to `H⁻¹`, W = T·R is nearly orthogonal to X already (Xᴴ·H⁻¹·R = Λ⁻¹·Xᴴ·R = 0), and
/// P is a small update of X. Measured over every Rayleigh–Ritz step of the examples' solves,
/// the column-scaled Gram matrix of `[X_active, W, P]` (W and P projected off the locked
/// pairs) had condition numbers of 1.6–3·10⁵ (median 37) in the 37 steps of the 2D 1000²
/// solve, and 1.6–8·10¹¹ (median 11) in the 76 of the 3D 128³ solve, 2 of them above this
/// limit. Only when S is this well conditioned is the pencil solved directly: its SVQB basis
/// `M` (`MᴴGM = I`) then has `‖M‖² ≤ 10⁶`, so the combination `X ← S·M·Y` loses at most six of double precision's
/// sixteen digits to rounding (and W and P, stored in single precision, keep their directions
/// to 10⁻⁴ at worst: each new direction is at least 10⁻³ of its column, the rounding 6·10⁻⁸).
/// Above it the step falls back to explicit orthonormalisation. What keeps the blocks
/// orthogonal to the locked pairs is explicit whatever the condition: W is projected off every
/// locked pair, P off those that lock at this iteration (before it, P was built from W and P
/// orthogonal to the pairs locked until then).
pub(crate) const IMPLICIT_CONDITION_LIMIT: f64 = 1e6;

/// A Rayleigh–Ritz step's S, its Ritz pairs and the norms of S's columns.
type RitzStep<C, T> = (C, RitzPairs<T>, Vec<f64>);

/// The Rayleigh–Ritz step on `S = [X_active, W, P]` with W and P as they are (projected off
/// the locked pairs, not orthonormalised), by the pencil `(SᴴHS, SᴴS)`. Returns S, the Ritz
/// pairs and the norms of S's columns, or `None` when S's Gram matrix has a condition number
/// above [`IMPLICIT_CONDITION_LIMIT`]: the step must then run on orthonormalised blocks
/// (nothing was written: W and P are as given).
fn implicit_rayleigh_ritz<T: Scalar, B: BlockBackend<T>>(
    backend: &B,
    [x_active, w, p]: [&B::Cols; 3],
    x_grams: Option<&XGrams<T>>,
) -> Result<Option<RitzStep<B::Cols, T>>> {
    let s = B::Cols::join(&[x_active, w, p]);
    let (a, g) = match x_grams {
        Some(grams) => backend.gram_op_given_x(&s, x_active.count(), grams)?,
        None => {
            let (a, g) = backend.gram_op(&s, true)?;
            (a, g.expect("the Gram matrix was asked for"))
        }
    };
    let (values, vectors, condition) = hermitian_pencil_eigen_conditioned(&a, &g)?;
    let norms = (0..g.nrows())
        .map(|i| g[(i, i)].to_complex().re.max(0.0).sqrt())
        .collect();
    Ok((condition <= IMPLICIT_CONDITION_LIMIT).then_some((s, (values, vectors), norms)))
}

/// The rounding of W and P (single precision at most: half its machine epsilon) that the
/// combination `X ← X·C_X + [W, P]·C_R` carries into X's active columns: what those columns
/// gain along the locked pairs per step, at most `DIRECTIONS_ROUNDING · Σ_i |C_ij|·‖s_i‖`
/// over W's and P's columns `s_i` (projected off the locked pairs before they were rounded).
const DIRECTIONS_ROUNDING: f64 = f32::EPSILON as f64 / 2.0;

/// The part of the strictest residual threshold that the locked pairs' components in X's
/// active columns may take (each adds at most `component · |λ_locked − θ|` to a residual)
/// before the columns are projected off them again.
const DRIFT_SHARE: f64 = 0.1;

/// The largest component along the locked pairs that one Rayleigh–Ritz step's combination
/// can add to X's new active columns (see [`DIRECTIONS_ROUNDING`]): from the coefficients of
/// the `active` new columns and the norms of S's columns, of which the first `x_count` are X's.
fn step_drift<T: Scalar>(
    u: faer::MatRef<'_, T>,
    norms: &[f64],
    x_count: usize,
    active: usize,
) -> f64 {
    (0..active)
        .map(|j| {
            (x_count..u.nrows())
                .map(|i| u[(i, j)].to_complex().norm() * norms[i])
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
        * DIRECTIONS_ROUNDING
}

/// LOBPCG on the blocks `x` (`m` columns, `k ≤ m`), `w` and the search directions `p` (a
/// column for each of X's but the `locked` ones), overwriting `x`'s columns after the locked
/// ones with Ritz vectors; `w` and `p` are work blocks whose contents are ignored. The
/// iteration of the host and the GPU solvers (see the module doc).
///
/// With [`Directions::Deferred`] the run starts without P's block. The first Rayleigh–Ritz
/// step has no directions yet, and writes the new ones (`W·C`) over W's own columns; the next
/// iteration then measures the residuals without storing them, and only if it has to go on does
/// it make the block, as wide as the pairs still active, which takes the residuals and becomes
/// W while the old W's storage becomes P. A run that converges after one Rayleigh–Ritz step —
/// the finest level of a coarse-to-fine solve on a large grid, which starts from interpolated
/// vectors — never holds the block (2000² dot: a block of 10 single-precision columns,
/// 153 MiB). The price, when it goes on, is one
/// more product of the active columns with H; the iterates are the same bits either way.
///
/// Locking is hard: a pair that converges leaves the active columns of X, and its search
/// direction leaves P (P is a window of its storage's columns that moves past the directions
/// of the pairs that lock). W and P are projected off the locked pairs, but what their
/// rounding leaves along those pairs reaches the active columns of X through the
/// combinations: the run bounds it ([`step_drift`]) and projects X's active columns off the
/// locked pairs again when it could take more than [`DRIFT_SHARE`] of a residual threshold
/// (with single-precision W and P and a tolerance of 10⁻¹¹, at every iteration after the
/// first pairs lock; at 10⁻⁶, in none of the 2D and 3D dots' solves), and at the end of a run
/// that started with locked pairs, so that the returned columns are orthogonal to them to
/// rounding (the 3D dot at 64³: a bound of 2.7·10⁻⁹ before that projection). When the deferred
/// block is made, the old W's columns that held the directions of the pairs locking at that
/// iteration are given back to the system (in core): at 5000² they are what kept that
/// iteration's peak above 4 GiB.
pub(crate) fn block_lobpcg<T: Scalar, B: BlockBackend<T>>(
    backend: &B,
    [xall, wall]: [&B::Cols; 2],
    directions: Directions<'_, B::Cols>,
    params: LobpcgParams,
    start_locked: Locked<'_>,
    mut progress: Option<&mut ProgressFn<'_>>,
) -> Result<LobpcgOutcome> {
    let m = xall.count();
    let l0 = start_locked.values.len();
    let (mut pall, source) = match directions {
        Directions::Block(p) => (Some(p.columns(0..p.count())), None),
        Directions::Deferred(source) => (None, Some(source)),
    };
    let mut wall = wall.columns(0..wall.count());
    if params.k > m
        || l0 >= m
        || start_locked.residuals.len() != l0
        || wall.count() != m - l0
        || pall.as_ref().is_some_and(|p| p.count() != m - l0)
    {
        return Err(Error::new(
            ErrorKind::Internal,
            format!(
                "LOBPCG blocks of {m} ({l0} locked), {} and {:?} columns for k = {}",
                wall.count(),
                pall.as_ref().map(|p| p.count()),
                params.k
            ),
        ));
    }
    let mut out = LobpcgOutcome::default();

    // Start: orthonormalise X's active columns (against the locked ones) and rotate them to
    // Ritz vectors.
    let x_start = xall.columns(l0..m);
    let kept = orthonormalize(&xall.columns(0..l0), &x_start)?;
    if kept < m - l0 {
        return Err(Error::new(
            ErrorKind::Internal,
            format!("the initial block has rank {kept} < {}", m - l0),
        ));
    }
    let (theta, u) = rayleigh_ritz(backend.gram_op(&x_start, false)?)?;
    out.applications += (m - l0) as u64;
    B::Cols::combine_into(&x_start, u.as_ref(), &x_start)?;
    let mut lambda = start_locked.values.to_vec();
    lambda.extend_from_slice(&theta);
    let mut res_norms = start_locked.residuals.to_vec();
    res_norms.resize(m, f64::INFINITY);

    let mut locked = l0;
    // X's Grams from the latest residual pass, and the first column of X they cover.
    let mut x_grams: Option<(usize, XGrams<T>)>;
    let mut p_count = 0;
    // P's columns are `p_first..p_first + p_count` of its storage.
    let mut p_first = 0;
    let threshold = |l: f64| params.tol * l.abs().max(params.scale);
    // A bound on the active columns' components along the locked pairs (relative to the
    // columns' unit norm), since they were last projected off them.
    let mut drift = 0.0;

    for iteration in 1..=params.max_iter {
        out.iterations = iteration;
        let na = m - locked;
        if locked > 0 && drift > 0.0 {
            let spread = (lambda[m - 1] - lambda[0]).abs();
            let strictest = (locked..params.k)
                .map(|j| threshold(lambda[j]))
                .fold(f64::INFINITY, f64::min);
            if drift * spread > DRIFT_SHARE * strictest {
                project_off(&xall.columns(0..locked), &xall.columns(locked..m))?;
                drift = 0.0;
            }
        }
        // Deferred directions not yet in a block of their own are W's leading columns.
        let directions_in_w = pall.is_none() && p_count > 0;
        let norms = match source {
            Some(source) if directions_in_w => {
                x_grams = None;
                source.residual_norms(&xall.columns(locked..m), &lambda[locked..])?
            }
            _ => {
                let (norms, grams) = backend.residuals_with_x_grams(
                    &xall.columns(locked..m),
                    &lambda[locked..],
                    &wall.take(na),
                )?;
                x_grams = grams.map(|g| (locked, g));
                norms
            }
        };
        out.applications += na as u64;
        res_norms[locked..].copy_from_slice(&norms);
        // Lock the leading run of wanted pairs that meet the tolerance.
        let newly = (locked..params.k)
            .take_while(|&j| res_norms[j] <= threshold(lambda[j]))
            .count();
        let max_residual = (locked + newly..params.k)
            .map(|j| res_norms[j] / lambda[j].abs().max(params.scale))
            .fold(0.0, f64::max);
        if iteration == 2 {
            out.first_step_residual = Some(max_residual);
        }
        if let Some(callback) = progress.as_mut() {
            let report = Progress {
                level: params.level,
                levels: params.levels,
                iteration: params.iterations_before + iteration,
                converged: locked + newly,
                wanted: params.wanted,
                max_residual,
                applications: params.applications_before + out.applications,
            };
            if callback(&report) {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    format!(
                        "cancelled by the progress callback at iteration {}",
                        report.iteration
                    ),
                ));
            }
        }
        locked += newly;
        if locked >= params.k {
            out.converged = locked;
            break;
        }
        // Residuals of the still-active pairs are W's columns `newly..na`; with the directions
        // still in W, a new block takes them (and is W from now on, the old W's storage P).
        let wa = match source {
            Some(source) if directions_in_w => {
                // Only the active pairs need residuals (and directions) from now on.
                let active = m - locked;
                let made = source.make_block(active)?;
                let old_w = pall.insert(std::mem::replace(&mut wall, made));
                // SAFETY: the old W's storage is P from now on, whose window (below) starts
                // past the directions of the pairs that just locked and only moves on: those
                // columns are never read again (the workspace's owner writes W and P before
                // reading them in any later run). Their pages go back to the system: at 5000²
                // three single-precision columns, 286 MiB of the solve's peak.
                unsafe { old_w.columns(p_first..p_first + newly).discard() };
                let (_, grams) = backend.residuals_with_x_grams(
                    &xall.columns(locked..m),
                    &lambda[locked..],
                    &wall.take(active),
                )?;
                x_grams = grams.map(|g| (locked, g));
                out.applications += active as u64;
                wall.take(active)
            }
            _ => wall.columns(newly..na),
        };
        backend.precondition(&wa)?;
        out.preconditionings += wa.count() as u64;
        let active = m - locked;
        // Without a block for them yet, the directions go into W's storage (`W·C` below).
        let pall_now = pall.as_ref().unwrap_or(&wall);
        // The directions of the pairs that just locked leave P (hard locking): P's window
        // moves past them.
        if p_count > 0 {
            p_first += newly;
            p_count -= newly;
        }
        let p_window = pall_now.columns(p_first..p_first + p_count);
        let x_active = xall.columns(locked..m);
        // Hard locking: W and P must be orthogonal to every locked pair. W (T·R) is projected
        // off them; P was built from W and P that were orthogonal to the pairs locked before
        // this iteration, so it is projected off the pairs that lock now only. Then the
        // Rayleigh–Ritz step takes them as they are, unless S is ill-conditioned (see
        // `IMPLICIT_CONDITION_LIMIT`).
        if locked > 0 {
            project_off(&xall.columns(0..locked), &wa)?;
        }
        if newly > 0 && p_count > 0 {
            project_off(&xall.columns(locked - newly..locked), &p_window)?;
        }
        // X is as the residual pass saw it (locking only moved past its leading columns).
        let x_now = x_grams
            .as_ref()
            .map(|(first, g)| g.trailing(locked - first));
        let implicit =
            implicit_rayleigh_ritz(backend, [&x_active, &wa, &p_window], x_now.as_ref())?;
        // The products of X with H came from the residual pass when the step used them.
        let reused = if implicit.is_some() && x_now.is_some() {
            active
        } else {
            0
        };
        let x_count = x_active.count();
        let (s, (theta, u), norms) = match implicit {
            Some(done) => {
                out.implicit_steps += 1;
                done
            }
            None => {
                let wk = wa.take(orthonormalize(xall, &wa)?);
                let np = if p_count > 0 {
                    orthonormalize(&B::Cols::join(&[xall, &wk]), &p_window)?
                } else {
                    0
                };
                let s = B::Cols::join(&[&x_active, &wk, &p_window.take(np)]);
                let rr = rayleigh_ritz(backend.gram_op(&s, false)?)?;
                // Orthonormal columns.
                let norms = vec![1.0; s.count()];
                (s, rr, norms)
            }
        };
        if u.ncols() < active {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "the Rayleigh–Ritz basis kept {} of {} directions, fewer than the {active} active pairs",
                    u.ncols(),
                    s.count()
                ),
            ));
        }
        out.applications += (s.count() - reused) as u64;
        // X_active ← S·C and P ← [0; W; P]·C, with C the lowest `active` Ritz vectors. The
        // outputs may be W's own columns (deferred directions): the combination reads every
        // input of a row before it writes any output.
        B::Cols::combine_ritz(
            &s,
            active,
            u.as_ref().subcols(0, active),
            &xall.columns(locked..m),
            &pall_now.columns(p_first..p_first + active),
        )?;
        if locked > 0 {
            drift += step_drift(u.as_ref(), &norms, x_count, active);
        }
        p_count = active;
        lambda[locked..].copy_from_slice(&theta[..active]);
        out.converged = locked;
    }
    // The columns after the pairs locked from the start leave them exactly (to rounding).
    if l0 > 0 && drift > 0.0 {
        project_off(&xall.columns(0..l0), &xall.columns(l0..m))?;
    }
    // Locked pairs keep the values they had when they locked; in a degenerate multiplet a pair
    // that converged later can end a few ulps below them. Return the pairs in ascending order
    // (permuting X's columns), and count the converged ones as the leading run again.
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| lambda[a].total_cmp(&lambda[b]));
    if order.iter().enumerate().any(|(i, &j)| i != j) {
        let permutation =
            Mat::<T>::from_fn(
                m,
                m,
                |i, j| {
                    if order[j] == i { T::ONE } else { T::ZERO_VALUE }
                },
            );
        B::Cols::combine_into(xall, permutation.as_ref(), xall)?;
        lambda = order.iter().map(|&j| lambda[j]).collect();
        res_norms = order.iter().map(|&j| res_norms[j]).collect();
        out.converged = (0..params.k)
            .take_while(|&j| res_norms[j] <= threshold(lambda[j]))
            .count();
    }
    out.values = lambda;
    out.residuals = res_norms;
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! The generic loop on a plain host backend (columns in `Vec`s, straightforward loops),
    //! against the CPU solver and the exact spectrum of the discrete box.
    use super::*;
    use crate::memory::MemoryManager;
    use crate::physics::{Grid, HamiltonianSpec, StencilOperator, parabolic_potential};
    use crate::solver::random::fill_random;
    use crate::solver::{EigenOptions, Jacobi, Operator, Preconditioner};
    use num_complex::Complex64;
    use std::cell::RefCell;
    use std::ops::Range;

    /// Columns of a shared arena of host vectors.
    #[derive(Clone)]
    struct HostCols<'a, T> {
        arena: &'a RefCell<Vec<Vec<T>>>,
        index: Vec<usize>,
    }

    impl<T: Scalar> ColumnBlock<T> for HostCols<'_, T> {
        fn count(&self) -> usize {
            self.index.len()
        }
        fn columns(&self, range: Range<usize>) -> Self {
            Self {
                arena: self.arena,
                index: self.index[range].to_vec(),
            }
        }
        fn join(parts: &[&Self]) -> Self {
            Self {
                arena: parts[0].arena,
                index: parts.iter().flat_map(|p| p.index.clone()).collect(),
            }
        }
        fn gram_of(a: &Self, b: &Self) -> Result<Mat<T>> {
            let arena = a.arena.borrow();
            Ok(Mat::from_fn(a.count(), b.count(), |i, j| {
                let (u, v) = (&arena[a.index[i]], &arena[b.index[j]]);
                u.iter()
                    .zip(v)
                    .fold(T::ZERO_VALUE, |acc, (&x, &y)| acc + x.conj_value() * y)
            }))
        }
        fn combine_into(inputs: &Self, coeff: faer::MatRef<'_, T>, outputs: &Self) -> Result<()> {
            let mut arena = inputs.arena.borrow_mut();
            let n = arena[0].len();
            let results: Vec<Vec<T>> = (0..outputs.count())
                .map(|j| {
                    let mut col = vec![T::ZERO_VALUE; n];
                    for (i, &src) in inputs.index.iter().enumerate() {
                        for (c, &x) in col.iter_mut().zip(&arena[src]) {
                            *c += x * coeff[(i, j)];
                        }
                    }
                    col
                })
                .collect();
            for (&dst, col) in outputs.index.iter().zip(results) {
                arena[dst] = col;
            }
            Ok(())
        }
    }

    struct HostBackend<'a, T: Scalar> {
        op: &'a StencilOperator<T>,
        jacobi: Jacobi,
    }

    impl<'a, T: Scalar> BlockBackend<T> for HostBackend<'a, T> {
        type Cols = HostCols<'a, T>;
        fn gram_op(&self, s: &Self::Cols, overlap: bool) -> Result<(Mat<T>, Option<Mat<T>>)> {
            let hs_index: Vec<usize> = {
                let mut arena = s.arena.borrow_mut();
                let products: Vec<Vec<T>> = s
                    .index
                    .iter()
                    .map(|&c| {
                        let mut y = vec![T::ZERO_VALUE; arena[c].len()];
                        Operator::apply(self.op, &arena[c], &mut y);
                        y
                    })
                    .collect();
                let start = arena.len();
                arena.extend(products);
                (start..arena.len()).collect()
            };
            let hs = HostCols {
                arena: s.arena,
                index: hs_index,
            };
            let g = HostCols::gram_of(s, &hs);
            s.arena.borrow_mut().truncate(hs.index[0]);
            let overlap = if overlap {
                Some(HostCols::gram_of(s, s)?)
            } else {
                None
            };
            Ok((g?, overlap))
        }
        fn residuals(&self, x: &Self::Cols, lambda: &[f64], r: &Self::Cols) -> Result<Vec<f64>> {
            Ok(self.residuals_into(x, lambda, Some(r)))
        }
        fn precondition(&self, w: &Self::Cols) -> Result<()> {
            let mut arena = w.arena.borrow_mut();
            for &c in &w.index {
                self.jacobi.apply_in_place(&mut arena[c]);
            }
            Ok(())
        }
    }

    impl<'a, T: Scalar> HostBackend<'a, T> {
        /// `H·x_j − λ_j·x_j` into `r`'s columns (if any); their norms.
        fn residuals_into(
            &self,
            x: &HostCols<'a, T>,
            lambda: &[f64],
            r: Option<&HostCols<'a, T>>,
        ) -> Vec<f64> {
            let mut arena = x.arena.borrow_mut();
            let mut norms = Vec::new();
            for (j, (&xi, &l)) in x.index.iter().zip(lambda).enumerate() {
                let mut y = vec![T::ZERO_VALUE; arena[xi].len()];
                Operator::apply(self.op, &arena[xi], &mut y);
                for (yi, &v) in y.iter_mut().zip(&arena[xi]) {
                    *yi -= v.scale(l);
                }
                norms.push(y.iter().map(|v| v.abs_sq()).sum::<f64>().sqrt());
                if let Some(r) = r {
                    arena[r.index[j]] = y;
                }
            }
            norms
        }
    }

    /// The deferred P block of the plain backend: `m` more vectors at the end of the arena.
    struct HostDirections<'a, T: Scalar> {
        backend: &'a HostBackend<'a, T>,
        arena: &'a RefCell<Vec<Vec<T>>>,
        m: usize,
        made: std::cell::Cell<usize>,
    }

    impl<'a, T: Scalar> DirectionsSource<HostCols<'a, T>> for HostDirections<'a, T> {
        fn residual_norms(&self, x: &HostCols<'a, T>, lambda: &[f64]) -> Result<Vec<f64>> {
            Ok(self.backend.residuals_into(x, lambda, None))
        }
        fn make_block(&self, columns: usize) -> Result<HostCols<'a, T>> {
            assert!(columns <= self.m);
            self.made.set(self.made.get() + 1);
            let mut arena = self.arena.borrow_mut();
            let (n, start) = (arena[0].len(), arena.len());
            arena.extend((0..columns).map(|_| vec![T::ZERO_VALUE; n]));
            Ok(HostCols {
                arena: self.arena,
                index: (start..start + columns).collect(),
            })
        }
    }

    /// The vectors of X, W and P (`m` columns of `n` each), all three filled with the seeded
    /// random start (W and P are written before they are read).
    fn random_arena<T: Scalar>(n: usize, m: usize) -> RefCell<Vec<Vec<T>>> {
        RefCell::new(
            (0..3 * m)
                .map(|j| {
                    let mut v = vec![T::ZERO_VALUE; n];
                    fill_random(&mut v, 7, j % m);
                    v
                })
                .collect(),
        )
    }

    fn solve<T: Scalar>(op: &StencilOperator<T>, k: usize, m: usize) -> LobpcgOutcome {
        solve_from(op, k, m, None, false).0
    }

    /// LOBPCG on `op` from the seeded random block, or from `start` (`m` vectors); with
    /// `deferred` directions. Also returns the Ritz vectors and how many P blocks were made.
    fn solve_from<T: Scalar>(
        op: &StencilOperator<T>,
        k: usize,
        m: usize,
        start: Option<&[Vec<T>]>,
        deferred: bool,
    ) -> (LobpcgOutcome, Vec<Vec<T>>, usize) {
        let arena = random_arena(op.dim(), m);
        let block = |r: Range<usize>| HostCols {
            arena: &arena,
            index: r.collect(),
        };
        let backend = HostBackend {
            op,
            jacobi: Jacobi::new(op),
        };
        let options = EigenOptions {
            k,
            tol: 1e-8,
            max_iterations: 2000,
            ..Default::default()
        };
        if let Some(start) = start {
            arena.borrow_mut()[..m].clone_from_slice(start);
        }
        let params = LobpcgParams::for_level(&options, op.gershgorin_bounds(), (0, 1), 0, None);
        let source = HostDirections {
            backend: &backend,
            arena: &arena,
            m,
            made: std::cell::Cell::new(0),
        };
        let p = block(2 * m..3 * m);
        let directions = if deferred {
            Directions::Deferred(&source)
        } else {
            Directions::Block(&p)
        };
        let out = block_lobpcg(
            &backend,
            [&block(0..m), &block(m..2 * m)],
            directions,
            params,
            Locked::default(),
            None,
        )
        .unwrap();
        let x = arena.borrow()[..m].to_vec();
        (out, x, source.made.get())
    }

    #[test]
    fn coarse_levels_loosen_only_as_far_as_the_grids_difference_allows() {
        // No measurement, or a first step that left less than 1600 times 10⁻⁶ (the 2D dot's
        // levels: 9·10⁻⁴ at most): 10⁻⁶.
        assert_eq!(coarse_tolerance(None), COARSE_TOLERANCE);
        assert_eq!(coarse_tolerance(Some(9e-4)), COARSE_TOLERANCE);
        assert_eq!(coarse_tolerance(Some(0.0)), COARSE_TOLERANCE);
        // The 3D dot's 32³ level left 5.9·10⁻²: its 64³ level stops at 3.7·10⁻⁵.
        let t = coarse_tolerance(Some(5.9e-2));
        assert!((t - 3.6875e-5).abs() < 1e-12, "{t}");
        // Never looser than 10⁻⁴, and monotone in between.
        assert_eq!(coarse_tolerance(Some(10.0)), LOOSEST_COARSE_TOLERANCE);
        let steps: Vec<f64> = (0..60)
            .map(|i| coarse_tolerance(Some(1e-4 * 1.25f64.powi(i))))
            .collect();
        assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
        // The finest level keeps the request; a coarse one takes the looser of the two.
        let options = EigenOptions {
            tol: 1e-3,
            ..EigenOptions::default()
        };
        let bounds = (0.0, 1.0);
        assert_eq!(
            LobpcgParams::for_level(&options, bounds, (0, 3), 0, Some(1.0)).tol,
            1e-3
        );
        assert_eq!(
            LobpcgParams::for_level(&options, bounds, (1, 3), 0, Some(1.0)).tol,
            1e-3
        );
        let strict = EigenOptions {
            tol: 1e-9,
            ..EigenOptions::default()
        };
        assert_eq!(
            LobpcgParams::for_level(&strict, bounds, (1, 3), 0, Some(5.9e-2)).tol,
            t
        );
        assert_eq!(
            LobpcgParams::for_level(&strict, bounds, (0, 3), 0, Some(5.9e-2)).tol,
            1e-9
        );
    }

    #[test]
    fn the_outcome_keeps_the_residual_the_first_step_left() {
        // The box from its random start: the progress report of iteration 2 is the first
        // step's residual.
        let manager = MemoryManager::with_defaults().unwrap();
        let op = box_24(&manager);
        let (outcome, _, _) = solve_from(&op, 6, 8, None, false);
        assert!(outcome.iterations > 2);
        let r = outcome.first_step_residual.expect("a second iteration ran");
        assert!(r > 0.0 && r.is_finite(), "{r}");
        // Restarted from its own Ritz vectors the run converges within a step or two: the
        // residual is recorded exactly when a second iteration ran, and lies far below the
        // random start's.
        let (_, x, _) = solve_from(&op, 6, 8, None, false);
        let (again, _, _) = solve_from(&op, 6, 8, Some(&x), false);
        assert_eq!(again.first_step_residual.is_some(), again.iterations >= 2);
        assert!(
            again.first_step_residual.unwrap_or(0.0) < 1e-3 * r,
            "{again:?}"
        );
    }

    /// The box of docs/validation.md case 1 on a 24² grid (degenerate pairs), GaAs mass.
    fn box_24(manager: &MemoryManager) -> StencilOperator<f64> {
        let grid = Grid::dirichlet_box(&[20.0, 20.0], &[24, 24]).unwrap();
        StencilOperator::<f64>::new(manager, &HamiltonianSpec::new(grid, 0.067, None), "t").unwrap()
    }

    /// The lowest `k` eigenpairs of `op` by the dense solver.
    fn dense_lowest(
        manager: &MemoryManager,
        op: &StencilOperator<f64>,
        k: usize,
    ) -> crate::solver::DenseEigen<f64, f64> {
        let dense = op.to_csr("t.csr").unwrap().to_dense();
        let n = op.dim();
        let mut matrix =
            crate::matrix::ManagedMatrix::<f64>::zeros(manager, n, n, "t.dense").unwrap();
        matrix.copy_from(dense.as_ref()).unwrap();
        crate::solver::dense_hermitian(manager, &matrix, Some(k)).unwrap()
    }

    #[test]
    fn deferred_directions_give_the_same_bits_and_a_block_only_when_needed() {
        // The box of case 1 from a random start: many iterations, so the P block is made once;
        // values, residuals and vectors are those of the run with P made up front.
        let manager = MemoryManager::with_defaults().unwrap();
        let op = box_24(&manager);
        let (eager, x_eager, made) = solve_from(&op, 6, 8, None, false);
        assert_eq!(made, 0);
        let (lazy, x_lazy, made) = solve_from(&op, 6, 8, None, true);
        assert_eq!(made, 1, "a long run makes the block once");
        assert_eq!(eager.converged, 6);
        assert_eq!(
            (eager.iterations, &eager.values, &eager.residuals, &x_eager),
            (lazy.iterations, &lazy.values, &lazy.residuals, &x_lazy)
        );
        // The deferred run did one more product with H for each active column, to store the
        // residuals it had measured.
        assert!(
            lazy.applications > eager.applications && lazy.applications <= eager.applications + 8
        );
        // One Rayleigh–Ritz step is enough from the lowest 8 eigenvectors (dense solver) with 1 %
        // of the 9th mixed into each (as a coarse-to-fine level starts from nearly converged
        // vectors): the residuals, and W (the Jacobi preconditioner of the box is a constant
        // scaling), lie in the span of the lowest 9. The deferred run measures the residuals of
        // its second iteration and stops without making the block.
        let exact = dense_lowest(&manager, &op, 9);
        let ninth = exact.vectors.col(8);
        let start: Vec<Vec<f64>> = (0..8)
            .map(|j| {
                let e = exact.vectors.col(j);
                e.iter().zip(ninth).map(|(a, b)| a + 0.01 * b).collect()
            })
            .collect();
        let (quick_eager, x_quick_eager, _) = solve_from(&op, 6, 8, Some(&start), false);
        let (quick, x_quick, made) = solve_from(&op, 6, 8, Some(&start), true);
        assert_eq!(
            (quick.iterations, quick.converged, made),
            (2, 6, 0),
            "{quick:?}"
        );
        assert_eq!(
            (
                &quick_eager.values,
                &x_quick_eager,
                quick_eager.applications
            ),
            (&quick.values, &x_quick, quick.applications)
        );
    }

    #[test]
    fn rayleigh_ritz_on_w_and_p_as_they_are_agrees_with_orthonormalised_blocks_or_declines() {
        // S = [X, W, P] on the box of case 1: X orthonormal, W and P random (not orthogonal to
        // X nor to each other). The pencil on S as it is and the standard problem on W and P
        // orthonormalised span the same space: the same Ritz values.
        let manager = MemoryManager::with_defaults().unwrap();
        let op = box_24(&manager);
        let n = op.dim();
        let arena = RefCell::new(
            (0..12)
                .map(|j| {
                    let mut v = vec![0.0; n];
                    fill_random(&mut v, 11, j);
                    v
                })
                .collect::<Vec<_>>(),
        );
        let block = |r: Range<usize>| HostCols {
            arena: &arena,
            index: r.collect(),
        };
        let backend = HostBackend {
            op: &op,
            jacobi: Jacobi::new(&op),
        };
        let (x, w, p) = (block(0..4), block(4..8), block(8..12));
        assert_eq!(orthonormalize(&x.take(0), &x).unwrap(), 4);
        let (values, vectors) = implicit_rayleigh_ritz(&backend, [&x, &w, &p], None)
            .unwrap()
            .expect("a random S is well conditioned")
            .1;
        assert_eq!(vectors.ncols(), 12);
        assert_eq!(orthonormalize(&x, &w).unwrap(), 4);
        assert_eq!(orthonormalize(&HostCols::join(&[&x, &w]), &p).unwrap(), 4);
        let s = HostCols::join(&[&x, &w, &p]);
        let (explicit, _) = rayleigh_ritz(backend.gram_op(&s, false).unwrap()).unwrap();
        for (a, b) in values.iter().zip(&explicit) {
            // Rayleigh–Ritz values of one 12-dimensional space: they differ by rounding (the
            // pencil's scaled Gram matrix is well conditioned), relative 1e-12 is ample.
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{a} vs {b}");
        }
        // A W column 1e-5 from X's span (relative; along a vector outside S) gives S's scaled
        // Gram matrix an eigenvalue of about 1e-10: kept by SVQB (above its 1e-12 floor) but a
        // condition number of about 1e10 > IMPLICIT_CONDITION_LIMIT, so the step declines, and
        // leaves W and P unwritten.
        let mut outside = vec![0.0; n];
        fill_random(&mut outside, 99, 0);
        let scale = 1.0 / outside.iter().map(|v| v * v).sum::<f64>().sqrt();
        let near_x = |offset: f64| {
            let mut a = arena.borrow_mut();
            let near = a[0].iter().zip(&outside);
            a[4] = near.map(|(u, v)| u + offset * scale * v).collect();
        };
        near_x(1e-5);
        let before = arena.borrow().clone();
        assert!(
            implicit_rayleigh_ritz(&backend, [&x, &w, &p], None)
                .unwrap()
                .is_none()
        );
        assert_eq!(*arena.borrow(), before);
        // 1e-9 from it (an eigenvalue of about 1e-18) the direction is dropped, as the explicit
        // orthonormalisation drops it, and the rest is well conditioned: 11 Ritz vectors.
        near_x(1e-9);
        let (_, (_, vectors), _) = implicit_rayleigh_ritz(&backend, [&x, &w, &p], None)
            .unwrap()
            .expect("the kept part is well conditioned");
        assert_eq!(vectors.ncols(), 11);
    }

    #[test]
    fn the_generic_loop_matches_the_dense_solver_on_the_box_with_multiplicities() {
        // docs/validation.md case 4 on the box of case 1 (24², degenerate pairs): the dense solver's
        // lowest eigenvalues. Most Rayleigh–Ritz steps run on W and P as they are (those before
        // any pair locks, and those at which none locks); one where a pair locks orthonormalises.
        let manager = MemoryManager::with_defaults().unwrap();
        let op = box_24(&manager);
        let out = solve(&op, 6, 8);
        assert_eq!(out.converged, 6, "{out:?}");
        assert!(
            out.implicit_steps > out.iterations / 2 && out.implicit_steps < out.iterations,
            "{out:?}"
        );
        let exact = dense_lowest(&manager, &op, 6).values;
        for (j, (&e, &x)) in out.values.iter().zip(&exact).enumerate() {
            // tol 1e-8 relative residual: the eigenvalue error is ~‖r‖²/gap, far below 1e-9 eV
            // (the pairs lie inside the 8-column block).
            assert!((e - x).abs() < 1e-9, "state {j}: {e} vs dense {x}");
        }
        assert!(
            (out.values[1] - out.values[2]).abs() < 1e-9,
            "the first pair is degenerate"
        );
    }

    #[test]
    fn a_block_run_in_two_groups_finds_the_same_pairs_and_keeps_them_orthonormal() {
        // The box of case 1 (24²): 1, 2, 1, 2, … states. The first group ends the first pair
        // (a clear gap); the second runs with it locked, in W and P of its own 5 columns, at a
        // tolerance (1e-11) where single-precision-sized rounding along the locked pairs would
        // show: the pairs must match the dense solver, the whole block stay orthonormal.
        let manager = MemoryManager::with_defaults().unwrap();
        let op = box_24(&manager);
        let (m, first) = (8, 3);
        let arena = random_arena(op.dim(), m);
        let block = |r: Range<usize>| HostCols {
            arena: &arena,
            index: r.collect(),
        };
        let backend = HostBackend {
            op: &op,
            jacobi: Jacobi::new(&op),
        };
        let options = EigenOptions {
            k: 6,
            tol: 1e-11,
            max_iterations: 2000,
            ..Default::default()
        };
        let params = LobpcgParams::for_level(&options, op.gershgorin_bounds(), (0, 1), 0, None);
        let (w, p) = (block(m..2 * m), block(2 * m..3 * m));
        let one = block_lobpcg(
            &backend,
            [&block(0..first), &w.columns(0..first)],
            Directions::Block(&p.columns(0..first)),
            LobpcgParams { k: first, ..params },
            Locked::default(),
            None,
        )
        .unwrap();
        assert_eq!(one.converged, first, "{one:?}");
        let two = block_lobpcg(
            &backend,
            [&block(0..m), &w.columns(0..m - first)],
            Directions::Block(&p.columns(0..m - first)),
            params,
            Locked {
                values: &one.values,
                residuals: &one.residuals,
            },
            None,
        )
        .unwrap();
        assert_eq!(two.converged, 6, "{two:?}");
        assert_eq!(
            &two.values[..first],
            &one.values[..],
            "the locked pairs as given"
        );
        let exact = dense_lowest(&manager, &op, 6).values;
        for (j, (&e, &x)) in two.values.iter().zip(&exact).enumerate() {
            // As in the one-group test: ‖r‖²/gap is far below 1e-9 eV.
            assert!((e - x).abs() < 1e-9, "state {j}: {e} vs dense {x}");
        }
        let x = arena.borrow();
        for i in 0..m {
            for j in 0..=i {
                let g: f64 = x[i].iter().zip(&x[j]).map(|(a, b)| a * b).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                // Orthonormal to rounding: the columns after the locked ones were projected
                // off them at the end of the run (sums of 576 terms).
                assert!((g - expected).abs() < 1e-13, "({i}, {j}): {g:e}");
            }
        }
    }

    #[test]
    fn the_generic_loop_matches_the_cpu_solver_on_a_complex_dot() {
        // The parabolic dot with a field (complex Hermitian H): the generic loop and the CPU
        // solver (multigrid, coarse-to-fine) agree to far better than the tolerances imply.
        let manager = MemoryManager::with_defaults().unwrap();
        let grid = Grid::dirichlet_box(&[120.0, 120.0], &[31, 31]).unwrap();
        let mut v = vec![0.0; grid.len()];
        parabolic_potential(&grid, 0.067, 0.010, &mut v).unwrap();
        let spec = HamiltonianSpec {
            magnetic_field: 2.0,
            ..HamiltonianSpec::new(grid, 0.067, Some(&v))
        };
        let op = StencilOperator::<Complex64>::new(&manager, &spec, "t").unwrap();
        let out = solve(&op, 5, 7);
        assert_eq!(out.converged, 5, "{out:?}");
        let options = EigenOptions {
            k: 5,
            tol: 1e-8,
            ..Default::default()
        };
        let cpu =
            crate::solver::lowest_states::<Complex64>(&manager, &spec, &options, None).unwrap();
        for j in 0..5 {
            // Both meet ‖r‖ ≤ 1e-8·max(|λ|, s): eigenvalue errors ~‖r‖²/gap ≪ 1e-10 eV.
            assert!(
                (out.values[j] - cpu.values[j]).abs() < 1e-10,
                "state {j}: {} vs CPU {}",
                out.values[j],
                cpu.values[j]
            );
        }
    }
}
