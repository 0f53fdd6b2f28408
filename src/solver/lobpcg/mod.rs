//! Block LOBPCG (Knyazev's locally optimal block preconditioned conjugate gradient), written
//! once over a [`BlockBackend`] — where the blocks live and how `H`, the preconditioner and the
//! block products are applied — so that the host (`host.rs`: blocks in the pool or in scratch
//! files) and the GPU (`gpu/solve.rs`) run the same iteration: hard locking of the leading
//! converged pairs, SVQB orthonormalisation of W and P against the rest
//! ([`small::orthonormalize`]), Rayleigh–Ritz on `[X_active, W, P]` with the small dense
//! eigenproblem on the host ([`small::hermitian_eigen`], or the pencil with the Gram matrix
//! when W and P are stored in single precision: [`small::hermitian_pencil_eigen`]), and
//! `X ← S·C`, `P ← [0; W; P]·C`.
//! Because whole blocks are projected at once, every member of a degenerate multiplet that fits
//! in the block is found (single-vector Lanczos misses copies).
//!
//! | file | what lives there |
//! |---|---|
//! | `mod.rs` | [`LobpcgParams`], [`LobpcgOutcome`], [`BlockBackend`], the iteration [`block_lobpcg`] |
//! | `driver.rs` | the one coarse-to-fine driver every LOBPCG solve runs through (CPU grid and CSR, shift-invert, GPU) |
//! | `host.rs` | the host's blocks (pool or scratch files) and its backend; [`host::HostLevels`] |
//! | `block.rs` | row-chunked tall-skinny kernels: Gram matrices, `SᴴHS`, combinations, residuals |
//! | `small.rs` | eigen-decomposition of projected matrices, SVQB orthonormalisation |
//!
//! The unit tests below also run the loop on a minimal backend of plain vectors and compare with
//! the dense solver and the full CPU solver.

pub(crate) mod block;
pub(crate) mod driver;
pub(crate) mod host;
pub(crate) mod small;

use super::options::EigenOptions;
use super::progress::{Progress, ProgressFn};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::Scalar;
use faer::Mat;
use small::{ColumnBlock, hermitian_eigen, hermitian_pencil_eigen, orthonormalize};

/// The loosest residual tolerance of the coarser levels of a coarse-to-fine solve (they take
/// the requested tolerance when it is looser). A coarse level's iterations cost a quarter (2D)
/// or an eighth (3D) of the next finer level's, and the better its vectors, the fewer
/// iterations the finest level needs after interpolation. Measured with the 2D dot (lowest
/// 10, tol 10⁻⁶; same host, same run), coarse levels at 10⁻³ against 10⁻⁶: the finest level's
/// iterations at 1000² 7 → 4, time 1.82 → 1.54 s; 2000² 9.7 → 3.8 s (2 finest iterations);
/// 3D 100³, lowest 20: 10.5 → 8.6 s. 10⁻⁵ and 3·10⁻⁶ lay in between. A finer request (e.g.
/// 10⁻⁸) still stops the coarse levels at 10⁻⁶ (tighter coarse tolerances were not measured).
const COARSE_TOLERANCE: f64 = 1e-6;

/// What LOBPCG is asked to do on one level.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LobpcgParams {
    /// Pairs that must converge (the lowest `k`; the block may hold more).
    pub k: usize,
    /// Relative residual tolerance: ‖Hx − λx‖ ≤ tol · max(|λ|, scale).
    pub tol: f64,
    /// Iterations at most.
    pub max_iter: usize,
    /// The `scale` above (a spectrum width estimate) so that λ ≈ 0 does not demand the impossible.
    pub scale: f64,
    /// Level reported to the progress callback.
    pub level: usize,
    /// Number of levels reported to the progress callback.
    pub levels: usize,
    /// Operator applications on the levels before this one (progress reports count from it).
    pub applications_before: u64,
}

