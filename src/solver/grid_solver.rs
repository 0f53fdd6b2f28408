//! The lowest states of a grid Hamiltonian: LOBPCG preconditioned by geometric multigrid,
//! started coarse-to-fine — solve on the coarsest grid, interpolate the block to the next finer
//! grid, iterate there (to a loose tolerance), and so on up to the finest grid, where the
//! requested tolerance applies. On fine grids only a few iterations are then needed.

use super::lobpcg::{LobpcgParams, SolveTotals, Workspace, lobpcg};
use super::lowest::check_options;
use super::multigrid::Multigrid;
use super::operator::Operator;
use super::options::{EigenOptions, EigenResult, Method};
use super::out_of_core::{BlockPlan, block_bytes};
use super::progress::ProgressFn;
use super::random::fill_random;
use super::shift_invert::shift_invert_lowest;
use super::vectors::{Destination, destination};
use crate::error::Result;
use crate::matrix::Scalar;
use crate::memory::MemoryManager;
use crate::physics::{HamiltonianSpec, StencilOperator};
use std::time::Instant;

/// Residual tolerance on the coarser levels: their solutions differ from the fine one by the
/// discretisation error anyway (≈ 10⁻³–10⁻⁴ for the grids coarse-to-fine passes through).
const COARSE_TOLERANCE: f64 = 1e-3;

/// The lowest `options.k` states of the Hamiltonian `spec` (closed system: the absorbing
/// potential is ignored), by multigrid-preconditioned LOBPCG with a coarse-to-fine start
/// (`Method::Auto` and `Method::Lobpcg`), or by shift-invert on the assembled matrix
/// (`Method::ShiftInvert`). The progress callback sees every LOBPCG iteration.
pub fn lowest_states<T: Scalar>(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    options: &EigenOptions,
    mut progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    spec.validate()?;
    let n = spec.grid.len();
    check_options(options, n)?;
    if options.method == Method::ShiftInvert {
        let closed = HamiltonianSpec {
            absorber: None,
            ..spec.clone()
        };
        let h = StencilOperator::<T>::new(manager, &closed, "solver.hamiltonian")?
            .to_csr("solver.hamiltonian")?;
        return shift_invert_lowest(manager, &h, None, options, progress);
    }
    let start = Instant::now();
    let peak = manager.track_peak();
    let mg = Multigrid::<T>::new(manager, spec)?;
    let m = options.block_size(n);
    // The coarsest level that can hold the block (with room to spare) starts the solve.
    let first = if options.coarse_to_fine {
        (0..mg.levels())
            .rev()
            .find(|&l| mg.operator(l).dim() >= 4 * m)
            .unwrap_or(0)
    } else {
        0
    };
    let (lower, upper) = mg.operator(0).gershgorin_bounds();
    let scale = 1e-3 * (upper - lower).abs();
    // Out of core, the operators and the multigrid stay in core, and the result vectors too
    // unless they go to a file.
    let estimate = mg.memory_bytes() + 3 * block_bytes::<T>(n, m);
    let plan = BlockPlan::choose(options, estimate, mg.memory_bytes());
    let destination = destination::<T>(options, &plan, n, mg.memory_bytes());
    let resident = match destination {
        Destination::Pool => mg.memory_bytes() + block_bytes::<T>(n, options.k),
        Destination::File(_) | Destination::Scratch(_) => mg.memory_bytes(),
    };
    let plan = BlockPlan::choose(options, estimate, resident);
    // One workspace at the finest size serves every level (coarse levels use leading rows).
    let mut ws = Workspace::<T>::new(manager, n, m, &plan)?;
    let n_first = mg.operator(first).dim();
    for j in 0..m {
        fill_random(&mut ws.x.col_mut(j)[..n_first], options.seed, j);
        ws.x.release_col(j);
    }
    let (mut iterations, mut applications) = (0, 0u64);
    let mut outcome = Default::default();
    let (mut column, mut temp) = (Vec::new(), [Vec::new(), Vec::new()]);
    for level in (0..=first).rev() {
        if level < first {
            // Interpolate the block to this level, into W, then make W the new X.
            let (nc, nf) = (mg.operator(level + 1).dim(), mg.operator(level).dim());
            for j in 0..m {
                mg.prolong(level, &ws.x.col(j)[..nc], &mut column, &mut temp);
                ws.w.col_mut(j)[..nf].copy_from_slice(&column);
                ws.x.release_col(j);
                ws.w.release_col(j);
            }
            std::mem::swap(&mut ws.x, &mut ws.w);
            if level == 0 {
                // The finest level's transfer vectors are not needed again: give them back
                // before its V-cycles allocate their own.
                (column, temp) = (Vec::new(), [Vec::new(), Vec::new()]);
            }
        }
        let params = LobpcgParams {
            k: options.k,
            tol: if level == 0 {
                options.tol
            } else {
                options.tol.max(COARSE_TOLERANCE)
            },
            max_iter: options.max_iterations,
            scale,
            level,
            levels: first + 1,
        };
        let prec = mg.preconditioner(level);
        outcome = lobpcg(
            &mut ws,
            mg.operator(level),
            &prec,
            params,
            applications,
            progress.as_deref_mut(),
        )?;
        iterations += outcome.iterations;
        applications += outcome.applications;
    }
    drop((column, temp));
    drop(mg);
    ws.into_result(
        manager,
        &outcome,
        options.k,
        SolveTotals {
            iterations,
            applications,
            seconds: start.elapsed().as_secs_f64(),
            peak_pool_bytes: peak.peak(),
            levels: first + 1,
        },
        &destination,
    )
}

/// Bytes an in-core solve of `spec` by [`lowest_states`] (multigrid LOBPCG) holds: the three
/// LOBPCG blocks and the multigrid hierarchy (operators, coarsest factor, work vectors). This is
/// what `Placement::Auto` compares with `EigenOptions::memory_budget`. It builds the hierarchy
/// to measure it (a small fraction of a solve's time and memory).
pub fn lowest_states_memory_estimate<T: Scalar>(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    options: &EigenOptions,
) -> Result<u64> {
    spec.validate()?;
    let n = spec.grid.len();
    check_options(options, n)?;
    let mg = Multigrid::<T>::new(manager, spec)?;
    Ok(mg.memory_bytes() + 3 * block_bytes::<T>(n, options.block_size(n)))
}
