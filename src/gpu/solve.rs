//! [`lowest_states`] and [`csr_lowest_states`] on a GPU: the device's [`Levels`] for the solver's
//! one coarse-to-fine driver (`solver/lobpcg/driver.rs`), which runs the block LOBPCG of
//! `solver/lobpcg/mod.rs` with X, W, P and the work block in a [`DevicePool`], `H·X` by the
//! NVRTC stencil ([`DeviceStencil`]) or cuSPARSE ([`DeviceCsr`]), block products by cuBLAS
//! (`block.rs`), the small dense eigenproblems and SVQB on the host, and the CPU solver's
//! preconditioning and start: the multigrid V-cycle on the device (`multigrid.rs`,
//! [`GpuPreconditioner::Multigrid`], the default) and coarse-to-fine (the driver's schedule,
//! interpolation on the device).
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
use crate::matrix::{CsrMatrix, ManagedMatrix, Scalar, require_square};
use crate::memory::MemoryManager;
use crate::physics::HamiltonianSpec;
use crate::solver::{
    BlockBackend, Directions, EigenOptions, EigenResult, GUARD_NOISE, Jacobi, Levels,
    LobpcgOutcome, LobpcgParams, Locked, Method, Multigrid, Operator, Placement, ProgressFn,
    SolveClock, add_random, block_lobpcg, coarse_to_fine, fill_random,
};
use cudarc::driver::CudaFunction;
use faer::Mat;
use std::ops::Range;

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
    Jacobi(&'k DeviceJacobi<'p>),
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

    fn gram_op(&self, s: &Self::Cols, overlap: bool) -> Result<(Mat<T>, Option<Mat<T>>)> {
        // Device blocks are in full precision: S is orthonormal to working precision unless
        // the caller left W and P as they were (`overlap`).
        let g = self.kernels.gram_op(self.op, s)?;
        let overlap = if overlap {
            Some(crate::solver::ColumnBlock::gram_of(s, s)?)
        } else {
            None
        };
        Ok((g, overlap))
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
    progress: Option<&mut ProgressFn<'_>>,
) -> Result<EigenResult<T>> {
    spec.validate()?;
    let n = spec.grid.len();
    options.check(n)?;
    check_gpu_options(options)?;
    super::blas::dim_i32(n, "grid points")?;
    let clock = SolveClock::start(manager);
    // The hierarchy leaves the absorber out, as on the CPU.
    let mg = Multigrid::<T>::new(manager, spec)?;
    let m = options.block_size(n);
    let device_mg = match preconditioner {
        GpuPreconditioner::Multigrid => Some(DeviceMultigrid::new(pool, &mg, m)?),
        GpuPreconditioner::Jacobi => None,
    };
    let bounds = mg.operator(0).gershgorin_bounds();
    let levels = DeviceLevels::new(pool, n, m, DeviceHierarchy::Grid { mg: &mg, device_mg })?;
    levels.solve(manager, options, bounds, clock, progress)
}

/// What the device solves level by level.
enum DeviceHierarchy<'h, 'p, T: Scalar> {
    /// A grid Hamiltonian's hierarchy (the host's, for the stencils and the coarse-to-fine
    /// transfers), with its V-cycles on the device (`None`: Jacobi on every level, transfers
    /// on the host).
    Grid {
        mg: &'h Multigrid<T>,
        device_mg: Option<DeviceMultigrid<'p, 'h, T>>,
    },
    /// A CSR matrix on the device, Jacobi-preconditioned (one level).
    Csr {
        op: DeviceCsr<'p, T>,
        jacobi: DeviceJacobi<'p>,
    },
}

/// The device's [`Levels`] for the coarse-to-fine driver: its blocks and hierarchy, and the host
/// columns that the random start and host-side transfers go through.
struct DeviceLevels<'h, 'p, T: Scalar> {
    pool: &'p DevicePool,
    blocks: Blocks<'p, T>,
    hierarchy: DeviceHierarchy<'h, 'p, T>,
    column: Vec<T>,
    fine: Vec<T>,
    temp: [Vec<T>; 2],
}

impl<'h, 'p, T: Scalar> DeviceLevels<'h, 'p, T> {
    fn new(
        pool: &'p DevicePool,
        n: usize,
        m: usize,
        hierarchy: DeviceHierarchy<'h, 'p, T>,
    ) -> Result<Self> {
        Ok(Self {
            pool,
            blocks: Blocks::new(pool, n, m)?,
            hierarchy,
            column: Vec::new(),
            fine: Vec::new(),
            temp: [Vec::new(), Vec::new()],
        })
    }

    /// The whole solve: the driver's run, then the first `k` columns of X copied into
    /// `manager`'s pool (`solver.vectors`) once the hierarchy is freed.
    fn solve(
        mut self,
        manager: &MemoryManager,
        options: &EigenOptions,
        bounds: (f64, f64),
        clock: SolveClock,
        progress: Option<&mut ProgressFn<'_>>,
    ) -> Result<EigenResult<T>> {
        let m = self.blocks.m;
        let run = coarse_to_fine(&mut self, options, m, bounds, progress)?;
        let Self {
            blocks, hierarchy, ..
        } = self;
        drop(hierarchy);
        let (n, k) = (blocks.n, options.k);
        let mut vectors = ManagedMatrix::<T>::uninit_values(manager, n, k, "solver.vectors")?;
        for j in 0..k {
            blocks.x.read(j * n, vectors.col_mut(j))?;
        }
        Ok(clock.result(&run, k, vectors.into(), Method::Lobpcg, 0))
    }
}

