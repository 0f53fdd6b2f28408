//! One rank's share of a distributed matrix: rows `[begin, end)` of the Hamiltonian with
//! global column indices, assembled from the description without building the global operator
//! (no per-point array of the whole grid is allocated; memory O(rows)). The local CSR arrays are
//! what PETSc's `MatCreateMPIAIJWithArrays` / `MatMPIAIJSetPreallocationCSR` take: row pointers
//! starting at 0, sorted global columns, in the index width of `PetscInt`.
//!
//! The entries come from `elements.rs`, the same functions the matrix-free operator and
//! [`HamiltonianSpec::csr`] use, so the slabs of any split, stacked, equal the global CSR bit
//! for bit.

use super::elements::{Elements, link_value, row_into};
use super::hamiltonian::HamiltonianSpec;
use super::magnetic::peierls_phases;
use crate::error::{Error, Result};
use crate::matrix::{AnyCsr, CsrIndex, CsrMatrix, Scalar, ScalarKind, by_scalar, fits_i32};
use crate::memory::{MemoryManager, PoolBuffer};
use std::ops::Range;

impl HamiltonianSpec<'_> {
    /// Rows `rows` of the Hamiltonian as a `rows.len() × N` CSR matrix (N the grid's points)
    /// with global column indices, in `manager`'s pools tagged `tag.row_ptr`, `tag.col_idx`,
    /// `tag.values`. `kind` as for [`csr`](Self::csr); `index_bits` is 32 or 64 (32 requires N
    /// and the slab's entries to fit in `i32`).
    ///
    /// Errors (`InvalidArgument`, nothing allocated): an invalid description, an empty,
    /// reversed or out-of-grid range, an index width other than 32/64 or one too narrow.
    pub fn csr_rows(
        &self,
        manager: &MemoryManager,
        kind: Option<ScalarKind>,
        rows: Range<usize>,
        index_bits: u32,
        tag: &str,
    ) -> Result<AnyCsr> {
        self.validate()?;
        let kind = self.build_kind(kind)?;
        let n = self.grid.len();
        if rows.start >= rows.end || rows.end > n {
            return Err(Error::invalid_argument(format!(
                "row range [{}, {}) is not a non-empty range within the grid's {n} rows",
                rows.start, rows.end
            )));
        }
        match index_bits {
            32 if n > i32::MAX as usize => {
                return Err(Error::invalid_argument(format!(
                    "the matrix has {n} columns: global indices do not fit 32 bits (use 64)"
                )));
            }
            32 | 64 => {}
            other => {
                return Err(Error::invalid_argument(format!(
                    "index width {other}: only 32 and 64 bits exist"
                )));
            }
        }
        Ok(by_scalar!(new kind, T => assemble::<T>(manager, self, rows, index_bits, tag)?))
    }
}

/// The slab with scalars `T` (the kind and range already checked).
fn assemble<T: Scalar>(
    manager: &MemoryManager,
    spec: &HamiltonianSpec<'_>,
    rows: Range<usize>,
    index_bits: u32,
    tag: &str,
) -> Result<CsrMatrix<T>> {
    let elements = Elements::new(spec);
    // Peierls phase factors: one per grid row and column (2D only), not per point.
    let phases: Option<(Vec<T>, Vec<T>)> = (spec.magnetic_field != 0.0).then(|| {
        let (x_links, y_links) = peierls_phases(&spec.grid, spec.magnetic_field);
        let convert = |v: Vec<_>| -> Vec<T> {
            v.into_iter()
                .map(|z| T::from_complex(z).expect("complex scalars checked by build_kind"))
                .collect()
        };
        (convert(x_links), convert(y_links))
    });
    let phases = phases.as_ref().map(|(px, py)| (&px[..], &py[..]));
    let row = |p: usize, out: &mut Vec<(usize, T)>| {
        row_into(
            &elements.topology,
            p,
            elements.diagonal(p),
            |a, q, c| link_value(elements.hop(a, q), phases, a, c),
            out,
        )
    };

    let mut entries = Vec::with_capacity(7);
    let mut nnz = 0usize;
    for p in rows.clone() {
        row(p, &mut entries);
        nnz += entries.len();
    }
    let n = spec.grid.len();
    if index_bits == 32 && !fits_i32(nnz, n) {
        return Err(Error::invalid_argument(format!(
            "rows [{}, {}) hold {nnz} entries: their row pointers do not fit 32 bits (use 64)",
            rows.start, rows.end
        )));
    }
    let mut values = PoolBuffer::<T>::uninit_values(manager, nnz, &format!("{tag}.values"))?;
    fn fill<I: CsrIndex, T: Scalar>(
        manager: &MemoryManager,
        rows: Range<usize>,
        nnz: usize,
        tag: &str,
        values: &mut [T],
        row: impl Fn(usize, &mut Vec<(usize, T)>),
    ) -> Result<crate::matrix::CsrIndices> {
        let narrow = I::narrow;
        let mut row_ptr =
            PoolBuffer::<I>::uninit_values(manager, rows.len() + 1, &format!("{tag}.row_ptr"))?;
        let mut col_idx = PoolBuffer::<I>::uninit_values(manager, nnz, &format!("{tag}.col_idx"))?;
        let mut entries = Vec::with_capacity(7);
        let mut w = 0;
        row_ptr[0] = narrow(0);
        for (r, p) in rows.enumerate() {
            row(p, &mut entries);
            for &(col, value) in &entries {
                col_idx[w] = narrow(col);
                values[w] = value;
                w += 1;
            }
            row_ptr[r + 1] = narrow(w);
        }
        Ok(I::into_indices(row_ptr, col_idx))
    }
    let local_rows = rows.len();
    let indices = if index_bits == 32 {
        fill::<i32, T>(manager, rows, nnz, tag, &mut values, row)?
    } else {
        fill::<i64, T>(manager, rows, nnz, tag, &mut values, row)?
    };
    Ok(CsrMatrix::from_valid_parts(local_rows, n, indices, values))
}
