//! Geometric multigrid for grid Hamiltonians: a hierarchy of the same physics rediscretised on
//! grids coarsened by 2 (potential and mass interpolated, magnetic field kept, so position-
//! dependent masses and fields work at every level), weighted-Jacobi smoothing of (H + s),
//! full-weighting transfers, and an exact sparse Cholesky solve on the coarsest grid
//! (`coarse.rs`).
//!
//! One V-cycle approximates (H + s)⁻¹ with s ≥ 0 chosen so H + s is positive definite on every
//! level; it is symmetric (one smoothing step before and one after, restriction = scaled
//! transpose of prolongation), as the block eigensolver's theory wants.
//!
//! The V-cycle's work vectors are stored in single precision (`f32` / `Complex32`) with the
//! arithmetic in `T` (each stored value rounded once): a preconditioner needs a few digits, its
//! output (LOBPCG's W) is single precision anyway. Operators whose norm lies outside single
//! precision's range ([`single_range`]) keep them in `T`. On 2D and 3D grids a level holds
//! only its iterate and (below the finest) its right-hand side: the residual is restricted as
//! it is made and the coarse correction added as it is interpolated, slab by slab
//! (`transfer.rs`); 1D levels also hold a residual and the transfers' intermediates.
//!
//! Why one Jacobi step: the block eigensolver's convergence is limited by the spectral gaps of
//! H, not by the quality of the preconditioner, so a cheaper V-cycle wins (measured on the 2D
//! dot at 1000²: same iteration count as degree-2 Chebyshev smoothing, 30 % less time).

use super::coarse::CoarseSolve;
use super::hierarchy::LevelFields;
use super::transfer::{Transfer, resize_exact};
use super::{Preconditioner, Scratch, after_product, after_product_bytes};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{Load, Scalar, Store, narrow_into, single_range, widen_into};
use crate::memory::{ExternalAccount, MemoryManager};
use crate::physics::{HamiltonianSpec, StencilOperator};
use crate::solver::operator::Operator;
use crate::solver::threads::solver_threads;
use faer::MatMut;
use faer::dyn_stack::{MemBuffer, MemStack};
use parking_lot::Mutex;
use rayon::prelude::*;

/// Coarsen until a grid has at most this many points (then solve it exactly).
const COARSEST_POINTS: usize = 1200;

/// One level of the hierarchy.
struct Level<T: Scalar> {
    op: StencilOperator<T>,
    /// ω of the damped Jacobi step x += ω·D⁻¹r, ω = 4 / (3·λmax(D⁻¹(H + s))).
    omega: f64,
    /// Transfers to the next coarser level (None on the coarsest).
    to_coarse: Option<Transfer>,
}

/// Work vectors per level point a V-cycle holds at most: [`Scratch`]'s `rhs`, `x` and `r` and
/// its two transfer intermediates, each at most half as long as the level (one axis coarsened,
/// or in 3D two axes of three refined); the finest level has no `rhs`. In 2D and 3D the
/// transfers stream slabs ([`Transfer::streams`]) and a level holds only `rhs` and `x`
/// ([`STREAMED_SCRATCH_VECTORS`]).
const SCRATCH_VECTORS: usize = 4;

/// Work vectors per level point of a V-cycle whose transfers stream: `rhs` and `x`.
const STREAMED_SCRATCH_VECTORS: usize = 2;

/// Every level's work vectors, in single precision or in `T`, and the coarsest solve's
/// right-hand side in `T` and workspace.
struct Workspace<T: Scalar> {
    levels: LevelScratch<T>,
    coarsest: Vec<T>,
    coarsest_stack: MemBuffer,
}

/// The levels' work vectors in the precision the hierarchy chose.
enum LevelScratch<T: Scalar> {
    Single(Vec<Scratch<T::Single>>),
    Full(Vec<Scratch<T>>),
}

