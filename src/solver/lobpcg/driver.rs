//! The one coarse-to-fine driver that every LOBPCG solve runs through — the CPU grid solver
//! (multigrid hierarchy), the CPU CSR and mapped-CSR solvers and shift-invert (one level), and
//! the GPU solvers — and the one place their [`EigenResult`] is built.
//!
//! A solve is a stack of [`Levels`] (level 0 the finest): the driver picks the coarsest level
//! that holds the block with room to spare, fills the block with the seeded random start there,
//! runs LOBPCG to a loose tolerance ([`LobpcgParams::for_level`]: looser where the residual the
//! level before was left with after its first step shows the grids far apart), interpolates the
//! block to the next finer level (with a little noise in its extra columns, [`GUARD_NOISE`], for
//! the states a coarser grid ordered out of the block), and so on up to the finest, where the
//! requested tolerance applies. On fine grids only a few iterations are then needed. On the
//! finest level the block's extra columns go when level 1's values show them useless
//! ([`settled_width`]), and the block runs in two groups, one after the other, where those
//! values show a clear gap near its middle ([`group_ends`]): W and P need only the wider
//! group's columns. A backend says where the blocks live and how a level is solved; the
//! schedule, the parameters, the totals and the result are the driver's.

use super::{LobpcgOutcome, LobpcgParams};
use crate::error::Result;
use crate::matrix::Scalar;
use crate::memory::{MemoryManager, PeakTracker};
use crate::solver::options::{EigenOptions, Method};
use crate::solver::progress::ProgressFn;
use crate::solver::result::EigenResult;
use crate::solver::vectors::Eigenvectors;
use std::ops::Range;
use std::time::Instant;

/// The levels of a solve as a backend (host or GPU) holds them: its blocks X, W, P (a coarser
/// level uses their leading rows) and, per level, an operator and a preconditioner.
pub(crate) trait Levels<T: Scalar> {
    /// Number of levels (1 without a hierarchy).
    fn count(&self) -> usize;
    /// Dimension of `level`.
    fn dim(&self, level: usize) -> usize;
    /// Starts a solve on `level` (the backend makes its blocks now if it has not): fills the
    /// leading `dim(level)` rows of X's columns with the seeded random start
    /// ([`crate::solver::random::fill_random`], the same numbers on every backend).
    fn random_start(&mut self, level: usize, seed: u64) -> Result<()>;
    /// Interpolates X (`dim(level + 1)` rows) to `level` (`dim(level)` rows). The block needs
    /// only its leading `width` columns from here on, and W and P only `group` columns (the
    /// widest group, see [`group_ends`]): a backend may drop the others (the host does on the
    /// finest level, whose blocks it allocates then; the GPU keeps its blocks, allocated once
    /// on the device).
    fn prolong(&mut self, level: usize, width: usize, group: usize) -> Result<()>;
    /// Adds to X's columns `columns` (leading `dim(level)` rows) seeded random values of
    /// [`GUARD_NOISE`] times each column's norm ([`crate::solver::random::add_random`], the
    /// same numbers on every backend).
    fn perturb(&mut self, level: usize, columns: Range<usize>, seed: u64) -> Result<()>;
    /// Runs LOBPCG on level `params.level` from X, leaving the Ritz vectors in X: one run per
    /// group of X's columns, `ends` the groups' ends (the last one X's width), each run with
    /// the groups before it locked.
    fn lobpcg(
        &mut self,
        params: LobpcgParams,
        ends: &[usize],
        progress: Option<&mut ProgressFn<'_>>,
    ) -> Result<LobpcgOutcome>;
    /// Whether the finest level's block may run in groups (a backend whose W and P are made
    /// at full width once gains nothing from them).
    fn runs_groups(&self) -> bool {
        false
    }
}

/// The coarsest level a solve of `m` block columns starts on, among `count` levels of
/// dimensions `dim(level)`: the coarsest whose dimension is at least `4·m` (0 without
/// `options.coarse_to_fine`).
fn first_level(
    count: usize,
    dim: impl Fn(usize) -> usize,
    options: &EigenOptions,
    m: usize,
) -> usize {
    if !options.coarse_to_fine {
        return 0;
    }
    (0..count).rev().find(|&l| dim(l) >= 4 * m).unwrap_or(0)
}

