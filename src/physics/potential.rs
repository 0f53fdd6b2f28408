//! Model potentials on a grid: the parabolic (harmonic) confinement of docs/validation.md's
//! dots, used by the examples, benchmarks and tests.

use super::constants::HBAR2_OVER_2M0;
use super::grid::Grid;
use crate::error::{Error, Result};

/// Writes V = ½ m* ω² r² = (ħω)² r² / (4 ħ²/2m*) (eV) at every grid point into `out`, with r
/// measured from the centre of the box (half of each axis's extent); `mass` is m*/m₀ and
/// `hbar_omega` ħω in eV. Its levels are ħω (n + d/2) in d dimensions.
pub fn parabolic_potential(grid: &Grid, mass: f64, hbar_omega: f64, out: &mut [f64]) -> Result<()> {
    if out.len() != grid.len() {
        return Err(Error::invalid_argument(format!(
            "the potential has {} values but the grid {} points",
            out.len(),
            grid.len()
        )));
    }
    let c = HBAR2_OVER_2M0 / mass;
    let axes = grid.axes();
    for (p, v) in out.iter_mut().enumerate() {
        let mut rest = p;
        let mut r2 = 0.0;
        for axis in axes {
            let d = axis.coordinate(rest % axis.points) - axis.extent() / 2.0;
            r2 += d * d;
            rest /= axis.points;
        }
        *v = hbar_omega * hbar_omega * r2 / (4.0 * c);
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
