//! Multigrid V-cycles for the shifted complex operator `H − σ` of an open system (H with its
//! absorbing potential, σ the target energy): the preconditioner of the grid resonance solver
//! (`solver/resonance/`), whose coarse-to-fine levels are this hierarchy's levels.
//!
//! The hierarchy is the closed solver's (`hierarchy.rs`: the same physics rediscretised on grids
//! coarsened by 2, the absorber given in nm so it carries over), but it stops at a *bottom*
//! level of at most `bottom_points` points, where `H − σ` is factored by a sparse LU and solved
//! directly (in 2D in single precision: half the memory and solve traffic, an inverse accurate
//! to ~10⁻⁷ times the condition number, which is all a preconditioner needs; measured on the 500²
//! open dot: 90 → 91 iterations, manager peak 350.7 → 258.1 MiB; 3D factors, in nested-dissection
//! order, stay double). Above it, one V-cycle is `smoothing_steps` damped-Jacobi steps of `H − σ`, the
//! residual restricted by full weighting, the coarse correction (recursively), interpolation and
//! the same number of steps after.
//!
//! `H − σ` is indefinite when σ lies above some states (the resonances near the target are
//! interior eigenvalues). Jacobi then amplifies the smooth error components whose eigenvalues lie
//! below σ, but those are the components the coarse levels represent well, and the bottom level
//! solves them exactly: a shallow hierarchy (the bottom is kept large) is a good approximate
//! inverse at the low energies of quantum dots. The eigensolver does not need more: it only
//! uses the V-cycle to propose search directions and checks true residuals.

use super::hierarchy::LevelFields;
use super::transfer::Transfer;
use super::{Preconditioner, apply_by_columns};
use crate::error::Result;
use crate::memory::{ExternalAccount, MemoryManager};
use crate::physics::{HamiltonianSpec, StencilOperator};
use crate::solver::nested_dissection::grid_column_order;
use crate::solver::operator::apply_then;
use crate::solver::sparse_lu::{AnyShiftedLu, Precision};
use faer::MatMut;
use faer::reborrow::ReborrowMut;
use num_complex::Complex64;
use parking_lot::Mutex;
use rayon::prelude::*;

const ZERO: Complex64 = Complex64::new(0.0, 0.0);

/// One level above the bottom (or the bottom itself, without a transfer).
struct Level {
    op: StencilOperator<Complex64>,
    /// ω of the damped Jacobi step x += ω·(D − σ)⁻¹r, ω = 4 / (3·λmax) with λmax a Gershgorin
    /// bound of (D − σ)⁻¹(H − σ).
    omega: f64,
    /// Transfers to the next coarser level (None on the bottom level).
    to_coarse: Option<Transfer>,
}

/// Work vectors per level point a V-cycle holds at most: [`Scratch`]'s three and its two
/// transfer intermediates, each counted as long as the level (an upper bound: the
/// intermediates are at most half as long).
const SCRATCH_VECTORS: usize = 5;

/// Work vectors of one level, reused by every V-cycle.
#[derive(Default)]
struct Scratch {
    rhs: Vec<Complex64>,
    x: Vec<Complex64>,
    r: Vec<Complex64>,
    transfer: [Vec<Complex64>; 2],
}

/// A multigrid hierarchy for `H − σ` with a sparse LU on its bottom level.
pub struct ShiftedMultigrid {
    levels: Vec<Level>,
    sigma: Complex64,
    bottom: AnyShiftedLu,
    /// The bottom factor's bytes as counted in the manager (faer holds them).
    bottom_factor_bytes: u64,
    smoothing_steps: usize,
    /// Most right-hand sides of one bottom solve (its workspace's size).
    block: usize,
    scratch: Mutex<Vec<Scratch>>,
    /// The V-cycle work vectors live in `Vec`s: counted in the manager under
    /// `solver.resonance.scratch`.
    _scratch_account: ExternalAccount,
}