impl LobpcgParams {
    /// The parameters of `level` (0 = finest) in a solve of `levels` levels for `options`, on an
    /// operator whose spectrum lies in `bounds` (Gershgorin, of the finest operator): the
    /// requested tolerance on the finest level, the looser of it and [`COARSE_TOLERANCE`] above
    /// it, and a scale of 10⁻³ of the spectrum's width; `applications_before` as done on the
    /// coarser levels.
    pub(crate) fn for_level(
        options: &EigenOptions,
        (lower, upper): (f64, f64),
        (level, levels): (usize, usize),
        applications_before: u64,
    ) -> Self {
        Self {
            k: options.k,
            tol: if level == 0 {
                options.tol
            } else {
                options.tol.max(COARSE_TOLERANCE)
            },
            max_iter: options.max_iterations,
            scale: 1e-3 * (upper - lower).abs(),
            level,
            levels,
            applications_before,
        }
    }
}

/// What LOBPCG did.
#[derive(Clone, Debug, Default)]
pub(crate) struct LobpcgOutcome {
    /// Ritz values of every block column, ascending.
    pub values: Vec<f64>,
    /// Final residual norms ‖Hx − λx‖ of every block column.
    pub residuals: Vec<f64>,
    /// Leading pairs that met the tolerance.
    pub converged: usize,
    /// Iterations done.
    pub iterations: usize,
    /// Operator applications (vectors).
    pub applications: u64,
    /// Preconditioner applications (vectors).
    pub preconditionings: u64,
}

/// Where the blocks live and how the operator and preconditioner act on them.
pub(crate) trait BlockBackend<T: Scalar> {
    /// A set of columns.
    type Cols: ColumnBlock<T>;
    /// `Sᴴ·H·S`, and `Sᴴ·S` where S is stored inexactly (single-precision columns, whose
    /// rounding leaves them orthonormal only to single precision); `None`: S is orthonormal to
    /// working precision.
    fn gram_op(&self, s: &Self::Cols) -> Result<(Mat<T>, Option<Mat<T>>)>;
    /// `r_j = H·x_j − λ_j·x_j`; returns `‖r_j‖`.
    fn residuals(&self, x: &Self::Cols, lambda: &[f64], r: &Self::Cols) -> Result<Vec<f64>>;
    /// `w_j ← T·w_j` for every column (T ≈ (H − σ)⁻¹).
    fn precondition(&self, w: &Self::Cols) -> Result<()>;
}

/// The Ritz values (ascending) and coefficient vectors from `(SᴴHS, SᴴS)`: the standard
/// problem for an orthonormal S, the pencil when the Gram matrix is given.
fn rayleigh_ritz<T: Scalar>((a, overlap): (Mat<T>, Option<Mat<T>>)) -> Result<(Vec<f64>, Mat<T>)> {
    match overlap {
        None => hermitian_eigen(&a),
        Some(g) => hermitian_pencil_eigen(&a, &g),
    }
}

