//! Block Davidson for the eigenvalues of a non-Hermitian operator nearest a target σ, on one
//! level of the resonance solver.
//!
//! The search space `V` (orthonormal in the ordinary inner product) grows by one preconditioned
//! residual `t = K·(H − θ)u` per unconverged Ritz pair (among the leading `expand` of the `m`
//! kept), with `K ≈ (H − σ)⁻¹` a shifted V-cycle
//! (`precond/shifted.rs`; on the bottom level the sparse LU solve, single precision in 2D).
//! Given V-cycles for several shifts ([`Correction`]), each pair's correction goes through the
//! one whose shift lies nearest its Ritz value; the extraction below keeps the one σ.
//! With `K` exact, `t = u + (σ − θ)·(H − σ)⁻¹u`, so the space grows by shift-invert directions:
//! a block Krylov space of `(H − σ)⁻¹`, in which the eigenvalues nearest σ are the best
//! separated ones. With the V-cycle, `K` is close to that near σ and the true residuals decide
//! convergence.
//!
//! Extraction: harmonic Ritz pairs for σ (`WᴴW·y = ν·WᴴV·y` with `W = (H − σ)V`, smallest |ν|),
//! which approach the eigenvalues nearest σ without the spurious interior Ritz values of plain
//! Rayleigh–Ritz — an open dot's absorbing box has a dense pseudo-continuum around any target —
//! each valued by its Rayleigh quotient. The small pencil is solved in standard form,
//! `(WᴴV)⁻¹WᴴW·y = ν·y` (see `harmonic_ritz` for why not by QZ). Both members of a degenerate
//! pair are kept together in a block of `m > k`. When the space would exceed `dmax` columns it
//! restarts with the `dmax − m` harmonic Ritz vectors nearest σ.
//!
//! `W` is never stored: only the projections `G = VᴴW` and `M = WᴴW` are, grown by the rows and
//! columns of each new block of vectors `X` from `(H − σ)X`, `(H − σ)ᴴ(H − σ)X` and
//! `(H − σ)ᴴX` (three operator applications per new vector; the stencil's kinetic part is
//! Hermitian, so `Hᴴ` is `H` with its diagonal conjugated), and rotated with `V` at a restart
//! in the small space. The residuals are those of the Ritz vectors themselves, `(H − θ)u`. A
//! stencil application costs about what a pass of the restart's rotation over a stored `W`
//! would (the solve takes the same iterations and time as with `W` stored), and the basis holds
//! `dmax + m + 1` vectors instead of `2·dmax`.
//!
//! Memory: `V`, `n × dmax`, and a work block of `m + 1` vectors, in the manager's pool (the
//! caller's [`Basis`]), plus the `dmax × dmax` projected matrices. Out of core, `V` is in a
//! scratch file and only the chunks of it the kernels are using, and the few columns an
//! iteration's residuals and corrections touch, are resident ([`Residency`]).

use super::residency::Residency;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::ManagedMatrix;
use crate::physics::StencilOperator;
use crate::solver::operator::apply_then;
use crate::solver::out_of_core::Block;
use crate::solver::precond::Preconditioner;
use crate::solver::progress::{Progress, ProgressFn};
use crate::solver::reduce::{GROUPS, row_groups};
use crate::solver::threads::solver_threads;
use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use num_complex::Complex64;
use rayon::prelude::*;

const ONE: Complex64 = Complex64::new(1.0, 0.0);

/// Rows per chunk of the tall products (basis rotations, Gram matrices, updates).
const CHUNK_ROWS: usize = 2048;

/// The search space, `n_max × dmax`, and a work block, `n_max × (m + 1)`, in the pool; a coarser
/// level uses the leading rows. Columns `0..m` of `v` carry the Ritz vectors from one level to
/// the next.
pub(crate) struct Basis {
    /// Orthonormal search vectors: in the pool, or in a scratch file for an out-of-core solve
    /// (see [`Residency`]).
    pub v: Block<Complex64>,
    /// The Ritz vectors of an iteration, then images of the new search vectors under `H − σ`
    /// and its adjoint; the last column is a temporary.
    pub work: ManagedMatrix<Complex64>,
    /// Where `v` lives, and the kernels' spans of rows.
    residency: Residency,
}

impl Basis {
    /// A basis of search vectors `v` and a work block `work`; when `v` is in a scratch file, the
    /// kernels' spans of rows hold about `budget` bytes of it over all threads.
    pub(crate) fn new(v: Block<Complex64>, work: ManagedMatrix<Complex64>, budget: u64) -> Self {
        let residency = Residency::of(&v, CHUNK_ROWS, budget);
        Self { v, work, residency }
    }
}

/// Bytes the Davidson holds besides its [`Basis`] for a search space of `dmax` vectors, at most:
/// each solver thread's chunk of the restart's rotation (`CHUNK_ROWS × dmax`), a Gram
/// reduction's partial results (at most [`GROUPS`] of `dmax × dmax`) and its sum, the
/// projections `G` and `M`, and the extraction's dense `dmax × dmax` work (the eigenproblem in
/// standard form, its eigenvectors, the rotation of a thick restart and faer's work for them:
/// counted as 8).
pub(crate) fn kernel_bytes(dmax: usize) -> u64 {
    let chunks = solver_threads() * CHUNK_ROWS * dmax;
    let small = (GROUPS + 1 + 2 + 8) * dmax * dmax;
    ((chunks + small) * size_of::<Complex64>()) as u64
}

