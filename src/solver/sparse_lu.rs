//! The sparse factor of a shifted complex Hamiltonian H − σ, shared by the CSR resonance solver
//! (`open_system.rs`) and the bottom level of the shifted multigrid (`precond/shifted.rs`):
//! faer's supernodal LU with partial pivoting, its columns in COLAMD order or in a 3D grid's
//! nested-dissection order (`ordered_lu.rs`); or, for a 3D grid whose H − σ is complex
//! symmetric (no magnetic field), the `L·B·Lᵀ` factor of its real-equivalent form in the
//! grid's order (`symmetric_lblt.rs`: the 30³ open dot's manager peak 705 → 317 MiB, the solve
//! in the same time), with the LU as the fallback when that factor fails its check. A complex
//! symmetric CSR matrix whose LU does not fit gets the same factor in the AMD order of its
//! pattern (the 60³ open dot: an LU estimated at 29.4 GiB; with the symmetric factor the whole
//! solve peaked at 7.7 GB).
//!
//! Memory: faer keeps L and U in its own `Vec`s and does not expose their sizes (it reserves
//! far more than it fills: 2.1 GB of address space for a 250² open dot whose factor writes
//! 190 MB in double precision). The factor is refused up front when an estimate of it (the
//! symbolic fill × a slack) does not fit the manager's limit, then counted in an
//! [`ExternalAccount`] (tag `<prefix>.factor`) with what the factorisation added to the
//! process's resident set, measured around faer's calls ([`os::resident`]) — never less than
//! the matrix's own values — after the manager's peak has seen what the factorisation held at
//! its own peak (faer's temporaries: 139 MB over a 571 MB factor for a 30³ dot), when that
//! raised the process's peak.
//! Where the resident set cannot be read (not Linux) the account holds the estimate from
//! before the factorisation on. The measurement is process-wide: what other threads make
//! resident meanwhile is counted with the factor. faer's factorisation and solve workspace is
//! counted in another account (`<prefix>.workspace`; its pages are written before the
//! factorisation, so that they do not count twice); the shifted copy of H's values lives in the
//! pool (`<prefix>.matrix`) while it is factored.
//!
//! **Precision.** A factor that only preconditions (the shifted multigrid's bottom level) may be
//! computed in single precision ([`Precision::Single`]): half the memory and half the bytes each
//! solve reads, at a relative accuracy of about 10⁻⁷ times the condition number, which the
//! eigensolver around it absorbs (it checks true residuals with the double-precision
//! operator). A grid-ordered factor is single only when it is the symmetric `L·B·Lᵀ`
//! (`symmetric_lblt.rs`, in `f32`); its LU fallback is double. The CSR resonance solver's
//! shift-invert needs the exact inverse: double. The
//! single-precision values of H − σ are counted under `<prefix>.matrix` while they are factored,
//! and the right-hand sides' single-precision copy is part of the workspace.

use super::nested_dissection::GridOrder;
use super::ordered_lu::{OrderedLu, transpose};
use super::shift_invert::{Symbolic, symbolic_of, transposed_pattern};
use super::symmetric_lblt::{SymmetricLblt, is_symmetric};
use crate::error::{Error, ErrorKind, Result};
use crate::matrix::{CsrMatrix, FaerCsr};
use crate::memory::os;
use crate::memory::{ExternalAccount, MemoryManager, PoolBuffer};
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::sparse::linalg::lu::{LuRef, NumericLu, SymbolicLu, factorize_symbolic_lu};
use faer::sparse::{SparseColMatRef, SparseRowMatRef, SymbolicSparseColMatRef};
use faer::{Conj, MatMut, Par, c32};
use num_complex::Complex64;
use parking_lot::Mutex;

/// Bytes the smallest factor of H − σ the CSR resonance solver can take is estimated to need
/// (counted in the manager, tag `solver.resonances.factor`, before the factorisation): the
/// symmetric `L·B·Lᵀ` factor's for a complex symmetric H, else the LU's. The solver takes the
/// faster LU where its estimate fits (`src/solver/sparse_lu.rs`).
pub fn resonances_factor_estimate(h: &CsrMatrix<Complex64>) -> Result<u64> {
    fn of<I: faer::Index>(view: SparseRowMatRef<'_, I, Complex64>) -> Result<u64> {
        let amd = symbolic_of(view)?;
        Ok(if is_symmetric_view(view) {
            symmetric_factor_estimate(view, &amd, Precision::Double)
        } else {
            lu_estimate(view, &amd)
        })
    }
    match h.as_faer() {
        FaerCsr::U32(v) => of(v),
        FaerCsr::U64(v) => of(v),
    }
}

