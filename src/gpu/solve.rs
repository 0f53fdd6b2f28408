//! [`lowest_states`]: the lowest states of a grid Hamiltonian on a GPU — the block LOBPCG of
//! `solver/block_lobpcg.rs` with X, W, P and the work block in a [`DevicePool`], `H·X` by the NVRTC stencil
//! ([`DeviceStencil`]), block products by cuBLAS (`block.rs`), the small dense eigenproblems and
//! SVQB on the host, and the CPU solver's preconditioning and start: the multigrid V-cycle on
//! the device (`multigrid.rs`, [`GpuPreconditioner::Multigrid`], the default) and
//! coarse-to-fine (solve on the coarsest grid of the hierarchy that holds 4 block widths,
//! interpolate on the host, iterate on the next finer grid, …).
//!
//! [`GpuPreconditioner::Jacobi`] (`1 / (H_ii − σ)`, σ a Gershgorin lower bound) needs much less
//! device memory but many more iterations on fine grids (its convergence degrades with the
//! grid spacing); it is there for checking and for memory-tight solves. The eigenvectors are
//! copied back into the manager's pool (`solver.vectors`), so the result is an
//! [`EigenResult`] like the CPU solver's.

use super::block::{BlockKernels, DeviceCols};
use super::buffer::DeviceVec;
use super::kernels::{function, scale_rows};
use super::multigrid::DeviceMultigrid;
use super::operator::DeviceOperator;
use super::pool::DevicePool;
use super::spmv::DeviceCsr;
use super::stencil::DeviceStencil;
use crate::error::{Error, Result};
use crate::matrix::{CsrMatrix, ManagedMatrix, Scalar};
use crate::memory::MemoryManager;
use crate::physics::HamiltonianSpec;
use crate::solver::{
    BlockBackend, EigenOptions, EigenResult, Jacobi, LobpcgOutcome, LobpcgParams, Method,
    Multigrid, Operator, Placement, ProgressFn, block_lobpcg, check_options, fill_random,
};
use cudarc::driver::CudaFunction;
use faer::Mat;
use std::time::Instant;

/// Residual tolerance on the coarser levels, as in the CPU solver (`solver/grid_solver.rs`):
/// their solutions differ from the fine one by the discretisation error anyway.
const COARSE_TOLERANCE: f64 = 1e-3;

/// Jacobi scaling on the device.
struct DeviceJacobi<'p> {
    inverse: DeviceVec<'p, f64>,
    function: CudaFunction,
}

impl<'p> DeviceJacobi<'p> {
    fn new<T: Scalar, A: Operator<T> + ?Sized>(pool: &'p DevicePool, op: &A) -> Result<Self> {
        let jacobi = Jacobi::new(op);
        Ok(Self {
            inverse: DeviceVec::from_host(pool, jacobi.inverse(), "gpu.solver.jacobi")?,
            function: function::<T>(pool, "scale_rows")?,
        })
    }
}

/// The preconditioner of the GPU solver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GpuPreconditioner {
    /// The CPU solver's multigrid V-cycle, on the device (the coarsest solve on the host).
    #[default]
    Multigrid,
    /// Diagonal scaling by `1 / (H_ii − σ)`.
    Jacobi,
}

/// A level's preconditioner on the device.
enum LevelPreconditioner<'k, 'p, 'h, T: Scalar> {
    Jacobi(DeviceJacobi<'p>),
    /// V-cycles starting at the given level of the hierarchy.
    Multigrid(&'k DeviceMultigrid<'p, 'h, T>, usize),
}

/// The device blocks, operator and preconditioner of one level.
struct DeviceBackend<'k, 'p, 'h, T: Scalar> {
    kernels: &'k BlockKernels<'p, T>,
    op: &'k dyn DeviceOperator<T>,
    preconditioner: LevelPreconditioner<'k, 'p, 'h, T>,
}

