//! Physical constants (`QDSIM_HBAR2_OVER_2M0`, `QDSIM_E_OVER_HBAR`, `QDSIM_MASS_*`) and model
//! potentials on a `qdsim_grid` (`qdsim_parabolic_potential`, `qdsim_open_dot_potential`), so
//! that C, C++ and Fortran programs use the library's numbers instead of their own copies.
//!
//! Units: lengths nm, energies eV, masses m₀.
//!
//! Thread safety: the functions read their arguments and write only `out`; any number of
//! threads may call them at once (on different `out` arrays).

use super::boundary::{guard, in_param, out_slice};
use super::hamiltonian::{grid_from_c, qdsim_grid};
use super::status::qdsim_status;
use crate::error::{Error, Result};
use crate::physics::{Grid, constants, open_dot_potential, parabolic_potential};

/// ħ²/(2m₀), eV·nm²: the hopping of the 3-point stencil on spacing h (nm) for mass m* (m₀) is
/// `QDSIM_HBAR2_OVER_2M0 / (m* · h²)` eV.
pub const QDSIM_HBAR2_OVER_2M0: f64 = 0.0380998212;
/// e/ħ, 1/(T·nm²): the Peierls phase of a link is `QDSIM_E_OVER_HBAR · ∫A·dl` with A in T·nm.
pub const QDSIM_E_OVER_HBAR: f64 = 1.519267447e-3;
/// Effective mass of GaAs conduction electrons, m₀ (the default of
/// `qdsim_hamiltonian_desc_default`).
pub const QDSIM_MASS_GAAS: f64 = 0.067;
/// Effective mass of InAs conduction electrons, m₀.
pub const QDSIM_MASS_INAS: f64 = 0.026;

// cbindgen writes literals only, so the C values are spelled out above; they must be the
// library's own constants, bit for bit.
const _: () = assert!(
    QDSIM_HBAR2_OVER_2M0 == constants::HBAR2_OVER_2M0
        && QDSIM_E_OVER_HBAR == constants::E_OVER_HBAR
        && QDSIM_MASS_GAAS == constants::GAAS_MASS
        && QDSIM_MASS_INAS == constants::INAS_MASS
);

/// The Rust grid of `grid`, and the `out` array of `out_len` values that receives one value per
/// grid point (checked: the length, then non-NULL and aligned).
///
/// # Safety
/// `grid` is NULL or valid; `out` points to `out_len` writable doubles used by nothing else
/// during the call.
unsafe fn grid_and_out<'a>(
    grid: *const qdsim_grid,
    out: *mut f64,
    out_len: usize,
    check: impl FnOnce() -> Result<()>,
) -> Result<(Grid, &'a mut [f64])> {
    // SAFETY: NULL or valid per the contract; copied at once.
    let grid = grid_from_c(unsafe { in_param(grid, "grid")? })?;
    if out_len != grid.len() {
        let shape: Vec<String> = grid.axes().iter().map(|a| a.points.to_string()).collect();
        return Err(Error::invalid_argument(format!(
            "out_len {out_len} does not match the grid: out needs {} values (one per point, {})",
            grid.len(),
            shape.join("×")
        )));
    }
    check()?;
    // SAFETY: `out_len` writable doubles per the contract (checked non-null and aligned).
    let out = unsafe { out_slice(out, out_len, "out")? };
    Ok((grid, out))
}

/// Refuses a `value` (argument `name`, in `unit`) that is not finite and positive.
fn positive(value: f64, name: &str, unit: &str) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "{name} {value}{unit} must be finite and positive"
        )))
    }
}

/// Writes the parabolic (harmonic) confinement V = ½ m* ω² r² = (ħω)² r² / (4 ħ²/2m*), eV, at
/// every point of `grid` into `out[0 … out_len−1]` (x fastest, as the grid numbers its points),
/// with r (nm) measured from the centre of the box (half of each axis's extent); `mass` is
/// m*/m₀ and `hbar_omega_ev` ħω in eV. Its levels are ħω (n + d/2) in d dimensions.
///
/// Errors: `QDSIM_ERR_NULL_ARGUMENT` for a NULL grid or out; `QDSIM_ERR_INVALID_ARGUMENT` for an
/// invalid grid (as `qdsim_hamiltonian_csr` reports it), `out_len` not the grid's number of
/// points (the message gives it), or a mass or ħω that is not finite and positive. `out` is
/// untouched on error.
///
/// # Safety
/// `grid` points to a valid `qdsim_grid`; `out` to `out_len` writable doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_parabolic_potential(
    grid: *const qdsim_grid,
    mass: f64,
    hbar_omega_ev: f64,
    out: *mut f64,
    out_len: usize,
) -> qdsim_status {
    guard("qdsim_parabolic_potential", || {
        // SAFETY: per the contract.
        let (grid, out) = unsafe {
            grid_and_out(grid, out, out_len, || {
                positive(mass, "mass", " m₀")?;
                positive(hbar_omega_ev, "hbar_omega_ev", " eV")
            })?
        };
        parabolic_potential(&grid, mass, hbar_omega_ev, out)
    })
}

