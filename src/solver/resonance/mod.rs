//! Resonances of open grid Hamiltonians, matrix-free and coarse-to-fine: the `k` eigenvalues
//! E − iΓ/2 nearest a target of H (absorbing potential included), in O(n·k) memory and without a
//! fine-grid factorisation.
//!
//! The levels are those of a [`ShiftedMultigrid`] for `H − σ` (σ the target): the same physics
//! rediscretised on grids coarsened by 2 down to a *bottom* grid small enough for a sparse LU.
//! The solve starts there — block Davidson with the factored `(H − σ)⁻¹` as its preconditioner
//! (in 2D a single-precision factor: see `precond/shifted.rs`), nearly shift-invert, from the
//! seeded random block — interpolates the `m > k` Ritz vectors to
//! the next finer grid, refines them there by Davidson with the V-cycle from that level as
//! preconditioner, and so on up to the finest grid, where the requested tolerance applies. A
//! grid no larger than a bottom grid is solved by the sparse-LU solver ([`resonances`]) alone.
//!
//! When the wanted values lie at clearly different distances from the target (an open dot's
//! sharp resonances beside the box's broad continuum states), or all together away from it,
//! the bottom grid first finds them roughly, and the far ones get a second shift beside them: a second bottom factor, the levels
//! shared, through which their corrections go on every level ([`far_shift`]); once the bottom
//! grid has converged, the shift moves if the far values are no longer beside it
//! ([`place_far_shift`]). It is taken only where the memory budget and the manager's limit
//! leave room for the second factor.
//!
//! Out of core (`Placement::OutOfCore`, or `Auto` with a memory budget below the in-core
//! estimate) the Davidson's search space, most of the solve's memory, lives in an unlinked
//! scratch file (`out_of_core.rs`); the hierarchy, the work block and the result stay in core.
//!
//! | file | what lives there |
//! |---|---|
//! | `mod.rs` | [`grid_resonances`], the level schedule, the in-core or out-of-core plan and the result |
//! | `davidson.rs` | block Davidson for the eigenvalues nearest σ on one level |
//! | `residency.rs` | dropping the search space's pages from memory when it is in a scratch file |

mod davidson;
mod residency;

use crate::error::{Error, ErrorKind, Result};
use crate::matrix::ManagedMatrix;
use crate::memory::MemoryManager;
use crate::physics::{HamiltonianSpec, StencilOperator};
use crate::solver::nested_dissection::grid_column_order;
use crate::solver::open_system::{Resonances, converged_first_then_nearest, resonances_in_order};
use crate::solver::operator::Operator;
use crate::solver::options::{EigenOptions, Method, Placement};
use crate::solver::out_of_core::{Block, BlockPlan};
use crate::solver::precond::ShiftedMultigrid;
use crate::solver::progress::ProgressFn;
use crate::solver::random::fill_random;
use crate::solver::threads::on_solver_threads;
use davidson::{Basis, Correction, LevelParams, basis_bytes, davidson, kernel_bytes, relax};
use num_complex::Complex64;
use std::time::Instant;

/// Largest bottom (factored) grid, by dimension, for grids up to about 1000² in 2D: a 1D LU is
/// banded and cheap at any size; a 2D factor of this size (≈ 140²) takes a fraction of a second
/// and about 25 MB in single precision. In 3D the bottom grid must resolve the wavelength
/// (below), so grids up to 100³ keep a bottom of half their points per axis (50³ under 100³:
/// two levels); its symmetric single-precision factors (`symmetric_lblt.rs`: one per shift)
/// hold most of that solve's 2.8 GB manager peak.
const BOTTOM_POINTS: [usize; 3] = [usize::MAX, 20_000, 130_000];

/// The bottom grid's size limit for a grid of `n` points in `dims` dimensions. In 2D the
/// V-cycle passes through at most three smoothed levels above the bottom (the bottom has at
/// least n/64 points, with a quarter to spare for halvings that round up). Before the far
/// group's second shift ([`far_shift`]) a 2D bottom had to be far larger (n/16 points and at
/// least 70 000: through three levels 2000² stalled at residual 1.4·10⁻⁶, and 750² over a
/// bottom of 4500 points past 300 s). With it, on the open dot at 17 meV, 125² under 500²:
/// 2.0 s and 184 MiB against 3.0 s and 327 MiB with 250²; 125² under 1000² 5.8 s and 660 MiB
/// against 6.1 s and 792 MiB; 250² under 2000² 55 s and 2.7 GiB against 60 s and 3.3 GiB with
/// 500² (`docs/benchmarks.md`). 3D keeps a fixed limit: its solves stall when the bottom grid
/// is too coarse for the wavelength (at 17 meV in the 240 nm box, 25³ under 50³ and 20³ under
/// 40³ stalled; 30³ under 60³, 40³ under 80³ and 50³ under 100³ converge), and its factors
/// grow as the square of their points. Above 100³ the bottom is too coarse again.
fn bottom_points(dims: usize, n: usize) -> usize {
    let base = BOTTOM_POINTS[dims - 1];
    if dims == 2 {
        base.max(n / 64 + n / 256)
    } else {
        base
    }
}

