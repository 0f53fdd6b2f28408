//! Matrices in a manager's pools: dense (`ManagedMatrix`), sparse CSR (`CsrMatrix`, built with
//! `CsrBuilder`), and the cache-blocked dense kernels; and matrices in memory-mapped files
//! ([`mapped`](crate::matrix::mapped)).
//!
//! | file | what lives there |
//! |---|---|
//! | `scalar.rs` | [`Scalar`](crate::matrix::Scalar) (`f64`, `Complex64`, each with its single-precision storage type: [`Load`](crate::matrix::Load), [`Store`](crate::matrix::Store)) and [`ScalarKind`](crate::matrix::ScalarKind) |
//! | `by_scalar.rs` | [`ByScalar`](crate::matrix::ByScalar): real-or-complex values, and `by_scalar!`, the one way to dispatch on them |
//! | `any.rs` | [`AnyMatrix`](crate::matrix::AnyMatrix), [`AnyCsr`](crate::matrix::AnyCsr) ([`CsrInfo`](crate::matrix::CsrInfo)): the scalar type chosen at run time |
//! | `shape.rs` | [`require_square`](crate::matrix::require_square): the one "not square" refusal |
//! | `dense.rs` | [`ManagedMatrix`](crate::matrix::ManagedMatrix): column-major, 64-byte-aligned columns, faer views |
//! | `blocked.rs` | cache-blocked copy, transpose, conjugate transpose |
//! | `vectorized.rs` | `vectorized`: the element-wise kernels compiled for AVX2 + FMA where the CPU has them |
//! | `csr.rs` | [`CsrMatrix`](crate::matrix::CsrMatrix): 32- or 64-bit indices, parallel SpMV, faer views |
//! | `csr_builder.rs` | [`CsrBuilder`](crate::matrix::CsrBuilder): entries in any order, duplicates summed |
//! | `mapped/` | [`mapped`](crate::matrix::mapped): dense and CSR matrices in memory-mapped files |

mod any;
pub mod blocked;
mod by_scalar;
mod csr;
mod csr_builder;
mod dense;
pub mod mapped;
mod scalar;
mod shape;
mod vectorized;

pub use any::{AnyCsr, AnyMatrix, CsrInfo, DenseOp};
pub use by_scalar::ByScalar;
pub(crate) use by_scalar::by_scalar;
pub(crate) use csr::{CsrIndex, apply_columns, fits_i32};
pub use csr::{CsrIndices, CsrMatrix, FaerCsr};
pub use csr_builder::CsrBuilder;
pub use dense::{ManagedMatrix, aligned_ld};
pub use scalar::{Load, Scalar, ScalarKind, Store};
pub(crate) use scalar::{narrow_into, single_range, widen_into};
pub use shape::require_square;
pub(crate) use vectorized::vectorized;
