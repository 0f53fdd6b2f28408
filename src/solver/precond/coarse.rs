//! The exact solve at the bottom of a multigrid V-cycle: a sparse Cholesky factor of `H + s` on
//! the coarsest grid (AMD order, faer's factorisation), its values in the manager's pool.
//!
//! Why sparse: every V-cycle ends with one solve on the coarsest grid, and a hierarchy's
//! coarsest grid has up to 1200 points. A dense factor of it (6.2 MiB at 30², `f64`) was read
//! whole by each of those solves: 0.12 s of a 1.15 s solve of the 2D dot at 1000², lowest 10
//! (about 480 V-cycles). The grid's stencil couples each point to its 4 (2D) or 6 (3D)
//! neighbours, so the factor has a few tens of values per row instead of up to n (10 231 in
//! all at 30², against 810 000), and a solve reads about 100 KiB (docs/benchmarks.md, "The
//! coarsest solve with a sparse factor").

use crate::error::{Error, ErrorKind, Result};
use crate::matrix::Scalar;
use crate::memory::{ExternalAccount, MemoryManager, PoolBuffer};
use crate::physics::StencilOperator;
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::sparse::linalg::cholesky::{LltRef, SymbolicCholesky, factorize_symbolic_cholesky};
use faer::sparse::{SparseColMat, Triplet};
use faer::{Conj, MatMut, Par, Side};

/// The tag of the factor's values (in the pool) and of what faer holds beside them.
const TAG: &str = "solver.multigrid.coarsest";

/// A factored `H + s` on the coarsest grid.
pub(super) struct CoarseSolve<T: Scalar> {
    n: usize,
    /// Boxed: faer's structure is a few hundred bytes, most of a hierarchy's size otherwise.
    symbolic: Box<SymbolicCholesky<usize>>,
    values: PoolBuffer<T>,
    /// The symbolic factorisation (faer's `Vec`s, its box).
    _symbolic_account: ExternalAccount,
}

/// Bytes of the symbolic factorisation of an `n`-point factor with `len_val` values: its
/// column pointers, row indices, the fill-reducing permutation and its inverse, the
/// elimination tree and the supernode bounds — each at most `n + 1` or `len_val` indices —
/// and the structure itself.
fn symbolic_bytes(n: usize, len_val: usize) -> u64 {
    ((len_val + 5 * (n + 1)) * size_of::<usize>() + size_of::<SymbolicCholesky<usize>>()) as u64
}

impl<T: Scalar> CoarseSolve<T> {
    /// Factors `op + shift` (positive definite: the shift lies below the spectrum's
    /// Gershgorin bound, see `Multigrid::new`).
    pub(super) fn new(
        manager: &MemoryManager,
        op: &StencilOperator<T>,
        shift: f64,
    ) -> Result<Self> {
        let n = op.dim();
        let csr = op.to_csr(TAG)?;
        // The stored entries as faer's column-major matrix, through a list of the entries and
        // one of faer's triplets (transient copies: counted while they live). For a Hermitian
        // H, entry (r, c) of row r is entry r of column c.
        let entry_bytes = (csr.nnz() * size_of::<(usize, usize, T)>()) as u64;
        let triplet_bytes = (csr.nnz() * size_of::<Triplet<usize, usize, T>>()) as u64;
        let csc_bytes = (csr.nnz() * (size_of::<usize>() + size_of::<T>())
            + (n + 1) * size_of::<usize>()) as u64;
        let _copy = manager.external_account(TAG, entry_bytes + triplet_bytes + csc_bytes)?;
        let entries = csr.entries();
        drop(csr);
        let triplets: Vec<_> = entries
            .iter()
            .map(|&(r, c, v)| {
                let v = if r == c { v + T::from_real(shift) } else { v };
                Triplet::new(r, c, v)
            })
            .collect();
        drop(entries);
        let a = SparseColMat::<usize, T>::try_new_from_triplets(n, n, &triplets).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("coarsest multigrid matrix: {e:?}"),
            )
        })?;
        drop(triplets);
        // Reserved before faer allocates it, for a factor as full as a dense one; the actual
        // size once known.
        let mut symbolic_account =
            manager.external_account(TAG, symbolic_bytes(n, n * (n + 1) / 2))?;
        let symbolic = factorize_symbolic_cholesky(
            a.symbolic(),
            Side::Lower,
            Default::default(),
            Default::default(),
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::OutOfMemory,
                format!("symbolic Cholesky of the coarsest multigrid matrix failed: {e:?}"),
            )
        })?;
        symbolic_account.resize(symbolic_bytes(n, symbolic.len_val()))?;
        let mut values = PoolBuffer::<T>::uninit_values(manager, symbolic.len_val(), TAG)?;
        let scratch = symbolic.factorize_numeric_llt_scratch::<T>(Par::Seq, Default::default());
        let _scratch_account = manager.external_account(TAG, scratch.size_bytes() as u64)?;
        let mut mem = MemBuffer::try_new(scratch).map_err(|_| {
            Error::new(
                ErrorKind::OutOfMemory,
                "no memory for the coarsest factorisation's workspace",
            )
        })?;
        symbolic
            .factorize_numeric_llt(
                &mut values,
                a.as_ref(),
                Side::Lower,
                Default::default(),
                Par::Seq,
                MemStack::new(&mut mem),
                Default::default(),
            )
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("coarsest multigrid matrix is not positive definite: {e:?}"),
                )
            })?;
        Ok(Self {
            n,
            symbolic: Box::new(symbolic),
            values,
            _symbolic_account: symbolic_account,
        })
    }

    /// Bytes the solve holds: the factor's values and the symbolic factorisation.
    pub(super) fn memory_bytes(&self) -> u64 {
        self.values.size_bytes() as u64 + symbolic_bytes(self.n, self.symbolic.len_val())
    }

    /// The workspace of a solve of `columns` right-hand sides.
    pub(super) fn scratch(&self, columns: usize) -> StackReq {
        self.symbolic.solve_in_place_scratch::<T>(columns, Par::Seq)
    }

    /// [`solve_in_place`](Self::solve_in_place) in a workspace of its own, counted in the
    /// factor's manager while it lives.
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    pub(super) fn solve_block_in_place(&self, b: MatMut<'_, T>) -> Result<()> {
        let scratch = self.scratch(b.ncols());
        let _account = self
            .values
            .manager()
            .external_account(TAG, scratch.size_bytes() as u64)?;
        let mut stack = MemBuffer::try_new(scratch).map_err(|_| {
            Error::new(
                ErrorKind::OutOfMemory,
                "no memory for the coarsest solve's workspace",
            )
        })?;
        self.solve_in_place(b, MemStack::new(&mut stack));
        Ok(())
    }

    /// `b ← (H + s)⁻¹·b` for every column of `b`, in `stack` (at least
    /// [`scratch`](Self::scratch) of `b`'s columns).
    pub(super) fn solve_in_place(&self, b: MatMut<'_, T>, stack: &mut MemStack) {
        LltRef::new(&self.symbolic, &self.values).solve_in_place_with_conj(
            Conj::No,
            b,
            Par::Seq,
            stack,
        );
    }
}

