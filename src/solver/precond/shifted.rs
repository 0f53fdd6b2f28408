//! Multigrid V-cycles for the shifted complex operator `H − σ` of an open system (H with its
//! absorbing potential, σ the target energy): the preconditioner of the grid resonance solver
//! (`solver/resonance/`), whose coarse-to-fine levels are this hierarchy's levels.
//!
//! The hierarchy is the closed solver's (`hierarchy.rs`: the same physics rediscretised on grids
//! coarsened by 2, the absorber given in nm so it carries over), but it stops at a *bottom*
//! level of at most `bottom_points` points, where `H − σ` is factored by a sparse LU and solved
//! directly, in single precision: half the memory and solve traffic, an inverse accurate to
//! ~10⁻⁷ times the condition number, which is all a preconditioner needs (2D, measured on the
//! 500² open dot: 90 → 91 iterations, manager peak 350.7 → 258.1 MiB; 3D, where the factor in
//! nested-dissection order is the symmetric `L·B·Lᵀ` in f32, on the 100³ open dot: manager peak
//! 4.9 → 2.8 GB, about 16 → 9 s per factor, 70 → 71 iterations). Above it, one V-cycle is
//! `smoothing_steps` damped-Jacobi steps of `H − σ`, the residual restricted by full
//! weighting, the coarse correction (recursively), interpolation and the same number of steps
//! after. A block of right-hand sides takes its V-cycles in lockstep,
//! a few columns at a time: each goes down to the bottom level, the bottom factor solves them
//! all in one pass (a single right-hand side is solved sequentially, on one thread, reading the
//! whole factor), and each comes back up.
//!
//! `H − σ` is indefinite when σ lies above some states (the resonances near the target are
//! interior eigenvalues). Jacobi then amplifies the smooth error components whose eigenvalues lie
//! below σ, but those are the components the coarse levels represent well, and the bottom level
//! solves them exactly: a shallow hierarchy (the bottom is kept large) is a good approximate
//! inverse at the low energies of quantum dots. The eigensolver does not need more: it only
//! uses the V-cycle to propose search directions and checks true residuals.
//!
//! A hierarchy can serve several shifts ([`ShiftedMultigrid::add_shift`]): each has its own
//! Jacobi weights and bottom factor, and the levels' operators and work vectors are shared (the
//! resonance solver's second shift for wanted values far from the target).
//!
//! The work vectors are stored in single precision (`Complex32`, the arithmetic in
//! `Complex64`, each stored value rounded once), as the 2D bottom factor is, unless ‖H‖ lies
//! outside single precision's range ([`single_range`]).

use super::hierarchy::LevelFields;
use super::transfer::{Transfer, resize_exact};
use super::{Preconditioner, Scratch, after_product, after_product_bytes, column_mut};
use crate::error::Result;
use crate::matrix::{Load, Store, narrow_into, single_range, widen_into};
use crate::memory::{ExternalAccount, MemoryManager};
use crate::physics::{HamiltonianSpec, StencilOperator};
use crate::solver::nested_dissection::grid_column_order;
use crate::solver::operator::Operator;
use crate::solver::sparse_lu::{AnyShiftedLu, Precision};
use faer::MatMut;
use faer::reborrow::ReborrowMut;
use num_complex::{Complex32, Complex64};
use parking_lot::Mutex;
use rayon::prelude::*;

/// One level above the bottom (or the bottom itself, without a transfer).
struct Level {
    op: StencilOperator<Complex64>,
    /// Transfers to the next coarser level (None on the bottom level).
    to_coarse: Option<Transfer>,
}

/// What a shift σ gives the hierarchy: the levels' Jacobi weights and the bottom factor of
/// `H − σ`. The levels' operators and the V-cycles' work vectors serve every shift.
struct Shift {
    sigma: Complex64,
    /// Per level, ω of the damped Jacobi step x += ω·(D − σ)⁻¹r, ω = 4 / (3·λmax) with λmax a
    /// Gershgorin bound of (D − σ)⁻¹(H − σ).
    omegas: Vec<f64>,
    bottom: AnyShiftedLu,
    /// The bottom factor's bytes as counted in the manager (faer holds them).
    bottom_factor_bytes: u64,
}

