//! Matrices whose scalar type is chosen at run time (`AnyMatrix`, `AnyCsr`): what a C caller or a
//! configuration file gets, with the operations dispatched to the typed implementations.

use super::csr::CsrMatrix;
use super::dense::ManagedMatrix;
use super::scalar::{Scalar, ScalarKind};
use crate::error::{Error, Result};
use crate::memory::MemoryManager;
use num_complex::Complex64;

/// A dense matrix of either scalar type.
pub enum AnyMatrix {
    /// Real.
    Real(ManagedMatrix<f64>),
    /// Complex.
    Complex(ManagedMatrix<Complex64>),
}

impl AnyMatrix {
    /// A zero `nrows × ncols` matrix of `kind`.
    pub fn zeros(
        manager: &MemoryManager,
        kind: ScalarKind,
        nrows: usize,
        ncols: usize,
        tag: &str,
    ) -> Result<Self> {
        Ok(match kind {
            ScalarKind::Real => AnyMatrix::Real(ManagedMatrix::zeros(manager, nrows, ncols, tag)?),
            ScalarKind::Complex => {
                AnyMatrix::Complex(ManagedMatrix::zeros(manager, nrows, ncols, tag)?)
            }
        })
    }

    /// The scalar type.
    pub fn kind(&self) -> ScalarKind {
        match self {
            AnyMatrix::Real(_) => ScalarKind::Real,
            AnyMatrix::Complex(_) => ScalarKind::Complex,
        }
    }

    /// `(nrows, ncols, ld)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        match self {
            AnyMatrix::Real(m) => (m.nrows(), m.ncols(), m.ld()),
            AnyMatrix::Complex(m) => (m.nrows(), m.ncols(), m.ld()),
        }
    }

    /// Bytes held, padding included.
    pub fn size_bytes(&self) -> usize {
        match self {
            AnyMatrix::Real(m) => m.size_bytes(),
            AnyMatrix::Complex(m) => m.size_bytes(),
        }
    }

    /// The first element as an untyped raw pointer.
    pub fn data_ptr(&self) -> *mut u8 {
        match self {
            AnyMatrix::Real(m) => m.data_ptr().cast(),
            AnyMatrix::Complex(m) => m.data_ptr().cast(),
        }
    }

    /// `self = op(src)` where `op` is copy, transpose or adjoint; both must have the same scalar
    /// type and matching shapes.
    pub fn assign_from(&mut self, src: &AnyMatrix, op: DenseOp) -> Result<()> {
        fn apply<T: Scalar>(
            dst: &mut ManagedMatrix<T>,
            src: &ManagedMatrix<T>,
            op: DenseOp,
        ) -> Result<()> {
            match op {
                DenseOp::Copy => dst.copy_from(src.as_ref()),
                DenseOp::Transpose => dst.transpose_from(src.as_ref()),
                DenseOp::Adjoint => dst.adjoint_from(src.as_ref()),
            }
        }
        match (self, src) {
            (AnyMatrix::Real(d), AnyMatrix::Real(s)) => apply(d, s, op),
            (AnyMatrix::Complex(d), AnyMatrix::Complex(s)) => apply(d, s, op),
            (d, s) => Err(Error::invalid_argument(format!(
                "source is {} but destination is {}",
                s.kind().name(),
                d.kind().name()
            ))),
        }
    }
}

/// A dense operation from one matrix into another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenseOp {
    /// `dst = src`.
    Copy,
    /// `dst = srcᵀ`.
    Transpose,
    /// `dst = srcᴴ`.
    Adjoint,
}

/// A CSR matrix of either scalar type.
#[derive(Debug)]
pub enum AnyCsr {
    /// Real.
    Real(CsrMatrix<f64>),
    /// Complex.
    Complex(CsrMatrix<Complex64>),
}

impl AnyCsr {
    /// The scalar type.
    pub fn kind(&self) -> ScalarKind {
        match self {
            AnyCsr::Real(_) => ScalarKind::Real,
            AnyCsr::Complex(_) => ScalarKind::Complex,
        }
    }

    /// `(nrows, ncols, nnz, index_bits, memory_bytes)`.
    pub fn summary(&self) -> (usize, usize, usize, u32, usize) {
        match self {
            AnyCsr::Real(m) => (
                m.nrows(),
                m.ncols(),
                m.nnz(),
                m.index_bits(),
                m.memory_bytes(),
            ),
            AnyCsr::Complex(m) => (
                m.nrows(),
                m.ncols(),
                m.nnz(),
                m.index_bits(),
                m.memory_bytes(),
            ),
        }
    }

    /// `y = αAx + βy` with complex vectors (for a real or complex matrix).
    pub fn spmv_complex(
        &self,
        alpha: Complex64,
        x: &[Complex64],
        beta: Complex64,
        y: &mut [Complex64],
    ) -> Result<()> {
        match self {
            AnyCsr::Real(m) => m.spmv(alpha, x, beta, y),
            AnyCsr::Complex(m) => m.spmv(alpha, x, beta, y),
        }
    }
}
