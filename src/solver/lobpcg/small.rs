//! Dense helpers on the small projected matrices of the block solvers: the Hermitian eigen-
//! decomposition of a Rayleigh–Ritz matrix, and SVQB orthonormalisation of a block against an
//! orthonormal block (which also drops directions that have become linearly dependent).
//!
//! The orthonormalisation works on any [`ColumnBlock`]: the host's row-chunked columns
//! (`block.rs`) or the GPU's device blocks (`gpu/block.rs`), so both solvers share the math.

use super::block::{Cols, combine, combine_ritz, gram};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::Scalar;
use faer::{Mat, MatRef, Side};
use std::ops::Range;

/// A set of equally long columns and the two kernels SVQB needs on it; implemented for the
/// host's [`Cols`] and for the GPU's device blocks.
pub(crate) trait ColumnBlock<T: Scalar>: Sized {
    /// Number of columns.
    fn count(&self) -> usize;
    /// Columns `range`.
    fn columns(&self, range: Range<usize>) -> Self;
    /// The columns of `parts`, in order.
    fn join(parts: &[&Self]) -> Self;
    /// `Aᴴ·B`.
    fn gram_of(a: &Self, b: &Self) -> Result<Mat<T>>;
    /// `outputs = inputs·coeff`; the outputs may be some of the inputs.
    fn combine_into(inputs: &Self, coeff: MatRef<'_, T>, outputs: &Self) -> Result<()>;
    /// The Ritz combination of `S = [X, R]` (its first `x_count` columns X, then W and P)
    /// with coefficients `c` (S's columns × the outputs): `x_out = S·C` and `p_out = R·C_R`
    /// (C's rows of R). The outputs may be some of the inputs. This default makes one
    /// combination of `[C, [0; C_R]]`.
    fn combine_ritz(
        s: &Self,
        x_count: usize,
        c: MatRef<'_, T>,
        x_out: &Self,
        p_out: &Self,
    ) -> Result<()> {
        let a = c.ncols();
        let coeff = Mat::<T>::from_fn(c.nrows(), 2 * a, |i, j| {
            if j >= a && i < x_count {
                T::ZERO_VALUE
            } else {
                c[(i, j % a)]
            }
        });
        Self::combine_into(s, coeff.as_ref(), &Self::join(&[x_out, p_out]))
    }
    /// The first `k` columns.
    fn take(&self, k: usize) -> Self {
        self.columns(0..k)
    }
    /// True when some columns are stored in single precision (orthonormal only to it).
    fn inexact(&self) -> bool {
        false
    }
    /// Gives the columns' memory back to the system where the storage allows (the host's
    /// in-core columns); a no-op elsewhere. Their contents are undefined from now on.
    ///
    /// # Safety
    /// No one reads these columns again before writing them.
    unsafe fn discard(&self) {}
}

impl<T: Scalar> ColumnBlock<T> for Cols<T> {
    fn count(&self) -> usize {
        self.len()
    }
    fn columns(&self, range: Range<usize>) -> Self {
        self.slice(range)
    }
    fn join(parts: &[&Self]) -> Self {
        Cols::concat(parts)
    }
    unsafe fn discard(&self) {
        // SAFETY: the caller's promise is the inherent method's.
        unsafe { Cols::discard(self) }
    }
    fn gram_of(a: &Self, b: &Self) -> Result<Mat<T>> {
        let g = gram(a, b);
        a.check_faults()?;
        b.check_faults()?;
        Ok(g)
    }
    fn combine_into(inputs: &Self, coeff: MatRef<'_, T>, outputs: &Self) -> Result<()> {
        combine(inputs, coeff, outputs);
        inputs.check_faults()?;
        outputs.check_faults()
    }
    fn combine_ritz(
        s: &Self,
        x_count: usize,
        c: MatRef<'_, T>,
        x_out: &Self,
        p_out: &Self,
    ) -> Result<()> {
        combine_ritz(s, x_count, c, x_out, p_out);
        s.check_faults()?;
        x_out.check_faults()?;
        p_out.check_faults()
    }
    fn inexact(&self) -> bool {
        self.any_single()
    }
}

/// Eigenvalues (ascending) and eigenvectors of the Hermitian part of `g`.
pub(crate) fn hermitian_eigen<T: Scalar>(g: &Mat<T>) -> Result<(Vec<f64>, Mat<T>)> {
    let n = g.nrows();
    let sym = Mat::<T>::from_fn(n, n, |i, j| (g[(i, j)] + g[(j, i)].conj_value()).scale(0.5));
    let evd = sym.self_adjoint_eigen(Side::Lower).map_err(|e| {
        Error::new(
            ErrorKind::NotConverged,
            format!("dense eigensolver failed on the {n}×{n} projected matrix: {e:?}"),
        )
    })?;
    let values = (0..n).map(|i| evd.S()[i].to_complex().re).collect();
    Ok((values, evd.U().to_owned()))
}

/// Eigenvalues (ascending) and `G`-orthonormal eigenvectors of the Hermitian pencil `(A, G)`,
/// `G` the Gram matrix of a basis that is orthonormal only to the precision it is stored in:
/// with SVQB's M (`MᴴGM = I`, numerically dependent directions dropped), the standard problem
/// of `MᴴAM`, whose eigenvectors Y give `C = M·Y` (as many columns as M kept).
pub(crate) fn hermitian_pencil_eigen<T: Scalar>(
    a: &Mat<T>,
    g: &Mat<T>,
) -> Result<(Vec<f64>, Mat<T>)> {
    let (values, vectors, _) = hermitian_pencil_eigen_conditioned(a, g)?;
    Ok((values, vectors))
}

/// [`hermitian_pencil_eigen`], also returning the condition number of the part of the
/// column-scaled `G` that SVQB kept (`‖M‖²` up to the scaling).
pub(crate) fn hermitian_pencil_eigen_conditioned<T: Scalar>(
    a: &Mat<T>,
    g: &Mat<T>,
) -> Result<(Vec<f64>, Mat<T>, f64)> {
    let (m, condition) = svqb(g)?;
    let reduced = m.adjoint() * a * &m;
    let (values, y) = hermitian_eigen(&reduced)?;
    Ok((values, &m * y, condition))
}

/// Makes `y` orthogonal to the orthonormal columns `q` and orthonormal itself. Columns that lie
/// (numerically) in the span of `q` or of the other columns are dropped: the kept columns are
/// written to the first `kept` columns of `y`, and `kept` is returned.
///
/// One Gram matrix `[q y]ᴴy` gives the projection c₁ = qᴴy and the original norms. When every
/// column keeps at least 1/√2 of its norm under the projection (the DGKS criterion: then one
/// classical Gram–Schmidt pass leaves it orthogonal to `q` to rounding, no second pass is
/// needed), `yᴴy − c₁ᴴc₁` is the Gram matrix of y − q·c₁, from which SVQB builds the
/// orthonormalising matrix M, and a single combination y ← (y − q·c₁)·M finishes: one pass of
/// each kind over the data. Otherwise y ← y − q·c₁ is applied first and a second Gram matrix
/// gives the re-orthogonalisation coefficients c₂ and, by `yᴴy − c₂ᴴc₂`, the Gram matrix of
/// the re-projected block, before the combination y ← (y − q·c₂)·M. A last pass repeats SVQB
/// when M was ill-conditioned.
pub(crate) fn orthonormalize<T: Scalar, C: ColumnBlock<T>>(q: &C, y: &C) -> Result<usize> {
    let (nq, b) = (q.count(), y.count());
    if b == 0 {
        return Ok(0);
    }
    let qy = C::join(&[q, y]);
    // Pass 1: c₁ = qᴴy and the norms before projection.
    let g1 = C::gram_of(&qy, y)?;
    let before = norms_of_y(&g1, nq, b);
    // One pass is enough (see the doc) unless a column loses most of its norm: then project,
    // and pass 2 measures what is left, g2 = [q y′]ᴴy′.
    let g_last = if nq > 0 && !keeps_most_of_its_norm(&g1, nq, &before) {
        C::combine_into(&qy, project_coeff(&g1, nq, b).as_ref(), y)?;
        C::gram_of(&qy, y)?
    } else {
        g1
    };
    let (c2, g) = split_projection(&g_last, nq, b);
    // A column that kept less than 1e-10 of its norm was (numerically) inside span(q): drop it.
    // When q is stored in single precision (LOBPCG's W, against which P is projected), q is
    // orthonormal only to about 1e-7 (f32 rounding, times √columns), so the projection through
    // qᴴy leaves up to about 1e-6 of a column inside span(q): a remainder below 1e-5 is that
    // noise, not a new direction.
    let floor = if q.inexact() { 1e-5 } else { 1e-10 };
    let alive: Vec<usize> = (0..b)
        .filter(|&j| {
            let after = g[(j, j)].to_complex().re.max(0.0).sqrt();
            after > floor * before[j] && after > 0.0
        })
        .collect();
    let g_alive = Mat::<T>::from_fn(alive.len(), alive.len(), |i, j| g[(alive[i], alive[j])]);
    let (m, condition) = svqb(&g_alive)?;
    // y ← (y − q·c₂)·M on the alive columns, in one pass.
    let kept = m.ncols();
    let coeff = Mat::<T>::from_fn(nq + b, kept, |i, c| {
        let mut v = T::ZERO_VALUE;
        for (a, &col) in alive.iter().enumerate() {
            let mac = m[(a, c)];
            v += if i < nq {
                T::ZERO_VALUE - c2[(i, col)] * mac
            } else if i - nq == col {
                mac
            } else {
                T::ZERO_VALUE
            };
        }
        v
    });
    C::combine_into(&qy, coeff.as_ref(), &y.take(kept))?;
    if condition > 1e8 && kept > 0 {
        // Ill-conditioned: one more SVQB pass on the result.
        let y_kept = y.take(kept);
        let (m2, _) = svqb(&C::gram_of(&y_kept, &y_kept)?)?;
        C::combine_into(&y_kept, m2.as_ref(), &y.take(m2.ncols()))?;
        return Ok(m2.ncols());
    }
    Ok(kept)
}

/// Makes `y` orthogonal to the orthonormal columns `q`, `y ← y − q·qᴴy`, without normalising
/// it: one classical Gram–Schmidt pass (a Gram matrix and a combination), and a second one when
/// a column loses more than 1 − 1/√2 of its norm under the first (the DGKS criterion, as in
/// [`orthonormalize`]). A column inside span(q) is left as the rounding left it.
pub(crate) fn project_off<T: Scalar, C: ColumnBlock<T>>(q: &C, y: &C) -> Result<()> {
    let (nq, b) = (q.count(), y.count());
    if nq == 0 || b == 0 {
        return Ok(());
    }
    let qy = C::join(&[q, y]);
    let g1 = C::gram_of(&qy, y)?;
    let before = norms_of_y(&g1, nq, b);
    C::combine_into(&qy, project_coeff(&g1, nq, b).as_ref(), y)?;
    if !keeps_most_of_its_norm(&g1, nq, &before) {
        // `project_coeff` reads only the rows of q: qᴴy′ is enough.
        let g2 = C::gram_of(q, y)?;
        C::combine_into(&qy, project_coeff(&g2, nq, b).as_ref(), y)?;
    }
    Ok(())
}

/// The norms of y's `b` columns, read from `g = [q y]ᴴy` (q: `nq` columns).
fn norms_of_y<T: Scalar>(g: &Mat<T>, nq: usize, b: usize) -> Vec<f64> {
    (0..b)
        .map(|j| g[(nq + j, j)].to_complex().re.max(0.0).sqrt())
        .collect()
}

/// True when every column of y keeps at least 1/√2 of its norm (`before`) once projected off
/// the `nq` orthonormal columns q, read from `g1 = [q y]ᴴy`: ‖y_j − q·c_j‖² = ‖y_j‖² − ‖c_j‖².
fn keeps_most_of_its_norm<T: Scalar>(g1: &Mat<T>, nq: usize, before: &[f64]) -> bool {
    before.iter().enumerate().all(|(j, &norm)| {
        let removed: f64 = (0..nq).map(|t| g1[(t, j)].abs_sq()).sum();
        norm * norm - removed >= 0.5 * norm * norm
    })
}

/// From `g = [q y]ᴴy` (q: `nq` orthonormal columns, y: `b` columns), the projection
/// coefficients c = qᴴy and G = yᴴy − cᴴc = (y − q·c)ᴴ(y − q·c), the Gram matrix of y projected
/// off q.
fn split_projection<T: Scalar>(g: &Mat<T>, nq: usize, b: usize) -> (Mat<T>, Mat<T>) {
    let c = Mat::from_fn(nq, b, |i, j| g[(i, j)]);
    let projected = Mat::from_fn(b, b, |i, j| {
        let mut v = g[(nq + i, j)];
        for t in 0..nq {
            v -= c[(t, i)].conj_value() * c[(t, j)];
        }
        v
    });
    (c, projected)
}

/// The coefficients of y ← y − q·c₁ given `g1 = [q y]ᴴy`, as a combination of `[q y]`.
fn project_coeff<T: Scalar>(g1: &Mat<T>, nq: usize, b: usize) -> Mat<T> {
    Mat::from_fn(nq + b, b, |i, j| {
        if i < nq {
            T::ZERO_VALUE - g1[(i, j)]
        } else if i - nq == j {
            T::ONE
        } else {
            T::ZERO_VALUE
        }
    })
}

/// SVQB: for a Gram matrix G, M = D·U·Θ^-1/2 with D = diag(G)^-1/2 and D·G·D = U·Θ·Uᴴ, keeping
/// directions with Θ above 1e-12 of the largest; Y·M is then orthonormal. Returns M and the
/// condition number of the kept part.
fn svqb<T: Scalar>(g: &Mat<T>) -> Result<(Mat<T>, f64)> {
    let b = g.nrows();
    if b == 0 {
        return Ok((Mat::zeros(0, 0), 1.0));
    }
    let d: Vec<f64> = diag_norms(g).iter().map(|&v| 1.0 / v).collect();
    let scaled = Mat::<T>::from_fn(b, b, |i, j| g[(i, j)].scale(d[i] * d[j]));
    let (theta, u) = hermitian_eigen(&scaled)?;
    let theta_max = theta[b - 1];
    let keep: Vec<usize> = (0..b)
        .rev()
        .filter(|&t| theta[t] > 1e-12 * theta_max)
        .collect();
    let m = Mat::<T>::from_fn(b, keep.len(), |i, c| {
        u[(i, keep[c])].scale(d[i] / theta[keep[c]].sqrt())
    });
    let condition = theta_max / theta[*keep.last().expect("the largest is kept")];
    Ok((m, condition))
}

fn diag_norms<T: Scalar>(g: &Mat<T>) -> Vec<f64> {
    (0..g.nrows())
        .map(|i| g[(i, i)].to_complex().re.max(0.0).sqrt())
        .collect()
}