/// Tolerance of the levels below the finest: their Ritz vectors only start the next level,
/// whose discretisation differs from theirs by far more than this.
const COARSE_TOLERANCE: f64 = 1e-4;

/// Relative residual to which the bottom grid of a coarse-to-fine solve first takes the wanted
/// values, to place the far group's shift ([`far_shift`]) before going on to
/// [`COARSE_TOLERANCE`] with both shifts: the shift's offset is a tenth of the far values'
/// distance, far more than these values' errors.
const SCOUT_TOLERANCE: f64 = 1e-2;

/// The finer levels' shift moves off the target (see `solve_over_bottom`) only when a wanted
/// value of the bottom grid lies nearer the target than this fraction of the farthest one's
/// distance. The open dots measured: at 17 meV the 2D dot's sharp pair lies at 0.03 of the
/// reach (moved, as before); the 3D dot's four broad values all lie at 0.99 of it (the 100³
/// solve no longer refactors its 50³ bottom, 8 s; same values and iterations).
const RESHIFT_NEAR: f64 = 0.1;

/// Damped-Jacobi steps before and after each coarse correction of the V-cycle.
const SMOOTHING_STEPS: usize = 2;

/// Ritz pairs kept beyond `k` wanted ones unless `options.block_extra` says otherwise: room for
/// every member of a degenerate multiplet at the edge of the wanted set.
fn default_extra(k: usize) -> usize {
    (k / 4).max(2)
}

/// Ritz pairs kept for `k` wanted ones (`options.block_extra` more, or [`default_extra`]).
fn block_size(options: &EigenOptions, n: usize) -> usize {
    let k = options.k;
    (k + options.block_extra.unwrap_or(default_extra(k))).min(n - 1)
}

/// The leading Ritz pairs, of a block of `m`, whose corrections expand the search space: those
/// of the default block. A larger `block_extra` keeps more pairs (the harmonic extraction and
/// the restarts see them) without expanding the space by their corrections: corrections of
/// more continuum states near the wanted ones grow nearly parallel and stall the solve. The
/// 1000² open dot at 17 meV (k = 4, tol 10⁻⁸) with `block_extra` = 6, every pair expanded:
/// 2 of 4 converged past 320 finest iterations (residual 5.7·10⁻⁷ at the 31st, 3.1·10⁻⁷ at the
/// 310th); the leading 6 expanded: converged in 38 (docs/benchmarks.md).
///
/// On the finest level of a coarse-to-fine solve only the `k` wanted pairs are expanded: the
/// extra ones only have to be there for the extraction and the restarts, and their directions
/// came, converged to [`COARSE_TOLERANCE`], from the level below; a correction there is the
/// most expensive step of the solve (a V-cycle from the finest grid, three operator
/// applications, a pass of Gram–Schmidt over the whole space). On the open dot at 17 meV
/// (k = 4, six pairs) the finest level took the same iterations with four corrections as with
/// six (500²: 9, 1000²: 8, 2000²: 8; 100³: 16 against 14, 60.6 against 59.0 s) and 500²
/// went from 2.0 to 1.7 s, 1000² from 5.7 to 4.4 s (docs/benchmarks.md).
fn expanded_pairs(options: &EigenOptions, m: usize, finest_of_several: bool) -> usize {
    if finest_of_several {
        options.k.min(m)
    } else {
        (options.k + default_extra(options.k)).min(m)
    }
}

/// Checks what the grid resonance solver supports of `options`.
fn check_options(options: &EigenOptions, n: usize) -> Result<()> {
    options.check(n)?;
    if options.method == Method::Lobpcg {
        return Err(Error::invalid_argument(
            "LOBPCG finds the lowest states of closed systems; resonances use block Davidson \
             (QDSIM_METHOD_AUTO) or shift-invert on the assembled matrix (QDSIM_METHOD_SHIFT_INVERT)",
        ));
    }
    if options.vectors_file.is_some() {
        return Err(Error::invalid_argument(
            "the resonance solver returns its vectors in the manager's pool: vectors_file is \
             not supported for resonances",
        ));
    }
    if options.placement == Placement::OutOfCore && options.method == Method::ShiftInvert {
        return Err(Error::invalid_argument(
            "shift-invert keeps its sparse LU factor in core: out-of-core placement is \
             supported by the matrix-free resonance solver (QDSIM_METHOD_AUTO)",
        ));
    }
    Ok(())
}

/// How much farther from the target than the nearest wanted value the farthest must lie for
/// the wanted values to get a second shift ([`far_shift`]).
const FAR_RATIO: f64 = 1.2;

