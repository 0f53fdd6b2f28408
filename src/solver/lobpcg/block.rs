//! Tall-skinny block kernels for the eigensolvers, computed one chunk of rows at a time in
//! parallel: Gram matrices `AᴴB`, Gram matrices through the operator `Sᴴ·H·S` (the operator is
//! applied to a chunk and reduced at once, so `H·S` is never stored), linear combinations
//! `Y = S·C` that may overwrite their own inputs, and residuals `H·x − λx`.
//!
//! Blocks are sets of `n`-long columns ([`Cols`]) that may come from several pool matrices, so
//! that `[X, W, P]` needs no copy. A run of columns may be stored in single precision
//! (`T::Single`: LOBPCG's W and P): the kernels widen its chunk of rows into a per-thread
//! buffer (the operator reads it in place), round what they write to it, and `gram_op` then
//! also returns the Gram matrix of the stored columns. Memory beyond the blocks themselves: a
//! few chunks of rows per thread (≈ 8192 rows × up to twice the block width).
//!
//! Columns in scratch files (out-of-core solves, `out_of_core.rs`) are processed in chunks of
//! the height their block asks for; each chunk reads ahead the next one and drops its own rows
//! from the resident memory when done, and every kernel drops its blocks' pages at the end.
//!
//! `block/ritz.rs` holds the kernels that share work between one LOBPCG iteration's passes:
//! the residuals with X's Grams, `Sᴴ·H·S` given them, and the Ritz combination.

mod ritz;

pub(crate) use ritz::{XGrams, combine_ritz, gram_op_with_x_grams, residuals_and_x_grams};

use crate::error::Result;
use crate::matrix::{Scalar, narrow_into, vectorized, widen_into};
use crate::solver::operator::{Operator, rows_near};
use crate::solver::out_of_core::{Advice, Block, advise, discard_pages};
use crate::solver::reduce::{GROUPS, row_groups};
use crate::solver::scratch_faults::check_address;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;
use std::ops::Range;

/// A run of columns with a common stride: column `j` of the run starts `j·ld` elements after
/// `ptr`; the elements are `T`, or `T::Single` for a single-precision run.
#[derive(Clone, Copy)]
struct Segment<T> {
    ptr: *mut T,
    ncols: usize,
    /// In elements of the run's own type.
    ld: usize,
    /// In a scratch-file mapping: residency advice applies.
    mapped: bool,
    /// Stored in single precision (`T::Single`): read widened, written rounded.
    single: bool,
}

impl<T: Scalar> Segment<T> {
    /// Bytes per element.
    fn element_bytes(&self) -> usize {
        if self.single {
            size_of::<T::Single>()
        } else {
            size_of::<T>()
        }
    }

    /// The first byte of column `j` (`j ≤ ncols`).
    fn column_start(&self, j: usize) -> *mut u8 {
        debug_assert!(j <= self.ncols);
        // SAFETY: column j ≤ ncols starts inside (or one past) the segment's matrix.
        unsafe {
            self.ptr
                .cast::<u8>()
                .add(j * self.ld * self.element_bytes())
        }
    }

    /// The run from its column `j` on.
    fn columns_from(&self, j: usize, ncols: usize) -> Self {
        Self {
            ptr: self.column_start(j).cast(),
            ncols,
            ..*self
        }
    }
}