/// A multigrid hierarchy for a grid Hamiltonian.
pub struct Multigrid<T: Scalar> {
    levels: Vec<Level<T>>,
    shift: f64,
    coarse: CoarseSolve<T>,
    scratch: Mutex<Workspace<T>>,
    /// The V-cycle work vectors and the coarsest solve's workspace live in `Vec`s (ours and
    /// faer's): counted in the manager under `solver.multigrid.scratch`.
    _scratch_account: ExternalAccount,
}

/// Largest absolute row sum of D⁻¹(H + s): a Gershgorin bound of its spectrum.
fn jacobi_lambda_max<T: Scalar>(op: &StencilOperator<T>, shift: f64) -> f64 {
    (0..op.dim())
        .into_par_iter()
        .map(|p| {
            let (diag, off) = op.row_disc(p);
            let d = diag.to_complex().re + shift;
            (d.abs() + off) / d
        })
        .reduce(|| 0.0, f64::max)
}

impl<T: Scalar> Multigrid<T> {
    /// Builds the hierarchy for `spec` (level 0 is `spec` itself). The absorbing potential, if
    /// any, is left out: multigrid serves the Hermitian solver.
    pub fn new(manager: &MemoryManager, spec: &HamiltonianSpec<'_>) -> Result<Self> {
        let fields = LevelFields::new(spec, COARSEST_POINTS);
        let mut levels = Vec::with_capacity(fields.count());
        for l in 0..fields.count() {
            let level_spec = HamiltonianSpec {
                absorber: None,
                ..fields.spec(l)
            };
            let op = StencilOperator::<T>::new(
                manager,
                &level_spec,
                &format!("solver.multigrid.level{l}"),
            )?;
            let to_coarse =
                (l + 1 < fields.count()).then(|| Transfer::new(fields.grid(l), fields.grid(l + 1)));
            levels.push(Level {
                op,
                omega: 0.0,
                to_coarse,
            });
        }
        // Shift so that H + s is positive definite on every level: the Gershgorin lower bound of
        // a stencil is min V (the kinetic part is diagonally dominant).
        let bounds: Vec<(f64, f64)> = levels.iter().map(|l| l.op.gershgorin_bounds()).collect();
        let lower = bounds.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
        let shift = (-lower).max(0.0) + 1e-6 * (bounds[0].1 - lower).abs();
        for level in &mut levels {
            level.omega = 4.0 / (3.0 * jacobi_lambda_max(&level.op, shift));
        }
        let coarse = CoarseSolve::new(
            manager,
            &levels.last().expect("at least one level").op,
            shift,
        )?;
        // Work vectors in single precision unless H's norm lies outside its range.
        let single = single_range((lower + shift, bounds[0].1 + shift));
        let scratch_account = manager.external_account(
            "solver.multigrid.scratch",
            scratch_bytes::<T>(&levels, single, &coarse),
        )?;
        let coarsest_stack = MemBuffer::try_new(coarse.scratch(1)).map_err(|_| {
            Error::new(
                ErrorKind::OutOfMemory,
                "no memory for the coarsest solve's workspace",
            )
        })?;
        let scratch = Workspace {
            levels: if single {
                LevelScratch::Single(levels.iter().map(|_| Scratch::empty()).collect())
            } else {
                LevelScratch::Full(levels.iter().map(|_| Scratch::empty()).collect())
            },
            coarsest: Vec::new(),
            coarsest_stack,
        };
        Ok(Self {
            levels,
            shift,
            coarse,
            scratch: Mutex::new(scratch),
            _scratch_account: scratch_account,
        })
    }

    /// Bytes the hierarchy holds or uses while preconditioning: every level's operator, the
    /// factor of the coarsest level and the V-cycle work vectors.
    pub fn memory_bytes(&self) -> u64 {
        let ops: usize = self.levels.iter().map(|l| l.op.memory_bytes()).sum();
        let single = matches!(self.scratch.lock().levels, LevelScratch::Single(_));
        ops as u64
            + self.coarse.memory_bytes()
            + scratch_bytes::<T>(&self.levels, single, &self.coarse)
    }