impl<'k, 'p, T: Scalar> BlockBackend<T> for DeviceBackend<'k, 'p, '_, T> {
    type Cols = DeviceCols<'k, 'p, T>;

    fn gram_op(&self, s: &Self::Cols) -> Result<Mat<T>> {
        self.kernels.gram_op(self.op, s)
    }

    fn residuals(&self, x: &Self::Cols, lambda: &[f64], r: &Self::Cols) -> Result<Vec<f64>> {
        self.kernels.residuals(self.op, x, lambda, r)
    }

    fn precondition(&self, w: &Self::Cols) -> Result<()> {
        for (address, ncols, ld) in w.runs() {
            match &self.preconditioner {
                // SAFETY: the run is live device columns of `rows()` elements, `ld` apart; the
                // inverse holds that many doubles (this level's operator).
                LevelPreconditioner::Jacobi(jacobi) => unsafe {
                    scale_rows(
                        self.kernels.pool(),
                        &jacobi.function,
                        (address, ld, w.rows(), ncols),
                        jacobi.inverse.address(),
                    )?
                },
                // SAFETY: as above; the hierarchy's level has `rows()` points.
                LevelPreconditioner::Multigrid(mg, level) => unsafe {
                    mg.precondition(*level, (address, ld), ncols)?
                },
            }
        }
        Ok(())
    }
}

/// Checks what the GPU solver does not do.
fn check_gpu_options(options: &EigenOptions) -> Result<()> {
    if options.method == Method::ShiftInvert {
        return Err(Error::invalid_argument(
            "shift-invert is not available on the GPU: use Method::Lobpcg or Method::Auto (or the CPU solver)",
        ));
    }
    if let Some(path) = &options.vectors_file {
        return Err(Error::invalid_argument(format!(
            "vectors_file {}: the GPU solver returns its eigenvectors in the manager's pool",
            path.display()
        )));
    }
    if options.placement == Placement::OutOfCore {
        return Err(Error::invalid_argument(
            "out-of-core placement is for the CPU solver; the GPU solver keeps its blocks in device memory",
        ));
    }
    Ok(())
}

/// The lowest `options.k` states of `spec` (closed system: the absorber is ignored) computed on
/// `pool`'s device (see the module doc). Options as for [`crate::solver::lowest_states`], except
/// that `Method::ShiftInvert`, `Placement::OutOfCore` and `vectors_file` are refused and `memory_budget` and
/// `scratch_dir` do not apply (the pool's limit bounds device memory: X, W, P and a work block
/// of 3 block widths, `6·n·m` scalars, and the multigrid hierarchy, about `5·n·m` more in 2D,
/// with m = k + extra). The eigenvectors are copied into `manager`'s pool; `peak_pool_bytes` is
/// the manager's (host) peak.
///
/// Errors as for the CPU solver, plus [`crate::ErrorKind::NoDevice`] when libcublas or
/// libnvrtc cannot be loaded, and device errors (out of memory, the pool's limit).
pub fn lowest_states<T: Scalar>(
    pool: &DevicePool,
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    lowest_states_with(
        pool,
        manager,
        spec,
        options,
        GpuPreconditioner::Multigrid,
        progress,
    )
}

