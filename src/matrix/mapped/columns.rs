//! Copying columns of a [`MappedDense`] to and from a caller's strided buffer (column `k` of the
//! range at `buffer[k·ld ..]`, `ld ≥ rows`): the range and leading-dimension checks and the copy,
//! shared by the C API's `qdsim_mapped_read_columns` / `qdsim_mapped_write_columns`.

use super::dense::MappedDense;
use crate::error::{Error, Result};
use crate::matrix::Scalar;

impl<T: Scalar> MappedDense<T> {
    /// Elements a buffer with leading dimension `ld` must hold for columns
    /// `first .. first + count` (`ld·(count − 1) + rows`, 0 for no column), after checking that
    /// the columns exist and that `ld ≥ max(1, rows)`.
    pub fn columns_buffer_len(&self, first: usize, count: usize, ld: usize) -> Result<usize> {
        let (rows, cols) = (self.nrows(), self.ncols());
        let end = first.checked_add(count);
        if end.is_none_or(|end| end > cols) {
            return Err(Error::invalid_argument(format!(
                "columns {first} .. {first} + {count} are outside the {rows}×{cols} matrix"
            )));
        }
        if ld < rows.max(1) {
            return Err(Error::invalid_argument(format!(
                "buffer leading dimension {ld} is smaller than max(1, rows = {rows})"
            )));
        }
        if count == 0 {
            return Ok(0);
        }
        ld.checked_mul(count - 1)
            .and_then(|x| x.checked_add(rows))
            .ok_or_else(|| Error::invalid_argument("buffer size overflows size_t"))
    }

    /// Copies columns `first .. first + count` into `dst` (column `k` at `dst[k·ld ..]`);
    /// `dst` holds at least [`columns_buffer_len`](Self::columns_buffer_len) elements.
    pub fn read_columns(&self, first: usize, count: usize, dst: &mut [T], ld: usize) -> Result<()> {
        let len = self.columns_buffer_len(first, count, ld)?;
        check_buffer(dst.len(), len)?;
        let rows = self.nrows();
        for k in 0..count {
            dst[k * ld..k * ld + rows].copy_from_slice(self.col(first + k));
        }
        Ok(())
    }

    /// Copies `count` columns from `src` (column `k` at `src[k·ld ..]`) into columns
    /// `first .. first + count`. Refused for a read-only mapping, even for no column; marks the
    /// file unfinalized when a column is written.
    pub fn write_columns(
        &mut self,
        first: usize,
        count: usize,
        src: &[T],
        ld: usize,
    ) -> Result<()> {
        self.require_writable()?;
        let len = self.columns_buffer_len(first, count, ld)?;
        check_buffer(src.len(), len)?;
        let rows = self.nrows();
        for k in 0..count {
            self.col_mut(first + k)?
                .copy_from_slice(&src[k * ld..k * ld + rows]);
        }
        Ok(())
    }
}

fn check_buffer(have: usize, need: usize) -> Result<()> {
    if have < need {
        return Err(Error::invalid_argument(format!(
            "the buffer holds {have} elements but the columns need {need}"
        )));
    }
    Ok(())
}