/// Relative gap (λ_{k+1} − λ_k)/(λ_{k+1} − λ_1) above which the finest level drops the extra
/// block columns (see [`settled_width`]).
const CLEAR_GAP: f64 = 0.2;

/// The finest level's block width, from level 1's Ritz values (ascending, as many as the block
/// has columns): `k` when the k-th value is clearly apart from the next,
/// (λ_{k+1} − λ_k) ≥ [`CLEAR_GAP`]·(λ_{k+1} − λ_1), else the whole block. The extra columns
/// are there for a k-th state in or near a multiplet: a pair converges at a rate set by the
/// gap to the first value outside the block. When the k-th value ends a shell, the values
/// beyond it are the next multiplet and the extra columns hold only part of it, so the gap
/// they open is the same and their cost buys nothing. Level 1's values, not the first level's:
/// the coarsest grids can order the spectrum wrongly (the 3D dot's 5³ start put its 20th value
/// in the shell of the 21st). Measured (issue 21; energies identical to the printed digits):
/// the 2D dot at 1000² (k = 10: the 40 meV shell ends at the 10th state, the 50 meV shell is
/// 5-fold) 316.4 → 293.5 MiB pool peak, the 3D dot at 100³ (k = 20) 554.5 → 508.7 MiB, the
/// finest levels in the same iterations either way and the solves 8–11 % faster
/// (docs/benchmarks.md).
pub(crate) fn settled_width(k: usize, values: &[f64]) -> usize {
    let m = values.len();
    if m <= k || k == 0 {
        return m;
    }
    let (first, kth, next) = (values[0], values[k - 1], values[k]);
    if next - kth >= CLEAR_GAP * (next - first) && next > first {
        k
    } else {
        m
    }
}

/// Relative gap (λ_g − λ_{g−1})/(λ_g − lower), `lower` the operator's lower Gershgorin
/// bound, at which the finest block may split after its g-th column ([`group_ends`]). With a
/// preconditioner near `H⁻¹` a group converges at a rate set by that ratio for its last
/// value, as the whole block does by the ratio at its end: the dots' last shells have
/// (55 − 45)/55 = 0.18 (3D, k = 20) and (50 − 40)/50 = 0.2 (2D, k = 10), and the splits at
/// their middle shells 10/45 = 0.22 and 10/40 = 0.25. An even ladder of levels (a wide box)
/// has ratios of a few per cent and stays one group.
const SPLIT_GAP: f64 = 0.15;

/// Where the finest level's block splits into groups that LOBPCG runs one after another, from
/// level 1's Ritz values (ascending, as many as the finest block has columns; `k` wanted) and
/// the operator's lower Gershgorin bound `lower`: the ends of the groups, the last one the
/// block's width. One split at most, after a wanted value whose gap to the next is clear
/// ([`SPLIT_GAP`]), the one nearest the middle, and only when it leaves each group at most
/// three quarters of the block; else one group.
///
/// A group's run keeps the pairs of the groups before it locked (hard locking from its start,
/// [`super::Locked`]), so W and P need only the widest group's columns: the 3D dot at 128³
/// (k = 20; the 35 meV shell ends at the 10th state) holds two blocks of 10 single-precision
/// columns instead of 20, 160 MiB of its peak. A group converges at a rate set by the gap to
/// the first value outside it, so the split is made only where that gap is clear (the first
/// group's gap is then about as wide as the last one's). The Rayleigh–Ritz passes over
/// `[X, W, P]` cost the square of the group's width, so two half-width groups also do about
/// half of that work (docs/benchmarks.md).
pub(crate) fn group_ends(k: usize, values: &[f64], lower: f64) -> Vec<usize> {
    let width = values.len();
    let clear = |g: usize| {
        let (below, above) = (values[g - 1], values[g]);
        above > lower && above - below >= SPLIT_GAP * (above - lower)
    };
    let widest = |g: usize| g.max(width - g);
    match (1..k.min(width))
        .filter(|&g| clear(g))
        .min_by_key(|&g| widest(g))
    {
        Some(g) if 4 * widest(g) <= 3 * width => vec![g, width],
        _ => vec![width],
    }
}