/// [`lowest_states`] with a chosen preconditioner. Device memory: `6·n·m` scalars for the
/// blocks, plus with multigrid about `(3 + 5/3)·n·m` (2D; a third more in 3D) for the
/// hierarchy's work arrays.
pub fn lowest_states_with<T: Scalar>(
    pool: &DevicePool,
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    options: &EigenOptions,
    preconditioner: GpuPreconditioner,
    mut progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    spec.validate()?;
    let n = spec.grid.len();
    check_options(options, n)?;
    check_gpu_options(options)?;
    super::blas::dim_i32(n, "grid points")?;
    let start = Instant::now();
    let peak = manager.track_peak();
    let closed = HamiltonianSpec {
        absorber: None,
        ..spec.clone()
    };
    let mg = Multigrid::<T>::new(manager, &closed)?;
    let m = options.block_size(n);
    // The coarsest level that can hold the block (with room to spare) starts the solve, as on
    // the CPU.
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

    // Blocks of the finest size; coarser levels use their leading rows (ld = n throughout).
    let mut blocks = Blocks::<T>::new(pool, n, m)?;
    let device_mg = match preconditioner {
        GpuPreconditioner::Multigrid => Some(DeviceMultigrid::new(pool, &mg, m)?),
        GpuPreconditioner::Jacobi => None,
    };
    let mut column = random_start(&blocks.x, n, mg.operator(first).dim(), m, options.seed)?;
    let (mut iterations, mut applications) = (0, 0u64);
    let mut outcome = LobpcgOutcome::default();
    let (mut fine, mut temp) = (Vec::new(), [Vec::new(), Vec::new()]);
    for level in (0..=first).rev() {
        let nl = mg.operator(level).dim();
        if level < first {
            // Interpolate the block to this level, into W (on the device with the multigrid's
            // maps, else on the host); W becomes X.
            match &device_mg {
                // SAFETY: X holds m columns of the coarser level, W receives m columns of this
                // one; both n apart in distinct live blocks.
                Some(dmg) => unsafe {
                    dmg.prolong(level, (blocks.x.address(), n), (blocks.w.address(), n), m)?
                },
                None => {
                    let nc = mg.operator(level + 1).dim();
                    column.resize(nc, T::ZERO_VALUE);
                    for j in 0..m {
                        blocks.x.read(j * n, &mut column)?;
                        mg.prolong(level, &column, &mut fine, &mut temp);
                        blocks.w.write(j * n, &fine)?;
                    }
                }
            }
            std::mem::swap(&mut blocks.x, &mut blocks.w);
        }
        let own_op;
        let (op, preconditioner): (&dyn DeviceOperator<T>, _) = match &device_mg {
            Some(dmg) => (
                dmg.operator(level),
                LevelPreconditioner::Multigrid(dmg, level),
            ),
            None => {
                own_op = DeviceStencil::new(pool, mg.operator(level))?;
                (
                    &own_op,
                    LevelPreconditioner::Jacobi(DeviceJacobi::new(pool, mg.operator(level))?),
                )
            }
        };
        let backend = DeviceBackend {
            kernels: &blocks.kernels,
            op,
            preconditioner,
        };
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
        let [x, w, p] = blocks.cols(nl);
        outcome = block_lobpcg(
            &backend,
            [&x, &w, &p],
            params,
            applications,
            progress.as_deref_mut(),
        )
        .map_err(|e| e.context(&format!("GPU LOBPCG on level {level} ({nl} points)")))?;
        iterations += outcome.iterations;
        applications += outcome.applications;
    }
    drop((column, fine, temp, device_mg));
    drop(mg);
    finish(
        manager,
        &blocks.x,
        n,
        options.k,
        outcome,
        Totals {
            iterations,
            applications,
            seconds: start.elapsed().as_secs_f64(),
            peak_pool_bytes: peak.peak(),
            levels: first + 1,
        },
    )
}

/// X, W, P (`n × m` each, columns `n` apart) and the block kernels of one solve.
struct Blocks<'p, T: Scalar> {
    x: DeviceVec<'p, T>,
    w: DeviceVec<'p, T>,
    p: DeviceVec<'p, T>,
    kernels: BlockKernels<'p, T>,
    n: usize,
    m: usize,
}

impl<'p, T: Scalar> Blocks<'p, T> {
    fn new(pool: &'p DevicePool, n: usize, m: usize) -> Result<Self> {
        let block = || DeviceVec::<T>::uninit(pool, n * m, "gpu.solver.block");
        Ok(Self {
            x: block()?,
            w: block()?,
            p: block()?,
            kernels: BlockKernels::new(pool, n, 3 * m)?,
            n,
            m,
        })
    }

    /// The leading `rows` rows of X, W and P.
    fn cols(&self, rows: usize) -> [DeviceCols<'_, 'p, T>; 3] {
        [&self.x, &self.w, &self.p].map(|b| self.kernels.cols(b, self.n, rows, 0..self.m))
    }
}

