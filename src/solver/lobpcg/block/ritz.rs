//! The kernels of one LOBPCG iteration that share work between its passes over the blocks:
//!
//! - [`residuals_and_x_grams`]: the residuals `H·x_j − λ_j·x_j` and, from the same `H·X`,
//!   the Gram matrices `Xᴴ·H·X` and `Xᴴ·X`;
//! - [`gram_op_with_x_grams`]: `Sᴴ·H·S` and `Sᴴ·S` for `S = [X, R]` (R: W and P) given those
//!   two, so that the operator is applied to R's columns only (X's products come from the
//!   residual pass, which computed `H·X` anyway);
//! - [`combine_ritz`]: `P ← R·C_R` and `X ← X·C_X + P`, the Ritz combination with half the
//!   products of `[X_new, P_new] = S·[C, [0; C_R]]` (P's part does not read X).
//!
//! Same chunking, buffers and reductions as the kernels of `block.rs` (whose bounds,
//! [`kernel_bytes`](super::kernel_bytes), hold for these: at most `2·width` columns of chunk
//! buffers per thread).

use super::{
    Cols, apply_column, chunk_groups, chunks, combine_views, mirror_upper, note_buffers,
    ordered_sum, reduce_chunks,
};
use crate::matrix::Scalar;
use crate::solver::operator::Operator;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;
use std::ops::Range;

/// Column `j` of `m` as a slice.
fn column_mut<T: Scalar>(m: &mut Mat<T>, j: usize) -> &mut [T] {
    m.as_mut()
        .col_mut(j)
        .try_as_col_major_mut()
        .expect("faer Mat columns are contiguous")
        .as_slice_mut()
}

/// Column `j` of a chunk view (contiguous: see `Cols::chunk_views`) as a slice.
fn column_of<'a, T: Scalar>(v: MatRef<'a, T>, j: usize) -> &'a [T] {
    v.col(j)
        .try_as_col_major()
        .expect("chunk views have contiguous columns")
        .as_slice()
}

/// `Xᴴ·H·X` and `Xᴴ·X` of the columns whose residuals were computed (see
/// [`residuals_and_x_grams`]).
#[derive(Clone, Debug)]
pub(crate) struct XGrams<T> {
    /// `Xᴴ·H·X`.
    pub op: Mat<T>,
    /// `Xᴴ·X`.
    pub overlap: Mat<T>,
}

impl<T: Scalar> XGrams<T> {
    /// The Grams of the trailing columns `first..` (pairs that locked since leave the front).
    pub(crate) fn trailing(&self, first: usize) -> Self {
        let b = self.op.nrows();
        let sub = |m: &Mat<T>| {
            m.as_ref()
                .submatrix(first, first, b - first, b - first)
                .to_owned()
        };
        Self {
            op: sub(&self.op),
            overlap: sub(&self.overlap),
        }
    }
}