impl Shift {
    /// The weights and bottom factor of `levels` for `H − sigma`, the factor with solve
    /// workspace for blocks of `block` right-hand sides.
    fn new(
        manager: &MemoryManager,
        levels: &[Level],
        sigma: Complex64,
        block: usize,
    ) -> Result<Self> {
        let omegas = levels
            .iter()
            .map(|level| 4.0 / (3.0 * jacobi_lambda_max(&level.op, sigma)))
            .collect();
        let bottom = factor_bottom(manager, levels, sigma, block)?;
        Ok(Self {
            sigma,
            omegas,
            bottom_factor_bytes: bottom.counted_bytes(),
            bottom,
        })
    }
}

/// Work vectors per level point that the columns of a block share: [`Scratch`]'s residual and
/// its two transfer intermediates, each counted as long as the level (an upper bound: the
/// intermediates are at most half as long).
const SHARED_VECTORS: usize = 3;

/// Most columns whose V-cycles go in lockstep (with a bottom solve of them all). Each column
/// holds an iterate on every level from its way down to its way back up; the bottom factor is
/// read once per group. Measured on the open dot at 17 meV (`examples/open_dot.rs`, the same
/// 87 and 90 iterations): 1000² 22.8 / 22.1 / 21.6 / 21.4 s and 704 / 718 / 730 / 771 MiB peak
/// RSS with groups of 1 / 2 / 3 / 6 columns, 500² 7.9 / 7.2 / 6.9 s and 255 / 260 / 271 MiB
/// with 1 / 3 / 6: three takes most of the time and a third of the memory of six.
const LOCKSTEP_COLUMNS: usize = 3;

/// Every level's work vectors, in single or double precision, and the bottom solve's
/// right-hand sides in double.
struct Workspace {
    levels: LevelScratch,
    /// The bottom level's right-hand sides of a block, column after column.
    bottom: Vec<Complex64>,
}

/// The levels' work vectors in the precision the hierarchy chose.
enum LevelScratch {
    Single(BlockScratch<Complex32>),
    Full(BlockScratch<Complex64>),
}

/// The work vectors of lockstep V-cycles: per level, the residual and transfer intermediates
/// the columns share (`shared[l]`), and each column's iterate and right-hand side
/// (`columns[c][l]`; their other fields stay empty).
struct BlockScratch<S> {
    shared: Vec<Scratch<S>>,
    columns: Vec<Vec<Scratch<S>>>,
}

impl<S> BlockScratch<S> {
    fn new(levels: usize, block: usize) -> Self {
        let empty = || (0..levels).map(|_| Scratch::empty()).collect();
        Self {
            shared: empty(),
            columns: (0..block.max(1)).map(|_| empty()).collect(),
        }
    }
}

impl LevelScratch {
    /// Work vectors for groups of [`lockstep_columns`]`(block)` columns.
    fn new(levels: usize, block: usize, single: bool) -> Self {
        let group = lockstep_columns(block);
        if single {
            Self::Single(BlockScratch::new(levels, group))
        } else {
            Self::Full(BlockScratch::new(levels, group))
        }
    }

    fn single(&self) -> bool {
        matches!(self, Self::Single(_))
    }
}

/// The sizes that bound the V-cycles' work vectors: points on all levels, on the finest and on
/// the bottom one.
#[derive(Clone, Copy)]
struct Points {
    all: usize,
    finest: usize,
    bottom: usize,
}

impl Points {
    fn of(levels: &[Level]) -> Self {
        Self {
            all: levels.iter().map(|l| l.op.dim()).sum(),
            finest: levels.first().map_or(0, |l| l.op.dim()),
            bottom: levels.last().map_or(0, |l| l.op.dim()),
        }
    }
}

/// Columns per group of lockstep V-cycles for blocks of up to `block` columns.
fn lockstep_columns(block: usize) -> usize {
    block.clamp(1, LOCKSTEP_COLUMNS)
}