    /// The V-cycle's work vectors in `T` from now on, whatever [`new`](Self::new) chose (to
    /// compare the two precisions).
    #[cfg(test)]
    fn use_full_precision_work(&mut self) {
        self.scratch.get_mut().levels =
            LevelScratch::Full(self.levels.iter().map(|_| Scratch::empty()).collect());
    }

    /// Number of levels.
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// The Hamiltonian on level `l` (0 is the finest).
    pub fn operator(&self, l: usize) -> &StencilOperator<T> {
        &self.levels[l].op
    }

    /// The transfers between level `l` and level `l + 1` (None on the coarsest).
    pub(crate) fn transfer(&self, l: usize) -> Option<&Transfer> {
        self.levels[l].to_coarse.as_ref()
    }

    /// Interpolates a vector on level `l + 1` to level `l` (into `fine`, resized).
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub(crate) fn prolong(
        &self,
        l: usize,
        coarse: &[T],
        fine: &mut Vec<T>,
        temp: &mut [Vec<T>; 2],
    ) {
        let transfer = self.transfer(l).expect("not the coarsest level");
        transfer.prolong(coarse, fine, temp);
    }

    /// Interpolates a vector on level `l + 1` to level `l`, into `fine` (as long as level
    /// `l`).
    pub(crate) fn prolong_into(
        &self,
        l: usize,
        coarse: &[T],
        fine: &mut [T],
        temp: &mut [Vec<T>; 2],
    ) {
        let transfer = self.transfer(l).expect("not the coarsest level");
        transfer.prolong_into(coarse, fine, temp);
    }

    /// Elements of the intermediate arrays interpolation from level `l + 1` to level `l`
    /// holds ([`prolong`](Self::prolong), [`prolong_into`](Self::prolong_into)).
    pub(crate) fn prolong_temp_len(&self, l: usize) -> usize {
        self.transfer(l)
            .expect("not the coarsest level")
            .prolong_temp_len()
    }

