//! Model potentials on a grid: the parabolic (harmonic) confinement of docs/validation.md's
//! dots, and the open dot (a well inside a thin barrier shell, open to the outside), used by
//! the examples, benchmarks and tests.

use super::constants::HBAR2_OVER_2M0;
use super::grid::{Boundary, Grid};
use crate::error::{Error, Result};

/// Writes V = ½ m* ω² r² = (ħω)² r² / (4 ħ²/2m*) (eV) at every grid point into `out`, with r
/// measured from the centre of the box (half of each axis's extent); `mass` is m*/m₀ and
/// `hbar_omega` ħω in eV. Its levels are ħω (n + d/2) in d dimensions.
///
/// ```
/// use qdsim_mem::physics::{Grid, constants::GAAS_MASS, parabolic_potential};
///
/// // 1D, 101 points over 100 nm: the middle point is the centre, the potential is 0 there.
/// let grid = Grid::dirichlet_box(&[100.0], &[101])?;
/// let mut v = vec![0.0; grid.len()];
/// parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v)?;
/// assert!(v[50].abs() < 1e-15);
/// // At r = 10 nm (10 points out: spacing 100/102 nm): (ħω)² r² / (4·ħ²/2m*).
/// let r = 10.0 * 100.0 / 102.0;
/// let expected = 0.010f64.powi(2) * r * r / (4.0 * 0.0380998212 / GAAS_MASS);
/// assert!((v[60] - expected).abs() < 1e-12 * expected);
/// # Ok::<(), qdsim_mem::Error>(())
/// ```
pub fn parabolic_potential(grid: &Grid, mass: f64, hbar_omega: f64, out: &mut [f64]) -> Result<()> {
    let c = HBAR2_OVER_2M0 / mass;
    for_each_radius(grid, out, false, |r2| {
        hbar_omega * hbar_omega * r2 / (4.0 * c)
    })
}

/// Writes the open dot's potential into `out`: `height` (eV) on the shell
/// `radius ≤ r < radius + thickness` (nm) about the centre of the box — a ring in 2D, a
/// spherical shell in 3D, two barriers in 1D — and 0 inside and outside it. The states of the
/// well tunnel out through the barrier: with an absorbing potential at the box's faces they
/// are resonances E − iΓ/2.
pub fn open_dot_potential(
    grid: &Grid,
    radius: f64,
    thickness: f64,
    height: f64,
    out: &mut [f64],
) -> Result<()> {
    if !(radius > 0.0 && thickness > 0.0 && radius.is_finite() && thickness.is_finite()) {
        return Err(Error::invalid_argument(format!(
            "radius {radius} nm and thickness {thickness} nm must be finite and positive"
        )));
    }
    if !height.is_finite() {
        return Err(Error::invalid_argument(format!(
            "barrier height {height} eV is not finite"
        )));
    }
    let (inner, outer) = (radius * radius, (radius + thickness) * (radius + thickness));
    // Exactly mirror-symmetric distances: a point on the shell's edge is in or out on both
    // sides alike, so the potential keeps the box's symmetry (and its degenerate pairs) to the
    // last bit.
    for_each_radius(grid, out, true, |r2| {
        if (inner..outer).contains(&r2) {
            height
        } else {
            0.0
        }
    })
}

/// `out[p] = f(r²)` with r the distance of point p from the centre of the box; `mirrored`:
/// along hard-wall axes, measured as half the distance between the point and its mirror image
/// (equal to the plain difference, but exactly antisymmetric in rounding).
fn for_each_radius(
    grid: &Grid,
    out: &mut [f64],
    mirrored: bool,
    f: impl Fn(f64) -> f64,
) -> Result<()> {
    if out.len() != grid.len() {
        return Err(Error::invalid_argument(format!(
            "the potential has {} values but the grid {} points",
            out.len(),
            grid.len()
        )));
    }
    let axes = grid.axes();
    for (p, v) in out.iter_mut().enumerate() {
        let mut rest = p;
        let mut r2 = 0.0;
        for axis in axes {
            let i = rest % axis.points;
            let d = if mirrored && axis.boundary == Boundary::Dirichlet {
                0.5 * (axis.coordinate(i) - axis.coordinate(axis.points - 1 - i))
            } else {
                axis.coordinate(i) - axis.extent() / 2.0
            };
            r2 += d * d;
            rest /= axis.points;
        }
        *v = f(r2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::constants::GAAS_MASS;

    #[test]
    fn the_potential_is_half_m_omega_squared_r_squared_about_the_centre() {
        let grid = Grid::dirichlet_box(&[120.0, 60.0], &[119, 59]).unwrap(); // spacing 1 nm
        let mut v = vec![0.0; grid.len()];
        parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v).unwrap();
        // Point (x, y) = (70, 20) nm sits 10 nm right of and 10 nm below the centre (60, 30).
        let p = 69 + 19 * 119;
        let expected = 0.010 * 0.010 * 200.0 / (4.0 * HBAR2_OVER_2M0 / GAAS_MASS);
        // Same arithmetic up to the rounding of the coordinates (spacing 120/120 is exact).
        assert!(
            (v[p] - expected).abs() <= 1e-15 * expected,
            "{} vs {expected}",
            v[p]
        );
        // The minimum is at the centre point (59, 29), where it is zero.
        assert_eq!(v[59 + 29 * 119], 0.0);
        assert!(v.iter().all(|&e| e >= 0.0));
        let err = parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v[1..]).unwrap_err();
        assert!(err.message().contains("grid"), "{err}");
    }
}
