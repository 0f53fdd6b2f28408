//! A supernodal sparse LU (faer's, partial pivoting) whose column elimination order the caller
//! chooses — for grid Hamiltonians, a nested-dissection order of the grid
//! (`nested_dissection.rs`). faer's `factorize_symbolic_lu` always orders by COLAMD; this runs
//! the same steps (column elimination tree, its postorder, the column counts of the Cholesky
//! factor of AᵀA, the supernodal symbolic and numeric factorisations) with the given order.

use crate::error::{Error, ErrorKind, Result};
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::perm::PermRef;
use faer::sparse::linalg::lu::supernodal::{
    SupernodalLu, factorize_supernodal_numeric_lu, factorize_supernodal_numeric_lu_scratch,
    factorize_supernodal_symbolic_lu, factorize_supernodal_symbolic_lu_scratch,
    solve_in_place_scratch,
};
use faer::sparse::linalg::qr::{
    col_etree, col_etree_scratch, column_counts_aat_scratch, column_counts_ata, postorder,
    postorder_scratch,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{Conj, Index, MatMut, Par};
use num_complex::Complex64;

/// The LU factor `P·A·Q = L·U` of a square sparse matrix, `Q` the caller's column order.
pub(crate) struct OrderedLu<I: Index> {
    lu: SupernodalLu<I, Complex64>,
    row_fwd: Vec<I>,
    row_inv: Vec<I>,
    col_fwd: Vec<I>,
    col_inv: Vec<I>,
}

fn no_memory(what: &str) -> Error {
    Error::new(
        ErrorKind::OutOfMemory,
        format!("no memory for the workspace of the {what} of the sparse LU"),
    )
}

impl<I: Index> OrderedLu<I> {
    /// Factors `a` (n × n, column-major; `at` is its transpose, also column-major), eliminating
    /// the columns in `order` (`order[e]` is the column eliminated `e`-th, a permutation of
    /// `0..n`).
    pub(crate) fn new(
        a: SparseColMatRef<'_, I, Complex64>,
        at: SparseColMatRef<'_, I, Complex64>,
        order: &[usize],
        par: Par,
    ) -> Result<Self> {
        let n = a.nrows();
        assert!(a.ncols() == n && at.nrows() == n && at.ncols() == n && order.len() == n);
        let col_fwd: Vec<I> = order.iter().map(|&c| I::truncate(c)).collect();
        let mut col_inv = vec![I::truncate(0); n];
        for (e, &c) in order.iter().enumerate() {
            col_inv[c] = I::truncate(e);
        }
        let perm = PermRef::new_checked(&col_fwd, &col_inv, n);
        let symbolic_a: SymbolicSparseColMatRef<'_, I> = a.symbolic();
        let req = StackReq::any_of(&[
            col_etree_scratch::<I>(n, n),
            postorder_scratch::<I>(n),
            column_counts_aat_scratch::<I>(n, n),
            factorize_supernodal_symbolic_lu_scratch::<I>(n, n),
        ]);
        let mut buffer = MemBuffer::try_new(req).map_err(|_| no_memory("ordering"))?;
        let stack = MemStack::new(&mut buffer);
        let mut etree_storage = vec![I::truncate(0); n];
        let etree = col_etree(symbolic_a, Some(perm), &mut etree_storage, stack);
        let mut post = vec![I::truncate(0); n];
        postorder(&mut post, etree, stack);
        let mut col_counts = vec![I::truncate(0); n];
        let mut min_col = vec![I::truncate(0); n];
        column_counts_ata(
            &mut col_counts,
            &mut min_col,
            at.symbolic(),
            Some(perm),
            etree,
            &post,
            stack,
        );
        let symbolic = factorize_supernodal_symbolic_lu(
            symbolic_a,
            Some(perm),
            &min_col,
            etree,
            &col_counts,
            stack,
            Default::default(),
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::OutOfMemory,
                format!("symbolic LU of H − σ failed: {e:?}"),
            )
        })?;
        drop((buffer, post, col_counts, min_col));
        let req =
            factorize_supernodal_numeric_lu_scratch::<I, Complex64>(&symbolic, Default::default());
        let mut buffer = MemBuffer::try_new(req).map_err(|_| no_memory("factorisation"))?;
        let mut lu = SupernodalLu::new();
        let mut row_fwd = vec![I::truncate(0); n];
        let mut row_inv = vec![I::truncate(0); n];
        factorize_supernodal_numeric_lu(
            &mut row_fwd,
            &mut row_inv,
            &mut lu,
            a,
            at,
            perm,
            &symbolic,
            par,
            MemStack::new(&mut buffer),
            Default::default(),
        )
        .map_err(|e| Error::invalid_argument(format!("H − σ is singular ({e:?})")))?;
        Ok(Self {
            lu,
            row_fwd,
            row_inv,
            col_fwd,
            col_inv,
        })
    }

    /// Workspace of [`OrderedLu::solve_in_place`] for `n` rows and `ncols` right-hand sides.
    pub(crate) fn solve_scratch(n: usize, ncols: usize, par: Par) -> StackReq {
        solve_in_place_scratch::<I, Complex64>(n, ncols, par)
    }

    /// rhs ← A⁻¹·rhs.
    pub(crate) fn solve_in_place(
        &self,
        rhs: MatMut<'_, Complex64>,
        par: Par,
        stack: &mut MemStack,
    ) {
        let n = self.row_fwd.len();
        let rows = PermRef::new_checked(&self.row_fwd, &self.row_inv, n);
        let cols = PermRef::new_checked(&self.col_fwd, &self.col_inv, n);
        self.lu
            .solve_in_place_with_conj(rows, cols, Conj::No, rhs, par, stack);
    }
}