/// Wanted values at about the same distance from the target get a second shift when they all
/// lie nearer their centre than this fraction of the nearest one's distance ([`far_shift`]).
const CLUSTER_SPREAD: f64 = 0.5;

/// ... and when the nearest lies farther from the target than this fraction of the target's
/// magnitude. Nearer, the target's V-cycles serve them, and a shift a tenth of their distance
/// from them would sit within the bottom grid's discretisation error of them: the 280² dot's
/// degenerate pair alone (k = 2), 0.27 meV from a 17 meV target, got a shift 0.027 meV from it
/// and its second member stalled at residual 2.3·10⁻⁸ eV (tolerance 1.7·10⁻¹¹) past 500
/// iterations; the clusters that gain lie 3–3.7 meV from targets of 11–13 meV.
const CLUSTER_DISTANCE: f64 = 0.1;

/// The shift of a second preconditioner for the wanted values far from the target, from the
/// `k` wanted values found on the bottom grid (`values`): when the farthest lies more than
/// [`FAR_RATIO`] times as far from `target` as the nearest, the *far group* is the values
/// nearer the farthest distance than the nearest, and its shift is the group's centre moved
/// towards positive imaginary parts (away from every resonance, E − iΓ/2) by a tenth of the
/// farthest distance. Wanted values at about the same distance (ratio at most [`FAR_RATIO`])
/// are a far group as a whole when they lie together away from the target: nearer their centre
/// than [`CLUSTER_SPREAD`] times the nearest one's distance, which is more than
/// [`CLUSTER_DISTANCE`] times the target's magnitude.
///
/// Why: the corrections through V-cycles for `H − σ` at the target grow the space by
/// shift-invert directions around σ, in which far values are poorly separated from the
/// pseudo-continuum of the absorbing box around them. The open dot at 17 meV (the bench case)
/// wants its sharp pair 0.15 meV from the target and two broad states of the box near
/// 14.5 − 4.5i meV, 5.2 meV away, whose residuals fell by only 0.87 per iteration: the finest
/// level took 44 iterations at 1000² and 47 at 500²; with their corrections through V-cycles
/// for a shift beside them, 8 and 10. The offset: at a hundredth of the distance the 500² solve
/// stalled (the V-cycle's bottom grid has those states about 10⁻³ relative away from the
/// finest grid's, and a shift that close mostly amplifies the bottom grid's own vector, which
/// the space holds already); at a fifth, 11 iterations at 1000², at 0.3 15 at 500². The ratio
/// and the group: on the 270² dot over targets 12–26 meV, a ratio of 4 left the 16 and 20 meV
/// solves (ratios 3.7 and 2.3) at 89 and 120 iterations, 1.2 took them to 49 and 67, and 14 and
/// 22 meV (1.23, 1.37) from 71 and 152 to 47 and 89; a group of the values beyond half the
/// farthest distance took in near values at small ratios (14 meV: 67 iterations). A cluster:
/// at 12 meV the four wanted values are broad states of the box 3.3–3.6 meV from the target
/// (10.4–12.3 meV, Γ ≈ 6–7 meV), within 1.1 meV of their centre; with the target's shift alone
/// they took 84 / 74 / 74 / 70 iterations at 270² / 500² / 750² / 1000², with a shift beside
/// them 36 / 37 / 39 / 38 (11 and 13 meV on 270²: 80 → 34, 92 → 37). Measured in
/// `docs/benchmarks.md`.
fn far_shift(values: &[Complex64], target: Complex64) -> Option<FarShift> {
    let distance = |v: &Complex64| (v - target).norm();
    let far = values.iter().map(distance).fold(0.0, f64::max);
    let near = values.iter().map(distance).fold(f64::INFINITY, f64::min);
    if !far.is_finite() || values.len() < 2 {
        return None;
    }
    let group: Vec<Complex64> = if far > FAR_RATIO * near {
        values
            .iter()
            .copied()
            .filter(|v| distance(v) > 0.5 * (near + far))
            .collect()
    } else {
        // About the same distance from the target: a far group if they lie together, away
        // from the target.
        let centre = values.iter().sum::<Complex64>() / values.len() as f64;
        let spread = values
            .iter()
            .map(|v| (v - centre).norm())
            .fold(0.0, f64::max);
        if spread >= CLUSTER_SPREAD * near || near <= CLUSTER_DISTANCE * target.norm() {
            return None;
        }
        values.to_vec()
    };
    let centre = group.iter().sum::<Complex64>() / group.len() as f64;
    Some(FarShift {
        sigma: centre + Complex64::new(0.0, 0.1 * far),
        group,
    })
}

/// A far group's shift ([`far_shift`]) and the group's values.
#[derive(Clone, Debug, PartialEq)]
struct FarShift {
    sigma: Complex64,
    group: Vec<Complex64>,
}