/// Relative size of the random values added to the extra columns of a block interpolated from
/// the level before ([`Levels::perturb`]).
///
/// A coarse grid can order the spectrum differently from a fine one, so a state among the
/// finest level's lowest `k` may lie above a coarse level's whole block: no column holds it,
/// and what interpolation and the V-cycles make from the block keeps the symmetry that leaves
/// it out (the 3D dot's (1,1,1) state, odd in x, y and z, lies above the 22 values of the 12³
/// block and was missing from the 24³, 48³ and 96³ blocks of a 96³ solve with k = 20). LOBPCG
/// then finds it only once rounding, 10⁻⁸ of single-precision W and P, has grown along it: on
/// the 96³ finest level after 20 iterations, 41 in all instead of 22, while a member of the
/// next shell held its place among the wanted pairs (their largest residual was 2·10⁻⁵ when
/// it appeared: had they met the tolerance first, the solve would have returned that member
/// in its place). A random part in the extra columns gives every state a component from the
/// start; a coarse level's iterations find the state, and the next levels start with it
/// (test `the_3d_dot_finds_the_state_the_coarse_grids_order_out_of_their_blocks`). The extra
/// columns are not wanted, and a hundredth of their norm changes their Rayleigh quotients by
/// about 10⁻⁴ of the operator's largest value.
pub(crate) const GUARD_NOISE: f64 = 1e-2;

/// Mixed into the solve's seed for [`GUARD_NOISE`]'s streams (with the level), so they differ
/// from the random start's.
const GUARD_SEED: u64 = 0x5DEE_CE66_D1CE_4E5B;

/// What a coarse-to-fine run did: the finest level's outcome and the totals over all levels.
#[derive(Debug, Default)]
pub(crate) struct Run {
    /// LOBPCG's outcome on the finest level.
    pub outcome: LobpcgOutcome,
    /// Iterations, summed over the levels.
    pub iterations: usize,
    /// Operator applications, summed over the levels.
    pub applications: u64,
    /// Levels used.
    pub levels: usize,
}

/// Runs LOBPCG from level [`first_level`] down to level 0 of `levels` for `options` (blocks of
/// `m` columns; on the finest level as many as [`settled_width`] says); `bounds` are the
/// Gershgorin bounds of the finest operator (for the tolerance's scale). The progress callback
/// sees every iteration of every level.
pub(crate) fn coarse_to_fine<T: Scalar>(
    levels: &mut impl Levels<T>,
    options: &EigenOptions,
    m: usize,
    bounds: (f64, f64),
    mut progress: Option<&mut ProgressFn<'_>>,
) -> Result<Run> {
    let first = first_level(levels.count(), |l| levels.dim(l), options, m);
    levels.random_start(first, options.seed)?;
    let mut run = Run {
        levels: first + 1,
        ..Run::default()
    };
    let mut ends = vec![m];
    // The first-step residual of the level before, when it started from interpolated vectors.
    let mut previous = None;
    for level in (0..=first).rev() {
        if level < first {
            // The finest level's block: as wide as level 1's values say it needs, in groups
            // where they show a clear gap.
            let width = if level == 0 && options.block_extra.is_none() {
                settled_width(options.k, &run.outcome.values)
            } else {
                m
            };
            ends = if level == 0 && levels.runs_groups() {
                group_ends(options.k, &run.outcome.values[..width], bounds.0)
            } else {
                vec![width]
            };
            let group = ends.iter().scan(0, |start, &end| {
                let g = end - *start;
                *start = end;
                Some(g)
            });
            levels.prolong(level, width, group.max().unwrap_or(width))?;
            if width > options.k {
                levels.perturb(
                    level,
                    options.k..width,
                    options.seed ^ GUARD_SEED ^ level as u64,
                )?;
            }
        }
        let params = LobpcgParams::for_level(
            options,
            bounds,
            (level, first + 1),
            run.applications,
            previous,
        );
        run.outcome = levels.lobpcg(params, &ends, progress.as_deref_mut())?;
        previous = run.outcome.first_step_residual.filter(|_| level < first);
        run.iterations += run.outcome.iterations;
        run.applications += run.outcome.applications;
    }
    Ok(run)
}

