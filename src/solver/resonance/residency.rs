//! Residency of the resonance solver's search space when it lives in a scratch file (an
//! out-of-core solve, `out_of_core.rs`): the Davidson's kernels over the whole space work in
//! *spans* of rows — several of their usual chunks, so that the per-chunk arithmetic, and with
//! it every digit, is the in-core solve's — and drop each span from the process's resident
//! memory when they are done with it; the steps that touch a few of its columns drop those
//! column by column (residuals, the projections' products) or at the end of the iteration (the
//! block of corrections that the V-cycles take together). In core a span is one chunk and every
//! release is a no-op.
//!
//! Dropping pages of the shared file mapping never changes its data: they stay in the page cache
//! (written back to the file under memory pressure) and are read back on the next touch, also
//! when another thread touches them meanwhile (see `advise`).

use crate::error::Result;
use crate::solver::out_of_core::{Advice, Block, advise};
use crate::solver::scratch_faults::check_address;
use faer::MatRef;
use num_complex::Complex64;

/// Where the search space lives: the byte range of its scratch mapping, or nowhere (in core),
/// and the rows of a kernel's span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Residency {
    mapped: Option<(usize, usize)>,
    span: usize,
}

/// Most rows of a span out of core: with 2 threads and a search space of 24 vectors, 2 × 24 MB
/// of it resident during a pass, and a pass over the 1000² solve's space in 16 spans (a
/// release per span and column: a few hundred system calls per pass instead of the 12 000 of
/// one per chunk, which made the solve 3.6× slower than in core).
const MAX_SPAN_ROWS: usize = 65_536;

impl Residency {
    /// The residency of `block` (spans of one `chunk` in core). Out of core the spans of all
    /// threads together hold about `budget` bytes of the block's columns (a multiple of `chunk`
    /// rows, at least one chunk, at most [`MAX_SPAN_ROWS`]).
    pub(crate) fn of(block: &Block<Complex64>, chunk: usize, budget: u64) -> Self {
        let mapped = block.mapped_range();
        let span = if mapped.is_some() {
            let threads = rayon::current_num_threads().max(1) as u64;
            let per_row = (block.ncols().max(1) * size_of::<Complex64>()) as u64 * threads;
            let rows = (budget / per_row).clamp(chunk as u64, MAX_SPAN_ROWS as u64) as usize;
            rows / chunk * chunk
        } else {
            chunk
        };
        Self { mapped, span }
    }

    /// The residency of a search space in core, in spans of `chunk` rows (for tests of the
    /// kernels on plain matrices).
    #[cfg(test)]
    pub(crate) fn in_core(chunk: usize) -> Self {
        Self {
            mapped: None,
            span: chunk,
        }
    }

    /// Rows of a kernel's span (a multiple of the chunk).
    pub(crate) fn span(&self) -> usize {
        self.span
    }

    /// Drops from the resident memory the elements of `view`'s columns that lie in the scratch
    /// mapping (columns elsewhere, e.g. in the pool, are left alone: advice on anonymous memory
    /// would discard it).
    pub(crate) fn release(&self, view: MatRef<'_, Complex64>) {
        let Some((start, end)) = self.mapped else {
            return;
        };
        if view.nrows() == 0 {
            return;
        }
        let bytes = view.nrows() * size_of::<Complex64>();
        for j in 0..view.ncols() {
            let first = view.col(j).as_ptr() as usize;
            if first >= start && first + bytes <= end {
                advise(first as *const u8, bytes, Advice::Release);
            }
        }
    }

    /// Drops the whole mapping from the resident memory.
    pub(crate) fn release_all(&self) {
        if let Some((start, end)) = self.mapped {
            advise(start as *const u8, end - start, Advice::Release);
        }
    }

    /// `ErrorKind::Io` when the system failed to read back part of the scratch file (the
    /// kernel that touched it ran on zeros; see `scratch_faults.rs`); `Ok` in core.
    pub(crate) fn check(&self) -> Result<()> {
        self.mapped
            .map_or(Ok(()), |(start, _)| check_address(start))
    }
}
