//! Shape checks shared by every layer that needs a square matrix (eigensolvers, symmetric file
//! formats, the C API), so that the refusal reads the same wherever it comes from.

use crate::error::{Error, Result};

/// Refuses a matrix that is not square: `{what} must be square, not {nrows}×{ncols}`
/// (`InvalidArgument`). `what` names the matrix for the message, e.g. "the matrix" or "H".
///
/// ```
/// use qdsim_mem::matrix::require_square;
///
/// assert!(require_square(3, 3, "H").is_ok());
/// let e = require_square(2, 3, "the matrix").unwrap_err();
/// assert_eq!(e.message(), "the matrix must be square, not 2×3");
/// ```
pub fn require_square(nrows: usize, ncols: usize, what: &str) -> Result<()> {
    if nrows == ncols {
        Ok(())
    } else {
        Err(Error::invalid_argument(format!(
            "{what} must be square, not {nrows}×{ncols}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn square_passes_and_the_refusal_names_the_matrix_and_its_shape() {
        assert!(require_square(0, 0, "x").is_ok());
        let e = require_square(4, 5, "an eigenproblem operator").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            e.message(),
            "an eigenproblem operator must be square, not 4×5"
        );
    }
}
