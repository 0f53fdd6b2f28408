//! [`DeviceMultigrid`]: the CPU's multigrid V-cycle (`solver/multigrid.rs`) on the device, for a
//! block of columns at once — the same hierarchy (built on the host and copied: every level's
//! stencil, the damped-Jacobi steps `ω/(H_ii + s)`, the per-axis interpolation and full-weighting
//! maps), one damped Jacobi step before and after the coarse-grid correction, and the coarsest
//! level solved on the host with the CPU's sparse Cholesky factor (a few hundred to 1200 points:
//! its right-hand sides go to the host and back, one transfer per V-cycle).
//!
//! Device memory, per level l of n_l points and for blocks of up to `m` columns: the level's
//! operator and steps, and arrays `x`, `r`, and (below the finest) `rhs` of `n_l × m`, plus one
//! (2D) or two (3D) transfer temporaries — about 3 blocks at the finest level and 5/3 of one
//! over the coarser ones in 2D.

use super::buffer::{DeviceVec, bytes_of, bytes_of_mut};
use super::driver_error;
use super::kernels::{function, launch_config};
use super::operator::DeviceOperator;
use super::pool::DevicePool;
use super::stencil::DeviceStencil;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::Scalar;
use crate::solver::{Map1d, Multigrid};
use cudarc::driver::{CudaFunction, PushKernelArg};
use faer::MatMut;

/// A block of columns on the device: address, leading dimension.
pub type Cols = (u64, usize);

/// A 1D map on the device.
struct DeviceMap<'p> {
    offsets: DeviceVec<'p, i64>,
    index: DeviceVec<'p, i64>,
    weight: DeviceVec<'p, f64>,
    n_out: usize,
}

impl<'p> DeviceMap<'p> {
    fn new(pool: &'p DevicePool, map: &Map1d) -> Result<Self> {
        let (offsets, index, weight) = map.parts();
        let n_out = offsets.len() - 1;
        let as_i64 = |v: &[usize]| v.iter().map(|&x| x as i64).collect::<Vec<_>>();
        Ok(Self {
            offsets: DeviceVec::from_host(pool, &as_i64(offsets), "gpu.multigrid.transfer")?,
            index: DeviceVec::from_host(pool, &as_i64(index), "gpu.multigrid.transfer")?,
            weight: DeviceVec::from_host(pool, weight, "gpu.multigrid.transfer")?,
            n_out,
        })
    }
}

/// One level on the device.
struct Level<'p, T: Scalar> {
    op: DeviceStencil<'p, T>,
    /// ω / (H_ii + s).
    step: DeviceVec<'p, f64>,
    shape: [usize; 3],
    /// Maps to the next coarser level: (prolong, restrict) per axis.
    to_coarse: Option<(Vec<DeviceMap<'p>>, Vec<DeviceMap<'p>>)>,
    x: DeviceVec<'p, T>,
    r: DeviceVec<'p, T>,
    /// Right-hand side when visited as a coarse level (None on the finest).
    rhs: Option<DeviceVec<'p, T>>,
    temp: Vec<DeviceVec<'p, T>>,
}

