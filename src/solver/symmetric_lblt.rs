//! The factor of a complex *symmetric* sparse matrix (A = Aᵀ, as H − σ is for a grid
//! Hamiltonian without a magnetic field, absorber included) through its real-equivalent form:
//! with A = A_r + i·A_i,
//!
//! ```text
//! K = [ A_r   A_i ]    K·(x_r, −x_i) = (Re A·x, Im A·x),
//!     [ A_i  −A_r ]
//! ```
//!
//! a real symmetric indefinite matrix of twice the order, each point's two unknowns adjacent,
//! factored by faer's supernodal `L·B·Lᵀ` (Bunch–Kaufman pivoting inside supernodes; a point's
//! 2 × 2 block always lies in one). It has the fill of A's own pattern, where an LU with partial
//! pivoting (`ordered_lu.rs`) must allow for that of AᵀA and stores L and U apart: the 3D open
//! dot's solves on 30³ and 60³ grids hold less than half the memory they held with the LU, in
//! the same time (`docs/benchmarks.md`). Its real arithmetic costs what complex arithmetic on A
//! would.
//!
//! The pivoting is restricted to supernodes, so the factor is checked once it is made (one
//! solve against a product with A); a factor that fails the check is not used
//! ([`SymmetricLblt::new`] returns `None`) and the caller takes the LU.
//!
//! **Precision.** The factor is made in `f64` or, where it only preconditions (a multigrid's
//! bottom level), in `f32` ([`LbltReal`]): half the memory and the solves' traffic, and the
//! dense kernels of the supernodes do twice the work per vector instruction. The right-hand
//! sides are narrowed to the factor's precision for the solve and widened after it.

use crate::error::{Error, ErrorKind, Result};
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::perm::PermRef;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::sparse::linalg::cholesky::{
    IntranodeLbltRef, SymbolicCholesky, SymmetricOrdering, factorize_symbolic_cholesky,
};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
use faer::{Conj, Index, MatMut, Par, Side};
use num_complex::Complex64;

/// The real scalar a factor is computed and stored in.
pub(crate) trait LbltReal: faer::traits::RealField + Copy {
    /// Backward error a factor's check solve must reach: pivoting confined to supernodes can
    /// lose accuracy on indefinite matrices (growth of the factor's entries), which this
    /// catches. A backward-stable solve leaves about the rounding unit times a modest growth
    /// factor: 10⁻¹⁵–10⁻¹³ in `f64`, 10⁻⁷–10⁻⁵ in `f32`; the bound refuses only a factor that
    /// lost most of its digits (10⁻⁹ and 10⁻³).
    const CHECK_RESIDUAL: f64;
    fn narrow(v: f64) -> Self;
    fn widen(self) -> f64;
}

impl LbltReal for f64 {
    const CHECK_RESIDUAL: f64 = 1e-9;
    fn narrow(v: f64) -> Self {
        v
    }
    fn widen(self) -> f64 {
        self
    }
}

impl LbltReal for f32 {
    const CHECK_RESIDUAL: f64 = 1e-3;
    fn narrow(v: f64) -> Self {
        v as f32
    }
    fn widen(self) -> f64 {
        self.into()
    }
}

/// The `L·B·Lᵀ` factor of the real-equivalent form of a complex symmetric matrix, in `R`.
pub(crate) struct SymmetricLblt<I: Index, R: LbltReal> {
    symbolic: SymbolicCholesky<I>,
    values: Vec<R>,
    subdiag: Vec<R>,
    perm_fwd: Vec<I>,
    perm_inv: Vec<I>,
}

fn no_memory(what: &str) -> Error {
    Error::new(
        ErrorKind::OutOfMemory,
        format!("no memory for the {what} of the symmetric sparse factor"),
    )
}

/// True when the column-major `a` equals its transpose, value for value.
pub(crate) fn is_symmetric<I: Index>(a: SparseColMatRef<'_, I, Complex64>) -> bool {
    let (ptr, idx, val) = (a.symbolic().col_ptr(), a.symbolic().row_idx(), a.val());
    (0..a.ncols()).all(|j| {
        (ptr[j].zx()..ptr[j + 1].zx()).all(|p| {
            let i = idx[p].zx();
            let column = &idx[ptr[i].zx()..ptr[i + 1].zx()];
            match column.binary_search(&I::truncate(j)) {
                Ok(q) => val[ptr[i].zx() + q] == val[p],
                Err(_) => false,
            }
        })
    })
}