/// Bytes an LU factor of H − σ with partial pivoting in a column order chosen for it is
/// estimated to take (`lu_estimate`), whatever the symmetry of H: what a general sparse
/// LU (SuperLU's, for example) would hold.
pub fn sparse_lu_factor_estimate(h: &CsrMatrix<Complex64>) -> Result<u64> {
    match h.as_faer() {
        FaerCsr::U32(v) => Ok(lu_estimate(v, &symbolic_of(v)?)),
        FaerCsr::U64(v) => Ok(lu_estimate(v, &symbolic_of(v)?)),
    }
}

/// True when the square `view` equals its transpose, value for value.
fn is_symmetric_view<I: faer::Index>(view: SparseRowMatRef<'_, I, Complex64>) -> bool {
    is_symmetric(SparseColMatRef::new(
        transposed_pattern(view),
        view.parts().1,
    ))
}

/// The precision a factor is computed and applied in (see the module notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precision {
    /// Complex f64: the exact inverse, for shift-invert.
    Double,
    /// Complex f32 (or f32 for the symmetric factor's real-equivalent form): for factors
    /// that only precondition. Applies to the COLAMD-ordered and the symmetric factor; an LU in
    /// the caller's column order is computed in double precision.
    Single,
}

/// The scalars a COLAMD-ordered factor is computed in: complex f64, or complex f32 with the
/// values narrowed on the way in and widened on the way out.
trait FactorScalar: faer::traits::ComplexField + Copy {
    /// Solves work on the caller's vectors (no narrowed copy).
    const IN_PLACE: bool;
    fn narrow(v: Complex64) -> Self;
    fn widen(self) -> Complex64;
}

impl FactorScalar for Complex64 {
    const IN_PLACE: bool = true;
    fn narrow(v: Complex64) -> Self {
        v
    }
    fn widen(self) -> Complex64 {
        self
    }
}

impl FactorScalar for c32 {
    const IN_PLACE: bool = false;
    fn narrow(v: Complex64) -> Self {
        c32::new(v.re as f32, v.im as f32)
    }
    fn widen(self) -> Complex64 {
        Complex64::new(self.re.into(), self.im.into())
    }
}

/// Slack on the fill predicted by the symbolic Cholesky of the pattern. The LU uses a COLAMD
/// column ordering rather than AMD, partial pivoting moves rows (so the fill depends on the
/// values: on one 150² grid the factor of H took about twice the memory of that of
/// H − 0.02 eV), and faer grows the factor's `Vec`s while it factorises, so its transient peak
/// exceeds the final size. Measured
/// with a counting allocator (heap peak of a whole solve, target 0.02 − 0.001i eV, 10 meV dot
/// with a quadratic absorber on every face) against the estimate with slack 1: 2D 60²: 2.1×,
/// 150²: 2.7×, 300²: 2.5×; 3D 20³: 2.8×, 30³: 3.5×. A slack of 4 covers all of them (by 13 %
/// at the worst); it remains an estimate, not a bound. It decides the up-front refusal; what is
/// counted afterwards is measured where the resident set can be read (see [`FactorCount`]).
const FILL_SLACK: f64 = 4.0;

/// The LU factor's bytes: L and U each have (without pivoting) the fill of the Cholesky factor
/// of the symmetric pattern, `len_val` values and as many row indices at most, times
/// [`FILL_SLACK`]; plus the row and column permutations.
fn lu_estimate<I: faer::Index>(
    view: SparseRowMatRef<'_, I, Complex64>,
    symbolic: &Symbolic<I>,
) -> u64 {
    let len_val = symbolic.len_val() as f64;
    let per_value = (size_of::<Complex64>() + size_of::<I>()) as f64;
    let perms = 4 * view.nrows() * size_of::<I>();
    (FILL_SLACK * 2.0 * len_val * per_value).ceil() as u64 + perms as u64
}

/// Slack on the symmetric factor's values predicted from the symbolic Cholesky of the
/// pattern (AMD order): the grid's nested-dissection order fills a little differently, and the
/// factorisation holds the real-equivalent matrix and its workspace besides the factor. The 3D
/// open dot at 30³ (`examples/open_dot`): estimate 366 MB, the whole solve's manager peak
/// 313 MiB (328 MB).
const SYMMETRIC_SLACK: f64 = 1.5;

/// The symmetric `L·B·Lᵀ` factor's bytes (`symmetric_lblt.rs`): each complex entry of the
/// Cholesky fill is a 2 × 2 block of reals (32 bytes in double precision, 16 in single), times
/// [`SYMMETRIC_SLACK`]; plus the permutations and pivots.
fn symmetric_factor_estimate<I: faer::Index>(
    view: SparseRowMatRef<'_, I, Complex64>,
    symbolic: &Symbolic<I>,
    precision: Precision,
) -> u64 {
    let len_val = symbolic.len_val() as f64;
    let real = match precision {
        Precision::Double => size_of::<f64>(),
        Precision::Single => size_of::<f32>(),
    };
    let per_point = 2 * (2 * size_of::<I>() + real);
    (SYMMETRIC_SLACK * 4.0 * real as f64 * len_val).ceil() as u64
        + (per_point * view.nrows()) as u64
}