/// Bytes of the V-cycle work vectors for blocks of up to `block` columns, besides `products`
/// bytes of chunks of `H·x` ([`after_product_bytes`]): the shared vectors on every level, and
/// per column an iterate on every level, a right-hand side on every level below the finest
/// (the finest one is the column itself) and the bottom solve's right-hand side in double.
fn scratch_bytes(points: Points, block: usize, single: bool, products: u64) -> u64 {
    let stored = if single {
        size_of::<Complex32>()
    } else {
        size_of::<Complex64>()
    };
    let shared = SHARED_VECTORS * points.all * stored;
    let column = (2 * points.all - points.finest) * stored + points.bottom * size_of::<Complex64>();
    (shared + lockstep_columns(block) * column) as u64 + products
}

/// A multigrid hierarchy for `H − σ` with a sparse LU on its bottom level, for one shift σ or a
/// few (each with its own bottom factor, the levels shared).
pub struct ShiftedMultigrid {
    levels: Vec<Level>,
    /// The first shift's is the hierarchy's σ; others come from [`Self::add_shift`].
    shifts: Vec<Shift>,
    smoothing_steps: usize,
    /// Most right-hand sides of one bottom solve (its workspace's size).
    block: usize,
    scratch: Mutex<Workspace>,
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
        order,
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
            let to_coarse =
                (l + 1 < fields.count()).then(|| Transfer::new(fields.grid(l), fields.grid(l + 1)));
            levels.push(Level { op, to_coarse });
        }
        let single = single_range(levels[0].op.gershgorin_bounds());
        let scratch_account = manager.external_account(
            "solver.resonance.scratch",
            scratch_bytes(
                Points::of(&levels),
                block,
                single,
                after_product_bytes(&levels[0].op),
            ),
        )?;
        let shift = Shift::new(manager, &levels, sigma, block)?;
        let scratch = Workspace {
            levels: LevelScratch::new(levels.len(), block, single),
            bottom: Vec::new(),
        };
        Ok(Self {
            levels,
            shifts: vec![shift],
            smoothing_steps,
            block,
            scratch: Mutex::new(scratch),
            _scratch_account: scratch_account,
        })
    }

    /// The hierarchy moved to shift `sigma`: new Jacobi weights and a new bottom factor, made
    /// after the old one is dropped (the two are never held together: at 500² the bottom
    /// factor is 200 MB). The levels' operators and any [added shifts](Self::add_shift) are
    /// kept. On failure the hierarchy is gone too.
    pub fn reshift(mut self, manager: &MemoryManager, sigma: Complex64) -> Result<Self> {
        self.replace_shift(manager, 0, sigma)?;
        Ok(self)
    }

    /// Moves shift `i` to `sigma`: its new Jacobi weights and bottom factor are made after the
    /// old factor is dropped, so the move needs no more memory than the shift held. On failure
    /// shift `i` is gone (the others are unchanged).
    pub fn replace_shift(
        &mut self,
        manager: &MemoryManager,
        i: usize,
        sigma: Complex64,
    ) -> Result<()> {
        drop(self.shifts.remove(i));
        let shift = Shift::new(manager, &self.levels, sigma, self.block)?;
        self.shifts.insert(i, shift);
        Ok(())
    }

    /// Removes an [added shift](Self::add_shift) `i` (not the first), freeing its bottom factor.
    pub fn remove_shift(&mut self, i: usize) {
        assert!(i > 0, "the first shift stays");
        drop(self.shifts.remove(i));
    }

    /// Adds a shift: V-cycles for `H − sigma` through the same levels, with their own Jacobi
    /// weights and bottom factor (about [`Self::bottom_factor_bytes`] more in the pool); returns
    /// its index for [`Self::preconditioner_for`]. On failure (the factor does not fit the
    /// manager's limit) the hierarchy is unchanged.
    pub fn add_shift(&mut self, manager: &MemoryManager, sigma: Complex64) -> Result<usize> {
        let shift = Shift::new(manager, &self.levels, sigma, self.block)?;
        self.shifts.push(shift);
        Ok(self.shifts.len() - 1)
    }

    /// Number of levels (the last is the factored bottom level).
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// The Hamiltonian (absorber included) on level `l` (0 is the finest).
    pub fn operator(&self, l: usize) -> &StencilOperator<Complex64> {
        &self.levels[l].op
    }

    /// The shift σ (the first one's).
    pub fn sigma(&self) -> Complex64 {
        self.shifts[0].sigma
    }

    /// The shifts, the first one's first.
    pub fn shifts(&self) -> Vec<Complex64> {
        self.shifts.iter().map(|shift| shift.sigma).collect()
    }

    /// The first shift's bottom factor's bytes as counted in the manager: what another shift's
    /// factor takes, about (the same pattern and ordering; pivoting may change its fill).
    pub fn bottom_factor_bytes(&self) -> u64 {
        self.shifts[0].bottom_factor_bytes
    }

    /// Bytes the hierarchy holds: the levels' operators (in the pools), the work vectors of a
    /// block's V-cycles (three per level point, and per column of a lockstep group an iterate
    /// on every level and a right-hand side below the finest), and the bottom level's factor
    /// as counted in the manager.
    pub fn memory_bytes(&self) -> u64 {
        let ops: usize = self.levels.iter().map(|l| l.op.memory_bytes()).sum();
        let single = self.scratch.lock().levels.single();
        let products = after_product_bytes(&self.levels[0].op);
        ops as u64
            + scratch_bytes(Points::of(&self.levels), self.block, single, products)
            + self
                .shifts
                .iter()
                .map(|shift| shift.bottom_factor_bytes)
                .sum::<u64>()
    }

    /// The V-cycle's work vectors in double precision from now on, whatever
    /// [`new`](Self::new) chose (to compare the two precisions).
    #[cfg(test)]
    fn use_full_precision_work(&mut self) {
        self.scratch.get_mut().levels = LevelScratch::new(self.levels.len(), self.block, false);
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
        self.preconditioner_for(l, 0)
    }

    /// The preconditioner `≈ (H − σᵢ)⁻¹` of shift `i` (see [`Self::shifts`]) whose V-cycles
    /// start at level `l`.
    pub fn preconditioner_for(&self, l: usize, i: usize) -> ShiftedPreconditioner<'_> {
        ShiftedPreconditioner {
            mg: self,
            shift: &self.shifts[i],
            level: l,
        }
    }

    /// `r = b − (H − σ)·x` on level `l`, in parallel chunks of rows (`H·x` into a chunk of
    /// `Complex64` in cache, the residual rounded as it is stored).
    fn residual<B: Load<Complex64>, S: Store<Complex64>>(
        &self,
        shift: &Shift,
        l: usize,
        b: &[B],
        x: &[S],
        r: &mut [S],
    ) {
        let sigma = shift.sigma;
        after_product(
            &self.levels[l].op,
            x,
            r,
            #[inline(always)]
            |rc, hx, rows| {
                for (((ri, &hi), &bi), &xi) in
                    rc.iter_mut().zip(hx).zip(&b[rows.clone()]).zip(&x[rows])
                {
                    *ri = S::store(bi.load() - hi + sigma * xi.load());
                }
            },
        );
    }

    /// One damped Jacobi step on level `l` from the iterate `from` into `to`:
    /// `to = from + ω·(D − σ)⁻¹·(b − (H − σ)·from)`, one pass in parallel chunks of rows (each
    /// chunk's `H·from` formed in cache and turned into the step).
    fn smooth<B: Load<Complex64>, S: Store<Complex64>>(
        &self,
        shift: &Shift,
        l: usize,
        b: &[B],
        from: &[S],
        to: &mut [S],
    ) {
        let level = &self.levels[l];
        let (omega, sigma, diag) = (shift.omegas[l], shift.sigma, level.op.diagonal());
        after_product(
            &level.op,
            from,
            to,
            #[inline(always)]
            |tc, hx, rows| {
                for ((((ti, &hi), &bi), &xi), &d) in tc
                    .iter_mut()
                    .zip(hx)
                    .zip(&b[rows.clone()])
                    .zip(&from[rows.clone()])
                    .zip(&diag[rows])
                {
                    let xi = xi.load();
                    let r = bi.load() - hi + sigma * xi;
                    *ti = S::store(xi + r * (omega / (d - sigma)));
                }
            },
        );
    }

    /// The way down of one column's V-cycle from level `l` for `(H − σ)·x = b`: pre-smoothing
    /// into `x`, the residual restricted into the next level's right-hand side (`column[1]`),
    /// and so on down to the bottom level, whose right-hand side is widened into `bottom` (the
    /// block's solve comes after every column's way down). `column[i]` holds the column's
    /// iterate and right-hand side on level `l + i`, `shared[i]` the level's work vectors. `b`
    /// and the work vectors are stored in `Complex64` or in single precision (read and written
    /// element by element, the arithmetic in `Complex64`).
    ///
    /// The smoothing steps go back and forth between `x` and the level's work vector `r`
    /// ([`Self::smooth`]: one pass each), the first from x = 0 (`ω·(D − σ)⁻¹·b`) into whichever
    /// of the two makes the last pre-smoothing step end in `x`; `r` then takes the residual.
    #[allow(clippy::too_many_arguments)]
    fn descend<B: Load<Complex64>, S: Store<Complex64> + Default>(
        &self,
        shift: &Shift,
        l: usize,
        b: &[B],
        x: &mut [S],
        column: &mut [Scratch<S>],
        shared: &mut [Scratch<S>],
        bottom: &mut [Complex64],
    ) {
        let n = self.levels[l].op.dim();
        if l + 1 == self.levels.len() {
            widen_into(b, bottom);
            return;
        }
        let here = &mut shared[0];
        let mut r = std::mem::take(&mut here.r);
        resize_exact(&mut r, n);
        // Pre-smoothing: the first step from x = 0 is ω·(D − σ)⁻¹·b, into x when the steps
        // are odd in number (the last one then ends in x), else into r.
        let steps = self.smoothing_steps;
        {
            let (omega, sigma) = (shift.omegas[l], shift.sigma);
            let first: &mut [S] = if steps % 2 == 1 { &mut *x } else { &mut r };
            first
                .par_iter_mut()
                .zip(b.par_iter())
                .zip(self.levels[l].op.diagonal().par_iter())
                .for_each(|((xi, &bi), &d)| *xi = S::store(bi.load() * (omega / (d - sigma))));
        }
        for step in 1..steps {
            // This step reads the iterate where the previous one wrote it: in r when
            // `steps − step` is odd.
            if (steps - step) % 2 == 1 {
                self.smooth(shift, l, b, &r, x);
            } else {
                self.smooth(shift, l, b, x, &mut r);
            }
        }
        // The coarse level's right-hand side.
        self.residual(shift, l, b, x, &mut r);
        let transfer = self.levels[l].to_coarse.as_ref().expect("not the bottom");
        let (mut rhs, mut xc) = (
            std::mem::take(&mut column[1].rhs),
            std::mem::take(&mut column[1].x),
        );
        transfer.restrict_stored::<Complex64, S>(&r, &mut rhs, &mut here.transfer);
        here.r = r;
        resize_exact(&mut xc, rhs.len());
        self.descend(
            shift,
            l + 1,
            &rhs,
            &mut xc,
            &mut column[1..],
            &mut shared[1..],
            bottom,
        );
        (column[1].rhs, column[1].x) = (rhs, xc);
    }

    /// The way back up of one column's V-cycle to level `l` (after [`Self::descend`] and the
    /// bottom solve, whose solution is in `bottom`): on each level the coarse correction
    /// interpolated into `r` and added to `x`, then the post-smoothing steps, back and forth
    /// (an odd number of steps ends with a copy back to `x`).
    #[allow(clippy::too_many_arguments)]
    fn ascend<B: Load<Complex64>, S: Store<Complex64> + Default>(
        &self,
        shift: &Shift,
        l: usize,
        b: &[B],
        x: &mut [S],
        column: &mut [Scratch<S>],
        shared: &mut [Scratch<S>],
        bottom: &[Complex64],
    ) {
        let n = self.levels[l].op.dim();
        if l + 1 == self.levels.len() {
            narrow_into(bottom, x);
            return;
        }
        let (rhs, mut xc) = (
            std::mem::take(&mut column[1].rhs),
            std::mem::take(&mut column[1].x),
        );
        self.ascend(
            shift,
            l + 1,
            &rhs,
            &mut xc,
            &mut column[1..],
            &mut shared[1..],
            bottom,
        );
        let here = &mut shared[0];
        let mut r = std::mem::take(&mut here.r);
        resize_exact(&mut r, n);
        let transfer = self.levels[l].to_coarse.as_ref().expect("not the bottom");
        transfer.prolong_stored::<Complex64, S>(&xc, &mut r, &mut here.transfer);
        (column[1].rhs, column[1].x) = (rhs, xc);
        x.par_iter_mut()
            .zip(r.par_iter())
            .for_each(|(xi, &ci)| *xi = S::store(xi.load() + ci.load()));
        let steps = self.smoothing_steps;
        for step in 0..steps {
            if step % 2 == 0 {
                self.smooth(shift, l, b, x, &mut r);
            } else {
                self.smooth(shift, l, b, &r, x);
            }
        }
        if steps % 2 == 1 {
            x.copy_from_slice(&r);
        }
        shared[0].r = r;
    }

    /// `B ← V-cycles(B)` from level `l` for the columns of a block, in groups of up to
    /// [`LOCKSTEP_COLUMNS`]: each group's columns go down ([`Self::descend`]), the bottom
    /// factor solves their right-hand sides in one pass, and they come back up
    /// ([`Self::ascend`]).
    /// The work vectors are in the hierarchy's precision; each result goes through its
    /// column's iterate on level `l`.
    fn precondition(&self, shift: &Shift, l: usize, block: MatMut<'_, Complex64>) {
        fn run<S: Store<Complex64> + Default>(
            mg: &ShiftedMultigrid,
            shift: &Shift,
            l: usize,
            mut block: MatMut<'_, Complex64>,
            scratch: &mut BlockScratch<S>,
            bottom: &mut Vec<Complex64>,
        ) {
            let n = block.nrows();
            let nb = mg.levels.last().expect("a bottom level").op.dim();
            let BlockScratch { shared, columns } = scratch;
            let shared = &mut shared[l..];
            let mut from = 0;
            while from < block.ncols() {
                let count = columns.len().min(block.ncols() - from);
                resize_exact(bottom, nb * count);
                for (c, (column, rhs)) in columns.iter_mut().zip(bottom.chunks_mut(nb)).enumerate()
                {
                    let column = &mut column[l..];
                    let mut x = std::mem::take(&mut column[0].x);
                    resize_exact(&mut x, n);
                    let b = column_mut(block.rb_mut(), from + c);
                    mg.descend(shift, l, b, &mut x, column, shared, rhs);
                    column[0].x = x;
                }
                shift
                    .bottom
                    .solve_block_in_place(MatMut::from_column_major_slice_mut(bottom, nb, count));
                for (c, (column, solution)) in columns.iter_mut().zip(bottom.chunks(nb)).enumerate()
                {
                    let column = &mut column[l..];
                    let mut x = std::mem::take(&mut column[0].x);
                    let b = column_mut(block.rb_mut(), from + c);
                    mg.ascend(shift, l, &*b, &mut x, column, shared, solution);
                    widen_into(&x, b);
                    column[0].x = x;
                }
                from += count;
            }
        }
        let mut workspace = self.scratch.lock();
        let Workspace { levels, bottom } = &mut *workspace;
        match levels {
            LevelScratch::Single(scratch) => run(self, shift, l, block, scratch, bottom),
            LevelScratch::Full(scratch) => run(self, shift, l, block, scratch, bottom),
        }
    }
}