/// Writes the open dot's potential into `out[0 … out_len−1]`: `height_ev` (eV) on the shell
/// `radius_nm ≤ r < radius_nm + thickness_nm` about the centre of the box — a ring in 2D, a
/// spherical shell in 3D, two barriers in 1D — and 0 inside and outside it. With an absorber
/// at the box's faces its well states are resonances E − iΓ/2 (`qdsim_solve_resonances`).
///
/// Errors: `QDSIM_ERR_NULL_ARGUMENT` for a NULL grid or out; `QDSIM_ERR_INVALID_ARGUMENT` for an
/// invalid grid, `out_len` not the grid's number of points (the message gives it), a radius or
/// thickness that is not finite and positive, or a height that is not finite. `out` is
/// untouched on error.
///
/// # Safety
/// `grid` points to a valid `qdsim_grid`; `out` to `out_len` writable doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_open_dot_potential(
    grid: *const qdsim_grid,
    radius_nm: f64,
    thickness_nm: f64,
    height_ev: f64,
    out: *mut f64,
    out_len: usize,
) -> qdsim_status {
    guard("qdsim_open_dot_potential", || {
        // SAFETY: per the contract; the shape is checked before anything is written.
        let (grid, out) = unsafe { grid_and_out(grid, out, out_len, || Ok(()))? };
        open_dot_potential(&grid, radius_nm, thickness_nm, height_ev, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::hamiltonian::qdsim_grid_box;

    fn grid(lengths: &[f64], points: &[usize]) -> qdsim_grid {
        let mut g = qdsim_grid::default();
        // SAFETY: `dims` values each; `g` is writable.
        let st = unsafe {
            qdsim_grid_box(
                lengths.len() as i32,
                lengths.as_ptr(),
                points.as_ptr(),
                &mut g,
            )
        };
        assert_eq!(st, qdsim_status::QDSIM_OK);
        g
    }

    #[test]
    fn the_c_potentials_are_the_rust_ones_bit_for_bit() {
        let g = grid(&[120.0, 90.0], &[37, 29]);
        let rust = grid_from_c(&g).unwrap();
        let (mut c, mut r) = (vec![0.0; rust.len()], vec![0.0; rust.len()]);
        // SAFETY: `c` holds one value per point.
        let st = unsafe {
            qdsim_parabolic_potential(&g, QDSIM_MASS_INAS, 0.02, c.as_mut_ptr(), c.len())
        };
        assert_eq!(st, qdsim_status::QDSIM_OK);
        parabolic_potential(&rust, constants::INAS_MASS, 0.02, &mut r).unwrap();
        assert_eq!(c, r);
        // SAFETY: as above.
        let st = unsafe { qdsim_open_dot_potential(&g, 20.0, 4.0, 0.3, c.as_mut_ptr(), c.len()) };
        assert_eq!(st, qdsim_status::QDSIM_OK);
        open_dot_potential(&rust, 20.0, 4.0, 0.3, &mut r).unwrap();
        assert_eq!(c, r);
        assert!(c.contains(&0.3) && c.contains(&0.0));
    }

    #[test]
    fn bad_arguments_leave_out_untouched() {
        let g = grid(&[10.0], &[9]);
        let mut out = [7.0; 9];
        let call = |mass: f64, hw: f64, out: &mut [f64], len: usize| {
            // SAFETY: `out` holds at least `len` values whenever the call reaches it.
            unsafe { qdsim_parabolic_potential(&g, mass, hw, out.as_mut_ptr(), len) }
        };
        for (mass, hw, len) in [
            (0.067, 0.01, 8),
            (0.0, 0.01, 9),
            (f64::NAN, 0.01, 9),
            (0.067, -0.01, 9),
            (0.067, f64::INFINITY, 9),
        ] {
            assert_eq!(
                call(mass, hw, &mut out, len),
                qdsim_status::QDSIM_ERR_INVALID_ARGUMENT
            );
            assert_eq!(out, [7.0; 9]);
        }
        // SAFETY: the NULL grid and out are refused before any access.
        let st = unsafe {
            qdsim_parabolic_potential(std::ptr::null(), 0.067, 0.01, out.as_mut_ptr(), 9)
        };
        assert_eq!(st, qdsim_status::QDSIM_ERR_NULL_ARGUMENT);
        // SAFETY: as above.
        let st = unsafe { qdsim_open_dot_potential(&g, 2.0, 1.0, 0.3, std::ptr::null_mut(), 9) };
        assert_eq!(st, qdsim_status::QDSIM_ERR_NULL_ARGUMENT);
        // SAFETY: `out` holds 9 values.
        let st = unsafe { qdsim_open_dot_potential(&g, -2.0, 1.0, 0.3, out.as_mut_ptr(), 9) };
        assert_eq!(st, qdsim_status::QDSIM_ERR_INVALID_ARGUMENT);
        assert_eq!(out, [7.0; 9]);
    }
}