/// `r_j = H·x_j − λ_j·x_j` for every column, stored in `r`; returns `‖r_j‖` (of the residuals
/// as computed, before a single-precision `r` rounds them) and [`XGrams`] from the same
/// products. `r` must not alias `x`.
pub(crate) fn residuals_and_x_grams<T: Scalar, A: Operator<T> + ?Sized>(
    op: &A,
    x: &Cols<T>,
    lambda: &[f64],
    r: &Cols<T>,
) -> (Vec<f64>, XGrams<T>) {
    let b = x.len();
    assert!(r.len() == b && lambda.len() == b);
    let limit = x.chunk_limit.min(r.chunk_limit);
    let parts = reduce_chunks(
        chunk_groups(x.rows(), op.row_granularity(), limit),
        || (Mat::<T>::zeros(0, 0), Mat::<T>::zeros(0, 0)),
        || (vec![0.0; b], Mat::<T>::zeros(b, b), Mat::<T>::zeros(b, b)),
        #[inline(always)]
        |(hx, buf), rows, (norms, xhx, xx)| {
            x.prefetch_after(&rows);
            r.prefetch_after(&rows);
            hx.resize_with(rows.len(), b, |_, _| T::ZERO_VALUE);
            for j in 0..b {
                // SAFETY: X is only read during this kernel.
                apply_column(op, unsafe { x.column(j) }, rows.clone(), column_mut(hx, j));
            }
            // SAFETY: as above.
            let views = unsafe { x.chunk_views(&rows, buf) };
            // Both Grams from H·X before it becomes the residuals.
            for &(i0, v) in &views {
                let n = v.ncols();
                matmul(
                    xhx.as_mut().submatrix_mut(i0, 0, n, b),
                    Accum::Add,
                    v.adjoint(),
                    hx.as_ref(),
                    T::ONE,
                    Par::Seq,
                );
                for &(j0, w) in &views {
                    matmul(
                        xx.as_mut().submatrix_mut(i0, j0, n, w.ncols()),
                        Accum::Add,
                        v.adjoint(),
                        w,
                        T::ONE,
                        Par::Seq,
                    );
                }
            }
            for &(i0, v) in &views {
                for t in 0..v.ncols() {
                    let j = i0 + t;
                    let mut sum = 0.0;
                    for (h, &xi) in column_mut(hx, j).iter_mut().zip(column_of(v, t)) {
                        *h -= xi.scale(lambda[j]);
                        sum += h.abs_sq();
                    }
                    norms[j] += sum;
                }
            }
            drop(views);
            for j in 0..b {
                // SAFETY: R's rows `rows` are written by this chunk alone.
                unsafe { r.store_rows(j, rows.clone(), column_mut(hx, j)) };
            }
            x.release(&rows);
            r.release(&rows);
            note_buffers(hx.nrows() * hx.ncols() + buf.nrows() * buf.ncols());
        },
    );
    // The operator read halo rows of neighbouring chunks: drop those pages too.
    x.release_all();
    r.release_all();
    // In group order, for determinism (see `row_groups`).
    let (sq, op_gram, overlap) = parts.into_iter().fold(
        (vec![0.0; b], Mat::<T>::zeros(b, b), Mat::<T>::zeros(b, b)),
        |(sq, a, g), (p, pa, pg)| {
            let sq = sq.iter().zip(&p).map(|(s, v)| s + v).collect();
            (sq, a + pa, g + pg)
        },
    );
    let norms = sq.into_iter().map(f64::sqrt).collect();
    (
        norms,
        XGrams {
            op: op_gram,
            overlap,
        },
    )
}