/// True when an LU factor estimated at `bytes` fits the manager's limit and the memory the
/// system has available.
fn lu_fits(manager: &MemoryManager, bytes: u64) -> bool {
    manager.check_room(bytes, "the LU factor").is_ok() && bytes <= os::recent_available_memory()
}

/// How the factor is counted (see the module notes).
enum FactorCount {
    /// The resident set can be read: the estimate was checked against the limit; the account
    /// is opened once faer's calls return, with the resident growth they left (`grown`) after
    /// recording the most they held at a moment (`peak`, seen when it raised the process's
    /// peak).
    Measured { grown: u64, peak: u64 },
    /// The account holds the estimate from before the factorisation on.
    Estimated(ExternalAccount),
}

impl FactorCount {
    /// Refuses a factor whose `estimate` cannot fit the manager's limit (`n` rows, `nnz` stored
    /// values, for the message); opens the account now when the resident set cannot be read.
    fn begin(
        manager: &MemoryManager,
        prefix: &str,
        estimate: u64,
        n: usize,
        nnz: usize,
    ) -> Result<Self> {
        let what = format!("the sparse factor of H − σ ({n} rows, {nnz} stored values), estimated");
        if os::resident().is_some() {
            manager.check_room(estimate, &what)?;
            return Ok(Self::Measured { grown: 0, peak: 0 });
        }
        let account = manager
            .external_account(&format!("{prefix}.factor"), estimate)
            .map_err(|e| {
                e.context(&format!(
                    "{what} at {:.1} MiB, does not fit the memory manager's limit",
                    estimate as f64 / (1u64 << 20) as f64
                ))
            })?;
        Ok(Self::Estimated(account))
    }

    /// Runs `f` (one of faer's factorisation steps), adding what it leaves resident and what it
    /// held at its peak.
    fn measure<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let Self::Measured { grown, peak } = self else {
            return f();
        };
        let before = os::resident();
        let result = f();
        if let (Some(before), Some(after)) = (before, os::resident()) {
            // A peak above the one before the call was reached during it.
            let top = if after.peak > before.peak {
                after.peak
            } else {
                after.now
            };
            *peak = (*peak).max(*grown + top.saturating_sub(before.now));
            *grown += after.now.saturating_sub(before.now);
        }
        result
    }

    /// The factor's account: the resident growth measured, at least `floor` bytes (the
    /// matrix's own values, which the factor holds at the least: pages another thread gave
    /// back meanwhile can hide the factor's), or the estimate where nothing was measured. It is
    /// opened at the measured peak and then shrunk, so that the manager's peak sees what the
    /// factorisation held for a moment. The limit may refuse it (the factorisation took more
    /// than the room checked): the solve then fails with `LimitExceeded`.
    fn finish(self, manager: &MemoryManager, prefix: &str, floor: u64) -> Result<ExternalAccount> {
        match self {
            Self::Estimated(account) => Ok(account),
            Self::Measured { grown, peak } => {
                let bytes = grown.max(floor);
                let mut account = manager
                    .external_account(&format!("{prefix}.factor"), peak.max(bytes))
                    .map_err(|e| {
                        e.context(&format!(
                            "the sparse LU factorisation of H − σ held {:.1} MiB",
                            peak.max(bytes) as f64 / (1u64 << 20) as f64
                        ))
                    })?;
                account.resize(bytes)?;
                Ok(account)
            }
        }
    }
}

/// The least a factor of a matrix with `nnz` stored values holds: its values (L and U together
/// hold every entry of the matrix at least once).
fn factor_floor(nnz: usize) -> u64 {
    (nnz * size_of::<Complex64>()) as u64
}

/// The LU workspace `req`, counted under `<prefix>.workspace`.
fn workspace(
    manager: &MemoryManager,
    prefix: &str,
    req: faer::dyn_stack::StackReq,
) -> Result<(ExternalAccount, MemBuffer)> {
    let account =
        manager.external_account(&format!("{prefix}.workspace"), req.size_bytes() as u64)?;
    let mut buffer = MemBuffer::try_new(req).map_err(|_| {
        Error::new(
            ErrorKind::OutOfMemory,
            format!(
                "no memory for the {} bytes of LU workspace",
                req.size_bytes()
            ),
        )
    })?;
    // Resident now, so that the factorisation's resident growth (the factor's count) does not
    // include these pages, counted here.
    buffer.fill(std::mem::MaybeUninit::new(0));
    Ok((account, buffer))
}

