//! `AnyMapped`: a mapped file whose layout and element type are read from its header (what the
//! C API and tools that open arbitrary files get): dense or CSR, each an [`AnyMappedDense`] or
//! [`AnyMappedCsr`] of either scalar type.

use super::csr::MappedCsr;
use super::dense::MappedDense;
use super::file::{Expect, MappedFile};
use super::header::{Header, Layout};
use crate::error::Result;
use crate::matrix::{ByScalar, ScalarKind, by_scalar};
use num_complex::Complex64;
use std::path::Path;

/// A dense mapped matrix of either element type.
pub type AnyMappedDense = ByScalar<MappedDense<f64>, MappedDense<Complex64>>;

/// A mapped CSR matrix of either element type.
pub type AnyMappedCsr = ByScalar<MappedCsr<f64>, MappedCsr<Complex64>>;

/// A mapped matrix of any layout and element type.
pub enum AnyMapped {
    /// Dense, real or complex.
    Dense(AnyMappedDense),
    /// CSR, real or complex.
    Csr(AnyMappedCsr),
}

/// `expr` with `m` bound to the typed mapped matrix inside an [`AnyMapped`], whatever it is.
macro_rules! any_mapped {
    ($value:expr, $m:ident => $body:expr) => {
        match $value {
            AnyMapped::Dense(d) => by_scalar!(d, $m => $body),
            AnyMapped::Csr(c) => by_scalar!(c, $m => $body),
        }
    };
}

impl AnyMapped {
    /// Opens a finalized file of any layout and element type (CSR files are validated).
    pub fn open(path: impl AsRef<Path>, writable: bool) -> Result<Self> {
        Self::open_checked(path.as_ref(), writable, false)
    }

    /// Like [`open`](Self::open), after verifying the data checksums (see
    /// [`MappedDense::verify`]).
    pub fn open_verified(path: impl AsRef<Path>, writable: bool) -> Result<Self> {
        Self::open_checked(path.as_ref(), writable, true)
    }

    fn open_checked(path: &Path, writable: bool, verify: bool) -> Result<Self> {
        let expect = Expect {
            verify,
            ..Expect::default()
        };
        let file = MappedFile::open(path, writable, expect)?;
        let h = file.header();
        let (layout, kind) = (h.layout, h.scalar);
        Ok(match layout {
            Layout::Dense => {
                AnyMapped::Dense(by_scalar!(new kind, T => MappedDense::<T>::wrap(file)?))
            }
            Layout::Csr => AnyMapped::Csr(by_scalar!(new kind, T => MappedCsr::<T>::wrap(file)?)),
        })
    }

    /// Creates a zero dense `rows × cols` file of `scalar` (writable, not yet finalized).
    pub fn create_dense(
        path: impl AsRef<Path>,
        scalar: ScalarKind,
        rows: usize,
        cols: usize,
    ) -> Result<Self> {
        let path = path.as_ref();
        Ok(AnyMapped::Dense(
            by_scalar!(new scalar, T => MappedDense::<T>::create(path, rows, cols)?),
        ))
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        any_mapped!(self, m => m.header())
    }

    /// Checks the data against the file's checksums; see [`MappedDense::verify`].
    pub fn verify(&self) -> Result<u64> {
        any_mapped!(self, m => m.verify())
    }

    /// True when mapped for writing.
    pub fn is_writable(&self) -> bool {
        any_mapped!(self, m => m.is_writable())
    }

    /// Writes modified pages back to the file.
    pub fn flush(&self) -> Result<()> {
        any_mapped!(self, m => m.flush())
    }

    /// Makes the data durable and marks the file finalized.
    pub fn finalize(&mut self) -> Result<()> {
        any_mapped!(self, m => m.finalize())
    }
}