/// A Gershgorin bound of the spectrum of (D − σ)⁻¹(H − σ): the largest
/// (|d − σ| + Σ|offdiagonal|) / |d − σ| over the rows.
fn jacobi_lambda_max(op: &StencilOperator<Complex64>, sigma: Complex64) -> f64 {
    (0..op.dim())
        .into_par_iter()
        .map(|p| {
            let (diag, off) = op.row_disc(p);
            let d = diag - sigma;
            (d.norm() + off) / d.norm().max(f64::MIN_POSITIVE)
        })
        .reduce(|| 0.0, f64::max)
}

/// The sparse LU of the bottom level's `H − σ` (3D: columns in the grid's nested-dissection
/// order), assembled in the pool only while it is factored, with solve workspace for blocks of
/// `block` right-hand sides.
fn factor_bottom(
    manager: &MemoryManager,
    levels: &[Level],
    sigma: Complex64,
    block: usize,
) -> Result<AnyShiftedLu> {
    let bottom = &levels.last().expect("at least one level").op;
    let bottom_csr = bottom.to_csr("solver.resonance.bottom")?;
    let order = grid_column_order(bottom.grid().shape());
    AnyShiftedLu::new(
        manager,
        &bottom_csr,
        sigma,
        block,
        "solver.resonance.bottom",
        order.as_deref(),
        // The bottom factor only preconditions (see `sparse_lu.rs`).
        Precision::Single,
    )
}

impl ShiftedMultigrid {
    /// The hierarchy of `spec` (absorber included) for `H − sigma`, coarsened until a level has
    /// at most `bottom_points` points (that level is factored, for blocks of up to `block`
    /// right-hand sides at once), with `smoothing_steps` Jacobi steps before and after each
    /// coarse correction.
    pub fn new(
        manager: &MemoryManager,
        spec: &HamiltonianSpec<'_>,
        sigma: Complex64,
        bottom_points: usize,
        smoothing_steps: usize,
        block: usize,
    ) -> Result<Self> {
        let fields = LevelFields::new(spec, bottom_points);
        let mut levels = Vec::with_capacity(fields.count());
        for l in 0..fields.count() {
            let op = StencilOperator::<Complex64>::new(
                manager,
                &fields.spec(l),
                &format!("solver.resonance.level{l}"),
            )?;
            let omega = 4.0 / (3.0 * jacobi_lambda_max(&op, sigma));
            let to_coarse =
                (l + 1 < fields.count()).then(|| Transfer::new(fields.grid(l), fields.grid(l + 1)));
            levels.push(Level {
                op,
                omega,
                to_coarse,
            });
        }
        let points: usize = levels.iter().map(|l| l.op.dim()).sum();
        let scratch_account = manager.external_account(
            "solver.resonance.scratch",
            (SCRATCH_VECTORS * points * size_of::<Complex64>()) as u64,
        )?;
        let bottom = factor_bottom(manager, &levels, sigma, block)?;
        let bottom_factor_bytes = bottom.counted_bytes();
        let scratch = levels.iter().map(|_| Scratch::default()).collect();
        Ok(Self {
            levels,
            sigma,
            bottom,
            bottom_factor_bytes,
            smoothing_steps,
            block,
            scratch: Mutex::new(scratch),
            _scratch_account: scratch_account,
        })
    }

    /// The hierarchy moved to shift `sigma`: new Jacobi weights and a new bottom factor, made
    /// after the old one is dropped (the two are never held together: at 500² the bottom
    /// factor is 200 MB). The levels' operators are kept. On failure the hierarchy is gone too.
    pub fn reshift(self, manager: &MemoryManager, sigma: Complex64) -> Result<Self> {
        let Self {
            mut levels,
            bottom,
            smoothing_steps,
            block,
            scratch,
            _scratch_account,
            ..
        } = self;
        drop(bottom);
        for level in &mut levels {
            level.omega = 4.0 / (3.0 * jacobi_lambda_max(&level.op, sigma));
        }
        let bottom = factor_bottom(manager, &levels, sigma, block)?;
        Ok(Self {
            bottom_factor_bytes: bottom.counted_bytes(),
            levels,
            sigma,
            bottom,
            smoothing_steps,
            block,
            scratch,
            _scratch_account,
        })
    }