/// `(Sᴴ·H·S, Sᴴ·S)` for `S = [X, R]` whose first `x_count` columns are X, given X's
/// [`XGrams`]: the operator is applied to R's columns only. Each chunk of `[X, R₀, H·R₀, R₁,
/// H·R₁, …]` (R's segments widened, interleaved with their products) goes into one buffer, so
/// that one product per segment, `Rᵢᴴ·[X, R₀, H·R₀, …, Rᵢ, H·Rᵢ]`, gives its rows of both
/// matrices' block lower triangles; X's rows of `Sᴴ·H·S` are `Xᴴ·H·Rᵢ` (its block upper
/// triangle, mirrored).
pub(crate) fn gram_op_with_x_grams<T: Scalar, A: Operator<T> + ?Sized>(
    op: &A,
    s: &Cols<T>,
    x_count: usize,
    grams: &XGrams<T>,
) -> (Mat<T>, Mat<T>) {
    let b = s.len();
    let x = x_count;
    assert!(grams.op.nrows() == x && grams.overlap.nrows() == x && x <= b);
    let (xs, rs) = (s.slice(0..x), s.slice(x..b));
    let r = b - x;
    // R's segments: their first column in R and in the chunk buffer.
    let segments: Vec<(usize, usize, usize)> = rs
        .segments
        .iter()
        .scan(0, |next, seg| {
            *next += seg.ncols;
            let c0 = *next - seg.ncols;
            Some((c0, seg.ncols, x + 2 * c0))
        })
        .collect();
    let width = x + 2 * r;
    let parts = reduce_chunks(
        chunk_groups(s.rows(), op.row_granularity(), s.chunk_limit),
        || Mat::<T>::zeros(0, 0),
        || Mat::<T>::zeros(b, width),
        #[inline(always)]
        |both, rows, part| {
            s.prefetch_after(&rows);
            both.resize_with(rows.len(), width, |_, _| T::ZERO_VALUE);
            for j in 0..x {
                // SAFETY: S is only read during this kernel.
                unsafe { xs.load_rows(j, rows.clone(), column_mut(both, j)) };
            }
            for &(c0, w, pos) in &segments {
                for t in 0..w {
                    // SAFETY: as above.
                    unsafe {
                        rs.load_rows(c0 + t, rows.clone(), column_mut(both, pos + t));
                        apply_column(
                            op,
                            rs.column(c0 + t),
                            rows.clone(),
                            column_mut(both, pos + w + t),
                        );
                    }
                }
            }
            let all = both.as_ref();
            for &(c0, w, pos) in &segments {
                let hr = all.subcols(pos + w, w);
                matmul(
                    part.as_mut().submatrix_mut(0, pos + w, x, w),
                    Accum::Add,
                    all.subcols(0, x).adjoint(),
                    hr,
                    T::ONE,
                    Par::Seq,
                );
                matmul(
                    part.as_mut().submatrix_mut(x + c0, 0, w, pos + 2 * w),
                    Accum::Add,
                    all.subcols(pos, w).adjoint(),
                    all.subcols(0, pos + 2 * w),
                    T::ONE,
                    Par::Seq,
                );
            }
            s.release(&rows);
            note_buffers(both.nrows() * both.ncols());
        },
    );
    // The operator read halo rows of neighbouring chunks: drop those pages too.
    s.release_all();
    let sum = ordered_sum(parts, b, width);
    // De-interleave the block lower triangles: X's own blocks from the residual pass, each R
    // segment's rows against X and against the segments up to its own (R_j at `pos`, H·R_j
    // right after it), and X's rows of `Sᴴ·H·S` (`Xᴴ·H·Rᵢ`) with their adjoints below.
    let mut g = Mat::<T>::zeros(b, b);
    let mut a = Mat::<T>::zeros(b, b);
    g.as_mut()
        .submatrix_mut(0, 0, x, x)
        .copy_from(&grams.overlap);
    a.as_mut().submatrix_mut(0, 0, x, x).copy_from(&grams.op);
    for (i, &(ci, wi, pi)) in segments.iter().enumerate() {
        let rows = |c0: usize, w: usize| sum.as_ref().submatrix(x + ci, c0, wi, w);
        g.as_mut()
            .submatrix_mut(x + ci, 0, wi, x)
            .copy_from(rows(0, x));
        for &(cj, wj, pj) in &segments[..=i] {
            g.as_mut()
                .submatrix_mut(x + ci, x + cj, wi, wj)
                .copy_from(rows(pj, wj));
            a.as_mut()
                .submatrix_mut(x + ci, x + cj, wi, wj)
                .copy_from(rows(pj + wj, wj));
        }
        let x_rows = sum.as_ref().submatrix(0, pi + wi, x, wi);
        a.as_mut().submatrix_mut(0, x + ci, x, wi).copy_from(x_rows);
        a.as_mut()
            .submatrix_mut(x + ci, 0, wi, x)
            .copy_from(x_rows.adjoint());
    }
    // The rest by symmetry.
    mirror_upper(&mut g, s);
    mirror_upper(&mut a, s);
    (a, g)
}

/// The Ritz combination of `S = [X, R]` (first `x_count` columns X) with coefficients `c`
/// (`S`'s columns × the active pairs): `p_out = R·C_R` and `x_out = X·C_X + p_out`, each
/// chunk computed before any of it is written (the outputs may be some of the inputs).
pub(crate) fn combine_ritz<T: Scalar>(
    s: &Cols<T>,
    x_count: usize,
    c: MatRef<'_, T>,
    x_out: &Cols<T>,
    p_out: &Cols<T>,
) {
    let (b, a) = (s.len(), c.ncols());
    assert!(c.nrows() == b && x_out.len() == a && p_out.len() == a && x_count <= b);
    if a == 0 {
        return;
    }
    let limit = s.chunk_limit.min(x_out.chunk_limit).min(p_out.chunk_limit);
    let parts = (s.slice(0..x_count), s.slice(x_count..b));
    chunks(s.rows(), 1, limit).for_each_init(
        || {
            (
                Mat::<T>::zeros(0, 0),
                Mat::<T>::zeros(0, 0),
                Mat::<T>::zeros(0, 0),
            )
        },
        |(to_x, to_p, buf), rows| {
            crate::matrix::vectorized(
                #[inline(always)]
                || combine_chunk(s, &parts, c, [x_out, p_out], &rows, [to_x, to_p, buf]),
            )
        },
    );
    if s.any_mapped() || x_out.any_mapped() || p_out.any_mapped() {
        s.release_all();
        x_out.release_all();
        p_out.release_all();
    }
}