    /// The preconditioner that starts its V-cycles at level `l`.
    pub fn preconditioner(&self, l: usize) -> MultigridPreconditioner<'_, T> {
        MultigridPreconditioner { mg: self, level: l }
    }

    /// `r = b − (H + s)·x` on level `l`, in parallel chunks of rows (`H·x` into a chunk of
    /// `T` in cache, the residual rounded as it is stored).
    fn residual<B: Load<T>, S: Store<T>>(&self, l: usize, b: &[B], x: &[S], r: &mut [S]) {
        after_product(
            &self.levels[l].op,
            x,
            r,
            #[inline(always)]
            |rc, hx, rows| {
                for (((ri, &hi), &bi), &xi) in
                    rc.iter_mut().zip(hx).zip(&b[rows.clone()]).zip(&x[rows])
                {
                    *ri = S::store(bi.load() - hi - xi.load().scale(self.shift));
                }
            },
        );
    }

    /// One V-cycle from level `l` for `(H + s)·x = b`, in place: `b` (in `T` or in single
    /// precision) holds the right-hand side on entry and the approximate solution on return.
    /// `scratch[0]` belongs to level `l`, `scratch[1]` to level `l + 1`, and so on; the
    /// coarsest level's solve widens its right-hand side into `coarsest` and works in
    /// `stack`.
    fn vcycle<B: Store<T>, S: Store<T> + Default>(
        &self,
        l: usize,
        b: &mut [B],
        scratch: &mut [Scratch<S>],
        (coarsest, stack): (&mut Vec<T>, &mut MemBuffer),
    ) {
        if l + 1 == self.levels.len() {
            let n = b.len();
            resize_exact(coarsest, n);
            widen_into(b, coarsest);
            self.coarse.solve_in_place(
                MatMut::from_column_major_slice_mut(coarsest, n, 1),
                MemStack::new(stack),
            );
            narrow_into(coarsest, b);
        } else {
            self.vcycle_above_coarsest(l, b, scratch, (coarsest, stack));
        }
    }

    /// The V-cycle on level `l` above the coarsest, `b` and the work vectors in `T` or in
    /// single precision (read and written element by element, the arithmetic in `T`).
    ///
    /// In place so that no pass copies a vector: the coarser levels' right-hand sides become
    /// their corrections, and the post-smoothing step reads the right-hand side and writes the
    /// result in one pass over `b` (its value at a point is read only there, before it is
    /// written; the stencil reads `x`, a separate vector).
    fn vcycle_above_coarsest<B: Store<T>, S: Store<T> + Default>(
        &self,
        l: usize,
        b: &mut [B],
        scratch: &mut [Scratch<S>],
        (coarsest, stack): (&mut Vec<T>, &mut MemBuffer),
    ) {
        let level = &self.levels[l];
        let n = level.op.dim();
        let (here, below) = scratch.split_first_mut().expect("one scratch per level");
        resize_exact(&mut here.x, n);
        // Pre-smoothing from x = 0: one damped Jacobi step.
        let (omega, shift, diag) = (level.omega, self.shift, level.op.diagonal());
        let step = |d: T| omega / (d.to_complex().re + shift);
        here.x
            .par_iter_mut()
            .zip(b.par_iter())
            .zip(diag.par_iter())
            .for_each(|((xi, &bi), &d)| {
                *xi = S::store(bi.load().scale(step(d)));
            });
        // Coarse-grid correction: restrict the residual, solve by recursion, interpolate back.
        let transfer = level.to_coarse.as_ref().expect("not the coarsest");
        let mut rhs = std::mem::take(&mut below[0].rhs);
        if transfer.streams() {
            // 2D and 3D: the residual is made slab by slab as the restriction reads it, and
            // the correction is added to x as it is interpolated (no residual vector).
            let (x, rhs_in, slab) = (&here.x, &*b, transfer.fine_slab_len());
            transfer.restrict_streamed::<T, S>(&mut rhs, |k, r| {
                let rows = k * slab..(k + 1) * slab;
                level.op.apply_rows_from(x, rows.clone(), r);
                for ((ri, &bi), &xi) in r.iter_mut().zip(&rhs_in[rows.clone()]).zip(&x[rows]) {
                    *ri = bi.load() - *ri - xi.load().scale(shift);
                }
            });
            self.vcycle(l + 1, &mut rhs, below, (&mut *coarsest, &mut *stack));
            transfer.prolong_add::<T, S>(&rhs, &mut here.x);
        } else {
            resize_exact(&mut here.r, n);
            self.residual(l, b, &here.x, &mut here.r);
            transfer.restrict_stored::<T, S>(&here.r, &mut rhs, &mut here.transfer);
            self.vcycle(l + 1, &mut rhs, below, (&mut *coarsest, &mut *stack));
            transfer.prolong_stored::<T, S>(&rhs, &mut here.r, &mut here.transfer);
            here.x
                .par_iter_mut()
                .zip(here.r.par_iter())
                .for_each(|(xi, &ci)| *xi = S::store(xi.load() + ci.load()));
        }
        below[0].rhs = rhs;
        // Post-smoothing, one damped Jacobi step, written over b: b ← x + ω·D⁻¹(b − (H + s)·x),
        // a chunk of rows at a time (that chunk's H·x in a work array of `T` in cache).
        let x = &here.x;
        after_product(
            &level.op,
            x,
            b,
            #[inline(always)]
            |bc, hx, rows| {
                for (((bi, &hi), &xi), &d) in
                    bc.iter_mut().zip(hx).zip(&x[rows.clone()]).zip(&diag[rows])
                {
                    let xi = xi.load();
                    *bi = B::store(xi + (bi.load() - hi - xi.scale(shift)).scale(step(d)));
                }
            },
        );
    }

    /// The V-cycle from level `l` on `b`, with the work vectors in the hierarchy's precision.
    fn precondition<B: Store<T>>(&self, l: usize, b: &mut [B]) {
        let mut workspace = self.scratch.lock();
        let Workspace {
            levels,
            coarsest,
            coarsest_stack,
        } = &mut *workspace;
        let bottom = (coarsest, coarsest_stack);
        match levels {
            LevelScratch::Single(scratch) => self.vcycle(l, b, &mut scratch[l..], bottom),
            LevelScratch::Full(scratch) => self.vcycle(l, b, &mut scratch[l..], bottom),
        }
    }
}

