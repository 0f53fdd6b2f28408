//! [`DeviceStencil`]: the matrix-free grid Hamiltonian on the device — the NVRTC kernel
//! `stencil_{f64,c64}` of `kernels.rs` applied to blocks of columns, with the operator's
//! arrays copied from a host [`StencilOperator`] into the [`DevicePool`].
//!
//! Coverage: everything `StencilOperator` represents — 1D/2D/3D grids, Dirichlet and periodic
//! axes, uniform mass (one hopping per axis) and per-point mass (one hopping per link, the
//! BenDaniel–Duke harmonic mean already computed on the host), the potential and any absorber
//! (both in the diagonal), and the Peierls phases of a magnetic field — so no case falls back to
//! cuSPARSE. Device memory: the diagonal (n scalars), per-point masses add n doubles per axis,
//! a field adds nx + ny phase factors.

use super::buffer::DeviceVec;
use super::driver_error;
use super::kernels::{StencilParams, function, launch_config};
use super::operator::DeviceOperator;
use super::pool::DevicePool;
use crate::error::Result;
use crate::matrix::Scalar;
use crate::physics::{AxisHops, Boundary, StencilOperator};
use cudarc::driver::{CudaFunction, PushKernelArg};

/// A grid Hamiltonian applied on the device.
pub struct DeviceStencil<'p, T: Scalar> {
    pool: &'p DevicePool,
    params: StencilParams,
    function: CudaFunction,
    // The arrays `params` points into, kept alive with it.
    _diag: DeviceVec<'p, T>,
    _hops: Vec<DeviceVec<'p, f64>>,
    _phases: Option<(DeviceVec<'p, T>, DeviceVec<'p, T>)>,
}

impl<'p, T: Scalar> DeviceStencil<'p, T> {
    /// Copies `op`'s diagonal, hoppings and phases into `pool` (tags `gpu.stencil.*`) and
    /// loads the kernel (compiled by NVRTC on the first use in the process).
    pub fn new(pool: &'p DevicePool, op: &StencilOperator<T>) -> Result<Self> {
        let grid = op.grid();
        let shape = grid.shape();
        let function = function::<T>(pool, "stencil")?;
        let diag = DeviceVec::from_host(pool, op.diagonal(), "gpu.stencil.diag")?;
        let mut params = StencilParams {
            diag: diag.address(),
            n: grid.len() as i64,
            nx: shape[0] as i64,
            ny: shape[1] as i64,
            nz: shape[2] as i64,
            dims: grid.dims() as i32,
            ..Default::default()
        };
        let mut hops = Vec::new();
        for (a, axis) in grid.axes().iter().enumerate() {
            if axis.boundary == Boundary::Periodic {
                params.periodic |= 1 << a;
            }
            match op.axis_hops(a) {
                AxisHops::Uniform(t) => params.t[a] = t,
                AxisHops::PerLink(t) => {
                    let v = DeviceVec::from_host(pool, t, "gpu.stencil.hops")?;
                    params.hops[a] = v.address();
                    hops.push(v);
                }
            }
        }
        let phases = match op.phase_factors() {
            Some((px, py)) => {
                let px = DeviceVec::from_host(pool, px, "gpu.stencil.phases")?;
                let py = DeviceVec::from_host(pool, py, "gpu.stencil.phases")?;
                params.phase_x = px.address();
                params.phase_y = py.address();
                Some((px, py))
            }
            None => None,
        };
        Ok(Self {
            pool,
            params,
            function,
            _diag: diag,
            _hops: hops,
            _phases: phases,
        })
    }

    /// Bytes the operator holds on the device.
    pub fn device_bytes(&self) -> usize {
        let n = self.params.n as usize;
        let phases = self
            ._phases
            .as_ref()
            .map_or(0, |(a, b)| (a.len() + b.len()) * size_of::<T>());
        n * size_of::<T>() + self._hops.len() * n * size_of::<f64>() + phases
    }
}

impl<T: Scalar> DeviceOperator<T> for DeviceStencil<'_, T> {
    fn dim(&self) -> usize {
        self.params.n as usize
    }

    fn pool(&self) -> &DevicePool {
        self.pool
    }

    unsafe fn apply_block(
        &self,
        (x, ldx): (u64, usize),
        (y, ldy): (u64, usize),
        columns: usize,
    ) -> Result<()> {
        if columns == 0 {
            return Ok(());
        }
        let config = launch_config(self.dim(), columns)?;
        let (ldx, ldy) = (ldx as i64, ldy as i64);
        let mut launch = self.pool.stream().launch_builder(&self.function);
        launch.arg(&self.params).arg(&x).arg(&ldx).arg(&y).arg(&ldy);
        // SAFETY: the arguments match stencil_{f64,c64}(StencilParams, const T*, long long, T*,
        // long long); the operator's arrays live as long as self; X and Y per the contract.
        unsafe { launch.launch(config) }.map(|_| ()).map_err(|e| {
            driver_error(
                &format!("launching the stencil kernel on {columns} column(s)"),
                e,
            )
        })
    }
}