/// One chunk of [`combine_ritz`] (`S` split into its X and R columns).
#[inline(always)]
fn combine_chunk<T: Scalar>(
    s: &Cols<T>,
    (xs, rs): &(Cols<T>, Cols<T>),
    c: MatRef<'_, T>,
    [x_out, p_out]: [&Cols<T>; 2],
    rows: &Range<usize>,
    [to_x, to_p, buf]: [&mut Mat<T>; 3],
) {
    let a = c.ncols();
    s.prefetch_after(rows);
    x_out.prefetch_after(rows);
    p_out.prefetch_after(rows);
    to_x.resize_with(rows.len(), a, |_, _| T::ZERO_VALUE);
    to_p.resize_with(rows.len(), a, |_, _| T::ZERO_VALUE);
    let x_count = xs.len();
    // SAFETY: within this chunk the inputs are only read until both buffers are complete;
    // other chunks touch other rows.
    let views = unsafe { rs.chunk_views(rows, buf) };
    combine_views(to_p, &views, c.subrows(x_count, c.nrows() - x_count));
    drop(views);
    // SAFETY: as above.
    let views = unsafe { xs.chunk_views(rows, buf) };
    combine_views(to_x, &views, c.subrows(0, x_count));
    drop(views);
    for j in 0..a {
        let p = column_mut(to_p, j);
        for (x, &p) in column_mut(to_x, j).iter_mut().zip(&*p) {
            *x += p;
        }
    }
    note_buffers(to_x.nrows() * (to_x.ncols() + to_p.ncols()) + buf.nrows() * buf.ncols());
    x_out.scatter(rows, to_x);
    p_out.scatter(rows, to_p);
    s.release(rows);
    x_out.release(rows);
    p_out.release(rows);
}

#[cfg(test)]
mod tests {
    //! The shared-work kernels against the plain ones of `block.rs` on the same blocks.
    use super::super::{Block, Column, combine, gram, gram_op, residuals, rows_for_single};
    use super::*;
    use crate::memory::MemoryManager;
    use crate::physics::constants::GAAS_MASS;
    use crate::physics::{Grid, HamiltonianSpec, StencilOperator, parabolic_potential};
    use crate::solver::out_of_core::BlockPlan;
    use crate::solver::random::fill_random;

    /// Largest entry of `a − b` relative to the largest of `b`.
    fn relative_difference(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
        let scale = (0..b.ncols())
            .flat_map(|j| (0..b.nrows()).map(move |i| (i, j)))
            .map(|(i, j)| b[(i, j)].abs())
            .fold(0.0, f64::max);
        (0..b.ncols())
            .flat_map(|j| (0..b.nrows()).map(move |i| (i, j)))
            .map(|(i, j)| (a[(i, j)] - b[(i, j)]).abs())
            .fold(0.0, f64::max)
            / scale
    }

    /// A 2D dot's operator on a grid that cuts into several chunks, X in double and W, P in
    /// single precision (random), `m` columns each.
    #[test]
    fn shared_work_kernels_agree_with_the_plain_ones() {
        let _alone = crate::memory::os::process_memory_lock();
        let grid = Grid::dirichlet_box(&[120.0, 120.0], &[300, 300]).unwrap();
        let mut v = vec![0.0; grid.len()];
        parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v).unwrap();
        let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
        let manager = MemoryManager::with_defaults().unwrap();
        let op = StencilOperator::<f64>::new(&manager, &spec, "h").unwrap();
        let (n, m) = (op.dim(), 4);
        let block = |rows| Block::<f64>::new(&manager, &BlockPlan::InCore, rows, m, "t").unwrap();
        let (mut x, mut w, mut p, mut r1, mut r2) = (
            block(n),
            block(rows_for_single::<f64>(n)),
            block(rows_for_single::<f64>(n)),
            block(rows_for_single::<f64>(n)),
            block(rows_for_single::<f64>(n)),
        );
        for j in 0..m {
            fill_random(&mut x.col_mut(j)[..n], 3, j);
        }
        let xc = Cols::of_rows(&mut x, 0..m, n);
        let (wc, pc) = (
            Cols::of_single_rows(&mut w, 0..m, n),
            Cols::of_single_rows(&mut p, 0..m, n),
        );
        let fill = Mat::<f64>::from_fn(m, m, |i, j| 1.0 / (1 + i + 3 * j) as f64);
        combine(&xc, fill.as_ref(), &wc);
        combine(&xc, fill.transpose(), &pc);
        // W and P far from X's span, as in an iteration.
        let lambda: Vec<f64> = (0..m).map(|j| 0.01 * (j + 1) as f64).collect();
        residuals(&op, &xc, &lambda, Some(&wc));