/// Bytes of a [`Basis`] for `n` points, a search space of `dmax` vectors and blocks of `m`.
pub(crate) fn basis_bytes(n: usize, dmax: usize, m: usize) -> u64 {
    ((dmax + m + 1) * n * size_of::<Complex64>()) as u64
}

/// What one level is asked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LevelParams {
    /// Pairs that must converge.
    pub k: usize,
    /// Ritz pairs kept (block size; `k < m ≤ dmax / 2`).
    pub m: usize,
    /// Leading Ritz pairs whose corrections expand the space (`k ≤ expand ≤ m`).
    pub expand: usize,
    /// Relative residual tolerance: ‖Hu − θu‖ ≤ tol·max(|θ|, scale) with ‖u‖ = 1.
    pub tol: f64,
    /// Floor of the tolerance's scale (eV).
    pub scale: f64,
    /// Outer iterations at most.
    pub max_iterations: usize,
    /// The level (for progress reports) and the number of levels.
    pub level: usize,
    /// Levels of the solve.
    pub levels: usize,
    /// Iterations of this level before this run (for progress reports).
    pub iterations_before: usize,
    /// Operator applications before this level (for progress reports).
    pub applications_before: u64,
}

/// What one level did: the `m` Ritz pairs nearest σ (values, residual norms of the unit Ritz
/// vectors, which are left in `V`'s first columns).
#[derive(Debug, Default)]
pub(crate) struct LevelOutcome {
    pub values: Vec<Complex64>,
    pub residuals: Vec<f64>,
    /// True when the pair met the tolerance.
    pub converged: Vec<bool>,
    pub iterations: usize,
    pub applications: u64,
}

/// `‖x‖₂`, summed by chunks in groups (see [`row_groups`]).
fn norm(x: &[Complex64]) -> f64 {
    let parts: Vec<f64> = row_groups(x.len(), CHUNK_ROWS)
        .map(|chunks| {
            chunks.fold(0.0, |sum, rows| {
                x[rows].iter().fold(sum, |s, v| s + v.norm_sqr())
            })
        })
        .collect();
    parts.iter().sum::<f64>().sqrt()
}

/// `‖v[:, j]‖₂` of a column.
fn col_norm(v: MatRef<'_, Complex64>, j: usize) -> f64 {
    norm(col(v, j))
}

/// Orthonormalises columns `from..to` of `v` (leading `n` rows) against columns `0..from` and
/// among themselves, dropping columns that are numerically dependent; returns the new end
/// (`from + kept`).
///
/// The new columns are first made orthogonal to the kept basis as a block (classical
/// Gram–Schmidt, a second pass where the first cancelled much of a column; each pass reads the
/// basis twice however many columns are new: this step is memory-bound, and per-column passes
/// would read the basis once per column), then among themselves column by column (two passes
/// against the few new columns kept so far).
fn orthonormalize(v: MatMut<'_, Complex64>, from: usize, to: usize, res: Residency) -> usize {
    let mut v = v;
    let before: Vec<f64> = (from..to).map(|j| col_norm(v.rb(), j)).collect();
    // Orthogonalises columns `cols` against the basis; `start` holds their norms, the result
    // their norms after.
    let against_basis =
        |v: &mut MatMut<'_, Complex64>, cols: std::ops::Range<usize>, start: &[f64]| {
            if from == 0 || cols.is_empty() {
                return start.to_vec();
            }
            let (q, mut rest) = v.rb_mut().split_at_col_mut(from);
            let mut t = rest.rb_mut().subcols_mut(cols.start - from, cols.len());
            let c = gram(q.rb(), t.rb(), res);
            // The first pass's update also measures the result, and sums the second pass's
            // coefficients while each chunk of the basis is in cache.
            let (again, after) = project_out(t.rb_mut(), q.rb(), c.as_ref(), true, res);
            // A second pass only where the first cancelled more than 1 − 1/√2 of a column
            // (the criterion of Daniel, Gragg, Kaufman and Stewart): otherwise one pass
            // leaves it orthogonal to ε·√2, and each pass reads the whole basis.
            if after
                .iter()
                .zip(start)
                .all(|(&after, &before)| after >= std::f64::consts::FRAC_1_SQRT_2 * before)
            {
                return after;
            }
            project_out(t, q.rb(), again.as_ref(), false, res).1
        };
    let blocked = against_basis(&mut v, from..to, &before);
    let mut end = from;
    for ((j, &before), &blocked) in (from..to).zip(&before).zip(&blocked) {
        if !(before > 0.0 && before.is_finite()) {
            continue;
        }
        let mut after = if end > from {
            // Two passes against the new columns kept so far, the second's coefficients and
            // the norm after summed during the first and second updates.
            let (q, mut rest) = v.rb_mut().split_at_col_mut(end);
            let q = q.subcols(from, end - from);
            let mut col = rest.rb_mut().col_mut(j - end).as_mat_mut();
            let c = gram(q, col.rb(), res);
            let (again, _) = project_out(col.rb_mut(), q, c.as_ref(), true, res);
            project_out(col, q, again.as_ref(), false, res).1[0]
        } else {
            col_norm(v.rb(), j)
        };
        if after < 0.5 * blocked {
            // Much of the column lay along the new columns kept before it: the rounding left
            // along the basis grew relative to what survives. One more pass restores it.
            after = against_basis(&mut v, j..j + 1, &[after])[0];
        }
        // Two passes leave an error of about ε·before/after in the orthogonality: keep a vector
        // only if more than 1e-6 of it survives (error ≤ 1e-10), else it lies in the space
        // already to what rounding can tell, and a poorly orthogonal basis would corrupt the
        // projected problems (which assume VᴴV = I).
        if after <= 1e-6 * before {
            continue;
        }
        let scale = 1.0 / after;
        if j != end {
            let (mut dst, src) = v.rb_mut().split_at_col_mut(j);
            dst.rb_mut()
                .col_mut(end)
                .iter_mut()
                .zip(src.col(0).iter())
                .for_each(|(d, s)| *d = s * scale);
        } else {
            v.rb_mut().col_mut(j).iter_mut().for_each(|x| *x *= scale);
        }
        end += 1;
    }
    end
}