/// The lower triangle of the real-equivalent form of the symmetric `a` (column-major): column
/// pointers, row indices, values; `None` when they do not fit index type `I`.
fn real_equivalent_lower<I: Index, R: LbltReal>(
    a: SparseColMatRef<'_, I, Complex64>,
) -> Option<(Vec<I>, Vec<I>, Vec<R>)> {
    let n = a.ncols();
    let (ptr, idx, val) = (a.symbolic().col_ptr(), a.symbolic().row_idx(), a.val());
    let nnz_lower: usize = (0..n)
        .map(|j| {
            (ptr[j].zx()..ptr[j + 1].zx())
                .filter(|&p| idx[p].zx() >= j)
                .map(|p| if idx[p].zx() == j { 3 } else { 4 })
                .sum::<usize>()
        })
        .sum();
    if I::truncate(nnz_lower).zx() != nnz_lower || I::truncate(2 * n).zx() != 2 * n {
        return None;
    }
    let (mut k_ptr, mut k_idx, mut k_val) = (
        Vec::with_capacity(2 * n + 1),
        Vec::with_capacity(nnz_lower),
        Vec::with_capacity(nnz_lower),
    );
    k_ptr.push(I::truncate(0));
    for j in 0..n {
        let lower = (ptr[j].zx()..ptr[j + 1].zx()).filter(|&p| idx[p].zx() >= j);
        // Column 2j: rows 2i (Re a_ij) and 2i + 1 (Im a_ij).
        for p in lower.clone() {
            let i = idx[p].zx();
            k_idx.extend([I::truncate(2 * i), I::truncate(2 * i + 1)]);
            k_val.extend([R::narrow(val[p].re), R::narrow(val[p].im)]);
        }
        k_ptr.push(I::truncate(k_idx.len()));
        // Column 2j + 1: rows 2i (Im a_ij; below the diagonal only for i > j) and 2i + 1
        // (−Re a_ij).
        for p in lower {
            let i = idx[p].zx();
            if i > j {
                k_idx.push(I::truncate(2 * i));
                k_val.push(R::narrow(val[p].im));
            }
            k_idx.push(I::truncate(2 * i + 1));
            k_val.push(R::narrow(-val[p].re));
        }
        k_ptr.push(I::truncate(k_idx.len()));
    }
    Some((k_ptr, k_idx, k_val))
}