/// A placed far shift stays while every value of the far group lies nearer it than this
/// fraction of the value's distance from the target ([`place_far_shift`]); a new one puts them
/// at about a tenth.
const FAR_KEEP: f64 = 0.25;

/// Adds, moves or removes the far group's shift (the second of `mg`) for the wanted `values`
/// of the bottom grid ([`far_shift`]). Scouted values (residual [`SCOUT_TOLERANCE`]) place it;
/// the bottom grid's converged values check it, and it moves only where it no longer sits
/// beside the far group ([`FAR_KEEP`]). On the 2000² open dot at 17 meV the scout put the broad
/// pair at 16.4 − 2.2i and 17.2 − 2.4i meV where it converged to 14.5 − 4.4i (0.66 of their
/// distance from the shift placed beside the scouted values): the finest level took 28
/// iterations with the scouted shift, 8 with the moved one (1000²: 8). At 26 meV on 1000² the
/// converged far pair lies at 0.2 of its distance, between the scouted shift and the next
/// continuum states at nearly the same distance (8.2 and 8.4 meV from the target): moved beside
/// the pair, the shift left the solve unconverged after 549 iterations; kept, it converges in 81.
/// A move drops the old factor first (no more memory than it held); an added shift needs
/// `room` (the memory budget) and the manager's limit, and is left out otherwise, as is a
/// moved one the limit refuses: the solve then goes on with the first shift alone.
fn place_far_shift(
    mg: &mut ShiftedMultigrid,
    manager: &MemoryManager,
    values: &[Complex64],
    target: Complex64,
    room: bool,
) -> Result<()> {
    let placed = mg.shifts().get(1).copied();
    let outcome = match (far_shift(values, target), placed) {
        (None, None) => Ok(()),
        (None, Some(_)) => {
            mg.remove_shift(1);
            Ok(())
        }
        (Some(far), Some(placed))
            if far
                .group
                .iter()
                .all(|v| (v - placed).norm() <= FAR_KEEP * (v - target).norm()) =>
        {
            Ok(())
        }
        (Some(far), Some(_)) => mg.replace_shift(manager, 1, far.sigma),
        (Some(far), None) if room => mg.add_shift(manager, far.sigma).map(|_| ()),
        (Some(_), None) => Ok(()),
    };
    match outcome {
        Err(e) if e.kind() == ErrorKind::LimitExceeded => Ok(()),
        other => other,
    }
}

/// Vectors of the finest grid's size that interpolation between levels holds (the result and
/// the transfer's two intermediates).
const PROLONG_VECTORS: usize = 3;

/// Bytes [`grid_resonances`] holds at its peak for an `n`-point grid: the hierarchy
/// (`hierarchy_bytes`), the Davidson basis (`dmax` search vectors and a work block of `m + 1`),
/// its kernels' chunks and small matrices, and the interpolation vectors (before the finest
/// level's solve). The `k < m + 1` result vectors come after the work block is given back. A far
/// group's second bottom factor ([`far_shift`]) is not counted: the solve takes it only where the
/// budget and the manager's limit leave room for it beside this.
fn estimate(n: usize, dmax: usize, m: usize, hierarchy_bytes: u64) -> u64 {
    hierarchy_bytes
        + basis_bytes(n, dmax, m)
        + kernel_bytes(dmax)
        + (PROLONG_VECTORS * n * size_of::<Complex64>()) as u64
}