/// `y = (H − σ)·x`.
fn apply_shifted(
    op: &StencilOperator<Complex64>,
    sigma: Complex64,
    x: &[Complex64],
    y: &mut [Complex64],
) {
    apply_then(
        op,
        x,
        y,
        #[inline(always)]
        |yc, xc, _| {
            yc.iter_mut().zip(xc).for_each(|(y, x)| *y -= sigma * x);
        },
    );
}

/// `y = (H − σ)ᴴ·x`: the stencil's kinetic part (hops and magnetic phases) is Hermitian, so
/// `Hᴴ = H + conj(D) − D` with `D` its diagonal (potential and absorber).
fn apply_shifted_adjoint(
    op: &StencilOperator<Complex64>,
    sigma: Complex64,
    x: &[Complex64],
    y: &mut [Complex64],
) {
    let diag = op.diagonal();
    let sigma = sigma.conj();
    apply_then(
        op,
        x,
        y,
        #[inline(always)]
        |yc, xc, rows| {
            yc.iter_mut()
                .zip(xc)
                .zip(&diag[rows])
                .for_each(|((y, x), d)| *y += (d.conj() - d - sigma) * x);
        },
    );
}

/// Column `j` of `a` as a slice.
fn col(a: MatRef<'_, Complex64>, j: usize) -> &[Complex64] {
    a.col(j).try_as_col_major().expect("contiguous").as_slice()
}

/// Column `j` of `a` as a mutable slice.
fn col_mut(a: MatMut<'_, Complex64>, j: usize) -> &mut [Complex64] {
    a.col_mut(j)
        .try_as_col_major_mut()
        .expect("contiguous")
        .as_slice_mut()
}

/// `a[:, 0..p] = a[:, 0..d]·q` in place (`q` is `d × p`, `p ≤ d`) and `u = a[:, 0..d]·y`
/// (`y` is `d × u.ncols()`), in one pass over `a` by chunks of rows (each dropped from the
/// resident memory after, out of core).
fn rotate_and_product(
    a: MatMut<'_, Complex64>,
    q: MatRef<'_, Complex64>,
    y: MatRef<'_, Complex64>,
    u: MatMut<'_, Complex64>,
    res: Residency,
) {
    let (p, r) = (q.ncols(), y.ncols());
    let mut both = Mat::<Complex64>::zeros(q.nrows(), p + r);
    both.subcols_mut(0, p).copy_from(q);
    both.subcols_mut(p, r).copy_from(y);
    a.par_row_chunks_mut(res.span())
        .zip(u.par_row_chunks_mut(res.span()))
        .for_each_init(Mat::<Complex64>::new, |t, (mut span, mut u)| {
            for start in (0..span.nrows()).step_by(CHUNK_ROWS) {
                let len = CHUNK_ROWS.min(span.nrows() - start);
                let mut rows = span.rb_mut().subrows_mut(start, len);
                // A chunk-sized temporary per thread, reused (`kernel_bytes`).
                t.resize_with(len, p + r, |_, _| Complex64::ZERO);
                matmul(
                    t.as_mut(),
                    Accum::Replace,
                    rows.rb(),
                    both.as_ref(),
                    ONE,
                    Par::Seq,
                );
                rows.rb_mut().subcols_mut(0, p).copy_from(t.subcols(0, p));
                u.rb_mut()
                    .subrows_mut(start, len)
                    .copy_from(t.subcols(p, r));
            }
            res.release(span.rb());
        });
}

