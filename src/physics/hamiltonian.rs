//! What describes an effective-mass Hamiltonian on a grid: the potential (eV), the effective
//! mass (uniform or per point, in m₀), a perpendicular magnetic field (T, 2D), and an optional
//! complex absorbing potential — and the checks that a description makes sense.
//!
//! The operator is H = −∇·(ħ²/2m(r))∇ + V(r) − iη·W(r), discretised by finite differences in the
//! BenDaniel–Duke symmetric form (see `stencil.rs`).

use super::absorber::Absorber;
use super::grid::{AXIS_NAMES, Boundary, Grid};
use crate::error::{Error, Result};
use crate::matrix::ScalarKind;

/// The effective mass, in units of the free electron mass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mass<'a> {
    /// The same mass everywhere (e.g. 0.067 for GaAs).
    Uniform(f64),
    /// One mass per grid point (heterostructures), BenDaniel–Duke boundary conditions.
    PerPoint(&'a [f64]),
}

/// A Hamiltonian description; borrow the potential and mass arrays from the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct HamiltonianSpec<'a> {
    /// The grid.
    pub grid: Grid,
    /// Potential energy per point, eV (`None` for zero).
    pub potential: Option<&'a [f64]>,
    /// Effective mass.
    pub mass: Mass<'a>,
    /// Magnetic field along z, tesla (2D grids with Dirichlet boundaries only; 0 for none).
    pub magnetic_field: f64,
    /// Complex absorbing potential on chosen faces (makes H non-Hermitian).
    pub absorber: Option<Absorber>,
}

impl<'a> HamiltonianSpec<'a> {
    /// A closed system with uniform mass `mass` and `potential` (or zero).
    pub fn new(grid: Grid, mass: f64, potential: Option<&'a [f64]>) -> Self {
        Self {
            grid,
            potential,
            mass: Mass::Uniform(mass),
            magnetic_field: 0.0,
            absorber: None,
        }
    }

    /// Real (no field, no absorber) or complex.
    pub fn scalar_kind(&self) -> ScalarKind {
        if self.magnetic_field != 0.0 || self.absorber.is_some_and(|a| a.strength != 0.0) {
            ScalarKind::Complex
        } else {
            ScalarKind::Real
        }
    }

    /// The closed system: this Hamiltonian without its absorbing potential (what the solvers
    /// for the lowest states work on).
    pub fn closed(&self) -> Self {
        Self {
            absorber: None,
            ..self.clone()
        }
    }

    /// The scalar type of a lowest-states solve of this Hamiltonian (which ignores the
    /// absorber): `requested`, or for `None` complex when there is a magnetic field and real
    /// otherwise. Real scalars with a magnetic field are refused (`InvalidArgument`).
    pub fn solve_scalar_kind(&self, requested: Option<ScalarKind>) -> Result<ScalarKind> {
        let field = self.magnetic_field != 0.0;
        match requested {
            Some(ScalarKind::Real) if field => Err(Error::invalid_argument(
                "a magnetic field makes H complex: use QDSIM_SCALAR_COMPLEX or AUTO",
            )),
            Some(kind) => Ok(kind),
            None if field => Ok(ScalarKind::Complex),
            None => Ok(ScalarKind::Real),
        }
    }

    /// True when H = Hᴴ (no absorber). With an absorber and no field H is complex symmetric.
    pub fn is_hermitian(&self) -> bool {
        !self.absorber.is_some_and(|a| a.strength != 0.0)
    }

    /// Checks every part of the description against the grid; the message names what is wrong.
    pub fn validate(&self) -> Result<()> {
        let n = self.grid.len();
        if let Some(v) = self.potential {
            check_array("potential", v, n, |x| x.is_finite(), "finite")?;
        }
        match self.mass {
            Mass::Uniform(m) => {
                if !(m.is_finite() && m > 0.0) {
                    return Err(Error::invalid_argument(format!(
                        "effective mass {m} must be finite and positive (units of m₀)"
                    )));
                }
            }
            Mass::PerPoint(m) => check_array(
                "mass",
                m,
                n,
                |x| x.is_finite() && x > 0.0,
                "finite and positive",
            )?,
        }
        if !self.magnetic_field.is_finite() {
            return Err(Error::invalid_argument(format!(
                "magnetic field {} T is not finite",
                self.magnetic_field
            )));
        }
        if self.magnetic_field != 0.0 {
            if self.grid.dims() != 2 {
                return Err(Error::invalid_argument(format!(
                    "a magnetic field needs a 2D grid; this one is {}D",
                    self.grid.dims()
                )));
            }
            if self
                .grid
                .axes()
                .iter()
                .any(|a| a.boundary != Boundary::Dirichlet)
            {
                return Err(Error::invalid_argument(
                    "a magnetic field needs Dirichlet boundaries on x and y (the symmetric gauge is not periodic)",
                ));
            }
        }
        if let Some(absorber) = &self.absorber {
            absorber.validate(&self.grid)?;
        }
        Ok(())
    }
}

fn check_array(
    name: &str,
    values: &[f64],
    n: usize,
    ok: impl Fn(f64) -> bool,
    what: &str,
) -> Result<()> {
    if values.len() != n {
        return Err(Error::invalid_argument(format!(
            "{name} has {} values but the grid has {n} points",
            values.len()
        )));
    }
    if let Some((p, &x)) = values.iter().enumerate().find(|&(_, &x)| !ok(x)) {
        return Err(Error::invalid_argument(format!(
            "{name}[{p}] = {x} must be {what}"
        )));
    }
    Ok(())
}

/// The name of axis `a` for messages.
pub(crate) fn axis_name(a: usize) -> &'static str {
    AXIS_NAMES[a]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solve_is_complex_with_a_field_and_refuses_real_scalars_then() {
        let grid = Grid::dirichlet_box(&[10.0, 10.0], &[4, 4]).unwrap();
        let mut spec = HamiltonianSpec::new(grid, 0.067, None);
        assert_eq!(spec.solve_scalar_kind(None).unwrap(), ScalarKind::Real);
        for kind in [ScalarKind::Real, ScalarKind::Complex] {
            assert_eq!(spec.solve_scalar_kind(Some(kind)).unwrap(), kind);
        }
        spec.magnetic_field = 2.0;
        assert_eq!(spec.solve_scalar_kind(None).unwrap(), ScalarKind::Complex);
        let complex = Some(ScalarKind::Complex);
        assert_eq!(
            spec.solve_scalar_kind(complex).unwrap(),
            ScalarKind::Complex
        );
        let e = spec.solve_scalar_kind(Some(ScalarKind::Real)).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(
            e.message().contains("magnetic field makes H complex"),
            "{e}"
        );
    }
}