    /// Number of levels (the last is the factored bottom level).
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// The Hamiltonian (absorber included) on level `l` (0 is the finest).
    pub fn operator(&self, l: usize) -> &StencilOperator<Complex64> {
        &self.levels[l].op
    }

    /// The shift σ.
    pub fn sigma(&self) -> Complex64 {
        self.sigma
    }

    /// Bytes the hierarchy holds: the levels' operators (in the pools), about five work vectors
    /// per level, and the bottom level's factor as counted in the manager.
    pub fn memory_bytes(&self) -> u64 {
        let ops: usize = self.levels.iter().map(|l| l.op.memory_bytes()).sum();
        let points: usize = self.levels.iter().map(|l| l.op.dim()).sum();
        (ops + SCRATCH_VECTORS * points * size_of::<Complex64>()) as u64 + self.bottom_factor_bytes
    }

    /// Interpolates a vector on level `l + 1` to level `l` (into `fine`, resized).
    pub(crate) fn prolong(
        &self,
        l: usize,
        coarse: &[Complex64],
        fine: &mut Vec<Complex64>,
        temp: &mut [Vec<Complex64>; 2],
    ) {
        self.levels[l]
            .to_coarse
            .as_ref()
            .expect("not the coarsest level")
            .prolong(coarse, fine, temp);
    }