impl<T: Scalar> Levels<T> for DeviceLevels<'_, '_, T> {
    fn count(&self) -> usize {
        match &self.hierarchy {
            DeviceHierarchy::Grid { mg, .. } => mg.levels(),
            DeviceHierarchy::Csr { .. } => 1,
        }
    }

    fn dim(&self, level: usize) -> usize {
        match &self.hierarchy {
            DeviceHierarchy::Grid { mg, .. } => mg.operator(level).dim(),
            DeviceHierarchy::Csr { .. } => self.blocks.n,
        }
    }

    fn random_start(&mut self, level: usize, seed: u64) -> Result<()> {
        let (ld, m) = (self.blocks.n, self.blocks.m);
        self.column.resize(self.dim(level), T::ZERO_VALUE);
        for j in 0..m {
            fill_random(&mut self.column, seed, j);
            self.blocks.x.write(j * ld, &self.column)?;
        }
        Ok(())
    }

    fn prolong(&mut self, level: usize, _width: usize, _group: usize) -> Result<()> {
        let DeviceHierarchy::Grid { mg, device_mg } = &self.hierarchy else {
            unreachable!("a single level is never interpolated to");
        };
        let (n, m, blocks) = (self.blocks.n, self.blocks.m, &mut self.blocks);
        // Interpolate the block to this level, into W (on the device with the multigrid's
        // maps, else on the host); W becomes X.
        match device_mg {
            // SAFETY: X holds m columns of the coarser level, W receives m columns of this
            // one; both n apart in distinct live blocks.
            Some(dmg) => unsafe {
                dmg.prolong(level, (blocks.x.address(), n), (blocks.w.address(), n), m)?
            },
            None => {
                let nc = mg.operator(level + 1).dim();
                self.column.resize(nc, T::ZERO_VALUE);
                for j in 0..m {
                    blocks.x.read(j * n, &mut self.column)?;
                    mg.prolong(level, &self.column, &mut self.fine, &mut self.temp);
                    blocks.w.write(j * n, &self.fine)?;
                }
            }
        }
        std::mem::swap(&mut blocks.x, &mut blocks.w);
        Ok(())
    }

    fn perturb(&mut self, level: usize, columns: Range<usize>, seed: u64) -> Result<()> {
        let ld = self.blocks.n;
        self.column.resize(self.dim(level), T::ZERO_VALUE);
        for j in columns {
            self.blocks.x.read(j * ld, &mut self.column)?;
            add_random(&mut self.column, GUARD_NOISE, seed, j);
            self.blocks.x.write(j * ld, &self.column)?;
        }
        Ok(())
    }

    fn lobpcg(
        &mut self,
        params: LobpcgParams,
        _ends: &[usize],
        progress: Option<&mut ProgressFn<'_>>,
    ) -> Result<LobpcgOutcome> {
        // One group: the blocks are on the device at full width ([`Levels::runs_groups`]).
        let level = params.level;
        let nl = self.dim(level);
        let (own_op, own_jacobi);
        let (op, preconditioner, what): (&dyn DeviceOperator<T>, _, _) = match &self.hierarchy {
            DeviceHierarchy::Grid {
                device_mg: Some(dmg),
                ..
            } => (
                dmg.operator(level),
                LevelPreconditioner::Multigrid(dmg, level),
                format!("level {level} ({nl} points)"),
            ),
            DeviceHierarchy::Grid {
                mg,
                device_mg: None,
            } => {
                own_op = DeviceStencil::new(self.pool, mg.operator(level))?;
                own_jacobi = DeviceJacobi::new(self.pool, mg.operator(level))?;
                (
                    &own_op,
                    LevelPreconditioner::Jacobi(&own_jacobi),
                    format!("level {level} ({nl} points)"),
                )
            }
            DeviceHierarchy::Csr { op, jacobi } => (
                op,
                LevelPreconditioner::Jacobi(jacobi),
                format!("a {nl}×{nl} CSR matrix"),
            ),
        };
        let backend = DeviceBackend {
            kernels: &self.blocks.kernels,
            op,
            preconditioner,
        };
        let [x, w, p] = self.blocks.cols(nl);
        block_lobpcg(
            &backend,
            [&x, &w],
            Directions::Block(&p),
            params,
            Locked::default(),
            progress,
        )
        .map_err(|e| e.context(&format!("GPU LOBPCG on {what}")))
    }
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
    require_square(n, h.ncols(), "H")?;
    options.check(n)?;
    check_gpu_options(options)?;
    super::blas::dim_i32(n, "rows")?;
    let clock = SolveClock::start(manager);
    let m = options.block_size(n);
    let hierarchy = DeviceHierarchy::Csr {
        op: DeviceCsr::new(pool, h)?,
        jacobi: DeviceJacobi::new(pool, h)?,
    };
    DeviceLevels::new(pool, n, m, hierarchy)?.solve(
        manager,
        options,
        h.gershgorin_bounds(),
        clock,
        progress,
    )
}