#[cfg(test)]
mod tests {
    //! The sparse factor's solve against faer's dense Cholesky of the same matrix.
    use super::*;
    use crate::physics::{Grid, HamiltonianSpec, parabolic_potential};
    use crate::solver::operator::Operator;
    use crate::solver::random::fill_random;
    use faer::Mat;
    use faer::linalg::solvers::Solve;
    use num_complex::Complex64;

    /// Solves `(H + s)·X = B` for three random right-hand sides both ways.
    fn against_dense<T: Scalar>(spec: &HamiltonianSpec<'_>) {
        let manager = MemoryManager::with_defaults().unwrap();
        let op = StencilOperator::<T>::new(&manager, spec, "h").unwrap();
        let (lower, upper) = op.gershgorin_bounds();
        // Well inside the positive definite range: H + s has condition number below ~11, so
        // both solves agree to a few units of rounding times that.
        let shift = -lower + 0.1 * (upper - lower);
        let coarse = CoarseSolve::new(&manager, &op, shift).unwrap();
        let n = op.dim();
        let mut dense = op.to_csr("h.csr").unwrap().to_dense();
        for i in 0..n {
            dense[(i, i)] += T::from_real(shift);
        }
        let llt = dense.llt(Side::Lower).unwrap();
        let mut b = Mat::<T>::zeros(n, 3);
        for j in 0..3 {
            let column = b.as_mut().col_mut(j).try_as_col_major_mut().unwrap();
            fill_random(column.as_slice_mut(), 11, j);
        }
        let mut sparse = b.clone();
        coarse.solve_block_in_place(sparse.as_mut()).unwrap();
        let mut one = b.col(1).to_owned();
        let mut stack = MemBuffer::new(coarse.scratch(1));
        coarse.solve_in_place(one.as_mat_mut(), MemStack::new(&mut stack));
        llt.solve_in_place(b.as_mut());
        let error = (&sparse - &b).norm_l2() / b.norm_l2();
        // Both backward stable on a matrix of condition < 11: 1e-13 is ~100 rounding units.
        assert!(error < 1e-13, "relative difference {error:e}");
        let single = (&one - b.col(1)).norm_l2() / b.col(1).norm_l2();
        assert!(single < 1e-13, "one column: relative difference {single:e}");
        assert!(coarse.memory_bytes() < (n * n * size_of::<T>()) as u64 / 4);
    }

    #[test]
    fn the_sparse_factor_solves_like_the_dense_one() {
        let square = Grid::dirichlet_box(&[120.0, 120.0], &[31, 31]).unwrap();
        let mut v = vec![0.0; square.len()];
        parabolic_potential(&square, 0.067, 0.010, &mut v).unwrap();
        let plain = HamiltonianSpec::new(square, 0.067, Some(&v));
        against_dense::<f64>(&plain);
        against_dense::<Complex64>(&HamiltonianSpec {
            magnetic_field: 2.0,
            ..plain.clone()
        });
        let cube = Grid::dirichlet_box(&[60.0, 60.0, 60.0], &[8, 8, 8]).unwrap();
        let mut v3 = vec![0.0; cube.len()];
        parabolic_potential(&cube, 0.067, 0.010, &mut v3).unwrap();
        against_dense::<f64>(&HamiltonianSpec::new(cube, 0.067, Some(&v3)));
    }
}
