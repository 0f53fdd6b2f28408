//! Physics: grids, effective-mass Hamiltonians by finite differences (position-dependent mass,
//! periodic or hard-wall boundaries, magnetic field, absorbing potential), as a matrix-free
//! stencil operator or assembled into CSR.
//!
//! | file | what lives there |
//! |---|---|
//! | `constants.rs` | ħ²/2m₀, e/ħ, material masses |
//! | `grid.rs` | [`Grid`](crate::physics::Grid), [`Axis`](crate::physics::Axis), [`Boundary`](crate::physics::Boundary) |
//! | `hamiltonian.rs` | [`HamiltonianSpec`](crate::physics::HamiltonianSpec), [`Mass`](crate::physics::Mass): the description and its checks |
//! | `absorber.rs` | [`Absorber`](crate::physics::Absorber): the complex absorbing potential |
//! | `magnetic.rs` | Peierls phases of a perpendicular field |
//! | `stencil.rs` | [`StencilOperator`](crate::physics::StencilOperator): the matrix-free Hamiltonian (a faer `LinOp`) |
//! | `elements.rs` | the matrix elements point by point (hoppings, diagonal, one row's entries): the single source both representations read |
//! | `assemble.rs` | `StencilOperator::to_csr` |
//! | `assemble_rows.rs` | `HamiltonianSpec::csr_rows`: rows `[begin, end)` only, global columns (one MPI rank's slab), memory O(rows) |
//! | `potential.rs` | [`parabolic_potential`](crate::physics::parabolic_potential) (the validation dots), [`open_dot_potential`](crate::physics::open_dot_potential) (a well inside a barrier shell) |
//! | `build.rs` | [`AnyOperator`](crate::physics::AnyOperator) ([`OperatorInfo`](crate::physics::OperatorInfo)), `HamiltonianSpec::operator` / `csr` (scalar chosen at run time) |

mod absorber;
mod assemble;
mod assemble_rows;
mod build;
pub mod constants;
mod elements;
mod grid;
mod hamiltonian;
pub mod magnetic;
mod potential;
mod stencil;

pub use absorber::{
    Absorber, FACE_X_MAX, FACE_X_MIN, FACE_Y_MAX, FACE_Y_MIN, FACE_Z_MAX, FACE_Z_MIN,
};
pub use build::{AnyOperator, OperatorInfo};
pub use grid::{AXIS_NAMES, Axis, Boundary, Grid};
pub use hamiltonian::{HamiltonianSpec, Mass};
pub use potential::{open_dot_potential, parabolic_potential};
#[cfg(feature = "gpu")]
pub(crate) use stencil::AxisHops;
pub use stencil::StencilOperator;
