//! `AnyMapped`: a mapped file whose layout and element type are read from its header (what the
//! C API and tools that open arbitrary files get).

use super::csr::MappedCsr;
use super::dense::MappedDense;
use super::file::{Expect, MappedFile};
use super::header::{Header, Layout};
use crate::error::Result;
use crate::matrix::ScalarKind;
use num_complex::Complex64;
use std::path::Path;

/// A mapped matrix of any layout and element type.
pub enum AnyMapped {
    /// Dense, real.
    DenseReal(MappedDense<f64>),
    /// Dense, complex.
    DenseComplex(MappedDense<Complex64>),
    /// CSR, real.
    CsrReal(MappedCsr<f64>),
    /// CSR, complex.
    CsrComplex(MappedCsr<Complex64>),
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
        Ok(match (h.layout, h.scalar) {
            (Layout::Dense, ScalarKind::Real) => AnyMapped::DenseReal(MappedDense::wrap(file)?),
            (Layout::Dense, ScalarKind::Complex) => {
                AnyMapped::DenseComplex(MappedDense::wrap(file)?)
            }
            (Layout::Csr, ScalarKind::Real) => AnyMapped::CsrReal(MappedCsr::wrap(file)?),
            (Layout::Csr, ScalarKind::Complex) => AnyMapped::CsrComplex(MappedCsr::wrap(file)?),
        })
    }

    /// Creates a zero dense `rows × cols` file of `scalar` (writable, not yet finalized).
    pub fn create_dense(
        path: impl AsRef<Path>,
        scalar: ScalarKind,
        rows: usize,
        cols: usize,
    ) -> Result<Self> {
        Ok(match scalar {
            ScalarKind::Real => AnyMapped::DenseReal(MappedDense::create(path, rows, cols)?),
            ScalarKind::Complex => AnyMapped::DenseComplex(MappedDense::create(path, rows, cols)?),
        })
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        match self {
            AnyMapped::DenseReal(m) => m.header(),
            AnyMapped::DenseComplex(m) => m.header(),
            AnyMapped::CsrReal(m) => m.header(),
            AnyMapped::CsrComplex(m) => m.header(),
        }
    }

    /// Checks the data against the file's checksums; see [`MappedDense::verify`].
    pub fn verify(&self) -> Result<u64> {
        match self {
            AnyMapped::DenseReal(m) => m.verify(),
            AnyMapped::DenseComplex(m) => m.verify(),
            AnyMapped::CsrReal(m) => m.verify(),
            AnyMapped::CsrComplex(m) => m.verify(),
        }
    }

    /// True when mapped for writing.
    pub fn is_writable(&self) -> bool {
        match self {
            AnyMapped::DenseReal(m) => m.is_writable(),
            AnyMapped::DenseComplex(m) => m.is_writable(),
            AnyMapped::CsrReal(m) => m.is_writable(),
            AnyMapped::CsrComplex(m) => m.is_writable(),
        }
    }

    /// Writes modified pages back to the file.
    pub fn flush(&self) -> Result<()> {
        match self {
            AnyMapped::DenseReal(m) => m.flush(),
            AnyMapped::DenseComplex(m) => m.flush(),
            AnyMapped::CsrReal(m) => m.flush(),
            AnyMapped::CsrComplex(m) => m.flush(),
        }
    }

    /// Makes the data durable and marks the file finalized.
    pub fn finalize(&mut self) -> Result<()> {
        match self {
            AnyMapped::DenseReal(m) => m.finalize(),
            AnyMapped::DenseComplex(m) => m.finalize(),
            AnyMapped::CsrReal(m) => m.finalize(),
            AnyMapped::CsrComplex(m) => m.finalize(),
        }
    }
}
