//! Assembly of a [`StencilOperator`] into a [`CsrMatrix`]: the same matrix elements, stored.
//! Row pointers are counted first, so every array is allocated once at its final size (32-bit
//! indices when they fit).

use super::stencil::StencilOperator;
use crate::error::{Error, Result};
use crate::matrix::{CsrIndex, CsrIndices, CsrMatrix, Scalar, fits_i32};
use crate::memory::PoolBuffer;

impl<T: Scalar> StencilOperator<T> {
    /// The operator as a CSR matrix in `manager`'s pools, tagged `tag.row_ptr`, `tag.col_idx`,
    /// `tag.values`. Rows hold their entries in increasing column order.
    pub fn to_csr(&self, tag: &str) -> Result<CsrMatrix<T>> {
        self.to_csr_with_index_bits(tag, None)
    }

    /// [`to_csr`](Self::to_csr) with the index width chosen: `Some(64)` forces 64-bit indices
    /// (what codes built for any size store), `Some(32)` requires that they fit in 32 bits
    /// (`InvalidArgument` otherwise), `None` takes 32 bits when they fit.
    pub fn to_csr_with_index_bits(&self, tag: &str, bits: Option<u32>) -> Result<CsrMatrix<T>> {
        let manager = self.diagonal_manager();
        let n = self.dim();
        let mut row = Vec::with_capacity(7);
        let mut nnz = 0usize;
        for p in 0..n {
            self.row(p, &mut row);
            nnz += row.len();
        }
        let mut values = PoolBuffer::<T>::uninit_values(manager, nnz, &format!("{tag}.values"))?;
        let narrow = match bits {
            None => fits_i32(nnz, n),
            Some(64) => false,
            Some(32) if fits_i32(nnz, n) => true,
            Some(32) => {
                return Err(Error::invalid_argument(format!(
                    "{nnz} entries of an {n}×{n} matrix do not fit 32-bit indices"
                )));
            }
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "index width {other}: only 32 and 64 bits exist"
                )));
            }
        };
        let indices = if narrow {
            self.fill::<i32>(tag, nnz, &mut values)?
        } else {
            self.fill::<i64>(tag, nnz, &mut values)?
        };
        Ok(CsrMatrix::from_valid_parts(n, n, indices, values))
    }

    /// Writes every row's entries into `values` and new index arrays of width `I`.
    fn fill<I: CsrIndex>(&self, tag: &str, nnz: usize, values: &mut [T]) -> Result<CsrIndices> {
        let manager = self.diagonal_manager();
        let n = self.dim();
        let narrow = I::narrow;
        let mut row_ptr =
            PoolBuffer::<I>::uninit_values(manager, n + 1, &format!("{tag}.row_ptr"))?;
        let mut col_idx = PoolBuffer::<I>::uninit_values(manager, nnz, &format!("{tag}.col_idx"))?;
        let mut row = Vec::with_capacity(7);
        let mut w = 0;
        row_ptr[0] = narrow(0);
        for p in 0..n {
            self.row(p, &mut row);
            for &(col, value) in &row {
                col_idx[w] = narrow(col);
                values[w] = value;
                w += 1;
            }
            row_ptr[p + 1] = narrow(w);
        }
        Ok(I::into_indices(row_ptr, col_idx))
    }
}
