//! A block Krylov–Schur decomposition A·V_p = V_{p+b}·Ḡ for a general (non-Hermitian) operator
//! A given as a closure: block Arnoldi expansion with classical Gram–Schmidt applied twice,
//! Rayleigh–Ritz on the p × p leading block of Ḡ, and thick restarts that keep a chosen set of
//! Ritz vectors (Stewart's Krylov–Schur with the kept invariant subspace spanned by an
//! orthonormal basis of the kept Ritz vectors instead of reordered Schur vectors).
//!
//! Blocks: a single-vector Krylov space holds only one direction of a degenerate eigenspace
//! (the component of the start vector in it); a block of b vectors finds all members of a
//! multiplet of size ≤ b. The resonance solver (`open_system.rs`) expands by single vectors,
//! which reach a higher Krylov degree for the same solves, and finds the other members of a
//! multiplet by locking and restarting (`verify_cycle` there).
//!
//! Memory: the basis (n × (m + b)) and the row-chunk scratch of the restart product are in the
//! manager's pool; the projected matrices (at most (m + b) × m) are faer `Mat`s.

use super::random::fill_random;
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::ManagedMatrix;
use crate::memory::MemoryManager;
use faer::linalg::matmul::matmul;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef};
use num_complex::Complex64;

const ONE: Complex64 = Complex64::new(1.0, 0.0);

/// Rows per chunk of the in-place restart product V ← V·Q.
const CHUNK_ROWS: usize = 4096;

/// A column whose norm falls below this fraction of its norm before Gram–Schmidt is
/// numerically in the span of the basis (an invariant subspace was found): it is replaced by
/// a random direction and its coupling in Ḡ set to zero, an error of at most this relative
/// size in the decomposition.
const BREAKDOWN: f64 = 1e-12;

/// The decomposition A·V[:, ..p] = V[:, ..p + b]·G[..p + b, ..p] with orthonormal V.
pub(crate) struct KrylovSchur {
    basis: ManagedMatrix<Complex64>,
    /// Ḡ, (m + b) × m; only the leading (p + b) × p block is meaningful.
    g: Mat<Complex64>,
    chunk: ManagedMatrix<Complex64>,
    block: usize,
    max_size: usize,
    size: usize,
    seed: u64,
    salt: usize,
}

/// The Ritz pairs of the current decomposition: θ-independent eigenvalues μ of the projected
/// matrix and its eigenvectors (columns of `y`).
pub(crate) struct RitzPairs {
    pub(crate) values: Vec<Complex64>,
    pub(crate) y: Mat<Complex64>,
}

impl KrylovSchur {
    /// Room for a basis of up to `max_size` expanded columns plus one block of `block`, on `n`
    /// rows, in the pool under `tag`.
    pub(crate) fn new(
        manager: &MemoryManager,
        n: usize,
        block: usize,
        max_size: usize,
        seed: u64,
        tag: &str,
    ) -> Result<Self> {
        if block == 0 || max_size < block || max_size + block > n {
            return Err(Error::invalid_argument(format!(
                "a Krylov basis of {max_size} + {block} columns needs at least that many rows \
                 (n = {n})"
            )));
        }
        let basis = ManagedMatrix::<Complex64>::uninit_values(manager, n, max_size + block, tag)?;
        let chunk = ManagedMatrix::<Complex64>::uninit_values(
            manager,
            CHUNK_ROWS.min(n),
            max_size,
            &format!("{tag}.restart"),
        )?;
        Ok(Self {
            basis,
            g: Mat::zeros(max_size + block, max_size),
            chunk,
            block,
            max_size,
            size: 0,
            seed,
            salt: 0,
        })
    }

    /// True when another block expansion fits.
    pub(crate) fn can_expand(&self) -> bool {
        self.size + 2 * self.block <= self.max_size + self.block
    }