/// `aᴴ·b` for tall `a` and `b`: sums of row-chunk products, in parallel, in fixed groups of
/// chunks ([`row_groups`]) so that the result does not depend on how rayon split the work (a tree
/// reduction's order follows work stealing, and a solve must give the same digits every run),
/// nor on where the rows live. (faer's own parallel product spins on its barriers for these
/// thin shapes.) Out of core, the rows are dropped from the resident memory a span at a time.
fn gram(a: MatRef<'_, Complex64>, b: MatRef<'_, Complex64>, res: Residency) -> Mat<Complex64> {
    let (n, p, q) = (a.nrows(), a.ncols(), b.ncols());
    let span = res.span();
    let parts: Vec<Mat<Complex64>> = row_groups(n, CHUNK_ROWS)
        .map(|chunks| {
            let mut part = Mat::<Complex64>::zeros(p, q);
            let mut chunks = chunks.peekable();
            // The first row not yet dropped from the resident memory.
            let mut kept = chunks.peek().map_or(0, |rows| rows.start);
            while let Some(rows) = chunks.next() {
                let (start, end) = (rows.start, rows.end);
                matmul(
                    part.as_mut(),
                    Accum::Add,
                    a.subrows(start, end - start).adjoint(),
                    b.subrows(start, end - start),
                    ONE,
                    Par::Seq,
                );
                if end - kept >= span || chunks.peek().is_none() {
                    res.release(a.subrows(kept, end - kept));
                    res.release(b.subrows(kept, end - kept));
                    kept = end;
                }
            }
            part
        })
        .collect();
    parts.into_iter().fold(Mat::zeros(p, q), |x, y| x + y)
}

/// `t ← t − q·c` for tall `t` and `q`, and in the same pass the norms of `t`'s columns after
/// and, when `next`, `qᴴ·t` after (the coefficients of a next Gram–Schmidt pass; an empty matrix
/// otherwise): each chunk of rows is updated, then measured while it is in cache. The chunks
/// and their fixed groups are [`gram`]'s and [`norm`]'s, summed in the same order, so the
/// results have the bits of the update followed by those two (the update of a row does not
/// depend on the chunk it is in). Out of core, the rows are dropped from the resident memory a
/// span at a time.
fn project_out(
    t: MatMut<'_, Complex64>,
    q: MatRef<'_, Complex64>,
    c: MatRef<'_, Complex64>,
    next: bool,
    res: Residency,
) -> (Mat<Complex64>, Vec<f64>) {
    let (n, p, k) = (t.nrows(), q.ncols(), t.ncols());
    let span = res.span();
    let groups: Vec<Vec<std::ops::Range<usize>>> =
        row_groups(n, CHUNK_ROWS).map(|g| g.collect()).collect();
    // Each group's rows of t, as a view of its own.
    let mut pieces = Vec::with_capacity(groups.len());
    let mut rest = t;
    for chunks in &groups {
        let rows = chunks.last().map_or(0, |r| r.end) - chunks.first().map_or(0, |r| r.start);
        let (piece, tail) = rest.split_at_row_mut(rows);
        pieces.push(piece);
        rest = tail;
    }
    let parts: Vec<(Mat<Complex64>, Vec<f64>)> = pieces
        .into_par_iter()
        .zip(groups)
        .map(|(mut piece, chunks)| {
            let base = chunks.first().map_or(0, |r| r.start);
            let mut part = Mat::<Complex64>::zeros(if next { p } else { 0 }, k);
            let mut squares = vec![0.0; k];
            // The first row not yet dropped from the resident memory.
            let mut kept = base;
            let last = chunks.len();
            for (i, rows) in chunks.into_iter().enumerate() {
                let (start, len) = (rows.start, rows.len());
                let qc = q.subrows(start, len);
                let mut tc = piece.rb_mut().subrows_mut(start - base, len);
                matmul(tc.rb_mut(), Accum::Add, qc, c, -ONE, Par::Seq);
                if next {
                    matmul(
                        part.as_mut(),
                        Accum::Add,
                        qc.adjoint(),
                        tc.rb(),
                        ONE,
                        Par::Seq,
                    );
                }
                for (j, sum) in squares.iter_mut().enumerate() {
                    *sum = col(tc.rb(), j).iter().fold(*sum, |s, v| s + v.norm_sqr());
                }
                if rows.end - kept >= span || i + 1 == last {
                    res.release(q.subrows(kept, rows.end - kept));
                    res.release(piece.rb().subrows(kept - base, rows.end - kept));
                    kept = rows.end;
                }
            }
            (part, squares)
        })
        .collect();
    let mut gram = Mat::<Complex64>::zeros(if next { p } else { 0 }, k);
    for (part, _) in &parts {
        gram += part;
    }
    let norms = (0..k)
        .map(|j| parts.iter().map(|(_, s)| s[j]).sum::<f64>().sqrt())
        .collect();
    (gram, norms)
}

/// `t = alpha·q·c` (`Accum::Replace`) or `t += alpha·q·c` (`Accum::Add`) for tall `t` and `q`,
/// by chunks of rows in parallel (each dropped from the resident memory after, out of core).
fn tall_product(
    t: MatMut<'_, Complex64>,
    q: MatRef<'_, Complex64>,
    c: MatRef<'_, Complex64>,
    accum: Accum,
    alpha: Complex64,
    res: Residency,
) {
    t.par_row_chunks_mut(res.span())
        .zip(q.par_row_chunks(res.span()))
        .for_each(|(mut t, q)| {
            for start in (0..t.nrows()).step_by(CHUNK_ROWS) {
                let len = CHUNK_ROWS.min(t.nrows() - start);
                let t = t.rb_mut().subrows_mut(start, len);
                matmul(t, accum, q.subrows(start, len), c, alpha, Par::Seq);
            }
            res.release(t.rb());
            res.release(q);
        });
}

