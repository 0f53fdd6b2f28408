//! Building a Hamiltonian whose scalar type is chosen at run time: [`AnyOperator`] and the CSR
//! assembly into [`AnyCsr`], picking real arithmetic whenever the description allows it.

use super::hamiltonian::HamiltonianSpec;
use super::stencil::StencilOperator;
use crate::error::{Error, Result};
use crate::matrix::{AnyCsr, ByScalar, ScalarKind, by_scalar};
use crate::memory::MemoryManager;
use num_complex::Complex64;

/// A matrix-free Hamiltonian of either scalar type.
pub type AnyOperator = ByScalar<StencilOperator<f64>, StencilOperator<Complex64>>;

/// Size and kind of an operator ([`AnyOperator::info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperatorInfo {
    /// Grid points (the dimension of H).
    pub dim: usize,
    /// True when H = Hᴴ (no absorber).
    pub hermitian: bool,
    /// Bytes the operator holds.
    pub memory_bytes: usize,
}

impl AnyOperator {
    /// Dimension, Hermiticity and bytes held.
    pub fn info(&self) -> OperatorInfo {
        by_scalar!(self, op => OperatorInfo {
            dim: op.dim(),
            hermitian: op.is_hermitian(),
            memory_bytes: op.memory_bytes(),
        })
    }

    /// `y = αHx + βy` with complex vectors.
    pub fn apply_complex(
        &self,
        alpha: Complex64,
        x: &[Complex64],
        beta: Complex64,
        y: &mut [Complex64],
    ) -> Result<()> {
        by_scalar!(self, op => op.apply(alpha, x, beta, y))
    }

    /// The operator assembled as CSR.
    pub fn to_csr(&self, tag: &str) -> Result<AnyCsr> {
        Ok(by_scalar!(map self, op => op.to_csr(tag)?))
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
        let kind = self.build_kind(kind)?;
        Ok(by_scalar!(new kind, T => StencilOperator::<T>::new(manager, self, tag)?))
    }

    /// The scalar type to build with: `kind`, or real when `None` and the description allows
    /// it; real for a complex Hamiltonian is refused.
    pub(crate) fn build_kind(&self, kind: Option<ScalarKind>) -> Result<ScalarKind> {
        let natural = self.scalar_kind();
        let kind = kind.unwrap_or(natural);
        if kind == ScalarKind::Real && natural == ScalarKind::Complex {
            return Err(Error::invalid_argument(
                "this Hamiltonian is complex (magnetic field or absorbing potential) and cannot be built with real scalars",
            ));
        }
        Ok(kind)
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