/// Fills the leading `rows` rows of the `m` columns of `x` (`ld` apart) with the CPU solver's
/// seeded random start; returns the host column used (for reuse).
fn random_start<T: Scalar>(
    x: &DeviceVec<'_, T>,
    ld: usize,
    rows: usize,
    m: usize,
    seed: u64,
) -> Result<Vec<T>> {
    let mut column = vec![T::ZERO_VALUE; rows];
    for j in 0..m {
        fill_random(&mut column, seed, j);
        x.write(j * ld, &column)?;
    }
    Ok(column)
}

/// What a solve did, over all its levels.
struct Totals {
    iterations: usize,
    applications: u64,
    seconds: f64,
    peak_pool_bytes: u64,
    levels: usize,
}

/// The result: the first `k` columns of `x` (`n` rows, `n` apart) copied into `manager`'s pool,
/// and the first `k` values and residuals of `outcome`.
fn finish<T: Scalar>(
    manager: &MemoryManager,
    x: &DeviceVec<'_, T>,
    n: usize,
    k: usize,
    outcome: LobpcgOutcome,
    totals: Totals,
) -> Result<EigenResult<T>> {
    let mut vectors = ManagedMatrix::<T>::uninit_values(manager, n, k, "solver.vectors")?;
    for j in 0..k {
        x.read(j * n, vectors.col_mut(j))?;
    }
    Ok(EigenResult {
        values: outcome.values[..k].to_vec(),
        vectors: vectors.into(),
        residuals: outcome.residuals[..k].to_vec(),
        converged: outcome.converged.min(k),
        iterations: totals.iterations,
        applications: totals.applications,
        seconds: totals.seconds,
        peak_pool_bytes: totals.peak_pool_bytes,
        method: Method::Lobpcg,
        scratch_bytes: 0,
        levels: totals.levels,
    })
}

/// The lowest `options.k` eigenpairs of a Hermitian CSR matrix `h` on `pool`'s device: the same
/// LOBPCG with `H·X` by cuSPARSE ([`DeviceCsr`]), Jacobi preconditioning on the device (no grid
/// is known, as for the CPU's `solver::lowest_eigenpairs`), and the CPU solver's seeded random
/// start. Options as for [`lowest_states`] (`coarse_to_fine` does not apply). Device memory:
/// the matrix and `6·n·m` scalars. [`crate::ErrorKind::NoDevice`] also when libcusparse cannot
/// be loaded.
pub fn csr_lowest_states<T: Scalar>(
    pool: &DevicePool,
    manager: &MemoryManager,
    h: &CsrMatrix<T>,
    options: &EigenOptions,
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    let n = h.nrows();
    if h.ncols() != n {
        return Err(Error::invalid_argument(format!(
            "a {n}×{} matrix is not square: it has no eigenpairs",
            h.ncols()
        )));
    }
    check_options(options, n)?;
    check_gpu_options(options)?;
    super::blas::dim_i32(n, "rows")?;
    let start = Instant::now();
    let peak = manager.track_peak();
    let (lower, upper) = h.gershgorin_bounds();
    let m = options.block_size(n);
    let blocks = Blocks::<T>::new(pool, n, m)?;
    let op = DeviceCsr::new(pool, h)?;
    let backend = DeviceBackend {
        kernels: &blocks.kernels,
        op: &op,
        preconditioner: LevelPreconditioner::Jacobi(DeviceJacobi::new(pool, h)?),
    };
    random_start(&blocks.x, n, n, m, options.seed)?;
    let params = LobpcgParams {
        k: options.k,
        tol: options.tol,
        max_iter: options.max_iterations,
        scale: 1e-3 * (upper - lower).abs(),
        level: 0,
        levels: 1,
    };
    let [x, w, p] = blocks.cols(n);
    let outcome = block_lobpcg(&backend, [&x, &w, &p], params, 0, progress)
        .map_err(|e| e.context(&format!("GPU LOBPCG on a {n}×{n} CSR matrix")))?;
    drop((x, w, p, backend));
    drop(op);
    let totals = Totals {
        iterations: outcome.iterations,
        applications: outcome.applications,
        seconds: start.elapsed().as_secs_f64(),
        peak_pool_bytes: peak.peak(),
        levels: 1,
    };
    finish(manager, &blocks.x, n, options.k, outcome, totals)
}