/// The values of H − σ (the shift on the stored diagonal) in the pool, under `<prefix>.matrix`.
fn shifted_values(
    manager: &MemoryManager,
    h: &CsrMatrix<Complex64>,
    sigma: Complex64,
    prefix: &str,
) -> Result<PoolBuffer<Complex64>> {
    let mut shifted =
        PoolBuffer::<Complex64>::uninit_values(manager, h.nnz(), &format!("{prefix}.matrix"))?;
    h.shifted_values(sigma, &mut shifted)?;
    Ok(shifted)
}

/// The factor itself, by the column order it was computed with.
enum Factor<I: faer::Index> {
    /// faer's LU in its COLAMD column order, of (H − σ)ᵀ (the CSR arrays read column-major).
    Colamd {
        symbolic: SymbolicLu<I>,
        numeric: NumericLu<I, Complex64>,
    },
    /// The same in single precision.
    ColamdSingle {
        symbolic: SymbolicLu<I>,
        numeric: NumericLu<I, c32>,
    },
    /// The supernodal LU of H − σ in the caller's column order (a grid's nested dissection).
    Ordered(OrderedLu<I>),
    /// The `L·B·Lᵀ` factor of a complex symmetric H − σ's real-equivalent form, in the
    /// caller's order (`symmetric_lblt.rs`).
    Symmetric(SymmetricLblt<I, f64>),
    /// The same in single precision.
    SymmetricSingle(SymmetricLblt<I, f32>),
}

/// The factored H − σ and the workspace of its solves.
pub(crate) struct ShiftedLu<I: faer::Index> {
    factor: Factor<I>,
    /// σ actually factored (the target, or the target nudged off a singular point).
    sigma: Complex64,
    scratch: Mutex<MemBuffer>,
    /// Counts the factor (measured, or the estimate: see the module notes) and the workspace
    /// in the manager.
    accounts: [ExternalAccount; 2],
}

