//! The matrix elements of the finite-difference Hamiltonian, point by point: the grid's
//! connectivity ([`Topology`]), each link's hopping and each point's diagonal computed from the
//! description ([`Elements`]), and the entries of one row ([`row_into`]). Nothing here stores a
//! per-point array: the matrix-free operator (`stencil.rs`) fills its arrays from these
//! functions, and the row-range assembly (`assemble_rows.rs`) calls them for its rows only, so
//! both give the same numbers bit for bit.
//!
//! The discretisation itself is described in `stencil.rs`.

use super::constants::HBAR2_OVER_2M0;
use super::grid::{Boundary, Grid};
use super::hamiltonian::{HamiltonianSpec, Mass};
use crate::matrix::Scalar;
use num_complex::Complex64;

/// A point's coordinates `[i, j, k]`.
#[inline(always)]
pub(crate) fn coords(p: usize, shape: [usize; 3]) -> [usize; 3] {
    [
        p % shape[0],
        (p / shape[0]) % shape[1],
        p / (shape[0] * shape[1]),
    ]
}

/// Which points are neighbours: the grid's shape, strides and periodic axes.
pub(crate) struct Topology {
    pub(crate) dims: usize,
    pub(crate) shape: [usize; 3],
    pub(crate) stride: [usize; 3],
    pub(crate) periodic: [bool; 3],
}

impl Topology {
    /// The connectivity of `grid`.
    pub(crate) fn new(grid: &Grid) -> Self {
        let shape = grid.shape();
        let mut periodic = [false; 3];
        for (a, axis) in grid.axes().iter().enumerate() {
            periodic[a] = axis.boundary == Boundary::Periodic;
        }
        Self {
            dims: grid.dims(),
            shape,
            stride: [1, shape[0], shape[0] * shape[1]],
            periodic,
        }
    }

    /// True when `p` (coordinate `i` along `a`) has a − neighbour.
    #[inline(always)]
    pub(crate) fn has_down(&self, a: usize, i: usize) -> bool {
        i > 0 || self.periodic[a]
    }

    /// True when `p` (coordinate `i` along `a`) has a + neighbour.
    #[inline(always)]
    pub(crate) fn has_up(&self, a: usize, i: usize) -> bool {
        i + 1 < self.shape[a] || self.periodic[a]
    }

    /// The − neighbour of `p` along `a` (with wrap-around); only call when it exists.
    #[inline(always)]
    pub(crate) fn down(&self, a: usize, p: usize, i: usize) -> usize {
        if i > 0 {
            p - self.stride[a]
        } else {
            p + (self.shape[a] - 1) * self.stride[a]
        }
    }

    /// The + neighbour of `p` along `a` (with wrap-around); only call when it exists.
    #[inline(always)]
    pub(crate) fn up(&self, a: usize, p: usize, i: usize) -> usize {
        if i + 1 < self.shape[a] {
            p + self.stride[a]
        } else {
            p - (self.shape[a] - 1) * self.stride[a]
        }
    }
}

/// Hoppings and diagonal elements computed from a (validated) description on demand.
pub(crate) struct Elements<'s, 'a> {
    spec: &'s HamiltonianSpec<'a>,
    pub(crate) topology: Topology,
    /// (ħ²/2m₀)/h² per axis.
    base: [f64; 3],
}

impl<'s, 'a> Elements<'s, 'a> {
    /// The elements of `spec`, which must have passed `HamiltonianSpec::validate`.
    pub(crate) fn new(spec: &'s HamiltonianSpec<'a>) -> Self {
        let mut base = [0.0; 3];
        for (a, axis) in spec.grid.axes().iter().enumerate() {
            base[a] = HBAR2_OVER_2M0 / (axis.spacing * axis.spacing);
        }
        Self {
            spec,
            topology: Topology::new(&spec.grid),
            base,
        }
    }

    /// The one hopping of axis `a` when the mass is uniform.
    pub(crate) fn uniform_hop(&self, a: usize) -> Option<f64> {
        match self.spec.mass {
            Mass::Uniform(m) => Some(self.base[a] / m),
            Mass::PerPoint(_) => None,
        }
    }