/// The projections the extraction needs, `d × d` (grown and rotated with the basis), of
/// `W = (H − σ)V` (never stored): `G = Vᴴ·W` (so `Vᴴ·H·V = G + σ`) and `M = Wᴴ·W`. Both come
/// from products with `H − σ` itself, never from `H·V` and σ apart: `(HV)ᴴHV − σ…` would cancel
/// and cap the residuals near √ε·‖H‖.
struct Projections {
    g: Mat<Complex64>,
    m: Mat<Complex64>,
}

impl Projections {
    /// Sets rows and columns `from..to` for the new columns `X = v[:, from..to]` (columns
    /// `0..from` are in place), from `(H − σ)X`, `(H − σ)ᴴ(H − σ)X` and `(H − σ)ᴴX` made in
    /// `work` (`to − from` columns and the temporary); returns the operator applications.
    ///
    /// `G[:, new] = Vᴴ(H − σ)X`, `G[new, old] = ((H − σ)ᴴX)ᴴ·V_old`, `M[new, new] = WₓᴴWₓ` and
    /// `M[old, new] = V_oldᴴ·(H − σ)ᴴWₓ` with `Wₓ = (H − σ)X`. Rounding: the last is off by
    /// about ε·‖H‖·‖Wₓ‖, as a product with a stored `W` would be (each stored column carries
    /// the error ε·‖H‖ of its own product); relative to an entry of a converged pair,
    /// ε·‖H‖/|λ − σ| ≈ 10⁻¹² for the 1000² open dot (‖H‖ ≈ 40 eV, |λ − σ| ≥ 0.1 meV), far below
    /// any residual tolerance.
    ///
    /// Out of core, each new column of `v` is dropped from the resident memory after each
    /// product with it (the Gram matrices drop theirs by spans).
    #[allow(clippy::too_many_arguments)]
    fn extend(
        &mut self,
        op: &StencilOperator<Complex64>,
        sigma: Complex64,
        v: MatRef<'_, Complex64>,
        work: MatMut<'_, Complex64>,
        from: usize,
        to: usize,
        res: Residency,
    ) -> u64 {
        let mut work = work;
        let new = to - from;
        let temp = work.ncols() - 1;
        debug_assert!(new <= temp);
        let x = v.subcols(from, new);
        for j in 0..new {
            apply_shifted(op, sigma, col(x, j), col_mut(work.rb_mut(), j));
            res.release(x.subcols(j, 1));
        }
        let wx = work.rb().subcols(0, new);
        let cols = gram(v.subcols(0, to), wx, res);
        self.g.submatrix_mut(0, from, to, new).copy_from(&cols);
        let block = gram(wx, wx, res);
        self.m.submatrix_mut(from, from, new, new).copy_from(&block);
        if from == 0 {
            return new as u64;
        }
        let old = v.subcols(0, from);
        // (H − σ)ᴴWₓ, each column's image one column to the right (the last one's into column
        // `new`, at most the temporary), from the last column down: no copies.
        for j in (0..new).rev() {
            let (head, mut tail) = work.rb_mut().split_at_col_mut(j + 1);
            apply_shifted_adjoint(op, sigma, col(head.rb(), j), col_mut(tail.rb_mut(), 0));
        }
        let cols = gram(old, work.rb().subcols(1, new), res);
        self.m.submatrix_mut(0, from, from, new).copy_from(&cols);
        // M is Hermitian: its new rows are the adjoint of its new columns.
        self.m
            .submatrix_mut(from, 0, new, from)
            .copy_from(cols.adjoint());
        for j in 0..new {
            apply_shifted_adjoint(op, sigma, col(x, j), col_mut(work.rb_mut(), j));
            res.release(x.subcols(j, 1));
        }
        let rows = gram(work.rb().subcols(0, new), old, res);
        self.g.submatrix_mut(from, 0, new, from).copy_from(&rows);
        3 * new as u64
    }

    /// Rotates to the basis `V·q` (`q` is `d × p` with orthonormal columns).
    fn rotate(&mut self, d: usize, q: MatRef<'_, Complex64>) {
        let p = q.ncols();
        for a in [&mut self.g, &mut self.m] {
            let small: Mat<Complex64> = q.adjoint() * (a.submatrix(0, 0, d, d) * q);
            a.submatrix_mut(0, 0, p, p).copy_from(&small);
        }
    }

