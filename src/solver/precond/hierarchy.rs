//! The grids and fields of a rediscretised multigrid hierarchy: the grid coarsened by about 2
//! along every axis that has room, again and again, with the potential and the position-
//! dependent mass interpolated to every coarser grid. Shared by the closed-system multigrid
//! (`multigrid.rs`) and the shifted one of the resonance solver (`shifted.rs`), which build
//! their own operators on these levels.

use super::transfer::interpolate_field;
use crate::physics::{Absorber, Axis, Boundary, Grid, HamiltonianSpec, Mass};
use std::borrow::Cow;

/// The grid coarsened by about 2 along every axis that has room, or `None`.
pub(crate) fn coarsen(grid: &Grid) -> Option<Grid> {
    let axes: Vec<Axis> = grid
        .axes()
        .iter()
        .map(|a| match a.boundary {
            Boundary::Dirichlet if a.points >= 7 => {
                Axis::dirichlet_box(a.extent(), (a.points - 1) / 2)
            }
            Boundary::Periodic if a.points >= 8 => Axis::periodic(a.extent(), a.points / 2),
            _ => *a,
        })
        .collect();
    let coarse = Grid::new(&axes).ok()?;
    (coarse.len() < grid.len()).then_some(coarse)
}

/// The levels' grids (0 is the caller's) and their interpolated fields.
pub(crate) struct LevelFields<'a> {
    grids: Vec<Grid>,
    /// Level 0 borrows the caller's fields (no copy of the largest arrays); coarser levels own
    /// their interpolated ones.
    potentials: Vec<Option<Cow<'a, [f64]>>>,
    masses: Vec<Option<Cow<'a, [f64]>>>,
    /// The mass when it is the same everywhere (unused with per-point masses).
    uniform_mass: f64,
    /// Carried to every level unchanged (physical units).
    magnetic_field: f64,
    absorber: Option<Absorber>,
}

impl<'a> LevelFields<'a> {
    /// Coarsens `spec`'s grid while a level has more than `coarsest_points` points and can be
    /// coarsened.
    pub(crate) fn new(spec: &HamiltonianSpec<'a>, coarsest_points: usize) -> Self {
        let mut fields = Self {
            grids: vec![spec.grid.clone()],
            potentials: vec![spec.potential.map(Cow::Borrowed)],
            masses: vec![match spec.mass {
                Mass::PerPoint(m) => Some(Cow::Borrowed(m)),
                Mass::Uniform(_) => None,
            }],
            uniform_mass: match spec.mass {
                Mass::Uniform(m) => m,
                Mass::PerPoint(_) => 0.0,
            },
            magnetic_field: spec.magnetic_field,
            absorber: spec.absorber,
        };
        while let Some(coarse) = fields
            .grids
            .last()
            .filter(|g| g.len() > coarsest_points)
            .and_then(coarsen)
        {
            let fine = fields.grids.last().expect("non-empty");
            let interpolate = |f: &Option<Cow<'a, [f64]>>| {
                f.as_ref()
                    .map(|v| Cow::Owned(interpolate_field(fine, &coarse, v)))
            };
            let potential = interpolate(fields.potentials.last().expect("non-empty"));
            let mass = interpolate(fields.masses.last().expect("non-empty"));
            fields.potentials.push(potential);
            fields.masses.push(mass);
            fields.grids.push(coarse);
        }
        fields
    }

    /// Number of levels.
    pub(crate) fn count(&self) -> usize {
        self.grids.len()
    }

    /// The grid of level `l`.
    pub(crate) fn grid(&self, l: usize) -> &Grid {
        &self.grids[l]
    }

    /// The Hamiltonian rediscretised on level `l`: the level's grid and fields, the caller's
    /// magnetic field and absorbing potential (both in physical units, so they carry over).
    pub(crate) fn spec(&self, l: usize) -> HamiltonianSpec<'_> {
        HamiltonianSpec {
            grid: self.grids[l].clone(),
            potential: self.potentials[l].as_deref(),
            mass: match &self.masses[l] {
                Some(m) => Mass::PerPoint(m),
                None => Mass::Uniform(self.uniform_mass),
            },
            magnetic_field: self.magnetic_field,
            absorber: self.absorber,
        }
    }
}