impl<I: Index, R: LbltReal> SymmetricLblt<I, R> {
    /// Factors the complex symmetric `a` (n × n, column-major, both triangles stored),
    /// eliminating its points in `order` (`order[e]` is the point eliminated `e`-th; each
    /// point's two real unknowns go together). `Ok(None)`: the indices do not fit `I`, or the
    /// factor failed its check (see the module notes); the caller then takes an LU.
    pub(crate) fn new(
        a: SparseColMatRef<'_, I, Complex64>,
        order: &[usize],
        par: Par,
    ) -> Result<Option<Self>> {
        let n = a.nrows();
        assert!(a.ncols() == n && order.len() == n);
        let Some((k_ptr, k_idx, k_val)) = real_equivalent_lower(a) else {
            return Ok(None);
        };
        let k_sym = SymbolicSparseColMatRef::new_checked(2 * n, 2 * n, &k_ptr, None, &k_idx);
        let k = SparseColMatRef::new(k_sym, &k_val);
        let fwd: Vec<I> = order
            .iter()
            .flat_map(|&p| [I::truncate(2 * p), I::truncate(2 * p + 1)])
            .collect();
        let mut inv = vec![I::truncate(0); 2 * n];
        for (e, &p) in fwd.iter().enumerate() {
            inv[p.zx()] = I::truncate(e);
        }
        let symbolic = factorize_symbolic_cholesky(
            k_sym,
            Side::Lower,
            SymmetricOrdering::Custom(PermRef::new_checked(&fwd, &inv, 2 * n)),
            Default::default(),
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::OutOfMemory,
                format!("symbolic factorisation of H − σ failed: {e:?}"),
            )
        })?;
        let req = symbolic.factorize_numeric_intranode_lblt_scratch::<R>(par, Default::default());
        let mut buffer = MemBuffer::try_new(req).map_err(|_| no_memory("factorisation"))?;
        let mut values = vec![R::narrow(0.0); symbolic.len_val()];
        let mut subdiag = vec![R::narrow(0.0); 2 * n];
        let (mut perm_fwd, mut perm_inv) =
            (vec![I::truncate(0); 2 * n], vec![I::truncate(0); 2 * n]);
        symbolic.factorize_numeric_intranode_lblt(
            &mut values,
            &mut subdiag,
            &mut perm_fwd,
            &mut perm_inv,
            k,
            Side::Lower,
            par,
            MemStack::new(&mut buffer),
            Default::default(),
        );
        drop(buffer);
        let factor = Self {
            symbolic,
            values,
            subdiag,
            perm_fwd,
            perm_inv,
        };
        Ok(factor.passes_check(a, par)?.then_some(factor))
    }

    /// One solve of `a·y = b` for a fixed `b`: the backward error
    /// `‖b − a·y‖ / (‖a‖·‖y‖ + ‖b‖)` reaches [`LbltReal::CHECK_RESIDUAL`]. (The backward error, not the
    /// error in y: a shift close to an eigenvalue makes `a` ill-conditioned, and a sound factor
    /// then still solves with a tiny backward error.)
    fn passes_check(&self, a: SparseColMatRef<'_, I, Complex64>, par: Par) -> Result<bool> {
        let n = a.nrows();
        let (ptr, idx, val) = (a.symbolic().col_ptr(), a.symbolic().row_idx(), a.val());
        // a·v, column-major: column j scatters v_j.
        let product = |v: &[Complex64]| {
            let mut out = vec![Complex64::new(0.0, 0.0); n];
            for j in 0..n {
                for p in ptr[j].zx()..ptr[j + 1].zx() {
                    out[idx[p].zx()] += val[p] * v[j];
                }
            }
            out
        };
        let b: Vec<Complex64> = (0..n)
            .map(|i| Complex64::new(1.0 + (i % 7) as f64 * 0.25, ((i % 5) as f64 - 2.0) * 0.5))
            .collect();
        let mut y = b.clone();
        let mut buffer =
            MemBuffer::try_new(self.solve_scratch(1, par)).map_err(|_| no_memory("check"))?;
        self.solve_in_place(
            MatMut::from_column_major_slice_mut(&mut y, n, 1),
            par,
            MemStack::new(&mut buffer),
        );
        let ay = product(&y);
        let norm2 = |v: &mut dyn Iterator<Item = f64>| v.sum::<f64>().sqrt();
        let residual = norm2(&mut b.iter().zip(&ay).map(|(b, ay)| (b - ay).norm_sqr()));
        // ‖a‖₁ (= ‖a‖∞: a is symmetric) bounds ‖a‖₂.
        let a_norm = (0..n)
            .map(|j| {
                (ptr[j].zx()..ptr[j + 1].zx())
                    .map(|p| val[p].norm())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        let y_norm = norm2(&mut y.iter().map(|z| z.norm_sqr()));
        let b_norm = norm2(&mut b.iter().map(|z| z.norm_sqr()));
        // NaN (a zero pivot) fails too.
        Ok(residual <= R::CHECK_RESIDUAL * (a_norm * y_norm + b_norm))
    }

    /// Workspace of [`SymmetricLblt::solve_in_place`] for `ncols` right-hand sides.
    pub(crate) fn solve_scratch(&self, ncols: usize, par: Par) -> StackReq {
        StackReq::new::<R>(self.subdiag.len() * ncols)
            .and(self.symbolic.solve_in_place_scratch::<R>(ncols, par))
    }

    /// rhs ← A⁻¹·rhs, through the real-equivalent right-hand sides `(Re b, Im b)`, whose
    /// solution is `(Re x, −Im x)`.
    pub(crate) fn solve_in_place(
        &self,
        mut rhs: MatMut<'_, Complex64>,
        par: Par,
        stack: &mut MemStack,
    ) {
        let (n, k) = (rhs.nrows(), rhs.ncols());
        let (mut real, stack) = stack.make_with(2 * n * k, |_| R::narrow(0.0));
        for (j, dst) in real.chunks_exact_mut(2 * n).enumerate() {
            for (d, z) in dst.chunks_exact_mut(2).zip(rhs.rb().col(j).iter()) {
                d.copy_from_slice(&[R::narrow(z.re), R::narrow(z.im)]);
            }
        }
        let lblt = IntranodeLbltRef::new(
            &self.symbolic,
            &self.values,
            &self.subdiag,
            PermRef::new_checked(&self.perm_fwd, &self.perm_inv, 2 * n),
        );
        lblt.solve_in_place_with_conj(
            Conj::No,
            MatMut::from_column_major_slice_mut(&mut real, 2 * n, k),
            par,
            stack,
        );
        for (j, src) in real.chunks_exact(2 * n).enumerate() {
            for (z, s) in rhs.rb_mut().col_mut(j).iter_mut().zip(src.chunks_exact(2)) {
                *z = Complex64::new(s[0].widen(), -s[1].widen());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solver::nested_dissection::nested_dissection;
    use crate::solver::ordered_lu::tests::seven_point;

    /// A 7-point complex symmetric matrix on grid `s`: the same coupling each way per axis, a
    /// complex diagonal well inside the spectrum of the real part (indefinite, as H − σ at a
    /// resonance is), a negative imaginary part on one face's layer (an absorber).
    fn symmetric_grid_matrix(s: [usize; 3]) -> (Vec<u32>, Vec<u32>, Vec<Complex64>) {
        seven_point(
            s,
            |p, c| {
                let absorb = if c[0] + 2 >= s[0] { -0.4 } else { 0.0 };
                Complex64::new(3.1 + 0.01 * (p % 3) as f64, absorb)
            },
            |a, _| Complex64::new([-1.0, -0.8, -1.2][a], 0.0),
        )
    }

    /// The largest error of `factor`'s solve of A·x = b for `k` known right-hand sides x.
    fn solve_error<R: LbltReal>(
        factor: &SymmetricLblt<u32, R>,
        (ptr, idx, val): (&[u32], &[u32], &[Complex64]),
        k: usize,
    ) -> f64 {
        let n = ptr.len() - 1;
        let x: Vec<Complex64> = (0..n * k)
            .map(|e| Complex64::new((e as f64 * 0.37).sin(), (e as f64 * 0.11).cos()))
            .collect();
        let mut b = vec![Complex64::new(0.0, 0.0); n * k];
        for c in 0..k {
            for j in 0..n {
                for p in ptr[j] as usize..ptr[j + 1] as usize {
                    b[c * n + idx[p] as usize] += val[p] * x[c * n + j];
                }
            }
        }
        let mut buffer = MemBuffer::new(factor.solve_scratch(k, Par::Seq));
        factor.solve_in_place(
            MatMut::from_column_major_slice_mut(&mut b, n, k),
            Par::Seq,
            MemStack::new(&mut buffer),
        );
        b.iter()
            .zip(&x)
            .map(|(y, x)| (y - x).norm())
            .fold(0.0, f64::max)
    }

    /// A·x = b for several right-hand sides: the error against the known x is at rounding
    /// level times the condition number (about 6·10³ for this shift: 1e-10 leaves a margin of
    /// more than 10² over the 7·10⁻¹³ measured). The factor's check passes, and fails for another
    /// matrix.
    #[test]
    fn solves_an_indefinite_complex_symmetric_grid_matrix() {
        let shape = [9, 7, 6];
        let n: usize = shape.iter().product();
        let (ptr, idx, val) = symmetric_grid_matrix(shape);
        let sym = SymbolicSparseColMatRef::new_checked(n, n, &ptr, None, &idx);
        let a = SparseColMatRef::new(sym, &val);
        assert!(is_symmetric(a));
        let factor = SymmetricLblt::<u32, f64>::new(a, &nested_dissection(shape, 1), Par::Seq)
            .expect("factor")
            .expect("passes its check");
        let error = solve_error(&factor, (&ptr, &idx, &val), 3);
        assert!(error < 1e-10, "largest error {error:e}");
        // The check is not vacuous: it refuses this factor for the matrix with its diagonal
        // 1 % larger.
        assert!(factor.passes_check(a, Par::Seq).unwrap());
        let shifted: Vec<Complex64> = (0..n)
            .flat_map(|j| (ptr[j] as usize..ptr[j + 1] as usize).map(move |p| (j, p)))
            .map(|(j, p)| val[p] * if idx[p] as usize == j { 1.01 } else { 1.0 })
            .collect();
        let other = SparseColMatRef::new(sym, &shifted);
        assert!(!factor.passes_check(other, Par::Seq).unwrap());
    }

    /// The single-precision factor solves the same system to f32's accuracy: its rounding unit
    /// 6·10⁻⁸ times the matrix's condition number (about 6·10³: the double solve above errs by
    /// 7·10⁻¹³) is 4·10⁻⁴, measured 3.7·10⁻⁴; 5·10⁻³ leaves a margin and still tells a solve
    /// from a wrong factor. It passes its own, looser check.
    #[test]
    fn the_single_precision_factor_solves_to_its_accuracy() {
        let shape = [9, 7, 6];
        let n: usize = shape.iter().product();
        let (ptr, idx, val) = symmetric_grid_matrix(shape);
        let sym = SymbolicSparseColMatRef::new_checked(n, n, &ptr, None, &idx);
        let a = SparseColMatRef::new(sym, &val);
        let factor = SymmetricLblt::<u32, f32>::new(a, &nested_dissection(shape, 1), Par::Seq)
            .expect("factor")
            .expect("passes its check");
        let error = solve_error(&factor, (&ptr, &idx, &val), 1);
        assert!(error < 5e-3, "largest error {error:e}");
        assert!(error > 1e-12, "a single-precision solve rounds ({error:e})");
    }

    /// A matrix with one coupling changed on one side is not symmetric.
    #[test]
    fn an_unsymmetric_value_is_seen() {
        let shape = [4, 3, 2];
        let n: usize = shape.iter().product();
        let (ptr, idx, mut val) = symmetric_grid_matrix(shape);
        let sym = SymbolicSparseColMatRef::new_checked(n, n, &ptr, None, &idx);
        assert!(is_symmetric(SparseColMatRef::new(sym, &val)));
        val[1] += Complex64::new(0.0, 1e-12);
        assert!(!is_symmetric(SparseColMatRef::new(sym, &val)));
    }
}
