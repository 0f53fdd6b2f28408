//! `StencilOperator<T>`: the finite-difference Hamiltonian applied without storing a matrix —
//! the diagonal, the hopping magnitudes (one number per axis for a uniform mass, one per link for
//! a position-dependent mass) and the Peierls phases, all in the manager's pools. It is the
//! single source of the matrix elements: the CSR assembly (`assemble.rs`) reads them from here,
//! so the two representations agree to rounding.
//!
//! Discretisation (BenDaniel–Duke, symmetric, flux-conserving): along axis a with spacing h,
//! the link between neighbours p and q has hopping t = (ħ²/2m₀)/h² · 2/(m_p + m_q) — the
//! harmonic mean of the coefficient 1/m, which keeps ψ′/m continuous across a mass step that
//! falls between two points and makes the scheme second order there. The element
//! H[p, q] = −t·e^{iθ} (θ the Peierls phase, 0 without field), H[q, p] = conj(H[p, q]), and the
//! diagonal is V_p + Σ_links t − iη·W_p. At a Dirichlet wall the missing neighbour counts with
//! the point's own mass (a ghost point with ψ = 0), which for a uniform mass gives the textbook
//! 3-, 5- and 7-point stencils.

use super::elements::{Elements, Topology, for_each_neighbour, link_value, row_into};
use super::grid::Grid;
use super::hamiltonian::HamiltonianSpec;
use super::magnetic::peierls_phases;
use crate::error::{Error, Result};
use crate::matrix::{Load, Scalar, ScalarKind, apply_columns, vectorized};
use crate::memory::{MemoryManager, PoolBuffer};
use faer::dyn_stack::{MemStack, StackReq};
use faer::matrix_free::LinOp;
use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;
use std::ops::Mul;

/// Grid points handled by one parallel task.
const POINTS_PER_TASK: usize = 16384;

/// Hopping magnitudes along one axis.
enum Hops {
    /// The same t for every link (uniform mass).
    Uniform(f64),
    /// t of the link from each point to its + neighbour (position-dependent mass). At a Dirichlet
    /// upper edge the entry holds the ghost link's t (used by the diagonal only).
    PerLink(PoolBuffer<f64>),
}

#[cfg(feature = "gpu")]
/// The hoppings along one axis, borrowed (see [`StencilOperator::axis_hops`]).
pub(crate) enum AxisHops<'a> {
    /// The same t for every link.
    Uniform(f64),
    /// t of the link from each point to its + neighbour.
    PerLink(&'a [f64]),
}

/// The grid's connectivity and hopping magnitudes.
struct Links {
    topology: Topology,
    hops: [Hops; 3],
}

impl std::ops::Deref for Links {
    type Target = Topology;
    fn deref(&self) -> &Topology {
        &self.topology
    }
}

impl Links {
    /// t of the link from point `p` to its + neighbour along axis `a` (the ghost link at a
    /// Dirichlet upper edge).
    #[inline(always)]
    fn hop(&self, a: usize, p: usize) -> f64 {
        match &self.hops[a] {
            Hops::Uniform(t) => *t,
            Hops::PerLink(t) => t[p],
        }
    }
}

/// The Hamiltonian of a [`HamiltonianSpec`] as a matrix-free operator.
pub struct StencilOperator<T: Scalar> {
    grid: Grid,
    links: Links,
    diag: PoolBuffer<T>,
    /// Peierls phase factors: x-links per row j, y-links per column i (2D with a field).
    phases: Option<[PoolBuffer<T>; 2]>,
    hermitian: bool,
}