/// A V-cycle preconditioner for one shift, starting at one level of a [`ShiftedMultigrid`] (on
/// the bottom level: the exact solve).
pub struct ShiftedPreconditioner<'a> {
    mg: &'a ShiftedMultigrid,
    shift: &'a Shift,
    level: usize,
}

impl Preconditioner<Complex64> for ShiftedPreconditioner<'_> {
    fn apply_in_place(&self, r: &mut [Complex64]) {
        let n = r.len();
        self.apply_block_in_place(MatMut::from_column_major_slice_mut(r, n, 1));
    }

    /// On the bottom level the factor solves the block by groups of up to `block` columns: one
    /// pass over the factor per group, with the global parallelism (a single right-hand side is
    /// solved sequentially). Measured on the 500² open dot's bottom level (250², 44 Davidson
    /// iterations of about five corrections each): 3.1 → 2.0 s, same iterations and values.
    /// Above the bottom the columns take their V-cycles in lockstep, their bottom solves
    /// grouped the same way ([`ShiftedMultigrid::precondition`]).
    fn apply_block_in_place(&self, mut block: MatMut<'_, Complex64>) {
        if self.level + 1 < self.mg.levels.len() {
            return self.mg.precondition(self.shift, self.level, block);
        }
        let mut from = 0;
        while from < block.ncols() {
            let count = self.mg.block.min(block.ncols() - from);
            self.shift
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
        let shift = &mg.shifts[0];
        let (omega, sigma, diag) = (shift.omegas[0], shift.sigma, level.op.diagonal());
        let jacobi = |x: &mut [Complex64], r: &[Complex64]| {
            for ((xi, &ri), &d) in x.iter_mut().zip(r).zip(diag) {
                *xi += ri * (omega / (d - sigma));
            }
        };
        let n = level.op.dim();
        let zero = Complex64::new(0.0, 0.0);
        let (mut x, mut r) = (vec![zero; n], vec![zero; n]);
        jacobi(&mut x, b);
        for _ in 1..steps {
            mg.residual(shift, 0, b, &x, &mut r);
            jacobi(&mut x, &r);
        }
        mg.residual(shift, 0, b, &x, &mut r);
        let transfer = level.to_coarse.as_ref().unwrap();
        let (mut coarse, mut correction, mut temp) = (Vec::new(), Vec::new(), Default::default());
        transfer.restrict(&r, &mut coarse, &mut temp);
        mg.preconditioner(1).apply_in_place(&mut coarse);
        transfer.prolong(&coarse, &mut correction, &mut temp);
        x.iter_mut().zip(&correction).for_each(|(xi, &c)| *xi += c);
        for _ in 0..steps {
            mg.residual(shift, 0, b, &x, &mut r);
            jacobi(&mut x, &r);
        }
        x
    }

    /// An open dot on an `n²` grid (a 12 nm well in a 3 nm barrier ring, absorbing faces) and a
    /// fixed right-hand side, for `check(spec, b)`.
    fn with_open_dot(n: usize, check: impl FnOnce(&HamiltonianSpec<'_>, &[Complex64])) {
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
        let b: Vec<Complex64> = (0..n * n)
            .map(|i| Complex64::new((0.37 * i as f64).sin(), (0.11 * i as f64).cos()))
            .collect();
        check(&spec, &b);
    }

    /// A target among the box's states, off the real axis like the solver's shift.
    const SIGMA: Complex64 = Complex64::new(0.017, 1e-8);

    /// The hierarchy of a 161² `spec` with bottom solves of up to `block` right-hand sides:
    /// 161² → 80² → 40² on the bottom, V-cycles through two levels above it.
    fn three_levels(
        manager: &MemoryManager,
        spec: &HamiltonianSpec<'_>,
        block: usize,
    ) -> ShiftedMultigrid {
        let mg = ShiftedMultigrid::new(manager, spec, SIGMA, 2000, 2, block).unwrap();
        assert_eq!(mg.levels(), 3);
        mg
    }

    #[test]
    fn single_precision_work_vectors_change_the_vcycle_by_rounding_only() {
        let manager = MemoryManager::with_defaults().unwrap();
        with_open_dot(161, |spec, b| {
            let single = three_levels(&manager, spec, 4);
            assert!(single.scratch.lock().levels.single());
            let mut full = three_levels(&manager, spec, 4);
            full.use_full_precision_work();
            let norm = |v: &[Complex64]| v.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
            for level in 0..2 {
                let n = single.operator(level).dim();
                let (mut a, mut e) = (b[..n].to_vec(), b[..n].to_vec());
                single.preconditioner(level).apply_in_place(&mut a);
                full.preconditioner(level).apply_in_place(&mut e);
                let diff: Vec<Complex64> = a.iter().zip(&e).map(|(x, y)| x - y).collect();
                let relative = norm(&diff) / norm(&e);
                // Each stored value is rounded once (2⁻²⁴ ≈ 6·10⁻⁸ relative), a few times per
                // level, and the smoothing of the indefinite H − σ amplifies some of it:
                // measured 1.0·10⁻⁶ from the finest level, 4.9·10⁻⁷ from the next. 10⁻⁵ leaves
                // room; a lost correction or a value rounded coarser fails it by far.
                assert!(
                    relative > 0.0 && relative < 1e-5,
                    "level {level}: {relative:e}"
                );
            }
        });
    }

    #[test]
    fn a_block_in_lockstep_is_each_column_alone() {
        let manager = MemoryManager::with_defaults().unwrap();
        with_open_dot(161, |spec, b| {
            // Groups of at most 2 columns: a block of 5 is solved as 2 + 2 + 1 and reuses each
            // column's work vectors.
            let mg = three_levels(&manager, spec, 2);
            for level in 0..2 {
                let n = mg.operator(level).dim();
                let columns = 5;
                let column = |j: usize| -> Vec<Complex64> {
                    b[..n]
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| v * Complex64::new(1.0 + j as f64, (i % (j + 3)) as f64))
                        .collect()
                };
                let mut block = faer::Mat::<Complex64>::zeros(n, columns);
                for j in 0..columns {
                    block
                        .col_mut(j)
                        .iter_mut()
                        .zip(column(j))
                        .for_each(|(a, v)| *a = v);
                }
                mg.preconditioner(level)
                    .apply_block_in_place(block.as_mut());
                for j in 0..columns {
                    let mut alone = column(j);
                    mg.preconditioner(level).apply_in_place(&mut alone);
                    let (mut diff, mut norm) = (0.0, 0.0);
                    for (a, e) in block.col(j).iter().zip(&alone) {
                        diff += (a - e).norm_sqr();
                        norm += e.norm_sqr();
                    }
                    let relative = (diff / norm).sqrt();
                    // The same operations on every level above the bottom; faer's supernodal
                    // solve of several right-hand sides may round each differently from a
                    // single one (here it does not: 0 measured; under the 500² open dot's 250²
                    // bottom it does, at the single-precision factor's rounding), so within
                    // single precision's rounding amplified as in the test above (10⁻⁵). A
                    // column mixed up with another, or a stale work vector, differs by O(1).
                    assert!(relative < 1e-5, "level {level}, column {j}: {relative:e}");
                }
            }
        });
    }

    #[test]
    fn an_added_shift_cycles_as_a_hierarchy_made_for_it_and_keeps_the_first() {
        let manager = MemoryManager::with_defaults().unwrap();
        with_open_dot(161, |spec, b| {
            // A far shift as the resonance solver places one: among the box's broad states.
            let far = Complex64::new(0.0145, -0.004);
            let mut both = three_levels(&manager, spec, 2);
            let first_only = three_levels(&manager, spec, 2);
            let alone = ShiftedMultigrid::new(&manager, spec, far, 2000, 2, 2).unwrap();
            assert_eq!(both.add_shift(&manager, far).unwrap(), 1);
            assert_eq!(both.shifts(), vec![SIGMA, far]);
            for level in 0..3 {
                let n = both.operator(level).dim();
                let cycled = |p: ShiftedPreconditioner<'_>| {
                    let mut x = b[..n].to_vec();
                    p.apply_in_place(&mut x);
                    x
                };
                // The same levels, weights and factor for the shift: the same bits.
                assert!(
                    cycled(both.preconditioner_for(level, 1))
                        == cycled(alone.preconditioner(level)),
                    "level {level}: the added shift"
                );
                assert!(
                    cycled(both.preconditioner(level)) == cycled(first_only.preconditioner(level)),
                    "level {level}: the first shift"
                );
            }
        });
    }

    #[test]
    fn the_vcycle_is_the_textbook_sequence_for_any_number_of_smoothing_steps() {
        let manager = MemoryManager::with_defaults().unwrap();
        with_open_dot(41, |spec, b| {
            for steps in 1..=3 {
                // At most 500 points on the bottom: 41² → 20², two levels.
                let mut mg = ShiftedMultigrid::new(&manager, spec, SIGMA, 500, steps, 4).unwrap();
                assert_eq!(mg.levels(), 2);
                // The textbook sequence is written in double precision.
                mg.use_full_precision_work();
                let mut x = b.to_vec();
                mg.preconditioner(0).apply_in_place(&mut x);
                let expected = textbook_vcycle(&mg, b, steps);
                // The same operations in the same order: equal to the bit.
                assert!(
                    x.iter().zip(&expected).all(|(a, e)| a == e),
                    "{steps} smoothing steps: the V-cycle differs from the textbook sequence"
                );
            }
        });
    }
}
