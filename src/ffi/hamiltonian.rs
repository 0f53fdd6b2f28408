//! Describing an effective-mass Hamiltonian from C (`qdsim_grid`, `qdsim_absorber`,
//! `qdsim_hamiltonian_desc`) and building it as a CSR matrix (`qdsim_hamiltonian_csr`) or as a
//! matrix-free operator (`qdsim_operator`, applied with `qdsim_operator_apply*`).
//!
//! Units: lengths nm, energies eV, masses m₀, magnetic field tesla.
//!
//! Thread safety: building reads the description only; an operator is immutable and may be
//! applied from any number of threads at once.

use super::boundary::{
    check_disjoint, guard, in_param, in_slice, optional_str, out_param, out_slice, write_out,
};
use super::csr::{new_csr_handle, qdsim_csr};
use super::handles::{self, HandleKind};
use super::manager::{manager_arg, qdsim_manager};
use super::matrix::check_manager_alive;
use super::status::qdsim_status;
use super::types::{qdsim_complex, qdsim_scalar, scalar_kind, scalar_value};
use crate::error::{Error, ErrorKind, Result};
use crate::memory::MemoryManager;
use crate::physics::{Absorber, AnyOperator, Axis, Boundary, Grid, HamiltonianSpec, Mass};
use num_complex::Complex64;
use std::ffi::c_char;
use std::sync::Arc;

/// Hard walls: ψ = 0 one spacing beyond the first and last points.
pub const QDSIM_BOUNDARY_DIRICHLET: i32 = 0;
/// The last point is linked to the first.
pub const QDSIM_BOUNDARY_PERIODIC: i32 = 1;

/// Absorber on the lower-x face.
pub const QDSIM_FACE_X_MIN: u32 = 1;
/// Absorber on the upper-x face.
pub const QDSIM_FACE_X_MAX: u32 = 2;
/// Absorber on the lower-y face.
pub const QDSIM_FACE_Y_MIN: u32 = 4;
/// Absorber on the upper-y face.
pub const QDSIM_FACE_Y_MAX: u32 = 8;
/// Absorber on the lower-z face.
pub const QDSIM_FACE_Z_MIN: u32 = 16;
/// Absorber on the upper-z face.
pub const QDSIM_FACE_Z_MAX: u32 = 32;
const _: () = assert!(
    QDSIM_FACE_X_MIN == crate::physics::FACE_X_MIN
        && QDSIM_FACE_X_MAX == crate::physics::FACE_X_MAX
        && QDSIM_FACE_Y_MIN == crate::physics::FACE_Y_MIN
        && QDSIM_FACE_Y_MAX == crate::physics::FACE_Y_MAX
        && QDSIM_FACE_Z_MIN == crate::physics::FACE_Z_MIN
        && QDSIM_FACE_Z_MAX == crate::physics::FACE_Z_MAX
);

/// One grid axis.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_axis {
    /// Number of grid points (unknowns) along the axis.
    pub points: usize,
    /// Distance between neighbouring points, nm. For a hard-wall box of length L: L/(points+1).
    pub spacing: f64,
    /// `QDSIM_BOUNDARY_DIRICHLET` or `QDSIM_BOUNDARY_PERIODIC`.
    pub boundary: i32,
}

/// A uniform grid of 1 to 3 axes; points are numbered with x fastest: p = i + nx·(j + ny·k).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_grid {
    /// 1, 2 or 3.
    pub dims: i32,
    /// x, y, z (only the first `dims` are read).
    pub axes: [qdsim_axis; 3],
}

/// A complex absorbing potential −iη·W(r): W rises as ((width − d)/width)^order within `width`
/// nm of each chosen face (d the distance from the face's wall). `faces == 0` means none.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_absorber {
    /// Bitwise OR of `QDSIM_FACE_*`; 0 for no absorber.
    pub faces: u32,
    /// Polynomial order of the ramp, 1 to 16.
    pub order: i32,
    /// Thickness of the absorbing layer, nm.
    pub width: f64,
    /// η, eV.
    pub strength: f64,
}