impl<T: Scalar> StencilOperator<T> {
    /// Builds the operator for `spec` (validated first) in `manager`'s pools, tagged
    /// `tag.diag`, `tag.hops`, `tag.phases`. `T` must be complex when the spec has a field or an
    /// absorber.
    pub fn new(manager: &MemoryManager, spec: &HamiltonianSpec<'_>, tag: &str) -> Result<Self> {
        spec.validate()?;
        if T::KIND == ScalarKind::Real && spec.scalar_kind() == ScalarKind::Complex {
            return Err(Error::invalid_argument(
                "this Hamiltonian is complex (magnetic field or absorbing potential): build it with complex scalars",
            ));
        }
        let grid = spec.grid.clone();
        let n = grid.len();
        let elements = Elements::new(spec);
        let mut hops = [Hops::Uniform(0.0), Hops::Uniform(0.0), Hops::Uniform(0.0)];
        for (a, h) in hops.iter_mut().enumerate().take(grid.dims()) {
            *h = match elements.uniform_hop(a) {
                Some(t) => Hops::Uniform(t),
                None => {
                    let mut t =
                        PoolBuffer::<f64>::uninit_values(manager, n, &format!("{tag}.hops"))?;
                    for (p, tp) in t.iter_mut().enumerate() {
                        *tp = elements.hop(a, p);
                    }
                    Hops::PerLink(t)
                }
            };
        }

        let phases = if spec.magnetic_field != 0.0 {
            let (x_links, y_links) = peierls_phases(&grid, spec.magnetic_field);
            let mut px =
                PoolBuffer::<T>::uninit_values(manager, x_links.len(), &format!("{tag}.phases"))?;
            let mut py =
                PoolBuffer::<T>::uninit_values(manager, y_links.len(), &format!("{tag}.phases"))?;
            for (dst, &z) in px
                .iter_mut()
                .zip(&x_links)
                .chain(py.iter_mut().zip(&y_links))
            {
                *dst = T::from_complex(z).expect("complex scalars checked above");
            }
            Some([px, py])
        } else {
            None
        };

        let mut diag = PoolBuffer::<T>::uninit_values(manager, n, &format!("{tag}.diag"))?;
        for (p, d) in diag.iter_mut().enumerate() {
            *d = elements.diagonal(p);
        }
        let links = Links {
            topology: elements.topology,
            hops,
        };
        Ok(Self {
            grid,
            links,
            diag,
            phases,
            hermitian: spec.is_hermitian(),
        })
    }

    /// H[p, up(p)] for the link along `a` from `p` at coordinates `c`.
    #[inline(always)]
    pub(crate) fn link(&self, a: usize, p: usize, c: [usize; 3]) -> T {
        let phases = self.phases.as_ref().map(|[px, py]| (&px[..], &py[..]));
        link_value(self.links.hop(a, p), phases, a, c)
    }

    /// Row `p`'s Gershgorin disc without building the row: its diagonal entry and the sum of
    /// the magnitudes of its other entries (periodic axes have at least 3 points, so no
    /// neighbour is `p` itself or repeats). The spectrum bounds and the smoothers' weights read
    /// it for every point of every level.
    #[inline]
    pub(crate) fn row_disc(&self, p: usize) -> (T, f64) {
        let mut off = 0.0;
        for_each_neighbour(
            &self.links,
            p,
            |a, q, c| self.link(a, q, c),
            |_, value| off += value.abs_sq().sqrt(),
        );
        (self.diag[p], off)
    }

    /// The stored entries of row `p` as `(column, value)`, at most 7, in increasing column order.
    pub(crate) fn row(&self, p: usize, out: &mut Vec<(usize, T)>) {
        row_into(
            &self.links,
            p,
            self.diag[p],
            |a, q, c| self.link(a, q, c),
            out,
        );
    }