    /// The preconditioner `≈ (H − σ)⁻¹` whose V-cycles start at level `l`.
    pub fn preconditioner(&self, l: usize) -> ShiftedPreconditioner<'_> {
        ShiftedPreconditioner { mg: self, level: l }
    }

    /// `r = b − (H − σ)·x` on level `l`, in parallel chunks of rows.
    fn residual(&self, l: usize, b: &[Complex64], x: &[Complex64], r: &mut [Complex64]) {
        let sigma = self.sigma;
        apply_then(
            &self.levels[l].op,
            x,
            r,
            #[inline(always)]
            |rc, xc, rows| {
                for ((ri, &bi), &xi) in rc.iter_mut().zip(&b[rows]).zip(xc) {
                    *ri = bi - *ri + sigma * xi;
                }
            },
        );
    }

    /// One damped Jacobi step on level `l` from the iterate `from` into `to`:
    /// `to = from + ω·(D − σ)⁻¹·(b − (H − σ)·from)`, one pass in parallel chunks of rows (each
    /// chunk's `H·from` is formed in `to` and turned into the step while it is in cache).
    fn smooth(&self, l: usize, b: &[Complex64], from: &[Complex64], to: &mut [Complex64]) {
        let level = &self.levels[l];
        let (omega, sigma, diag) = (level.omega, self.sigma, level.op.diagonal());
        apply_then(
            &level.op,
            from,
            to,
            #[inline(always)]
            |tc, xc, rows| {
                for (((ti, &bi), &xi), &d) in
                    tc.iter_mut().zip(&b[rows.clone()]).zip(xc).zip(&diag[rows])
                {
                    let r = bi - *ti + sigma * xi;
                    *ti = xi + r * (omega / (d - sigma));
                }
            },
        );
    }

    /// One V-cycle from level `l` for `(H − σ)·x = b`, written to `x`; `scratch[0]` belongs to
    /// level `l`, `scratch[1]` to level `l + 1`, and so on.
    ///
    /// The smoothing steps go back and forth between `x` and the level's work vector `r`
    /// ([`Self::smooth`]: one pass each), the first from x = 0 (`ω·(D − σ)⁻¹·b`) into whichever
    /// of the two makes the last pre-smoothing step end in `x`; `r` then takes the residual,
    /// and the interpolated coarse correction.
    fn vcycle(&self, l: usize, b: &[Complex64], x: &mut [Complex64], scratch: &mut [Scratch]) {
        let n = self.levels[l].op.dim();
        if l + 1 == self.levels.len() {
            x.copy_from_slice(b);
            self.bottom.solve_vector_in_place(x);
            return;
        }
        let (here, below) = scratch.split_first_mut().expect("one scratch per level");
        let mut r = std::mem::take(&mut here.r);
        r.resize(n, ZERO);
        // Pre-smoothing: the first step from x = 0 is ω·(D − σ)⁻¹·b, into x when the steps
        // are odd in number (the last one then ends in x), else into r.
        let steps = self.smoothing_steps;
        {
            let (omega, sigma) = (self.levels[l].omega, self.sigma);
            let first: &mut [Complex64] = if steps % 2 == 1 { &mut *x } else { &mut r };
            first
                .par_iter_mut()
                .zip(b.par_iter())
                .zip(self.levels[l].op.diagonal().par_iter())
                .for_each(|((xi, &bi), &d)| *xi = bi * (omega / (d - sigma)));
        }
        for step in 1..steps {
            // This step reads the iterate where the previous one wrote it: in r when
            // `steps − step` is odd.
            if (steps - step) % 2 == 1 {
                self.smooth(l, b, &r, x);
            } else {
                self.smooth(l, b, x, &mut r);
            }
        }
        // Coarse-grid correction.
        self.residual(l, b, x, &mut r);
        let transfer = self.levels[l].to_coarse.as_ref().expect("not the bottom");
        let coarse = &mut below[0];
        let (mut rhs, mut xc) = (
            std::mem::take(&mut coarse.rhs),
            std::mem::take(&mut coarse.x),
        );
        transfer.restrict(&r, &mut rhs, &mut here.transfer);
        xc.resize(rhs.len(), ZERO);
        self.vcycle(l + 1, &rhs, &mut xc, below);
        transfer.prolong(&xc, &mut r, &mut here.transfer);
        (below[0].rhs, below[0].x) = (rhs, xc);
        x.par_iter_mut()
            .zip(r.par_iter())
            .for_each(|(xi, &ci)| *xi += ci);
        // Post-smoothing, back and forth; an odd number of steps ends with a copy back to x.
        for step in 0..steps {
            if step % 2 == 0 {
                self.smooth(l, b, x, &mut r);
            } else {
                self.smooth(l, b, &r, x);
            }
        }
        if steps % 2 == 1 {
            x.copy_from_slice(&r);
        }
        here.r = r;
    }
}

/// A V-cycle preconditioner starting at one level of a [`ShiftedMultigrid`] (on the bottom
/// level: the exact solve).
pub struct ShiftedPreconditioner<'a> {
    mg: &'a ShiftedMultigrid,
    level: usize,
}