/// Everything that defines H = −∇·(ħ²/2m(r))∇ + V(r) − iηW(r) (+ a magnetic field in 2D).
/// Start from `qdsim_hamiltonian_desc_default`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(non_camel_case_types)]
pub struct qdsim_hamiltonian_desc {
    /// The grid.
    pub grid: qdsim_grid,
    /// Potential per grid point, eV (required: pass zeros for a free particle). Read during the
    /// build only.
    pub potential: *const f64,
    /// Uniform effective mass, m₀ (used when `mass_field` is NULL).
    pub mass: f64,
    /// Effective mass per grid point, m₀ (NULL for the uniform `mass`). Read during the build.
    pub mass_field: *const f64,
    /// Magnetic field along z, tesla (2D, Dirichlet boundaries; 0 for none).
    pub magnetic_field: f64,
    /// Absorbing potential (faces = 0 for none).
    pub absorber: qdsim_absorber,
}

/// A matrix-free Hamiltonian.
#[allow(non_camel_case_types)]
pub struct qdsim_operator {
    operator: AnyOperator,
    manager: MemoryManager,
}

/// What an operator is.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct qdsim_operator_info {
    /// Unknowns (grid points).
    pub dim: usize,
    /// `QDSIM_SCALAR_REAL` or `QDSIM_SCALAR_COMPLEX`.
    pub scalar: qdsim_scalar,
    /// 1 when H = Hᴴ (no absorber), else 0.
    pub hermitian: i32,
    /// Exact bytes held in the pools.
    pub bytes: u64,
}

/// Writes a description with no grid (dims 0), no potential (NULL: must be set), GaAs mass
/// (`QDSIM_MASS_GAAS`, 0.067), no field and no absorber to `*out`; fill in the grid and the
/// potential.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_hamiltonian_desc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_hamiltonian_desc_default(
    out: *mut qdsim_hamiltonian_desc,
) -> qdsim_status {
    guard("qdsim_hamiltonian_desc_default", || {
        let out = out_param(out, "out")?;
        let desc = qdsim_hamiltonian_desc {
            grid: qdsim_grid::default(),
            potential: std::ptr::null(),
            mass: crate::physics::constants::GAAS_MASS,
            mass_field: std::ptr::null(),
            magnetic_field: 0.0,
            absorber: qdsim_absorber::default(),
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, desc) };
        Ok(())
    })
}

/// Fills `*out` with a hard-wall box of `dims` axes: `lengths[a]` nm with `points[a]` interior
/// points each (spacing `lengths[a] / (points[a] + 1)`).
///
/// # Safety
/// `lengths` and `points` point to `dims` values each; `out` to a writable `qdsim_grid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_grid_box(
    dims: i32,
    lengths: *const f64,
    points: *const usize,
    out: *mut qdsim_grid,
) -> qdsim_status {
    guard("qdsim_grid_box", || {
        let out = out_param(out, "out")?;
        let n = usize::try_from(dims)
            .ok()
            .filter(|d| (1..=3).contains(d))
            .ok_or_else(|| Error::invalid_argument(format!("dims {dims} must be 1, 2 or 3")))?;
        // SAFETY: `dims` values each per the contract.
        let (lengths, points) = unsafe {
            (
                in_slice(lengths, n, "lengths")?,
                in_slice(points, n, "points")?,
            )
        };
        let grid = Grid::dirichlet_box(lengths, points)?;
        let mut c = qdsim_grid {
            dims,
            ..qdsim_grid::default()
        };
        for (dst, axis) in c.axes.iter_mut().zip(grid.axes()) {
            *dst = qdsim_axis {
                points: axis.points,
                spacing: axis.spacing,
                boundary: QDSIM_BOUNDARY_DIRICHLET,
            };
        }
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, c) };
        Ok(())
    })
}