    #[cfg(feature = "gpu")]
    /// The hoppings along axis `a` (for the GPU layer, which copies them to the device):
    /// one `t` for a uniform mass, or the `t` of each point's link to its + neighbour.
    pub(crate) fn axis_hops(&self, a: usize) -> AxisHops<'_> {
        match &self.links.hops[a] {
            Hops::Uniform(t) => AxisHops::Uniform(*t),
            Hops::PerLink(t) => AxisHops::PerLink(t),
        }
    }

    #[cfg(feature = "gpu")]
    /// The Peierls phase factors `(x-links per row j, y-links per column i)`, if there is a
    /// field (for the GPU layer).
    pub(crate) fn phase_factors(&self) -> Option<(&[T], &[T])> {
        self.phases.as_ref().map(|[px, py]| (&px[..], &py[..]))
    }

    /// The manager whose pools hold the operator.
    pub(crate) fn diagonal_manager(&self) -> &MemoryManager {
        self.diag.manager()
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Unknowns (grid points).
    pub fn dim(&self) -> usize {
        self.grid.len()
    }

    /// True when H = Hᴴ.
    pub fn is_hermitian(&self) -> bool {
        self.hermitian
    }

    /// The diagonal of H (potential, kinetic diagonal and absorber).
    pub fn diagonal(&self) -> &[T] {
        &self.diag
    }

    /// Exact bytes the operator holds in the pools.
    pub fn memory_bytes(&self) -> usize {
        let hops: usize = self
            .links
            .hops
            .iter()
            .map(|h| match h {
                Hops::PerLink(t) => t.size_bytes(),
                Hops::Uniform(_) => 0,
            })
            .sum();
        let phases = self
            .phases
            .as_ref()
            .map_or(0, |[a, b]| a.size_bytes() + b.size_bytes());
        self.diag.size_bytes() + hops + phases
    }

    /// `y = α·H·x + β·y`, in parallel over grid lines; with `β = 0`, `y` is not read. The vectors
    /// may be complex when H is real.
    pub fn apply<V>(&self, alpha: V, x: &[V], beta: V, y: &mut [V]) -> Result<()>
    where
        V: Scalar + Mul<T, Output = V>,
    {
        let n = self.dim();
        if x.len() != n || y.len() != n {
            return Err(Error::invalid_argument(format!(
                "the operator has {n} unknowns; x has {} and y {}",
                x.len(),
                y.len()
            )));
        }
        self.apply_unchecked::<V, V, false>(alpha, x, beta, y, 0, true);
        Ok(())
    }

    /// `y = (H·x)[rows]` for whole grid lines (`rows` starts and ends on multiples of the
    /// x-axis length, or ends at `dim`), sequentially: the building block of the solvers'
    /// row-chunked kernels.
    pub(crate) fn apply_rows(&self, x: &[T], rows: std::ops::Range<usize>, y: &mut [T]) {
        self.apply_rows_from(x, rows, y);
    }

    /// [`apply_rows`](Self::apply_rows) of a vector stored in single precision, widened as it
    /// is read (the arithmetic is in `T`).
    pub(crate) fn apply_rows_single(
        &self,
        x: &[T::Single],
        rows: std::ops::Range<usize>,
        y: &mut [T],
    ) {
        self.apply_rows_from(x, rows, y);
    }

    /// [`apply_rows`](Self::apply_rows) of a vector stored as `X` (`T` or its single
    /// precision), widened as it is read.
    pub(crate) fn apply_rows_from<X: Load<T>>(
        &self,
        x: &[X],
        rows: std::ops::Range<usize>,
        y: &mut [T],
    ) {
        let nx = self.links.shape[0];
        debug_assert!(rows.start % nx == 0 && y.len() == rows.len() && x.len() == self.dim());
        self.apply_unchecked::<T, X, false>(T::ONE, x, T::ZERO_VALUE, y, rows.start / nx, false);
    }

    fn apply_unchecked<V, X: Load<V>, const CONJ: bool>(
        &self,
        alpha: V,
        x: &[X],
        beta: V,
        y: &mut [V],
        first_line: usize,
        parallel: bool,
    ) where
        V: Scalar + Mul<T, Output = V>,
    {
        // One monomorphised kernel per (uniform or per-link hops) × (with or without phases).
        match (&self.links.hops[0], self.phases.is_some()) {
            (Hops::Uniform(_), false) => self.run_lines::<V, X, UniformHop, false, CONJ>(
                self.uniform_hops(),
                alpha,
                x,
                beta,
                y,
                first_line,
                parallel,
            ),
            (Hops::Uniform(_), true) => self.run_lines::<V, X, UniformHop, true, CONJ>(
                self.uniform_hops(),
                alpha,
                x,
                beta,
                y,
                first_line,
                parallel,
            ),
            (Hops::PerLink(_), false) => self.run_lines::<V, X, LinkHops, false, CONJ>(
                self.link_hops(),
                alpha,
                x,
                beta,
                y,
                first_line,
                parallel,
            ),
            (Hops::PerLink(_), true) => self.run_lines::<V, X, LinkHops, true, CONJ>(
                self.link_hops(),
                alpha,
                x,
                beta,
                y,
                first_line,
                parallel,
            ),
        }
    }

    fn uniform_hops(&self) -> [UniformHop; 3] {
        [0, 1, 2].map(|a| UniformHop(self.links.hop(a, 0)))
    }

    fn link_hops(&self) -> [LinkHops<'_>; 3] {
        [0, 1, 2].map(|a| match &self.links.hops[a] {
            Hops::PerLink(t) => LinkHops(t),
            Hops::Uniform(_) => LinkHops(&[]), // an axis the grid does not have: never read
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn run_lines<V, X: Load<V>, H: HopAt, const PHASE: bool, const CONJ: bool>(
        &self,
        hops: [H; 3],
        alpha: V,
        x: &[X],
        beta: V,
        y: &mut [V],
        first_line: usize,
        parallel: bool,
    ) where
        V: Scalar + Mul<T, Output = V>,
    {
        let nx = self.links.shape[0];
        let lines_per_task = (POINTS_PER_TASK / nx).max(1);
        let task = |(t, chunk): (usize, &mut [V])| {
            vectorized(
                #[inline(always)]
                || {
                    // The lines' sums, made once per task (each block of a line writes the part
                    // it uses before adding to it).
                    let mut acc = [V::ZERO_VALUE; LINE_BLOCK];
                    for (l, y_line) in chunk.chunks_mut(nx).enumerate() {
                        self.apply_line::<V, X, H, PHASE, CONJ>(
                            hops,
                            first_line + t * lines_per_task + l,
                            alpha,
                            x,
                            beta,
                            y_line,
                            &mut acc,
                        );
                    }
                },
            )
        };
        if parallel {
            crate::solver::threads::in_pool(|| {
                y.par_chunks_mut(nx * lines_per_task)
                    .enumerate()
                    .for_each(task)
            });
        } else {
            y.chunks_mut(nx * lines_per_task).enumerate().for_each(task);
        }
    }

    /// One grid line along x: `y_line = α·(H·x)[line] + β·y_line`. The neighbouring lines along
    /// y and z are found once per line; inside the line only the x ends need a test. `acc` is
    /// the caller's work array for the sums (its contents are ignored: zeroing it per line cost
    /// more than a short line's arithmetic).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn apply_line<V, X: Load<V>, H: HopAt, const PHASE: bool, const CONJ: bool>(
        &self,
        hops: [H; 3],
        line: usize,
        alpha: V,
        x: &[X],
        beta: V,
        y_line: &mut [V],
        acc: &mut [V; LINE_BLOCK],
    ) where
        V: Scalar + Mul<T, Output = V>,
    {
        let l = &self.links;
        let [nx, ny, _] = l.shape;
        let base = line * nx;
        let (j, k) = (line % ny, line / ny);
        let cj = |v: T| if CONJ { v.conj_value() } else { v };
        let (px, py): (T, &[T]) = match &self.phases {
            Some([px, py]) if PHASE => (px[j], py),
            _ => (T::ONE, &[]),
        };
        // H[q, q+â] for the link of axis a leaving point q (hops given for the line's window).
        let link = |t: f64, i: usize, phase_per_column: bool| -> T {
            if PHASE {
                if phase_per_column {
                    py[i].scale(-t)
                } else {
                    px.scale(-t)
                }
            } else {
                T::from_real(-t)
            }
        };
        // Every array the line reads, as windows of exactly `nx` elements.
        let x_line = &x[base..base + nx];
        let diag = &self.diag[base..base + nx];
        let hx = hops[0].window(base, nx);
        // Along y and z: the − line with the hops of its links (which end on this line), and
        // the + line with this line's own hops.
        let c = [0, j, k];
        let down = |a: usize| {
            (l.dims > a && l.has_down(a, c[a])).then(|| {
                let q = l.down(a, base, c[a]);
                (&x[q..q + nx], hops[a].window(q, nx))
            })
        };
        let up = |a: usize| {
            (l.dims > a && l.has_up(a, c[a])).then(|| {
                let q = l.up(a, base, c[a]);
                (&x[q..q + nx], hops[a].window(base, nx))
            })
        };
        let (y_down, y_up, z_down, z_up) = (down(1), up(1), down(2), up(2));
        // `x·cj(H[p, q])` for a link of magnitude t. Without phases the link is the real −t:
        // scaling by it is the complex product's value (its imaginary part is zero, and adding
        // a zero product changes no finite sum) at a third of the arithmetic, which the complex
        // operator of an open system is bound by. With phases, `$with_phase` is H[p, q] (or
        // its conjugate).
        macro_rules! hop {
            ($x:expr, $t:expr, $with_phase:expr) => {
                if PHASE {
                    $x * cj($with_phase)
                } else {
                    $x.scale(-$t)
                }
            };
        }

        // The line is processed in blocks whose sums stay in a small local array; each term is
        // a separate pass over the block, simple enough for the compiler to vectorise.
        for start in (0..nx).step_by(LINE_BLOCK) {
            let end = (start + LINE_BLOCK).min(nx);
            let acc = &mut acc[..end - start];
            for ((a, &xv), &d) in acc
                .iter_mut()
                .zip(&x_line[start..end])
                .zip(&diag[start..end])
            {
                *a = xv.load() * cj(d);
            }
            // x neighbours inside the line: H[p, p+1] x[p+1] and conj(H[p−1, p]) x[p−1].
            for i in start..end.min(nx - 1) {
                acc[i - start] += hop!(x_line[i + 1].load(), hx.at(i), link(hx.at(i), i, false));
            }
            for i in start.max(1)..end {
                acc[i - start] += hop!(
                    x_line[i - 1].load(),
                    hx.at(i - 1),
                    link(hx.at(i - 1), i - 1, false).conj_value()
                );
            }
            if l.periodic[0] {
                let wrap = link(hx.at(nx - 1), nx - 1, false);
                if start == 0 {
                    acc[0] += x_line[nx - 1].load() * cj(wrap.conj_value());
                }
                if end == nx {
                    acc[nx - 1 - start] += x_line[0].load() * cj(wrap);
                }
            }
            // y and z neighbours: whole neighbouring lines.
            if let Some((xd, hd)) = y_down {
                for i in start..end {
                    acc[i - start] +=
                        hop!(xd[i].load(), hd.at(i), link(hd.at(i), i, true).conj_value());
                }
            }
            if let Some((xu, hu)) = y_up {
                for i in start..end {
                    acc[i - start] += hop!(xu[i].load(), hu.at(i), link(hu.at(i), i, true));
                }
            }
            if let Some((xd, hd)) = z_down {
                for i in start..end {
                    acc[i - start] += xd[i].load().scale(-hd.at(i));
                }
            }
            if let Some((xu, hu)) = z_up {
                for i in start..end {
                    acc[i - start] += xu[i].load().scale(-hu.at(i));
                }
            }
            let out = &mut y_line[start..end];
            if beta == V::ZERO_VALUE {
                for (yi, &h) in out.iter_mut().zip(acc.iter()) {
                    *yi = alpha * h;
                }
            } else {
                for (yi, &h) in out.iter_mut().zip(acc.iter()) {
                    *yi = alpha * h + beta * *yi;
                }
            }
        }
    }
}

/// Points of a grid line summed together in a local array by the apply kernel.
const LINE_BLOCK: usize = 256;

/// A hopping magnitude lookup, specialised at compile time.
trait HopAt: Copy + Send + Sync {
    /// The same lookup restricted to points `start .. start + len` (indexed from 0).
    fn window(self, start: usize, len: usize) -> Self;
    /// t of the link leaving point `p`.
    fn at(self, p: usize) -> f64;
}

/// Uniform mass: one t per axis.
#[derive(Clone, Copy)]
struct UniformHop(f64);

impl HopAt for UniformHop {
    #[inline(always)]
    fn window(self, _start: usize, _len: usize) -> Self {
        self
    }
    #[inline(always)]
    fn at(self, _p: usize) -> f64 {
        self.0
    }
}

/// Position-dependent mass: t per link.
#[derive(Clone, Copy)]
struct LinkHops<'a>(&'a [f64]);

impl HopAt for LinkHops<'_> {
    #[inline(always)]
    fn window(self, start: usize, len: usize) -> Self {
        LinkHops(&self.0[start..start + len])
    }
    #[inline(always)]
    fn at(self, p: usize) -> f64 {
        self.0[p]
    }
}