        // Residuals and X's Grams against the plain residuals, Xᴴ·X and Xᴴ·H·X.
        let (r1c, r2c) = (
            Cols::of_single_rows(&mut r1, 0..m, n),
            Cols::of_single_rows(&mut r2, 0..m, n),
        );
        let plain = residuals(&op, &xc, &lambda, Some(&r1c));
        let (norms, grams) = residuals_and_x_grams(&op, &xc, &lambda, &r2c);
        for (a, b) in norms.iter().zip(&plain) {
            // Sums of the same squares in another order: a few ulps.
            assert!((a - b).abs() <= 1e-12 * b, "{a} vs {b}");
        }
        let (xhx, _) = gram_op(&op, &xc, false);
        assert!(relative_difference(&grams.op, &xhx) < 1e-12);
        assert!(relative_difference(&grams.overlap, &gram(&xc, &xc)) < 1e-12);
        for j in 0..m {
            // SAFETY: nothing writes the residual blocks now.
            let (Column::Single(a), Column::Single(b)) =
                (unsafe { r1c.column(j) }, unsafe { r2c.column(j) })
            else {
                panic!("single-precision residuals")
            };
            assert_eq!(a, b, "the stored residuals are the same bits");
        }

        // Sᴴ·H·S and Sᴴ·S of [X_active, W, P], X's Grams given, against gram_op: the same
        // products summed in another order (1e-12 of the largest entry).
        let x_active = xc.slice(1..m);
        let s = Cols::concat(&[&x_active, &wc, &pc]);
        let (a_plain, g_plain) = gram_op(&op, &s, true);
        let (a, g) = gram_op_with_x_grams(&op, &s, m - 1, &grams.trailing(1));
        assert!(relative_difference(&a, &a_plain) < 1e-12);
        assert!(relative_difference(&g, &g_plain.unwrap()) < 1e-12);

        // The Ritz combination against one combination of [C, [0; C_R]], into fresh blocks.
        let b = s.len();
        let c = Mat::<f64>::from_fn(b, m - 1, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let mut outs: Vec<Block<f64>> = (0..4)
            .map(|k| {
                if k % 2 == 0 {
                    block(n)
                } else {
                    block(rows_for_single::<f64>(n))
                }
            })
            .collect();
        let (o0, rest) = outs.split_at_mut(1);
        let (o1, rest) = rest.split_at_mut(1);
        let (o2, o3) = rest.split_at_mut(1);
        let (xa, pa) = (
            Cols::of_rows(&mut o0[0], 0..m - 1, n),
            Cols::of_single_rows(&mut o1[0], 0..m - 1, n),
        );
        let (xb, pb) = (
            Cols::of_rows(&mut o2[0], 0..m - 1, n),
            Cols::of_single_rows(&mut o3[0], 0..m - 1, n),
        );
        combine_ritz(&s, m - 1, c.as_ref(), &xa, &pa);
        let coeff = Mat::<f64>::from_fn(b, 2 * (m - 1), |i, j| {
            if j >= m - 1 && i < m - 1 {
                0.0
            } else {
                c[(i, j % (m - 1))]
            }
        });
        combine(&s, coeff.as_ref(), &Cols::concat(&[&xb, &pb]));
        let widened = |cols: &Cols<f64>, j: usize| -> Vec<f64> {
            // SAFETY: nothing writes the output blocks now.
            match unsafe { cols.column(j) } {
                Column::Full(c) => c.to_vec(),
                Column::Single(c) => c.iter().map(|&v| v as f64).collect(),
            }
        };
        let largest = |v: &[f64]| v.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        for j in 0..m - 1 {
            for (ours, theirs, tol) in [(&xa, &xb, 1e-12), (&pa, &pb, 1e-6)] {
                let (a, b) = (widened(ours, j), widened(theirs, j));
                let diff: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a - b).collect();
                // X: the same products summed in another order; P: also rounded to single
                // precision, where a last-bit difference of the sums may round apart (6e-8).
                assert!(largest(&diff) <= tol * largest(&b), "column {j}");
                assert!(largest(&b) > 0.0);
            }
        }
    }
}
