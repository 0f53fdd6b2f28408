//! Building a Hamiltonian whose scalar type is chosen at run time: [`AnyOperator`] and the CSR
//! assembly into [`AnyCsr`], picking real arithmetic whenever the description allows it.

use super::hamiltonian::HamiltonianSpec;
use super::stencil::StencilOperator;
use crate::error::{Error, Result};
use crate::matrix::{AnyCsr, ScalarKind};
use crate::memory::MemoryManager;
use num_complex::Complex64;

/// A matrix-free Hamiltonian of either scalar type.
#[derive(Debug)]
pub enum AnyOperator {
    /// Real (no field, no absorber).
    Real(StencilOperator<f64>),
    /// Complex.
    Complex(StencilOperator<Complex64>),
}

impl AnyOperator {
    /// The scalar type.
    pub fn kind(&self) -> ScalarKind {
        match self {
            AnyOperator::Real(_) => ScalarKind::Real,
            AnyOperator::Complex(_) => ScalarKind::Complex,
        }
    }

    /// `(dimension, hermitian, memory_bytes)`.
    pub fn summary(&self) -> (usize, bool, usize) {
        match self {
            AnyOperator::Real(op) => (op.dim(), op.is_hermitian(), op.memory_bytes()),
            AnyOperator::Complex(op) => (op.dim(), op.is_hermitian(), op.memory_bytes()),
        }
    }

    /// `y = αHx + βy` with complex vectors.
    pub fn apply_complex(
        &self,
        alpha: Complex64,
        x: &[Complex64],
        beta: Complex64,
        y: &mut [Complex64],
    ) -> Result<()> {
        match self {
            AnyOperator::Real(op) => op.apply(alpha, x, beta, y),
            AnyOperator::Complex(op) => op.apply(alpha, x, beta, y),
        }
    }

    /// The operator assembled as CSR.
    pub fn to_csr(&self, tag: &str) -> Result<AnyCsr> {
        Ok(match self {
            AnyOperator::Real(op) => AnyCsr::Real(op.to_csr(tag)?),
            AnyOperator::Complex(op) => AnyCsr::Complex(op.to_csr(tag)?),
        })
    }
}

impl HamiltonianSpec<'_> {
    /// The matrix-free operator, real when `kind` is `None` and the description allows it.
    pub fn operator(
        &self,
        manager: &MemoryManager,
        kind: Option<ScalarKind>,
        tag: &str,
    ) -> Result<AnyOperator> {
        let natural = self.scalar_kind();
        Ok(match kind.unwrap_or(natural) {
            ScalarKind::Real if natural == ScalarKind::Complex => {
                return Err(Error::invalid_argument(
                    "this Hamiltonian is complex (magnetic field or absorbing potential) and cannot be built with real scalars",
                ));
            }
            ScalarKind::Real => AnyOperator::Real(StencilOperator::new(manager, self, tag)?),
            ScalarKind::Complex => AnyOperator::Complex(StencilOperator::new(manager, self, tag)?),
        })
    }

    /// The Hamiltonian assembled as CSR (the operator's entries, stored).
    pub fn csr(
        &self,
        manager: &MemoryManager,
        kind: Option<ScalarKind>,
        tag: &str,
    ) -> Result<AnyCsr> {
        self.operator(manager, kind, &format!("{tag}.stencil"))?
            .to_csr(tag)
    }
}