impl<T: Scalar> std::fmt::Debug for StencilOperator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StencilOperator")
            .field("shape", &self.links.shape)
            .field("scalar", &T::KIND)
            .field("hermitian", &self.hermitian)
            .finish_non_exhaustive()
    }
}

impl<T: Scalar> LinOp<T> for StencilOperator<T> {
    fn apply_scratch(&self, _rhs_ncols: usize, _par: Par) -> StackReq {
        StackReq::EMPTY
    }

    fn nrows(&self) -> usize {
        self.dim()
    }

    fn ncols(&self) -> usize {
        self.dim()
    }

    fn apply(&self, out: MatMut<'_, T>, rhs: MatRef<'_, T>, par: Par, _stack: &mut MemStack) {
        apply_columns(out, rhs, par, |x, y, parallel| {
            self.apply_unchecked::<T, T, false>(T::ONE, x, T::ZERO_VALUE, y, 0, parallel)
        });
    }

    fn conj_apply(&self, out: MatMut<'_, T>, rhs: MatRef<'_, T>, par: Par, _stack: &mut MemStack) {
        apply_columns(out, rhs, par, |x, y, parallel| {
            self.apply_unchecked::<T, T, true>(T::ONE, x, T::ZERO_VALUE, y, 0, parallel)
        });
    }
}

