//! Peierls phases of a perpendicular magnetic field B (along z) on a 2D grid, in the symmetric
//! gauge A = (B/2)(−y, x, 0) centred on the box, for an electron (charge −e).
//!
//! The hopping from r′ to r picks up exp(−i(e/ħ)∫_{r′}^{r} A·dl), so with H[p, q] = −t·e^{iθ} for
//! the link from p to its +x / +y neighbour q:
//!
//! - x-links on row y: θ = −(e/ħ)(B/2)·y·hx,
//! - y-links on column x: θ = +(e/ħ)(B/2)·x·hy,
//!
//! and the flux through every plaquette is B·hx·hy, as it must be.

use super::constants::E_OVER_HBAR;
use super::grid::Grid;
use num_complex::Complex64;

/// Phase factors `(x_links[j], y_links[i])` for the links of a 2D grid in field `b` tesla.
pub fn peierls_phases(grid: &Grid, b: f64) -> (Vec<Complex64>, Vec<Complex64>) {
    let [ax, ay] = [grid.axes()[0], grid.axes()[1]];
    let (cx, cy) = (ax.extent() / 2.0, ay.extent() / 2.0);
    let x_links = (0..ay.points)
        .map(|j| {
            Complex64::from_polar(
                1.0,
                -E_OVER_HBAR * 0.5 * b * (ay.coordinate(j) - cy) * ax.spacing,
            )
        })
        .collect();
    let y_links = (0..ax.points)
        .map(|i| {
            Complex64::from_polar(
                1.0,
                E_OVER_HBAR * 0.5 * b * (ax.coordinate(i) - cx) * ay.spacing,
            )
        })
        .collect();
    (x_links, y_links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaquette_flux_is_b_times_area() {
        let grid = Grid::dirichlet_box(&[30.0, 20.0], &[14, 9]).unwrap();
        let b = 3.0;
        let (xl, yl) = peierls_phases(&grid, b);
        let (hx, hy) = (grid.axes()[0].spacing, grid.axes()[1].spacing);
        // Around the plaquette (i,j) → (i+1,j) → (i+1,j+1) → (i,j+1) → (i,j).
        let (i, j) = (5, 3);
        let loop_phase = xl[j] * yl[i + 1] * xl[j + 1].conj() * yl[i].conj();
        assert!((loop_phase.arg() - E_OVER_HBAR * b * hx * hy).abs() < 1e-12);
    }
}