/// Bytes of the V-cycle work vectors for `levels`: [`SCRATCH_VECTORS`] (or, when the
/// transfers stream, [`STREAMED_SCRATCH_VECTORS`]) per level point (one fewer on the finest
/// level), in single precision or in `T`, the coarsest solve's right-hand side in `T` and
/// its workspace (`coarse`'s, for one column), the chunks of `H·x` of the passes over the
/// finest level ([`after_product`]) and each thread's slabs of a streamed transfer.
fn scratch_bytes<T: Scalar>(levels: &[Level<T>], single: bool, coarse: &CoarseSolve<T>) -> u64 {
    let points: usize = levels.iter().map(|l| l.op.dim()).sum();
    let coarsest = levels.last().map_or(0, |l| l.op.dim());
    let stored = if single {
        size_of::<T::Single>()
    } else {
        size_of::<T>()
    };
    let (finest, products) = levels
        .first()
        .map_or((0, 0), |l| (l.op.dim(), after_product_bytes(&l.op)));
    let transfers = || levels.iter().filter_map(|l| l.to_coarse.as_ref());
    let per_point = if transfers().all(Transfer::streams) {
        STREAMED_SCRATCH_VECTORS
    } else {
        SCRATCH_VECTORS
    };
    let slabs = solver_threads() as u64
        * transfers()
            .map(Transfer::stream_bytes::<T>)
            .max()
            .unwrap_or(0);
    // The finest level's right-hand side is the caller's vector.
    ((per_point * points - finest) * stored + coarsest * size_of::<T>()) as u64
        + coarse.scratch(1).size_bytes() as u64
        + products
        + slabs
}

/// What the GPU multigrid (`gpu/multigrid.rs`) copies to the device: the smoothing weights,
/// the shift, the transfers, and the coarsest solve (which stays on the host).
#[cfg(feature = "gpu")]
impl<T: Scalar> Multigrid<T> {
    /// ω of level `l`'s damped Jacobi step.
    pub(crate) fn smoothing_weight(&self, l: usize) -> f64 {
        self.levels[l].omega
    }

    /// The shift s of H + s.
    pub(crate) fn shift(&self) -> f64 {
        self.shift
    }

    /// Solves `(H + s)·X = B` on the coarsest level in place, for every column of `b`.
    pub(crate) fn coarse_solve_in_place(&self, b: MatMut<'_, T>) -> Result<()> {
        self.coarse.solve_block_in_place(b)
    }
}

/// A V-cycle preconditioner starting at one level of a [`Multigrid`].
pub struct MultigridPreconditioner<'a, T: Scalar> {
    mg: &'a Multigrid<T>,
    level: usize,
}