    /// t of the link from `p` to its + neighbour along `a`: (ħ²/2m₀)/h² · 2/(m_p + m_q), the
    /// ghost link's (ħ²/2m₀)/(h² m_p) at a Dirichlet upper edge.
    #[inline(always)]
    pub(crate) fn hop(&self, a: usize, p: usize) -> f64 {
        match self.spec.mass {
            Mass::Uniform(m) => self.base[a] / m,
            Mass::PerPoint(m) => {
                let t = &self.topology;
                let i = coords(p, t.shape)[a];
                if t.has_up(a, i) {
                    self.base[a] * 2.0 / (m[p] + m[t.up(a, p, i)])
                } else {
                    self.base[a] / m[p]
                }
            }
        }
    }

    /// H[p, p]: V_p + Σ_links t − iη·W_p (a Dirichlet wall's ghost link with p's own mass).
    pub(crate) fn diagonal<T: Scalar>(&self, p: usize) -> T {
        let spec = self.spec;
        let t = &self.topology;
        let c = coords(p, t.shape);
        let mut kinetic = 0.0;
        for (a, axis) in spec.grid.axes().iter().enumerate() {
            kinetic += self.hop(a, p);
            kinetic += if t.has_down(a, c[a]) {
                self.hop(a, t.down(a, p, c[a]))
            } else {
                // the ghost link beyond a Dirichlet lower wall, with p's own mass
                let ghost_mass = match spec.mass {
                    Mass::Uniform(m) => m,
                    Mass::PerPoint(m) => m[p],
                };
                HBAR2_OVER_2M0 / (axis.spacing * axis.spacing * ghost_mass)
            };
        }
        let v = spec.potential.map_or(0.0, |v| v[p]);
        let w = spec
            .absorber
            .map_or(0.0, |cap| cap.strength * cap.profile(&spec.grid, c));
        T::from_complex(Complex64::new(v + kinetic, -w))
            .expect("complex scalars checked by callers")
    }
}

/// H[p, up(p)] for the link along `a` with hopping `t` from the point at coordinates `c`, with
/// the Peierls phase factors (x-links per row j, y-links per column i) when there is a field.
#[inline(always)]
pub(crate) fn link_value<T: Scalar>(
    t: f64,
    phases: Option<(&[T], &[T])>,
    a: usize,
    c: [usize; 3],
) -> T {
    match (phases, a) {
        (Some((px, _)), 0) => px[c[1]].scale(-t),
        (Some((_, py)), 1) => py[c[0]].scale(-t),
        _ => T::from_real(-t),
    }
}

/// Visits the off-diagonal entries of row `p` as `(column, value)`: `link(a, q, c_q)` =
/// H[q, up(q)] for each link, conjugated for the link that arrives from the − neighbour. The
/// order is the row's column order away from wrap-around links (− neighbours from the last
/// axis down, then + neighbours from the first axis up), so that sums over it round as sums over
/// the assembled row do.
#[inline]
pub(crate) fn for_each_neighbour<T: Scalar>(
    topology: &Topology,
    p: usize,
    link: impl Fn(usize, usize, [usize; 3]) -> T,
    mut visit: impl FnMut(usize, T),
) {
    let l = topology;
    let c = coords(p, l.shape);
    for a in (0..l.dims).rev() {
        if l.has_down(a, c[a]) {
            let q = l.down(a, p, c[a]);
            visit(q, link(a, q, coords(q, l.shape)).conj_value());
        }
    }
    for a in 0..l.dims {
        if l.has_up(a, c[a]) {
            visit(l.up(a, p, c[a]), link(a, p, c));
        }
    }
}

/// The stored entries of row `p` as `(column, value)`, at most 7, in increasing column order:
/// `diag` on the diagonal, the links as [`for_each_neighbour`] visits them.
#[inline]
pub(crate) fn row_into<T: Scalar>(
    topology: &Topology,
    p: usize,
    diag: T,
    link: impl Fn(usize, usize, [usize; 3]) -> T,
    out: &mut Vec<(usize, T)>,
) {
    out.clear();
    out.push((p, diag));
    for_each_neighbour(topology, p, link, |q, value| out.push((q, value)));
    out.sort_unstable_by_key(|&(col, _)| col);
}