    /// The `min(m, d)` harmonic Ritz pairs for σ: `y` with `WᴴW·y = ν·WᴴV·y`, `W = (H − σ)V`,
    /// the smallest |ν| first (harmonic Ritz values approach the eigenvalues nearest σ from
    /// outside, so the spurious Ritz values that plague interior eigenproblems do not appear).
    /// Each unit `y` is paired with its Rayleigh quotient θ = yᴴGy, and the pairs are sorted by
    /// |θ − σ|, ties broken by real then imaginary part.
    fn harmonic_ritz(
        &self,
        d: usize,
        sigma: Complex64,
        m: usize,
    ) -> Result<(Vec<Complex64>, Mat<Complex64>)> {
        let g = self.g.submatrix(0, 0, d, d);
        let wtv = g.adjoint().to_owned();
        // In standard form, (WᴴV)⁻¹WᴴW·y = ν·y: WᴴV = Gᴴ is invertible (its smallest singular
        // value is about the distance from σ to the spectrum, and the solver keeps σ off every
        // eigenvalue). faer's QZ on the pencil (WᴴW, WᴴV) lost eigenvalues: on the 270² open
        // dot at 22 meV the dot's degenerate pair, converged to 5e-9, vanished from the
        // pencil's eigenvalues when four corrections joined the space, although the standard
        // form of the same matrices still had it to 10 digits; the pair came and went, the
        // finest level took 265 iterations instead of 82, and at 500² it never converged (568
        // iterations over both levels; now 162).
        let pencil = wtv.partial_piv_lu().solve(self.m.submatrix(0, 0, d, d));
        let evd = pencil.eigen().map_err(|e| {
            Error::new(
                ErrorKind::NotConverged,
                format!("projected eigenproblem: {e:?}"),
            )
        })?;
        let values = evd.S();
        let nu = |i: usize| {
            let v: Complex64 = values[i];
            if v.re.is_finite() && v.im.is_finite() {
                v.norm()
            } else {
                f64::INFINITY
            }
        };
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&i, &j| nu(i).total_cmp(&nu(j)));
        let p = m.min(d);
        let mut pairs: Vec<(Complex64, usize)> = Vec::with_capacity(p);
        let mut y = Mat::<Complex64>::zeros(d, p);
        let mut c = 0;
        while c < p {
            // A cluster: harmonic values equal to 1e-9 relative (a degenerate multiplet split
            // only by rounding). Its computed eigenvectors can be nearly parallel (the eigenvector
            // problem of a repeated eigenvalue is ill-conditioned), which would lose a member at
            // the next restart; the smallest right singular vectors of WᴴW − ν·WᴴV span the
            // eigenspace orthonormally instead.
            let i0 = order[c];
            let nu0 = values[i0];
            let mut size = 1;
            while c + size < p {
                let i = order[c + size];
                let nu = values[i];
                if (nu - nu0).norm() > 1e-9 * nu.norm().max(nu0.norm()) {
                    break;
                }
                size += 1;
            }
            if size == 1 || !(nu0.re.is_finite() && nu0.im.is_finite()) {
                let u = evd.U().col(i0);
                let scale = 1.0 / u.norm_l2();
                y.col_mut(c)
                    .iter_mut()
                    .zip(u.iter())
                    .for_each(|(a, b)| *a = b * scale);
                size = 1;
            } else {
                let mut shifted = self.m.submatrix(0, 0, d, d).to_owned();
                for j in 0..d {
                    for i in 0..d {
                        shifted[(i, j)] -= nu0 * wtv[(i, j)];
                    }
                }
                let svd = shifted.svd().map_err(|e| {
                    Error::new(ErrorKind::NotConverged, format!("projected SVD: {e:?}"))
                })?;
                // Singular values come in decreasing order: the last `size` columns.
                for s in 0..size {
                    y.col_mut(c + s).copy_from(svd.V().col(d - size + s));
                }
            }
            c += size;
        }
        for c in 0..p {
            let gy: Mat<Complex64> = g * y.col(c).as_mat();
            let theta = (y.col(c).adjoint() * gy.col(0)).to_owned() + sigma;
            pairs.push((theta, c));
        }
        pairs.sort_by(|a, b| {
            (a.0 - sigma)
                .norm()
                .total_cmp(&(b.0 - sigma).norm())
                .then(a.0.re.total_cmp(&b.0.re))
                .then(a.0.im.total_cmp(&b.0.im))
        });
        let mut sorted = Mat::<Complex64>::zeros(d, p);
        for (c, &(_, from)) in pairs.iter().enumerate() {
            sorted.col_mut(c).copy_from(y.col(from));
        }
        Ok((pairs.iter().map(|&(t, _)| t).collect(), sorted))
    }
}

/// One damped-Jacobi step of the first `thetas.len()` vectors of `basis.v` (leading
/// `op.dim()` rows; Ritz vectors interpolated from the coarser level, `thetas` their values
/// there) towards eigenvectors of `op`: `u ← u − ω·(D − θ)⁻¹(H − θ)u`, one operator application
/// each, the work block's first column as the temporary.
///
/// ω = 2/3: on a finer grid the diagonal D (the kinetic 2·dims·t plus potential and absorber)
/// dwarfs θ, and the oscillating components that interpolation leaves have eigenvalues of
/// (D − θ)⁻¹(H − θ) in [1, 2], which the step multiplies by at most 1/3; the smooth ones, near
/// 0, it leaves nearly alone. On the open dot at 17 meV the finest level's first residual fell
/// from 9.2·10⁻² to 3.1·10⁻² at 1000² and the level took 8 iterations instead of 9 (500²: 9
/// instead of 11); two steps did the same, four took 12 (the indefinite H − θ amplifies
/// components below θ a little at every step).
pub(crate) fn relax(op: &StencilOperator<Complex64>, thetas: &[Complex64], basis: &mut Basis) {
    const OMEGA: f64 = 2.0 / 3.0;
    let n = op.dim();
    let diag = op.diagonal();
    let res = basis.residency;
    let mut v = basis.v.as_mat_mut().subrows_mut(0, n);
    let mut work = basis.work.as_mut().subrows_mut(0, n);
    for (j, &theta) in thetas.iter().enumerate() {
        let r = col_mut(work.rb_mut(), 0);
        apply_shifted(op, theta, col(v.rb(), j), r);
        col_mut(v.rb_mut(), j)
            .par_iter_mut()
            .zip(r.par_iter())
            .zip(diag.par_iter())
            .for_each(|((u, &r), &d)| *u -= r * (OMEGA / (d - theta)));
        res.release(v.rb().subcols(j, 1));
    }
    res.release_all();
}