/// The `options.k` eigenvalues of the grid Hamiltonian `spec` (absorbing potential included)
/// nearest `target` (eV), with eigenvectors normalised by xᵀx = 1. `Method::Auto`: the
/// matrix-free coarse-to-fine solver of this module; `Method::ShiftInvert`: the sparse-LU solver
/// ([`resonances`](crate::solver::resonances)) on the assembled matrix (3D grids: in a
/// nested-dissection column order). Pairs that missed the tolerance are returned after
/// the converged ones (`Resonances::converged` counts the latter); `options.max_iterations`
/// bounds the iterations of each level. `options.placement` and `memory_budget` may put the
/// search space in a scratch file in `options.scratch_dir` (`Resonances::scratch_bytes` says
/// how big); the values are the in-core solve's, bit for bit.
pub fn grid_resonances(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    target: Complex64,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<Resonances> {
    let limit = bottom_points(spec.grid.dims(), spec.grid.len());
    on_solver_threads(progress, |progress| {
        solve_over_bottom(manager, spec, target, options, progress, limit)
    })
}

/// The sparse-LU solve of the assembled grid Hamiltonian (3D: its factors in the grid's
/// nested-dissection order).
fn grid_csr_resonances(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    target: Complex64,
    options: &EigenOptions,
) -> Result<Resonances> {
    let h = StencilOperator::<Complex64>::new(manager, spec, "solver.hamiltonian")?
        .to_csr("solver.hamiltonian")?;
    let order = grid_column_order(spec.grid.shape());
    resonances_in_order(
        manager,
        &h,
        target,
        options.k,
        options.tol,
        options.seed,
        order,
    )
}

/// [`grid_resonances`] on the calling thread's pool, with a bottom grid of at most
/// `bottom_points` points (tests take small 3D grids through several levels with it).
fn solve_over_bottom(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    target: Complex64,
    options: &EigenOptions,
    mut progress: Option<&mut ProgressFn<'_>>,
    bottom_points: usize,
) -> Result<Resonances> {
    spec.validate()?;
    let n = spec.grid.len();
    check_options(options, n)?;
    if !(target.re.is_finite() && target.im.is_finite()) {
        return Err(Error::invalid_argument(format!(
            "target {target} is not finite"
        )));
    }
    if options.method == Method::ShiftInvert {
        return grid_csr_resonances(manager, spec, target, options);
    }
    let start = Instant::now();
    let peak = manager.track_peak();
    let m = block_size(options, n);
    // Room for m kept vectors, 2m more after a thick restart and m corrections. With 3m (a
    // restart to 2m), the 280² open dot at k = 2 lost a member of its degenerate pair at a
    // restart and never recovered; with 4m it converges in 17 iterations.
    let dmax = 4 * m;
    if n <= bottom_points {
        // The whole grid is a bottom grid: the exact sparse-LU solve is the solve.
        return grid_csr_resonances(manager, spec, target, options);
    }
    // The preconditioner's shift sits a hair above the target (10⁻⁶ relative, towards positive
    // imaginary parts, away from resonances): a target exactly on an eigenvalue would make
    // H − σ singular to rounding, its solves amplify rounding by 10¹⁶ and swamp every other
    // direction. 10⁻⁶ keeps the amplification at 10⁶ and leaves the inverse near σ unchanged.
    let shift = target + Complex64::new(0.0, 1e-6 * target.norm().max(1e-3));
    let mut mg = ShiftedMultigrid::new(manager, spec, shift, bottom_points, SMOOTHING_STEPS, m)?;
    let need = estimate(n, dmax, m, mg.memory_bytes());
    // Out of core the search space goes to a scratch file; what stays resident is the rest and
    // up to m + 1 of its columns, which an iteration's residuals and corrections touch.
    let vector = (n * size_of::<Complex64>()) as u64;
    let resident = need - dmax as u64 * vector + (m + 1) as u64 * vector;
    let plan = BlockPlan::choose(options, need, resident);
    if let Some(budget) = options.memory_budget {
        let mib = |b: u64| b as f64 / 1048576.0;
        match plan {
            BlockPlan::InCore if need > budget => {
                return Err(Error::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "the resonance solve needs about {:.1} MiB in core (search space of \
                         {dmax} vectors of {n} points and {} work vectors, hierarchy, \
                         interpolation) and the memory budget is {:.1} MiB (out-of-core \
                         placement would need about {:.1} MiB)",
                        mib(need),
                        m + 1,
                        mib(budget),
                        mib(resident)
                    ),
                ));
            }
            BlockPlan::OutOfCore { .. } if resident > budget => {
                return Err(Error::new(
                    ErrorKind::LimitExceeded,
                    format!(
                        "the resonance solve needs about {:.1} MiB in core even with its search \
                         space in a scratch file ({} work vectors of {n} points, hierarchy, \
                         interpolation) and the memory budget is {:.1} MiB",
                        mib(resident),
                        2 * (m + 1),
                        mib(budget)
                    ),
                ));
            }
            _ => {}
        }
    }
    let span_budget = match &plan {
        BlockPlan::OutOfCore { budget, .. } => *budget,
        BlockPlan::InCore => 0,
    };
    let mut basis = Basis::new(
        Block::new(manager, &plan, n, dmax, "solver.resonance.basis")?,
        ManagedMatrix::uninit_values(manager, n, m + 1, "solver.resonance.work")?,
        span_budget,
    );
    let _kernels = manager.external_account("solver.resonance.kernels", kernel_bytes(dmax))?;
    let scratch_bytes = basis.v.scratch_bytes();
    let levels = mg.levels();
    let bounds = mg.operator(0).gershgorin_bounds();
    let scale = 1e-3 * bounds.0.abs().max(bounds.1.abs());
    let (mut iterations, mut applications) = (0, 0u64);
    // Davidson starts from the seeded random block on the bottom grid, where its preconditioner
    // is the factored (H − σ)⁻¹ (nearly shift-invert), or on the finest grid without
    // coarse-to-fine.
    let first = if options.coarse_to_fine {
        levels - 1
    } else {
        0
    };
    let n_first = mg.operator(first).dim();
    for j in 0..m {
        fill_random(&mut basis.v.col_mut(j)[..n_first], options.seed, j);
    }
    let mut outcome: davidson::LevelOutcome = Default::default();
    for level in (0..=first).rev() {
        if level < first {
            // Interpolation's vectors (`Vec`s the transfers resize), counted in the manager and
            // given back before the level's solve.
            let n_fine = mg.operator(level).dim();
            let _account = manager.external_account(
                "solver.resonance.prolong",
                (PROLONG_VECTORS * n_fine * size_of::<Complex64>()) as u64,
            )?;
            let mut fine = Vec::new();
            let mut temp = [Vec::new(), Vec::new()];
            let n_coarse = mg.operator(level + 1).dim();
            for j in 0..m {
                mg.prolong(level, &basis.v.col(j)[..n_coarse], &mut fine, &mut temp);
                basis.v.col_mut(j)[..fine.len()].copy_from_slice(&fine);
                basis.v.release_col(j);
            }
            // Interpolation leaves high-frequency error that a Davidson iteration of this
            // level would spend its first step on: one Jacobi step of each Ritz vector damps it
            // for one operator application (see `relax`).
            relax(
                mg.operator(level),
                &outcome.values[..m.min(outcome.values.len())],
                &mut basis,
            );
        }
        let level_tol = if level == 0 {
            options.tol
        } else {
            options.tol.max(COARSE_TOLERANCE)
        };
        // The bottom grid of a coarse-to-fine solve first scouts the wanted values (to
        // SCOUT_TOLERANCE), so that a far group gets its own shift there already.
        let scout = level == first && level > 0 && level_tol < SCOUT_TOLERANCE;
        let phases: &[f64] = if scout {
            &[SCOUT_TOLERANCE, level_tol]
        } else {
            &[level_tol]
        };
        let mut level_iterations = 0;
        for &tol in phases {
            if level_iterations > 0 && level_iterations >= options.max_iterations {
                // Scouting used up the level's iterations.
                break;
            }
            let params = LevelParams {
                k: options.k,
                m,
                expand: expanded_pairs(options, m, level == 0 && first > 0),
                tol,
                scale,
                max_iterations: options
                    .max_iterations
                    .saturating_sub(level_iterations)
                    .max(1),
                level,
                levels: first + 1,
                iterations_before: level_iterations,
                applications_before: applications,
            };
            // Above the bottom the extraction uses the V-cycle's shift too (see the reshift
            // below).
            let sigma = if level < first { mg.sigma() } else { target };
            let preconditioners: Vec<_> = (0..mg.shifts().len())
                .map(|i| mg.preconditioner_for(level, i))
                .collect();
            let corrections: Vec<Correction<'_>> = preconditioners
                .iter()
                .zip(mg.shifts())
                .map(|(preconditioner, shift)| Correction {
                    preconditioner,
                    shift,
                })
                .collect();
            outcome = davidson(
                mg.operator(level),
                &corrections,
                sigma,
                &mut basis,
                params,
                progress.as_deref_mut(),
            )?;
            iterations += outcome.iterations;
            level_iterations += outcome.iterations;
            applications += outcome.applications;
            let wanted = &outcome.values[..options.k.min(outcome.values.len())];
            if scout {
                // Scouted values place the far group's shift, converged ones check it. The
                // plan's bytes in core and a second factor's must fit the budget.
                let in_core = match plan {
                    BlockPlan::InCore => need,
                    BlockPlan::OutOfCore { .. } => resident,
                };
                let room = options
                    .memory_budget
                    .is_none_or(|budget| in_core + mg.bottom_factor_bytes() <= budget);
                place_far_shift(&mut mg, manager, wanted, target, room)?;
            }
        }
        if level == first && level > 0 {
            // The finer levels' V-cycles and harmonic extraction use a shift 1 % of the wanted
            // values' reach (on the bottom grid) off the target, towards positive imaginary
            // parts, away from resonances. With the shift on (or within rounding of) a wanted
            // eigenvalue, the correction K·(H − θ)u ≈ u + (σ − θ)(H − σ)⁻¹u is parallel to u
            // and WᴴW is singular in u's direction: the 280² dot with the target on its
            // resonance pair ended at residuals 2e-9 (tolerance 1.7e-11) after 544 iterations;
            // with the offset that pair converges. A tenth of the reach was too much: it moved
            // the shift by 0.5 meV on that dot and the search missed a continuum state 0.15 meV
            // from the target. 1 % changes a target's distances by at most 0.005 %.
            //
            // The move refactors the bottom grid (in 3D the longest step of the solve after the
            // iterations), so it is made only where a wanted value lies near the target: within
            // [`RESHIFT_NEAR`] of the reach. Farther, the offset changes no distance by more
            // than a tenth of a percent and H − σ is far from singular.
            let distances = outcome
                .values
                .iter()
                .take(options.k)
                .map(|v| (v - target).norm());
            let reach = distances.clone().fold(0.0, f64::max);
            let nearest = distances.fold(f64::INFINITY, f64::min);
            let offset = 0.01 * reach;
            if offset.is_finite() && offset > shift.im - target.im && nearest < RESHIFT_NEAR * reach
            {
                mg = mg.reshift(manager, target + Complex64::new(0.0, offset))?;
            }
        }
    }
    let davidson::LevelOutcome {
        values,
        residuals,
        converged,
        ..
    } = outcome;
    // The k pairs nearest the target, the converged ones first.
    let count = options.k.min(values.len());
    let order = converged_first_then_nearest(&values[..count], &converged[..count], target);
    drop(basis.work);
    let mut vectors = ManagedMatrix::<Complex64>::uninit_values(
        manager,
        n,
        order.len(),
        "solver.resonance.vectors",
    )?;
    for (j, &i) in order.iter().enumerate() {
        let x = basis.v.col(i);
        // xᵀx (no conjugation); its square root normalises the vector.
        let xtx: Complex64 = x.iter().map(|v| v * v).sum();
        if xtx.norm() == 0.0 {
            return Err(Error::new(
                ErrorKind::NotConverged,
                format!("eigenvector {j} is self-orthogonal (xᵀx = 0)"),
            ));
        }
        let s = 1.0 / xtx.sqrt();
        for (dst, &src) in vectors.col_mut(j).iter_mut().zip(x) {
            *dst = src * s;
        }
        basis.v.release_col(i);
    }
    basis.v.check_faults()?;
    drop(basis.v);
    drop(mg);
    Ok(Resonances {
        values: order.iter().map(|&i| values[i]).collect(),
        vectors,
        residuals: order.iter().map(|&i| residuals[i]).collect(),
        converged: order.iter().filter(|&&i| converged[i]).count(),
        iterations,
        applications,
        levels: first + 1,
        peak_pool_bytes: peak.peak(),
        seconds: start.elapsed().as_secs_f64(),
        scratch_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::constants::GAAS_MASS;
    use crate::physics::{Absorber, Grid, open_dot_potential};

    /// A 3D grid over a smaller bottom than its size would get (30³ over 15³) goes through the
    /// shifted multigrid, whose 3D bottom factor is the symmetric `L·B·Lᵀ` in single
    /// precision (the production limit puts that path above 50³, too slow for a test): the
    /// values equal the shift-invert solve's (the whole grid's symmetric factor in double
    /// precision) and the residuals are the requested ones. An open dot scaled to a 60 nm box
    /// (a 10 nm well in a 2 nm ring barrier, 15 nm absorber), the target at 40 meV.
    #[test]
    fn a_3d_grid_over_a_single_precision_bottom_equals_shift_invert() {
        let manager = MemoryManager::with_defaults().unwrap();
        let grid = Grid::dirichlet_box(&[60.0; 3], &[30; 3]).unwrap();
        let mut v = vec![0.0; grid.len()];
        open_dot_potential(&grid, 10.0, 2.0, 0.150, &mut v).unwrap();
        let spec = HamiltonianSpec {
            absorber: Some(Absorber {
                faces: 0b11_1111,
                width: 15.0,
                strength: 0.05,
                order: 2,
            }),
            ..HamiltonianSpec::new(grid, GAAS_MASS, Some(&v))
        };
        let target = Complex64::new(0.040, 0.0);
        let options = EigenOptions {
            k: 3,
            tol: 1e-9,
            ..EigenOptions::default()
        };
        let r = solve_over_bottom(&manager, &spec, target, &options, None, 4_000).unwrap();
        assert!(r.is_converged(), "{r:?}");
        assert_eq!(r.levels, 2, "30³ over a 15³ bottom");
        let factor = manager.tag_stats("solver.resonance.bottom.factor").unwrap();
        assert!(factor.peak_bytes_in_use > 0 && factor.bytes_in_use == 0);
        let exact_options = EigenOptions {
            method: Method::ShiftInvert,
            tol: 1e-11,
            ..options
        };
        let exact = grid_resonances(&manager, &spec, target, &exact_options, None).unwrap();
        assert!(exact.is_converged(), "{exact:?}");
        for (j, (a, b)) in r.values.iter().zip(&exact.values).enumerate() {
            // Residual 1e-9·|E| and well-separated (or exactly degenerate) values: agreement
            // to ~1e-9 relative.
            assert!((a - b).norm() < 1e-8 * b.norm(), "value {j}: {a} vs {b}");
        }
    }

    const MEV: f64 = 1e-3;

    fn mev(re: f64, im: f64) -> Complex64 {
        Complex64::new(re * MEV, im * MEV)
    }

    #[test]
    fn a_far_group_gets_a_shift_beside_it_and_an_even_spread_none() {
        // The open dot at 17 meV: its sharp pair and two broad states of the box.
        let target = mev(17.0, 0.0);
        let values = [
            mev(17.13, -0.077),
            mev(17.13, -0.077),
            mev(14.46, -4.41),
            mev(14.50, -4.56),
        ];
        let far = (values[3] - target).norm();
        let shift = far_shift(&values, target).unwrap();
        let centre = (values[2] + values[3]) / 2.0;
        assert!((shift.sigma - (centre + Complex64::new(0.0, 0.1 * far))).norm() < 1e-15);
        assert_eq!(shift.group, values[2..]);
        // Values at about the same distance (ratio under FAR_RATIO): one shift serves them.
        let even = [mev(20.0, -0.1), mev(14.0, -0.5), mev(17.0, 3.2)];
        assert_eq!(far_shift(&even, target), None);
        // One value: nothing is far.
        assert_eq!(far_shift(&values[..1], target), None);
        // A cluster at about the same distance (the dot at 12 meV: the box's broad states),
        // away from the target: a far group as a whole, its shift beside their centre.
        let target = mev(12.0, 0.0);
        let cluster = [
            mev(10.55, -2.94),
            mev(10.36, -2.90),
            mev(12.30, -3.63),
            mev(12.30, -3.63),
        ];
        let far = (cluster[2] - target).norm();
        let shift = far_shift(&cluster, target).unwrap();
        let centre = cluster.iter().sum::<Complex64>() / 4.0;
        assert!((shift.sigma - (centre + Complex64::new(0.0, 0.1 * far))).norm() < 1e-15);
        assert_eq!(shift.group, cluster);
        // A degenerate pair alone near the target (0.27 meV from 17 meV): the target's shift
        // serves it.
        let pair = [mev(17.27, -0.074), mev(17.27, -0.074)];
        assert_eq!(far_shift(&pair, mev(17.0, 0.0)), None);
        // The same values spread around the target: none.
        let around = [
            mev(10.0, 0.0),
            mev(14.0, 0.0),
            mev(12.0, 2.0),
            mev(12.0, -2.0),
        ];
        assert_eq!(far_shift(&around, target), None);
    }

    #[test]
    fn the_far_shift_follows_the_converged_values_and_leaves_when_none_is_far() {
        use crate::physics::{Absorber, Grid};
        let manager = MemoryManager::with_defaults().unwrap();
        let grid = Grid::dirichlet_box(&[80.0, 80.0], &[41, 41]).unwrap();
        let spec = HamiltonianSpec {
            absorber: Some(Absorber {
                faces: 15,
                width: 15.0,
                strength: 0.05,
                order: 2,
            }),
            ..HamiltonianSpec::new(grid, 0.067, None)
        };
        let target = mev(17.0, 0.0);
        let mut mg = ShiftedMultigrid::new(&manager, &spec, target, 500, 2, 2).unwrap();
        let one_factor = mg.memory_bytes();
        // The 2000² dot's scouted values (residual 10⁻²): the broad pair half-way to the target.
        let scouted = [
            mev(17.13, -0.079),
            mev(17.13, -0.082),
            mev(16.43, -2.20),
            mev(17.21, -2.36),
        ];
        // No room in the budget: no second factor.
        place_far_shift(&mut mg, &manager, &scouted, target, false).unwrap();
        assert_eq!(mg.shifts(), vec![target]);
        place_far_shift(&mut mg, &manager, &scouted, target, true).unwrap();
        let placed = far_shift(&scouted, target).unwrap();
        assert_eq!(mg.shifts(), vec![target, placed.sigma]);
        assert!(mg.memory_bytes() > one_factor);
        // Values a little off the scouted ones, still beside the placed shift: it stays.
        let near = scouted.map(|v| v + mev(0.05, -0.02));
        place_far_shift(&mut mg, &manager, &near, target, false).unwrap();
        assert_eq!(mg.shifts(), vec![target, placed.sigma]);
        // The converged values (the broad pair at 14.5 − 4.5i meV): the shift moves beside them,
        // without room for a second factor (the old one goes first).
        let converged = [
            mev(17.13, -0.077),
            mev(17.13, -0.077),
            mev(14.46, -4.41),
            mev(14.51, -4.56),
        ];
        place_far_shift(&mut mg, &manager, &converged, target, false).unwrap();
        let moved = far_shift(&converged, target).unwrap();
        assert_eq!(mg.shifts(), vec![target, moved.sigma]);
        // Nothing far any more: the second shift and its factor go.
        let even = [mev(17.5, -0.1), mev(16.5, -0.2), mev(17.0, 0.55)];
        place_far_shift(&mut mg, &manager, &even, target, true).unwrap();
        assert_eq!(mg.shifts(), vec![target]);
        assert_eq!(mg.memory_bytes(), one_factor);
    }
}