/// The transpose of the n × n column-major matrix (`col_ptr`, `row_idx`, `values`), column-major
/// (rows sorted within each column).
pub(crate) fn transpose<I: Index>(
    n: usize,
    col_ptr: &[I],
    row_idx: &[I],
    values: &[Complex64],
) -> (Vec<I>, Vec<I>, Vec<Complex64>) {
    let nnz = values.len();
    let mut ptr = vec![0usize; n + 1];
    for &i in row_idx {
        ptr[i.zx() + 1] += 1;
    }
    for i in 0..n {
        ptr[i + 1] += ptr[i];
    }
    let mut next = ptr.clone();
    let mut t_idx = vec![I::truncate(0); nnz];
    let mut t_val = vec![Complex64::new(0.0, 0.0); nnz];
    for j in 0..n {
        for p in col_ptr[j].zx()..col_ptr[j + 1].zx() {
            let i = row_idx[p].zx();
            let q = next[i];
            next[i] += 1;
            t_idx[q] = I::truncate(j);
            t_val[q] = values[p];
        }
    }
    (ptr.into_iter().map(I::truncate).collect(), t_idx, t_val)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::solver::nested_dissection::nested_dissection;

    /// A 7-point complex matrix on grid `s`, column-major (rows sorted in each column):
    /// `diag(p)` on the diagonal of point `p`; `hop(axis, down)` couples a point to its
    /// neighbour along `axis`, below it (`down`) or above it.
    pub(crate) fn seven_point(
        s: [usize; 3],
        diag: impl Fn(usize, [usize; 3]) -> Complex64,
        hop: impl Fn(usize, bool) -> Complex64,
    ) -> (Vec<u32>, Vec<u32>, Vec<Complex64>) {
        let n: usize = s.iter().product();
        let (mut ptr, mut idx, mut val) = (vec![0u32], Vec::new(), Vec::new());
        for p in 0..n {
            let c = [p % s[0], (p / s[0]) % s[1], p / (s[0] * s[1])];
            let mut col = vec![(p, diag(p, c))];
            let mut stride = 1;
            for a in 0..3 {
                if c[a] > 0 {
                    col.push((p - stride, hop(a, true)));
                }
                if c[a] + 1 < s[a] {
                    col.push((p + stride, hop(a, false)));
                }
                stride *= s[a];
            }
            col.sort_by_key(|e| e.0);
            for (r, v) in col {
                idx.push(r as u32);
                val.push(v);
            }
            ptr.push(idx.len() as u32);
        }
        (ptr, idx, val)
    }

    /// A 7-point complex matrix with non-symmetric values (different couplings each way, as a
    /// magnetic field makes them) and a complex diagonal.
    fn grid_matrix(s: [usize; 3]) -> (Vec<u32>, Vec<u32>, Vec<Complex64>) {
        seven_point(
            s,
            |p, _| Complex64::new(6.0 + 0.01 * p as f64, 0.3),
            |a, down| {
                if down {
                    Complex64::new(-1.0, 0.2 * a as f64)
                } else {
                    Complex64::new(-0.9, -0.1)
                }
            },
        )
    }

    /// A·x = b solved through the nested-dissection factor: the residual is at rounding level
    /// (the matrix is diagonally dominant, condition number below 10, so 1e-12 relative is
    /// a thousand times rounding at most).
    #[test]
    fn solves_in_the_given_order() {
        let shape = [6, 5, 4];
        let n: usize = shape.iter().product();
        let (ptr, idx, val) = grid_matrix(shape);
        let sym = SymbolicSparseColMatRef::new_checked(n, n, &ptr, None, &idx);
        let a = SparseColMatRef::new(sym, &val);
        let (t_ptr, t_idx, t_val) = transpose(n, &ptr, &idx, &val);
        let t_sym = SymbolicSparseColMatRef::new_checked(n, n, &t_ptr, None, &t_idx);
        let at = SparseColMatRef::new(t_sym, &t_val);
        let order = nested_dissection(shape, 2);
        let lu = OrderedLu::new(a, at, &order, Par::Seq).expect("factor");
        let b: Vec<Complex64> = (0..n)
            .map(|i| Complex64::new((i as f64).sin(), (i as f64 * 0.7).cos()))
            .collect();
        let mut x = b.clone();
        let mut buffer = MemBuffer::new(OrderedLu::<u32>::solve_scratch(n, 1, Par::Seq));
        lu.solve_in_place(
            MatMut::from_column_major_slice_mut(&mut x, n, 1),
            Par::Seq,
            MemStack::new(&mut buffer),
        );
        // r = b − A·x, A column-major.
        let mut r = b.clone();
        for j in 0..n {
            for p in ptr[j] as usize..ptr[j + 1] as usize {
                r[idx[p] as usize] -= val[p] * x[j];
            }
        }
        let norm = |v: &[Complex64]| v.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
        assert!(
            norm(&r) <= 1e-12 * norm(&b),
            "residual {}",
            norm(&r) / norm(&b)
        );
    }

    /// The transpose of the transpose is the matrix, entry for entry.
    #[test]
    fn transpose_twice_is_the_identity() {
        let shape = [4, 3, 2];
        let n: usize = shape.iter().product();
        let (ptr, idx, val) = grid_matrix(shape);
        let (tp, ti, tv) = transpose(n, &ptr, &idx, &val);
        let (pp, pi, pv) = transpose(n, &tp, &ti, &tv);
        assert_eq!((pp, pi, pv), (ptr, idx, val));
    }
}