#[cfg(test)]
mod tests {
    //! [`StencilOperator::row_disc`] against the rows it summarises.
    use super::*;
    use crate::physics::grid::Axis;
    use crate::physics::hamiltonian::Mass;
    use num_complex::Complex64;

    /// The disc of `row(p)`: its diagonal entry and the sum of the other entries' magnitudes.
    fn disc_of_row<T: Scalar>(op: &StencilOperator<T>, p: usize) -> (T, f64) {
        let mut row = Vec::new();
        op.row(p, &mut row);
        let diag = row.iter().find(|&&(c, _)| c == p).expect("a diagonal").1;
        let off = row
            .iter()
            .filter(|&&(c, _)| c != p)
            .map(|&(_, v)| v.abs_sq().sqrt())
            .sum();
        (diag, off)
    }

    fn check<T: Scalar>(op: &StencilOperator<T>) {
        for p in 0..op.dim() {
            let ((d, off), (d_row, off_row)) = (op.row_disc(p), disc_of_row(op, p));
            assert_eq!(d, d_row, "diagonal of row {p}");
            // Same terms; the order of the sum differs only at wrap-around links.
            assert!(
                (off - off_row).abs() <= 1e-14 * off_row,
                "row {p}: {off} vs {off_row}"
            );
        }
    }