impl Preconditioner<Complex64> for ShiftedPreconditioner<'_> {
    fn apply_in_place(&self, r: &mut [Complex64]) {
        let mut scratch = self.mg.scratch.lock();
        let scratch = &mut scratch[self.level..];
        let mut x = std::mem::take(&mut scratch[0].x);
        x.resize(r.len(), ZERO);
        self.mg.vcycle(self.level, r, &mut x, scratch);
        r.copy_from_slice(&x);
        scratch[0].x = x;
    }

    /// On the bottom level the factor solves the block by groups of up to `block` columns: one
    /// pass over the factor per group, with the global parallelism (a single right-hand side is
    /// solved sequentially). Measured on the 500² open dot's bottom level (250², 44 Davidson
    /// iterations of about five corrections each): 3.1 → 2.0 s, same iterations and values.
    /// Above the bottom each column takes its own V-cycle (a block V-cycle would hold work
    /// vectors per column on every level).
    /// Above the bottom level each column takes its own V-cycle; on the bottom level a block
    /// is one solve of several right-hand sides, whose digits may differ from single solves.
    fn columns_independent(&self) -> bool {
        self.level + 1 < self.mg.levels.len()
    }

    fn apply_block_in_place(&self, mut block: MatMut<'_, Complex64>) {
        if self.level + 1 < self.mg.levels.len() {
            return apply_by_columns(self, block);
        }
        let mut from = 0;
        while from < block.ncols() {
            let count = self.mg.block.min(block.ncols() - from);
            self.mg
                .bottom
                .solve_block_in_place(block.rb_mut().subcols_mut(from, count));
            from += count;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The V-cycle's smoothing passes (back and forth between two vectors, each step one pass)
    //! against the textbook sequence written out plainly: residual, then Jacobi update, in the
    //! same arithmetic, so the two agree to the bit.
    use super::*;
    use crate::physics::{Absorber, Grid, open_dot_potential};

    /// The two-level V-cycle of `mg` for `b` as the textbook writes it: `steps` damped-Jacobi
    /// steps from 0, the coarse correction solved on the bottom level, `steps` steps after.
    fn textbook_vcycle(mg: &ShiftedMultigrid, b: &[Complex64], steps: usize) -> Vec<Complex64> {
        let level = &mg.levels[0];
        let (omega, sigma, diag) = (level.omega, mg.sigma, level.op.diagonal());
        let jacobi = |x: &mut [Complex64], r: &[Complex64]| {
            for ((xi, &ri), &d) in x.iter_mut().zip(r).zip(diag) {
                *xi += ri * (omega / (d - sigma));
            }
        };
        let n = level.op.dim();
        let (mut x, mut r) = (vec![ZERO; n], vec![ZERO; n]);
        jacobi(&mut x, b);
        for _ in 1..steps {
            mg.residual(0, b, &x, &mut r);
            jacobi(&mut x, &r);
        }
        mg.residual(0, b, &x, &mut r);
        let transfer = level.to_coarse.as_ref().unwrap();
        let (mut coarse, mut correction, mut temp) = (Vec::new(), Vec::new(), Default::default());
        transfer.restrict(&r, &mut coarse, &mut temp);
        mg.preconditioner(1).apply_in_place(&mut coarse);
        transfer.prolong(&coarse, &mut correction, &mut temp);
        x.iter_mut().zip(&correction).for_each(|(xi, &c)| *xi += c);
        for _ in 0..steps {
            mg.residual(0, b, &x, &mut r);
            jacobi(&mut x, &r);
        }
        x
    }

    #[test]
    fn the_vcycle_is_the_textbook_sequence_for_any_number_of_smoothing_steps() {
        let manager = MemoryManager::with_defaults().unwrap();
        let n = 41;
        let grid = Grid::dirichlet_box(&[80.0, 80.0], &[n, n]).unwrap();
        let mut potential = vec![0.0; n * n];
        open_dot_potential(&grid, 12.0, 3.0, 0.15, &mut potential).unwrap();
        let spec = HamiltonianSpec {
            absorber: Some(Absorber {
                faces: 15,
                width: 15.0,
                strength: 0.05,
                order: 2,
            }),
            ..HamiltonianSpec::new(grid, 0.067, Some(&potential))
        };
        // A target among the box's states, off the real axis like the solver's shift.
        let sigma = Complex64::new(0.017, 1e-8);
        let b: Vec<Complex64> = (0..n * n)
            .map(|i| Complex64::new((0.37 * i as f64).sin(), (0.11 * i as f64).cos()))
            .collect();
        for steps in 1..=3 {
            // At most 500 points on the bottom: 41² → 20², two levels.
            let mg = ShiftedMultigrid::new(&manager, &spec, sigma, 500, steps, 4).unwrap();
            assert_eq!(mg.levels(), 2);
            let mut x = b.clone();
            mg.preconditioner(0).apply_in_place(&mut x);
            let expected = textbook_vcycle(&mg, &b, steps);
            // The same operations in the same order: equal to the bit.
            assert!(
                x.iter().zip(&expected).all(|(a, e)| a == e),
                "{steps} smoothing steps: the V-cycle differs from the textbook sequence"
            );
        }
    }
}
