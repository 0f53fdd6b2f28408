//! Matrices in memory-mapped files, for problems larger than RAM: dense matrices and blocks of
//! vectors ([`MappedDense`]) and CSR matrices ([`MappedCsr`]), real or complex, in a
//! self-describing, checksummed, page-aligned format (see [`header`]).
//!
//! A file is written in two steps: `create` (or `from_*`) writes a header in the *writing*
//! state, `finalize` makes the data durable and only then marks the header *finalized*. Opening
//! refuses, with [`ErrorKind::CorruptFile`](crate::ErrorKind::CorruptFile) and a message saying
//! exactly what is wrong, any file that is unfinalized, truncated, of another format version,
//! damaged (bad magic, header checksum, sizes that do not match the file length, CSR structure)
//! or of another layout or element type than asked for. Read-only mappings refuse every write.
//!
//! | file | what lives there |
//! |---|---|
//! | `header.rs` | the format: [`Header`], its encoding, checksum and checks |
//! | `file.rs` | the open file and its mapping: create, open, flush, finalize, grow |
//! | `dense.rs` | [`MappedDense`]: column-major, aligned columns, faer views, grow by columns |
//! | `csr.rs` | [`MappedCsr`]: 32/64-bit indices, validated on open, faer view |
//! | `any.rs` | [`AnyMapped`] ([`AnyMappedDense`], [`AnyMappedCsr`]): layout and element type read from the file |
//! | `columns.rs` | [`MappedDense::read_columns`] / [`write_columns`](MappedDense::write_columns): columns to and from a strided buffer |

mod any;
mod columns;
mod csr;
mod dense;
mod file;
pub mod header;

pub use any::{AnyMapped, AnyMappedCsr, AnyMappedDense};
pub use csr::{MappedCsr, MappedIndices};
pub use dense::MappedDense;
pub use header::{Header, Layout, Section};