    #[test]
    fn the_disc_of_a_row_is_read_without_building_it() {
        let manager = MemoryManager::with_defaults().unwrap();
        // 3D, a periodic axis, a position-dependent mass and a potential.
        let grid = Grid::new(&[
            Axis::dirichlet_box(20.0, 5),
            Axis::periodic(12.0, 4),
            Axis::dirichlet_box(8.0, 3),
        ])
        .unwrap();
        let masses: Vec<f64> = (0..grid.len()).map(|p| 0.05 + 0.001 * p as f64).collect();
        let potential: Vec<f64> = (0..grid.len()).map(|p| 0.01 * (p % 7) as f64).collect();
        let spec = HamiltonianSpec {
            mass: Mass::PerPoint(&masses),
            ..HamiltonianSpec::new(grid, 0.067, Some(&potential))
        };
        check(&StencilOperator::<f64>::new(&manager, &spec, "t").unwrap());
        // 2D in a magnetic field: complex links of the same magnitudes.
        let grid = Grid::dirichlet_box(&[30.0, 30.0], &[6, 7]).unwrap();
        let spec = HamiltonianSpec {
            magnetic_field: 3.0,
            ..HamiltonianSpec::new(grid, 0.067, None)
        };
        check(&StencilOperator::<Complex64>::new(&manager, &spec, "t").unwrap());
    }
}
