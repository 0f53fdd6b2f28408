//! Deterministic parallel reductions in bounded memory: the tall kernels (Gram matrices, norms,
//! residual norms) cut their rows into chunks, and sum the chunks' contributions in a fixed
//! number of groups of consecutive chunks.
//!
//! Each group sums its chunks in chunk order into one partial result, the groups run in
//! parallel, and the partial results are added in group order. The groups follow from the
//! number of chunks alone — never from the threads or from how rayon split the work — so a
//! reduction gives the same bits every run and on any number of threads (the language
//! bindings' results must agree bit for bit, and a solve must give the same digits every run:
//! rayon's own `reduce` adds in an order that follows work stealing). And a reduction holds
//! [`GROUPS`] partial results whatever the number of rows: one per chunk would be thousands
//! of Gram matrices on a large grid, outside the memory manager's view.

use rayon::prelude::*;
use std::ops::Range;

/// Partial results a reduction holds at most.
pub(crate) const GROUPS: usize = 64;

/// `count` items (chunks, spans) in [`GROUPS`] groups of consecutive items (fewer groups when
/// there are fewer items), in parallel: each item of the iterator is one group's index range.
pub(crate) fn groups(count: usize) -> impl IndexedParallelIterator<Item = Range<usize>> {
    let groups = count.min(GROUPS);
    (0..groups)
        .into_par_iter()
        .map(move |g| g * count / groups..(g + 1) * count / groups)
}

/// The rows `0..n` in chunks of `size` rows (the last one shorter), the chunks in [`groups`]:
/// each item of the iterator is one group's chunks, in order.
pub(crate) fn row_groups(
    n: usize,
    size: usize,
) -> impl IndexedParallelIterator<Item = impl Iterator<Item = Range<usize>>> {
    groups(n.div_ceil(size)).map(move |g| g.map(move |c| c * size..((c + 1) * size).min(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every item in exactly one group, in order, and never more than GROUPS groups.
    #[test]
    fn groups_cover_the_items_in_order() {
        for count in [0, 1, 5, 63, 64, 65, 127, 1000, 2501] {
            let all: Vec<Range<usize>> = groups(count).collect();
            assert!(all.len() <= GROUPS && all.len() == count.min(GROUPS));
            let flat: Vec<usize> = all.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(flat, (0..count).collect::<Vec<_>>(), "count {count}");
            assert!(all.iter().all(|r| !r.is_empty()), "count {count}");
        }
    }

    /// Row chunks cover 0..n in order, each `size` rows but the last.
    #[test]
    fn row_groups_cut_the_rows_in_order() {
        for (n, size) in [(0, 8), (1, 8), (8, 8), (9, 8), (1000, 7), (100_000, 64)] {
            let chunks: Vec<Range<usize>> = row_groups(n, size).flat_map_iter(|g| g).collect();
            let rows: Vec<usize> = chunks.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(rows, (0..n).collect::<Vec<_>>(), "n {n}, size {size}");
            let short = chunks.iter().filter(|r| r.len() != size).count();
            assert!(short <= 1 && chunks.last().is_none_or(|r| r.len() <= size));
        }
    }
}
