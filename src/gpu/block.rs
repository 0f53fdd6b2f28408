//! Tall-skinny block kernels of the GPU eigensolver, on device memory: [`DeviceCols`] (a list of
//! strided column runs, so `[X, W, P]` needs no copy, as `solver/block.rs` does on the host) and
//! [`BlockKernels`], which holds the cuBLAS handle and the work arrays and computes
//!
//! - Gram matrices `AᴴB` — one `gemm` (conjugate transpose) per pair of runs into a small device
//!   matrix, copied to the host;
//! - `Sᴴ·H·S` — `H·S` into a work block (the operator's kernel), then a Gram matrix;
//! - combinations `Y = S·C` that may overwrite their inputs — `gemm` into a work block, then
//!   copied into the outputs;
//! - residuals `R = H·X − X·diag(λ)` (operator, then `axpy`) and their norms (the diagonal of
//!   `RᴴR`).
//!
//! Work memory, from the pool: one block of `n × 3m` (H·S, or the combination's result), the
//! `3m × 3m` Gram matrix and a `3m × 2m` coefficient matrix. Every call is queued on the
//! pool's stream; the ones that return host values synchronize it.

use super::blas::{Blas, Op, copy_device};
use super::buffer::DeviceVec;
use super::driver_error;
use super::operator::DeviceOperator;
use super::pool::DevicePool;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::Scalar;
use crate::solver::ColumnBlock;
use faer::{Mat, MatRef};
use std::ops::Range;

/// A run of columns `ld` elements apart starting at device address `address`.
#[derive(Clone, Copy, Debug)]
struct Run {
    address: u64,
    ncols: usize,
    ld: usize,
}

/// Columns of length `n` in device blocks, with the kernels that work on them.
#[derive(Clone)]
pub(crate) struct DeviceCols<'k, 'p, T: Scalar> {
    kernels: &'k BlockKernels<'p, T>,
    runs: Vec<Run>,
    n: usize,
}

/// The cuBLAS handle and work arrays of one solve (sized for blocks of `max_rows × m`).
pub(crate) struct BlockKernels<'p, T: Scalar> {
    pool: &'p DevicePool,
    blas: Blas,
    max_rows: usize,
    max_cols: usize,
    /// `max_rows × max_cols` (H·S, or the result of a combination).
    work: DeviceVec<'p, T>,
    /// Gram matrices, `max_cols × max_cols`.
    gram: DeviceVec<'p, T>,
    /// Coefficients of combinations, `max_cols × max_cols`.
    coeff: DeviceVec<'p, T>,
}

impl<'p, T: Scalar> BlockKernels<'p, T> {
    /// Work arrays for blocks of up to `max_rows` rows and `max_cols` columns in total
    /// (3m for LOBPCG's `[X, W, P]`).
    pub(crate) fn new(pool: &'p DevicePool, max_rows: usize, max_cols: usize) -> Result<Self> {
        let square = max_cols * max_cols;
        Ok(Self {
            pool,
            blas: Blas::new(pool)?,
            max_rows,
            max_cols,
            work: DeviceVec::uninit(pool, max_rows * max_cols, "gpu.solver.work")?,
            gram: DeviceVec::uninit(pool, square, "gpu.solver.small")?,
            coeff: DeviceVec::uninit(pool, square, "gpu.solver.small")?,
        })
    }