/// LOBPCG on the blocks `x`, `w`, `p` (`m` columns each, `k ≤ m`), overwriting `x` with Ritz
/// vectors; `w` and `p` are work blocks whose contents are ignored. The iteration of the host
/// and the GPU solvers (see the module doc).
pub(crate) fn block_lobpcg<T: Scalar, B: BlockBackend<T>>(
    backend: &B,
    [xall, wall, pall]: [&B::Cols; 3],
    params: LobpcgParams,
    mut progress: Option<&mut ProgressFn<'_>>,
) -> Result<LobpcgOutcome> {
    let m = xall.count();
    if params.k > m || wall.count() != m || pall.count() != m {
        return Err(Error::new(
            ErrorKind::Internal,
            format!(
                "LOBPCG blocks of {m}, {} and {} columns for k = {}",
                wall.count(),
                pall.count(),
                params.k
            ),
        ));
    }
    let mut out = LobpcgOutcome::default();

    // Start: orthonormalise X and rotate it to Ritz vectors.
    let kept = orthonormalize(&xall.take(0), xall)?;
    if kept < m {
        return Err(Error::new(
            ErrorKind::Internal,
            format!("the initial block has rank {kept} < {m}"),
        ));
    }
    let (theta, u) = rayleigh_ritz(backend.gram_op(xall)?)?;
    out.applications += m as u64;
    B::Cols::combine_into(xall, u.as_ref(), xall)?;
    let mut lambda = theta;
    let mut res_norms = vec![f64::INFINITY; m];

    let mut locked = 0;
    let mut p_count = 0;
    let threshold = |l: f64| params.tol * l.abs().max(params.scale);

    for iteration in 1..=params.max_iter {
        out.iterations = iteration;
        let na = m - locked;
        let norms =
            backend.residuals(&xall.columns(locked..m), &lambda[locked..], &wall.take(na))?;
        out.applications += na as u64;
        res_norms[locked..].copy_from_slice(&norms);
        // Lock the leading run of wanted pairs that meet the tolerance.
        let newly = (locked..params.k)
            .take_while(|&j| res_norms[j] <= threshold(lambda[j]))
            .count();
        let max_residual = (locked + newly..params.k)
            .map(|j| res_norms[j] / lambda[j].abs().max(params.scale))
            .fold(0.0, f64::max);
        if let Some(callback) = progress.as_mut() {
            let report = Progress {
                level: params.level,
                levels: params.levels,
                iteration,
                converged: locked + newly,
                wanted: params.k,
                max_residual,
                applications: params.applications_before + out.applications,
            };
            if callback(&report) {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    format!("cancelled by the progress callback at iteration {iteration}"),
                ));
            }
        }
        locked += newly;
        if locked >= params.k {
            out.converged = locked;
            break;
        }
        // Residuals of the still-active pairs are W's columns `newly..na`.
        let wa = wall.columns(newly..na);
        backend.precondition(&wa)?;
        out.preconditionings += wa.count() as u64;
        let active = m - locked;
        let nw = orthonormalize(xall, &wa)?;
        let wk = wa.take(nw);
        let np = if p_count > 0 {
            orthonormalize(&B::Cols::join(&[xall, &wk]), &pall.take(p_count))?
        } else {
            0
        };
        let pk = pall.take(np);
        // Rayleigh–Ritz on S = [X_active, W, P] (orthonormal).
        let s = B::Cols::join(&[&xall.columns(locked..m), &wk, &pk]);
        let (theta, u) = rayleigh_ritz(backend.gram_op(&s)?)?;
        if u.ncols() < active {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "the Rayleigh–Ritz basis kept {} of {} directions, fewer than the {active} active pairs",
                    u.ncols(),
                    s.count()
                ),
            ));
        }
        out.applications += s.count() as u64;
        // X_active ← S·C and P ← [0; W; P]·C, with C the lowest `active` Ritz vectors.
        let coeff = Mat::<T>::from_fn(s.count(), 2 * active, |i, j| {
            let c = u[(i, j % active)];
            if j >= active && i < active {
                T::ZERO_VALUE
            } else {
                c
            }
        });
        let outputs = B::Cols::join(&[&xall.columns(locked..m), &pall.take(active)]);
        B::Cols::combine_into(&s, coeff.as_ref(), &outputs)?;
        p_count = active;
        lambda[locked..].copy_from_slice(&theta[..active]);
        out.converged = locked;
    }
    // Locked pairs keep the values they had when they locked; in a degenerate multiplet a pair
    // that converged later can end a few ulps below them. Return the pairs in ascending order
    // (permuting X's columns), and count the converged ones as the leading run again.
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| lambda[a].total_cmp(&lambda[b]));
    if order.iter().enumerate().any(|(i, &j)| i != j) {
        let permutation =
            Mat::<T>::from_fn(
                m,
                m,
                |i, j| {
                    if order[j] == i { T::ONE } else { T::ZERO_VALUE }
                },
            );
        B::Cols::combine_into(xall, permutation.as_ref(), xall)?;
        lambda = order.iter().map(|&j| lambda[j]).collect();
        res_norms = order.iter().map(|&j| res_norms[j]).collect();
        out.converged = (0..params.k)
            .take_while(|&j| res_norms[j] <= threshold(lambda[j]))
            .count();
    }
    out.values = lambda;
    out.residuals = res_norms;
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! The generic loop on a plain host backend (columns in `Vec`s, straightforward loops),
    //! against the CPU solver and the exact spectrum of the discrete box.
    use super::*;
    use crate::memory::MemoryManager;
    use crate::physics::{Grid, HamiltonianSpec, StencilOperator, parabolic_potential};
    use crate::solver::random::fill_random;
    use crate::solver::{EigenOptions, Jacobi, Operator, Preconditioner};
    use num_complex::Complex64;
    use std::cell::RefCell;
    use std::ops::Range;

    /// Columns of a shared arena of host vectors.
    #[derive(Clone)]
    struct HostCols<'a, T> {
        arena: &'a RefCell<Vec<Vec<T>>>,
        index: Vec<usize>,
    }

    impl<T: Scalar> ColumnBlock<T> for HostCols<'_, T> {
        fn count(&self) -> usize {
            self.index.len()
        }
        fn columns(&self, range: Range<usize>) -> Self {
            Self {
                arena: self.arena,
                index: self.index[range].to_vec(),
            }
        }
        fn join(parts: &[&Self]) -> Self {
            Self {
                arena: parts[0].arena,
                index: parts.iter().flat_map(|p| p.index.clone()).collect(),
            }
        }
        fn gram_of(a: &Self, b: &Self) -> Result<Mat<T>> {
            let arena = a.arena.borrow();
            Ok(Mat::from_fn(a.count(), b.count(), |i, j| {
                let (u, v) = (&arena[a.index[i]], &arena[b.index[j]]);
                u.iter()
                    .zip(v)
                    .fold(T::ZERO_VALUE, |acc, (&x, &y)| acc + x.conj_value() * y)
            }))
        }
        fn combine_into(inputs: &Self, coeff: faer::MatRef<'_, T>, outputs: &Self) -> Result<()> {
            let mut arena = inputs.arena.borrow_mut();
            let n = arena[0].len();
            let results: Vec<Vec<T>> = (0..outputs.count())
                .map(|j| {
                    let mut col = vec![T::ZERO_VALUE; n];
                    for (i, &src) in inputs.index.iter().enumerate() {
                        for (c, &x) in col.iter_mut().zip(&arena[src]) {
                            *c += x * coeff[(i, j)];
                        }
                    }
                    col
                })
                .collect();
            for (&dst, col) in outputs.index.iter().zip(results) {
                arena[dst] = col;
            }
            Ok(())
        }
    }

    struct HostBackend<'a, T: Scalar> {
        op: &'a StencilOperator<T>,
        jacobi: Jacobi,
    }

    impl<'a, T: Scalar> BlockBackend<T> for HostBackend<'a, T> {
        type Cols = HostCols<'a, T>;
        fn gram_op(&self, s: &Self::Cols) -> Result<(Mat<T>, Option<Mat<T>>)> {
            let hs_index: Vec<usize> = {
                let mut arena = s.arena.borrow_mut();
                let products: Vec<Vec<T>> = s
                    .index
                    .iter()
                    .map(|&c| {
                        let mut y = vec![T::ZERO_VALUE; arena[c].len()];
                        Operator::apply(self.op, &arena[c], &mut y);
                        y
                    })
                    .collect();
                let start = arena.len();
                arena.extend(products);
                (start..arena.len()).collect()
            };
            let hs = HostCols {
                arena: s.arena,
                index: hs_index,
            };
            let g = HostCols::gram_of(s, &hs);
            s.arena.borrow_mut().truncate(hs.index[0]);
            Ok((g?, None))
        }
        fn residuals(&self, x: &Self::Cols, lambda: &[f64], r: &Self::Cols) -> Result<Vec<f64>> {
            let mut arena = x.arena.borrow_mut();
            let mut norms = Vec::new();
            for ((&xi, &ri), &l) in x.index.iter().zip(&r.index).zip(lambda) {
                let mut y = vec![T::ZERO_VALUE; arena[xi].len()];
                Operator::apply(self.op, &arena[xi], &mut y);
                for (yi, &v) in y.iter_mut().zip(&arena[xi]) {
                    *yi -= v.scale(l);
                }
                norms.push(y.iter().map(|v| v.abs_sq()).sum::<f64>().sqrt());
                arena[ri] = y;
            }
            Ok(norms)
        }
        fn precondition(&self, w: &Self::Cols) -> Result<()> {
            let mut arena = w.arena.borrow_mut();
            for &c in &w.index {
                self.jacobi.apply_in_place(&mut arena[c]);
            }
            Ok(())
        }
    }

    fn solve<T: Scalar>(op: &StencilOperator<T>, k: usize, m: usize) -> LobpcgOutcome {
        let n = op.dim();
        let arena = RefCell::new(
            (0..3 * m)
                .map(|j| {
                    let mut v = vec![T::ZERO_VALUE; n];
                    fill_random(&mut v, 7, j % m);
                    v
                })
                .collect::<Vec<_>>(),
        );
        let block = |r: Range<usize>| HostCols {
            arena: &arena,
            index: r.collect(),
        };
        let backend = HostBackend {
            op,
            jacobi: Jacobi::new(op),
        };
        let options = EigenOptions {
            k,
            tol: 1e-8,
            max_iterations: 2000,
            ..Default::default()
        };
        let params = LobpcgParams::for_level(&options, op.gershgorin_bounds(), (0, 1), 0);
        block_lobpcg(
            &backend,
            [&block(0..m), &block(m..2 * m), &block(2 * m..3 * m)],
            params,
            None,
        )
        .unwrap()
    }

    #[test]
    fn the_generic_loop_matches_the_dense_solver_on_the_box_with_multiplicities() {
        // docs/validation.md case 4 on the box of case 1 (24², degenerate pairs): the dense solver's
        // lowest eigenvalues.
        let manager = MemoryManager::with_defaults().unwrap();
        let grid = Grid::dirichlet_box(&[20.0, 20.0], &[24, 24]).unwrap();
        let op =
            StencilOperator::<f64>::new(&manager, &HamiltonianSpec::new(grid, 0.067, None), "t")
                .unwrap();
        let out = solve(&op, 6, 8);
        assert_eq!(out.converged, 6, "{out:?}");
        let dense = op.to_csr("t.csr").unwrap().to_dense();
        let mut matrix =
            crate::matrix::ManagedMatrix::<f64>::zeros(&manager, 576, 576, "t.dense").unwrap();
        matrix.copy_from(dense.as_ref()).unwrap();
        let exact = crate::solver::dense_hermitian(&manager, &matrix, Some(6))
            .unwrap()
            .values;
        for (j, (&e, &x)) in out.values.iter().zip(&exact).enumerate() {
            // tol 1e-8 relative residual: the eigenvalue error is ~‖r‖²/gap, far below 1e-9 eV
            // (the pairs lie inside the 8-column block).
            assert!((e - x).abs() < 1e-9, "state {j}: {e} vs dense {x}");
        }
        assert!(
            (out.values[1] - out.values[2]).abs() < 1e-9,
            "the first pair is degenerate"
        );
    }

    #[test]
    fn the_generic_loop_matches_the_cpu_solver_on_a_complex_dot() {
        // The parabolic dot with a field (complex Hermitian H): the generic loop and the CPU
        // solver (multigrid, coarse-to-fine) agree to far better than the tolerances imply.
        let manager = MemoryManager::with_defaults().unwrap();
        let grid = Grid::dirichlet_box(&[120.0, 120.0], &[31, 31]).unwrap();
        let mut v = vec![0.0; grid.len()];
        parabolic_potential(&grid, 0.067, 0.010, &mut v).unwrap();
        let spec = HamiltonianSpec {
            magnetic_field: 2.0,
            ..HamiltonianSpec::new(grid, 0.067, Some(&v))
        };
        let op = StencilOperator::<Complex64>::new(&manager, &spec, "t").unwrap();
        let out = solve(&op, 5, 7);
        assert_eq!(out.converged, 5, "{out:?}");
        let options = EigenOptions {
            k: 5,
            tol: 1e-8,
            ..Default::default()
        };
        let cpu =
            crate::solver::lowest_states::<Complex64>(&manager, &spec, &options, None).unwrap();
        for j in 0..5 {
            // Both meet ‖r‖ ≤ 1e-8·max(|λ|, s): eigenvalue errors ~‖r‖²/gap ≪ 1e-10 eV.
            assert!(
                (out.values[j] - cpu.values[j]).abs() < 1e-10,
                "state {j}: {} vs CPU {}",
                out.values[j],
                cpu.values[j]
            );
        }
    }
}