impl<T: Scalar> Level<'_, T> {
    fn n(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The kernels of the V-cycle.
struct Functions {
    update: CudaFunction,
    residual: CudaFunction,
    map_axis: CudaFunction,
}

/// A multigrid hierarchy on the device; see the module doc.
pub struct DeviceMultigrid<'p, 'h, T: Scalar> {
    pool: &'p DevicePool,
    host: &'h Multigrid<T>,
    levels: Vec<Level<'p, T>>,
    functions: Functions,
    max_cols: usize,
}

impl<'p, 'h, T: Scalar> DeviceMultigrid<'p, 'h, T> {
    /// Copies every level of `host` to `pool`, with work arrays for blocks of up to `max_cols`
    /// columns.
    pub fn new(pool: &'p DevicePool, host: &'h Multigrid<T>, max_cols: usize) -> Result<Self> {
        let shift = host.shift();
        let mut levels = Vec::with_capacity(host.levels());
        for l in 0..host.levels() {
            let op = host.operator(l);
            let n = op.dim();
            let omega = host.smoothing_weight(l);
            let steps: Vec<f64> = op
                .diagonal()
                .iter()
                .map(|d| omega / (d.to_complex().re + shift))
                .collect();
            let to_coarse = match host.transfer(l) {
                Some(t) => {
                    let (prolong, restrict, _, _) = t.maps();
                    let copy = |maps: &[Map1d]| {
                        maps.iter()
                            .map(|m| DeviceMap::new(pool, m))
                            .collect::<Result<Vec<_>>>()
                    };
                    Some((copy(prolong)?, copy(restrict)?))
                }
                None => None,
            };
            let dims = op.grid().dims();
            let block = || DeviceVec::<T>::uninit(pool, n * max_cols, "gpu.multigrid.work");
            levels.push(Level {
                op: DeviceStencil::new(pool, op)?,
                step: DeviceVec::from_host(pool, &steps, "gpu.multigrid.steps")?,
                shape: op.grid().shape(),
                to_coarse,
                x: block()?,
                r: block()?,
                rhs: if l > 0 { Some(block()?) } else { None },
                temp: (0..dims.saturating_sub(1).min(2))
                    .map(|_| block())
                    .collect::<Result<Vec<_>>>()?,
            });
        }
        Ok(Self {
            pool,
            host,
            levels,
            functions: Functions {
                update: function::<T>(pool, "mg_update")?,
                residual: function::<T>(pool, "mg_residual")?,
                map_axis: function::<T>(pool, "map_axis")?,
            },
            max_cols,
        })
    }

    /// The operator of level `l` on the device (0 is the finest).
    pub fn operator(&self, l: usize) -> &DeviceStencil<'p, T> {
        &self.levels[l].op
    }

    /// `W ← V-cycle(W)` from level `l` for `columns` columns of `n_l` rows at `w` (leading
    /// dimension `ld`), queued on the pool's stream (the coarsest solve synchronizes).
    ///
    /// # Safety
    /// The columns are live device memory of the pool and stay live until the stream has run
    /// the cycle.
    pub unsafe fn precondition(&self, l: usize, w: Cols, columns: usize) -> Result<()> {
        if columns > self.max_cols {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "{columns} columns to precondition; the hierarchy holds work arrays for {}",
                    self.max_cols
                ),
            ));
        }
        let level = &self.levels[l];
        let n = level.n();
        let x = (level.x.address(), n);
        // SAFETY: w per the contract; x is the level's own array.
        unsafe { self.vcycle(l, w, x, columns)? };
        let size = size_of::<T>() as u64;
        for j in 0..columns as u64 {
            // SAFETY: column j of x (n elements) and of w (n elements at ld), distinct arrays.
            unsafe {
                super::blas::copy_device::<T>(
                    self.pool,
                    w.0 + j * w.1 as u64 * size,
                    x.0 + j * x.1 as u64 * size,
                    n,
                )?
            };
        }
        Ok(())
    }

    /// Interpolates `columns` columns of level `l + 1` (at `coarse`) to level `l` (into
    /// `fine`) on the device: the coarse-to-fine start's transfer, `Multigrid::prolong`'s maps.
    ///
    /// # Safety
    /// Both blocks are live device memory of the pool with `columns` columns of the levels'
    /// sizes, distinct, and stay live until the stream has run the transfer.
    pub unsafe fn prolong(&self, l: usize, coarse: Cols, fine: Cols, columns: usize) -> Result<()> {
        let Some((prolong, _)) = &self.levels[l].to_coarse else {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("level {l} is the coarsest: nothing to interpolate from"),
            ));
        };
        if columns > self.max_cols {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "{columns} columns to interpolate; work arrays for {}",
                    self.max_cols
                ),
            ));
        }
        // SAFETY: per the contract.
        unsafe { self.transfer(l, prolong, self.levels[l + 1].shape, coarse, fine, columns) }
    }

    /// Launches `mg_update` (`mode` 0: x = step·b, 1: x += step·b, 2: x += b).
    ///
    /// # Safety
    /// The blocks are live device memory with `columns` columns of `n` rows.
    unsafe fn update(&self, l: usize, x: Cols, b: Cols, mode: i32, columns: usize) -> Result<()> {
        let n = self.levels[l].n();
        let step = self.levels[l].step.address();
        let (ldx, ldb, nn) = (x.1 as i64, b.1 as i64, n as i64);
        let mut launch = self.pool.stream().launch_builder(&self.functions.update);
        launch
            .arg(&x.0)
            .arg(&ldx)
            .arg(&b.0)
            .arg(&ldb)
            .arg(&step)
            .arg(&mode)
            .arg(&nn);
        // SAFETY: the arguments match mg_update_{f64,c64}; memory per the contract.
        unsafe { launch.launch(launch_config(n, columns)?) }
            .map(|_| ())
            .map_err(|e| driver_error(&format!("launching mg_update (level {l})"), e))
    }

    /// `r = b − (H + s)·x` on level `l`.
    ///
    /// # Safety
    /// As for [`update`](Self::update); `r` is distinct from `x` and `b`.
    unsafe fn residual(&self, l: usize, b: Cols, x: Cols, r: Cols, columns: usize) -> Result<()> {
        let level = &self.levels[l];
        let n = level.n();
        // SAFETY: x and r are distinct live blocks of n rows.
        unsafe { level.op.apply_block(x, r, columns)? };
        let (ldr, ldb, ldx, nn, s) = (
            r.1 as i64,
            b.1 as i64,
            x.1 as i64,
            n as i64,
            self.host.shift(),
        );
        let mut launch = self.pool.stream().launch_builder(&self.functions.residual);
        launch
            .arg(&r.0)
            .arg(&ldr)
            .arg(&b.0)
            .arg(&ldb)
            .arg(&x.0)
            .arg(&ldx)
            .arg(&s)
            .arg(&nn);
        // SAFETY: the arguments match mg_residual_{f64,c64}; memory per the contract.
        unsafe { launch.launch(launch_config(n, columns)?) }
            .map(|_| ())
            .map_err(|e| driver_error(&format!("launching mg_residual (level {l})"), e))
    }

    /// Applies `maps` (one per axis) to `input` of `shape`, writing `output`, through level
    /// `l`'s temporaries.
    ///
    /// # Safety
    /// Input and output are live, distinct blocks of the right sizes with `columns` columns.
    unsafe fn transfer(
        &self,
        l: usize,
        maps: &[DeviceMap<'p>],
        mut shape: [usize; 3],
        input: Cols,
        output: Cols,
        columns: usize,
    ) -> Result<()> {
        let level = &self.levels[l];
        let last = maps.len() - 1;
        let temp = |i: usize| (level.temp[i].address(), level.n());
        for (a, map) in maps.iter().enumerate() {
            let src = if a == 0 { input } else { temp((a - 1) % 2) };
            let dst = if a == last { output } else { temp(a % 2) };
            let (lds, ldd) = (src.1 as i64, dst.1 as i64);
            let [nx, ny, nz] = shape.map(|v| v as i64);
            let (axis, n_out) = (a as i32, map.n_out as i64);
            let (offsets, index, weight) = (
                map.offsets.address(),
                map.index.address(),
                map.weight.address(),
            );
            let mut out_shape = shape;
            out_shape[a] = map.n_out;
            let total: usize = out_shape.iter().product();
            let mut launch = self.pool.stream().launch_builder(&self.functions.map_axis);
            launch
                .arg(&dst.0)
                .arg(&ldd)
                .arg(&src.0)
                .arg(&lds)
                .arg(&offsets)
                .arg(&index)
                .arg(&weight)
                .arg(&nx)
                .arg(&ny)
                .arg(&nz)
                .arg(&axis)
                .arg(&n_out);
            // SAFETY: the arguments match map_axis_{f64,c64}; every intermediate shape has at
            // most n_l points (the finer of the two levels), the temporaries' size.
            unsafe { launch.launch(launch_config(total, columns)?) }.map_err(|e| {
                driver_error(&format!("launching map_axis (level {l}, axis {a})"), e)
            })?;
            shape = out_shape;
        }
        Ok(())
    }

    /// The coarsest solve on the host: B is copied down, solved with the sparse factor, and the
    /// solution copied into X (one copy each way when the columns are contiguous, as they are
    /// inside a V-cycle).
    fn coarse_solve(&self, n: usize, b: Cols, x: Cols, columns: usize) -> Result<()> {
        let size = size_of::<T>() as u64;
        let mut data = vec![T::ZERO_VALUE; n * columns];
        if b.1 == n {
            self.pool.copy_to_host(bytes_of_mut(&mut data), b.0)?;
        } else {
            for (j, column) in data.chunks_mut(n).enumerate() {
                self.pool
                    .copy_to_host(bytes_of_mut(column), b.0 + j as u64 * b.1 as u64 * size)?;
            }
        }
        self.host
            .coarse_solve_in_place(MatMut::from_column_major_slice_mut(&mut data, n, columns))?;
        if x.1 == n {
            self.pool.copy_to_device(x.0, bytes_of(&data))?;
        } else {
            for (j, column) in data.chunks(n).enumerate() {
                self.pool
                    .copy_to_device(x.0 + j as u64 * x.1 as u64 * size, bytes_of(column))?;
            }
        }
        Ok(())
    }

    /// One V-cycle from level `l` for `(H + s)·X = B`, as `Multigrid::vcycle` on the host.
    ///
    /// # Safety
    /// B and X are live, distinct device blocks of `n_l` rows and `columns` columns.
    unsafe fn vcycle(&self, l: usize, b: Cols, x: Cols, columns: usize) -> Result<()> {
        let level = &self.levels[l];
        let n = level.n();
        let Some((prolong, restrict)) = &level.to_coarse else {
            return self.coarse_solve(n, b, x, columns);
        };
        let r = (level.r.address(), n);
        let coarse = &self.levels[l + 1];
        let nc = coarse.n();
        let rhs_c = (
            coarse
                .rhs
                .as_ref()
                .expect("coarse levels have a right-hand side")
                .address(),
            nc,
        );
        let x_c = (coarse.x.address(), nc);
        // SAFETY: every block is a live array of this hierarchy or the caller's (per the
        // contract), with the sizes the level gives.
        unsafe {
            // Pre-smoothing from x = 0: one damped Jacobi step.
            self.update(l, x, b, 0, columns)?;
            // Coarse-grid correction.
            self.residual(l, b, x, r, columns)?;
            self.transfer(l, restrict, level.shape, r, rhs_c, columns)?;
            self.vcycle(l + 1, rhs_c, x_c, columns)?;
            self.transfer(l, prolong, coarse.shape, x_c, r, columns)?;
            self.update(l, x, r, 2, columns)?;
            // Post-smoothing: one damped Jacobi step.
            self.residual(l, b, x, r, columns)?;
            self.update(l, x, r, 1, columns)?;
        }
        Ok(())
    }
}