/// A preconditioner of the corrections, `K ≈ (H − shift)⁻¹`: each unconverged pair's
/// correction goes through the one whose shift lies nearest its Ritz value.
pub(crate) struct Correction<'a> {
    pub preconditioner: &'a dyn Preconditioner<Complex64>,
    pub shift: Complex64,
}

/// Moves columns `sources[i]` of `block` to column `i` (the sources distinct), by swaps: the
/// other columns end up somewhere after `sources.len()`.
fn gather_columns(mut block: MatMut<'_, Complex64>, sources: &[usize]) {
    // `who[j]`: the original column now at `j`; `at` its inverse.
    let mut who: Vec<usize> = (0..block.ncols()).collect();
    let mut at = who.clone();
    for (i, &source) in sources.iter().enumerate() {
        // Columns before i hold sources[..i], so the source is at i or after.
        let j = at[source];
        if j != i {
            let (mut left, mut right) = block.rb_mut().split_at_col_mut(j);
            let (a, b) = (col_mut(left.rb_mut(), i), col_mut(right.rb_mut(), 0));
            a.swap_with_slice(b);
            at[who[i]] = j;
            at[source] = i;
            who.swap(i, j);
        }
    }
}

/// Runs block Davidson on a level of dimension `n = op.dim()` from the start vectors in the
/// first `params.m` columns of `basis.v` (leading `n` rows, any basis of the start space),
/// leaving the unit Ritz vectors nearest `sigma` there.
///
/// Out of core (`basis.v` in a scratch file) the passes over the whole space drop each chunk
/// of rows from the resident memory when done, and every iteration ends by dropping the rest
/// (the few columns its residuals, corrections and products touched) and by checking that the
/// file's pages were read back (`ErrorKind::Io` otherwise).
pub(crate) fn davidson(
    op: &StencilOperator<Complex64>,
    corrections: &[Correction<'_>],
    sigma: Complex64,
    basis: &mut Basis,
    params: LevelParams,
    mut progress: Option<&mut ProgressFn<'_>>,
) -> Result<LevelOutcome> {
    let n = op.dim();
    let dmax = basis.v.ncols();
    let m = params.m;
    debug_assert!(params.k < m && 3 * m <= dmax && n <= basis.v.nrows());
    debug_assert!(params.k <= params.expand && params.expand <= m);
    debug_assert!(basis.work.ncols() > m && n <= basis.work.nrows());
    let res = basis.residency;
    let mut v = basis.v.as_mat_mut().subrows_mut(0, n);
    let mut work = basis.work.as_mut().subrows_mut(0, n);
    let mut d = orthonormalize(v.rb_mut(), 0, m, res);
    if d == 0 {
        return Err(Error::new(
            ErrorKind::Internal,
            "the start vectors of the resonance solver are all zero",
        ));
    }
    let mut proj = Projections {
        g: Mat::zeros(dmax, dmax),
        m: Mat::zeros(dmax, dmax),
    };
    let mut out = LevelOutcome {
        applications: proj.extend(op, sigma, v.rb(), work.rb_mut(), 0, d, res),
        ..LevelOutcome::default()
    };
    loop {
        let (mut thetas, mut y) = proj.harmonic_ritz(d, sigma, m)?;
        let p = thetas.len();
        // The Ritz vectors U = V·Y go to the work block.
        let mut u = work.rb_mut().subcols_mut(0, p);
        if d + p > dmax {
            // Thick restart: keep the dmax − m harmonic Ritz vectors nearest σ (orthonormalised
            // in the small space), room for the next m corrections. Keeping more than the m
            // wanted ones keeps the directions of the clustered eigenvalues around them (the
            // pseudo-continuum of an absorbing box), which a restart to m alone throws away.
            // The rotation and the Ritz vectors of the rotated basis share one pass over V.
            let keep = dmax - m;
            let (_, kept) = proj.harmonic_ritz(d, sigma, keep)?;
            let q = kept.qr().compute_thin_Q();
            proj.rotate(d, q.as_ref());
            (thetas, y) = proj.harmonic_ritz(q.ncols(), sigma, m)?;
            let qy = q.as_ref() * y.as_ref();
            rotate_and_product(
                v.rb_mut().subcols_mut(0, d),
                q.as_ref(),
                qy.as_ref(),
                u.rb_mut(),
                res,
            );
            d = q.ncols();
        } else {
            tall_product(
                u.rb_mut(),
                v.rb().subcols(0, d),
                y.as_ref(),
                Accum::Replace,
                ONE,
                res,
            );
        }
        // Their residuals r = (H − θ)·u into the free columns d..d+p of V.
        let mut residuals = Vec::with_capacity(p);
        let mut converged = Vec::with_capacity(p);
        for (c, &theta) in thetas.iter().enumerate() {
            let r = col_mut(v.rb_mut(), d + c);
            apply_shifted(op, theta, col(u.rb(), c), r);
            let r_norm = norm(r);
            residuals.push(r_norm);
            converged.push(r_norm <= params.tol * theta.norm().max(params.scale));
            res.release(v.rb().subcols(d + c, 1));
        }
        out.applications += p as u64;
        out.iterations += 1;
        let done = converged.iter().take(params.k).all(|&c| c);
        let worst = thetas
            .iter()
            .zip(&residuals)
            .zip(&converged)
            .take(params.k)
            .filter(|(_, c)| !**c)
            .map(|((t, r), _)| r / t.norm().max(params.scale))
            .fold(0.0, f64::max);
        if let Some(callback) = progress.as_deref_mut() {
            let report = Progress {
                level: params.level,
                levels: params.levels,
                iteration: params.iterations_before + out.iterations,
                converged: converged.iter().take(params.k).filter(|&&c| c).count(),
                wanted: params.k,
                max_residual: worst,
                applications: params.applications_before + out.applications,
            };
            if callback(&report) {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    "cancelled by the progress callback",
                ));
            }
        }
        let stop = done || out.iterations >= params.max_iterations;
        let end = if stop {
            d
        } else {
            // Corrections t = K·r of the unconverged pairs among the leading `expand`, each
            // by the preconditioner whose shift lies nearest its Ritz value, compacted to
            // columns d.. by preconditioner and orthonormalised (an end at d: every correction
            // lies in the space already, no progress is possible).
            let nearest = |theta: Complex64| {
                (0..corrections.len())
                    .min_by(|&a, &b| {
                        let distance = |i: usize| (theta - corrections[i].shift).norm();
                        distance(a).total_cmp(&distance(b))
                    })
                    .unwrap_or(0)
            };
            // (preconditioner, pair) of each correction, by preconditioner (a stable sort: in
            // pair order within each).
            let mut keyed: Vec<(usize, usize)> = converged
                .iter()
                .enumerate()
                .take(params.expand)
                .filter(|(_, done)| !**done)
                .map(|(c, _)| (nearest(thetas[c]), c))
                .collect();
            keyed.sort_by_key(|&(which, _)| which);
            let sources: Vec<usize> = keyed.iter().map(|&(_, c)| c).collect();
            let groups = (0..corrections.len()).map(|which| {
                let start = keyed.partition_point(|&(w, _)| w < which);
                start..keyed.partition_point(|&(w, _)| w <= which)
            });
            gather_columns(v.rb_mut().subcols_mut(d, p), &sources);
            for (correction, cols) in corrections.iter().zip(groups) {
                if !cols.is_empty() {
                    // The V-cycles of a group in lockstep (one pass over its bottom factor).
                    let block = v.rb_mut().subcols_mut(d + cols.start, cols.len());
                    correction.preconditioner.apply_block_in_place(block);
                }
            }
            let b = sources.len();
            orthonormalize(v.rb_mut(), d, d + b, res)
        };
        if end == d {
            // The Ritz vectors, still in the work block, to V's first columns.
            v.rb_mut()
                .subcols_mut(0, p)
                .copy_from(work.rb().subcols(0, p));
            res.release_all();
            res.check()?;
            out.values = thetas;
            out.residuals = residuals;
            out.converged = converged;
            return Ok(out);
        }
        out.applications += proj.extend(op, sigma, v.rb(), work.rb_mut(), d, end, res);
        res.release_all();
        res.check()?;
        d = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic `n × k` matrix of unit-scale values.
    fn filled(n: usize, k: usize, seed: f64) -> Mat<Complex64> {
        Mat::from_fn(n, k, |i, j| {
            let x = (i * 7 + j * 13) as f64 * seed;
            Complex64::new(x.sin(), (1.3 * x).cos())
        })
    }

    #[test]
    fn gathering_columns_moves_each_source_to_its_place() {
        let (n, p) = (5, 7);
        let original = filled(n, p, 0.29);
        for sources in [
            vec![],
            vec![3],
            vec![6, 0, 2],
            vec![1, 0],
            vec![4, 5, 6, 0, 1, 2, 3],
        ] {
            let mut block = original.clone();
            gather_columns(block.as_mut(), &sources);
            for (i, &source) in sources.iter().enumerate() {
                assert!(
                    block.col(i) == original.col(source),
                    "{sources:?}: column {i}"
                );
            }
            // The other columns are kept, somewhere after the gathered ones.
            for other in (0..p).filter(|c| !sources.contains(c)) {
                assert!(
                    (sources.len()..p).any(|j| block.col(j) == original.col(other)),
                    "{sources:?}: column {other} lost"
                );
            }
        }
    }

    #[test]
    fn projecting_out_gives_the_bits_of_the_update_then_the_gram_matrix_and_norms() {
        let (n, p, k) = (70_001, 18, 6);
        let q = filled(n, p, 0.37);
        let c = filled(p, k, 0.11);
        let res = Residency::in_core(CHUNK_ROWS);
        let mut t = filled(n, k, 0.23);
        let mut expected = t.clone();
        let (next, norms) = project_out(t.as_mut(), q.as_ref(), c.as_ref(), true, res);
        tall_product(
            expected.as_mut(),
            q.as_ref(),
            c.as_ref(),
            Accum::Add,
            -ONE,
            res,
        );
        assert!(t == expected, "the update differs");
        assert!(
            next == gram(q.as_ref(), expected.as_ref(), res),
            "the Gram matrix differs"
        );
        let expected_norms: Vec<f64> = (0..k).map(|j| col_norm(expected.as_ref(), j)).collect();
        assert_eq!(norms, expected_norms);
    }
}