impl<T: Scalar> Preconditioner<T> for MultigridPreconditioner<'_, T> {
    fn apply_in_place(&self, r: &mut [T]) {
        self.mg.precondition(self.level, r);
    }

    fn apply_in_place_single(&self, r: &mut [T::Single], _work: &mut [T]) {
        self.mg.precondition(self.level, r);
    }

    fn single_in_place(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    //! The V-cycle on single-precision vectors (LOBPCG's W) against the double V-cycle on the
    //! widened vector, and its single-precision work vectors against work vectors in `T`.
    use super::*;
    use crate::physics::{Grid, parabolic_potential};
    use crate::solver::random::fill_random;
    use num_complex::Complex64;

    /// Every level's V-cycle (the coarsest: its direct solve) on a random vector rounded to
    /// single precision, both ways.
    fn compare<T: Scalar>(spec: &HamiltonianSpec<'_>) {
        let manager = MemoryManager::with_defaults().unwrap();
        let mg = Multigrid::<T>::new(&manager, spec).unwrap();
        assert!(mg.levels() >= 3, "a hierarchy with levels between the ends");
        for level in 0..mg.levels() {
            let n = mg.operator(level).dim();
            let mut random = vec![T::ZERO_VALUE; n];
            fill_random(&mut random, 3, level);
            let mut single: Vec<T::Single> = random.iter().map(|&v| T::Single::store(v)).collect();
            let mut reference: Vec<T> = single.iter().map(|&v| v.load()).collect();
            let prec = mg.preconditioner(level);
            prec.apply_in_place(&mut reference);
            assert!(prec.single_in_place());
            prec.apply_in_place_single(&mut single, &mut []);
            // The same operations on the same (exactly widened) values in the same order, the
            // result rounded once: equal to the bit.
            let expected: Vec<T::Single> = reference.iter().map(|&v| T::Single::store(v)).collect();
            assert!(single == expected, "level {level} of {}", mg.levels());
        }
    }

    /// Every level's V-cycle with single-precision work vectors against the same V-cycle with
    /// work vectors in `T`, on a random right-hand side in `T`.
    fn compare_work_precision<T: Scalar>(spec: &HamiltonianSpec<'_>) {
        let manager = MemoryManager::with_defaults().unwrap();
        let single = Multigrid::<T>::new(&manager, spec).unwrap();
        assert!(matches!(
            single.scratch.lock().levels,
            LevelScratch::Single(_)
        ));
        let mut full = Multigrid::<T>::new(&manager, spec).unwrap();
        full.use_full_precision_work();
        let norm = |v: &[T]| v.iter().map(|x| x.abs_sq()).sum::<f64>().sqrt();
        for level in 0..single.levels() {
            let n = single.operator(level).dim();
            let mut a = vec![T::ZERO_VALUE; n];
            fill_random(&mut a, 5, level);
            let mut b = a.clone();
            single.preconditioner(level).apply_in_place(&mut a);
            full.preconditioner(level).apply_in_place(&mut b);
            let diff: Vec<T> = a.iter().zip(&b).map(|(&x, &y)| x - y).collect();
            let relative = norm(&diff) / norm(&b);
            // Each stored value is rounded once (relative 2⁻²⁴ ≈ 6·10⁻⁸), a few times per level
            // visited, and the V-cycle, a contraction of the smooth error plus an exact coarse
            // solve, does not amplify them: measured 2–5·10⁻⁸ here (0 on the coarsest, whose
            // solve is in `T`); 10⁻⁶ leaves room and still fails a lost correction or a
            // value rounded to something coarser than single precision.
            assert!(
                relative < 1e-6,
                "level {level}: relative difference {relative:e}"
            );
            if level + 1 < single.levels() {
                assert!(
                    relative > 0.0,
                    "level {level}: single precision changes some bits"
                );
            }
        }
    }

    /// Runs `real` on a 2D dot and a 3D dot and `complex` on the 2D dot in a magnetic field:
    /// hierarchies of every kind the V-cycle serves.
    fn on_test_hierarchies(real: fn(&HamiltonianSpec<'_>), complex: fn(&HamiltonianSpec<'_>)) {
        let square = Grid::dirichlet_box(&[120.0, 120.0], &[255, 255]).unwrap();
        let mut v = vec![0.0; square.len()];
        parabolic_potential(&square, 0.067, 0.010, &mut v).unwrap();
        let plain = HamiltonianSpec::new(square, 0.067, Some(&v));
        real(&plain);
        complex(&HamiltonianSpec {
            magnetic_field: 2.0,
            ..plain.clone()
        });
        let cube = Grid::dirichlet_box(&[60.0, 60.0, 60.0], &[47, 47, 47]).unwrap();
        let mut v3 = vec![0.0; cube.len()];
        parabolic_potential(&cube, 0.067, 0.010, &mut v3).unwrap();
        real(&HamiltonianSpec::new(cube, 0.067, Some(&v3)));
    }

    #[test]
    fn single_precision_work_vectors_change_the_vcycle_by_rounding_only() {
        on_test_hierarchies(
            compare_work_precision::<f64>,
            compare_work_precision::<Complex64>,
        );
    }

    #[test]
    fn the_single_precision_vcycle_is_the_double_one_rounded() {
        on_test_hierarchies(compare::<f64>, compare::<Complex64>);
    }
}
