//! Sparse matrices to and from the files other programs read: PETSc's binary format (for
//! handing a Hamiltonian to PETSc/SLEPc, `MatLoad`) and MatrixMarket coordinate text (for
//! scipy, Julia, MATLAB, and eyes).
//!
//! Reading goes through [`CsrBuilder`](crate::matrix::CsrBuilder), so entries may come in any
//! order and the result has the narrowest index width that fits. A file that does not follow
//! its format is refused with [`ErrorKind::CorruptFile`](crate::ErrorKind::CorruptFile) and a
//! message saying what is wrong and where (byte offset or line number); a file that cannot be
//! opened, read or written gives [`ErrorKind::Io`](crate::ErrorKind::Io).
//!
//! | file | what lives there |
//! |---|---|
//! | `petsc.rs` | [`write_petsc`](crate::io::write_petsc), [`read_petsc`](crate::io::read_petsc): big-endian PETSc `Mat` binary, 32- or 64-bit ints |
//! | `matrix_market.rs` | [`write_matrix_market`](crate::io::write_matrix_market), [`read_matrix_market`](crate::io::read_matrix_market): coordinate and array, all symmetries |
//! | `open.rs` | what every reader of untrusted files shares: regular files only, bounded lines, memory checks |
//!
//! Every reader refuses what is not a regular file (a FIFO, a directory, a device) with
//! [`ErrorKind::Io`](crate::ErrorKind::Io) instead of blocking or reading forever, caps the
//! length of a text line, checks every size it reads with overflow-checked arithmetic, and
//! allocates fallibly: a size that cannot be held gives
//! [`ErrorKind::OutOfMemory`](crate::ErrorKind::OutOfMemory) (or the manager's
//! [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded)), never an abort.

mod matrix_market;
pub(crate) mod open;
mod petsc;

pub use matrix_market::{
    read_matrix_market, read_matrix_market_from, write_matrix_market, write_matrix_market_to,
};
pub use petsc::{
    MAT_FILE_CLASSID, read_petsc, read_petsc_from, write_petsc, write_petsc_to,
    write_petsc_with_int_bits,
};

use crate::error::{Error, ErrorKind};
use std::path::Path;

/// An [`ErrorKind::Io`] error for `path` while `doing` something.
fn io_error(path: &Path, doing: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("{}: cannot {doing}: {e}", path.display()),
    )
}
