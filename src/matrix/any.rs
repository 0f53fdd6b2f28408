//! Matrices whose scalar type is chosen at run time (`AnyMatrix`, `AnyCsr`): what a C caller or a
//! configuration file gets, with the operations dispatched to the typed implementations through
//! [`ByScalar`] and `by_scalar!`.

use super::by_scalar::{ByScalar, by_scalar};
use super::csr::CsrMatrix;
use super::dense::ManagedMatrix;
use super::scalar::{Scalar, ScalarKind};
use crate::error::{Error, Result};
use crate::memory::MemoryManager;
use num_complex::Complex64;

/// A dense matrix of either scalar type.
pub type AnyMatrix = ByScalar<ManagedMatrix<f64>, ManagedMatrix<Complex64>>;

impl AnyMatrix {
    /// A zero `nrows × ncols` matrix of `kind`.
    pub fn zeros(
        manager: &MemoryManager,
        kind: ScalarKind,
        nrows: usize,
        ncols: usize,
        tag: &str,
    ) -> Result<Self> {
        Ok(by_scalar!(new kind, T => ManagedMatrix::<T>::zeros(manager, nrows, ncols, tag)?))
    }

    /// `(nrows, ncols, ld)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        by_scalar!(self, m => (m.nrows(), m.ncols(), m.ld()))
    }

    /// Bytes held, padding included.
    pub fn size_bytes(&self) -> usize {
        by_scalar!(self, m => m.size_bytes())
    }

    /// The first element as an untyped raw pointer.
    pub fn data_ptr(&self) -> *mut u8 {
        by_scalar!(self, m => m.data_ptr().cast())
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
            (ByScalar::Real(d), ByScalar::Real(s)) => apply(d, s, op),
            (ByScalar::Complex(d), ByScalar::Complex(s)) => apply(d, s, op),
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
pub type AnyCsr = ByScalar<CsrMatrix<f64>, CsrMatrix<Complex64>>;

/// Shape and storage of a CSR matrix ([`AnyCsr::info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsrInfo {
    /// Rows.
    pub nrows: usize,
    /// Columns.
    pub ncols: usize,
    /// Stored entries.
    pub nnz: usize,
    /// Width of the row pointers and column indices: 32 or 64.
    pub index_bits: u32,
    /// Exact bytes of the three arrays.
    pub memory_bytes: usize,
}

impl AnyCsr {
    /// Shape, entries, index width and bytes.
    pub fn info(&self) -> CsrInfo {
        by_scalar!(self, m => CsrInfo {
            nrows: m.nrows(),
            ncols: m.ncols(),
            nnz: m.nnz(),
            index_bits: m.index_bits(),
            memory_bytes: m.memory_bytes(),
        })
    }

    /// `y = αAx + βy` with complex vectors (for a real or complex matrix).
    pub fn spmv_complex(
        &self,
        alpha: Complex64,
        x: &[Complex64],
        beta: Complex64,
        y: &mut [Complex64],
    ) -> Result<()> {
        by_scalar!(self, m => m.spmv(alpha, x, beta, y))
    }
}