    /// Starts afresh from the first `block` columns of `start` (fewer: random ones complete
    /// them), passed through `project` (e.g. a deflation) and orthonormalised.
    pub(crate) fn start(
        &mut self,
        start: Option<MatRef<'_, Complex64>>,
        project: &dyn Fn(MatMut<'_, Complex64>),
    ) {
        let b = self.block;
        let given = start.map_or(0, |s| s.ncols().min(b));
        for j in 0..b {
            if j < given {
                let s = start.expect("given > 0");
                self.basis.as_mut().col_mut(j).copy_from(s.col(j));
            } else {
                self.salt += 1;
                fill_random(self.basis.col_mut(j), self.seed, self.salt);
            }
        }
        project(self.basis.as_mut().subcols_mut(0, b));
        self.g.fill(Complex64::new(0.0, 0.0));
        self.size = 0;
        for j in 0..b {
            let mut coefficients = Mat::zeros(j, 1);
            self.orthogonalise(j, coefficients.as_mut(), project);
        }
    }

    /// Expands by one block: W = A·V[:, p..p + b] (by `apply`, which works in place on the
    /// columns it is given and returns false when its result is unusable), orthogonalised
    /// against the basis into V[:, p + b..p + 2b]. Returns false (nothing changed but the
    /// scratch columns) when `apply` failed.
    pub(crate) fn expand(
        &mut self,
        apply: &mut dyn FnMut(MatMut<'_, Complex64>) -> bool,
        project: &dyn Fn(MatMut<'_, Complex64>),
    ) -> bool {
        let (p, b) = (self.size, self.block);
        debug_assert!(self.can_expand());
        {
            let (head, mut tail) = self.basis.as_mut().split_at_col_mut(p + b);
            tail.rb_mut()
                .subcols_mut(0, b)
                .copy_from(head.rb().subcols(p, b));
        }
        if !apply(self.basis.as_mut().subcols_mut(p + b, b)) {
            return false;
        }
        for c in 0..b {
            let j = p + b + c;
            let mut coefficients = Mat::zeros(j + 1, 1);
            self.orthogonalise(j, coefficients.as_mut(), project);
            self.g
                .as_mut()
                .col_mut(p + c)
                .subrows_mut(0, j + 1)
                .copy_from(coefficients.col(0));
        }
        self.size = p + b;
        true
    }

    /// Orthonormalises column `j` against columns `..j` (classical Gram–Schmidt, twice),
    /// writing the coefficients into `coefficients[..j]` and the remaining norm into
    /// `coefficients[j]` (when it has that row). A column in the span of the others is replaced
    /// by a random direction (projected by `project`) with a zero norm coefficient.
    fn orthogonalise(
        &mut self,
        j: usize,
        mut coefficients: MatMut<'_, Complex64>,
        project: &dyn Fn(MatMut<'_, Complex64>),
    ) {
        let par = faer::get_global_parallelism();
        let before = self.basis.as_ref().col(j).norm_l2();
        let mut record = true;
        for _ in 0..4 {
            let (done, mut rest) = self.basis.as_mut().split_at_col_mut(j);
            let mut col = rest.rb_mut().col_mut(0);
            for _ in 0..2 {
                let h = done.rb().adjoint() * col.rb();
                matmul(
                    col.rb_mut().as_mat_mut(),
                    Accum::Add,
                    done.rb(),
                    h.as_mat(),
                    -ONE,
                    par,
                );
                if record {
                    for i in 0..j {
                        coefficients[(i, 0)] += h[i];
                    }
                }
            }
            let after = col.norm_l2();
            if after.is_finite() && after > BREAKDOWN * before.max(f64::MIN_POSITIVE) {
                let inv = 1.0 / after;
                for v in col.iter_mut() {
                    *v *= inv;
                }
                if record && coefficients.nrows() > j {
                    coefficients[(j, 0)] = Complex64::new(after, 0.0);
                }
                return;
            }
            // Invariant subspace (or a dead column): continue with a random direction, not
            // coupled to the others (its Ḡ entry stays zero).
            record = false;
            self.salt += 1;
            fill_random(self.basis.col_mut(j), self.seed, 1 << 20 | self.salt);
            project(self.basis.as_mut().subcols_mut(j, 1));
        }
        // Four random directions all in the span: the basis already fills the space.
        let col = self.basis.col_mut(j);
        col.fill(Complex64::new(0.0, 0.0));
    }

    /// Eigenpairs (μ, y) of the p × p Rayleigh quotient G[..p, ..p].
    pub(crate) fn ritz(&self) -> Result<RitzPairs> {
        let p = self.size;
        let evd = self.g.as_ref().submatrix(0, 0, p, p).eigen().map_err(|e| {
            Error::new(
                ErrorKind::NotConverged,
                format!("the {p} × {p} projected eigenproblem failed: {e:?}"),
            )
        })?;
        Ok(RitzPairs {
            values: (0..p).map(|i| evd.S()[i]).collect(),
            y: evd.U().to_owned(),
        })
    }

    /// x ← V[:, ..p]·y (a Ritz vector).
    pub(crate) fn ritz_vector(&self, y: MatRef<'_, Complex64>, x: MatMut<'_, Complex64>) {
        matmul(
            x,
            Accum::Replace,
            self.basis.as_ref().subcols(0, self.size),
            y,
            ONE,
            faer::get_global_parallelism(),
        );
    }

    /// Thick restart keeping the span of the Ritz vectors `keep` (columns of `ritz.y`):
    /// V[:, ..r] ← V·Q with Q an orthonormal basis of those vectors, the residual block moves
    /// to V[:, r..r + b], and Ḡ becomes [QᴴGQ; EQ] (E the residual rows). Exact when the kept
    /// vectors span an invariant subspace of G (true to the eigensolver's rounding).
    pub(crate) fn restart(&mut self, ritz: &RitzPairs, keep: &[usize]) {
        let (p, b, r) = (self.size, self.block, keep.len());
        debug_assert!(r > 0 && r < p);
        let y = Mat::<Complex64>::from_fn(p, r, |i, j| ritz.y[(i, keep[j])]);
        let q = y.qr().compute_thin_Q();
        let gp = self.g.as_ref().submatrix(0, 0, p, p);
        let s = q.adjoint() * gp * &q;
        let e = self.g.as_ref().submatrix(p, 0, b, p) * &q;
        // V[:, ..r] ← V[:, ..p]·Q, a chunk of rows at a time (each chunk's result depends on
        // its own rows only).
        let n = self.basis.nrows();
        let par = faer::get_global_parallelism();
        let mut r0 = 0;
        while r0 < n {
            let len = CHUNK_ROWS.min(n - r0);
            let mut chunk = self.chunk.as_mut().submatrix_mut(0, 0, len, r);
            matmul(
                chunk.rb_mut(),
                Accum::Replace,
                self.basis.as_ref().submatrix(r0, 0, len, p),
                q.as_ref(),
                ONE,
                par,
            );
            self.basis
                .as_mut()
                .submatrix_mut(r0, 0, len, r)
                .copy_from(chunk.rb());
            r0 += len;
        }
        // The residual block, moved left (r < p: ascending columns never overwrite a source
        // not yet copied).
        for c in 0..b {
            let (head, tail) = self.basis.as_mut().split_at_col_mut(p + c);
            head.col_mut(r + c).copy_from(tail.rb().col(0));
        }
        self.g.fill(Complex64::new(0.0, 0.0));
        self.g.as_mut().submatrix_mut(0, 0, r, r).copy_from(&s);
        self.g.as_mut().submatrix_mut(r, 0, b, r).copy_from(&e);
        self.size = r;
    }
}
