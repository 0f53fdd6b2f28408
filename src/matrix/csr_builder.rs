//! `CsrBuilder<T>`: collects `(row, col, value)` entries in any order (growing as needed, in the
//! manager's pools), then sorts them, sums duplicates and produces a [`CsrMatrix`] with the
//! narrowest index width that fits.

use super::csr::{CsrIndex, CsrIndices, CsrMatrix, fits_i32};
use super::scalar::Scalar;
use crate::error::{Error, Result};
use crate::memory::{MemoryManager, PoolBuffer, PoolVec};

/// Builds a sparse matrix entry by entry.
pub struct CsrBuilder<T: Scalar> {
    manager: MemoryManager,
    nrows: usize,
    ncols: usize,
    tag: String,
    rows: PoolVec<i64>,
    cols: PoolVec<i64>,
    values: PoolVec<T>,
}

impl<T: Scalar> CsrBuilder<T> {
    /// A builder for an `nrows × ncols` matrix whose arrays will be tagged `tag.row_ptr`,
    /// `tag.col_idx` and `tag.values` (and `tag.entries` while building).
    pub fn new(manager: &MemoryManager, nrows: usize, ncols: usize, tag: &str) -> Result<Self> {
        if nrows >= i64::MAX as usize || ncols >= i64::MAX as usize {
            return Err(Error::invalid_argument(format!(
                "a {nrows}×{ncols} sparse matrix is too large for 64-bit indices"
            )));
        }
        let entries = format!("{tag}.entries");
        Ok(Self {
            manager: manager.clone(),
            nrows,
            ncols,
            tag: tag.to_string(),
            rows: PoolVec::new(manager, &entries),
            cols: PoolVec::new(manager, &entries),
            values: PoolVec::new(manager, &entries),
        })
    }

    /// Rows of the matrix being built.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Columns of the matrix being built.
    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Entries added so far (duplicates counted separately).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no entry has been added.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Adds `value` at `(row, col)`; entries at the same position are summed by `finalize`.
    /// A position out of range or a non-finite value is refused and nothing changes.
    pub fn add_element(&mut self, row: usize, col: usize, value: T) -> Result<()> {
        if row >= self.nrows || col >= self.ncols {
            return Err(Error::invalid_argument(format!(
                "entry ({row}, {col}) is outside the {}×{} matrix",
                self.nrows, self.ncols
            )));
        }
        if !value.is_finite_value() {
            return Err(Error::invalid_argument(format!(
                "entry ({row}, {col}) has the non-finite value {value:?}"
            )));
        }
        self.rows.reserve(1)?;
        self.cols.reserve(1)?;
        self.values.reserve(1)?;
        self.rows.push(row as i64)?;
        self.cols.push(col as i64)?;
        self.values.push(value)?;
        Ok(())
    }

    /// Sorts the entries by row and column, sums duplicates and returns the CSR matrix with the
    /// narrowest indices that fit (32-bit unless nnz or ncols exceed `i32::MAX`). The builder is
    /// emptied on success and can be reused; on failure it is unchanged.
    pub fn finalize(&mut self) -> Result<CsrMatrix<T>> {
        self.finalize_with_index_bits(None)
    }

