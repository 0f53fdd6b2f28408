//! The complex absorbing potential −iη·W(r): a polynomial ramp that rises from 0 at `width` nm
//! inside a face to 1 at the face's wall, on the faces the user picks. It makes H complex
//! symmetric, and its eigenvalues E − iΓ/2 describe resonances of the open system.

use super::grid::{Boundary, Grid};
use super::hamiltonian::axis_name;
use crate::error::{Error, Result};

/// The lower-x face (bit 0).
pub const FACE_X_MIN: u32 = 1;
/// The upper-x face (bit 1).
pub const FACE_X_MAX: u32 = 2;
/// The lower-y face (bit 2).
pub const FACE_Y_MIN: u32 = 4;
/// The upper-y face (bit 3).
pub const FACE_Y_MAX: u32 = 8;
/// The lower-z face (bit 4).
pub const FACE_Z_MIN: u32 = 16;
/// The upper-z face (bit 5).
pub const FACE_Z_MAX: u32 = 32;

/// A polynomial absorbing ramp on some faces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Absorber {
    /// Bitwise OR of `FACE_*` values.
    pub faces: u32,
    /// Thickness of the absorbing layer, nm.
    pub width: f64,
    /// η: the absorbing potential at the wall, eV.
    pub strength: f64,
    /// Polynomial order of the ramp (1 linear, 2 quadratic, …).
    pub order: u32,
}

impl Absorber {
    /// Checks the faces against the grid (existing axes, not periodic), that the layers on each
    /// axis add up to less than its length (an absorber-free interior), and the ramp's numbers.
    pub fn validate(&self, grid: &Grid) -> Result<()> {
        let valid = (1u32 << (2 * grid.dims())) - 1;
        if self.faces == 0 || self.faces & !valid != 0 {
            return Err(Error::invalid_argument(format!(
                "absorber faces {:#x} must be a non-empty combination of the {} faces of a {}D grid (mask {valid:#x})",
                self.faces,
                2 * grid.dims(),
                grid.dims()
            )));
        }
        for (a, axis) in grid.axes().iter().enumerate() {
            if self.faces >> (2 * a) & 3 != 0 && axis.boundary == Boundary::Periodic {
                return Err(Error::invalid_argument(format!(
                    "absorber on a face of periodic axis {}",
                    axis_name(a)
                )));
            }
        }
        if !(self.width.is_finite() && self.width > 0.0) {
            return Err(Error::invalid_argument(format!(
                "absorber width {} nm must be finite and positive",
                self.width
            )));
        }
        // The layers on an axis must leave an absorber-free interior: a layer wider than the box
        // absorbs everywhere and describes no open system.
        for (a, axis) in grid.axes().iter().enumerate() {
            let layers = (self.faces >> (2 * a) & 3).count_ones();
            if layers > 0 && f64::from(layers) * self.width >= axis.extent() {
                return Err(Error::invalid_argument(format!(
                    "absorber width {} nm on {layers} face(s) of axis {} leaves no interior: the \
                     axis is {} nm long (the layers must add up to less)",
                    self.width,
                    axis_name(a),
                    axis.extent()
                )));
            }
        }
        if !(self.strength.is_finite() && self.strength >= 0.0) {
            return Err(Error::invalid_argument(format!(
                "absorber strength {} eV must be finite and non-negative",
                self.strength
            )));
        }
        if !(1..=16).contains(&self.order) {
            return Err(Error::invalid_argument(format!(
                "absorber order {} must be between 1 and 16",
                self.order
            )));
        }
        Ok(())
    }

    /// W at the point with coordinates `index` (per axis): the sum over absorbing faces of
    /// `((width − d)/width)^order` where `d` is the point's distance from that face's wall.
    pub fn profile(&self, grid: &Grid, index: [usize; 3]) -> f64 {
        let mut w = 0.0;
        for (a, axis) in grid.axes().iter().enumerate() {
            let x = axis.coordinate(index[a]);
            for (bit, d) in [(1u32, x), (2u32, axis.extent() - x)] {
                if self.faces >> (2 * a) & bit != 0 && d < self.width {
                    w += ((self.width - d) / self.width).powi(self.order as i32);
                }
            }
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::grid::Axis;

    #[test]
    fn ramp_rises_towards_the_chosen_walls() {
        let grid = Grid::new(&[Axis::dirichlet_box(10.0, 9)]).unwrap(); // points at 1..9 nm
        let cap = Absorber {
            faces: FACE_X_MAX,
            width: 3.0,
            strength: 0.1,
            order: 2,
        };
        cap.validate(&grid).unwrap();
        let w: Vec<f64> = (0..9).map(|i| cap.profile(&grid, [i, 0, 0])).collect();
        assert_eq!(&w[..7], &[0.0; 7]);
        assert!((w[7] - (1.0f64 / 3.0).powi(2)).abs() < 1e-15); // 2 nm from the wall
        assert!((w[8] - (2.0f64 / 3.0).powi(2)).abs() < 1e-15); // 1 nm from the wall
        assert!(
            Absorber {
                faces: FACE_Y_MIN,
                ..cap
            }
            .validate(&grid)
            .is_err()
        );
        let ring = Grid::new(&[Axis::periodic(10.0, 10)]).unwrap();
        assert!(cap.validate(&ring).is_err());
        // Wider than the box (10 nm): refused, naming the axis; two 5 nm layers meet: refused.
        let wide = Absorber { width: 80.0, ..cap };
        let message = wide.validate(&grid).unwrap_err().to_string();
        assert!(message.contains("leaves no interior"), "{message}");
        let both = Absorber {
            faces: FACE_X_MIN | FACE_X_MAX,
            width: 5.0,
            ..cap
        };
        assert!(both.validate(&grid).is_err());
        assert!(Absorber { width: 4.9, ..both }.validate(&grid).is_ok());
    }
}