    /// Columns `range` of a device block whose columns are `ld` apart, `n ≤ ld` rows used.
    pub(crate) fn cols<'k>(
        &'k self,
        block: &DeviceVec<'_, T>,
        ld: usize,
        n: usize,
        range: Range<usize>,
    ) -> DeviceCols<'k, 'p, T> {
        assert!(n <= ld && n <= self.max_rows && range.end * ld <= block.len());
        DeviceCols {
            kernels: self,
            runs: if range.is_empty() {
                Vec::new()
            } else {
                vec![Run {
                    address: block.address_at(range.start * ld),
                    ncols: range.len(),
                    ld,
                }]
            },
            n,
        }
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &'p DevicePool {
        self.pool
    }

    /// The work block as `count` columns of `n` rows (contents undefined until written).
    fn work_cols(&self, n: usize, count: usize) -> Result<DeviceCols<'_, 'p, T>> {
        if count > self.max_cols || n > self.max_rows {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "a work block of {n}×{count} asked for; the solve sized it {}×{}",
                    self.max_rows, self.max_cols
                ),
            ));
        }
        Ok(self.cols(&self.work, n, n, 0..count))
    }

    /// `H·S` into the work block (one launch per run of S).
    fn apply_op<'k>(
        &'k self,
        op: &dyn DeviceOperator<T>,
        s: &DeviceCols<'k, 'p, T>,
    ) -> Result<DeviceCols<'k, 'p, T>> {
        let hs = self.work_cols(s.n, s.count())?;
        let mut first = 0;
        for run in &s.runs {
            let target = hs.col_address(first);
            // SAFETY: the run's columns and the work columns are live device memory of the
            // pool with those shapes; the work block never holds solver columns.
            unsafe { op.apply_block((run.address, run.ld), (target, s.n), run.ncols)? };
            first += run.ncols;
        }
        Ok(hs)
    }

    /// `Sᴴ·H·S`.
    pub(crate) fn gram_op(
        &self,
        op: &dyn DeviceOperator<T>,
        s: &DeviceCols<'_, 'p, T>,
    ) -> Result<Mat<T>> {
        if s.count() == 0 {
            return Ok(Mat::zeros(0, 0));
        }
        let hs = self.apply_op(op, s)?;
        gram(s, &hs)
    }

    /// `r_j = H·x_j − λ_j·x_j` for every column; returns `‖r_j‖`. `r` must not overlap `x`.
    pub(crate) fn residuals(
        &self,
        op: &dyn DeviceOperator<T>,
        x: &DeviceCols<'_, 'p, T>,
        lambda: &[f64],
        r: &DeviceCols<'_, 'p, T>,
    ) -> Result<Vec<f64>> {
        let b = x.count();
        assert!(r.count() == b && lambda.len() == b && x.n == r.n);
        for (j, &l) in lambda.iter().enumerate() {
            let (xj, rj) = (x.col_address(j), r.col_address(j));
            // SAFETY: column j of x and of r: live, distinct (per the contract) device columns
            // of n elements.
            unsafe {
                op.apply_block((xj, x.n), (rj, r.n), 1)?;
                self.blas.axpy(x.n, T::from_real(-l), xj, rj)?;
            }
        }
        let g = gram(r, r)?;
        Ok((0..b)
            .map(|j| g[(j, j)].to_complex().re.max(0.0).sqrt())
            .collect())
    }

    fn check_rows(a: &DeviceCols<'_, 'p, T>, b: &DeviceCols<'_, 'p, T>) -> Result<()> {
        if a.n != b.n {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("columns of {} and {} rows in one kernel", a.n, b.n),
            ));
        }
        Ok(())
    }

    /// Uploads `coeff` (compactly, column-major) into the coefficient array; complete on return.
    fn upload_coeff(&self, coeff: MatRef<'_, T>) -> Result<()> {
        let (r, c) = (coeff.nrows(), coeff.ncols());
        if r * c > self.coeff.len() {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "a {r}×{c} coefficient matrix; the solve sized {} entries",
                    self.coeff.len()
                ),
            ));
        }
        let compact: Vec<T> = (0..c)
            .flat_map(|j| (0..r).map(move |i| coeff[(i, j)]))
            .collect();
        self.coeff.write(0, &compact)
    }
}

impl<'k, 'p, T: Scalar> DeviceCols<'k, 'p, T> {
    /// The device address of column `j`.
    pub(crate) fn col_address(&self, mut j: usize) -> u64 {
        for run in &self.runs {
            if j < run.ncols {
                return run.address + (j * run.ld * size_of::<T>()) as u64;
            }
            j -= run.ncols;
        }
        panic!("column index out of range");
    }

    /// Column length.
    pub(crate) fn rows(&self) -> usize {
        self.n
    }

    /// The strided runs `(address, ncols, ld)`, for kernels that take whole runs.
    pub(crate) fn runs(&self) -> impl Iterator<Item = (u64, usize, usize)> + '_ {
        self.runs.iter().map(|r| (r.address, r.ncols, r.ld))
    }
}