    /// Like [`finalize`](Self::finalize) with the index width chosen by the caller: `Some(64)`
    /// for solvers built with 64-bit integers (PETSc `--with-64-bit-indices`, MKL ILP64),
    /// `Some(32)` to insist on 32-bit (an error if the matrix is too large), `None` for the
    /// narrowest.
    pub fn finalize_with_index_bits(&mut self, bits: Option<u32>) -> Result<CsrMatrix<T>> {
        let scratch = format!("{}.finalize", self.tag);
        let n = self.len();
        let (rows, cols, values) = (
            self.rows.as_slice(),
            self.cols.as_slice(),
            self.values.as_slice(),
        );

        // Counting sort by row: start[r] is where row r's entries go.
        let mut start = PoolBuffer::<i64>::zeroed(&self.manager, self.nrows + 1, &scratch)?;
        for &r in rows {
            start[r as usize + 1] += 1;
        }
        for r in 0..self.nrows {
            start[r + 1] += start[r];
        }
        let mut sorted_cols = PoolBuffer::<i64>::uninit_values(&self.manager, n, &scratch)?;
        let mut sorted_vals = PoolBuffer::<T>::uninit_values(&self.manager, n, &scratch)?;
        let mut next = PoolBuffer::<i64>::uninit_values(&self.manager, self.nrows, &scratch)?;
        next.copy_from_slice(&start[..self.nrows]);
        for k in 0..n {
            let r = rows[k] as usize;
            let slot = next[r] as usize;
            sorted_cols[slot] = cols[k];
            sorted_vals[slot] = values[k];
            next[r] += 1;
        }
        drop(next);

        // Sort each row by column and sum duplicates in place; `kept[r]` entries remain.
        let mut kept = PoolBuffer::<i64>::zeroed(&self.manager, self.nrows, &scratch)?;
        let mut row_entries: Vec<(i64, T)> = Vec::new();
        for r in 0..self.nrows {
            let (s, e) = (start[r] as usize, start[r + 1] as usize);
            row_entries.clear();
            row_entries.extend(
                sorted_cols[s..e]
                    .iter()
                    .copied()
                    .zip(sorted_vals[s..e].iter().copied()),
            );
            row_entries.sort_by_key(|&(c, _)| c);
            let mut w = s;
            for &(c, v) in &row_entries {
                if w > s && sorted_cols[w - 1] == c {
                    sorted_vals[w - 1] += v;
                } else {
                    sorted_cols[w] = c;
                    sorted_vals[w] = v;
                    w += 1;
                }
            }
            kept[r] = (w - s) as i64;
        }
        let nnz: usize = kept.iter().map(|&k| k as usize).sum();

        let mut final_values =
            PoolBuffer::<T>::uninit_values(&self.manager, nnz, &format!("{}.values", self.tag))?;
        let narrow = match bits {
            None => fits_i32(nnz, self.ncols),
            Some(64) => false,
            Some(32) if fits_i32(nnz, self.ncols) => true,
            Some(32) => {
                return Err(Error::invalid_argument(format!(
                    "{nnz} entries and {} columns do not fit 32-bit indices",
                    self.ncols
                )));
            }
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "index width {other} is not 32 or 64"
                )));
            }
        };
        let parts = (&start[..], &kept[..], &sorted_cols[..], &sorted_vals[..]);
        let indices = if narrow {
            self.compact::<i32>(parts, &mut final_values, nnz)?
        } else {
            self.compact::<i64>(parts, &mut final_values, nnz)?
        };
        let matrix = CsrMatrix::from_valid_parts(self.nrows, self.ncols, indices, final_values);
        self.rows.clear();
        self.cols.clear();
        self.values.clear();
        Ok(matrix)
    }

    /// Copies the kept entries of every row (`start`, `kept`, sorted columns and values) into
    /// final arrays of index type `I`.
    #[allow(clippy::type_complexity)]
    fn compact<I: CsrIndex>(
        &self,
        (start, kept, sorted_cols, sorted_vals): (&[i64], &[i64], &[i64], &[T]),
        final_values: &mut [T],
        nnz: usize,
    ) -> Result<CsrIndices> {
        let mut row_ptr = PoolBuffer::<I>::uninit_values(
            &self.manager,
            self.nrows + 1,
            &format!("{}.row_ptr", self.tag),
        )?;
        let mut col_idx =
            PoolBuffer::<I>::uninit_values(&self.manager, nnz, &format!("{}.col_idx", self.tag))?;
        let mut w = 0usize;
        row_ptr[0] = I::narrow(0);
        for r in 0..self.nrows {
            let s = start[r] as usize;
            for k in 0..kept[r] as usize {
                col_idx[w] = I::narrow(sorted_cols[s + k] as usize);
                final_values[w] = sorted_vals[s + k];
                w += 1;
            }
            row_ptr[r + 1] = I::narrow(w);
        }
        Ok(I::into_indices(row_ptr, col_idx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex64;

    #[test]
    fn duplicates_are_summed_and_rows_sorted() {
        let manager = MemoryManager::with_defaults().unwrap();
        let mut b = CsrBuilder::<f64>::new(&manager, 3, 4, "h").unwrap();
        for &(r, c, v) in &[
            (2, 3, 1.0),
            (0, 1, 2.0),
            (2, 0, 3.0),
            (0, 1, 4.0),
            (1, 2, 0.0),
            (2, 3, -1.0),
        ] {
            b.add_element(r, c, v).unwrap();
        }
        let m = b.finalize().unwrap();
        assert_eq!(
            m.entries(),
            vec![(0, 1, 6.0), (1, 2, 0.0), (2, 0, 3.0), (2, 3, 0.0)]
        );
        assert_eq!(m.index_bits(), 32);
        assert!(b.is_empty());
        assert_eq!(manager.tag_stats("h.values").unwrap().bytes_in_use, 4 * 8);
        assert_eq!(manager.tag_stats("h.row_ptr").unwrap().bytes_in_use, 4 * 4);
        assert_eq!(manager.tag_stats("h.finalize").unwrap().bytes_in_use, 0);
        assert_eq!(manager.tag_stats("h.entries").unwrap().bytes_in_use, 0);
        assert_eq!(m.memory_bytes(), 4 * 8 + 4 * 4 + 4 * 4);
    }

    #[test]
    fn bad_entries_are_refused() {
        let manager = MemoryManager::with_defaults().unwrap();
        let mut b = CsrBuilder::<Complex64>::new(&manager, 2, 2, "h").unwrap();
        assert!(
            b.add_element(2, 0, Complex64::ONE)
                .unwrap_err()
                .message()
                .contains("outside the 2×2")
        );
        assert!(
            b.add_element(0, 0, Complex64::new(f64::NAN, 0.0))
                .unwrap_err()
                .message()
                .contains("non-finite")
        );
        assert_eq!(b.len(), 0);
    }
}