impl<I: faer::Index> ShiftedLu<I> {
    /// Factors H − σ (`view` is `h`'s arrays), its columns eliminated in `order` when given
    /// (`order[e]` is the column eliminated `e`-th: a grid's nested dissection), else in
    /// faer's COLAMD order, in `precision` (a caller's order: double unless the factor is the
    /// symmetric one). A complex symmetric H − σ gets the symmetric `L·B·Lᵀ` factor
    /// (`symmetric_lblt.rs`) in a grid's order, and without one (the CSR solver's
    /// shift-invert, double) in the AMD order of its pattern where the LU's estimate does not
    /// fit; the LU when that factor fails its check. The factor is counted first under
    /// `<prefix>.factor` (refused when it cannot fit), then the factorisation and solve
    /// workspace for `m` right-hand sides under `<prefix>.workspace`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        manager: &MemoryManager,
        h: &CsrMatrix<Complex64>,
        view: SparseRowMatRef<'_, I, Complex64>,
        sigma: Complex64,
        m: usize,
        prefix: &str,
        order: Option<GridOrder>,
        precision: Precision,
    ) -> Result<Self> {
        let n = view.nrows();
        let nnz = view.compute_nnz();
        // Read column-major, the arrays hold (H − σ)ᵀ.
        let csc = transposed_pattern(view);
        // The pattern's AMD analysis: every factor's estimate, and the symmetric factor's
        // elimination order without a grid's.
        let amd = symbolic_of(view)?;
        // A grid-ordered factor of a complex symmetric H (then H − σ is too) is the symmetric
        // one unless it fails its check. Without a grid order (the CSR solver) a double factor
        // of a complex symmetric H − σ is the LU where the LU's estimate fits the manager's
        // limit and the memory available — it is faster on 2D grids: the 1000² open dot's CSR
        // solve took 83 s with the LU against 106 s with the symmetric factor, which held
        // half the memory — and the symmetric factor, about a third of the LU's estimate, where
        // it does not (3D: the 60³ dot's LU is estimated at 29.4 GiB). The 2D multigrid's
        // single-precision bottom LU in COLAMD order stays (`precond/shifted.rs`).
        let symmetric = match order {
            Some(_) => is_symmetric_view(view),
            None => {
                precision == Precision::Double
                    && is_symmetric_view(view)
                    && !lu_fits(manager, lu_estimate(view, &amd))
            }
        };
        // An LU in a caller's order is double (`ordered_lu.rs`).
        let precision = if order.is_some() && !symmetric {
            Precision::Double
        } else {
            precision
        };
        let estimate = match (symmetric, precision) {
            (true, _) => symmetric_factor_estimate(view, &amd, precision),
            (false, Precision::Double) => lu_estimate(view, &amd),
            (false, Precision::Single) => lu_estimate(view, &amd).div_ceil(2),
        };
        // The analysis is not held while a factor is made (faer's memory, not counted).
        let amd_order = (symmetric && order.is_none()).then(|| amd.order());
        drop(amd);
        let mut count = FactorCount::begin(manager, prefix, estimate, n, nnz)?;
        if let Some(order) = order {
            let symmetric = symmetric.then_some(precision);
            return Self::ordered(manager, h, csc, sigma, m, prefix, order, symmetric, count);
        }
        if let Some(amd_order) = amd_order {
            let shifted = shifted_values(manager, h, sigma, prefix)?;
            let attempt = (sigma, m, prefix, amd_order, precision);
            match Self::symmetric(manager, csc, shifted, attempt, count)? {
                Ok(lu) => return Ok(lu),
                // The values are made again below, after the LU's symbolic analysis.
                Err((back, _)) => count = back,
            }
        }
        let symbolic = count
            .measure(|| factorize_symbolic_lu(csc, Default::default()))
            .map_err(|e| {
                Error::new(
                    ErrorKind::OutOfMemory,
                    format!("symbolic LU of H − σ failed: {e:?}"),
                )
            })?;
        let shifted = shifted_values(manager, h, sigma, prefix)?;
        let (factor, scratch, workspace_account) = match precision {
            Precision::Double => {
                let (numeric, scratch, account) = numeric_lu(
                    manager,
                    prefix,
                    (&symbolic, csc),
                    &shifted,
                    sigma,
                    m,
                    &mut count,
                )?;
                (Factor::Colamd { symbolic, numeric }, scratch, account)
            }
            Precision::Single => {
                let _single_account = manager.external_account(
                    &format!("{prefix}.matrix"),
                    (shifted.len() * size_of::<c32>()) as u64,
                )?;
                let single: Vec<c32> = shifted.iter().map(|&v| c32::narrow(v)).collect();
                drop(shifted);
                let (numeric, scratch, account) = numeric_lu(
                    manager,
                    prefix,
                    (&symbolic, csc),
                    &single,
                    sigma,
                    m,
                    &mut count,
                )?;
                (Factor::ColamdSingle { symbolic, numeric }, scratch, account)
            }
        };
        let floor = match precision {
            Precision::Double => factor_floor(nnz),
            Precision::Single => factor_floor(nnz) / 2,
        };
        let factor_account = count.finish(manager, prefix, floor)?;
        Ok(Self {
            factor,
            sigma,
            scratch: Mutex::new(scratch),
            accounts: [factor_account, workspace_account],
        })
    }

    /// [`ShiftedLu::new`] with a grid's order; `csc` is the pattern of (H − σ)ᵀ; `symmetric`:
    /// H − σ is complex symmetric, so the `L·B·Lᵀ` factor is tried first, in this precision.
    #[allow(clippy::too_many_arguments)]
    fn ordered(
        manager: &MemoryManager,
        h: &CsrMatrix<Complex64>,
        csc: SymbolicSparseColMatRef<'_, I>,
        sigma: Complex64,
        m: usize,
        prefix: &str,
        order: GridOrder,
        symmetric: Option<Precision>,
        mut count: FactorCount,
    ) -> Result<Self> {
        let n = csc.nrows();
        if order.len() != n {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("a column order of {} entries for {n} columns", order.len()),
            ));
        }
        let par = faer::get_global_parallelism();
        let mut shifted = shifted_values(manager, h, sigma, prefix)?;
        if let Some(precision) = symmetric {
            let attempt = (sigma, m, prefix, order.symmetric(), precision);
            (count, shifted) = match Self::symmetric(manager, csc, shifted, attempt, count)? {
                Ok(lu) => return Ok(lu),
                Err(back) => back,
            };
        }
        // Read column-major, the CSR arrays hold (H − σ)ᵀ.
        let at = SparseColMatRef::new(csc, &shifted);
        // The factorisation's index work arrays (8 per column) or the solves' workspace.
        let req = OrderedLu::<I>::solve_scratch(n, m, par)
            .or(faer::dyn_stack::StackReq::new::<I>(n).array(8));
        let (workspace_account, scratch) = workspace(manager, prefix, req)?;
        // H − σ column-major (the transpose of the arrays), held while it is factored.
        let nnz = shifted.len();
        let _transpose_account = manager.external_account(
            &format!("{prefix}.matrix"),
            ((n + 1 + nnz) * size_of::<I>() + nnz * size_of::<Complex64>()) as u64,
        )?;
        let (ptr, idx, val) = transpose(n, csc.col_ptr(), csc.row_idx(), &shifted);
        // SAFETY: `transpose` returns monotone column pointers and, within each column, sorted
        // in-range row indices (it visits the source columns in increasing order).
        let a_sym = unsafe { SymbolicSparseColMatRef::new_unchecked(n, n, &ptr, None, &idx) };
        let a = SparseColMatRef::new(a_sym, &val);
        let lu = count
            .measure(|| OrderedLu::new(a, at, &order.lu(), par))
            .map_err(|e| Error::new(e.kind(), format!("{e} (σ = {sigma})")))?;
        let factor_account = count.finish(manager, prefix, factor_floor(nnz))?;
        Ok(Self {
            factor: Factor::Ordered(lu),
            sigma,
            scratch: Mutex::new(scratch),
            accounts: [factor_account, workspace_account],
        })
    }

    /// [`ShiftedLu::ordered`]'s `L·B·Lᵀ` factor of the complex symmetric H − σ (no magnetic
    /// field; `shifted` its values on the pattern `csc`, freed before the solve workspace is
    /// made), for σ and `m` right-hand sides, counted under `prefix`, eliminating its points
    /// in `order` (`order[e]` is the point eliminated `e`-th), in `precision`; `Err` gives the
    /// count and the values back when the factor fails its check (the LU follows).
    fn symmetric(
        manager: &MemoryManager,
        csc: SymbolicSparseColMatRef<'_, I>,
        shifted: PoolBuffer<Complex64>,
        (sigma, m, prefix, order, precision): (Complex64, usize, &str, Vec<usize>, Precision),
        mut count: FactorCount,
    ) -> Result<std::result::Result<Self, (FactorCount, PoolBuffer<Complex64>)>> {
        let par = faer::get_global_parallelism();
        // Read column-major, the CSR arrays hold (H − σ)ᵀ = H − σ.
        let a = SparseColMatRef::new(csc, &shifted);
        let made = count.measure(|| match precision {
            Precision::Double => SymmetricLblt::<I, f64>::new(a, &order, par)
                .map(|f| f.map(|f| (f.solve_scratch(m, par), Factor::Symmetric(f)))),
            Precision::Single => SymmetricLblt::<I, f32>::new(a, &order, par)
                .map(|f| f.map(|f| (f.solve_scratch(m, par), Factor::SymmetricSingle(f)))),
        });
        let Some((solve_scratch, factor)) =
            made.map_err(|e| Error::new(e.kind(), format!("{e} (σ = {sigma})")))?
        else {
            return Ok(Err((count, shifted)));
        };
        let nnz = shifted.len();
        drop(shifted);
        let (workspace_account, scratch) = workspace(manager, prefix, solve_scratch)?;
        let floor = match precision {
            Precision::Double => factor_floor(nnz),
            Precision::Single => factor_floor(nnz) / 2,
        };
        let factor_account = count.finish(manager, prefix, floor)?;
        Ok(Ok(Self {
            factor,
            sigma,
            scratch: Mutex::new(scratch),
            accounts: [factor_account, workspace_account],
        }))
    }

    /// σ factored.
    pub(crate) fn sigma(&self) -> Complex64 {
        self.sigma
    }

    /// Bytes counted in the manager for the factor and its workspace.
    pub(crate) fn counted_bytes(&self) -> u64 {
        self.accounts.iter().map(ExternalAccount::bytes).sum()
    }

    /// rhs ← (H − σ)⁻¹ rhs. One right-hand side is solved sequentially (threads would only
    /// wait on each other), a block with faer's global parallelism.
    pub(crate) fn solve_in_place(&self, rhs: MatMut<'_, Complex64>) {
        let par = if rhs.ncols() == 1 {
            Par::Seq
        } else {
            faer::get_global_parallelism()
        };
        let mut scratch = self.scratch.lock();
        match &self.factor {
            Factor::Colamd { symbolic, numeric } => {
                // `numeric` is the output of `symbolic.factorize_numeric_lu` on the pattern
                // `symbolic` was computed from (the contract of `new_unchecked`).
                let lu = LuRef::new_unchecked(symbolic, numeric);
                // The factor is of (H − σ)ᵀ (the CSR arrays read column-major): its transpose
                // solve solves (H − σ)·x = b.
                lu.solve_transpose_in_place_with_conj(
                    Conj::No,
                    rhs,
                    par,
                    MemStack::new(&mut scratch),
                );
            }
            Factor::ColamdSingle { symbolic, numeric } => {
                // As above, in single precision.
                let lu = LuRef::new_unchecked(symbolic, numeric);
                solve_narrowed(lu, rhs, par, MemStack::new(&mut scratch));
            }
            Factor::Ordered(lu) => lu.solve_in_place(rhs, par, MemStack::new(&mut scratch)),
            Factor::Symmetric(lblt) => lblt.solve_in_place(rhs, par, MemStack::new(&mut scratch)),
            Factor::SymmetricSingle(lblt) => {
                lblt.solve_in_place(rhs, par, MemStack::new(&mut scratch))
            }
        }
    }
}

