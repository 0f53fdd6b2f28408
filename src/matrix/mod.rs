//! Matrices in a manager's pools: dense (`ManagedMatrix`), sparse CSR (`CsrMatrix`, built with
//! `CsrBuilder`), and the cache-blocked dense kernels; and matrices in memory-mapped files
//! ([`mapped`]).
//!
//! | file | what lives there |
//! |---|---|
//! | `scalar.rs` | [`Scalar`] (`f64`, `Complex64`) and [`ScalarKind`] |
//! | `any.rs` | [`AnyMatrix`], [`AnyCsr`]: the scalar type chosen at run time |
//! | `dense.rs` | [`ManagedMatrix`]: column-major, 64-byte-aligned columns, faer views |
//! | `blocked.rs` | cache-blocked copy, transpose, conjugate transpose |
//! | `csr.rs` | [`CsrMatrix`]: 32- or 64-bit indices, parallel SpMV, faer views |
//! | `csr_builder.rs` | [`CsrBuilder`]: entries in any order, duplicates summed |
//! | `mapped/` | [`mapped`]: dense and CSR matrices in memory-mapped files |

mod any;
pub mod blocked;
mod csr;
mod csr_builder;
mod dense;
pub mod mapped;
mod scalar;

pub use any::{AnyCsr, AnyMatrix, DenseOp};
pub(crate) use csr::{CsrIndex, apply_columns, fits_i32};
pub use csr::{CsrIndices, CsrMatrix, FaerCsr};
pub use csr_builder::CsrBuilder;
pub use dense::{ManagedMatrix, aligned_ld};
pub use scalar::{Scalar, ScalarKind};
