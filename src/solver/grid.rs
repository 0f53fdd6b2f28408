//! The lowest states of a grid Hamiltonian: LOBPCG preconditioned by geometric multigrid,
//! started coarse-to-fine (the driver in `lobpcg/driver.rs`) — solve on the coarsest grid,
//! interpolate the block to the next finer grid, iterate there (to a loose tolerance), and so on
//! up to the finest grid, where the requested tolerance applies. On fine grids only a few
//! iterations are then needed.

use super::lobpcg::driver::SolveClock;
use super::lobpcg::host::{Hierarchy, solve};
use super::lobpcg::host::{SearchBlocks, grid_in_core_bytes};
use super::operator::Operator;
use super::options::{EigenOptions, Method};
use super::out_of_core::{BlockPlan, block_bytes};
use super::precond::Multigrid;
use super::progress::ProgressFn;
use super::result::EigenResult;
use super::shift_invert::shift_invert_lowest;
use super::vectors::{Destination, destination};
use crate::error::Result;
use crate::matrix::Scalar;
use crate::memory::MemoryManager;
use crate::physics::{HamiltonianSpec, StencilOperator};
use crate::solver::threads::on_solver_threads;

/// The lowest `options.k` states of the Hamiltonian `spec` (closed system: the absorbing
/// potential is ignored), by multigrid-preconditioned LOBPCG with a coarse-to-fine start
/// (`Method::Auto` and `Method::Lobpcg`), or by shift-invert on the assembled matrix
/// (`Method::ShiftInvert`). The progress callback sees every LOBPCG iteration.
///
/// The 2D GaAs parabolic dot (ħω = 10 meV, 120 nm box, docs/validation.md case 2): levels
/// 10, 20, 20, 30 meV, the degenerate pair complete.
///
/// ```
/// use qdsim_mem::memory::MemoryManager;
/// use qdsim_mem::physics::{Grid, HamiltonianSpec, constants::GAAS_MASS, parabolic_potential};
/// use qdsim_mem::solver::{EigenOptions, lowest_states};
///
/// let manager = MemoryManager::with_defaults()?;
/// let grid = Grid::dirichlet_box(&[120.0, 120.0], &[79, 79])?;
/// let mut v = vec![0.0; grid.len()];
/// parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v)?;
/// let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
/// let options = EigenOptions { k: 4, tol: 1e-8, ..EigenOptions::default() };
/// let states = lowest_states::<f64>(&manager, &spec, &options, None)?;
/// assert!(states.is_converged());
/// // The second-order finite differences on a 1.5 nm grid put the levels within 0.5% of
/// // the exact ones (the box walls are far: the ground state's width is about 13 nm).
/// for (e, exact) in states.values.iter().zip([0.010, 0.020, 0.020, 0.030]) {
///     assert!((e - exact).abs() < 5e-3 * exact, "{e} eV against {exact} eV");
/// }
/// # Ok::<(), qdsim_mem::Error>(())
/// ```
pub fn lowest_states<T: Scalar>(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    on_solver_threads(progress, |progress| {
        lowest_states_here::<T>(manager, spec, options, progress)
    })
}

/// [`lowest_states`] on the calling thread's pool.
fn lowest_states_here<T: Scalar>(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    spec.validate()?;
    let n = spec.grid.len();
    options.check(n)?;
    if options.method == Method::ShiftInvert {
        let h = StencilOperator::<T>::new(manager, &spec.closed(), "solver.hamiltonian")?
            .to_csr("solver.hamiltonian")?;
        return shift_invert_lowest(manager, &h, None, options, progress);
    }
    let clock = SolveClock::start(manager);
    let mg = Multigrid::<T>::new(manager, spec)?;
    let m = options.block_size(n);
    // Out of core, the operators and the multigrid stay in core, and the result vectors too
    // unless they go to a file.
    // In core, W and P are in single precision (the stencil reads them in place, the V-cycle
    // preconditions them in place) unless the spectrum is out of its range.
    let bounds = mg.operator(0).gershgorin_bounds();
    let search = SearchBlocks::choose(&BlockPlan::InCore, true, bounds, true);
    let estimate = grid_in_core_bytes(&mg, m, m, search);
    let plan = BlockPlan::choose(options, estimate, mg.memory_bytes());
    let destination = destination::<T>(options, &plan, n, mg.memory_bytes());
    let resident = match destination {
        Destination::Pool => mg.memory_bytes() + block_bytes::<T>(n, options.k),
        Destination::File(_) | Destination::Scratch(_) => mg.memory_bytes(),
    };
    let plan = BlockPlan::choose(options, estimate, resident);
    solve(
        manager,
        Hierarchy::Grid(mg),
        bounds,
        options,
        &plan,
        &destination,
        Method::Lobpcg,
        clock,
        progress,
    )
}

/// Bytes an in-core solve of `spec` by [`lowest_states`] (multigrid LOBPCG) holds: the three
/// LOBPCG blocks (X in full precision, W and P in single), the block kernels' chunk buffers and
/// partial results, and the multigrid hierarchy (operators, coarsest factor, work vectors). This is
/// what `Placement::Auto` compares with `EigenOptions::memory_budget` before the solve. It is a
/// bound: where the spectrum shows a clear gap near the block's middle, the finest level runs
/// the block in two groups and its W and P are narrower (the 3D dot at 128³, lowest 20: 160 MiB
/// less), which only the coarser levels' values can tell; a solve that chose scratch files by
/// this bound checks again when it reaches the finest level, and keeps that level's blocks in
/// core when the narrower workspace fits the budget. It builds the hierarchy to measure it (a
/// small fraction of a solve's time and memory).
pub fn lowest_states_memory_estimate<T: Scalar>(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    options: &EigenOptions,
) -> Result<u64> {
    spec.validate()?;
    let n = spec.grid.len();
    options.check(n)?;
    let mg = Multigrid::<T>::new(manager, spec)?;
    let bounds = mg.operator(0).gershgorin_bounds();
    let search = SearchBlocks::choose(&BlockPlan::InCore, true, bounds, true);
    let m = options.block_size(n);
    Ok(grid_in_core_bytes(&mg, m, m, search))
}