/// `Aᴴ·B` (see the module doc).
fn gram<T: Scalar>(a: &DeviceCols<'_, '_, T>, b: &DeviceCols<'_, '_, T>) -> Result<Mat<T>> {
    let (na, nb) = (a.count(), b.count());
    if na == 0 || nb == 0 {
        return Ok(Mat::zeros(na, nb));
    }
    let k = a.kernels;
    BlockKernels::check_rows(a, b)?;
    if na * nb > k.gram.len() {
        return Err(Error::new(
            ErrorKind::Internal,
            format!(
                "a {na}×{nb} Gram matrix; the solve sized {} entries",
                k.gram.len()
            ),
        ));
    }
    let mut i0 = 0;
    for ra in &a.runs {
        let mut j0 = 0;
        for rb in &b.runs {
            // SAFETY: both runs are live device columns of n rows; the target is the
            // ra.ncols × rb.ncols sub-block at (i0, j0) of the na × nb Gram array.
            unsafe {
                k.blas.gemm(
                    Op::Adjoint,
                    Op::None,
                    (ra.ncols, rb.ncols, a.n),
                    T::ONE,
                    (ra.address, ra.ld),
                    (rb.address, rb.ld),
                    T::ZERO_VALUE,
                    (k.gram.address_at(i0 + j0 * na), na),
                )?
            };
            j0 += rb.ncols;
        }
        i0 += ra.ncols;
    }
    let mut values = vec![T::ZERO_VALUE; na * nb];
    k.gram.read(0, &mut values)?; // synchronizes the stream
    Ok(Mat::from_fn(na, nb, |i, j| values[i + j * na]))
}

impl<'k, 'p, T: Scalar> ColumnBlock<T> for DeviceCols<'k, 'p, T> {
    fn count(&self) -> usize {
        self.runs.iter().map(|r| r.ncols).sum()
    }

    fn columns(&self, range: Range<usize>) -> Self {
        let mut runs = Vec::new();
        let mut first = 0;
        for run in &self.runs {
            let (lo, hi) = (range.start.max(first), range.end.min(first + run.ncols));
            if lo < hi {
                runs.push(Run {
                    address: run.address + ((lo - first) * run.ld * size_of::<T>()) as u64,
                    ncols: hi - lo,
                    ld: run.ld,
                });
            }
            first += run.ncols;
        }
        Self {
            kernels: self.kernels,
            runs,
            n: self.n,
        }
    }

    fn join(parts: &[&Self]) -> Self {
        let first = parts.first().expect("at least one part");
        Self {
            kernels: first.kernels,
            runs: parts.iter().flat_map(|p| p.runs.iter().copied()).collect(),
            n: first.n,
        }
    }

    fn gram_of(a: &Self, b: &Self) -> Result<Mat<T>> {
        gram(a, b)
    }

    fn combine_into(inputs: &Self, coeff: MatRef<'_, T>, outputs: &Self) -> Result<()> {
        assert!(coeff.nrows() == inputs.count() && coeff.ncols() == outputs.count());
        let k = inputs.kernels;
        let (n, nout) = (outputs.n, outputs.count());
        if nout == 0 {
            return Ok(());
        }
        BlockKernels::check_rows(inputs, outputs)?;
        let result = k.work_cols(n, nout)?;
        let target = result.col_address(0);
        if inputs.count() == 0 {
            // An empty combination is zero.
            // SAFETY: n × nout elements of the work block.
            unsafe {
                cudarc::driver::result::memset_d8_async(
                    target,
                    0,
                    n * nout * size_of::<T>(),
                    k.pool.stream().cu_stream(),
                )
            }
            .map_err(|e| driver_error("cuMemsetD8Async", e))?;
        } else {
            k.upload_coeff(coeff)?;
            let nin = inputs.count();
            let mut i0 = 0;
            for (r, run) in inputs.runs.iter().enumerate() {
                // SAFETY: the run is live device columns of n rows; the coefficients' rows
                // i0.. of a nin × nout array; the work block holds no input.
                unsafe {
                    k.blas.gemm(
                        Op::None,
                        Op::None,
                        (n, nout, run.ncols),
                        T::ONE,
                        (run.address, run.ld),
                        (k.coeff.address_at(i0), nin),
                        if r == 0 { T::ZERO_VALUE } else { T::ONE },
                        (target, n),
                    )?
                };
                i0 += run.ncols;
            }
        }
        for j in 0..nout {
            // SAFETY: column j of the work block and of the outputs, n elements each; the work
            // block is never an output.
            unsafe { copy_device::<T>(k.pool, outputs.col_address(j), result.col_address(j), n)? };
        }
        Ok(())
    }
}