/// Column `j` of a [`Cols`], in its storage precision.
pub(crate) enum Column<'a, T: Scalar> {
    Full(&'a [T]),
    Single(&'a [T::Single]),
}

/// Rows of a column of a [`Cols`], writable, in its storage precision.
pub(crate) enum ColumnMut<'a, T: Scalar> {
    Full(&'a mut [T]),
    Single(&'a mut [T::Single]),
}

/// Columns of length `n` in pool matrices: a list of strided segments, so that a block such as
/// `[X, W, P]` is used in place, and chunks of its rows are faer views (no copies; segments in
/// single precision are widened into a per-thread chunk buffer).
pub(crate) struct Cols<T> {
    segments: Vec<Segment<T>>,
    n: usize,
    /// Rows per kernel chunk at most (`usize::MAX`: the default chunking).
    chunk_limit: usize,
}

// SAFETY: the kernels below only read whole columns that no one writes during the call, or
// read and write disjoint row ranges from different threads; the pointed-to matrices outlive
// every kernel call (callers keep them borrowed).
unsafe impl<T: Send> Send for Cols<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Cols<T> {}

impl<T: Scalar> Cols<T> {
    /// The leading `n` rows of columns `range` of `m` (a smaller problem in a larger workspace).
    pub(crate) fn of_rows(m: &mut Block<T>, range: Range<usize>, n: usize) -> Self {
        assert!(n <= m.nrows());
        Self::of_block(m, range, n, false)
    }

    /// The leading `n` rows of columns `range` of `m` stored in single precision: each of m's
    /// columns holds `T::Single` values in its bytes (twice as many as its `T` rows).
    pub(crate) fn of_single_rows(m: &mut Block<T>, range: Range<usize>, n: usize) -> Self {
        assert!(n <= single_rows::<T>(m.nrows()));
        Self::of_block(m, range, n, true)
    }

    fn of_block(m: &mut Block<T>, range: Range<usize>, n: usize, single: bool) -> Self {
        assert!(range.end <= m.ncols());
        let whole = Segment {
            ptr: m.data_ptr(),
            ncols: m.ncols(),
            ld: m.ld() * size_of::<T>()
                / if single {
                    size_of::<T::Single>()
                } else {
                    size_of::<T>()
                },
            mapped: m.is_mapped(),
            single,
        };
        Self {
            segments: if range.is_empty() {
                Vec::new()
            } else {
                vec![whole.columns_from(range.start, range.len())]
            },
            n,
            chunk_limit: m.chunk_rows(),
        }
    }

    /// The columns of `parts`, in order.
    pub(crate) fn concat(parts: &[&Cols<T>]) -> Self {
        let n = parts.first().map_or(0, |p| p.n);
        Self {
            segments: parts
                .iter()
                .flat_map(|p| p.segments.iter().copied())
                .collect(),
            n,
            chunk_limit: parts
                .iter()
                .map(|p| p.chunk_limit)
                .min()
                .unwrap_or(usize::MAX),
        }
    }

    /// Gives the pages wholly inside each in-core column's `n` rows back to the system (columns
    /// in scratch files are left alone): the columns' contents are undefined from now on.
    ///
    /// # Safety
    /// No one reads these columns' rows again before writing them.
    pub(crate) unsafe fn discard(&self) {
        for seg in self.segments.iter().filter(|s| !s.mapped) {
            for j in 0..seg.ncols {
                // SAFETY: column j's first n rows lie inside the segment's pool matrix, and the
                // caller promises no one reads them before writing them.
                unsafe { discard_pages(seg.column_start(j), self.n * seg.element_bytes()) };
            }
        }
    }

    /// Columns `range`.
    pub(crate) fn slice(&self, range: Range<usize>) -> Self {
        let mut segments = Vec::new();
        let mut first = 0;
        for seg in &self.segments {
            let (lo, hi) = (range.start.max(first), range.end.min(first + seg.ncols));
            if lo < hi {
                segments.push(seg.columns_from(lo - first, hi - lo));
            }
            first += seg.ncols;
        }
        Self {
            segments,
            n: self.n,
            chunk_limit: self.chunk_limit,
        }
    }

    /// Number of columns.
    pub(crate) fn len(&self) -> usize {
        self.segments.iter().map(|s| s.ncols).sum()
    }

    /// Column length.
    pub(crate) fn rows(&self) -> usize {
        self.n
    }

    /// True when some column is stored in single precision.
    pub(crate) fn any_single(&self) -> bool {
        self.segments.iter().any(|s| s.single)
    }

    /// Residency advice on rows `rows` (clipped to the column length) of every column that
    /// lies in a scratch file; nothing for pool memory.
    pub(crate) fn advise_rows(&self, rows: Range<usize>, advice: Advice) {
        let (lo, hi) = (rows.start.min(self.n), rows.end.min(self.n));
        if lo >= hi {
            return;
        }
        for seg in self.segments.iter().filter(|s| s.mapped) {
            let bytes = seg.element_bytes();
            for j in 0..seg.ncols {
                // SAFETY: rows lo..hi of column j lie inside the segment's mapping.
                let start = unsafe { seg.column_start(j).add(lo * bytes) };
                advise(start, (hi - lo) * bytes, advice);
            }
        }
    }

    /// Reads ahead the rows after `rows` (the next chunk's).
    fn prefetch_after(&self, rows: &Range<usize>) {
        self.advise_rows(rows.end..rows.end + rows.len(), Advice::WillNeed);
    }

    /// Drops rows `rows` from the resident memory (scratch-file columns only), with a margin of
    /// a chunk (at least 64 KiB) on both sides: the kernel's fault-around maps up to 64 KiB of
    /// cached pages around every read fault, and operators read halo rows, so a chunk's faults
    /// also map pages of its neighbours, which were released already or are about to be.
    /// Releasing pages another thread is using is safe for a shared file mapping (they are
    /// faulted in again from the page cache), only a little slower.
    fn release(&self, rows: &Range<usize>) {
        let margin = rows.len().max((64 << 10) / size_of::<T>().max(1));
        self.advise_rows(
            rows.start.saturating_sub(margin)..rows.end + margin,
            Advice::Release,
        );
    }

    /// Drops every scratch-file column from the resident memory.
    pub(crate) fn release_all(&self) {
        self.advise_rows(0..self.n, Advice::Release);
    }

    /// `ErrorKind::Io` when the system failed to read back a page of a scratch file holding
    /// some of the columns (the kernel that touched it ran on zeros; see `scratch_faults.rs`).
    /// Called after every kernel on the blocks.
    pub(crate) fn check_faults(&self) -> Result<()> {
        self.segments
            .iter()
            .filter(|s| s.mapped)
            .try_for_each(|s| check_address(s.ptr as usize))
    }

    /// True when some column lies in a scratch file.
    fn any_mapped(&self) -> bool {
        self.segments.iter().any(|s| s.mapped)
    }

    /// The segment holding column `j`, and `j`'s index in it.
    fn locate(&self, mut j: usize) -> (&Segment<T>, usize) {
        for seg in &self.segments {
            if j < seg.ncols {
                return (seg, j);
            }
            j -= seg.ncols;
        }
        panic!("column index out of range");
    }

    /// Column `j`, whole, in its storage precision.
    ///
    /// # Safety
    /// Nobody writes the column while the slice is alive.
    pub(crate) unsafe fn column(&self, j: usize) -> Column<'_, T> {
        let (seg, j) = self.locate(j);
        let start = seg.column_start(j);
        // SAFETY: the column has n elements of its storage type; no concurrent writer per the
        // contract.
        unsafe {
            if seg.single {
                Column::Single(std::slice::from_raw_parts(start.cast(), self.n))
            } else {
                Column::Full(std::slice::from_raw_parts(start.cast(), self.n))
            }
        }
    }

    /// Writes `src` to rows `rows` of column `j` (rounded to single precision where the column
    /// is stored so).
    ///
    /// # Safety
    /// Nobody else reads or writes those rows of the column meanwhile.
    pub(crate) unsafe fn store_rows(&self, j: usize, rows: Range<usize>, src: &[T]) {
        assert!(rows.end <= self.n && src.len() == rows.len());
        // SAFETY: exclusive per the contract.
        match unsafe { self.rows_mut(j, rows) } {
            ColumnMut::Full(dst) => dst.copy_from_slice(src),
            ColumnMut::Single(dst) => narrow_into(src, dst),
        }
    }

    /// Rows `rows` of column `j`, mutably, in its storage precision.
    ///
    /// # Safety
    /// Nobody else reads or writes those rows of the column while the slice is alive.
    pub(crate) unsafe fn rows_mut(&self, j: usize, rows: Range<usize>) -> ColumnMut<'_, T> {
        assert!(rows.end <= self.n);
        let (seg, j) = self.locate(j);
        let start = seg.column_start(j);
        // SAFETY: in bounds (checked); exclusive per the contract.
        unsafe {
            if seg.single {
                ColumnMut::Single(std::slice::from_raw_parts_mut(
                    start.cast::<T::Single>().add(rows.start),
                    rows.len(),
                ))
            } else {
                ColumnMut::Full(std::slice::from_raw_parts_mut(
                    start.cast::<T>().add(rows.start),
                    rows.len(),
                ))
            }
        }
    }

    /// Rows `rows` of column `j`, widened into `dst`.
    ///
    /// # Safety
    /// Nobody writes those rows of the column meanwhile.
    pub(crate) unsafe fn load_rows(&self, j: usize, rows: Range<usize>, dst: &mut [T]) {
        assert!(rows.end <= self.n && dst.len() == rows.len());
        // SAFETY: no concurrent writer per the contract.
        match unsafe { self.column(j) } {
            Column::Full(c) => dst.copy_from_slice(&c[rows]),
            Column::Single(c) => widen_into(&c[rows], dst),
        }
    }

    /// Rows `rows` of each segment as faer views, with the index of its first column: views
    /// of the columns themselves, or of `buf` (resized) for single-precision segments, whose
    /// rows are widened into it.
    ///
    /// # Safety
    /// Nobody writes those rows while the views are alive.
    unsafe fn chunk_views<'a>(
        &'a self,
        rows: &Range<usize>,
        buf: &'a mut Mat<T>,
    ) -> Vec<(usize, MatRef<'a, T>)> {
        let singles: usize = self
            .segments
            .iter()
            .filter(|s| s.single)
            .map(|s| s.ncols)
            .sum();
        if singles > 0 {
            buf.resize_with(rows.len(), singles, |_, _| T::ZERO_VALUE);
            let (mut first, mut c) = (0, 0);
            for seg in &self.segments {
                if seg.single {
                    for j in first..first + seg.ncols {
                        let dst = buf
                            .as_mut()
                            .col_mut(c)
                            .try_as_col_major_mut()
                            .expect("faer Mat columns are contiguous")
                            .as_slice_mut();
                        // SAFETY: no writer per the contract.
                        unsafe { self.load_rows(j, rows.clone(), dst) };
                        c += 1;
                    }
                }
                first += seg.ncols;
            }
        }
        let buf: &'a Mat<T> = buf;
        let (mut first, mut in_buf) = (0, 0);
        self.segments
            .iter()
            .map(|seg| {
                let view = if seg.single {
                    in_buf += seg.ncols;
                    buf.as_ref().subcols(in_buf - seg.ncols, seg.ncols)
                } else {
                    // SAFETY: rows ⊂ 0..n and the segment's columns are ld apart inside its
                    // matrix.
                    unsafe {
                        MatRef::from_raw_parts(
                            seg.ptr.add(rows.start),
                            rows.len(),
                            seg.ncols,
                            1,
                            seg.ld as isize,
                        )
                    }
                };
                first += seg.ncols;
                (first - seg.ncols, view)
            })
            .collect()
    }

    /// When every segment of `self` is a segment of `other`, whose chunk views are
    /// `other_views`, the same views for `self` (indexed from `self`'s first column).
    fn views_within<'a>(
        &self,
        other: &Cols<T>,
        other_views: &[(usize, MatRef<'a, T>)],
    ) -> Option<Vec<(usize, MatRef<'a, T>)>> {
        let mut first = 0;
        self.segments
            .iter()
            .map(|seg| {
                let k = other.segments.iter().position(|o| {
                    (o.ptr, o.ncols, o.ld, o.single) == (seg.ptr, seg.ncols, seg.ld, seg.single)
                })?;
                first += seg.ncols;
                Some((first - seg.ncols, other_views[k].1))
            })
            .collect()
    }

    /// Writes `src` (rows.len() × len, contiguous columns) into rows `rows` of every column.
    fn scatter(&self, rows: &Range<usize>, src: &Mat<T>) {
        for j in 0..self.len() {
            let col = src
                .as_ref()
                .col(j)
                .try_as_col_major()
                .expect("faer Mat columns are contiguous");
            // SAFETY: rows ⊂ 0..n; concurrent calls use disjoint row ranges.
            unsafe { self.store_rows(j, rows.clone(), col.as_slice()) };
        }
    }
}

