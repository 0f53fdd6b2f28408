//! `qdsim_hamiltonian_assemble_rows`: rows `[row_begin, row_end)` of the Hamiltonian of a
//! `qdsim_hamiltonian_desc`, with global column indices, as a `qdsim_csr` of
//! `(row_end − row_begin) × N` — one MPI rank's share, in the form PETSc's
//! `MatCreateMPIAIJWithArrays` and `MatMPIAIJSetPreallocationCSR` take (row pointers from 0,
//! sorted global columns, `int32_t` or `int64_t` to match `PetscInt`). The library itself knows
//! nothing of MPI: each rank calls this for its own rows.
//!
//! Thread safety: reads the description only; the result is an ordinary, immutable `qdsim_csr`.

use super::boundary::{guard, optional_str, out_param, write_out};
use super::csr::{new_csr_handle, qdsim_csr};
use super::hamiltonian::{qdsim_hamiltonian_desc, with_spec};
use super::manager::{manager_arg, qdsim_manager};
use super::status::qdsim_status;
use super::types::{qdsim_scalar, scalar_kind};
use crate::error::Error;
use std::ffi::c_char;

/// Assembles rows `row_begin ≤ p < row_end` of the Hamiltonian of `desc` (the rows a rank owns
/// in a distributed matrix) and writes them to `*out` as a `(row_end − row_begin) × N` CSR
/// matrix, N the grid's points: `row_ptr` starts at 0, `col_idx` holds **global** column indices
/// sorted within each row, and the values are those of `qdsim_hamiltonian_csr` bit for bit
/// (stacking the slabs of any split gives its matrix). `index_bits` is 32 (`int32_t` arrays) or
/// 64 (`int64_t`): pass `8 * sizeof(PetscInt)`. `scalar` as for `qdsim_hamiltonian_csr`. The
/// arrays (`qdsim_csr_arrays`) are tagged `tag.row_ptr`, `tag.col_idx`, `tag.values` and held by
/// the manager until `qdsim_csr_destroy`; PETSc copies them, so destroy the slab once the `Mat`
/// is built.
///
/// Memory: the slab only — about (rows + 1) + 7·rows indices and 7·rows values in 3D, no array
/// of the whole grid (the description's potential and mass arrays are the caller's, one value
/// per grid point, read only at the points these rows touch and checked whole).
///
/// Errors (`QDSIM_ERR_INVALID_ARGUMENT`, nothing allocated, `*out` untouched): an empty or
/// reversed range (`row_begin ≥ row_end`), `row_end` beyond N, an `index_bits` other than 32
/// or 64, 32 bits when N (or the slab's entry count) exceeds `INT32_MAX`, and every error of
/// `qdsim_hamiltonian_csr`; `QDSIM_ERR_NULL_ARGUMENT` for a NULL desc, potential or out.
///
/// # Safety
/// As for `qdsim_hamiltonian_csr`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn qdsim_hamiltonian_assemble_rows(
    manager: *mut qdsim_manager,
    desc: *const qdsim_hamiltonian_desc,
    scalar: qdsim_scalar,
    row_begin: usize,
    row_end: usize,
    index_bits: i32,
    tag: *const c_char,
    out: *mut *mut qdsim_csr,
) -> qdsim_status {
    guard("qdsim_hamiltonian_assemble_rows", || {
        let out = out_param(out, "out")?;
        let manager = manager_arg(manager)?.manager.clone();
        let kind = scalar_kind(scalar, true)?;
        let bits = u32::try_from(index_bits).map_err(|_| {
            Error::invalid_argument(format!(
                "index_bits {index_bits}: only 32 and 64 bits exist"
            ))
        })?;
        // SAFETY: NULL or NUL-terminated per the contract.
        let tag = unsafe { optional_str(tag, "tag")? }.unwrap_or("hamiltonian");
        // SAFETY: per the contract.
        let csr = unsafe {
            with_spec(desc, |spec| {
                spec.csr_rows(&manager, kind, row_begin..row_end, bits, tag)
            })?
        };
        let ptr = new_csr_handle(csr, manager);
        // SAFETY: checked by out_param; writable per the contract.
        unsafe { write_out(out, ptr) };
        Ok(())
    })
}