/// The wall clock and the manager's peak over a whole solve, started before anything the solve
/// allocates (hierarchy, factor, blocks).
pub(crate) struct SolveClock {
    start: Instant,
    peak: PeakTracker,
}

impl SolveClock {
    /// Starts timing and tracking `manager`'s peak.
    pub(crate) fn start(manager: &MemoryManager) -> Self {
        Self {
            start: Instant::now(),
            peak: manager.track_peak(),
        }
    }

    /// The solve's result: the first `k` values and residuals of the run's outcome, `vectors`
    /// (the first `k` Ritz vectors, wherever they were stored), the run's totals, the time and
    /// peak so far, `method` and the scratch bytes the blocks and vectors used.
    pub(crate) fn result<T: Scalar>(
        &self,
        run: &Run,
        k: usize,
        vectors: Eigenvectors<T>,
        method: Method,
        scratch_bytes: u64,
    ) -> EigenResult<T> {
        EigenResult {
            values: run.outcome.values[..k].to_vec(),
            vectors,
            residuals: run.outcome.residuals[..k].to_vec(),
            converged: run.outcome.converged.min(k),
            iterations: run.iterations,
            applications: run.applications,
            seconds: self.start.elapsed().as_secs_f64(),
            peak_pool_bytes: self.peak.peak(),
            method,
            scratch_bytes,
            levels: run.levels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Levels, coarse_to_fine, group_ends, settled_width};
    use crate::error::Result;
    use crate::solver::lobpcg::{LobpcgOutcome, LobpcgParams};
    use crate::solver::options::EigenOptions;
    use crate::solver::progress::ProgressFn;
    use std::ops::Range;

    /// Levels that solve nothing: each run reports the first-step residual given for its
    /// level and records the tolerance it was asked for, and the columns given noise.
    struct Recorded {
        dims: Vec<usize>,
        first_step: Vec<Option<f64>>,
        asked: Vec<(usize, f64)>,
        perturbed: Vec<(usize, Range<usize>)>,
    }

    impl Levels<f64> for Recorded {
        fn count(&self) -> usize {
            self.dims.len()
        }
        fn dim(&self, level: usize) -> usize {
            self.dims[level]
        }
        fn random_start(&mut self, _: usize, _: u64) -> Result<()> {
            Ok(())
        }
        fn prolong(&mut self, _: usize, _: usize, _: usize) -> Result<()> {
            Ok(())
        }
        fn perturb(&mut self, level: usize, columns: Range<usize>, _: u64) -> Result<()> {
            self.perturbed.push((level, columns));
            Ok(())
        }
        fn lobpcg(
            &mut self,
            params: LobpcgParams,
            ends: &[usize],
            _: Option<&mut ProgressFn<'_>>,
        ) -> Result<LobpcgOutcome> {
            self.asked.push((params.level, params.tol));
            let m = *ends.last().expect("one group at least");
            Ok(LobpcgOutcome {
                values: (0..m).map(|j| j as f64).collect(),
                residuals: vec![0.0; m],
                converged: m,
                iterations: 3,
                first_step_residual: self.first_step[params.level],
                ..LobpcgOutcome::default()
            })
        }
    }

    #[test]
    fn a_coarse_level_stops_where_the_level_before_showed_the_grids_apart() {
        // Five levels; the run starts on level 4 (the coarsest holding 4·m rows).
        let mut levels = Recorded {
            dims: vec![1 << 21, 1 << 18, 1 << 15, 1 << 12, 1 << 9],
            first_step: vec![
                Some(1e-3),
                Some(1.07e-2),
                Some(5.9e-2),
                Some(0.32),
                Some(1.0),
            ],
            asked: Vec::new(),
            perturbed: Vec::new(),
        };
        let options = EigenOptions {
            k: 20,
            ..EigenOptions::default()
        };
        coarse_to_fine(&mut levels, &options, 22, (0.0, 10.0), None).unwrap();
        // Every interpolated block, the finest one's too (its values 0, 1, …, 21 keep the
        // extra columns), gets noise in its two extra columns; the random start none.
        assert_eq!(
            levels.perturbed,
            (0..4).rev().map(|l| (l, 20..22)).collect::<Vec<_>>()
        );
        let asked = levels.asked;
        assert_eq!(
            asked.iter().map(|a| a.0).collect::<Vec<_>>(),
            vec![4, 3, 2, 1, 0]
        );
        // Level 4 starts from random vectors and level 3 from level 4's, whose first step
        // measured nothing about the grids: both keep 10⁻⁶.
        assert_eq!(asked[0].1, 1e-6);
        assert_eq!(asked[1].1, 1e-6);
        // Level 2 after level 3's 0.32: 2·10⁻⁴, clamped to 10⁻⁴; level 1 after level 2's
        // 5.9·10⁻²: 5.9·10⁻² / 1600.
        assert_eq!(asked[2].1, 1e-4);
        assert!((asked[3].1 - 5.9e-2 / 1600.0).abs() < 1e-18, "{asked:?}");
        // The finest level takes the requested tolerance whatever the coarse levels showed.
        assert_eq!(asked[4].1, options.tol);
    }

    /// Values of shells of `(count, energy)`, ascending.
    fn shells(counts: &[(usize, f64)]) -> Vec<f64> {
        counts
            .iter()
            .flat_map(|&(c, e)| std::iter::repeat_n(e, c))
            .collect()
    }

    #[test]
    fn extra_columns_go_only_when_the_kth_value_is_clearly_apart() {
        // The 2D dot's shells (meV): 1, 2, 3, 4, 5 states at 10, 20, 30, 40, 50.
        let dot = shells(&[(1, 10.0), (2, 20.0), (3, 30.0), (4, 40.0), (1, 50.0)]);
        // k = 10 ends the 40 meV shell: gap 10 of 40 (0.25) — the extra column goes.
        assert_eq!(settled_width(10, &dot), 10);
        // k = 9 cuts the 40 meV shell: the block keeps its 11 columns.
        assert_eq!(settled_width(9, &dot), 11);
        // A gap below 0.2 of the spread keeps them: 10 of 60.
        let narrow = [0.0, 50.0, 60.0];
        assert_eq!(settled_width(2, &narrow), 3);
        // Nothing to drop when the block is exactly k wide, or the values are all equal.
        assert_eq!(settled_width(11, &dot), 11);
        assert_eq!(settled_width(2, &[5.0, 5.0, 5.0]), 3);
    }

    #[test]
    fn the_block_splits_once_at_the_clear_gap_nearest_its_middle() {
        // The 3D dot's lowest 20: shells of 1, 3, 6, 10 states at 15, 25, 35, 45 meV. Gaps
        // after 1, 4 and 10 states; 10 is the middle.
        let dot3 = shells(&[(1, 15.0), (3, 25.0), (6, 35.0), (10, 45.0)]);
        assert_eq!(group_ends(20, &dot3, 0.0), vec![10, 20]);
        // The 2D dot's lowest 10: gaps after 1, 3 and 6 states; 6 leaves groups of 6 and 4.
        let dot2 = shells(&[(1, 10.0), (2, 20.0), (3, 30.0), (4, 40.0)]);
        assert_eq!(group_ends(10, &dot2, 0.0), vec![6, 10]);
        // Only wanted values split: with k = 4 of the block's 10, the gap after 6 is not a
        // candidate, and 3 leaves 7 of 10 (no more than three quarters: it splits); with k = 2
        // only the gap after 1 is, which would leave 9.
        assert_eq!(group_ends(4, &dot2, 0.0), vec![3, 10]);
        assert_eq!(group_ends(2, &dot2, 0.0), vec![10]);
        // The same shells far above the operator's lower bound: their gaps are no longer
        // clear (10 of 1040).
        assert_eq!(group_ends(10, &dot2, -1000.0), vec![10]);
        // An even ladder: every gap 1 of about 100.
        let ladder: Vec<f64> = (0..10).map(|i| 100.0 + i as f64).collect();
        assert_eq!(group_ends(10, &ladder, 0.0), vec![10]);
        // A clear gap after the first value only (1 of 8): too far from the middle.
        let lone = shells(&[(1, 1.0), (7, 5.0)]);
        assert_eq!(group_ends(8, &lone, 0.0), vec![8]);
    }
}