/// The numeric LU of the matrix with pattern `csc` (analysed in `symbolic`) and `values`
/// (H − σ, in the factor's scalar), measured by `count`; with its factorisation and solve
/// workspace for `m` right-hand sides (and their narrowed copy), counted under
/// `<prefix>.workspace`.
fn numeric_lu<I: faer::Index, E: FactorScalar>(
    manager: &MemoryManager,
    prefix: &str,
    (symbolic, csc): (&SymbolicLu<I>, SymbolicSparseColMatRef<'_, I>),
    values: &[E],
    sigma: Complex64,
    m: usize,
    count: &mut FactorCount,
) -> Result<(NumericLu<I, E>, MemBuffer, ExternalAccount)> {
    let par = faer::get_global_parallelism();
    let mut solve = symbolic.solve_transpose_in_place_scratch::<E>(m, par);
    if !E::IN_PLACE {
        solve = solve.and(StackReq::new::<E>(csc.nrows() * m));
    }
    let req = symbolic
        .factorize_numeric_lu_scratch::<E>(par, Default::default())
        .or(solve);
    let (account, mut scratch) = workspace(manager, prefix, req)?;
    let a = SparseColMatRef::new(csc, values);
    let mut numeric = NumericLu::new();
    count
        .measure(|| {
            symbolic.factorize_numeric_lu(
                &mut numeric,
                a,
                par,
                MemStack::new(&mut scratch),
                Default::default(),
            )
        })
        .map_err(|e| {
            Error::invalid_argument(format!("H − σ is singular for σ = {sigma} ({e:?})"))
        })?;
    Ok((numeric, scratch, account))
}

/// rhs ← (H − σ)⁻¹ rhs with the single-precision COLAMD-ordered factor `lu` of (H − σ)ᵀ (its
/// transpose solve), through a narrowed copy of the right-hand sides carved from `stack`.
fn solve_narrowed<I: faer::Index>(
    lu: LuRef<'_, I, c32>,
    mut rhs: MatMut<'_, Complex64>,
    par: Par,
    stack: &mut MemStack,
) {
    let (n, k) = (rhs.nrows(), rhs.ncols());
    let (mut work, stack) = stack.make_with(n * k, |i| c32::narrow(rhs[(i % n, i / n)]));
    lu.solve_transpose_in_place_with_conj(
        Conj::No,
        MatMut::from_column_major_slice_mut(&mut work, n, k),
        par,
        stack,
    );
    for (i, v) in work.iter().enumerate() {
        rhs[(i % n, i / n)] = v.widen();
    }
}

/// A [`ShiftedLu`] of either index width of a [`CsrMatrix`].
pub(crate) enum AnyShiftedLu {
    U32(ShiftedLu<u32>),
    U64(ShiftedLu<u64>),
}

impl AnyShiftedLu {
    /// Factors `h − sigma` for solves of `m` right-hand sides, in `order` when given, in
    /// `precision` (see [`ShiftedLu::new`]).
    pub(crate) fn new(
        manager: &MemoryManager,
        h: &CsrMatrix<Complex64>,
        sigma: Complex64,
        m: usize,
        prefix: &str,
        order: Option<GridOrder>,
        precision: Precision,
    ) -> Result<Self> {
        Ok(match h.as_faer() {
            FaerCsr::U32(v) => Self::U32(ShiftedLu::new(
                manager, h, v, sigma, m, prefix, order, precision,
            )?),
            FaerCsr::U64(v) => Self::U64(ShiftedLu::new(
                manager, h, v, sigma, m, prefix, order, precision,
            )?),
        })
    }

    /// Bytes counted in the manager for the factor and its workspace.
    pub(crate) fn counted_bytes(&self) -> u64 {
        match self {
            Self::U32(lu) => lu.counted_bytes(),
            Self::U64(lu) => lu.counted_bytes(),
        }
    }

    /// rhs ← (H − σ)⁻¹ rhs for at most the `m` right-hand sides the factor was made for.
    pub(crate) fn solve_block_in_place(&self, rhs: MatMut<'_, Complex64>) {
        match self {
            Self::U32(lu) => lu.solve_in_place(rhs),
            Self::U64(lu) => lu.solve_in_place(rhs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::CsrIndices;
    use crate::physics::{Absorber, Grid, HamiltonianSpec, StencilOperator, open_dot_potential};
    use crate::solver::nested_dissection::grid_column_order;

    /// The 3D open dot on a 10³ grid, assembled.
    fn open_dot_3d(manager: &MemoryManager) -> (CsrMatrix<Complex64>, [usize; 3]) {
        let n = 10;
        let grid = Grid::dirichlet_box(&[60.0, 60.0, 60.0], &[n, n, n]).unwrap();
        let mut potential = vec![0.0; n * n * n];
        open_dot_potential(&grid, 12.0, 3.0, 0.15, &mut potential).unwrap();
        let spec = HamiltonianSpec {
            absorber: Some(Absorber {
                faces: 63,
                width: 12.0,
                strength: 0.05,
                order: 2,
            }),
            ..HamiltonianSpec::new(grid, 0.067, Some(&potential))
        };
        let h = StencilOperator::<Complex64>::new(manager, &spec, "h")
            .unwrap()
            .to_csr("h")
            .unwrap();
        (h, [n, n, n])
    }

    /// `h` with one off-diagonal value of its first row changed: no longer symmetric.
    fn unsymmetric_copy(manager: &MemoryManager, h: &CsrMatrix<Complex64>) -> CsrMatrix<Complex64> {
        let CsrIndices::I32 { row_ptr, col_idx } = h.indices() else {
            panic!("a small matrix has 32-bit indices")
        };
        let copy = |src: &[i32]| {
            let mut b = PoolBuffer::<i32>::uninit_values(manager, src.len(), "test").unwrap();
            b.copy_from_slice(src);
            b
        };
        let mut values = PoolBuffer::<Complex64>::uninit_values(manager, h.nnz(), "test").unwrap();
        values.copy_from_slice(h.values());
        let p = (0..row_ptr[1] as usize)
            .find(|&p| col_idx[p] != 0)
            .expect("row 0 has a neighbour");
        values[p] += Complex64::new(0.0, 1e-3);
        let indices = CsrIndices::I32 {
            row_ptr: copy(row_ptr),
            col_idx: copy(col_idx),
        };
        CsrMatrix::from_valid_parts(h.nrows(), h.ncols(), indices, values)
    }

    /// The grid's H − σ is complex symmetric (a 3D grid has no field), so its grid-ordered
    /// factor is the `L·B·Lᵀ` one, in the precision asked for; with one value changed the LU
    /// (double) takes over. Either way a solve reproduces a known vector to 1e-10 in double
    /// precision (the 10³ matrix's condition number at this σ is below 10⁴: rounding leaves
    /// errors near 10⁻¹², and a wrong factor misses by far), to 1e-3 in single.
    #[test]
    fn a_symmetric_shifted_grid_matrix_gets_the_symmetric_factor() {
        let manager = MemoryManager::with_defaults().unwrap();
        let (symmetric_h, shape) = open_dot_3d(&manager);
        let unsymmetric_h = unsymmetric_copy(&manager, &symmetric_h);
        let cases = [
            (&symmetric_h, true, Precision::Double),
            (&unsymmetric_h, false, Precision::Double),
            (&symmetric_h, true, Precision::Single),
            (&unsymmetric_h, false, Precision::Single),
        ];
        for (h, symmetric, precision) in cases {
            let sigma = Complex64::new(0.02, -0.001);
            let FaerCsr::U32(view) = h.as_faer() else {
                panic!("a small matrix has 32-bit indices")
            };
            let lu = ShiftedLu::new(
                &manager,
                h,
                view,
                sigma,
                2,
                "test",
                grid_column_order(shape),
                precision,
            )
            .unwrap();
            // An LU in a grid's order is double whatever was asked.
            match (&lu.factor, symmetric, precision) {
                (Factor::Symmetric(_), true, Precision::Double)
                | (Factor::SymmetricSingle(_), true, Precision::Single)
                | (Factor::Ordered(_), false, _) => {}
                _ => panic!("symmetric {symmetric}, {precision:?}: the wrong factor"),
            }
            let n = h.nrows();
            let x: Vec<Complex64> = (0..2 * n)
                .map(|e| Complex64::new((0.3 * e as f64).sin(), (0.7 * e as f64).cos()))
                .collect();
            let mut b = vec![Complex64::new(0.0, 0.0); 2 * n];
            for c in 0..2 {
                let (xc, bc) = (&x[c * n..(c + 1) * n], &mut b[c * n..(c + 1) * n]);
                h.spmv(Complex64::new(1.0, 0.0), xc, Complex64::new(0.0, 0.0), bc)
                    .unwrap();
                for (bi, xi) in bc.iter_mut().zip(xc) {
                    *bi -= sigma * xi;
                }
            }
            lu.solve_in_place(MatMut::from_column_major_slice_mut(&mut b, n, 2));
            let error = b
                .iter()
                .zip(&x)
                .map(|(y, x)| (y - x).norm())
                .fold(0.0, f64::max);
            // Single precision: the rounding unit 6·10⁻⁸ times the same condition number.
            let bound = match (symmetric, precision) {
                (true, Precision::Single) => 1e-3,
                _ => 1e-10,
            };
            assert!(
                error < bound,
                "symmetric {symmetric}, {precision:?}: largest error {error:e}"
            );
            assert!(lu.counted_bytes() > 0);
        }
    }
}