/// Single-precision rows a block of `rows` rows of `T` holds per column.
pub(crate) fn single_rows<T: Scalar>(rows: usize) -> usize {
    rows * size_of::<T>() / size_of::<T::Single>()
}

/// Rows of `T` a block needs per column to hold `n` single-precision values.
pub(crate) fn rows_for_single<T: Scalar>(n: usize) -> usize {
    (n * size_of::<T::Single>()).div_ceil(size_of::<T>())
}

/// `acc += Lᴴ·R` over one chunk of rows, segment by segment (`r` given as a contiguous matrix or
/// as segment views).
fn accumulate_gram<T: Scalar>(
    acc: &mut Mat<T>,
    left: &[(usize, MatRef<'_, T>)],
    right: &[(usize, MatRef<'_, T>)],
) {
    for &(i0, l) in left {
        for &(j0, r) in right {
            let block = acc.as_mut().submatrix_mut(i0, j0, l.ncols(), r.ncols());
            matmul(block, Accum::Add, l.adjoint(), r, T::ONE, Par::Seq);
        }
    }
}

/// Rows per chunk of the block kernels in core (rounded up to the operator's granularity): a
/// quarter of the operator's own chunks ([`chunk_rows`](crate::solver::operator::chunk_rows)).
/// The kernels widen and gather up to `2·width` columns of a chunk into buffers per thread, so
/// their chunks are wider than a product's; smaller ones stay in cache. Measured against 8192 (the `quantum_dot` example,
/// alternated, quiet host; same energies): the 2D dot at 1000² 1.45–1.74 → 1.35–1.57 s, peak
/// RSS 203–212 → 195 MB (pool peak 191.0 → 185.5 MiB); 2000² 3.21–3.27 → 3.05–3.07 s; the 3D
/// dot at 100³ 9.16–9.25 → 8.05–8.28 s, 375 → 359 MB, 126 iterations either way. 1024 and 512
/// rows saved another 1–3 MiB but changed the 3D solve's rounding to 128 and 133 iterations.
const BLOCK_CHUNK_ROWS: usize = 2048;

/// Rows per kernel chunk: about [`BLOCK_CHUNK_ROWS`], or at most `limit` (rounded down to the
/// granularity, at least one granule) when the blocks ask for less or more.
fn chunk_size(n: usize, granularity: usize, limit: usize) -> usize {
    if limit == usize::MAX {
        rows_near(n, granularity, BLOCK_CHUNK_ROWS)
    } else {
        let g = granularity.max(1);
        ((limit / g).max(1) * g).min(n.max(1).next_multiple_of(g))
    }
}

/// The row chunks of a kernel (see [`chunk_size`]).
fn chunks(
    n: usize,
    granularity: usize,
    limit: usize,
) -> impl IndexedParallelIterator<Item = Range<usize>> {
    let size = chunk_size(n, granularity, limit);
    (0..n.div_ceil(size))
        .into_par_iter()
        .map(move |c| c * size..((c + 1) * size).min(n))
}

/// The row chunks of a reduction in groups of consecutive chunks ([`row_groups`]): each item
/// is a group's chunks, in order.
fn chunk_groups(
    n: usize,
    granularity: usize,
    limit: usize,
) -> impl IndexedParallelIterator<Item = impl Iterator<Item = Range<usize>>> {
    row_groups(n, chunk_size(n, granularity, limit))
}

/// The partial results of a reduction over row chunks, one per group of `groups` (see
/// [`chunk_groups`]), in group order: `chunk(buffers, rows, part)` adds the contribution of the
/// chunk `rows` to its group's `part` (made by `zero`), compiled for AVX2 + FMA where the CPU
/// has them ([`vectorized`]; pass an `#[inline(always)]` closure); each job's `buffers` (made
/// by `init`) serve all its chunks.
fn reduce_chunks<G, B, P: Send>(
    groups: impl IndexedParallelIterator<Item = G>,
    init: impl Fn() -> B + Sync + Send,
    zero: impl Fn() -> P + Sync + Send,
    chunk: impl Fn(&mut B, Range<usize>, &mut P) + Sync + Send,
) -> Vec<P>
where
    G: Iterator<Item = Range<usize>>,
{
    groups
        .map_init(init, |buffers, group| {
            let mut part = zero();
            for rows in group {
                vectorized(
                    #[inline(always)]
                    || chunk(buffers, rows, &mut part),
                );
            }
            part
        })
        .collect()
}

/// Sums partial results in group order (see [`row_groups`]).
fn ordered_sum<T: Scalar>(parts: Vec<Mat<T>>, nrows: usize, ncols: usize) -> Mat<T> {
    parts
        .into_iter()
        .fold(Mat::zeros(nrows, ncols), |acc, part| acc + part)
}

/// Bytes the kernels below hold besides the blocks, at most, for columns of `n` rows in blocks
/// of up to `width` columns (LOBPCG's `[X, W, P]`: three blocks' columns) on `threads`
/// threads, the blocks asking for chunks of `limit` rows (`usize::MAX`: the default) and the
/// operator for whole granules of `granularity` rows:
/// - each thread's chunk buffers, `2·width` columns of `T` of a chunk's rows (the most any
///   kernel holds: [`gram_op`]'s `[S HS]` interleaved, [`combine`]'s output and widened input,
///   [`gram`]'s two widened operands);
/// - a reduction's partial results ([`GROUPS`] of `width × 2·width`), their sum and the two
///   matrices [`gram_op`] de-interleaves it into;
/// - the Rayleigh–Ritz step's dense `width × width` matrices (the pencil, its factor, the
///   eigenvectors, the coefficients and faer's work for them: counted as 16).
pub(crate) fn kernel_bytes<T: Scalar>(
    n: usize,
    width: usize,
    granularity: usize,
    limit: usize,
    threads: usize,
) -> u64 {
    let buffers = threads.max(1) as u64 * chunk_buffer_elements(n, width, granularity, limit);
    let width = width as u64;
    let reductions = (GROUPS as u64 + 3) * width * 2 * width;
    let rayleigh_ritz = 16 * width * width;
    (buffers + reductions + rayleigh_ritz) * size_of::<T>() as u64
}

/// Elements of `T` one thread's chunk buffers hold at most (see [`kernel_bytes`]): `2·width`
/// columns of the longest chunk any kernel cuts.
fn chunk_buffer_elements(n: usize, width: usize, granularity: usize, limit: usize) -> u64 {
    let rows = [granularity, 1]
        .into_iter()
        .flat_map(|g| [chunk_size(n, g, limit), chunk_size(n, g, usize::MAX)])
        .max()
        .unwrap_or(0);
    (rows * 2 * width) as u64
}

thread_local! {
    /// The most elements of `T` this thread's chunk buffers held at once (for the test of
    /// [`kernel_bytes`]).
    #[cfg(test)]
    static BUFFER_HIGH_WATER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Records that this thread's chunk buffers hold `elements` values of `T` (tests only).
#[inline(always)]
fn note_buffers(elements: usize) {
    #[cfg(test)]
    BUFFER_HIGH_WATER.with(|h| h.set(h.get().max(elements)));
    #[cfg(not(test))]
    let _ = elements;
}

/// `Aᴴ·B`.
pub(crate) fn gram<T: Scalar>(a: &Cols<T>, b: &Cols<T>) -> Mat<T> {
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 {
        return Mat::zeros(na, nb);
    }
    let limit = a.chunk_limit.min(b.chunk_limit);
    let parts = reduce_chunks(
        chunk_groups(a.rows(), 1, limit),
        || (Mat::<T>::zeros(0, 0), Mat::<T>::zeros(0, 0)),
        || Mat::<T>::zeros(na, nb),
        #[inline(always)]
        |(bufa, bufb), rows, part| {
            a.prefetch_after(&rows);
            b.prefetch_after(&rows);
            // SAFETY: A and B are only read during this kernel.
            let va = unsafe { a.chunk_views(&rows, bufa) };
            if let Some(vb) = b.views_within(a, &va) {
                // B's columns are some of A's (orthonormalisation: [q y]ᴴy): widened once.
                accumulate_gram(part, &va, &vb);
            } else {
                // SAFETY: as above.
                let vb = unsafe { b.chunk_views(&rows, bufb) };
                accumulate_gram(part, &va, &vb);
            }
            a.release(&rows);
            b.release(&rows);
            note_buffers(bufa.nrows() * bufa.ncols() + bufb.nrows() * bufb.ncols());
        },
    );
    a.release_all();
    b.release_all();
    ordered_sum(parts, na, nb)
}

/// `y = H·x` for rows `rows` of column `x`, whatever its storage precision.
fn apply_column<T: Scalar, A: Operator<T> + ?Sized>(
    op: &A,
    x: Column<'_, T>,
    rows: Range<usize>,
    y: &mut [T],
) {
    match x {
        Column::Full(x) => op.apply_rows(x, rows, y),
        Column::Single(x) => op.apply_rows_single(x, rows, y),
    }
}

/// Fills the block upper triangle of a Hermitian `g` over the segments of `s`: (i, j) right
/// of i's segment is conj((j, i)).
fn mirror_upper<T: Scalar>(g: &mut Mat<T>, s: &Cols<T>) {
    let b = g.nrows();
    let mut start = 0;
    for seg in &s.segments {
        let end = start + seg.ncols;
        for j in end..b {
            for i in start..end {
                g[(i, j)] = g[(j, i)].conj_value();
            }
        }
        start = end;
    }
}

/// `Sᴴ·H·S`, applying `op` chunk by chunk (H·S is never stored), and, when `overlap` asks for
/// it or some of S is stored in single precision, the Gram matrix `Sᴴ·S` of the stored columns
/// from the same pass (the Rayleigh–Ritz step then solves the pencil: S is not orthonormal,
/// or its rounded columns are orthonormal only to single precision).
pub(crate) fn gram_op<T: Scalar, A: Operator<T> + ?Sized>(
    op: &A,
    s: &Cols<T>,
    overlap: bool,
) -> (Mat<T>, Option<Mat<T>>) {
    let b = s.len();
    if b == 0 {
        return (Mat::zeros(0, 0), overlap.then(|| Mat::zeros(0, 0)));
    }
    if overlap || s.any_single() {
        let (g, overlap) = gram_op_with_overlap(op, s);
        return (g, Some(overlap));
    }
    let parts = reduce_chunks(
        chunk_groups(s.rows(), op.row_granularity(), s.chunk_limit),
        || (Mat::<T>::zeros(0, 0), Mat::<T>::zeros(0, 0)),
        || Mat::<T>::zeros(b, b),
        #[inline(always)]
        |(th, buf), rows, part| {
            s.prefetch_after(&rows);
            th.resize_with(rows.len(), b, |_, _| T::ZERO_VALUE);
            for j in 0..b {
                let y = th
                    .as_mut()
                    .col_mut(j)
                    .try_as_col_major_mut()
                    .expect("contiguous");
                // SAFETY: S is only read during this kernel.
                apply_column(op, unsafe { s.column(j) }, rows.clone(), y.as_slice_mut());
            }
            // SAFETY: S is only read during this kernel.
            let vs = unsafe { s.chunk_views(&rows, buf) };
            // Sᴴ·H·S is Hermitian: each segment's rows only up to its last column (the block
            // lower triangle, two thirds of the products for [X, W, P]); the rest is mirrored
            // once the chunks are summed.
            for &(i0, l) in &vs {
                let end = i0 + l.ncols();
                let block = part.as_mut().submatrix_mut(i0, 0, l.ncols(), end);
                matmul(
                    block,
                    Accum::Add,
                    l.adjoint(),
                    th.as_ref().subcols(0, end),
                    T::ONE,
                    Par::Seq,
                );
            }
            drop(vs);
            s.release(&rows);
            note_buffers(th.nrows() * th.ncols() + buf.nrows() * buf.ncols());
        },
    );
    // The operator read halo rows of neighbouring chunks: drop those pages too.
    s.release_all();
    let mut g = ordered_sum(parts, b, b);
    mirror_upper(&mut g, s);
    (g, None)
}

/// [`gram_op`] with the Gram matrix: each chunk of S (widened) and of H·S goes into one buffer,
/// interleaved by segment — `[S₀ HS₀ S₁ HS₁ …]` — so that one product per segment,
/// `Sᵢᴴ·[S₀ HS₀ … Sᵢ HSᵢ]`, gives its rows of both matrices' block lower triangles.
fn gram_op_with_overlap<T: Scalar, A: Operator<T> + ?Sized>(
    op: &A,
    s: &Cols<T>,
) -> (Mat<T>, Mat<T>) {
    let b = s.len();
    // Each segment's first column in S.
    let offsets: Vec<usize> = s
        .segments
        .iter()
        .scan(0, |next, seg| {
            *next += seg.ncols;
            Some(*next - seg.ncols)
        })
        .collect();
    let parts = reduce_chunks(
        chunk_groups(s.rows(), op.row_granularity(), s.chunk_limit),
        || Mat::<T>::zeros(0, 0),
        || Mat::<T>::zeros(b, 2 * b),
        #[inline(always)]
        |both, rows, part| {
            s.prefetch_after(&rows);
            both.resize_with(rows.len(), 2 * b, |_, _| T::ZERO_VALUE);
            for (seg, &c0) in s.segments.iter().zip(&offsets) {
                for t in 0..seg.ncols {
                    let (left, right) = both.as_mut().split_at_col_mut(2 * c0 + seg.ncols);
                    let x_col = left
                        .col_mut(2 * c0 + t)
                        .try_as_col_major_mut()
                        .expect("contiguous")
                        .as_slice_mut();
                    let hx_col = right
                        .col_mut(t)
                        .try_as_col_major_mut()
                        .expect("contiguous")
                        .as_slice_mut();
                    // SAFETY: S is only read during this kernel.
                    unsafe {
                        s.load_rows(c0 + t, rows.clone(), x_col);
                        apply_column(op, s.column(c0 + t), rows.clone(), hx_col);
                    }
                }
            }
            for (seg, &c0) in s.segments.iter().zip(&offsets) {
                let (w, end) = (seg.ncols, 2 * (c0 + seg.ncols));
                matmul(
                    part.as_mut().submatrix_mut(c0, 0, w, end),
                    Accum::Add,
                    both.as_ref().subcols(2 * c0, w).adjoint(),
                    both.as_ref().subcols(0, end),
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
    let sum = ordered_sum(parts, b, 2 * b);
    // De-interleave: column j of S (segment at c0, width w, index t) is column 2·c0 + t of
    // the overlap part and 2·c0 + w + t of the operator part.
    let mut g = Mat::<T>::zeros(b, b);
    let mut overlap = Mat::<T>::zeros(b, b);
    for (seg, &c0) in s.segments.iter().zip(&offsets) {
        for t in 0..seg.ncols {
            for i in 0..b {
                overlap[(i, c0 + t)] = sum[(i, 2 * c0 + t)];
                g[(i, c0 + t)] = sum[(i, 2 * c0 + seg.ncols + t)];
            }
        }
    }
    mirror_upper(&mut g, s);
    mirror_upper(&mut overlap, s);
    (g, overlap)
}

/// `to = V·coeff` for a chunk's views `V` of some columns (`coeff`: those columns × `to`'s);
/// zero when there are none.
fn combine_views<T: Scalar>(
    to: &mut Mat<T>,
    views: &[(usize, MatRef<'_, T>)],
    coeff: MatRef<'_, T>,
) {
    if views.is_empty() {
        to.fill(T::ZERO_VALUE);
    }
    for (k, &(i0, v)) in views.iter().enumerate() {
        let c = coeff.subrows(i0, v.ncols());
        let accum = if k == 0 { Accum::Replace } else { Accum::Add };
        matmul(to.as_mut(), accum, v, c, T::ONE, Par::Seq);
    }
}

/// `outputs = inputs·coeff` (`coeff` is inputs × outputs). The outputs may be some of the inputs:
/// each chunk of rows is computed into a buffer before it is written.
pub(crate) fn combine<T: Scalar>(inputs: &Cols<T>, coeff: MatRef<'_, T>, outputs: &Cols<T>) {
    assert!(coeff.nrows() == inputs.len() && coeff.ncols() == outputs.len());
    if outputs.len() == 0 {
        return;
    }
    let limit = inputs.chunk_limit.min(outputs.chunk_limit);
    chunks(inputs.rows(), 1, limit).for_each_init(
        || (Mat::<T>::zeros(0, 0), Mat::<T>::zeros(0, 0)),
        |(to, buf), rows| {
            vectorized(
                #[inline(always)]
                || {
                    inputs.prefetch_after(&rows);
                    outputs.prefetch_after(&rows);
                    to.resize_with(rows.len(), outputs.len(), |_, _| T::ZERO_VALUE);
                    // SAFETY: within this chunk the inputs are only read until the buffer is
                    // complete; other chunks touch other rows.
                    let views = unsafe { inputs.chunk_views(&rows, buf) };
                    combine_views(to, &views, coeff);
                    drop(views);
                    note_buffers(to.nrows() * to.ncols() + buf.nrows() * buf.ncols());
                    outputs.scatter(&rows, to);
                    inputs.release(&rows);
                    outputs.release(&rows);
                },
            )
        },
    );
    if inputs.any_mapped() || outputs.any_mapped() {
        inputs.release_all();
        outputs.release_all();
    }
}

/// `r_j = H·x_j − λ_j·x_j` for every column, stored in `r` unless it is `None`; returns
/// `‖r_j‖` (of the residuals as computed, before a single-precision `r` rounds them: the same
/// bits whether they are stored or not). `r` must not alias `x`.
pub(crate) fn residuals<T: Scalar, A: Operator<T> + ?Sized>(
    op: &A,
    x: &Cols<T>,
    lambda: &[f64],
    r: Option<&Cols<T>>,
) -> Vec<f64> {
    let b = x.len();
    assert!(r.is_none_or(|r| r.len() == b) && lambda.len() == b);
    let limit = r.map_or(x.chunk_limit, |r| x.chunk_limit.min(r.chunk_limit));
    let parts: Vec<Vec<f64>> = reduce_chunks(
        chunk_groups(x.rows(), op.row_granularity(), limit),
        || (Vec::new(), Vec::new()),
        || vec![0.0; b],
        #[inline(always)]
        |(hx, xc), rows, part| {
            x.prefetch_after(&rows);
            if let Some(r) = r {
                r.prefetch_after(&rows);
            }
            hx.resize(rows.len(), T::ZERO_VALUE);
            xc.resize(rows.len(), T::ZERO_VALUE);
            for j in 0..b {
                // SAFETY: X is only read; R's rows `rows` are written by this
                // chunk alone.
                let xj = unsafe { x.column(j) };
                let xj = match xj {
                    Column::Full(c) => {
                        op.apply_rows(c, rows.clone(), hx);
                        &c[rows.clone()]
                    }
                    Column::Single(c) => {
                        op.apply_rows_single(c, rows.clone(), hx);
                        widen_into(&c[rows.clone()], xc);
                        &xc[..]
                    }
                };
                for (h, &xi) in hx.iter_mut().zip(xj) {
                    *h -= xi.scale(lambda[j]);
                    part[j] += h.abs_sq();
                }
                if let Some(r) = r {
                    // SAFETY: as above.
                    unsafe { r.store_rows(j, rows.clone(), hx) };
                }
            }
            x.release(&rows);
            if let Some(r) = r {
                r.release(&rows);
            }
            note_buffers(hx.len() + xc.len());
        },
    );
    // The operator read halo rows of neighbouring chunks: drop those pages too.
    x.release_all();
    if let Some(r) = r {
        r.release_all();
    }
    // In group order, for determinism (see `row_groups`).
    let sq = parts.iter().fold(vec![0.0; b], |acc, p| {
        acc.iter().zip(p).map(|(a, b)| a + b).collect()
    });
    sq.into_iter().map(f64::sqrt).collect()
}

#[cfg(test)]
mod tests {
    //! The kernels' chunk buffers against [`kernel_bytes`], and their reductions on any number
    //! of threads.
    use super::*;
    use crate::memory::MemoryManager;
    use crate::physics::constants::GAAS_MASS;
    use crate::physics::{Grid, HamiltonianSpec, StencilOperator, parabolic_potential};
    use crate::solver::out_of_core::BlockPlan;
    use crate::solver::random::fill_random;

    /// What the kernels computed (as bits), and the most elements a thread's buffers held.
    struct Run {
        bits: Vec<u64>,
        high_water: usize,
    }

    /// On `threads` threads: W and P (single precision) from X by `combine`, then `gram_op`
    /// (with the overlap) and `gram` of `[X W P]`, and the residuals of X into W.
    fn run(op: &StencilOperator<f64>, m: usize, threads: usize) -> Run {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let manager = MemoryManager::with_defaults().unwrap();
        let n = op.dim();
        let block = |rows| Block::<f64>::new(&manager, &BlockPlan::InCore, rows, m, "t").unwrap();
        let (mut x, mut w, mut p) = (
            block(n),
            block(rows_for_single::<f64>(n)),
            block(rows_for_single::<f64>(n)),
        );
        for j in 0..m {
            fill_random(&mut x.col_mut(j)[..n], 7, j);
        }
        let (xc, wc, pc) = (
            Cols::of_rows(&mut x, 0..m, n),
            Cols::of_single_rows(&mut w, 0..m, n),
            Cols::of_single_rows(&mut p, 0..m, n),
        );
        let coeff = Mat::<f64>::from_fn(m, m, |i, j| 1.0 / (1 + i + 2 * j) as f64);
        let s = Cols::concat(&[&xc, &wc, &pc]);
        let lambda: Vec<f64> = (0..m).map(|j| j as f64 * 1e-3).collect();
        pool.install(|| {
            pool.broadcast(|_| BUFFER_HIGH_WATER.with(|h| h.set(0)));
            combine(&xc, coeff.as_ref(), &wc);
            combine(&xc, coeff.transpose(), &pc);
            let (g, overlap) = gram_op(op, &s, false);
            let gram_s = gram(&s, &s);
            let norms = residuals(op, &xc, &lambda, Some(&wc));
            let high_water = pool
                .broadcast(|_| BUFFER_HIGH_WATER.with(|h| h.get()))
                .into_iter()
                .max()
                .unwrap();
            let mut bits = Vec::new();
            for mat in [&g, &overlap.unwrap(), &gram_s] {
                bits.extend(
                    (0..mat.ncols())
                        .flat_map(|j| (0..mat.nrows()).map(move |i| mat[(i, j)].to_bits())),
                );
            }
            bits.extend(norms.iter().map(|v| v.to_bits()));
            Run { bits, high_water }
        })
    }

    /// A 760² grid cuts into 70 chunks of 8360 rows (more than the 64 groups): whatever the
    /// threads, the same bits, and each thread's buffers reach exactly the bound that
    /// `kernel_bytes` counts (`gram_op`'s `[S HS]` of the longest chunk).
    #[test]
    fn kernels_stay_within_their_count_and_give_the_same_bits_on_any_threads() {
        // About 30 MiB of blocks per run, made and given back.
        let _alone = crate::memory::os::process_memory_lock();
        let grid = Grid::dirichlet_box(&[120.0, 120.0], &[760, 760]).unwrap();
        let mut v = vec![0.0; grid.len()];
        parabolic_potential(&grid, GAAS_MASS, 0.010, &mut v).unwrap();
        let spec = HamiltonianSpec::new(grid, GAAS_MASS, Some(&v));
        let manager = MemoryManager::with_defaults().unwrap();
        let op = StencilOperator::<f64>::new(&manager, &spec, "h").unwrap();
        let (n, m) = (op.dim(), 3);
        assert!(n.div_ceil(chunk_size(n, op.row_granularity(), usize::MAX)) > GROUPS);
        let bound = chunk_buffer_elements(n, 3 * m, op.row_granularity(), usize::MAX);
        let one = run(&op, m, 1);
        assert_eq!(one.high_water as u64, bound);
        for threads in [2, 3] {
            let other = run(&op, m, threads);
            assert!(other.bits == one.bits, "{threads} threads");
            assert_eq!(other.high_water as u64, bound, "{threads} threads");
        }
        let counted = kernel_bytes::<f64>(n, 3 * m, op.row_granularity(), usize::MAX, 3);
        assert!(counted >= 3 * bound * size_of::<f64>() as u64);
    }
}