/// The Rust grid a C `qdsim_grid` describes (checked: dims, points, spacings, boundaries).
pub(crate) fn grid_from_c(g: &qdsim_grid) -> Result<Grid> {
    let dims = usize::try_from(g.dims)
        .ok()
        .filter(|d| (1..=3).contains(d))
        .ok_or_else(|| {
            Error::invalid_argument(format!("grid.dims {} must be 1, 2 or 3", g.dims))
        })?;
    let axes = g.axes[..dims]
        .iter()
        .enumerate()
        .map(|(a, axis)| {
            let boundary = match axis.boundary {
                QDSIM_BOUNDARY_DIRICHLET => Boundary::Dirichlet,
                QDSIM_BOUNDARY_PERIODIC => Boundary::Periodic,
                other => {
                    return Err(Error::invalid_argument(format!(
                        "grid.axes[{a}].boundary {other} is not QDSIM_BOUNDARY_DIRICHLET (0) or QDSIM_BOUNDARY_PERIODIC (1)"
                    )));
                }
            };
            Ok(Axis {
                points: axis.points,
                spacing: axis.spacing,
                boundary,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Grid::new(&axes)
}

/// Builds the Rust description and runs `f` on it (the arrays are borrowed from the caller
/// only for the duration of the call).
///
/// # Safety
/// `desc` is valid; its potential and non-NULL mass_field hold one value per grid point.
pub(crate) unsafe fn with_spec<R>(
    desc: *const qdsim_hamiltonian_desc,
    f: impl FnOnce(&HamiltonianSpec<'_>) -> Result<R>,
) -> Result<R> {
    // SAFETY: valid per the contract.
    let desc = unsafe { in_param(desc, "desc")? };
    let grid = grid_from_c(&desc.grid)?;
    let n = grid.len();
    if desc.potential.is_null() {
        return Err(Error::new(
            ErrorKind::NullArgument,
            format!("desc.potential is NULL; pass {n} values (eV), zeros for a free particle"),
        ));
    }
    // SAFETY: `n` values per the contract (checked non-null and aligned in in_slice).
    let potential = Some(unsafe { in_slice(desc.potential, n, "desc.potential")? });
    let mass = if desc.mass_field.is_null() {
        Mass::Uniform(desc.mass)
    } else {
        // SAFETY: as above.
        Mass::PerPoint(unsafe { in_slice(desc.mass_field, n, "desc.mass_field")? })
    };
    let absorber = (desc.absorber.faces != 0)
        .then(|| -> Result<Absorber> {
            Ok(Absorber {
                faces: desc.absorber.faces,
                width: desc.absorber.width,
                strength: desc.absorber.strength,
                order: u32::try_from(desc.absorber.order).map_err(|_| {
                    Error::invalid_argument(format!(
                        "absorber order {} must be between 1 and 16",
                        desc.absorber.order
                    ))
                })?,
            })
        })
        .transpose()?;
    let spec = HamiltonianSpec {
        grid,
        potential,
        mass,
        magnetic_field: desc.magnetic_field,
        absorber,
    };
    f(&spec)
}

/// Builds the Hamiltonian of `desc` as a CSR matrix tagged `tag` (`tag.row_ptr`, …) with
/// `scalar` elements (`QDSIM_SCALAR_AUTO`: real unless there is a field or an absorber) and
/// writes it to `*out`. Rows list their entries by increasing column; nnz is
/// 5·Nx·Ny − 2Nx − 2Ny for a 2D hard-wall box.
///
/// Errors (`QDSIM_ERR_INVALID_ARGUMENT`, with the offending field named): dims not 1–3, zero
/// points, non-positive spacing, wrong boundary, potential/mass not finite or mass ≤ 0, field on
/// a non-2D or periodic grid, absorber on a missing or periodic face, real scalars for a complex
/// Hamiltonian; `QDSIM_ERR_NULL_ARGUMENT` for a NULL desc or potential; allocation errors.
///
/// # Safety
/// `desc` points to a valid description whose potential (and mass_field, when not NULL) hold
/// one value per grid point; `tag` is NULL or NUL-terminated; `out` points to writable memory
/// for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_hamiltonian_csr(
    manager: *mut qdsim_manager,
    desc: *const qdsim_hamiltonian_desc,
    scalar: qdsim_scalar,
    tag: *const c_char,
    out: *mut *mut qdsim_csr,
) -> qdsim_status {
    guard("qdsim_hamiltonian_csr", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?.manager.clone();
        let kind = scalar_kind(scalar, true)?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("hamiltonian");
        // SAFETY: per the contract.
        let csr = unsafe { with_spec(desc, |spec| spec.csr(&manager, kind, tag))? };
        let ptr = new_csr_handle(csr, manager);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

/// Builds the Hamiltonian of `desc` as a matrix-free operator (its diagonal, and per-link
/// hoppings only for a position-dependent mass, held in the pools under `tag.diag`, `tag.hops`,
/// `tag.phases`) and writes it to `*out`. Errors as for `qdsim_hamiltonian_csr`.
///
/// # Safety
/// As for `qdsim_hamiltonian_csr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_hamiltonian_operator(
    manager: *mut qdsim_manager,
    desc: *const qdsim_hamiltonian_desc,
    scalar: qdsim_scalar,
    tag: *const c_char,
    out: *mut *mut qdsim_operator,
) -> qdsim_status {
    guard("qdsim_hamiltonian_operator", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?.manager.clone();
        let kind = scalar_kind(scalar, true)?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("hamiltonian");
        // SAFETY: per the contract.
        let operator = unsafe { with_spec(desc, |spec| spec.operator(&manager, kind, tag))? };
        let ptr = handles::new_handle(HandleKind::Operator, qdsim_operator { operator, manager });
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}

fn operator_arg(op: *const qdsim_operator) -> Result<Arc<qdsim_operator>> {
    let handle: Arc<qdsim_operator> = handles::lookup(op as usize, HandleKind::Operator, "op")?;
    check_manager_alive(&handle.manager, "qdsim_operator")?;
    Ok(handle)
}

/// Destroys an operator. NULL is a no-op.
///
/// # Safety
/// Always safe to call; the handle is checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_operator_destroy(op: *mut qdsim_operator) -> qdsim_status {
    guard("qdsim_operator_destroy", || {
        if !op.is_null() {
            handles::unregister::<qdsim_operator>(op as usize, HandleKind::Operator, "op")?;
        }
        Ok(())
    })
}

/// Writes the operator's dimension, scalar type, Hermiticity and memory to `*out`.
///
/// # Safety
/// `out` points to writable memory for a `qdsim_operator_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_operator_get_info(
    op: *const qdsim_operator,
    out: *mut qdsim_operator_info,
) -> qdsim_status {
    guard("qdsim_operator_get_info", || {
        let out = out_param(out, "out")?;
        let handle = operator_arg(op)?;
        let i = handle.operator.info();
        let info = qdsim_operator_info {
            dim: i.dim,
            scalar: scalar_value(handle.operator.kind()),
            hermitian: i.hermitian.into(),
            bytes: i.memory_bytes as u64,
        };
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, info) };
        Ok(())
    })
}

/// `y = α·H·x + β·y` for a real operator and real vectors of `dim` entries (not overlapping);
/// with β = 0, y is only written. In parallel over grid lines.
///
/// # Safety
/// `x` points to `dim` doubles and `y` to `dim` writable doubles.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_operator_apply(
    op: *const qdsim_operator,
    alpha: f64,
    x: *const f64,
    beta: f64,
    y: *mut f64,
) -> qdsim_status {
    guard("qdsim_operator_apply", || {
        let handle = operator_arg(op)?;
        let AnyOperator::Real(h) = &handle.operator else {
            return Err(Error::invalid_argument(
                "the operator is complex: use qdsim_operator_apply_complex with complex vectors",
            ));
        };
        let n = h.dim();
        check_disjoint(x, n, y, n)?;
        // SAFETY: `dim` elements each per the contract; no overlap (checked).
        let (x, y) = unsafe { (in_slice(x, n, "x")?, out_slice(y, n, "y")?) };
        h.apply(alpha, x, beta, y)
    })
}

/// `y = α·H·x + β·y` with complex vectors, for a real or complex operator.
///
/// # Safety
/// `x` points to `dim` and `y` to `dim` writable `qdsim_complex`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_operator_apply_complex(
    op: *const qdsim_operator,
    alpha: qdsim_complex,
    x: *const qdsim_complex,
    beta: qdsim_complex,
    y: *mut qdsim_complex,
) -> qdsim_status {
    guard("qdsim_operator_apply_complex", || {
        let handle = operator_arg(op)?;
        let n = handle.operator.info().dim;
        check_disjoint(x, n, y, n)?;
        // SAFETY: `dim` elements each per the contract; same layout as Complex64; no overlap.
        let (x, y) = unsafe {
            (
                in_slice(x.cast::<Complex64>(), n, "x")?,
                out_slice(y.cast::<Complex64>(), n, "y")?,
            )
        };
        handle
            .operator
            .apply_complex(alpha.into(), x, beta.into(), y)
    })
}

/// Assembles the operator as a CSR matrix tagged `tag` (same entries) and writes it to `*out`.
///
/// # Safety
/// `tag` is NULL or NUL-terminated; `out` points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qdsim_operator_to_csr(
    op: *const qdsim_operator,
    tag: *const c_char,
    out: *mut *mut qdsim_csr,
) -> qdsim_status {
    guard("qdsim_operator_to_csr", || {
        let out = out_param(out, "out")?;
        let handle = operator_arg(op)?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("hamiltonian");
        let csr = handle.operator.to_csr(tag)?;
        let ptr = new_csr_handle(csr, handle.manager.clone());
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}
