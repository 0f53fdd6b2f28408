//! [`DeviceOperator`]: what the GPU eigensolver needs from a Hamiltonian on the device — its
//! dimension, its pool, and `Y = H·X` for a block of columns queued on the pool's stream.
//! Implemented by the NVRTC stencil ([`DeviceStencil`](super::DeviceStencil)) and by cuSPARSE
//! CSR ([`DeviceCsr`](super::DeviceCsr)).

use super::buffer::DeviceVec;
use super::pool::DevicePool;
use crate::error::{Error, Result};
use crate::matrix::Scalar;

/// A square operator whose products run on a device.
pub trait DeviceOperator<T: Scalar> {
    /// Rows and columns.
    fn dim(&self) -> usize;

    /// The pool whose stream runs the products (and that holds the operator's arrays).
    fn pool(&self) -> &DevicePool;

    /// `Y = H·X` for `columns` columns, queued on the pool's stream: column `j` of X starts at
    /// `x + j·ldx` elements, of Y at `y + j·ldy` (`dim() ≤ ldx, ldy`).
    ///
    /// # Safety
    /// Both blocks are live device memory of the pool's device with those shapes, stay live
    /// until the stream has run the product, and do not overlap.
    unsafe fn apply_block(&self, x: (u64, usize), y: (u64, usize), columns: usize) -> Result<()>;

    /// `y = H·x` for one vector each, complete on return.
    fn apply(&self, x: &DeviceVec<'_, T>, y: &mut DeviceVec<'_, T>) -> Result<()> {
        let n = self.dim();
        if x.len() != n || y.len() != n {
            return Err(Error::invalid_argument(format!(
                "the operator has {n} rows; x has {} and y {} elements",
                x.len(),
                y.len()
            )));
        }
        // SAFETY: two distinct live arrays of n elements (y is borrowed mutably, so it is not
        // x); the stream is synchronized before they can be dropped.
        unsafe { self.apply_block((x.address(), n), (y.address(), n), 1)? };
        self.pool().synchronize()
    }
}
