//! Uniform rectilinear grids in 1, 2 or 3 dimensions (lengths in nm), with a boundary condition
//! per axis. Points are numbered with x fastest: `p = i + nx·(j + ny·k)`.

use crate::error::{Error, Result};

/// What happens at the two ends of an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// ψ = 0 on walls one spacing beyond the first and last points (hard walls).
    Dirichlet,
    /// The last point is linked to the first.
    Periodic,
}

/// One axis: how many points, how far apart, and its boundary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    /// Number of grid points (unknowns) along the axis.
    pub points: usize,
    /// Distance between neighbouring points, nm.
    pub spacing: f64,
    /// Boundary condition.
    pub boundary: Boundary,
}

impl Axis {
    /// `points` interior points of a hard-wall box of `length` nm: spacing `length / (points + 1)`.
    pub fn dirichlet_box(length: f64, points: usize) -> Self {
        Self {
            points,
            spacing: length / (points as f64 + 1.0),
            boundary: Boundary::Dirichlet,
        }
    }

    /// `points` points on a ring of circumference `length` nm: spacing `length / points`.
    pub fn periodic(length: f64, points: usize) -> Self {
        Self {
            points,
            spacing: length / points as f64,
            boundary: Boundary::Periodic,
        }
    }

    /// Length of the box along this axis: wall to wall (Dirichlet) or one period (periodic).
    pub fn extent(&self) -> f64 {
        match self.boundary {
            Boundary::Dirichlet => (self.points as f64 + 1.0) * self.spacing,
            Boundary::Periodic => self.points as f64 * self.spacing,
        }
    }

    /// Position of point `i`, nm, measured from the lower wall (Dirichlet) or the first point
    /// (periodic).
    pub fn coordinate(&self, i: usize) -> f64 {
        match self.boundary {
            Boundary::Dirichlet => (i as f64 + 1.0) * self.spacing,
            Boundary::Periodic => i as f64 * self.spacing,
        }
    }
}

/// A grid of 1 to 3 axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    axes: Vec<Axis>,
    len: usize,
}

impl Grid {
    /// A grid from its axes (x first). Checks the number of axes, the point counts (periodic axes
    /// need at least 3 points), the spacings and that the total fits in memory indices.
    pub fn new(axes: &[Axis]) -> Result<Self> {
        if axes.is_empty() || axes.len() > 3 {
            return Err(Error::invalid_argument(format!(
                "a grid has 1, 2 or 3 axes, not {}",
                axes.len()
            )));
        }
        let mut len: usize = 1;
        for (a, axis) in axes.iter().enumerate() {
            let name = AXIS_NAMES[a];
            if axis.points == 0 {
                return Err(Error::invalid_argument(format!("axis {name} has 0 points")));
            }
            if axis.boundary == Boundary::Periodic && axis.points < 3 {
                return Err(Error::invalid_argument(format!(
                    "periodic axis {name} needs at least 3 points, has {}",
                    axis.points
                )));
            }
            if !(axis.spacing.is_finite() && axis.spacing > 0.0) {
                return Err(Error::invalid_argument(format!(
                    "axis {name} has spacing {} nm; it must be finite and positive",
                    axis.spacing
                )));
            }
            len = len
                .checked_mul(axis.points)
                .filter(|&n| n <= i64::MAX as usize / 8)
                .ok_or_else(|| {
                    Error::invalid_argument(format!(
                        "the grid's point count {} overflows",
                        axes.iter()
                            .map(|a| a.points.to_string())
                            .collect::<Vec<_>>()
                            .join("×")
                    ))
                })?;
        }
        Ok(Self {
            axes: axes.to_vec(),
            len,
        })
    }

    /// A hard-wall box: `lengths[a]` nm with `points[a]` interior points along each axis.
    pub fn dirichlet_box(lengths: &[f64], points: &[usize]) -> Result<Self> {
        if lengths.len() != points.len() {
            return Err(Error::invalid_argument(format!(
                "{} lengths for {} point counts",
                lengths.len(),
                points.len()
            )));
        }
        let axes: Vec<Axis> = lengths
            .iter()
            .zip(points)
            .map(|(&l, &n)| Axis::dirichlet_box(l, n))
            .collect();
        Self::new(&axes)
    }

    /// Number of axes.
    pub fn dims(&self) -> usize {
        self.axes.len()
    }

    /// The axes.
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// Total number of points.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a grid has at least one point.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Points along x, y, z (1 for missing axes).
    pub fn shape(&self) -> [usize; 3] {
        let mut shape = [1; 3];
        for (a, axis) in self.axes.iter().enumerate() {
            shape[a] = axis.points;
        }
        shape
    }

    /// Index distance between neighbours along axis `a`.
    pub fn stride(&self, a: usize) -> usize {
        self.shape()[..a].iter().product()
    }
}

/// Names of the axes for messages.
pub const AXIS_NAMES: [&str; 3] = ["x", "y", "z"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_and_rings() {
        let g = Grid::dirichlet_box(&[20.0, 20.0], &[49, 49]).unwrap();
        assert_eq!((g.len(), g.dims(), g.stride(1)), (49 * 49, 2, 49));
        assert!((g.axes()[0].spacing - 0.4).abs() < 1e-15);
        assert!((g.axes()[0].extent() - 20.0).abs() < 1e-12);
        let ring = Axis::periodic(10.0, 5);
        assert!((ring.coordinate(4) - 8.0).abs() < 1e-15);
        assert!(Grid::new(&[Axis::periodic(1.0, 2)]).is_err());
        assert!(Grid::new(&[]).is_err());
        assert!(Grid::dirichlet_box(&[1.0], &[0]).is_err());
        assert!(Grid::dirichlet_box(&[-1.0], &[3]).is_err());
        assert!(Grid::dirichlet_box(&[1.0; 3], &[usize::MAX / 2, 4, 1]).is_err());
    }
}
